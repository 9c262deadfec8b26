"""Reach the test cluster: the local one from hack/cluster.py, or any given by kubeconfig."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.paths import ROOT


def ensure_cluster() -> str:
    """Return a kubeconfig path. BREAKFIX_TEST_KUBECONFIG uses an existing cluster (kind);
    otherwise the local cluster is reused when healthy or started (it stays up afterwards)."""
    given = os.environ.get("BREAKFIX_TEST_KUBECONFIG")
    if given:
        return given
    proc = subprocess.run(
        [sys.executable, str(ROOT / "hack/cluster.py"), "up"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError("the local cluster did not come up; see the messages above")
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("export KUBECONFIG="), last
    kubeconfig = last.split("=", 1)[1]
    cache = Path(
        os.environ.get("BREAKFIX_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "breakfix"
    )
    bins = sorted((cache / "k8s").glob("*/bin"))
    if bins:
        # The kubectl built with the cluster matches its version.
        os.environ["PATH"] = f"{bins[-1]}{os.pathsep}{os.environ['PATH']}"
    return kubeconfig


def kubectl(
    *args: str, input: str | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["kubectl", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def get_json(*args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
