"""A class's day in minutes: Labs created, fixed, reset and deleted, several at once, and nothing
left behind: no namespace, labelled object, finalizer or node lock; the operator's memory flat
and no error in its log.

`make chaos` runs BREAKFIX_CHURN_CYCLES=100; `make test` a shorter churn (the default).
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.chaos_report import record
from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    create_lab,
    delete_lab_and_wait_gone,
    lab,
    wait_condition,
)
from tests.integration.operator import InClusterOperator

pytestmark = pytest.mark.chaos

CYCLES = int(os.environ.get("BREAKFIX_CHURN_CYCLES", "6"))
AT_ONCE = 5
# make chaos's long churn measures the operator's memory from after a warm-up; make test's
# short one checks leftovers and logs, and bounds memory loosely.
WARM_UP_FROM = 20
SCENARIOS = (
    "rbac-missing-permission",
    "svc-selector-mismatch",
    "crashloop-bad-command",
    "config-env-var-typo",
)
LAB_LABEL = "breakfix.dev/lab"
# Every kind a lab may leave behind if cleanup were wrong: its own and the cluster-scoped ones.
CLUSTER_KINDS = "clusterroles,clusterrolebindings,persistentvolumes,storageclasses"


def cycle(index: int) -> float:
    """create -> Ready -> fix -> Solved -> reset -> Ready (not Solved) -> delete; its seconds.
    A failed cycle says what the operator logged about its lab (the pod may not outlive the
    run: later chaos tests kill it)."""
    since = InClusterOperator()
    try:
        return _cycle(index)
    except AssertionError as exc:
        name = f"t-churn-{index}"
        about = [line for line in since.logs().splitlines() if name in line]
        raise AssertionError(
            f"{exc}\noperator log about {name}:\n" + "\n".join(about[-40:])
        ) from exc


def _cycle(index: int) -> float:
    name = f"t-churn-{index}"
    started = time.monotonic()
    create_lab(name, SCENARIOS[index % len(SCENARIOS)], seed=index + 1)
    wait_condition(name, "Ready", 150)
    apply_reference_solution(name)
    wait_condition(name, "Solved", 150)
    kubectl("patch", "lab", name, "--type=merge", "-p", json.dumps({"spec": {"reset": 1}}))
    wait_until(
        lambda: lab(name).get("status", {}).get("observedReset") == 1,
        150,
        f"{name} to be provisioned again after its reset",
    )
    wait_condition(name, "Ready", 150)
    wait_condition(name, "Solved", 30, status="False")
    delete_lab_and_wait_gone(name, timeout=180)
    return time.monotonic() - started


def leftovers() -> dict[str, list[str]]:
    """What the churned labs left, by where it was found (empty: nothing)."""

    def meta(obj: dict[str, Any]) -> dict[str, Any]:
        return dict(obj["metadata"])

    churned = {
        "namespaces": (
            get_json("namespaces")["items"],
            lambda o: meta(o)["name"].removeprefix("lab-"),
            lambda o: meta(o)["name"],
        ),
        "labs": (
            get_json("labs")["items"],
            lambda o: meta(o)["name"],
            lambda o: f"{meta(o)['name']} finalizers={meta(o).get('finalizers')}",
        ),
        "cluster objects": (
            get_json(CLUSTER_KINDS, "-l", LAB_LABEL)["items"],
            lambda o: meta(o).get("labels", {}).get(LAB_LABEL, ""),
            lambda o: f"{o['kind']}/{meta(o)['name']}",
        ),
        "node locks": (
            get_json("nodes")["items"],
            lambda o: (meta(o).get("annotations") or {}).get("breakfix.dev/held-by", ""),
            lambda o: meta(o)["name"],
        ),
    }
    found = {
        where: [describe(o) for o in items if owner(o).startswith("t-churn-")]
        for where, (items, owner, describe) in churned.items()
    }
    return {where: names for where, names in found.items() if names}


def rss(operator: InClusterOperator) -> float:
    return operator.metric("process_resident_memory_bytes") / 2**20


@pytest.mark.timeout(60 + CYCLES * 60)
def test_churn_leaves_nothing_behind(operator: InClusterOperator) -> None:
    watcher = InClusterOperator()  # its log from now on
    if CYCLES >= WARM_UP_FROM:
        # One cycle of each scenario first, not counted: the first use of a scenario fills
        # bounded caches (compiled templates, the parsed Scenario, pooled connections), which
        # is not the growth a leak would show over the cycles that follow.
        with ThreadPoolExecutor(AT_ONCE) as pool:
            list(pool.map(cycle, range(CYCLES, CYCLES + len(SCENARIOS))))
    before = rss(operator)
    started = time.monotonic()
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        # The curve tells a leak (growing to the end) from caches filling (flat after a while).
        while not done.wait(30):
            samples.append(round(rss(operator), 1))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            seconds = list(pool.map(cycle, range(CYCLES)))
    finally:
        # Also when a cycle failed: the sampler would go on reading into the next tests.
        done.set()
        sampler.join()
    wall = time.monotonic() - started
    left = leftovers()
    after = rss(operator)
    errors = [line for line in watcher.logs().splitlines() if "[ERROR" in line]
    report: dict[str, Any] = {
        "cycles": CYCLES,
        "warm_up_cycles": len(SCENARIOS) if CYCLES >= WARM_UP_FROM else 0,
        "at_once": AT_ONCE,
        "wall_s": round(wall, 1),
        "cycle_p50_s": round(sorted(seconds)[len(seconds) // 2], 1),
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "rss_every_30s_mib": samples,
        "leftovers": left,
        "log_errors": len(errors),
    }
    print("\nchurn:", json.dumps(report))
    record("churn", **{**report, "leftovers": sum(len(v) for v in left.values()),
                       "rss_every_2min_mib": ", ".join(map(str, samples[::4]))})  # fmt: skip
    assert not left, left
    assert not errors, "\n".join(errors[:20])
    # Python keeps some of what it freed: flat means within 5 % (and a few MiB for tiny runs).
    assert after <= before * 1.05 + 3, report
