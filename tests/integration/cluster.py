"""Reach the test cluster: the kind cluster from hack/kind, or any given by kubeconfig."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.paths import ROOT


def hack_kind(*args: str) -> str:
    """Run `python3 hack/kind ...` (progress on stderr); return its stdout."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "hack/kind"), *args],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"hack/kind {' '.join(args)} failed; see the messages above")
    return proc.stdout


def ensure_cluster() -> str:
    """Return a kubeconfig path. BREAKFIX_TEST_KUBECONFIG uses an existing cluster as it is;
    otherwise the kind cluster is reused when healthy or created (it stays up afterwards)."""
    given = os.environ.get("BREAKFIX_TEST_KUBECONFIG")
    if given:
        return given
    last = hack_kind("up").strip().splitlines()[-1]
    assert last.startswith("export KUBECONFIG="), last
    cache = Path(
        os.environ.get("BREAKFIX_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "breakfix"
    )
    bins = sorted((cache / "k8s").glob("*/bin"))
    if bins:
        # The kubectl built with the cluster matches its version.
        os.environ["PATH"] = f"{bins[-1]}{os.pathsep}{os.environ['PATH']}"
    return last.split("=", 1)[1]


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
