"""A list-then-watch cache of one kind, applied in the order the API server sent its events, and
a fence on it: "every change of this kind made before that moment is in the cache".

Every kind a lab reads is cached here, not in Kopf indexes: one task and one slim copy per
object, where Kopf keeps per-object state and workers besides (at 2,000 labs, tens of thousands
of ConfigMaps, ServiceAccounts and bindings).

Kopf's indexes are filled by one task per object, so the event of one object may be indexed
after a later event of another, and no event says "the cache holds everything up to now". A
grading that would solve a lab must read the RBAC objects (and budgets) as they are now, not a
moment ago; reading them through the API listed every Role and binding of the cluster for each
solve (34 ms at 50 labs; at 2,000 labs a storm of solves queued for 18 s). Here one task applies
the events in order, so once the change made to a fence object after that moment has arrived,
everything before it has too: a fence costs one small write, shared by every grading waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from breakfix.kube.client import (
    LIST_PAGE,
    ApiException,
    Kube,
    ResourceNotFoundError,
    transient,
)
from breakfix.kube.watched import WatchedKind

Obj = dict[str, Any]
FENCE_LABEL = "breakfix.dev/fence"
FENCE_ANNOTATION = "breakfix.dev/fence"
# A watch the API server ends itself, before its connection is given up for dead.
WATCH_SECONDS = 300
# How long a fence may take before the grading reads through the API instead.
FENCE_SECONDS = 2.0
# A fence is one write to etcd (10-25 ms on a busy 2-core kind node, 2026-12-04); a list of a
# few hundred objects from the API server's cache costs less than that, so smaller kinds are
# listed. make bench at 50 labs: a solve's confirmation took 58 ms fenced, 34 ms listed; at 2,000
# labs (4,000 Roles and bindings) a storm of 100 solves took 4.6 s fenced, 18 s listed.
FENCE_AFTER_OBJECTS = 500
# A failed watch is retried within a second at most: its next event may be the fix a learner made
# the moment the API server came back (CI, 2026-12-05: informers waiting 4 s between attempts
# saw a fix after a 30 s outage 5.3 s late). A refused connection costs next to nothing.
RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0)
# How often a kind the cluster does not serve is looked for again.
UNSERVED_SECONDS = 60.0

logger = logging.getLogger(__name__)


class Gone(Exception):
    """The version a watch resumed from is no longer kept (410): list again."""


@dataclass(frozen=True)
class Fence:
    """The object this operator changes to mark a moment in one kind's event stream."""

    name: str
    namespace: str | None


class KeyIndex:
    """The store's objects by the keys `keys_of` gives each (a binding's subjects): a check that
    wants the few naming its subject reads those, not every object of the cluster."""

    def __init__(self, keys_of: Callable[[Obj], set[str]]) -> None:
        self.keys_of = keys_of
        self._by_key: dict[str, dict[tuple[str, str], Obj]] = {}

    def rebuild(self, store: dict[str, dict[str, Obj]]) -> None:
        self._by_key.clear()
        for objects in store.values():
            for obj in objects.values():
                self.replace(None, obj)

    def replace(self, old: Obj | None, new: Obj | None) -> None:
        if old is not None:
            for key in self.keys_of(old):
                held = self._by_key.get(key)
                if held is not None:
                    held.pop(object_key(old), None)
                    if not held:
                        del self._by_key[key]
        if new is not None:
            for key in self.keys_of(new):
                self._by_key.setdefault(key, {})[object_key(new)] = new

    def get(self, keys: tuple[str, ...]) -> list[Obj]:
        found: dict[tuple[str, str], Obj] = {}
        for key in keys:
            found.update(self._by_key.get(key, {}))
        return list(found.values())


class StoreIndex(Mapping[str, Any]):
    """The cache seen as a Kopf index is: namespace ("" for cluster-scoped) -> its objects."""

    def __init__(
        self,
        store: dict[str, dict[str, Obj]],
        ready: asyncio.Event,
        settle: Callable[[float], Awaitable[bool]],
        keyed: KeyIndex | None = None,
    ) -> None:
        self._store, self._ready, self.settle = store, ready, settle
        self._keyed = keyed

    def by_keys(self, keys: tuple[str, ...]) -> list[Obj] | None:
        """The objects holding one of `keys`, when this cache keeps such an index."""
        return None if self._keyed is None else self._keyed.get(keys)

    # One object per namespace and name: a relist replaces the store whole.
    exact = True

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def __getitem__(self, namespace: str) -> Any:
        return self._store[namespace].values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)


