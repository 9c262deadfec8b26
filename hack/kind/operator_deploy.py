"""The operator as users run it: its image, loaded into kind, installed by the Helm chart."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cluster
import engine
import images
import nodeimage
from common import ROOT, log, run, step

CHART = ROOT / "charts/breakfix"
RELEASE = "breakfix"
NAMESPACE = "breakfix-system"
PUBLIC_BASE = "python:3.12.8-slim-bookworm"


def version() -> str:
    m = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert m
    return m.group(1)


def image_ref() -> str:
    return os.environ.get("IMAGE") or f"breakfix/operator:{version()}"


def base() -> str:
    """The public base where it is here or can be pulled; else a stand-in built here. An engine
    breakfix started is on a machine without a registry: never try to pull there."""
    if given := os.environ.get("BREAKFIX_PYTHON_BASE"):
        return given
    if images.exists(PUBLIC_BASE) or not engine.started_here():
        return PUBLIC_BASE
    return images.python_base(images.debian())


def pip_ca() -> Path | None:
    """The CA bundle the host's pip trusts, if one is configured (a network that inspects TLS)."""
    given = os.environ.get("PIP_CERT")
    if not given:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.cert"],
            capture_output=True,
            text=True,
            check=False,
        )
        given = out.stdout.strip() if out.returncode == 0 else ""
    return Path(given) if given and Path(given).is_file() else None


def build() -> str:
    engine.ensure()
    ref = image_ref()
    replaced = image_id(ref)
    with step(f"building the operator image {ref}"), tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        for name in ("Dockerfile", "pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, ctx / name)
        shutil.copytree(
            ROOT / "operator",
            ctx / "operator",
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        )
        if ca := pip_ca():
            shutil.copy(ca, ctx / "pip-ca.pem")
        run(
            [
                engine.docker(),
                "build",
                "-q",
                "--network=host",
                "--build-arg",
                f"BASE={base()}",
                "-t",
                ref,
                str(ctx),
            ],
            env={"DOCKER_BUILDKIT": "0"},
            capture=True,
            hint="pip inside the build reaches PyPI over the host network",
        )
    # The image a rebuild replaced would stay untagged (200 MB a time); its build stage stays,
    # as the cache of the next build.
    if replaced and replaced != image_id(ref):
        run([engine.docker(), "rmi", replaced], capture=True, check=False)
    return ref


def image_id(ref: str) -> str | None:
    out = run([engine.docker(), "image", "inspect", "-f", "{{.Id}}", ref], capture=True,
              check=False)  # fmt: skip
    return out.stdout.strip() if out.returncode == 0 else None


def helm() -> str:
    return nodeimage.go_tool("helm").as_posix()


def install(ref: str, *extra: str, wait: bool = True) -> None:
    """helm upgrade --install, waiting for the Deployment (or not: `wait_ready` then does); a
    changed image restarts the pod."""
    repo, tag = ref.rsplit(":", 1)
    digest = run(
        [engine.docker(), "image", "inspect", "-f", "{{.Id}}", ref], capture=True
    ).stdout.strip()
    with step("installing the Helm chart (CRDs, Scenarios, operator)"):
        # Helm installs a chart's crds/ once and never upgrades them: a CRD that gained a field
        # would go on pruning it from every Scenario the upgrade applies.
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CHART / "crds"))
        adopt_scenarios()
        run(
            [
                helm(),
                "upgrade",
                "--install",
                RELEASE,
                str(CHART),
                "--namespace",
                NAMESPACE,
                "--create-namespace",
                "--kubeconfig",
                str(cluster.KUBECONFIG),
                "--set",
                f"image.repository={repo}",
                "--set",
                f"image.tag={tag}",
                "--set",
                "image.pullPolicy=Never",
                # The image id as an annotation: a rebuilt image under the same tag rolls the pod.
                "--set-string",
                f"podAnnotations.breakfix\\.dev/image-id={digest.replace(':', '-')}",
                *extra,
                *(["--wait", "--timeout", "180s"] if wait else []),
            ],
            capture=True,
            hint=f"kubectl -n {NAMESPACE} describe pod; kubectl -n {NAMESPACE} logs deploy/"
            + RELEASE,
        )


def wait_ready() -> None:
    """The operator and its node agents rolled out: what `helm --wait` waits for."""
    with step("waiting for the operator and its node agents"):
        cluster.kubectl("-n", NAMESPACE, "rollout", "status", f"deployment/{RELEASE}",
                        "--timeout=180s")  # fmt: skip
        # Absent with --set agent.enabled=false.
        agents = f"daemonset/{RELEASE}-agent"
        if cluster.kubectl("-n", NAMESPACE, "get", agents, check=False).returncode == 0:
            cluster.kubectl("-n", NAMESPACE, "rollout", "status", agents, "--timeout=180s")


def adopt_scenarios() -> None:
    """Hand Helm the chart's Scenarios that exist without it: `breakfix selftest` (or `make
    install`) applies a lab's Scenario itself, and Helm refuses to upgrade over an object
    another client created ("cannot be imported into the current release")."""
    chart = set(re.findall(r"^kind: Scenario\nmetadata:\n  name: (\S+)$",
                           (CHART / "files/scenarios.yaml").read_text(), re.M))  # fmt: skip
    out = cluster.kubectl("get", "scenarios", "-o", "json", check=False)
    if out.returncode != 0:
        return
    orphans = [
        item["metadata"]["name"]
        for item in json.loads(out.stdout)["items"]
        if item["metadata"]["name"] in chart
        and (item["metadata"].get("annotations") or {}).get("meta.helm.sh/release-name") != RELEASE
    ]
    if not orphans:
        return
    names = [f"scenario/{name}" for name in orphans]
    cluster.kubectl("label", "--overwrite", *names, "app.kubernetes.io/managed-by=Helm")
    cluster.kubectl(
        "annotate",
        "--overwrite",
        *names,
        f"meta.helm.sh/release-name={RELEASE}",
        f"meta.helm.sh/release-namespace={NAMESPACE}",
    )
    log(f"handed to Helm {len(orphans)} Scenarios applied by another client: {', '.join(orphans)}")


def deploy(*extra: str) -> None:
    ref = build()
    cluster.load(ref)
    install(ref, *extra)
    log(f"operator running in namespace {NAMESPACE} from image {ref}")


def kubeconfig_path() -> Path:
    return cluster.KUBECONFIG


def logs() -> str:
    return subprocess.run(
        [
            str(nodeimage.kubernetes() / "kubectl"),
            f"--kubeconfig={cluster.KUBECONFIG}",
            "-n",
            NAMESPACE,
            "logs",
            f"deploy/{RELEASE}",
            "--tail=200",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
