"""A thin async layer over kubernetes_asyncio for what the operator and the CLI do."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient
from kubernetes_asyncio.dynamic.exceptions import NotFoundError, ResourceNotFoundError
from kubernetes_asyncio.dynamic.resource import Resource

from breakfix import FIELD_MANAGER
from breakfix.checks.snapshot import AdmissionAnswer, EvictionAnswer

PATCH_CONTENT_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
Obj = dict[str, Any]

__all__ = [
    "ApiException",
    "Kube",
    "NotFoundError",
    "ResourceNotFoundError",
    "Settling",
    "load_config",
    "transient",
]


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


async def load_config(
    kubeconfig: str | None = None, context: str | None = None
) -> client.ApiClient:
    """An API client from a kubeconfig (or KUBECONFIG), falling back to in-cluster credentials."""
    cfg = client.Configuration()
    # kubernetes_asyncio reads KUBECONFIG when it is imported; read it now, so a KUBECONFIG
    # set later in the process (a test fixture, a wrapper script) is honoured.
    kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
    if kubeconfig and os.pathsep in kubeconfig:
        kubeconfig = next((p for p in kubeconfig.split(os.pathsep) if p), None)
    try:
        await config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=cfg
        )
    except config.ConfigException:
        if kubeconfig or context:
            raise
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration=cfg)


class Kube:
    """Typed helpers on top of one shared API client; resources are discovered once."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._dynamic: DynamicClient | None = None

    @classmethod
    async def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> Kube:
        return cls(await load_config(kubeconfig, context))

    async def close(self) -> None:
        await self.api.close()

    def impersonating(self, user: str) -> Kube:
        """A client with these credentials that acts as `user`: the API server grants what
        `user` holds (and `system:authenticated`'s), as it would the learner's own kubeconfig.
        Closed by the caller."""
        api = client.ApiClient(configuration=self.api.configuration)
        api.set_default_header("Impersonate-User", user)
        return Kube(api)

    async def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = await DynamicClient(self.api)
        return self._dynamic

    async def resource(self, api_version: str, kind: str) -> Resource:
        dyn = await self.dynamic()
        try:
            return await dyn.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            # A CRD installed after discovery ran: look again once.
            await dyn.resources.invalidate_cache()
            return await dyn.resources.get(api_version=api_version, kind=kind)

    async def apply(
        self, obj: Obj, namespace: str | None = None, field_manager: str = FIELD_MANAGER
    ) -> Obj:
        """Server-side apply, taking ownership of conflicting fields."""
        res = await self.resource(obj["apiVersion"], obj["kind"])
        dyn = await self.dynamic()
        result = await dyn.server_side_apply(
            res,
            **RAW,
            body=obj,
            namespace=namespace if res.namespaced else None,
            field_manager=field_manager,
            force_conflicts=True,
        )
        return _plain(result)

    async def create(
        self,
        obj: Obj,
        namespace: str | None = None,
        field_manager: str = FIELD_MANAGER,
        dry_run: bool = False,
    ) -> Obj:
        res = await self.resource(obj["apiVersion"], obj["kind"])
        dyn = await self.dynamic()
        # The dynamic client hands some refusals back as a Status, raised by _plain.
        return _plain(
            await dyn.create(
                res,
                **RAW,
                body=obj,
                namespace=namespace if res.namespaced else None,
                field_manager=field_manager,
                dry_run="All" if dry_run else None,
            )
        )

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
        dyn = await self.dynamic()
        try:
            return _plain(
                await dyn.get(
                    res, name=name, namespace=namespace if res.namespaced else None, **RAW
                )
            )
        except NotFoundError:
            return None
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

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
        dyn = await self.dynamic()
        items: list[Obj] = []
        token: str | None = None
        while True:
            page = _plain(
                await dyn.get(
                    res,
                    **RAW,
                    namespace=(namespace or None) if res.namespaced else None,
                    label_selector=label_selector,
                    field_selector=field_selector,
                    limit=LIST_PAGE,
                    _continue=token,
                )
            )
            for item in page.get("items", []):
                (item.get("metadata") or {}).pop("managedFields", None)
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
        dyn = await self.dynamic()
        body: Obj = {"propagationPolicy": "Background"}
        if grace_seconds is not None:
            body["gracePeriodSeconds"] = grace_seconds
        try:
            _plain(
                await dyn.delete(
                    res,
                    name=name,
                    namespace=namespace if res.namespaced else None,
                    body=body,
                    **RAW,
                )
            )
        except NotFoundError:
            return False
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
        dyn = await self.dynamic()
        result = await dyn.patch(
            res,
            **RAW,
            body=patch,
            name=name,
            namespace=namespace if res.namespaced else None,
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )
        return _plain(result)

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
        dyn = await self.dynamic()
        result = await dyn.patch(
            res.subresources["status"],
            **RAW,
            body=patch,
            name=name,
            namespace=namespace if res.namespaced else None,
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )
        _plain(result)

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

    async def evict_dry_run(self, namespace: str, pod: str) -> EvictionAnswer:
        """Ask the Eviction API, with `dryRun=All`, whether `pod` may be evicted now: the
        answer a drain gets (429 while a budget forbids it, 500 when several budgets cover
        the pod), without evicting anything. A pod already gone counts as evictable."""
        body = client.V1Eviction(
            metadata=client.V1ObjectMeta(name=pod, namespace=namespace),
            delete_options=client.V1DeleteOptions(dry_run=["All"]),
        )
        try:
            await client.CoreV1Api(self.api).create_namespaced_pod_eviction(
                pod, namespace, body, dry_run="All", _request_timeout=REQUEST_TIMEOUT
            )
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
            if not admission_refusal(exc.status, message):
                raise
            return AdmissionAnswer(False, message)
        return AdmissionAnswer(True)

    async def evict(self, namespace: str, pod: str) -> bool:
        """Evict `pod` for real, as `kubectl drain` does; False while a budget refuses (429).
        For the self-test's drain steps only: the operator itself only ever asks dry runs."""
        body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=namespace))
        try:
            await client.CoreV1Api(self.api).create_namespaced_pod_eviction(
                pod, namespace, body, _request_timeout=REQUEST_TIMEOUT
            )
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
        with contextlib.suppress(ApiException):
            kwargs: dict[str, Any] = {"tail_lines": 500, "_request_timeout": REQUEST_TIMEOUT}
            if container:
                kwargs["container"] = container
            text = await client.CoreV1Api(self.api).read_namespaced_pod_log(
                pod, namespace, **kwargs
            )
            return str(text)
        return ""


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


