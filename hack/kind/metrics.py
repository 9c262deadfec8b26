"""Resource metrics for `kubectl top` and HorizontalPodAutoscalers: metrics-server, built through
the Go module proxy like the cluster's other components, but not put into the node image (that
would change the node image's key, and every running cluster would be recreated): its image is
built beside it, `kind load`ed into the nodes of the cluster, new or running, and applied
(manifests/metrics-server.yaml). A running cluster gets it from `make up` without a restart."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import images
import nodeimage
from common import HERE, step

VERSION = "v0.8.0"
IMAGE = f"breakfix.local/metrics-server:{VERSION}"
# Where kind's own node image is used, it comes from its registry.
UPSTREAM_IMAGE = f"registry.k8s.io/metrics-server/metrics-server:{VERSION}"

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def image() -> str:
    """The image of the static binary (cached by version under ~/.cache/breakfix/tools), built
    FROM scratch as the upstream one is (distroless, no shell); rebuilt only when it changed."""
    binary = nodeimage.go_tool("metrics-server")
    images.binary(IMAGE, [binary], entrypoint="metrics-server")
    return IMAGE


def install(kubectl: Kubectl, local: bool, load: Callable[[str], None]) -> None:
    """Built (once) and loaded into the nodes where the node image was built here, then applied;
    `load` is kind load (it skips the nodes that hold the image already)."""
    ref = UPSTREAM_IMAGE
    if local:
        with step(f"building the metrics-server {VERSION} image (cached)"):
            ref = image()
        load(ref)
    with step("applying metrics-server (kubectl top, HorizontalPodAutoscalers)"):
        manifest = (HERE / "manifests/metrics-server.yaml").read_text()
        kubectl("apply", "-f", "-", input=manifest.replace("METRICS_SERVER_IMAGE", ref))


def wait(kubectl: Kubectl) -> None:
    """Rolled out, and the API server serves metrics.k8s.io through it (its first scrape of the
    kubelets makes it ready, about 20 s after it starts)."""
    kubectl("-n", "kube-system", "rollout", "status", "deployment/metrics-server", "--timeout=180s")
    kubectl("wait", "--for=condition=Available", "apiservice/v1beta1.metrics.k8s.io",
            "--timeout=120s")  # fmt: skip
