"""The checks engine against realistic object snapshots (shapes as the API server returns them)."""

from breakfix.checks.can_i import CanICheck
from breakfix.checks.check import Check, evaluate
from breakfix.checks.check_type import INFORMER_SETTLE_SECONDS
from breakfix.checks.snapshot import Snapshot

NS = "lab-t"
NOW = 1_800_000_000.0


def iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name: str,
    *,
    ready_since: float | None = None,
    waiting: str | None = None,
    last_exit: int | None = None,
    restarts: int = 0,
    pending: str | None = None,
) -> dict:
    conditions = []
    if pending:
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": pending,
            }
        )
    else:
        conditions.append({"type": "PodScheduled", "status": "True"})
        conditions.append(
            {
                "type": "Ready",
                "status": "True" if ready_since else "False",
                "lastTransitionTime": iso(ready_since or NOW - 100),
            }
        )
    status: dict = {"phase": "Pending" if pending else "Running", "conditions": conditions}
    if not pending:
        cs: dict = {
            "name": "app",
            "restartCount": restarts,
            "ready": bool(ready_since),
            "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}},
        }
        if last_exit is not None:
            cs["lastState"] = {"terminated": {"exitCode": last_exit, "reason": "Error"}}
        status["containerStatuses"] = [cs]
    return {"metadata": {"name": name, "namespace": NS, "labels": {"app": "web"}}, "status": status}


def deployment(
    replicas: int, available: int, updated: int | None = None, total: int | None = None
) -> dict:
    status = {
        "observedGeneration": 2,
        "availableReplicas": available,
        "updatedReplicas": replicas if updated is None else updated,
    }
    if total is not None:
        status["replicas"] = total
    return {
        "metadata": {"name": "web", "namespace": NS, "generation": 2},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}},
        "status": status,
    }


def snap(**objects: list[dict]) -> Snapshot:
    s = Snapshot(now=NOW)
    kinds = {
        "pods": ("v1", "Pod"),
        "deployments": ("apps/v1", "Deployment"),
        "services": ("v1", "Service"),
        "slices": ("discovery.k8s.io/v1", "EndpointSlice"),
    }
    from breakfix.checks.snapshot import ObjectsNeed

    for key, objs in objects.items():
        api, kind = kinds[key]
        s.objects[ObjectsNeed(api, kind, NS)] = objs
    return s


def check(body: dict) -> Check:
    return Check.model_validate({"name": "c", "description": "d", **body})


def test_workload_available_names_the_crashing_pod() -> None:
    c = check({"workloadAvailable": {"name": "web", "forSeconds": 5}})
    s = snap(
        deployments=[deployment(1, 0)],
        pods=[pod("web-abc", waiting="CrashLoopBackOff", last_exit=127, restarts=3)],
    )
    result = evaluate(c, s, NS)
    assert not result.passed
    assert result.message == (
        "Deployment web: 0/1 replicas available; pod web-abc: container app "
        "CrashLoopBackOff, last exit 127, 3 restarts"
    )


def test_workload_available_waits_for_the_hold_time_and_says_when() -> None:
    c = check({"workloadAvailable": {"name": "web", "forSeconds": 5}})
    s = snap(deployments=[deployment(1, 1)], pods=[pod("web-abc", ready_since=NOW - 2)])
    result = evaluate(c, s, NS)
    assert not result.passed and result.recheck_at == NOW + 3
    s = snap(deployments=[deployment(1, 1)], pods=[pod("web-abc", ready_since=NOW - 6)])
    assert evaluate(c, s, NS).passed


def test_a_stuck_rollout_is_not_available_although_its_old_pod_is() -> None:
    # The new pod cannot start (a digest that does not exist, a missing seccomp profile): it
    # counts as updated, the old one as available, and the rollout never ends.
    c = check({"workloadAvailable": {"name": "web"}})
    pods = [pod("web-old", ready_since=NOW - 60), pod("web-new", waiting="ErrImagePull")]
    stuck = snap(deployments=[deployment(1, 1, updated=1, total=2)], pods=pods)
    result = evaluate(c, stuck, NS)
    assert not result.passed
    assert "1 replica(s) of an older template still running" in result.message
    done = snap(deployments=[deployment(1, 1, updated=1, total=1)], pods=pods[:1])
    assert evaluate(c, done, NS).passed


