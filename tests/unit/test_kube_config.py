"""Reading a kubeconfig, and the paths of the API: the client's pure parts."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from breakfix.kube.client import Resource, group_version_path
from breakfix.kube.config import ConfigException, Connection, from_kubeconfig, load


def kubeconfig(user: dict[str, Any], cluster: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "clusters": [{"name": "kind", "cluster": cluster or {
            "server": "https://127.0.0.1:6443/",
            "certificate-authority-data": base64.b64encode(b"CA PEM").decode()}}],
        "users": [{"name": "admin", "user": user}],
        "contexts": [{"name": "kind-breakfix", "context": {"cluster": "kind", "user": "admin"}}],
        "current-context": "kind-breakfix",
    }  # fmt: skip


def test_a_kind_kubeconfig_gives_server_ca_and_client_certificate() -> None:
    user = {"client-certificate-data": base64.b64encode(b"CERT").decode(),
            "client-key-data": base64.b64encode(b"KEY").decode()}  # fmt: skip
    conn = from_kubeconfig(kubeconfig(user))
    assert conn.host == "https://127.0.0.1:6443"
    assert (conn.ca_pem, conn.client_cert_pem, conn.client_key_pem) == (b"CA PEM", b"CERT", b"KEY")
    assert "Authorization" not in conn.auth_headers()


def test_files_are_read_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA FROM FILE")
    config = kubeconfig(
        {"token": "t0k"}, {"server": "https://h:6443", "certificate-authority": "ca.crt"}
    )
    conn = from_kubeconfig(config, path=str(tmp_path / "config"))
    assert conn.ca_pem == b"CA FROM FILE"
    assert conn.auth_headers()["Authorization"] == "Bearer t0k"


def test_impersonation_adds_a_header_and_keeps_the_credentials() -> None:
    conn = from_kubeconfig(kubeconfig({"token": "t0k"}))
    acting = conn.acting_as("jane")
    assert acting.auth_headers() == {"Authorization": "Bearer t0k", "Impersonate-User": "jane"}
    assert "Impersonate-User" not in conn.auth_headers()


def test_a_token_file_is_read_when_asked(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    conn = Connection(host="https://h", token_file=str(token))
    assert conn.auth_headers()["Authorization"] == "Bearer first"


@pytest.mark.parametrize(
    ("config", "context", "message"),
    [
        (kubeconfig({"exec": {"command": "aws"}}), None, "credential plugin"),
        (kubeconfig({"token": "t"}), "elsewhere", "no context named 'elsewhere'"),
        ({**kubeconfig({"token": "t"}), "current-context": ""}, None, "no current-context"),
    ],
)
def test_what_cannot_be_used_is_refused_by_name(
    config: dict[str, Any], context: str | None, message: str
) -> None:
    with pytest.raises(ConfigException, match=message):
        from_kubeconfig(config, context)


def test_a_kubeconfig_named_but_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigException, match="does not exist"):
        load(str(tmp_path / "nothing"))


def test_paths_of_core_and_group_kinds() -> None:
    pods = Resource("v1", "Pod", "pods", True, frozenset({"log", "eviction"}))
    assert pods.path() == "/api/v1/pods"
    assert pods.path("web", "lab-a", "log") == "/api/v1/namespaces/lab-a/pods/web/log"
    roles = Resource("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False)
    assert roles.path("system:admin", "ignored") == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:admin"
    )
    assert group_version_path("v1") == "/api/v1"
