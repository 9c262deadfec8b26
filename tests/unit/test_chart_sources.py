"""The chart carries copies of crds/ and of the catalog: they must not drift from the sources."""

from __future__ import annotations

from typing import Any

import yaml

from breakfix.scenario.catalog import load_catalog
from tests.paths import CRDS, LABS, ROOT

CHART = ROOT / "charts/breakfix"


def test_chart_crds_are_the_crds() -> None:
    for crd in sorted(CRDS.glob("*.yaml")):
        copy = CHART / "crds" / crd.name
        assert copy.read_text() == crd.read_text(), f"{copy} is stale: run `make chart-scenarios`"
    assert {p.name for p in (CHART / "crds").glob("*.yaml")} == {
        p.name for p in CRDS.glob("*.yaml")
    }


def test_chart_scenarios_are_the_catalog() -> None:
    shipped = list(yaml.safe_load_all((CHART / "files/scenarios.yaml").read_text()))
    expected = [lab.to_scenario() for lab in load_catalog(LABS)]
    assert shipped == expected, (
        "charts/breakfix/files/scenarios.yaml is stale: run `make chart-scenarios`"
    )


def _rules() -> list[dict[str, Any]]:
    text = (CHART / "templates/rbac.yaml").read_text()
    # The ClusterRole's rules hold no template expressions; cut them out of the template.
    body = text[text.index("rules:") : text.index("---")]
    return list(yaml.safe_load(body)["rules"])


def test_operator_rbac_has_no_wildcards() -> None:
    for rule in _rules():
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule


def test_escalate_is_granted_on_namespaced_roles_only() -> None:
    escalating = [r for r in _rules() if "escalate" in r["verbs"]]
    assert [r["resources"] for r in escalating] == [["roles"]]
    binding = [r for r in _rules() if "bind" in r["verbs"] and "clusterroles" in r["resources"]]
    assert [r.get("resourceNames") for r in binding] == [["admin"]]


def _held(rules: list[dict[str, Any]], group: str, resource: str, verb: str, name: str) -> bool:
    return any(
        group in r["apiGroups"]
        and resource in r["resources"]
        and verb in r["verbs"]
        and (not r.get("resourceNames") or name in r["resourceNames"])
        for r in rules
    )


def test_the_operator_holds_every_right_a_lab_gives_its_learner() -> None:
    """It creates each learner's ClusterRole without `escalate`: the API server refuses a rule
    the operator does not hold itself, and the lab would never turn Ready."""
    from breakfix.scenario.render import render

    operator = _rules()
    given = 0
    for lab in load_catalog(LABS):
        for seed in range(4):
            rendered = render(lab.spec, lab.id, "t", seed, node="kind-worker")
            for rule in rendered.learner_rules:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            for name in rule.get("resourceNames") or [""]:
                                given += 1
                                assert _held(operator, group, resource, verb, name), (
                                    f"{lab.id}: the operator lacks {verb} {resource}"
                                )
    assert given > 10
