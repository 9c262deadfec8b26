"""The Helm chart, rendered with the pinned helm, and a kubeconfig holding exactly its RBAC."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.integration.cluster import kubectl
from tests.paths import ROOT

CHART = ROOT / "charts/breakfix"
RELEASE = "breakfix"
NAMESPACE = "breakfix-system"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}


def helm() -> str:
    """The pinned helm, built once into the cache by hack/go-tool.sh."""
    out = subprocess.run(
        [str(ROOT / "hack/go-tool.sh"), "helm"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def template(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args],
        capture_output=True,
        text=True,
        check=False,
    )


def rendered(*args: str) -> list[dict[str, Any]]:
    proc = template(*args)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def install_rbac() -> list[dict[str, Any]]:
    """The chart's ServiceAccount, ClusterRole and ClusterRoleBinding, applied as rendered."""
    objs = [o for o in rendered("--set", "scenarios.install=false") if o["kind"] in RBAC_KINDS]
    kubectl("create", "namespace", NAMESPACE, check=False)
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs))
    return objs


def remove(objs: list[dict[str, Any]]) -> None:
    kubectl(
        "delete", "--ignore-not-found", "--wait=false", "-f", "-", input=yaml.safe_dump_all(objs)
    )
    delete_namespace()


def delete_namespace() -> None:
    """Gone, not Terminating: the next test creates objects in a namespace of the same name."""
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s", timeout=150)


def service_account_kubeconfig(admin_kubeconfig: str, dest: Path) -> Path:
    """A kubeconfig that authenticates as the chart's ServiceAccount, with the admin's server."""
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    current = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    cluster = next(c for c in admin["clusters"] if c["name"] == current["context"]["cluster"])
    token = kubectl(
        "create", "token", RELEASE, "--namespace", NAMESPACE, "--duration", "3h"
    ).stdout.strip()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster["cluster"]}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "cluster", "user": "operator"}}],
        "current-context": "operator",
    }
    dest.write_text(yaml.safe_dump(config))
    return dest