def test_workload_scaled_to_zero_fails_min_replicas() -> None:
    c = check({"workloadAvailable": {"name": "web", "minReplicas": 1}})
    result = evaluate(c, snap(deployments=[deployment(0, 0)], pods=[]), NS)
    assert not result.passed and "0 replicas desired" in result.message


def test_missing_workload_is_a_failure_not_an_error() -> None:
    c = check({"workloadAvailable": {"name": "web"}})
    result = evaluate(c, snap(deployments=[], pods=[]), NS)
    assert not result.passed and result.message == "no Deployment named web in namespace lab-t"


def test_pending_pod_reason_is_reported() -> None:
    c = check({"podsReady": {"selector": {"app": "web"}}})
    s = snap(pods=[pod("web-1", pending="0/1 nodes are available: 1 Insufficient cpu.")])
    result = evaluate(c, s, NS)
    assert (
        "pod web-1 is Pending (Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.)"
        in result.message
    )


def test_resource_check_with_selector_and_match_any() -> None:
    pods = [pod("a", ready_since=NOW - 50), pod("b", waiting="ErrImagePull")]
    expect = {"(status.containerStatuses[0].state.waiting.reason)": "ErrImagePull"}
    all_ = check({"resource": {"kind": "Pod", "selector": {"app": "web"}, "expect": expect}})
    any_ = check(
        {"resource": {"kind": "Pod", "selector": {"app": "web"}, "expect": expect, "match": "any"}}
    )
    assert not evaluate(all_, snap(pods=pods), NS).passed
    assert evaluate(any_, snap(pods=pods), NS).passed


def test_absent_check() -> None:
    c = check({"absent": {"kind": "Pod", "name": "a"}})
    assert not evaluate(c, snap(pods=[pod("a")]), NS).passed
    assert evaluate(c, snap(pods=[pod("b")]), NS).passed


def test_absent_check_says_why() -> None:
    c = check({"absent": {"kind": "Pod", "name": "a", "why": "a stray pod takes traffic"}})
    assert evaluate(c, snap(pods=[pod("a")]), NS).message == (
        "Pod a should not exist (a stray pod takes traffic)"
    )


def test_can_i_uses_the_service_account_identity() -> None:
    c = check(
        {
            "canI": {
                "subject": {"kind": "ServiceAccount", "name": "sa"},
                "verb": "list",
                "resource": "pods",
            }
        }
    )
    [need] = c.needs(NS)
    assert isinstance(c.body, CanICheck) and need == c.body.access_need(NS)
    assert need.user == "system:serviceaccount:lab-t:sa" and need.namespace == NS
    s = Snapshot(now=NOW, access={need: False})
    result = evaluate(c, s, NS)
    assert not result.passed
    assert result.message == "ServiceAccount sa cannot list pods in namespace lab-t (it should)"
    s.access[need] = True
    assert evaluate(c, s, NS).passed


def test_an_access_review_is_asked_again_after_a_wake_up_never_at_rest() -> None:
    # The API server's RBAC informer may not have the Role the waking event brought yet: its
    # answer is asked again INFORMER_SETTLE_SECONDS after the wake-up, and a no also sooner
    # (settling_at: the lab's decision uses it when nothing else fails), in growing steps.
    c = check(
        {"canI": {"subject": {"kind": "ServiceAccount", "name": "sa"}, "verb": "list",
                  "resource": "pods"}}
    )  # fmt: skip
    [need] = c.needs(NS)
    woken = NOW - 0.01
    at_once = evaluate(c, Snapshot(now=NOW, woken_at=woken, access={need: False}), NS)
    assert (at_once.settling_at, at_once.recheck_at) == (woken + 0.05, woken + 2.0)
    later = Snapshot(now=NOW, woken_at=NOW - 0.5, access={need: False})
    assert evaluate(c, later, NS).settling_at == NOW - 0.5 + 0.8
    last = Snapshot(now=NOW, woken_at=NOW - 1.7, access={need: False})
    assert evaluate(c, last, NS).settling_at == NOW - 1.7 + INFORMER_SETTLE_SECONDS
    allowed = evaluate(c, Snapshot(now=NOW, woken_at=NOW - 0.5, access={need: True}), NS)
    assert (allowed.settling_at, allowed.recheck_at) == (None, NOW - 0.5 + 2.0)
    settled = Snapshot(now=NOW, woken_at=NOW - INFORMER_SETTLE_SECONDS, access={need: False})
    assert evaluate(c, settled, NS).recheck_at is None
    assert evaluate(c, settled, NS).settling_at is None
    assert evaluate(c, Snapshot(now=NOW, access={need: True}), NS).recheck_at is None
    # A check read from the watch cache has nothing to wait for.
    absent = check({"absent": {"apiVersion": "v1", "kind": "Pod", "name": "x"}})
    assert evaluate(absent, later, NS).recheck_at is None


