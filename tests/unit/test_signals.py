"""Wake-ups: an event for a lab that is listening is kept until its loop waits."""

from __future__ import annotations

import asyncio
import time

from breakfix.controller.signals import Signals


async def test_an_event_before_the_wait_is_not_lost() -> None:
    signals = Signals()
    signals.flag("web")  # the loop registers before its first step
    signals.namespace("lab-web")  # a pod appears while that step runs
    started = time.monotonic()
    await signals.wait("web", timeout=5, stopped=None)
    assert time.monotonic() - started < 1


async def test_events_for_labs_nobody_runs_are_dropped() -> None:
    signals = Signals()
    signals.namespace("lab-gone")
    signals.kind("Node")
    assert signals._flags == {}


async def test_cluster_kinds_wake_only_their_subscribers() -> None:
    signals = Signals()
    signals.subscribe("a", "rbac-lab", {"ClusterRole"})
    signals.subscribe("b", "pod-lab", set())
    signals.flag("a"), signals.flag("b")
    signals.kind("ClusterRole")
    assert signals.flag("a").is_set() and not signals.flag("b").is_set()
    await asyncio.sleep(0)


async def test_a_wake_up_is_timed_and_forgotten_with_its_lab() -> None:
    signals = Signals()
    signals.flag("web")
    assert signals.woken_at("web") is None
    before = time.time()
    signals.namespace("lab-web")
    woken = signals.woken_at("web")
    assert woken is not None and before <= woken <= time.time()
    signals.unsubscribe("web")
    assert signals.woken_at("web") is None
    signals.namespace("lab-web")  # nobody runs it: nothing kept
    assert signals.woken_at("web") is None


async def test_the_time_between_two_wake_ups_is_kept_and_a_wait_says_if_it_was_woken() -> None:
    signals = Signals()
    signals.flag("web")
    assert signals.gap("web") is None
    signals.namespace("lab-web")
    await asyncio.sleep(0.02)
    signals.namespace("lab-web")
    gap = signals.gap("web")
    assert gap is not None and 0.015 <= gap < 1
    assert await signals.wait("web", timeout=5, stopped=None)
    assert not await signals.wait("web", timeout=0.01, stopped=None)
    signals.unsubscribe("web")
    assert signals.gap("web") is None
