"""The Scenario spec: one pydantic model validates both the CRD objects and the lab folders."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from breakfix.checks.absent import AbsentCheck
from breakfix.checks.assertion import validate_tree
from breakfix.checks.check import Check
from breakfix.checks.models import NAME_PATTERN, Model
from breakfix.checks.resource import ResourceCheck
from breakfix.scenario.template import RenderError, probe_context, render_text, render_tree

Difficulty = Literal["easy", "medium", "hard"]


class IntRange(Model):
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class Variable(Model):
    """A value drawn from the lab's seed: one of `choices`, an integer in `range`, or a suffix."""

    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    choices: list[Any] | None = Field(None, min_length=1)
    range: IntRange | None = None
    suffix: int | None = Field(None, ge=1, le=16, description="Random [a-z0-9] of this length.")

    @model_validator(mode="after")
    def _one_kind(self) -> Variable:
        kinds = [k for k in ("choices", "range", "suffix") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a variable needs exactly one of choices, range, suffix")
        return self


class Hint(Model):
    text: str = Field(min_length=1)
    cost: int = Field(10, ge=0, le=100, description="Points taken off the score when revealed.")


class ObjectRef(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    name: str
    namespace: str | None = None


class PatchStep(ObjectRef):
    type: Literal["strategic", "merge", "json"] = "strategic"
    patch: dict[str, Any] | list[Any]


class SolutionStep(Model):
    """One step of the reference solution, run by the self-test exactly as a learner could."""

    apply: dict[str, Any] | None = None
    patch: PatchStep | None = None
    delete: ObjectRef | None = None

    @model_validator(mode="after")
    def _one(self) -> SolutionStep:
        if sum(x is not None for x in (self.apply, self.patch, self.delete)) != 1:
            raise ValueError("a solution step needs exactly one of apply, patch, delete")
        return self


class Solution(Model):
    explanation: str = Field(min_length=1)
    steps: list[SolutionStep] = Field(min_length=1)


class Taint(Model):
    key: str = Field(min_length=1)
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class NodeChanges(Model):
    """Changes to one node (the first Ready node by name) that an `exclusive` lab makes and
    reverts on delete and reset. Its name is `{{ node }}` in templates."""

    unschedulable: bool | None = None
    taints: list[Taint] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class NamespaceSpec(Model):
    labels: dict[str, str] = Field(default_factory=dict)


class Timeouts(Model):
    symptoms_seconds: int = Field(120, ge=5, le=3600, alias="symptomsSeconds")
    solve_seconds: int = Field(
        60,
        ge=5,
        le=3600,
        alias="solveSeconds",
        description="How long the self-test waits for Solved after the reference solution.",
    )


class ManifestMeta(Model):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(min_length=1)


class Manifest(Model):
    """A Kubernetes object; only the identifying fields are checked here, the API server checks
    the rest when the lab is provisioned."""

    model_config = ConfigDict(extra="allow", frozen=True)
    api_version: str = Field(alias="apiVersion", min_length=1)
    kind: str = Field(min_length=1)
    metadata: ManifestMeta


class ScenarioSpec(Model):
    title: str = Field(min_length=3)
    task: str = Field(min_length=10, description="Markdown for the learner.")
    difficulty: Difficulty
    category: str = Field(pattern=NAME_PATTERN)
    tags: list[str] = Field(default_factory=list)
    estimated_minutes: int = Field(10, ge=1, le=240, alias="estimatedMinutes")
    requires: list[str] = Field(
        default_factory=list,
        description="Cluster features the lab needs beyond a plain cluster (informational).",
    )
    exclusive: bool = Field(
        False, description="Touches shared cluster state: at most one such lab runs at a time."
    )
    timeouts: Timeouts = Field(default_factory=lambda: Timeouts.model_validate({}))
    variables: list[Variable] = Field(default_factory=list)
    namespace: NamespaceSpec = Field(default_factory=lambda: NamespaceSpec.model_validate({}))
    node_changes: NodeChanges | None = Field(None, alias="nodeChanges")
    manifests: list[Manifest] = Field(min_length=1)
    symptoms: list[dict[str, Any]] = Field(min_length=1)
    checks: list[dict[str, Any]] = Field(min_length=1)
    hints: list[Hint] = Field(default_factory=list, max_length=5)
    solution: Solution

    @field_validator("symptoms", "checks")
    @classmethod
    def _checks_valid(
        cls, value: list[dict[str, Any]], info: ValidationInfo
    ) -> list[dict[str, Any]]:
        """Checks may hold templates anywhere ("{{ port }}" for a number), so they are validated
        as they render for a probe seed; the error names the check and the field."""
        context = probe_context(info.data.get("variables") or [])
        names = []
        for index, raw in enumerate(value):
            where = f"{info.field_name}[{index}]"
            try:
                check = Check.model_validate(render_tree(raw, context, where))
            except RenderError as exc:
                raise ValueError(str(exc)) from exc
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"])
                raise ValueError(f"{where}{'.' + loc if loc else ''}: {err['msg']}") from exc
            body = check.body
            if isinstance(body, (ResourceCheck, AbsentCheck)):
                errors = validate_tree(body.expect, f"{where}.expect")
                if errors:
                    raise ValueError("; ".join(errors))
            names.append(check.name)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate names {dupes}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioSpec:
        # Every template must render, not just the checks: a stray `{#` in a shell command is
        # a Jinja comment, and `validate` should say so rather than the first lab that uses it.
        context = probe_context(self.variables)
        render_text(self.task, context, "task")
        for index, manifest in enumerate(self.manifests):
            render_tree(
                manifest.model_dump(mode="json", by_alias=True, exclude_none=True),
                context,
                f"manifests[{index}]",
            )
        for index, hint in enumerate(self.hints):
            render_text(hint.text, context, f"hints[{index}].text")
        render_tree(
            self.solution.model_dump(mode="json", by_alias=True, exclude_none=True),
            context,
            "solution",
        )
        if self.node_changes is not None and not self.exclusive:
            raise ValueError("nodeChanges: a lab that changes a node must be exclusive: true")
        names = [v.name for v in self.variables]
        if len(set(names)) != len(names):
            raise ValueError("variables: duplicate names")
        return self


def manifest_dicts(spec: ScenarioSpec) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", by_alias=True, exclude_none=True) for m in spec.manifests]


class Variant(Model):
    """Another way a learner might act: a valid fix (must reach Solved) or a shortcut (must not)."""

    description: str = Field(min_length=1)
    steps: list[SolutionStep] = Field(min_length=1)
    rejected_by: str | None = Field(
        None,
        alias="rejectedBy",
        description="Shortcuts: the check that must fail, and so tell the learner why; the "
        "self-test reports the failing checks and requires this one among them.",
    )


class Variants(Model):
    """labs/<id>/variants.yaml: test data proving the checks grade outcomes, not one solution."""

    fixes: list[Variant] = Field(default_factory=list)
    shortcuts: list[Variant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rejected_by_only_for_shortcuts(self) -> Variants:
        if any(f.rejected_by for f in self.fixes):
            raise ValueError("rejectedBy applies to shortcuts only: a fix must reach Solved")
        return self
