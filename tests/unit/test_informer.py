"""The informer's store: events applied in order, a relist's differences, fence objects kept out."""

from __future__ import annotations

import asyncio
from typing import Any

from breakfix.checks.rbac_rights import binding_keys
from breakfix.checks.snapshot import ObjectsNeed
from breakfix.kube.gather import cached
from breakfix.kube.informer import KeyIndex, StoreIndex, apply_event, changed_between, is_fence


def role(name: str, version: str, ns: str = "lab-a", **labels: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": ns, "resourceVersion": version, "labels": labels}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta}


def test_events_replace_and_delete_by_namespace_and_name() -> None:
    store: dict[str, dict[str, Any]] = {}
    apply_event(store, "ADDED", role("reader", "1"))
    apply_event(store, "ADDED", role("reader", "2", ns="lab-b"))
    apply_event(store, "MODIFIED", role("reader", "3"))
    assert store["lab-a"]["reader"]["metadata"]["resourceVersion"] == "3"
    apply_event(store, "DELETED", role("reader", "4"))
    assert list(store) == ["lab-b"]
    apply_event(store, "DELETED", role("never-seen", "5", ns="lab-c"))
    assert list(store) == ["lab-b"]


def test_a_relist_reports_what_changed_appeared_or_went() -> None:
    old = {"lab-a": {"kept": role("kept", "1"), "edited": role("edited", "2"),
                     "gone": role("gone", "3")}}  # fmt: skip
    new = {"lab-a": {"kept": role("kept", "1"), "edited": role("edited", "9")},
           "lab-b": {"new": role("new", "10", ns="lab-b")}}  # fmt: skip
    changed = changed_between(old, new)
    names = sorted((c["metadata"]["name"], c["metadata"]["resourceVersion"]) for c in changed)
    assert names == [("edited", "9"), ("gone", "3"), ("new", "10")]
    assert changed_between(new, new) == []


def test_fence_objects_are_known_by_their_label() -> None:
    assert is_fence(role("breakfix-fence", "1", **{"breakfix.dev/fence": "true"}))
    assert not is_fence(role("reader", "1", app="fence"))
    assert not is_fence({"metadata": {}})


async def test_checks_read_the_store_only_once_it_has_listed() -> None:
    store: dict[str, dict[str, Any]] = {}
    ready = asyncio.Event()

    async def settle(not_before: float) -> bool:
        return True

    index = StoreIndex(store, ready, settle)
    need = ObjectsNeed("rbac.authorization.k8s.io/v1", "Role", "lab-a")
    indexes = {"cache_rbac_authorization_k8s_io_roles": index}
    assert cached(indexes, need) is None
    ready.set()
    assert cached(indexes, need) == []
    apply_event(store, "ADDED", role("reader", "1"))
    apply_event(store, "ADDED", role("other", "2", ns="lab-b"))
    assert [r["metadata"]["name"] for r in cached(indexes, need) or []] == ["reader"]
    everywhere = ObjectsNeed("rbac.authorization.k8s.io/v1", "Role", "")
    assert sorted(r["metadata"]["name"] for r in cached(indexes, everywhere) or []) == [
        "other",
        "reader",
    ]


async def test_a_small_kind_is_listed_rather_than_fenced() -> None:
    """A fence is a write to etcd; below `fence_after` objects a list costs less, so settle
    says no without writing anything (kube is never touched here)."""
    from typing import cast

    from breakfix.kube.client import Kube
    from breakfix.kube.informer import Fence, Informer
    from breakfix.kube.watched import BY_API_KIND

    informer = Informer(
        cast(Kube, None),
        BY_API_KIND[("rbac.authorization.k8s.io/v1", "Role")],
        lambda obj: None,
        lambda obj: True,
        lambda obj: obj,
        Fence("breakfix-fence", "breakfix-system"),
        fence_after=3,
    )
    informer.synced.set()
    for i in range(2):
        apply_event(informer.store, "ADDED", role(f"r{i}", str(i)))
    assert not await informer.settle(0.0)
    assert informer._round is None


def test_bindings_are_kept_by_subject_through_changes_and_deletions() -> None:
    def rb(name: str, *users: str) -> dict[str, Any]:
        subjects = [{"kind": "User", "name": u} for u in users]
        return {"metadata": {"name": name, "namespace": "lab-a"}, "subjects": subjects}

    index = KeyIndex(binding_keys)
    index.rebuild({"lab-a": {"one": rb("one", "ann"), "two": rb("two", "ann", "bob")}})
    names = lambda *keys: sorted(o["metadata"]["name"] for o in index.get(keys))  # noqa: E731
    assert names("user:ann") == ["one", "two"] and names("user:bob") == ["two"]
    index.replace(rb("two", "ann", "bob"), rb("two", "cy"))  # bob taken off, cy put on
    assert names("user:bob") == [] and names("user:cy") == ["two"]
    assert names("user:ann", "user:cy") == ["one", "two"]
    index.replace(rb("one", "ann"), None)  # deleted
    assert names("user:ann") == []
