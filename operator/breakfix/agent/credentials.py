"""A real request with a kubeconfig on the node: who does the API server say it is? The
credentials never leave the node; only the answer does."""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml

KUBECONFIG = re.compile(r"^/etc/kubernetes/[a-z-]+\.conf$")
# A read of the API, never a write: the answer carries its status only, never the body.
API_PATH = re.compile(r"^/(api|apis)(/[A-Za-z0-9._-]+)+$")
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def _named(items: Any, name: str, key: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return dict(item.get(key) or {})
    raise ValueError(f"no {key} named {name!r}")


def on_host(root: Path, path: str, hops: int = 8) -> Path:
    """`path` on the host mounted at `root`, a symlink followed as the host would: the kubelet's
    kubelet-client-current.pem links to an absolute path, which is the host's, not ours."""
    target = root / path.lstrip("/")
    for _ in range(hops):
        if not target.is_symlink():
            break
        link = os.readlink(target)
        target = root / link.lstrip("/") if link.startswith("/") else target.parent / link
    return target


def _data(entry: dict[str, Any], field: str, root: Path) -> bytes | None:
    if entry.get(f"{field}-data"):
        return base64.b64decode(entry[f"{field}-data"])
    if entry.get(field):
        return on_host(root, str(entry[field])).read_bytes()
    return None


class Unusable(ValueError):
    pass


def client_for(root: Path, path: str) -> tuple[str, ssl.SSLContext, dict[str, str]]:
    """The review's URL, a TLS context with the kubeconfig's CA and client certificate, and
    its token header if it has one."""
    try:
        config = yaml.safe_load((root / path.lstrip("/")).read_text()) or {}
        context = _named(config.get("contexts"), config.get("current-context", ""), "context")
        cluster = _named(config.get("clusters"), context.get("cluster", ""), "cluster")
        user = _named(config.get("users"), context.get("user", ""), "user")
        ca = _data(cluster, "certificate-authority", root)
        cert = _data(user, "client-certificate", root)
        key = _data(user, "client-key", root)
    except (OSError, ValueError, yaml.YAMLError, TypeError, AttributeError) as exc:
        raise Unusable(f"{path}: unusable kubeconfig: {exc}") from exc
    tls = ssl.create_default_context(cadata=ca.decode() if ca else None)
    if cert:
        # The ssl module loads a client certificate from files only.
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "cert").write_bytes(cert)
            Path(tmp, "key").write_bytes(key or cert)
            try:
                tls.load_cert_chain(Path(tmp, "cert"), Path(tmp, "key"))
            except ssl.SSLError as exc:
                raise Unusable(f"{path}: client certificate unusable: {exc}") from exc
    headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
    url = str(cluster.get("server", "")).rstrip("/")
    return url, tls, headers


REVIEW_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def require(kubeconfig: str, api_path: str | None) -> None:
    """What the agent accepts from the operator: one of the node's own kubeconfigs, and a path
    of the API (never another URL)."""
    if not KUBECONFIG.match(kubeconfig):
        raise ValueError(f"{kubeconfig}: not a kubeconfig the agent uses")
    if api_path is not None and not API_PATH.match(api_path):
        raise ValueError(f"{api_path}: not an API path")


async def whoami(root: Path, path: str, get: str = "") -> dict[str, Any]:
    """{"status": HTTP status or 0, "user": name, "groups": [...], "error": text}, and with `get`
    an API path, "get": {"status": ..., "error": ...} of a GET of it."""
    require(path, get or None)
    try:
        server, tls, headers = client_for(root, path)
    except Unusable as exc:
        return {"status": 0, "error": str(exc)}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.post(
                server + REVIEW_PATH, json=REVIEW, ssl=tls, headers=headers
            ) as response:
                body = _json(await response.text())
                # A review's status is an object; a refusal's (a Status) is the word "Failure".
                review = body.get("status") if response.status < 300 else None
                info = (review.get("userInfo") if isinstance(review, dict) else None) or {}
                answer: dict[str, Any] = {
                    "status": response.status,
                    "user": info.get("username", ""),
                    "groups": info.get("groups", []),
                    "error": _message(response.status, body),
                }
            if get:
                async with session.get(server + get, ssl=tls, headers=headers) as response:
                    body = _json(await response.text())
                    answer["get"] = {
                        "status": response.status,
                        "error": _message(response.status, body),
                    }
            return answer
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        return {"status": 0, "error": f"{type(exc).__name__}: {exc}"}


async def dry_run_patch(root: Path, path: str, target: str, body: Any) -> dict[str, Any]:
    """{"status": HTTP status or 0, "error": the refusal's message}: what the API server, its
    admission plugins included, answers a merge patch of `target` with the kubeconfig at
    `path`, sent with dryRun=All so that nothing is written."""
    require(path, target)
    if not isinstance(body, dict):
        raise ValueError("the patch must be a JSON object")
    try:
        server, tls, headers = client_for(root, path)
    except Unusable as exc:
        return {"status": 0, "error": str(exc)}
    headers = {**headers, "Content-Type": "application/merge-patch+json"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.patch(
                server + target,
                params={"dryRun": "All"},
                data=json.dumps(body),
                ssl=tls,
                headers=headers,
            ) as response,
        ):
            answer = _json(await response.text())
            return {"status": response.status, "error": _message(response.status, answer)}
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return {"status": 0, "error": f"{type(exc).__name__}: {exc}"}


def _json(text: str) -> dict[str, Any]:
    """A Status or review; the API server answers some refusals in plain text ("Unauthorized")."""
    try:
        body = json.loads(text)
    except ValueError:
        return {"message": text.strip()[:200]}
    return body if isinstance(body, dict) else {"message": str(body)[:200]}


def _message(status: int, body: dict[str, Any]) -> str:
    return "" if status < 300 else str(body.get("message", "")) or f"HTTP {status}"
