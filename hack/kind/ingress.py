"""Traffic into the cluster, as a kind user sets it up: the Gateway API's CRDs (standard channel)
and Traefik, serving both Ingresses (IngressClass `traefik`, the default) and Gateways
(GatewayClass `traefik`). Ingress and Gateway labs send their requests through its Service."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import nodeimage
from common import HERE, SetupError, run, step

# The Gateway API release Traefik v3.7.13 is built against (its go.mod).
GATEWAY_API = "sigs.k8s.io/gateway-api@v1.6.1"

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def gateway_api_crds() -> list[Path]:
    """The release's standard-channel manifests, from its Go module (cached by the Go module
    cache; nothing else serves them here)."""
    proc = run(["go", "mod", "download", "-json", GATEWAY_API], capture=True, check=False)
    if proc.returncode != 0:
        raise SetupError(f"downloading {GATEWAY_API} failed: {proc.stderr.strip()}",
                         "it needs Go and the Go module proxy")  # fmt: skip
    crds = Path(json.loads(proc.stdout)["Dir"]) / "config/crd/standard"
    return sorted(crds.glob("*.yaml"))


def install(kubectl: Kubectl, local: bool) -> None:
    with step("applying the Gateway API CRDs and the ingress controller (Traefik)"):
        # One request batch; server-side: the CRDs are too large for the last-applied annotation.
        files = [arg for crd in gateway_api_crds() for arg in ("-f", str(crd))]
        kubectl("apply", "--server-side", "--force-conflicts", *files)
        image = nodeimage.TRAEFIK_IMAGE if local else nodeimage.TRAEFIK_UPSTREAM_IMAGE
        manifest = (HERE / "manifests/traefik.yaml").read_text().replace("TRAEFIK_IMAGE", image)
        kubectl("apply", "-f", "-", input=manifest)


def wait(kubectl: Kubectl) -> None:
    kubectl("-n", "traefik", "rollout", "status", "deployment/traefik", "--timeout=180s")
