"""evictionAllowed: the Eviction API's own dry-run answer, not the budgets' objects."""

from breakfix.checks.check import Check, evaluate
from breakfix.checks.snapshot import EvictionAnswer, EvictionNeed, ObjectsNeed, Snapshot

NS = "lab-t"


def ev_check() -> Check:
    return Check.model_validate(
        {"name": "e", "description": "d", "evictionAllowed": {"selector": {"app": "ledger"}}}
    )


def pod(name: str, app: str = "ledger") -> dict:
    return {"metadata": {"name": name, "namespace": NS, "labels": {"app": app}}}


def pdb(name: str, **spec: object) -> dict:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": "ledger"}}, **spec},
        "status": {"disruptionsAllowed": 1, "expectedPods": 2},
    }


def snapshot(answers: dict[str, EvictionAnswer], pdbs: list[dict]) -> Snapshot:
    snap = Snapshot(now=0.0)
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = [pod("ledger-a"), pod("ledger-b"), pod("x", "x")]
    snap.objects[ObjectsNeed("policy/v1", "PodDisruptionBudget", NS)] = pdbs
    snap.evictions = {(NS, k): v for k, v in answers.items()}
    return snap


def test_needs_a_dry_run_eviction_of_the_selected_pods() -> None:
    assert ev_check().needs(NS) == [
        ObjectsNeed("v1", "Pod", NS),
        ObjectsNeed("policy/v1", "PodDisruptionBudget", NS),
        EvictionNeed(NS, (("app", "ledger"),)),
    ]


def test_every_pod_evictable_passes() -> None:
    ok = EvictionAnswer(True)
    result = evaluate(ev_check(), snapshot({"ledger-a": ok, "ledger-b": ok}, [pdb("p")]), NS)
    assert result.passed
    assert result.message == "pods app=ledger: the Eviction API (dry run) would evict each of 2"


def test_an_extra_permissive_budget_does_not_help() -> None:
    # Judged from the objects, the second budget allows a disruption; the API refuses.
    refused = EvictionAnswer(
        False,
        "500 This pod has more than one PodDisruptionBudget, which the eviction subresource "
        "does not support.",
    )
    snap = snapshot(
        {"ledger-a": refused, "ledger-b": refused},
        [pdb("strict", minAvailable=2), pdb("loose", maxUnavailable="100%")],
    )
    result = evaluate(ev_check(), snap, NS)
    assert not result.passed
    assert result.message.startswith(
        "pods app=ledger: the Eviction API (dry run) refuses 2/2: ledger-a: 500 This pod has "
        "more than one PodDisruptionBudget"
    )
    assert result.message.endswith(
        "(a second budget does not relax the first: the API refuses both)"
    )


def test_a_budget_refusal_names_the_api_words() -> None:
    refused = EvictionAnswer(
        False, "429 Cannot evict pod as it would violate the pod's disruption budget."
    )
    snap = snapshot({"ledger-a": EvictionAnswer(True), "ledger-b": refused}, [pdb("p")])
    result = evaluate(ev_check(), snap, NS)
    assert result.message == (
        "pods app=ledger: the Eviction API (dry run) refuses 1/2: ledger-b: 429 Cannot evict pod "
        "as it would violate the pod's disruption budget."
    )


def test_no_pods_or_no_answer_fails() -> None:
    snap = snapshot({}, [])
    assert "no answer from the Eviction API" in evaluate(ev_check(), snap, NS).message
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = []
    assert evaluate(ev_check(), snap, NS).message == "pods app=ledger: 0 found, need 1"


def test_gather_asks_the_eviction_api_for_each_live_selected_pod() -> None:
    import asyncio
    from typing import Any, cast

    from breakfix.kube.gather import gather
    from tests.unit.fake_kube import FakeKube

    kube = FakeKube(refuse_eviction={"ledger-b": "429 Cannot evict pod"})
    for p in (pod("ledger-a"), pod("ledger-b"), pod("other", "x")):
        kube.put({"apiVersion": "v1", "kind": "Pod", **p})
    gone = pod("ledger-c")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    kube.put({"apiVersion": "v1", "kind": "Pod", **gone})
    snap = asyncio.run(gather(cast(Any, kube), {}, ev_check().needs(NS)))
    assert [c for c in kube.calls if c[0] == "evict_dry_run"] == [
        ("evict_dry_run", NS, "ledger-a"),
        ("evict_dry_run", NS, "ledger-b"),
    ]
    result = evaluate(ev_check(), snap, NS)
    assert result.message == (
        "pods app=ledger: the Eviction API (dry run) refuses 1/2: ledger-b: 429 Cannot evict pod"
    )