def object_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def is_fence(obj: Obj) -> bool:
    return FENCE_LABEL in ((obj.get("metadata") or {}).get("labels") or {})


def apply_event(store: dict[str, dict[str, Obj]], kind: str, obj: Obj) -> None:
    """One watch event applied to the store."""
    namespace, name = object_key(obj)
    if kind == "DELETED":
        objects = store.get(namespace)
        if objects is not None:
            objects.pop(name, None)
            if not objects:
                del store[namespace]
    else:
        store.setdefault(namespace, {})[name] = obj


def changed_between(old: dict[str, dict[str, Obj]], new: dict[str, dict[str, Obj]]) -> list[Obj]:
    """Objects that a relist found added, changed or gone (the old copy for those gone)."""
    changed = []
    for namespace in old.keys() | new.keys():
        before, after = old.get(namespace, {}), new.get(namespace, {})
        for name in before.keys() | after.keys():
            was, now = before.get(name), after.get(name)
            if was is None or now is None or _version(was) != _version(now):
                changed.append(now if now is not None else was)
    return [c for c in changed if c is not None]


def _version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """Keeps `store` equal to the cluster's objects of one kind (those `keep` accepts), calls
    `changed` with each object as its event arrives, and answers fences."""

    def __init__(
        self,
        kube: Kube,
        watched: WatchedKind,
        changed: Callable[[Obj], None],
        keep: Callable[[Obj], bool],
        slim: Callable[[Obj], Obj],
        fence: Fence | None = None,
        fence_after: int = FENCE_AFTER_OBJECTS,
        keys_of: Callable[[Obj], set[str]] | None = None,
    ) -> None:
        self.kube, self.watched, self.changed = kube, watched, changed
        self.keep, self.slim, self.fence_object = keep, slim, fence
        self.fence_after = fence_after
        self.store: dict[str, dict[str, Obj]] = {}
        self.keyed = KeyIndex(keys_of) if keys_of is not None else None
        self.synced = asyncio.Event()
        # Set once the kind is listed, or found not served (a CRD not installed): what the
        # operator's startup waits for.
        self.answered = asyncio.Event()
        self.index = StoreIndex(self.store, self.synced, self.settle, self.keyed)
        # Fence marks are `<this process's token>-<counter>`: a mark another process (an
        # earlier operator) left proves nothing about this one's rounds.
        self._token = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._seen = 0
        # (mark, future) of the callers waiting for a mark to arrive.
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        # The newest fence round: when its mark was sent (monotonic) and the write itself.
        self._round: tuple[float, asyncio.Task[int]] | None = None

    async def run(self) -> None:
        """List, then watch from there; list again when the watch cannot resume. Never returns."""
        failures = 0
        version: str | None = None
        unserved = False
        while True:
            try:
                if unserved:
                    # Looked for by one small request: discovery of every group (what finding
                    # it takes) is far dearer.
                    await asyncio.sleep(UNSERVED_SECONDS)
                    unserved = not await self._served()
                    continue
                if version is None:
                    version = await self._list()
                version = await self._watch(version)
                failures = 0
            except Gone:
                version = None
            except ResourceNotFoundError:
                # Nothing of it to cache; the store stays unready, so a check reading the kind
                # asks the API and is told it is not served.
                unserved = True
                self.answered.set()
            except Exception as exc:
                # Never given up: a cache that stopped following its kind would grade from the
                # past for good. The API server away (a control-plane lab) is the usual cause.
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                if failures == 1:
                    logger.warning(
                        f"watching {self.watched.plural} failed ({exc!r}); again in {delay}s",
                        exc_info=not transient(exc),
                    )
                await asyncio.sleep(delay)

    async def _list(self) -> str:
        res = await self.kube.resource(self.watched.api_version, self.watched.kind)
        fresh: dict[str, dict[str, Obj]] = {}
        fences: list[Obj] = []
        version, token = "", None
        while True:
            page = await self.kube.call(
                "GET",
                res.path(),
                params={"limit": LIST_PAGE, "continue": token},
                timeout=aiohttp.ClientTimeout(total=60, sock_connect=5),
            )
            version = version or str(page["metadata"].get("resourceVersion") or "")
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.watched.api_version)
                item.setdefault("kind", self.watched.kind)
                if is_fence(item):
                    fences.append(item)
                elif self.keep(item):
                    apply_event(fresh, "ADDED", self.slim(item))
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                break
        old = {ns: dict(objs) for ns, objs in self.store.items()}
        self.store.clear()
        self.store.update(fresh)
        if self.keyed is not None:
            self.keyed.rebuild(self.store)
        if self.synced.is_set():
            # A relist after a broken watch: what changed meanwhile arrived without events.
            for obj in changed_between(old, fresh):
                self.changed(obj)
        self.synced.set()
        self.answered.set()
        # Only now: a fence in the listing vouches for the store just replaced.
        for fence in fences:
            self._fence_arrived(fence)
        return version

    async def _served(self) -> bool:
        """Whether the API server now serves the kind (its CRD was installed)."""
        return self.watched.kind in await self.kube.discover(self.watched.api_version)

    async def _watch(self, version: str) -> str:
        events = self.kube.watch(
            self.watched.api_version,
            self.watched.kind,
            resource_version=version,
            timeout_seconds=WATCH_SECONDS,
            bookmarks=True,
        )
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    kind, obj = event.get("type"), event.get("object") or {}
                    version = _version(obj) or version
                    if kind == "BOOKMARK":
                        continue
                    if is_fence(obj):
                        self._fence_arrived(obj)
                    elif self.keep(obj):
                        slim = self.slim(obj)
                        if self.keyed is not None:
                            namespace, name = object_key(slim)
                            old = self.store.get(namespace, {}).get(name)
                            self.keyed.replace(old, None if kind == "DELETED" else slim)
                        apply_event(self.store, str(kind), slim)
                        self.changed(slim)
        except ApiException as exc:
            if exc.status == 410:
                raise Gone() from exc
            raise
        return version

    def _fence_arrived(self, obj: Obj) -> None:
        mark = ((obj.get("metadata") or {}).get("annotations") or {}).get(FENCE_ANNOTATION, "")
        token, _, count = str(mark).partition("-")
        if token == self._token and count.isdigit() and int(count) > self._seen:
            self._seen = int(count)
            still = []
            for awaited, future in self._waiting:
                if awaited > self._seen:
                    still.append((awaited, future))
                elif not future.done():
                    future.set_result(None)
            self._waiting = still

    async def settle(self, not_before: float) -> bool:
        """True once every change of this kind made before `not_before` (monotonic) is in the
        store; False when there is no fence to ask, or it did not arrive in time (the caller
        reads through the API instead), or when the kind is small enough that reading it is
        cheaper than a fence. One fence round serves every caller waiting for it."""
        if self.fence_object is None or not self.synced.is_set():
            return False
        if sum(len(objects) for objects in self.store.values()) < self.fence_after:
            return False
        current = self._round
        if (
            current is None
            or current[0] < not_before
            or (current[1].done() and current[1].exception() is not None)
        ):
            current = self._round = (time.monotonic(), asyncio.ensure_future(self._mark()))
        try:
            async with asyncio.timeout(FENCE_SECONDS):
                mark = await asyncio.shield(current[1])
                if mark > self._seen:
                    arrived = asyncio.get_running_loop().create_future()
                    self._waiting.append((mark, arrived))
                    await asyncio.shield(arrived)
        except (TimeoutError, OSError, ApiException, aiohttp.ClientError) as exc:
            logger.debug(f"fence on {self.watched.plural} failed: {exc!r}")
            return False
        return True

    async def _mark(self) -> int:
        assert self.fence_object is not None
        mark = next(self._counter)
        await self.kube.patch(
            self.watched.api_version,
            self.watched.kind,
            self.fence_object.name,
            {"metadata": {"annotations": {FENCE_ANNOTATION: f"{self._token}-{mark}"}}},
            "merge",
            self.fence_object.namespace,
        )
        return mark
