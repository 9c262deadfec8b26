"""The Helm chart, rendered with the pinned helm."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml

from tests.paths import ROOT

CHART = ROOT / "charts/breakfix"
RELEASE = "breakfix"
NAMESPACE = "breakfix-system"


def helm() -> str:
    """The pinned helm, built once into the cache by hack/go-tool.sh."""
    out = subprocess.run(
        [str(ROOT / "hack/go-tool.sh"), "helm"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def template(*args: str, namespace: str = NAMESPACE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm(), "template", RELEASE, str(CHART), "--namespace", namespace, *args],
        capture_output=True,
        text=True,
        check=False,
    )


def rendered(*args: str, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    proc = template(*args, namespace=namespace)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
