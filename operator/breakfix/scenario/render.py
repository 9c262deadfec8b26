"""Render a scenario for one lab: seed-derived variables, then Jinja over every string.

A string that is a single ``{{ expression }}`` keeps the expression's type, so
``replicas: "{{ replicas }}"`` renders to an integer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from breakfix.checks.check import Check
from breakfix.checks.provisioned_kept import ProvisionedKeptCheck
from breakfix.scenario.models import (
    Hint,
    LearnerRule,
    NodeChanges,
    ScenarioSpec,
    Solution,
    SolutionStep,
    manifest_dicts,
)
from breakfix.scenario.template import (
    RenderError,
    derive_variables,
    namespace_for,
    other_namespace,
    render_text,
    render_tree,
)

# A namespace's name is a DNS label.
NAMESPACE_MAX = 63


@dataclass(frozen=True)
class RenderedScenario:
    """Everything one lab attempt needs, with names and values filled in."""

    context: dict[str, Any]
    task: str
    namespace_labels: dict[str, str]
    manifests: list[dict[str, Any]]
    symptoms: list[Check]
    checks: list[Check]
    hints: list[Hint]
    solution: Solution
    node_changes: NodeChanges | None = None
    # RBAC rules the learner holds cluster-wide while the lab runs (`learnerRights`).
    learner_rules: list[dict[str, Any]] = field(default_factory=list)
    # The lab's namespaces besides its own (`namespace.others`), with their labels.
    other_namespaces: dict[str, dict[str, str]] = field(default_factory=dict)


def lab_context(
    spec: ScenarioSpec,
    scenario: str,
    lab: str,
    seed: int,
    node: str | None = None,
    shell: str | None = None,
) -> dict[str, Any]:
    return {
        **derive_variables(spec.variables, scenario, seed),
        "lab": lab,
        "namespace": namespace_for(lab),
        "namespaces": {o.name: other_namespace(lab, o.name) for o in spec.namespace.others},
        "scenario": scenario,
        "seed": seed,
        "node": node or "node",
        "shell": shell or f"docker exec -it {node or 'node'} bash",
    }


def render(
    spec: ScenarioSpec,
    scenario: str,
    lab: str,
    seed: int,
    node: str | None = None,
    shell: str | None = None,
) -> RenderedScenario:
    """`node` is the node an exclusive lab changes, `shell` the command that opens a shell there
    (`lab.nodes.shell_command`)."""
    context = lab_context(spec, scenario, lab, seed, node, shell)
    for i, other in enumerate(spec.namespace.others):
        name = other_namespace(lab, other.name)
        if len(name) > NAMESPACE_MAX:
            longest = NAMESPACE_MAX - len(other_namespace("", other.name))
            raise RenderError(
                f"namespace.others[{i}]: the lab's namespace {name} would be longer than "
                f"{NAMESPACE_MAX} characters; a Lab of scenario {scenario} needs a name of at "
                f"most {longest} characters"
            )
    checks = _render_checks(spec.checks, context, "checks")
    manifests = [
        render_tree(m, context, f"manifests[{i}]") for i, m in enumerate(manifest_dicts(spec))
    ]
    if spec.invariants is not None:
        # Rendered like the checks.yaml it stands for, then given the manifests as rendered
        # here: the provisioned state this lab's objects are compared with.
        guard = render_tree(spec.invariants.check([]), context, "invariants")
        guard[ProvisionedKeptCheck.key]["provisioned"] = manifests
        guard[ProvisionedKeptCheck.key]["namespaces"] = list(context["namespaces"].values())
        checks.append(Check.model_validate(guard))
    symptoms = _render_checks(spec.symptoms, context, "symptoms")
    return RenderedScenario(
        context=context,
        task=render_text(spec.stated_task(), context, "task"),
        namespace_labels={
            k: str(v)
            for k, v in render_tree(spec.namespace.labels, context, "namespace.labels").items()
        },
        manifests=manifests,
        symptoms=symptoms,
        checks=checks,
        hints=[
            Hint(text=render_text(h.text, context, f"hints[{i}].text"), cost=h.cost)
            for i, h in enumerate(spec.hints)
        ],
        node_changes=None
        if spec.node_changes is None
        else NodeChanges.model_validate(
            render_tree(
                spec.node_changes.model_dump(by_alias=True, exclude_none=True),
                context,
                "nodeChanges",
            )
        ),
        solution=Solution.model_validate(
            render_tree(
                spec.solution.model_dump(by_alias=True, exclude_none=True), context, "solution"
            )
        ),
        other_namespaces={
            other_namespace(lab, o.name): {
                k: str(v)
                for k, v in render_tree(o.labels, context, f"namespace.others[{i}].labels").items()
            }
            for i, o in enumerate(spec.namespace.others)
        },
        learner_rules=[
            LearnerRule.model_validate(
                render_tree(r.model_dump(by_alias=True), context, f"learnerRights[{i}]")
            ).rule()
            for i, r in enumerate(spec.learner_rights)
        ],
    )


def _render_checks(
    checks: list[dict[str, Any]], context: dict[str, Any], field: str
) -> list[Check]:
    out = []
    for i, check in enumerate(checks):
        tree = render_tree(check, context, f"{field}[{i}]")
        try:
            out.append(Check.model_validate(tree))
        except ValueError as exc:
            raise RenderError(f"{field}[{i}] after rendering: {exc}") from exc
    return out


def render_steps(
    spec: ScenarioSpec,
    scenario: str,
    lab: str,
    seed: int,
    steps: list[SolutionStep],
    node: str | None = None,
    shell: str | None = None,
) -> Solution:
    """Steps of a variant, rendered like the reference solution (wrapped as a Solution)."""
    context = lab_context(spec, scenario, lab, seed, node, shell)
    raw = {
        "explanation": "variant",
        "steps": [s.model_dump(by_alias=True, exclude_none=True) for s in steps],
    }
    return Solution.model_validate(render_tree(raw, context, "variant"))
