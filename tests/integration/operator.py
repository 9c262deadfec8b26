"""The operator as a separate process, the way `make up` and the chart's Deployment run it."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _die_with_parent() -> None:
    """Linux: the operator gets SIGTERM when the test process dies, even by SIGKILL, so an
    interrupted run leaves no operator behind to race the next one."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OperatorProcess:
    """Started with its own kubeconfig (an admin's or a ServiceAccount's); it can be killed
    without warning. Readiness is Kopf's own health endpoint, as the chart's probes use it."""

    def __init__(self, log: Path, kubeconfig: str | None = None) -> None:
        self.log = log
        self.kubeconfig = kubeconfig
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = free_port()
        self.metrics_port = free_port()

    def start(self) -> None:
        env = {**os.environ, "BREAKFIX_SAFETY_SECONDS": "60"}
        if self.kubeconfig:
            env["KUBECONFIG"] = self.kubeconfig
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "breakfix.controller",
                f"--liveness=http://127.0.0.1:{self.port}/healthz",
                f"--metrics-port={self.metrics_port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
        )

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the operator exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise AssertionError(f"the operator was not healthy in {timeout}s")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/", timeout=5) as r:
            return str(r.read().decode())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None
