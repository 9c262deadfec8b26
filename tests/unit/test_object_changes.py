"""A lab's change to an add-on object, and the patch that takes it back."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from breakfix.lab.object_changes import (
    edited,
    leaves,
    merged,
    originals,
    revert_patch,
    skeleton,
)
from breakfix.scenario.models import ObjectChange


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies a merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


COREFILE = (
    ".:53 {\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n"
    "    forward . /etc/resolv.conf\n}\n"
)


def test_the_corefile_and_a_restart_annotation_are_put_back() -> None:
    before = {
        "data": {"Corefile": COREFILE},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}}},
    }
    patch = {
        "data": {"Corefile": COREFILE.replace("cluster.local", "cluster.lcoal")},
        "spec": {"template": {"metadata": {"annotations": {"breakfix.dev/lab": "x"}}}},
    }
    revert = revert_patch(originals(before, patch))
    assert revert == {
        "data": {"Corefile": COREFILE},
        "spec": {"template": {"metadata": {"annotations": {"breakfix.dev/lab": None}}}},
    }
    changed = merge(before, patch)
    # The learner's own edits elsewhere (a rollout restart) stay; ours are gone.
    changed["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = (
        "t"
    )
    back = merge(changed, revert)
    assert back["data"] == before["data"]
    assert back["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "t"
    }


keys = st.sampled_from(["a", "b", "c", "data", "spec"])
values = st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3))
trees = st.recursive(
    values, lambda children: st.dictionaries(keys, children, max_size=3), max_leaves=8
)
objects = st.dictionaries(keys, trees, max_size=4)
patches = st.dictionaries(keys, trees, min_size=1, max_size=3)


@given(objects, patches)
def test_revert_restores_every_path_the_patch_set(
    before: dict[str, Any], patch: dict[str, Any]
) -> None:
    changed = merge(copy.deepcopy(before), patch)
    back = merge(changed, revert_patch(originals(before, patch)))
    for path in leaves(patch):
        assert _at(back, path) == _at(before, path)


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def test_only_the_add_on_objects_may_be_changed() -> None:
    ObjectChange.model_validate(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "namespace": "kube-system",
            "name": "coredns",
            "patch": {"data": {"Corefile": "x"}},
        }
    )
    with pytest.raises(ValidationError, match="kube-proxy: a lab may change"):
        ObjectChange.model_validate(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "namespace": "kube-system",
                "name": "kube-proxy",
                "patch": {"data": {"x": "y"}},
            }
        )


def test_an_edit_replaces_text_in_place_or_names_what_is_missing() -> None:
    config = {"data": {"Corefile": COREFILE}}
    patch = edited(config, {"data.Corefile": [("kubernetes cluster.local", "kubernetes x.y")]})
    assert patch == {"data": {"Corefile": COREFILE.replace("cluster.local", "x.y")}}
    both = merged({"data": {"other": "1"}}, patch)
    assert set(both["data"]) == {"other", "Corefile"}
    with pytest.raises(ValueError, match="'nowhere' does not occur"):
        edited(config, {"data.Corefile": [("nowhere", "x")]})
    with pytest.raises(ValueError, match=r"data\.missing: no text"):
        edited(config, {"data.missing": [("a", "b")]})


def test_a_kept_path_is_put_back_as_a_changed_one() -> None:
    before = {"spec": {"replicas": 2, "template": {"metadata": {}}}}
    patch = {"spec": {"template": {"metadata": {"annotations": {"a": "1"}}}}}
    recorded = originals(before, merged(skeleton(["spec.replicas"]), patch))
    assert {"path": ["spec", "replicas"], "value": 2} in recorded
    scaled = merge(merge(before, patch), {"spec": {"replicas": 1}})
    assert merge(scaled, revert_patch(recorded)) == {
        "spec": {"replicas": 2, "template": {"metadata": {"annotations": {}}}}
    }