def test_service_endpoints_explains_an_unmatched_selector() -> None:
    c = check({"serviceEndpoints": {"service": "web"}})
    svc = {"metadata": {"name": "web"}, "spec": {"selector": {"app": "wbe"}}}
    result = evaluate(c, snap(services=[svc], slices=[], pods=[pod("a", ready_since=1)]), NS)
    assert (
        result.message == "Service web: 0 ready endpoints, need 1; selector app=wbe matches no pod"
    )
    ready_slice = {
        "metadata": {
            "labels": {
                "kubernetes.io/service-name": "web",
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            }
        },
        "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}}],
    }
    assert evaluate(c, snap(services=[svc], slices=[ready_slice], pods=[]), NS).passed


def test_unreadable_kind_fails_with_the_reason() -> None:
    c = check({"resource": {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w"}})
    s = Snapshot(now=NOW)
    [need] = c.needs(NS)
    s.errors[need] = "this cluster does not serve that kind"
    result = evaluate(c, s, NS)
    assert not result.passed and "does not serve" in result.message


def test_service_endpoints_without_ports_serve_nothing() -> None:
    c = check({"serviceEndpoints": {"service": "web"}})
    svc = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
    }
    portless = {
        "metadata": {"labels": {"kubernetes.io/service-name": "web"}},
        "ports": None,
        "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}}],
    }
    assert not evaluate(c, snap(services=[svc], slices=[portless], pods=[]), NS).passed


def test_fresh_targets_are_read_through_the_api_when_a_solve_is_confirmed() -> None:
    import asyncio
    from typing import Any, cast

    from breakfix.checks.snapshot import ObjectsNeed
    from breakfix.kube.gather import gather
    from tests.unit.fake_kube import FakeKube

    c = check(
        {
            "resource": {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "name": "p",
                "fresh": True,
                "expect": {"status": {"desiredHealthy": 0}},
            }
        }
    )
    [need] = c.needs(NS)
    assert need == ObjectsNeed("policy/v1", "PodDisruptionBudget", NS, fresh=True)
    kube = FakeKube()
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget"}
    kube.put({**pdb, "metadata": {"name": "p", "namespace": NS}, "status": {"desiredHealthy": 0}})
    stale = {"metadata": {"name": "p", "namespace": NS}, "status": {"desiredHealthy": 2}}
    cache = {"cache_policy_poddisruptionbudgets": {NS: [stale]}}
    snapshot = asyncio.run(gather(cast(Any, kube), cache, [need], confirm=True))
    assert evaluate(c, snapshot, NS).passed
    # Other gradings read the cache, fresh or not: the event that changed it wakes the lab.
    snapshot = asyncio.run(gather(cast(Any, kube), cache, [need]))
    assert snapshot.objects[need] == [stale]
    cached_need = ObjectsNeed("policy/v1", "PodDisruptionBudget", NS)
    snapshot = asyncio.run(gather(cast(Any, kube), cache, [cached_need], confirm=True))
    assert snapshot.objects[cached_need] == [stale]


def test_role_bindings_of_any_namespace_are_cached() -> None:
    """A binding in `default` may grant a lab's subject rights: the cache has it."""
    from breakfix.checks.snapshot import ObjectsNeed
    from breakfix.kube.gather import cached

    binding = {"metadata": {"name": "b", "namespace": "default"}}
    pod = {"metadata": {"name": "p", "namespace": "default"}}
    cache = {
        "cache_rbac_authorization_k8s_io_rolebindings": {"default": [binding]},
        "cache_pods": {"default": [pod]},
    }
    rbac = "rbac.authorization.k8s.io/v1"
    assert cached(cache, ObjectsNeed(rbac, "RoleBinding", "default")) == [binding]
    assert cached(cache, ObjectsNeed(rbac, "RoleBinding", "")) == [binding]
    # Other kinds are cached in the labs' namespaces and kube-system only.
    assert cached(cache, ObjectsNeed("v1", "Pod", "default")) is None


def test_a_resource_check_says_why_it_failed() -> None:
    c = check(
        {
            "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "web",
                "expect": {"(quantity(spec.replicas) > `1`)": True},
                "why": "a single replica is no high availability",
            }
        }
    )
    result = evaluate(c, snap(deployments=[deployment(1, 1)]), NS)
    assert result.message == (
        "Deployment web: (quantity(spec.replicas) > `1`): expected true, got false "
        "(a single replica is no high availability)"
    )
    assert evaluate(c, snap(deployments=[]), NS).message == (
        "no Deployment named web in namespace lab-t (a single replica is no high availability)"
    )


def test_reads_in_flight_are_shared_and_never_older_than_asked() -> None:
    """A storm of confirmations shares one list per kind while it is in flight; a read sent
    before a confirmation started is not reused for it."""
    import asyncio
    import time
    from typing import Any, cast

    from breakfix.checks.snapshot import ObjectsNeed
    from breakfix.kube.gather import fresh_list

    class Lister:
        calls = 0

        async def list_objects(self, *_: Any) -> list[dict[str, Any]]:
            Lister.calls += 1
            await asyncio.sleep(0.05)
            return [{"metadata": {"name": f"read-{Lister.calls}"}}]

    need = ObjectsNeed("rbac.authorization.k8s.io/v1", "RoleBinding", "", fresh=True)

    async def storm() -> tuple[list[Any], list[Any]]:
        kube = cast(Any, Lister())
        start = time.monotonic()
        first = await asyncio.gather(*(fresh_list(kube, need, start) for _ in range(10)))
        # Asked for a read sent after now: the finished one is not reused.
        later = await asyncio.gather(fresh_list(kube, need, time.monotonic()))
        return first, later

    first, later = asyncio.run(storm())
    assert Lister.calls == 2
    assert all(r == [{"metadata": {"name": "read-1"}}] for r in first)
    assert later == [[{"metadata": {"name": "read-2"}}]]


def test_a_confirmation_reads_the_cache_when_its_fence_vouches_for_it() -> None:
    """A fenced cache holds every change made before the confirmation began: read it, not the
    API. A fence that fails (no fence object, a timeout) falls back to the API."""
    import asyncio
    from typing import Any, cast

    from breakfix.checks.snapshot import ObjectsNeed
    from breakfix.kube.gather import gather
    from breakfix.kube.informer import StoreIndex
    from tests.unit.fake_kube import FakeKube

    need = ObjectsNeed("policy/v1", "PodDisruptionBudget", NS, fresh=True)
    kube = FakeKube()
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget"}
    kube.put({**pdb, "metadata": {"name": "p", "namespace": NS}, "status": {"desiredHealthy": 0}})
    fenced = {"metadata": {"name": "p", "namespace": NS}, "status": {"desiredHealthy": 1}}
    asked: list[float] = []

    async def run(vouches: bool) -> Any:
        async def settle(not_before: float) -> bool:
            asked.append(not_before)
            return vouches

        ready = asyncio.Event()
        ready.set()
        index = StoreIndex({NS: {"p": fenced}}, ready, settle)
        cache = {"cache_policy_poddisruptionbudgets": index}
        return await gather(cast(Any, kube), cache, [need], confirm=True)

    assert asyncio.run(run(True)).objects[need] == [fenced]
    assert asyncio.run(run(False)).objects[need][0]["status"] == {"desiredHealthy": 0}
    assert len(asked) == 2
