"""What the dashboard shows, kept from the operator's watch events: Labs, Exams, and of each
Scenario only its title and tags (never its hints or solution). Open pages subscribe to it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Change:
    kind: str
    name: str


@dataclass
class Board:
    labs: dict[str, Obj] = field(default_factory=dict)
    exams: dict[str, Obj] = field(default_factory=dict)
    scenarios: dict[str, Obj] = field(default_factory=dict)
    subscribers: set[asyncio.Queue[Change]] = field(default_factory=set)

    def _store(self, kind: str) -> dict[str, Obj]:
        return {"Lab": self.labs, "Exam": self.exams, "Scenario": self.scenarios}[kind]

    def prime(self, kind: str, objs: Iterable[Mapping[str, Any]]) -> None:
        """Fill from one list read before the page is served: watch events reach a new
        leader's handlers one object at a time, and a page served meanwhile showed a part of
        the class. Read before Kopf's watches start, so their events are newer and overwrite;
        a Lab or Exam listed here cannot vanish unseen in between, as our finalizer holds it."""
        store = self._store(kind)
        for obj in objs:
            store[str((obj.get("metadata") or {}).get("name"))] = _kept(kind, obj)

    def update(self, kind: str, name: str, obj: Mapping[str, Any] | None) -> None:
        store = self._store(kind)
        if obj is None:
            store.pop(name, None)
        else:
            kept = _kept(kind, obj)
            if store.get(name) == kept:
                return  # Kopf's own annotation patches change nothing shown
            store[name] = kept
        for queue in self.subscribers:
            queue.put_nowait(Change(kind, name))

    def subscribe(self) -> asyncio.Queue[Change]:
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change]) -> None:
        self.subscribers.discard(queue)


def _kept(kind: str, obj: Mapping[str, Any]) -> Obj:
    meta = obj.get("metadata") or {}
    kept_meta = {
        "name": meta.get("name"),
        "labels": dict(meta.get("labels") or {}),
        "creationTimestamp": meta.get("creationTimestamp"),
    }
    spec = dict(obj.get("spec") or {})
    if kind == "Scenario":
        # Nothing a learner must not read: no task internals, hints, checks or solution.
        return {
            "metadata": kept_meta,
            "spec": {k: spec.get(k) for k in ("title", "tags", "difficulty", "category")},
        }
    return {"metadata": kept_meta, "spec": spec, "status": dict(obj.get("status") or {})}
