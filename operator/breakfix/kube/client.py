"""The operator's and the CLI's Kubernetes client: plain JSON over one aiohttp session.

Objects are the API server's JSON as dicts, never generated models: the generated client
(kubernetes_asyncio) imported about 860 modules, 62 MiB of the operator's resident memory before
it held a single lab, and parsed every field of every answer into model objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from breakfix import FIELD_MANAGER
from breakfix.checks.snapshot import AdmissionAnswer, EvictionAnswer
from breakfix.kube import config
from breakfix.kube.config import ConfigException, Connection

PATCH_CONTENT_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
Obj = dict[str, Any]

__all__ = [
    "ApiException",
    "ConfigException",
    "Kube",
    "ResourceNotFoundError",
    "Settling",
    "transient",
]


class ApiException(Exception):
    """The API server answered with an error status; `body` is its answer (a Status, as JSON)."""

    def __init__(
        self, status: int | None = None, reason: str | None = None, body: bytes | None = None
    ) -> None:
        self.status, self.reason, self.body = status, reason, body
        super().__init__(status, reason)

    def __str__(self) -> str:
        text = f"({self.status})\nReason: {self.reason}"
        if self.body:
            text += f"\nHTTP response body: {self.body.decode(errors='replace')[:2000]}"
        return text


class ResourceNotFoundError(Exception):
    """The API server does not serve that kind (its CRD is not installed)."""


class Settling(Exception):
    """The API server answers but is not whole yet: a lab's change restarted it a moment ago,
    and until its caches fill it authorizes nothing (401/403 even for cluster admins)."""


def transient(exc: BaseException) -> bool:
    """An error the same request may well not meet a moment later: the API server away,
    restarting, overloaded or failing inside. A refusal (4xx) says something about the request."""
    if isinstance(exc, Settling):
        return True
    if isinstance(exc, ApiException):
        return exc.status is None or exc.status == 429 or exc.status >= 500
    return isinstance(exc, (OSError, TimeoutError, aiohttp.ClientError))


# Objects per page of a list: the API server serves all pages from one snapshot.
LIST_PAGE = 250
# Every request is bounded: without a timeout, one written into a connection to an API server
# that a control-plane lab just restarted hung for good, and the lab's step with it.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=5)
# Requests in flight at once; more wait for a connection. Each TLS connection holds a 256 KiB read
# buffer and its TLS state: with aiohttp's default of 100, a wave of 200 labs' access reviews
# opened 67 connections and the operator's RSS rose by 15 MiB (2026-12-05). An API server on a
# small cluster answers no faster with more of them at once.
REQUESTS_AT_ONCE = 16


@dataclass(frozen=True)
class Resource:
    """A kind as discovery describes it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()

    def path(
        self, name: str | None = None, namespace: str | None = None, subresource: str = ""
    ) -> str:
        root = group_version_path(self.api_version)
        if namespace and self.namespaced:
            root += f"/namespaces/{quote(namespace, safe=':')}"
        root += f"/{self.plural}"
        if name:
            root += f"/{quote(name, safe=':')}"
        return f"{root}/{subresource}" if subresource else root


def group_version_path(api_version: str) -> str:
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"