def _as_parsed(_client: Any, data: Any) -> Any:
    return data


# The dynamic client wraps every response in ResourceInstance objects, field by field, which
# `_plain` then turned back into dicts, and the generated API classes parse every field into
# models (timestamps through dateutil): together a fifth of the operator's CPU in a fix
# (py-spy). Its parsed JSON is what is wanted.
#
# Every request is bounded: without a timeout, one written into a connection to an API server
# that a control-plane lab just restarted hung for good, and the lab's step with it.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=5)
RAW: dict[str, Any] = {"serializer": _as_parsed, "_request_timeout": REQUEST_TIMEOUT}


def _plain(value: Any) -> Obj:
    """A plain dict of a response; a failure Status becomes an ApiException.

    kubernetes_asyncio's dynamic client asks for unparsed responses and so returns error
    Statuses instead of raising them.
    """
    obj = dict(value.to_dict()) if hasattr(value, "to_dict") else dict(value)
    if obj.get("kind") == "Status" and obj.get("status") == "Failure":
        exc = ApiException(status=int(obj.get("code", 0)), reason=str(obj.get("reason", "")))
        exc.body = json.dumps(obj).encode()
        raise exc
    return obj


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
    dyn = await kube.dynamic()
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
            # Our own Watch, to close it: each one holds an API client (and HTTP session) of
            # its own, which the dynamic client would leave open.
            watcher = watch.Watch()
            stream = dyn.watch(
                res,
                namespace=ns,
                field_selector=f"metadata.name={name}",
                resource_version=version,
                timeout=max(1, int(remaining)),
                watcher=watcher,
            )
            async with asyncio.timeout(remaining), watcher, contextlib.aclosing(stream):
                async for event in stream:
                    obj = _plain(event["raw_object"])
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
