"""The informer on the kind cluster: after a fence, every change made before it is in the store.

This is what lets a grading that would solve a lab read RBAC from the cache instead of listing
the cluster: a learner's binding made a moment before must never be missing from it.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from typing import Any

from breakfix.kube.client import Kube
from breakfix.kube.informer import FENCE_ANNOTATION, FENCE_LABEL, Fence, Informer
from breakfix.kube.watched import BY_API_KIND, WatchedKind

RBAC = "rbac.authorization.k8s.io/v1"
TEST_LABEL = "breakfix.dev/informer-test"


def cluster_role(name: str, run: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": RBAC,
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {TEST_LABEL: run, **labels}},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }


def test_a_fence_vouches_for_every_change_made_before_it(cluster: str) -> None:
    run = secrets.token_hex(3)
    fence = f"informer-test-fence-{run}"
    timings: list[float] = []

    async def scenario() -> None:
        kube = await Kube.connect()
        changed: list[str] = []
        informer = Informer(
            kube,
            BY_API_KIND[(RBAC, "ClusterRole")],
            lambda obj: changed.append(obj["metadata"]["name"]),
            lambda obj: (obj["metadata"].get("labels") or {}).get(TEST_LABEL) == run,
            lambda obj: obj,
            Fence(fence, None),
            fence_after=0,
        )
        task = asyncio.create_task(informer.run())
        try:
            await kube.create(cluster_role(fence, run, **{FENCE_LABEL: "true"}))
            await asyncio.wait_for(informer.synced.wait(), 30)

            def names() -> set[str]:
                return set(informer.store.get("", {}))

            for round_ in range(5):
                made = [f"informer-test-{run}-{round_}-{i}" for i in range(12)]
                await asyncio.gather(*(kube.create(cluster_role(n, run)) for n in made))
                before = time.monotonic()
                assert await informer.settle(before), "the fence did not come back"
                timings.append(time.monotonic() - before)
                assert set(made) <= names(), f"missing after the fence: {set(made) - names()}"
                await asyncio.gather(*(kube.delete(RBAC, "ClusterRole", n) for n in made))
                assert await informer.settle(time.monotonic())
                assert not set(made) & names(), "deleted roles still cached after the fence"
            assert set(changed) >= {f"informer-test-{run}-0-0", f"informer-test-{run}-4-11"}
            assert fence not in names(), "the fence object itself is not a cached role"

            # A mark this informer did not write proves nothing to it.
            await kube.patch(
                RBAC, "ClusterRole", fence,
                {"metadata": {"annotations": {FENCE_ANNOTATION: "0badc0de-999999"}}}, "merge",
            )  # fmt: skip
            seen = informer._seen
            await asyncio.sleep(0.5)
            assert informer._seen == seen

            # Gradings waiting at the same moment share one round: one write, not one each.
            marks_before = informer._seen
            now = time.monotonic()
            assert all(await asyncio.gather(*(informer.settle(now) for _ in range(20))))
            assert informer._seen == marks_before + 1

            # Without its object the fence says no, and the caller reads through the API.
            await kube.delete(RBAC, "ClusterRole", fence)
            assert not await informer.settle(time.monotonic())
        finally:
            task.cancel()
            for role in await kube.list_objects(
                RBAC, "ClusterRole", label_selector=f"{TEST_LABEL}={run}"
            ):
                await kube.delete(RBAC, "ClusterRole", role["metadata"]["name"])
            await kube.close()

    asyncio.run(scenario())
    print(
        f"fence round trip over {len(timings)} rounds: median "
        f"{1000 * statistics.median(timings):.1f} ms, max {1000 * max(timings):.1f} ms"
    )


def test_a_kind_the_cluster_does_not_serve_is_answered_at_once_and_never_cached(
    cluster: str,
) -> None:
    """A CRD not installed (the Gateway API on a bare cluster) must not hold the operator's
    startup for its minute, nor give checks an empty cache that says "none": they ask the API."""

    async def scenario() -> None:
        kube = await Kube.connect()
        widgets = WatchedKind("widgets.breakfix.example.com", "v1", "widgets", "Widget")
        informer = Informer(kube, widgets, lambda obj: None, lambda obj: True, lambda obj: obj)
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.answered.wait(), 30)
            assert not informer.index.ready and not informer.synced.is_set()
            assert not await informer._served()
            # A served kind is found by the same small request.
            pods = Informer(kube, BY_API_KIND[("v1", "Pod")], print, bool, dict)
            assert await pods._served()
        finally:
            task.cancel()
            await kube.close()

    asyncio.run(scenario())
