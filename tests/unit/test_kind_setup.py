"""The pure parts of hack/kind: the cluster config and the runc wrapper's capability edit."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import yaml

from tests.paths import ROOT

KIND = ROOT / "hack/kind"


def load(name: str, path: Path) -> ModuleType:
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_cluster_config_has_a_control_plane_and_two_workers_and_our_networking() -> None:
    sys.path.insert(0, str(KIND))
    try:
        cluster = load("kind_cluster", KIND / "cluster.py")
    finally:
        sys.path.remove(str(KIND))
    built_here = yaml.safe_load(cluster.config(True))
    assert [n["role"] for n in built_here["nodes"]] == ["control-plane", "worker", "worker"]
    assert built_here["networking"]["disableDefaultCNI"] is True
    patches = [yaml.safe_load(p) for p in built_here["kubeadmConfigPatches"]]
    assert patches[0] == {"kind": "KubeletConfiguration", "failCgroupV1": False}
    # kubeadm v1beta4 lists extra arguments; the list replaces kind's, which is kept in it.
    args = {a["name"]: a["value"] for a in patches[1]["controllerManager"]["extraArgs"]}
    assert args == {"enable-hostpath-provisioner": "true", "node-monitor-grace-period": "25s"}
    # With kind's own image, kind's own CNI (kindnet) routes pods and enforces policy.
    kindest = yaml.safe_load(cluster.config(False))
    assert "disableDefaultCNI" not in kindest["networking"]


def test_runc_wrapper_drops_only_cap_sys_resource(tmp_path: Path) -> None:
    wrapper = load("runc_nosysres", KIND / "runc-nosysres")
    caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]
    config = {
        "process": {"capabilities": {k: list(caps) for k in ("bounding", "effective")}},
        "root": {"path": "rootfs"},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    wrapper.strip(str(tmp_path / "config.json"), "process")
    edited = json.loads((tmp_path / "config.json").read_text())
    for values in edited["process"]["capabilities"].values():
        assert values == ["CAP_CHOWN", "CAP_NET_ADMIN"]
    assert edited["root"] == config["root"]
    # An exec's process.json has the capabilities at the top level.
    (tmp_path / "process.json").write_text(json.dumps({"capabilities": {"bounding": caps}}))
    wrapper.strip(str(tmp_path / "process.json"), None)
    assert "CAP_SYS_RESOURCE" not in (tmp_path / "process.json").read_text()
