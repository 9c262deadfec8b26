"""A lab's namespace enforces the baseline Pod Security Standard unless the lab sets its own."""

from __future__ import annotations

from breakfix.kube.provision import namespace_object

LAB = {"metadata": {"name": "a", "uid": "u"}, "spec": {"scenario": "s"}}


def labels(scenario_labels: dict[str, str]) -> dict[str, str]:
    return dict(namespace_object(LAB, "lab-a", scenario_labels)["metadata"]["labels"])


def test_baseline_is_enforced_by_default() -> None:
    got = labels({"team": "x"})
    assert got["pod-security.kubernetes.io/enforce"] == "baseline" and got["team"] == "x"


def test_a_lab_about_pod_security_keeps_exactly_its_own_levels() -> None:
    # The privileged-container lab must be able to run its privileged pod: it only warns.
    got = labels({"pod-security.kubernetes.io/warn": "baseline"})
    assert "pod-security.kubernetes.io/enforce" not in got
    got = labels({"pod-security.kubernetes.io/enforce": "restricted"})
    assert got["pod-security.kubernetes.io/enforce"] == "restricted"
