import pytest
from pydantic import ValidationError

from breakfix.scenario.catalog import load_lab
from breakfix.scenario.models import Variable, parsed_scenario
from breakfix.scenario.render import render
from breakfix.scenario.template import RenderError, derive_variables, render_tree
from tests.paths import LABS


def test_same_seed_same_values_and_different_seeds_vary() -> None:
    variables = [
        Variable.model_validate({"name": "app", "choices": ["a", "b", "c", "d"]}),
        Variable.model_validate({"name": "n", "range": {"min": 1, "max": 1000}}),
        Variable.model_validate({"name": "s", "suffix": 6}),
    ]
    first = derive_variables(variables, "x", 7)
    assert first == derive_variables(variables, "x", 7)
    seen = {tuple(derive_variables(variables, "x", seed).values()) for seed in range(20)}
    assert len(seen) > 10
    assert first["s"][0].isalpha() and len(first["s"]) == 6


def test_single_expression_keeps_its_type() -> None:
    out = render_tree({"replicas": "{{ n }}", "name": "web-{{ n }}"}, {"n": 3}, "m")
    assert out == {"replicas": 3, "name": "web-3"}


def test_a_block_scalar_keeps_its_last_newline() -> None:
    # "add this line" replacements and onNode scripts end in a newline that is part of them.
    out = render_tree({"new": "a: 1\n  b: {{ n }}\n", "port": "{{ n }}"}, {"n": 3}, "m")
    assert out == {"new": "a: 1\n  b: 3\n", "port": 3}


def test_undefined_variable_names_the_field() -> None:
    with pytest.raises(RenderError, match=r"m\.metadata\.name: 'nope' is undefined"):
        render_tree({"metadata": {"name": "{{ nope }}"}}, {}, "m")


def test_render_lab_fills_namespace_and_checks() -> None:
    lab = load_lab(LABS / "pending-insufficient-cpu")
    rendered = render(lab.spec, lab.id, "alice", seed=3)
    assert rendered.context["namespace"] == "lab-alice"
    deployment = rendered.manifests[0]
    app = rendered.context["app"]
    assert deployment["metadata"]["name"] == app
    cpu = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    assert isinstance(cpu, int) and 48 <= cpu <= 128
    assert f"`{app}`" in rendered.task
    body = rendered.checks[0].body
    assert getattr(body, "name", None) == app


def test_string_filter_keeps_a_number_a_string() -> None:
    out = render_tree(
        {"args": ["-p", "{{ port | string }}"], "port": "{{ port }}"}, {"port": 8080}, "m"
    )
    assert out == {"args": ["-p", "8080"], "port": 8080}


def test_learner_rights_name_this_labs_node_and_go_into_the_learners_role() -> None:
    from breakfix.kube.provision import learner_cluster_access
    from breakfix.lab.models import Learner

    spec = load_lab(LABS / "node-drain-blocked").spec
    rendered = render(spec, "node-drain-blocked", "ann", 3, node="kind-worker2")
    assert {"apiGroups": [""], "resources": ["nodes"], "resourceNames": ["kind-worker2"],
            "verbs": ["patch"]} in rendered.learner_rules  # fmt: skip
    lab = {"metadata": {"name": "ann", "uid": "u-1"}, "apiVersion": "breakfix.dev/v1alpha1",
           "kind": "Lab", "spec": {"scenario": "node-drain-blocked"}}  # fmt: skip
    role, binding = learner_cluster_access(Learner(kind="User", name="ann"), lab,
                                           rendered.learner_rules)  # fmt: skip
    assert role["rules"][2:] == rendered.learner_rules
    assert [(s["kind"], s["name"]) for s in binding["subjects"]] == [("User", "ann")]
    # A lab that needs nothing more gives nothing more: its own Lab and the Nodes, read.
    plain = render(load_lab(LABS / "crashloop-bad-command").spec, "crashloop-bad-command", "b", 1)
    assert plain.learner_rules == []


@pytest.mark.parametrize(
    "rule, field",
    [
        ({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, "resources"),
        (
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["clusterroles"],
                "verbs": ["escalate"],
            },
            "verbs",
        ),
        ({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}, "verbs"),
        ({"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}, "why"),
    ],
)
def test_learner_rights_never_hold_a_wildcard_or_a_way_to_more_rights(
    rule: dict[str, object], field: str
) -> None:
    from pydantic import ValidationError

    from breakfix.scenario.models import LearnerRule

    body = {"why": "a reason long enough", **rule} if field != "why" else rule
    with pytest.raises(ValidationError) as refused:
        LearnerRule.model_validate(body)
    assert field in str(refused.value)


def test_a_compiled_template_renders_each_context_anew() -> None:
    # Templates are compiled once per text: the same text with another context is another result.
    tree = {"name": "web-{{ n }}", "replicas": "{{ n }}"}
    assert render_tree(tree, {"n": 1}, "m") == {"name": "web-1", "replicas": 1}
    assert render_tree(tree, {"n": 2}, "m") == {"name": "web-2", "replicas": 2}
    with pytest.raises(RenderError, match="'n' is undefined"):
        render_tree(tree, {}, "m")


def test_a_scenario_is_parsed_once_per_object_and_again_when_it_changes() -> None:
    raw = load_lab(LABS / "rbac-missing-permission").spec.model_dump(by_alias=True)
    first = parsed_scenario(raw)
    assert parsed_scenario(raw) is first
    changed = {**raw, "title": "Another title"}
    assert parsed_scenario(changed).title == "Another title"
    assert parsed_scenario(raw) is first
    with pytest.raises(ValidationError):
        parsed_scenario({**raw, "difficulty": "impossible"})
