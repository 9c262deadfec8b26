"""An in-memory stand-in for `breakfix.kube.client.Kube`: enough of the API for a lab loop to
provision, grade and tear down, recording every call so tests can assert what was done."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from breakfix.checks.snapshot import CLUSTER_SCOPED_KINDS, EvictionAnswer
from breakfix.kube.client import ApiException

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # apiVersion, kind, namespace ("" when cluster-scoped), name


@dataclass(frozen=True)
class Resource:
    namespaced: bool


@dataclass
class FakeKube:
    objects: dict[Key, Obj] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    allowed: dict[str, bool] = field(default_factory=dict)
    # kind -> message: applying an object of that kind fails like a forbidden request.
    reject: dict[str, str] = field(default_factory=dict)
    # pod name -> the message of a refused (dry-run) eviction; other pods are evictable.
    refuse_eviction: dict[str, str] = field(default_factory=dict)
    # Namespaces vanish at once when deleted (no finalizers here).
    # The API server is away or starting: every read and status write fails with this.
    outage: Exception | None = None

    def _reachable(self) -> None:
        if self.outage is not None:
            raise self.outage

    async def resource(self, api_version: str, kind: str) -> Resource:
        return Resource(namespaced=kind not in CLUSTER_SCOPED_KINDS)

    def put(self, obj: Obj) -> None:
        meta = obj["metadata"]
        ns = "" if obj["kind"] in CLUSTER_SCOPED_KINDS else meta.get("namespace", "")
        self.objects[(obj["apiVersion"], obj["kind"], ns, meta["name"])] = copy.deepcopy(obj)

    async def apply(self, obj: Obj, namespace: str | None = None, field_manager: str = "") -> Obj:
        self.calls.append(("apply", obj["kind"], obj["metadata"]["name"], namespace))
        if obj["kind"] in self.reject:
            exc = ApiException(status=403, reason="Forbidden")
            exc.body = json.dumps({"message": self.reject[obj["kind"]]}).encode()
            raise exc
        stored = copy.deepcopy(obj)
        if namespace:
            stored["metadata"]["namespace"] = namespace
        key = (
            obj["apiVersion"],
            obj["kind"],
            "" if obj["kind"] in CLUSTER_SCOPED_KINDS else namespace or "",
            obj["metadata"]["name"],
        )
        # Like the API server: an object keeps its uid while it exists.
        old_uid = self.objects.get(key, {}).get("metadata", {}).get("uid")
        stored["metadata"]["uid"] = (
            old_uid or f"uid-{obj['kind']}-{obj['metadata']['name']}-{len(self.calls)}"
        )
        self.put(stored)
        return stored

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        self._reachable()
        self.calls.append(("get", kind, name))
        return copy.deepcopy(self.objects.get((api_version, kind, namespace or "", name)))

    async def list_objects(
        self, api_version: str, kind: str, namespace: str = "", label_selector: str | None = None
    ) -> list[Obj]:
        self._reachable()
        self.calls.append(("list", kind, namespace, label_selector))
        out = []
        for (av, k, ns, _), obj in sorted(self.objects.items()):
            if av != api_version or k != kind or (namespace and ns != namespace):
                continue
            if label_selector:
                key, _, value = label_selector.partition("=")
                if (obj["metadata"].get("labels") or {}).get(key) != value:
                    continue
            out.append(copy.deepcopy(obj))
        return out

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        grace_seconds: int | None = None,
    ) -> bool:
        self.calls.append(("delete", kind, name, namespace))
        if kind == "Namespace":
            for key in [k for k in self.objects if k[2] == name]:
                del self.objects[key]
        return self.objects.pop((api_version, kind, namespace or "", name), None) is not None

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        patch_type: str = "strategic",
        namespace: str | None = None,
    ) -> Obj:
        self.calls.append(("patch", kind, name, copy.deepcopy(patch)))
        obj = self.objects[(api_version, kind, namespace or "", name)]
        _merge(obj, patch)
        return copy.deepcopy(obj)

    async def patch_status(self, api_version: str, kind: str, name: str, patch: Obj) -> None:
        self._reachable()
        self.calls.append(("patch_status", kind, name, copy.deepcopy(patch)))

    async def can_i(self, user: str, groups: list[str], attributes: Obj) -> bool:
        self.calls.append(("can_i", user, attributes["verb"], attributes["resource"]))
        return self.allowed.get(f"{user}:{attributes['verb']}:{attributes['resource']}", False)

    async def logs(self, namespace: str, pod: str, container: str | None) -> str:
        self.calls.append(("logs", namespace, pod))
        return ""

    async def evict_dry_run(self, namespace: str, pod: str) -> EvictionAnswer:
        self.calls.append(("evict_dry_run", namespace, pod))
        if pod in self.refuse_eviction:
            return EvictionAnswer(False, self.refuse_eviction[pod])
        return EvictionAnswer(True)


def _merge(target: Obj, patch: Obj) -> None:
    """JSON merge patch semantics (RFC 7386)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
