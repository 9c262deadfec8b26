"""Wake-ups for lab loops: a watch event on anything a lab depends on sets its flag."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from typing import Any

from breakfix import NAMESPACE_PREFIX


class Signals:
    def __init__(self) -> None:
        self._flags: dict[str, asyncio.Event] = {}
        self._kinds: dict[str, set[str]] = defaultdict(set)
        self._scenarios: dict[str, set[str]] = defaultdict(set)
        # A lab's namespaces besides its own -> the lab.
        self._namespaces: dict[str, str] = {}
        # Lab -> when a watch event last woke it (epoch seconds), and the time between that
        # event and the one before.
        self._woken: dict[str, float] = {}
        self._gaps: dict[str, float] = {}

    def flag(self, lab: str) -> asyncio.Event:
        return self._flags.setdefault(lab, asyncio.Event())

    def subscribe(
        self,
        lab: str,
        scenario: str,
        cluster_kinds: Iterable[str],
        namespaces: Iterable[str] = (),
    ) -> None:
        """Replace what `lab` listens to besides its own namespace."""
        self.unsubscribe(lab, keep_flag=True)
        self._scenarios[scenario].add(lab)
        for kind in cluster_kinds:
            self._kinds[kind].add(lab)
        for namespace in namespaces:
            self._namespaces[namespace] = lab

    def unsubscribe(self, lab: str, keep_flag: bool = False) -> None:
        for table in (self._kinds, self._scenarios):
            for key in [k for k, labs in table.items() if lab in labs]:
                table[key].discard(lab)
                if not table[key]:
                    del table[key]
        for namespace in [n for n, owner in self._namespaces.items() if owner == lab]:
            del self._namespaces[namespace]
        if not keep_flag:
            self._flags.pop(lab, None)
            self._woken.pop(lab, None)
            self._gaps.pop(lab, None)

    def lab(self, lab: str) -> None:
        if lab in self._flags:
            self._flags[lab].set()
            now = time.time()
            last = self._woken.get(lab)
            if last is not None:
                self._gaps[lab] = now - last
            self._woken[lab] = now

    def woken_at(self, lab: str) -> float | None:
        return self._woken.get(lab)

    def gap(self, lab: str) -> float | None:
        """The time between the last two events that woke `lab`, if two did."""
        return self._gaps.get(lab)

    def namespace(self, namespace: str) -> None:
        owner = self._namespaces.get(namespace)
        if owner is not None:
            self.lab(owner)
        elif namespace.startswith(NAMESPACE_PREFIX):
            self.lab(namespace[len(NAMESPACE_PREFIX) :])

    def kind(self, kind: str) -> None:
        for lab in self._kinds.get(kind, ()):
            self.lab(lab)

    def scenario(self, name: str) -> None:
        for lab in self._scenarios.get(name, ()):
            self.lab(lab)

    async def wait(self, lab: str, timeout: float, stopped: Awaitable[Any] | None) -> bool:
        """Sleep until signalled, `timeout` passes, or the daemon is asked to stop; whether it
        was signalled."""
        flag = self.flag(lab)
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(flag.wait())]
        if stopped is not None:
            waiters.append(asyncio.ensure_future(stopped))
        try:
            await asyncio.wait(
                waiters, timeout=max(0.0, timeout), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        signalled = flag.is_set()
        flag.clear()
        return signalled
