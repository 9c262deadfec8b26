"""Two operators on one cluster: one acts, the other waits, and takes over when the first stops.

Before the Lease, two operators (`make run` beside the chart's, or two replicas) both handled
every Lab: cleanups ran twice and a Lab's namespace was deleted and created again right after it
was applied. Here the chart's operator is stopped and two local operators (this checkout, as
`make run` starts it) compete; then the chart's takes the Lease back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.cluster import get_json, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    create_lab,
    delete_lab_and_wait_gone,
    wait_condition,
)
from tests.integration.operator import NAMESPACE, InClusterOperator

pytestmark = pytest.mark.chaos

LEASE = "breakfix-operator"


class LocalOperator:
    def __init__(self, name: str, logs: Path) -> None:
        self.log = logs / f"{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "breakfix.controller"],
            env={**os.environ, "BREAKFIX_SAFETY_SECONDS": "60"},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.identity_prefix = f"_{self.proc.pid}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def leading(self) -> bool:
        return "leading: holds" in self.text()

    def standby(self) -> bool:
        return "standby: the Lease" in self.text()

    def holds(self) -> bool:
        return holder().endswith(self.identity_prefix)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(40)


def holder() -> str:
    lease = get_json("lease", LEASE, "-n", NAMESPACE)
    return str(lease["spec"].get("holderIdentity") or "")


def test_one_operator_acts_and_a_standby_takes_over(
    operator: InClusterOperator, tmp_path: Path
) -> None:
    name = "t-leader"
    operator.stop()  # it gives the Lease up as it stops
    started: list[LocalOperator] = []

    def start(which: str) -> LocalOperator:
        started.append(LocalOperator(which, tmp_path))
        return started[-1]

    try:
        first = start("first")
        wait_until(first.holds, 30, "the first local operator to lead")
        second = start("second")
        wait_until(second.standby, 30, "the second to wait as a standby")

        create_lab(name, "crashloop-bad-command", seed=3)
        wait_condition(name, "Ready", 150)
        assert "provisioned" in first.text()
        # The standby touched no Lab: it never ran a handler.
        assert "provisioned" not in second.text()

        # The leader dies without a word: the standby takes over once the Lease lapses.
        killed = time.monotonic()
        first.stop(signal.SIGKILL)
        wait_until(second.holds, 40, "the standby to take over")
        takeover_after_kill = time.monotonic() - killed
        apply_reference_solution(name)
        wait_condition(name, "Solved", 60)
        assert "provisioned" not in second.text(), "the new leader provisioned the lab again"

        # A leader that stops cleanly hands over at once.
        third = start("third")
        wait_until(third.standby, 30, "a new standby")
        stopped = time.monotonic()
        second.stop()
        wait_until(third.holds, 20, "the standby to take over from a clean stop")
        takeover_after_stop = time.monotonic() - stopped
        third.stop()
        print(
            f"\ntakeover after SIGKILL {takeover_after_kill:.1f}s, "
            f"after a clean stop {takeover_after_stop:.1f}s"
        )
        # Kopf's own shutdown takes about 5 s before the Lease is given up (to give it up
        # earlier would let two act at once); the standby asks every 2 s.
        assert takeover_after_stop < 10
        assert takeover_after_kill < 15 + 2 + 5
    finally:
        for local in started:
            local.stop()
        operator.start()
    # The chart's operator leads again, with the chart's RBAC on the Lease.
    pod = operator.pod()
    assert pod
    wait_until(lambda: holder().startswith(pod["metadata"]["name"]), 30, "the chart's to lead")
    delete_lab_and_wait_gone(name)
