"""The watch cache as checks see it: one object per name, the newest, when Kopf's index kept an
object whose deletion it never saw (a watch broken while the API server restarted)."""

from __future__ import annotations

from typing import Any

from breakfix.checks.snapshot import ObjectsNeed
from breakfix.kube.gather import cached, newest_per_name


def pod(name: str, created: str, version: str, flag: str, ns: str = "kube-system") -> Any:
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "creationTimestamp": created,
            "resourceVersion": version,
        },
        "spec": {"containers": [{"name": "kube-apiserver", "command": [flag]}]},
    }


def test_a_mirror_pod_made_again_replaces_its_ghost() -> None:
    ghost = pod("kube-apiserver-cp", "2026-12-04T01:10:00Z", "900", "--old")
    mirror = pod("kube-apiserver-cp", "2026-12-04T01:17:01Z", "1200", "--new")
    other = pod("etcd-cp", "2026-12-04T00:00:00Z", "5", "--etcd")
    for order in ([ghost, mirror, other], [mirror, ghost, other]):
        kept = newest_per_name(order)
        assert len(kept) == 2 and mirror in kept and other in kept


def test_same_second_goes_by_resource_version_and_namespaces_stay_apart() -> None:
    first = pod("web", "2026-12-04T01:17:01Z", "99", "--a", ns="lab-a")
    again = pod("web", "2026-12-04T01:17:01Z", "100", "--b", ns="lab-a")
    elsewhere = pod("web", "2026-12-04T01:00:00Z", "7", "--c", ns="lab-b")
    kept = newest_per_name([again, first, elsewhere])
    assert sorted(p["spec"]["containers"][0]["command"][0] for p in kept) == ["--b", "--c"]


def test_cached_reads_go_through_it() -> None:
    ghost = pod("kube-apiserver-cp", "2026-12-04T01:10:00Z", "900", "--old")
    mirror = pod("kube-apiserver-cp", "2026-12-04T01:17:01Z", "1200", "--new")
    indexes = {"cache_pods": {"kube-system": [ghost, mirror]}}
    seen = cached(indexes, ObjectsNeed("v1", "Pod", "kube-system"))
    assert seen == [mirror]