class Kube:
    """One API server, one identity, one HTTP session; kinds are discovered per group-version
    on first use (and again when a kind is missing: a CRD installed since)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        # Watches on a session of their own, requests on one with a bounded pool (see
        # REQUESTS_AT_ONCE): a watch holds its connection for minutes and must never wait
        # behind requests, nor they behind it.
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._kinds: dict[str, dict[str, Resource]] = {}

    @classmethod
    async def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> Kube:
        return cls(await asyncio.to_thread(config.load, kubeconfig, context))

    @property
    def host(self) -> str:
        return self.connection.host

    def session(self, stream: bool = False) -> aiohttp.ClientSession:
        session = self._sessions.get(stream)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                ssl=self.connection.ssl_context(), limit=0 if stream else REQUESTS_AT_ONCE
            )
            session = self._sessions[stream] = aiohttp.ClientSession(connector=connector)
        return session

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()

    def impersonating(self, user: str) -> Kube:
        """A client with these credentials that acts as `user`: the API server grants what
        `user` holds (and `system:authenticated`'s), as it would the learner's own kubeconfig.
        Closed by the caller."""
        return Kube(self.connection.acting_as(user))

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: aiohttp.ClientTimeout = REQUEST_TIMEOUT,
        stream: bool = False,
    ) -> aiohttp.ClientResponse:
        """The response, unread, whatever its status: the caller reads and releases it. A
        `stream` (a watch) is read for minutes: it goes on the session for watches."""
        headers = self.connection.auth_headers()
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        query = [(k, str(v).lower() if isinstance(v, bool) else str(v))
                 for k, v in (params.items() if isinstance(params, dict) else params or [])
                 if v is not None]  # fmt: skip
        return await self.session(stream).request(
            method, self.connection.host + path, params=query, data=data, headers=headers,
            timeout=timeout,
        )  # fmt: skip

    async def _body(self, method: str, path: str, **kwargs: Any) -> bytes:
        """The answer's bytes; an error status raises ApiException."""
        response = await self.request(method, path, **kwargs)
        async with response:
            body = await response.read()
        if response.status >= 400:
            raise ApiException(response.status, response.reason, body)
        return body

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The parsed JSON answer; an error status raises ApiException."""
        body = await self._body(method, path, **kwargs)
        return json.loads(body) if body else None

    async def text(self, path: str, params: dict[str, Any] | None = None) -> str:
        return (await self._body("GET", path, params=params)).decode(errors="replace")

    async def resource(self, api_version: str, kind: str) -> Resource:
        known = self._kinds.get(api_version)
        if known is None or kind not in known:
            # First use, or a kind the last discovery did not list: a CRD installed since.
            known = self._kinds[api_version] = await self.discover(api_version)
        if kind not in known:
            raise ResourceNotFoundError(f"the cluster does not serve {api_version} {kind}")
        return known[kind]

    async def discover(self, api_version: str) -> dict[str, Resource]:
        """The kinds the API server serves in `api_version` now (none if it serves no such
        group-version)."""
        try:
            found = await self.call("GET", group_version_path(api_version))
        except ApiException as exc:
            if exc.status == 404:
                return {}
            raise
        listed = found.get("resources") or []
        subresources: dict[str, set[str]] = {}
        for entry in listed:
            parent, _, sub = str(entry.get("name", "")).partition("/")
            if sub:
                subresources.setdefault(parent, set()).add(sub)
        return {
            entry["kind"]: Resource(
                api_version,
                entry["kind"],
                entry["name"],
                bool(entry.get("namespaced")),
                frozenset(subresources.get(entry["name"], ())),
            )
            for entry in listed
            if "/" not in entry.get("name", "")
        }

    async def apply(
        self, obj: Obj, namespace: str | None = None, field_manager: str = FIELD_MANAGER
    ) -> Obj:
        """Server-side apply, taking ownership of conflicting fields."""
        res = await self.resource(obj["apiVersion"], obj["kind"])
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        result: Obj = await self.call(
            "PATCH",
            res.path(obj["metadata"]["name"], ns),
            params={"fieldManager": field_manager, "force": True},
            body=obj,
            content_type=PATCH_CONTENT_TYPES["apply"],
        )
        return result

    async def create(
        self,
        obj: Obj,
        namespace: str | None = None,
        field_manager: str = FIELD_MANAGER,
        dry_run: bool = False,
    ) -> Obj:
        res = await self.resource(obj["apiVersion"], obj["kind"])
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        params = {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}
        result: Obj = await self.call("POST", res.path(None, ns), params=params, body=obj)
        return result

    async def create_or_apply(
        self, obj: Obj, namespace: str | None = None, field_manager: str = FIELD_MANAGER
    ) -> Obj:
        """Create, or apply when it exists: as `kubectl create` then `kubectl apply` would. A
        new object needs only `create` (a server-side apply is a patch, even of nothing)."""
        try:
            return await self.create(obj, namespace, field_manager)
        except ApiException as exc:
            if exc.status != 409:
                raise
        return await self.apply(obj, namespace, field_manager)

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        res = await self.resource(api_version, kind)
        try:
            found: Obj = await self.call("GET", res.path(name, namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return found

    async def list_objects(
        self,
        api_version: str,
        kind: str,
        namespace: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """Every matching object, without managedFields (nothing here reads them, and they are
        most of an object's size). Read in pages: one list of every RBAC object at 1,000 labs
        held its whole JSON text and parse at once, and Python kept that memory afterwards."""
        res = await self.resource(api_version, kind)
        items: list[Obj] = []
        token: str | None = None
        while True:
            params = {"labelSelector": label_selector, "fieldSelector": field_selector,
                      "limit": LIST_PAGE, "continue": token}  # fmt: skip
            page = await self.call("GET", res.path(None, namespace or None), params=params)
            for item in page.get("items") or []:
                (item.get("metadata") or {}).pop("managedFields", None)
                # A list's items carry no kind: put it back, as for a single object.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                return items

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        grace_seconds: int | None = None,
    ) -> bool:
        """Delete in the background; False when it was already gone."""
        res = await self.resource(api_version, kind)
        body: Obj = {"propagationPolicy": "Background"}
        if grace_seconds is not None:
            body["gracePeriodSeconds"] = grace_seconds
        try:
            await self.call("DELETE", res.path(name, namespace), body=body)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        patch_type: str = "strategic",
        namespace: str | None = None,
    ) -> Obj:
        res = await self.resource(api_version, kind)
        result: Obj = await self.call(
            "PATCH", res.path(name, namespace), body=patch,
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )  # fmt: skip
        return result

    async def patch_status(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Obj,
        namespace: str | None = None,
        patch_type: str = "merge",
    ) -> None:
        res = await self.resource(api_version, kind)
        # The answer is the whole object: not parsed, as nothing here reads it.
        await self._body(
            "PATCH", res.path(name, namespace, "status"), body=patch,
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )  # fmt: skip

    async def replace(self, obj: Obj, namespace: str | None = None) -> Obj:
        """PUT: fails with 409 when the object changed since its resourceVersion was read."""
        res = await self.resource(obj["apiVersion"], obj["kind"])
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        result: Obj = await self.call("PUT", res.path(obj["metadata"]["name"], ns), body=obj)
        return result

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        field_selector: str | None = None,
        label_selector: str | None = None,
        bookmarks: bool = False,
    ) -> AsyncGenerator[Obj, None]:
        """The watch's events ({"type", "object"}), until the API server ends it. An ERROR
        event raises ApiException with its code (410: the version is too old)."""
        res = await self.resource(api_version, kind)
        params = {"watch": True, "resourceVersion": resource_version,
                  "timeoutSeconds": timeout_seconds, "fieldSelector": field_selector,
                  "labelSelector": label_selector,
                  "allowWatchBookmarks": True if bookmarks else None}  # fmt: skip
        response = await self.request(
            "GET", res.path(None, namespace), params,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds + 30, sock_connect=5,
                                          sock_read=timeout_seconds + 30),
            stream=True,
        )  # fmt: skip
        async with response:
            if response.status >= 400:
                raise ApiException(response.status, response.reason, await response.read())
            async for event in watch_events(response):
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise ApiException(status.get("code"), status.get("reason"),
                                       json.dumps(status).encode())  # fmt: skip
                obj = event.get("object") or {}
                obj.setdefault("apiVersion", api_version)
                obj.setdefault("kind", kind)
                yield event

    async def can_i(self, user: str, groups: list[str], attributes: Obj) -> bool:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": groups,
                "resourceAttributes": {k: v for k, v in attributes.items() if v is not None},
            },
        }
        answer = await self.create(review)
        return bool((answer.get("status") or {}).get("allowed"))

    async def _evict(self, namespace: str, pod: str, dry_run: bool) -> None:
        body: Obj = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod, "namespace": namespace},
        }
        if dry_run:
            body["deleteOptions"] = {"dryRun": ["All"]}
        path = f"/api/v1/namespaces/{quote(namespace, safe=':')}/pods/{quote(pod, safe=':')}"
        await self.call("POST", f"{path}/eviction",
                        params={"dryRun": "All" if dry_run else None}, body=body)  # fmt: skip

    async def evict_dry_run(self, namespace: str, pod: str) -> EvictionAnswer:
        """Ask the Eviction API, with `dryRun=All`, whether `pod` may be evicted now: the
        answer a drain gets (429 while a budget forbids it, 500 when several budgets cover
        the pod), without evicting anything. A pod already gone counts as evictable."""
        try:
            await self._evict(namespace, pod, dry_run=True)
        except ApiException as exc:
            if exc.status == 404:
                return EvictionAnswer(True, "the pod is gone")
            if exc.status in (403, 401):
                raise
            return EvictionAnswer(False, _status_message(exc))
        return EvictionAnswer(True)

    async def admits(self, obj: Obj, namespace: str) -> AdmissionAnswer:
        """Ask admission, with `dryRun=All`, whether `obj` may be created in `namespace`: every
        admission plugin and policy answers as for a real create, and nothing is stored."""
        try:
            await self.create(obj, namespace, dry_run=True)
        except ApiException as exc:
            message = _status_message(exc)
            if not admission_refusal(exc.status or 0, message):
                raise
            return AdmissionAnswer(False, message)
        return AdmissionAnswer(True)

    async def evict(self, namespace: str, pod: str) -> bool:
        """Evict `pod` for real, as `kubectl drain` does; False while a budget refuses (429).
        For the self-test's drain steps only: the operator itself only ever asks dry runs."""
        try:
            await self._evict(namespace, pod, dry_run=False)
        except ApiException as exc:
            if exc.status in (404, 429):
                return exc.status == 404
            if exc.status == 403 and "NamespaceTerminating" in str(exc.body):
                # A pod of a namespace being deleted: it goes anyway; kubectl drain waits too.
                return False
            raise
        return True

    async def run_pod(self, namespace: str, pod: Obj, timeout: float) -> str:
        """Create `pod`, wait until it has finished (Succeeded or Failed), and return its log;
        the pod is deleted in every case. Raises TimeoutError when it does not finish."""
        name = pod["metadata"]["name"]
        await self.apply(pod, namespace)
        try:
            await wait_for(
                self,
                "v1",
                "Pod",
                name,
                lambda o: (
                    o is None or (o.get("status") or {}).get("phase") in ("Succeeded", "Failed")
                ),
                timeout,
                namespace,
            )
            return await self.logs(namespace, name, None)
        finally:
            with contextlib.suppress(ApiException):
                await self.delete("v1", "Pod", name, namespace, grace_seconds=0)

    async def logs(self, namespace: str, pod: str, container: str | None) -> str:
        path = f"/api/v1/namespaces/{quote(namespace, safe=':')}/pods/{quote(pod, safe=':')}/log"
        with contextlib.suppress(ApiException):
            return await self.text(path, {"tailLines": 500, "container": container})
        return ""


async def watch_events(response: aiohttp.ClientResponse) -> AsyncIterator[Obj]:
    """A watch's events, one JSON document a line. Read in chunks: aiohttp's line reader
    refuses lines over 128 KiB, and one object (an aggregated ClusterRole) can be longer."""
    pending = b""
    async for chunk in response.content.iter_any():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)


def admission_refusal(status: int, message: str) -> bool:
    """Whether an error answering a dry-run create is admission's refusal. Our own RBAC
    refusing, a namespace gone, a name taken or a server in trouble say nothing about what
    admission would do: no answer rather than a wrong one. A webhook that cannot be called under
    `failurePolicy: Fail` is admission refusing, with a 500."""
    if status >= 500:
        return status == 500 and "failed calling webhook" in message
    if status in (401, 404, 409, 429):
        return False
    return not (status == 403 and "cannot create resource" in message)


def _status_message(exc: ApiException) -> str:
    """The message of the Status an API error carries, else its HTTP status and reason."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        status = json.loads(exc.body or b"")
        if status.get("message"):
            return f"{exc.status} {status['message']}"
    return f"{exc.status} {exc.reason}"


async def wait_for(
    kube: Kube,
    api_version: str,
    kind: str,
    name: str,
    predicate: Callable[[Obj | None], bool],
    timeout: float,
    namespace: str | None = None,
) -> Obj | None:
    """Watch one object until `predicate` holds for it (None: it does not exist).

    Returns the object as last seen; raises TimeoutError when `timeout` passes first.
    """
    res = await kube.resource(api_version, kind)
    ns = namespace if res.namespaced else None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        current = await kube.get(api_version, kind, name, ns)
        if predicate(current):
            return current
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"{kind} {name}: condition not met within {timeout:.0f}s")
        version = (current or {}).get("metadata", {}).get("resourceVersion")
        try:
            stream = kube.watch(
                api_version,
                kind,
                ns,
                resource_version=version,
                timeout_seconds=max(1, int(remaining)),
                field_selector=f"metadata.name={name}",
            )
            async with asyncio.timeout(remaining), contextlib.aclosing(stream):
                async for event in stream:
                    obj: Obj = event["object"]
                    if event["type"] == "DELETED":
                        if predicate(None):
                            return None
                    elif predicate(obj):
                        return obj
        except TimeoutError:
            raise TimeoutError(f"{kind} {name}: condition not met within {timeout:.0f}s") from None
        except ApiException as exc:
            # 410 Gone: the version we watched from is too old; read again and resume.
            if exc.status != 410:
                raise
