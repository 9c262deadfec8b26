from breakfix.checks.assertion import match, validate_tree

POD = {
    "metadata": {"name": "web-1", "labels": {"app": "web"}},
    "spec": {
        "containers": [
            {"name": "app", "image": "busybox:1.36"},
            {"name": "side", "image": "busybox:1.36"},
        ]
    },
    "status": {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "PodScheduled", "status": "True"},
        ],
    },
}


def test_subset_map_ignores_unmentioned_fields() -> None:
    assert match({"status": {"phase": "Running"}}, POD) == []


def test_scalar_mismatch_names_the_path_and_both_values() -> None:
    [problem] = match({"status": {"phase": "Pending"}}, POD)
    assert str(problem) == 'status.phase: expected "Pending", got "Running"'


def test_missing_field_is_reported_as_nothing() -> None:
    [problem] = match({"spec": {"nodeName": "n1"}}, POD)
    assert str(problem) == 'spec.nodeName: expected "n1", got nothing'


def test_jmespath_key_filters_arrays() -> None:
    tree = {"(status.conditions[?type=='Ready'] | [0].status)": "True"}
    assert match(tree, POD) == []
    tree = {"(status.conditions[?type=='Ready'] | [0].status)": "False"}
    assert match(tree, POD)


def test_jmespath_comparison() -> None:
    assert match({"(length(spec.containers) > `1`)": True}, POD) == []
    assert match({"(length(spec.containers) > `2`)": True}, POD)


def test_list_matches_elements_in_any_order_and_ignores_extra() -> None:
    assert match({"spec": {"containers": [{"name": "side"}]}}, POD) == []
    assert match({"spec": {"containers": [{"name": "side"}, {"name": "app"}]}}, POD) == []
    assert match({"spec": {"containers": [{"name": "other"}]}}, POD)


def test_map_against_list_requires_every_element_and_a_non_empty_list() -> None:
    assert match({"spec": {"containers": {"image": "busybox:1.36"}}}, POD) == []
    assert match({"spec": {"containers": {"name": "app"}}}, POD)
    assert match({"items": {"a": 1}}, {"items": []})


def test_null_expects_absence() -> None:
    assert match({"spec": {"nodeName": None}}, POD) == []
    assert match({"status": {"phase": None}}, POD)


def test_types_are_not_coerced() -> None:
    assert match({"a": "1"}, {"a": 1})
    assert match({"a": 1}, {"a": True})
    assert match({"a": 1}, {"a": 1.0}) == []


def test_validate_tree_reports_bad_jmespath() -> None:
    errors = validate_tree({"status": {"(conditions[?type==)": 1}})
    assert len(errors) == 1 and "status.(conditions[?type==)" in errors[0]


def test_a_function_given_null_fails_the_assertion_instead_of_raising() -> None:
    # A Pending pod's PodScheduled condition may not carry a message yet.
    pod = {"status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}}
    tree = {"(contains(status.conditions[?type=='PodScheduled'] | [0].message, 'taint'))": True}
    [problem] = match(tree, pod)
    assert "got nothing" in str(problem)
    pod["status"]["conditions"][0]["message"] = "0/1 nodes: 1 node(s) had untolerated taint"
    assert match(tree, pod) == []


def test_quantity_compares_values_not_presence() -> None:
    from breakfix.checks.assertion import parse_quantity

    assert parse_quantity("100m") == 0.1
    assert parse_quantity("16Mi") == 16 * 2**20
    assert parse_quantity("1.5") == 1.5 and parse_quantity(2) == 2.0
    assert parse_quantity("0") == 0.0
    assert parse_quantity("ten") is None and parse_quantity(None) is None
    kept = {"(quantity(requests.cpu) >= `0.01`)": True}
    assert match(kept, {"requests": {"cpu": "50m"}}) == []
    assert match(kept, {"requests": {"cpu": "0"}})  # present, but no request at all
    assert match(kept, {"requests": {"cpu": "0m"}})
    assert match(kept, {"requests": {}})
    within = {"(quantity(limits.memory) <= quantity('64Mi'))": True}
    assert match(within, {"limits": {"memory": "32Mi"}}) == []
    assert match(within, {"limits": {"memory": "1Gi"}})


def test_an_expectation_the_api_server_would_refuse_is_rejected() -> None:
    """A Scenario is applied as YAML: keys over 1024 characters break the catalog's install."""
    import pytest
    from pydantic import ValidationError

    from breakfix.checks.resource import ResourceCheck

    long = "(" + " || ".join(f"name == 'n{i}'" for i in range(100)) + ")"
    with pytest.raises(ValidationError, match="at most 1024"):
        ResourceCheck.model_validate({"kind": "Pod", "name": "p", "expect": {long: True}})
    assert ResourceCheck.model_validate({"kind": "Pod", "name": "p", "expect": {"a": {"b": 1}}})
