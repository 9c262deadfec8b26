"""`staticPod` and `nodeFile` verdicts on hand-built snapshots (pure)."""

from __future__ import annotations

from typing import Any

import yaml

from breakfix.checks.node_file import NodeFileCheck
from breakfix.checks.snapshot import ObjectsNeed, Snapshot
from breakfix.checks.static_pod import StaticPodCheck, parse_flags

NOW = 1_000_000.0


def mirror(command: list[str], ready_since: float | None, mirror: bool = True) -> dict[str, Any]:
    annotations = {"kubernetes.io/config.mirror": "abc"} if mirror else {}
    conditions = (
        [{"type": "Ready", "status": "True", "lastTransitionTime": iso(ready_since)}]
        if ready_since is not None
        else [{"type": "Ready", "status": "False", "lastTransitionTime": iso(NOW - 100)}]
    )
    return {
        "metadata": {
            "name": "kube-scheduler-cp",
            "namespace": "kube-system",
            "annotations": annotations,
        },
        "spec": {"containers": [{"name": "kube-scheduler", "command": command}]},
        "status": {"phase": "Running", "conditions": conditions},
    }


def iso(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


MANIFEST = "/etc/kubernetes/manifests/kube-scheduler.yaml"


def snapshot(*pods: dict[str, Any], on_disk: list[str] | None = None) -> Snapshot:
    """`on_disk`: the manifest's command; by default the first pod's."""
    command = (
        on_disk
        if on_disk is not None
        else (pods[0]["spec"]["containers"][0]["command"] if pods else ["kube-scheduler"])
    )
    manifest = yaml.safe_dump(
        {"kind": "Pod", "spec": {"containers": [{"name": "kube-scheduler", "command": command}]}}
    )
    return Snapshot(
        now=NOW,
        objects={ObjectsNeed("v1", "Pod", "kube-system"): list(pods)},
        files={("cp", MANIFEST): manifest},
    )


CHECK = StaticPodCheck.model_validate(
    {
        "component": "kube-scheduler",
        "node": "cp",
        "flags": {"kubeconfig": "/etc/kubernetes/scheduler.conf"},
        "forSeconds": 10,
    }
)


def test_flags_as_the_component_parses_them() -> None:
    assert parse_flags(
        ["kube-scheduler", "--kubeconfig", "/a", "--v=2", "--leader-elect", "--x=1", "--x=2"]
    ) == {"kubeconfig": "/a", "v": "2", "leader-elect": "true", "x": "2"}


def test_running_with_the_flag_in_either_form_passes() -> None:
    for command in (
        ["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf"],
        ["kube-scheduler", "--kubeconfig", "/etc/kubernetes/scheduler.conf"],
    ):
        assert CHECK.verdict(snapshot(mirror(command, NOW - 60)), "lab-x").passed


def test_a_working_scheduler_with_another_kubeconfig_fails_and_says_so() -> None:
    verdict = CHECK.verdict(
        snapshot(mirror(["kube-scheduler", "--kubeconfig=/etc/kubernetes/admin.conf"], NOW - 60)),
        "lab-x",
    )
    assert not verdict.passed
    assert "--kubeconfig=/etc/kubernetes/admin.conf (want /etc/kubernetes/scheduler.conf)" in (
        verdict.message
    )


def test_a_pod_made_by_hand_does_not_count() -> None:
    pod = mirror(["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf"], NOW - 60, False)
    verdict = CHECK.verdict(snapshot(pod), "lab-x")
    assert not verdict.passed and "not made by the kubelet" in verdict.message


def test_ready_for_less_than_for_seconds_waits_and_says_when() -> None:
    pod = mirror(["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf"], NOW - 3)
    verdict = CHECK.verdict(snapshot(pod), "lab-x")
    assert not verdict.passed and verdict.recheck_at == NOW - 3 + 10


def test_a_mirror_pod_older_than_the_manifest_does_not_count() -> None:
    # After an outage of the API server the mirror pod still shows the manifest from before.
    pod = mirror(["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf"], NOW - 600)
    verdict = CHECK.verdict(
        snapshot(pod, on_disk=["kube-scheduler", "--kubeconfig=/etc/kubernetes/admin.conf"]),
        "lab-x",
    )
    assert not verdict.passed and "does not show" in verdict.message


def test_no_mirror_pod_fails() -> None:
    assert not CHECK.verdict(snapshot(), "lab-x").passed


def test_node_file_contains_and_excludes() -> None:
    check = NodeFileCheck.model_validate(
        {
            "node": "w1",
            "path": "/var/lib/kubelet/config.yaml",
            "contains": ["clientCAFile: /etc/kubernetes/pki/ca.crt"],
            "excludes": ["ca.pem"],
        }
    )
    good = Snapshot(
        now=NOW,
        files={
            ("w1", "/var/lib/kubelet/config.yaml"): "clientCAFile: /etc/kubernetes/pki/ca.crt\n"
        },
    )
    wrong = Snapshot(
        now=NOW,
        files={
            ("w1", "/var/lib/kubelet/config.yaml"): "clientCAFile: /etc/kubernetes/pki/ca.pem\n"
        },
    )
    gone = Snapshot(now=NOW, files={("w1", "/var/lib/kubelet/config.yaml"): None})
    assert check.verdict(good, "lab-x").passed
    verdict = check.verdict(wrong, "lab-x")
    assert not verdict.passed and "still has 'ca.pem'" in verdict.message
    assert not check.verdict(gone, "lab-x").passed
    assert check.wakes_on("lab-x") == {"Node"}
