"""`breakfix dashboard`: reach the operator's class dashboard through `kubectl port-forward`
and open it in a browser with its token."""

from __future__ import annotations

import base64
import shutil
import subprocess
import webbrowser

from breakfix.cli.session import CliError
from breakfix.kube.client import Kube


async def token(kube: Kube, namespace: str, release: str) -> str:
    secret = await kube.get("v1", "Secret", f"{release}-dashboard", namespace)
    if secret is None:
        raise CliError(
            f"no dashboard in namespace {namespace}: install the chart with "
            "--set dashboard.enabled=true",
            2,
        )
    return base64.b64decode(secret["data"]["token"]).decode()


def port_forward(namespace: str, target: str, *ports: str) -> subprocess.Popen[str]:
    """`kubectl port-forward` to `target` (svc/NAME, pod/NAME) for each LOCAL:REMOTE in `ports`,
    running once it says it forwards. Through a Service it picks, when it starts, one pod the
    Service selects: for the dashboard's, the operator that holds the Lease."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise CliError("kubectl is not on PATH: the operator is reached through port-forward")
    proc = subprocess.Popen(
        [kubectl, "-n", namespace, "port-forward", target, *ports],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if "Forwarding from" not in first:
        proc.terminate()
        raise CliError(f"kubectl port-forward failed: {first.strip() or proc.wait()}")
    return proc


def to_dashboard(namespace: str, release: str, local: int, remote: int) -> subprocess.Popen[str]:
    return port_forward(namespace, f"svc/{release}-dashboard", f"{local}:{remote}")


def forward(
    namespace: str, release: str, local: int, remote: int, secret: str, open_browser: bool
) -> None:
    """Port-forward until interrupted, after printing (and opening) the URL."""
    proc = to_dashboard(namespace, release, local, remote)
    url = f"http://127.0.0.1:{local}/?token={secret}"
    print(f"The class dashboard: {url}\n(Ctrl-C stops the port-forward.)", flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
