"""The check registry against the catalog, the chart's RBAC and the watched kinds: every check
type declares what it reads, and the operator must be allowed to read it and have it cached."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
import yaml

from breakfix.checks.check import Check, all_needs, wake_kinds
from breakfix.checks.check_type import CheckType, Reads
from breakfix.checks.registry import BY_KEY, CHECK_TYPES
from breakfix.checks.snapshot import (
    AccessNeed,
    AdmissionNeed,
    AuditNeed,
    CredentialNeed,
    EtcdSnapshotNeed,
    EvictionNeed,
    LogsNeed,
    NodeFileNeed,
    ObjectsNeed,
    PatchAsNeed,
    PodsAdmissionNeed,
    ProbeNeed,
    RequestNeed,
)
from breakfix.kube.watched import BY_API_KIND, GET_ONLY, POLLED
from breakfix.scenario.catalog import load_catalog
from breakfix.scenario.render import render
from tests.paths import LABS, ROOT

NS = "lab-x"


@cache
def rbac_rules() -> list[dict[str, Any]]:
    text = (ROOT / "charts/breakfix/templates/rbac.yaml").read_text()
    # The ClusterRole's rules hold no template expressions; cut them out of the template.
    return list(yaml.safe_load(text[text.index("rules:") : text.index("---")])["rules"])


def granted(group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"]
        and resource in rule["resources"]
        and verb in rule["verbs"]
        and not rule.get("resourceNames")
        for rule in rbac_rules()
    )


@cache
def catalog_checks() -> list[Check]:
    out: list[Check] = []
    for lab in load_catalog(LABS):
        rendered = render(lab.spec, lab.id, "x", 5, "node-1")
        out += rendered.symptoms + rendered.checks
    return out


def test_keys_are_unique_and_every_type_is_declared() -> None:
    assert len(BY_KEY) == len(CHECK_TYPES)
    for check_type in CHECK_TYPES:
        assert check_type.key and isinstance(check_type.reads, tuple), check_type


@pytest.mark.parametrize("check_type", CHECK_TYPES, ids=lambda t: t.key)
def test_what_a_type_reads_is_granted_and_watched(check_type: type[CheckType]) -> None:
    for reads in check_type.reads:
        for verb in reads.verbs:
            assert granted(reads.group, reads.resource, verb), (
                f"{check_type.key}: charts/breakfix/templates/rbac.yaml does not grant "
                f"{verb} on {reads.resource} in group {reads.group!r}"
            )
        if reads.kind is not None:
            watched = BY_API_KIND.get((reads.api_version, reads.kind))
            assert watched is not None, f"{check_type.key}: {reads.kind} is not in kube/watched.py"
            assert watched.plural == reads.resource


def _declared(reads: tuple[Reads, ...], need: object) -> bool:
    if isinstance(need, ObjectsNeed):
        return any((r.api_version, r.kind) == (need.api_version, need.kind) for r in reads)
    if isinstance(need, AccessNeed):
        return any(r.resource == "subjectaccessreviews" for r in reads)
    if isinstance(need, LogsNeed):
        return any(r.resource == "pods/log" for r in reads)
    if isinstance(need, EvictionNeed):
        return any(r.resource == "pods/eviction" and r.verbs == ("create",) for r in reads)
    node_agent = (NodeFileNeed, CredentialNeed, ProbeNeed, AuditNeed, PatchAsNeed, EtcdSnapshotNeed)
    if isinstance(need, node_agent):
        # Read by the node agent, found through the Node's address.
        return any(r.kind == "Node" for r in reads)
    if isinstance(need, AdmissionNeed):
        # A dry-run create is authorized as a create of the object's kind, whatever it is.
        body = json.loads(need.body)
        watched = BY_API_KIND.get((body["apiVersion"], body["kind"]))
        return watched is not None and granted(watched.group, watched.plural, "create")
    if isinstance(need, PodsAdmissionNeed):
        return granted("", "pods", "create")
    if isinstance(need, RequestNeed):
        return any(r.resource == "pods" and "create" in r.verbs for r in reads) and any(
            r.resource == "pods/log" for r in reads
        )
    return False


def test_every_catalog_check_reads_only_what_its_type_declares() -> None:
    checks = catalog_checks()
    assert {c.body.key for c in checks} >= {"resource", "absent", "canI", "workloadAvailable"}
    for check in checks:
        body = check.body
        if not body.reads:
            continue
        for need in body.needs(NS):
            assert _declared(body.reads, need), f"{check.name}: {need} is not declared"


def test_kinds_named_by_resource_and_absent_checks_are_watched_and_granted() -> None:
    for need in all_needs(catalog_checks(), NS):
        if isinstance(need, ObjectsNeed) and need.names:
            # Read by name: granted get, never list or watch.
            assert (need.api_version, need.kind) in GET_ONLY, need
            plural = need.kind.lower() + "s"
            assert granted("", plural, "get") and not granted("", plural, "list")
        elif isinstance(need, ObjectsNeed) and (need.api_version, need.kind) in POLLED:
            # Served without a watch: read through the API, on a timer.
            resource = POLLED[(need.api_version, need.kind)]
            group = need.api_version.rpartition("/")[0]
            assert granted(group, resource, "get") and granted(group, resource, "list")
        elif isinstance(need, ObjectsNeed):
            watched = BY_API_KIND.get((need.api_version, need.kind))
            assert watched is not None, f"{need.kind} is read by a lab but not cached"
            for verb in ("list", "watch"):
                assert granted(watched.group, watched.plural, verb), (watched, verb)


def test_cluster_wide_reads_and_access_reviews_wake_the_lab() -> None:
    flow = Check.model_validate(
        {
            "name": "f",
            "description": "d",
            "networkFlow": {"from": {"selector": {"a": "b"}}, "to": {"selector": {}}, "port": 80},
        }
    )
    can_i = Check.model_validate(
        {
            "name": "c",
            "description": "d",
            "canI": {"subject": {"kind": "User", "name": "u"}, "verb": "get", "resource": "pods"},
        }
    )
    pods = Check.model_validate(
        {"name": "p", "description": "d", "podsReady": {"selector": {"a": "b"}}}
    )
    assert wake_kinds([pods], NS) == set()
    assert wake_kinds([flow, can_i], NS) == {
        "NetworkPolicy",
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
    }


def test_a_check_names_one_registered_type() -> None:
    with pytest.raises(ValueError, match=r"exactly one of resource, absent, .*; got none"):
        Check.model_validate({"name": "a", "description": "d"})
    with pytest.raises(ValueError, match=r"bogus\n.*Extra inputs are not permitted"):
        Check.model_validate({"name": "a", "description": "d", "bogus": {}, "logs": {}})
    with pytest.raises(ValueError, match=r"podsReady.min\n.*greater than or equal to 1"):
        Check.model_validate(
            {"name": "a", "description": "d", "podsReady": {"selector": {}, "min": 0}}
        )


def test_checks_on_the_metrics_api_are_looked_at_again_on_a_timer() -> None:
    """It serves no watch: nothing else would wake the lab when a pod's usage changes."""
    metrics = Check.model_validate(
        {
            "name": "m",
            "description": "d",
            "resource": {
                "apiVersion": "metrics.k8s.io/v1beta1",
                "kind": "PodMetrics",
                "selector": {"app": "x"},
                "expect": {"(containers[0].usage.cpu)": "1m"},
            },
        }
    )
    pod = Check.model_validate(
        {"name": "p", "description": "d", "resource": {"kind": "Pod", "name": "x"}}
    )
    assert metrics.body.recheck_every() == 15.0
    assert pod.body.recheck_every() is None
