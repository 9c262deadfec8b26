"""The pure parts of hack/kind/registry.py, and that the registry's manifest agrees with it."""

from __future__ import annotations

import base64
import json
import sys
import tomllib
import warnings
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.paths import ROOT
from tests.unit.test_kind_setup import KIND, load


@pytest.fixture(scope="module")
def registry() -> ModuleType:
    sys.path.insert(0, str(KIND))
    try:
        return load("kind_registry", KIND / "registry.py")
    finally:
        sys.path.remove(str(KIND))


LDD = """\
\tlinux-vdso.so.1 (0x00007ffac2f13000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007ffac2d20000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007ffac2f15000)
"""


def test_shared_libraries_are_the_resolved_ones_and_the_loader(registry: ModuleType) -> None:
    assert registry.shared_libraries(LDD) == [
        Path("/lib/x86_64-linux-gnu/libc.so.6"),
        Path("/lib64/ld-linux-x86-64.so.2"),
    ]
    assert registry.shared_libraries("\tstatically linked\n") == []


def test_a_library_ldd_cannot_find_is_an_error(registry: ModuleType) -> None:
    with pytest.raises(registry.SetupError, match=r"libfoo\.so\.1"):
        registry.shared_libraries(LDD + "\tlibfoo.so.1 => not found\n")


def test_hosts_toml_sends_pulls_to_the_registry_over_plain_http(registry: ModuleType) -> None:
    config = tomllib.loads(registry.hosts_toml())
    assert config["server"] == "http://localhost:30500"
    assert config["host"]["http://localhost:30500"]["capabilities"] == ["pull", "resolve"]


def test_dockerconfigjson_holds_the_credential_for_the_registry(registry: ModuleType) -> None:
    config = json.loads(registry.dockerconfigjson())
    entry = config["auths"]["localhost:30500"]
    assert base64.b64decode(entry["auth"]).decode() == "puller:breakfix-lab"
    assert (entry["username"], entry["password"]) == ("puller", "breakfix-lab")
    assert list(config["auths"]) == [registry.HOST]


def test_needs_push_unless_the_registry_holds_this_build(registry: ModuleType) -> None:
    held = json.dumps({"Labels": {"dev.breakfix.inputs": "abc"}})
    assert registry.needs_push(held, "abc") is False
    assert registry.needs_push(held, "def") is True
    assert registry.needs_push(None, "abc") is True
    assert registry.needs_push(json.dumps({"Labels": None}), "abc") is True
    assert registry.needs_push("not json", "abc") is True


def _manifest() -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all((KIND / "manifests/registry.yaml").read_text()) if d]


def test_the_manifest_holds_the_hash_of_the_lab_credential(registry: ModuleType) -> None:
    secret = next(d for d in _manifest() if d["kind"] == "Secret")
    user, _, hashed = secret["stringData"]["htpasswd"].strip().partition(":")  # type: ignore[index]
    assert user == registry.USER
    assert hashed.startswith("$2b$")  # bcrypt: the only scheme the registry's htpasswd accepts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    assert crypt.crypt(registry.PASSWORD, hashed) == hashed
    assert crypt.crypt(registry.PASSWORD + "x", hashed) != hashed


def test_the_manifest_serves_the_node_port_the_nodes_pull_from(registry: ModuleType) -> None:
    text = (KIND / "manifests/registry.yaml").read_text()
    assert "nodePort: REGISTRY_NODE_PORT" in text
    assert "image: REGISTRY_IMAGE" in text
    assert f"localhost:{registry.NODE_PORT}" == registry.HOST


def test_the_lab_hands_out_the_registry_credential(registry: ModuleType) -> None:
    """image-pull-secret-missing's Secret and image are the ones `up` makes: a lab whose
    credential drifted from the registry's would be broken for a reason its task does not tell."""
    lab = ROOT / "labs/image-pull-secret-missing"
    docs = [d for d in yaml.safe_load_all((lab / "manifests/app.yaml").read_text()) if d]
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    decoded = base64.b64decode(secret["data"][".dockerconfigjson"]).decode()
    assert json.loads(decoded) == json.loads(registry.dockerconfigjson())
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{registry.HOST}/{registry.APP}:{registry.APP_TAG}"
    assert container["imagePullPolicy"] == "Always"
