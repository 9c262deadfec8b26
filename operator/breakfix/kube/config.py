"""Where the API server is and how to prove who we are: a kubeconfig, or the pod's service
account. What kind's kubeconfigs, the learner kubeconfigs `breakfix learner-kubeconfig` writes
and an in-cluster pod use: a CA, client certificates or a bearer token. Credential plugins
(`exec`, cloud auth providers) are refused with a message that says so."""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# A projected service-account token is replaced by the kubelet before it expires (hourly at
# the least): read again this often.
TOKEN_REREAD_SECONDS = 60.0


class ConfigException(Exception):
    """No usable configuration: no kubeconfig, a context it lacks, credentials it cannot use."""


@dataclass
class Connection:
    """One API server and one identity, with the headers every request carries."""

    host: str
    ca_pem: bytes | None = None
    insecure: bool = False
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    basic: tuple[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    _token_read: tuple[float, str] | None = field(default=None, repr=False)

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.host.startswith("https://"):
            return False
        context = ssl.create_default_context(cadata=self.ca_pem.decode() if self.ca_pem else None)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert_pem and self.client_key_pem:
            # The ssl module loads a certificate chain from files only.
            with tempfile.TemporaryDirectory(prefix="breakfix-") as folder:
                cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
                for path, data in ((cert, self.client_cert_pem), (key, self.client_key_pem)):
                    path.touch(mode=0o600)
                    path.write_bytes(data)
                context.load_cert_chain(cert, key)
        return context

    def auth_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        token = self._current_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.basic:
            pair = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        return headers

    def _current_token(self) -> str | None:
        if not self.token_file:
            return self.token
        now = time.monotonic()
        if self._token_read is None or now - self._token_read[0] > TOKEN_REREAD_SECONDS:
            self._token_read = (now, Path(self.token_file).read_text().strip())
        return self._token_read[1]

    def acting_as(self, user: str) -> Connection:
        """The same credentials, impersonating `user`."""
        return replace(self, headers={**self.headers, "Impersonate-User": user})


def load(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """From `kubeconfig` (or KUBECONFIG, or ~/.kube/config), else the pod's service account.
    KUBECONFIG is read now, not when the module was imported: a test fixture or wrapper may set
    it later in the process."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or None
    if path and os.pathsep in path:
        path = next((p for p in path.split(os.pathsep) if p), None)
    if path is None and Path("~/.kube/config").expanduser().is_file():
        path = str(Path("~/.kube/config").expanduser())
    if path is not None:
        if not Path(path).is_file():
            raise ConfigException(f"kubeconfig {path} does not exist")
        return from_kubeconfig(yaml.safe_load(Path(path).read_text()) or {}, context, path)
    if context:
        raise ConfigException(f"context {context} given, but no kubeconfig found")
    return in_cluster()


def in_cluster() -> Connection:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    token = SERVICE_ACCOUNT_DIR / "token"
    if not host or not port or not token.is_file():
        raise ConfigException("not in a pod, and no kubeconfig: set KUBECONFIG")
    if ":" in host:
        host = f"[{host}]"
    return Connection(
        host=f"https://{host}:{port}",
        ca_pem=(SERVICE_ACCOUNT_DIR / "ca.crt").read_bytes(),
        token_file=str(token),
    )


def _named(entries: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return dict(entry.get(what) or {})
    raise ConfigException(f"the kubeconfig has no {what} named {name!r}")


def _data(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    """A `<key>-data` value (base64), or the file `<key>` names (relative to the kubeconfig)."""
    if section.get(f"{key}-data"):
        return base64.b64decode(str(section[f"{key}-data"]))
    if section.get(key):
        return (base / os.path.expanduser(str(section[key]))).read_bytes()
    return None


def from_kubeconfig(
    config: dict[str, Any], context: str | None = None, path: str = "."
) -> Connection:
    name = context or config.get("current-context")
    if not name:
        raise ConfigException("the kubeconfig has no current-context: pass --context")
    chosen = _named(config.get("contexts") or [], name, "context")
    cluster = _named(config.get("clusters") or [], chosen.get("cluster", ""), "cluster")
    user = _named(config.get("users") or [], chosen.get("user", ""), "user")
    base = Path(path).expanduser().resolve().parent
    if "exec" in user or "auth-provider" in user:
        raise ConfigException(
            f"user {chosen.get('user')!r} authenticates through a credential plugin, which "
            "breakfix does not run: use a kubeconfig with a token or a client certificate"
        )
    if not cluster.get("server"):
        raise ConfigException(f"cluster {chosen.get('cluster')!r} has no server")
    return Connection(
        host=str(cluster["server"]).rstrip("/"),
        ca_pem=_data(cluster, "certificate-authority", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        client_cert_pem=_data(user, "client-certificate", base),
        client_key_pem=_data(user, "client-key", base),
        token=user.get("token"),
        token_file=str(base / user["tokenFile"]) if user.get("tokenFile") else None,
        basic=(user["username"], user.get("password", "")) if user.get("username") else None,
    )
