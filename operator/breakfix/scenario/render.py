"""Render a scenario for one lab: seed-derived variables, then Jinja over every string.

A string that is a single ``{{ expression }}`` keeps the expression's type, so
``replicas: "{{ replicas }}"`` renders to an integer.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.nativetypes
from jinja2.sandbox import SandboxedEnvironment

from breakfix.checks.models import Check
from breakfix.scenario.models import (
    Hint,
    ScenarioSpec,
    Solution,
    SolutionStep,
    Variable,
    manifest_dicts,
)


class RenderError(ValueError):
    """The scenario does not render; the message names the field."""


class _NativeSandbox(SandboxedEnvironment):
    concat = staticmethod(jinja2.nativetypes.native_concat)  # type: ignore[assignment]
    code_generator_class = jinja2.nativetypes.NativeCodeGenerator
    template_class = jinja2.nativetypes.NativeTemplate


_TEXT = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
_NATIVE = _NativeSandbox(undefined=jinja2.StrictUndefined)


def derive_variables(variables: list[Variable], scenario: str, seed: int) -> dict[str, Any]:
    """The same scenario and seed always give the same values, on any machine."""
    rng = random.Random(f"{scenario}/{seed}")
    values: dict[str, Any] = {}
    for var in variables:
        if var.choices is not None:
            values[var.name] = rng.choice(var.choices)
        elif var.range is not None:
            values[var.name] = rng.randint(var.range.min, var.range.max)
        else:
            assert var.suffix is not None
            alphabet = string.ascii_lowercase + string.digits
            # A leading letter keeps names valid where a digit may not start them.
            values[var.name] = rng.choice(string.ascii_lowercase) + "".join(
                rng.choice(alphabet) for _ in range(var.suffix - 1)
            )
    return values


def render_tree(tree: Any, context: dict[str, Any], path: str) -> Any:
    if isinstance(tree, dict):
        return {
            render_text(str(k), context, path) if "{" in str(k) else k: render_tree(
                v, context, f"{path}.{k}"
            )
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [render_tree(v, context, f"{path}[{i}]") for i, v in enumerate(tree)]
    if isinstance(tree, str) and ("{{" in tree or "{%" in tree):
        try:
            value = _NATIVE.from_string(tree).render(context)
            if isinstance(value, jinja2.Undefined):
                # A lone undefined expression is returned, not rendered: make it fail as text does.
                value._fail_with_undefined_error()
            return value
        except jinja2.TemplateError as exc:
            raise RenderError(f"{path}: {exc}") from exc
    return tree


def render_text(text: str, context: dict[str, Any], path: str) -> str:
    try:
        return _TEXT.from_string(text).render(context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{path}: {exc}") from exc


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


def lab_context(spec: ScenarioSpec, scenario: str, lab: str, seed: int) -> dict[str, Any]:
    return {
        **derive_variables(spec.variables, scenario, seed),
        "lab": lab,
        "namespace": namespace_for(lab),
        "scenario": scenario,
        "seed": seed,
    }


def namespace_for(lab: str) -> str:
    return f"lab-{lab}"


def render(spec: ScenarioSpec, scenario: str, lab: str, seed: int) -> RenderedScenario:
    context = lab_context(spec, scenario, lab, seed)
    checks = _render_checks(spec.checks, context, "checks")
    symptoms = _render_checks(spec.symptoms, context, "symptoms")
    return RenderedScenario(
        context=context,
        task=render_text(spec.task, context, "task"),
        namespace_labels={
            k: str(v)
            for k, v in render_tree(spec.namespace.labels, context, "namespace.labels").items()
        },
        manifests=[
            render_tree(m, context, f"manifests[{i}]") for i, m in enumerate(manifest_dicts(spec))
        ],
        symptoms=symptoms,
        checks=checks,
        hints=[
            Hint(text=render_text(h.text, context, f"hints[{i}].text"), cost=h.cost)
            for i, h in enumerate(spec.hints)
        ],
        solution=Solution.model_validate(
            render_tree(
                spec.solution.model_dump(by_alias=True, exclude_none=True), context, "solution"
            )
        ),
    )


def _render_checks(checks: list[Check], context: dict[str, Any], field: str) -> list[Check]:
    out = []
    for i, check in enumerate(checks):
        tree = render_tree(
            check.model_dump(by_alias=True, exclude_none=True), context, f"{field}[{i}]"
        )
        try:
            out.append(Check.model_validate(tree))
        except ValueError as exc:
            raise RenderError(f"{field}[{i}] after rendering: {exc}") from exc
    return out


def render_steps(
    spec: ScenarioSpec, scenario: str, lab: str, seed: int, steps: list[SolutionStep]
) -> Solution:
    """Steps of a variant, rendered like the reference solution (wrapped as a Solution)."""
    context = lab_context(spec, scenario, lab, seed)
    raw = {
        "explanation": "variant",
        "steps": [s.model_dump(by_alias=True, exclude_none=True) for s in steps],
    }
    return Solution.model_validate(render_tree(raw, context, "variant"))
