"""The Scenario spec: one pydantic model validates both the CRD objects and the lab folders."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
from breakfix.checks.provisioned_kept import (
    AddRule,
    ObjectRule,
    ProvisionedKeptCheck,
    parse_path,
    without,
)
from breakfix.checks.resource import ResourceCheck
from breakfix.scenario.curriculum import COMPETENCIES, competency_of
from breakfix.scenario.template import RenderError, probe_context, render_text, render_tree

Difficulty = Literal["easy", "medium", "hard"]
Scope = Literal["Namespace", "Node", "ControlPlane"]


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


# What a learner may be given beyond their namespace. Never `escalate`, `bind` or `impersonate`
# (each a way to more rights), never a wildcard: a lab lists what its task needs, by name.
LearnerVerb = Literal["get", "list", "watch", "create", "update", "patch", "delete"]


class LearnerRule(Model):
    """An RBAC rule a learner holds cluster-wide while the lab runs, in the per-lab ClusterRole
    `breakfix-learner-<lab>` (removed with the Lab). Templated: `resourceNames: ["{{ node }}"]`."""

    api_groups: list[str] = Field(alias="apiGroups", min_length=1)
    resources: list[str] = Field(min_length=1)
    verbs: list[LearnerVerb] = Field(min_length=1)
    resource_names: list[str] = Field(default_factory=list, alias="resourceNames")
    why: str = Field(min_length=10, description="What in the task needs it (kept in the lab).")

    @field_validator("api_groups", "resources", "resource_names")
    @classmethod
    def _no_wildcard(cls, values: list[str]) -> list[str]:
        if "*" in values:
            raise ValueError("no wildcard: name what the task needs")
        return values

    def rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "apiGroups": self.api_groups,
            "resources": self.resources,
            "verbs": list(self.verbs),
        }
        if self.resource_names:
            rule["resourceNames"] = self.resource_names
        return rule


class ObjectRef(Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    name: str
    namespace: str | None = None


class PatchStep(ObjectRef):
    type: Literal["strategic", "merge", "json"] = "strategic"
    patch: dict[str, Any] | list[Any]
    subresource: Literal["status"] | None = Field(
        None, description="`kubectl patch --subresource=status`, with the patch's `type`."
    )


class EditStep(ObjectRef):
    """`kubectl edit`: the object as it is now, with text replaced in string fields (by dotted
    path, such as data.Corefile), written back under the resourceVersion read."""

    replace: dict[str, list[Replacement]] = Field(min_length=1)


class DrainStep(Model):
    """`kubectl drain <node>` limited to the lab's pods: cordon, then evict each matching pod
    through the Eviction API, retrying while a budget refuses, until they are gone."""

    node: str = Field(min_length=1)
    selector: dict[str, str] = Field(min_length=1)
    timeout_seconds: float = Field(120, gt=0, le=600, alias="timeoutSeconds")


class SolutionStep(Model):
    """One step of the reference solution, run by the self-test exactly as a learner could."""

    apply: dict[str, Any] | None = None
    patch: PatchStep | None = None
    edit: EditStep | None = None
    delete: ObjectRef | None = None
    on_node: str | None = Field(
        None,
        alias="onNode",
        min_length=1,
        description="A shell script run on the lab's node as root, as in the shell `{{ shell }}` "
        "opens (kind: `docker exec`).",
    )
    drain: DrainStep | None = None
    wait_seconds: float | None = Field(
        None,
        alias="waitSeconds",
        gt=0,
        le=300,
        description="Pause, as a learner waits for a component to restart.",
    )

    @field_validator("apply")
    @classmethod
    def _an_object(cls, obj: dict[str, Any] | None) -> dict[str, Any] | None:
        # Found now, not when the self-test sends it: what the API server needs to place it.
        if obj is None:
            return None
        meta = obj.get("metadata")
        heads = (
            obj.get("apiVersion"),
            obj.get("kind"),
            meta.get("name") if isinstance(meta, dict) else None,
        )
        if not all(isinstance(h, str) and h for h in heads):
            raise ValueError("an object needs apiVersion, kind and metadata.name, each a string")
        return obj

    def apply_namespace(self, namespace: str) -> str:
        """Where an `apply` step's object goes, as kubectl places it: the namespace it names
        (another of the lab's), else the lab's."""
        return str(((self.apply or {}).get("metadata") or {}).get("namespace") or namespace)

    @model_validator(mode="after")
    def _one(self) -> SolutionStep:
        given = (
            self.apply,
            self.patch,
            self.edit,
            self.delete,
            self.on_node,
            self.drain,
            self.wait_seconds,
        )
        if sum(x is not None for x in given) != 1:
            raise ValueError(
                "a solution step needs exactly one of apply, patch, edit, delete, onNode, drain, "
                "waitSeconds"
            )
        return self


class Solution(Model):
    explanation: str = Field(min_length=1)
    steps: list[SolutionStep] = Field(min_length=1)


class Taint(Model):
    key: str = Field(min_length=1)
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


# Where a lab may change a node's files: the kubelet's and the control plane's configuration.
HOST_PATH_PREFIXES = (
    "/etc/kubernetes, /var/lib/kubelet, /etc/systemd/system/kubelet.service.d, /etc/containerd, "
    "/run/containerd, /var/log/kubernetes, /var/backups"
)
# /var/log/kubernetes and /var/backups: where a lab's task has a component write its logs (the
# audit log) or the learner save a snapshot of etcd (every Secret in it), so that restoring
# removes them.
HOST_PATH_PATTERN = (
    r"^/(etc/kubernetes|var/lib/kubelet|etc/systemd/system/kubelet\.service\.d|etc/containerd"
    r"|run/containerd|var/log/kubernetes|var/backups)(/[A-Za-z0-9._-]+)+$"
)


class Replacement(Model):
    old: str = Field(min_length=1, description="Text that must occur in the file, exactly.")
    new: str


class FileChange(Model):
    """A file on the node, edited by the node agent (`breakfix.agent`), which keeps the original
    bytes, mode and owner and puts them back on delete and reset."""

    path: str = Field(description="Absolute; under the kubelet's or the control plane's config.")
    replace: list[Replacement] = Field(default_factory=list)
    content: str | None = Field(None, description="The whole new content.")
    copy_from: str | None = Field(
        None,
        alias="copyFrom",
        description="The whole content of another file on the node (another component's "
        "kubeconfig, say).",
    )
    absent: bool = Field(
        False,
        description="The file must not exist (removed if it does); restore puts back whatever "
        "was there, so a file the learner creates at this path is cleaned up.",
    )
    keep: bool = Field(
        False,
        description="Left as it is, but put back on delete and reset whatever the learner did to "
        "it: a file the task leads them to edit (the component's manifest).",
    )

    @field_validator("path", "copy_from")
    @classmethod
    def _where(cls, path: str | None) -> str | None:
        if path is None:
            return None
        # A template ("{{ wrong_file }}") is checked as it renders, by the same rule.
        if ("{{" not in path and not re.match(HOST_PATH_PATTERN, path)) or "/../" in path:
            raise ValueError(f"{path}: a lab may change files under {HOST_PATH_PREFIXES} only")
        return path

    @model_validator(mode="after")
    def _one(self) -> FileChange:
        given = (bool(self.replace), self.content is not None, self.copy_from is not None)
        if sum((*given, self.absent, self.keep)) != 1:
            raise ValueError(
                "a file change needs exactly one of replace, content, copyFrom, absent, keep"
            )
        return self


class ServiceChange(Model):
    """A systemd unit on the node: `stop` it (started again on restore if it was running), or
    `restart` it after the file changes (and again after restoring them)."""

    name: str = Field(pattern=r"^(kubelet|containerd)$")
    action: Literal["stop", "restart"]


NodeRole = Literal["worker", "control-plane"]

# The objects of the cluster's own add-ons a lab may change outside its namespace; each is put
# back on delete and reset, so the list stays short and explicit.
SYSTEM_OBJECTS = {
    ("v1", "ConfigMap", "kube-system", "coredns"),
    ("apps/v1", "Deployment", "kube-system", "coredns"),
}


class ObjectChange(Model):
    """A merge patch to one object of the cluster's own add-ons (CoreDNS's Corefile or its
    Deployment). Before it is applied, the value at every path the patch sets is recorded in
    the Lab's status; delete and reset write those values back (and remove what was absent)."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    namespace: str
    name: str
    patch: dict[str, Any] = Field(
        default_factory=dict, description="A JSON merge patch; its leaves are the changes."
    )
    edit: dict[str, list[Replacement]] = Field(
        default_factory=dict,
        description="Text replaced in string fields, by dotted path (data.Corefile): every "
        "`old` must occur, or provisioning fails, changing nothing. Keeps what this cluster's "
        "version ships around the change.",
    )
    keep: list[str] = Field(
        default_factory=list,
        description="Dotted paths (spec.replicas) left as they are, but put back on delete and "
        "reset whatever the learner did to them, as the patched ones.",
    )

    @model_validator(mode="after")
    def _allowed(self) -> ObjectChange:
        key = (self.api_version, self.kind, self.namespace, self.name)
        if key not in SYSTEM_OBJECTS:
            allowed = ", ".join(f"{k} {n}/{o}" for _, k, n, o in sorted(SYSTEM_OBJECTS))
            where = f"{self.kind} {self.namespace}/{self.name}"
            raise ValueError(f"{where}: a lab may change {allowed} only")
        if not self.patch and not self.edit and not self.keep:
            raise ValueError("an object change needs a patch, an edit or a keep")
        return self


class NodeChanges(Model):
    """Changes to one node that an `exclusive` lab makes and reverts on delete and reset: through
    the API (cordon, taints, labels) and, by the node agent, on the node itself (files, units).
    The node is a worker the operator does not run on (the control plane for `role:
    control-plane`); its name is `{{ node }}` in templates, and `{{ shell }}` opens a shell on
    it."""

    role: NodeRole = "worker"
    unschedulable: bool | None = None
    taints: list[Taint] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    files: list[FileChange] = Field(default_factory=list)
    services: list[ServiceChange] = Field(default_factory=list)
    objects: list[ObjectChange] = Field(
        default_factory=list,
        description="Objects of the cluster's add-ons (CoreDNS) changed through the API after "
        "their originals are recorded; applied after the lab's own objects.",
    )
    restart_containers: list[str] = Field(
        default_factory=list,
        alias="restartContainers",
        description="Containers (by name, such as kube-scheduler) the kubelet must restart after "
        "the file changes, and again after restoring them: a component reads its kubeconfig or "
        "certificates only when it starts.",
    )
    order: Literal["first", "last"] = Field(
        "first",
        description="Change the node before the lab's objects are created (so a broken "
        "scheduler never places them), or after them (a broken API server would refuse them).",
    )
    restore_after_seconds: int = Field(
        3600,
        ge=60,
        le=86400,
        alias="restoreAfterSeconds",
        description="The node agent puts the node back on its own after this long, even when "
        "nobody can ask it to (an API server the learner never repaired).",
    )

    @property
    def takes_api_server(self) -> bool:
        """Changed after the lab's objects because what it breaks is the API server itself."""
        return self.order == "last"

    @property
    def on_host(self) -> bool:
        return bool(self.files or self.services or self.restart_containers)


class OtherNamespace(Model):
    """A namespace of the story besides the lab's own (another team's backend, a shared
    gateway): `lab-<lab>-<name>`, `{{ namespaces.<name> }}` in templates. A manifest that names
    it in `metadata.namespace` goes there; the learner is admin of it as of the lab's own, and
    it goes with the Lab."""

    name: str = Field(pattern=r"^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$")
    labels: dict[str, str] = Field(default_factory=dict)


class NamespaceSpec(Model):
    labels: dict[str, str] = Field(default_factory=dict)
    others: list[OtherNamespace] = Field(default_factory=list)

    @field_validator("others")
    @classmethod
    def _unique(cls, value: list[OtherNamespace]) -> list[OtherNamespace]:
        names = [o.name for o in value]
        if len(set(names)) != len(names):
            raise ValueError(f"names must be unique: {names}")
        return value


class Timeouts(Model):
    symptoms_seconds: int = Field(120, ge=5, le=3600, alias="symptomsSeconds")
    solve_seconds: int = Field(
        60,
        ge=5,
        le=3600,
        alias="solveSeconds",
        description="How long the self-test waits for Solved after the reference solution.",
    )


# The check `invariants` becomes, graded and shown like any other guard.
INVARIANTS_CHECK = "provisioned-kept"
CONSTRAINTS_MARKER = "**Constraints:**"


class Invariants(Model):
    """What a fix may change of what the lab provisioned, and what it may add; everything else
    stays as provisioned. One declaration states the constraints in the task (each rule's
    `constraint`, and `constraint` here for the rest) and makes the guard that enforces them
    (`provisionedKept`), so the task cannot promise what the grading does not check."""

    constraint: str | None = Field(
        None,
        description="The task's line for everything not named in a rule; by default it says "
        "that the rest stays as provisioned and which new objects a fix may create.",
    )
    objects: list[ObjectRule] = Field(default_factory=list)
    may_add: list[AddRule] = Field(default_factory=list, alias="mayAdd")

    def general_constraint(self) -> str:
        if self.constraint:
            return self.constraint
        kinds = ", ".join(dict.fromkeys(a.kind for a in self.may_add if a.namespace is None))
        new = (
            f"the only new objects a fix may create in `{{{{ namespace }}}}` are of kind {kinds}"
            if kinds
            else "do not create other objects in `{{ namespace }}`"
        )
        for where in dict.fromkeys(a.namespace for a in self.may_add if a.namespace):
            there = ", ".join(dict.fromkeys(a.kind for a in self.may_add if a.namespace == where))
            new += f"; in `{where}`, only of kind {there}"
        return (
            "Change only what the fix needs: everything else the lab created stays as it was "
            f"provisioned, and {new}."
        )

    def constraint_lines(self) -> list[str]:
        lines = [r.constraint for r in self.objects if r.constraint]
        return [" ".join(line.split()) for line in (*lines, self.general_constraint())]

    def check(self, manifests: list[dict[str, Any]]) -> dict[str, Any]:
        """The guard, as a check of checks.yaml would be written, with the manifests."""
        body = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        body.pop("constraint", None)
        for rule in body.get("objects", []):
            rule.pop("constraint", None)
        return {
            "name": INVARIANTS_CHECK,
            "description": "Everything the lab created is as provisioned, apart from what the "
            "fix may change, and nothing was added that the task does not allow.",
            "guard": True,
            ProvisionedKeptCheck.key: {
                **body,
                "why": self.general_constraint(),
                "provisioned": manifests,
            },
        }


def with_constraints(task: str, lines: list[str]) -> str:
    """The task with `lines` added to its Constraints list (a new one at the end if none)."""
    if not lines:
        return task
    bullets = [f"- {line}" for line in lines]
    rows = task.rstrip("\n").split("\n")
    at = next((i for i, row in enumerate(rows) if CONSTRAINTS_MARKER in row), None)
    if at is None:
        return "\n".join([*rows, "", CONSTRAINTS_MARKER, *bullets]) + "\n"
    end = at + 1
    while end < len(rows) and (
        rows[end].startswith(("- ", "  ")) or (not rows[end].strip() and end == at + 1)
    ):
        end += 1
    return "\n".join([*rows[:end], *bullets, *rows[end:]]) + "\n"


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
    competency: str | None = Field(
        None,
        description="The CKA/CKS curriculum competency the lab trains (scenario/curriculum.py); "
        "by default the one of its category.",
    )
    tags: list[str] = Field(default_factory=list)
    estimated_minutes: int = Field(10, ge=1, le=240, alias="estimatedMinutes")
    requires: list[str] = Field(
        default_factory=list,
        description="Cluster features the lab needs beyond a plain cluster (informational).",
    )
    learner_rights: list[LearnerRule] = Field(
        default_factory=list,
        alias="learnerRights",
        description="What the learner needs outside their namespace to do the task (cordon a "
        "node, create a ClusterRole), granted while the lab runs. Reading their own Lab and the "
        "Nodes is always granted.",
    )
    exclusive: bool = Field(
        False, description="Touches shared cluster state: at most one such lab runs at a time."
    )
    scope: Scope = Field(
        "Namespace",
        description="What the lab breaks: objects in its namespace, a node, or the control "
        "plane. Node and ControlPlane labs change a node through `nodeChanges`.",
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
    invariants: Invariants | None = Field(
        None,
        description="What a fix may change of the provisioned objects and what it may add; "
        "the rest stays as provisioned. States its constraints in the task and grades them.",
    )

    def stated_task(self) -> str:
        """The task as the learner reads it: task.md plus the constraints `invariants` states."""
        if self.invariants is None:
            return self.task
        return with_constraints(self.task, self.invariants.constraint_lines())

    def all_checks(self) -> list[dict[str, Any]]:
        """The checks as written, and the guard `invariants` makes, holding the manifests
        without the fields a fix may change: what it names is what it grades."""
        if self.invariants is None:
            return self.checks
        rules = {(r.kind, r.name): r for r in self.invariants.objects}
        graded = []
        for manifest in manifest_dicts(self):
            rule = rules.get((manifest["kind"], manifest["metadata"]["name"]))
            paths = tuple(parse_path(p) for p in rule.may_change) if rule else ()
            graded.append(without(manifest, paths))
        return [*self.checks, self.invariants.check(graded)]

    @field_validator("symptoms", "checks")
    @classmethod
    def _checks_valid(
        cls, value: list[dict[str, Any]], info: ValidationInfo
    ) -> list[dict[str, Any]]:
        """Checks may hold templates anywhere ("{{ port }}" for a number), so they are validated
        as they render for a probe seed; the error names the check and the field."""
        namespace = info.data.get("namespace")
        context = probe_context(
            info.data.get("variables") or [], namespace.others if namespace else ()
        )
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
            if isinstance(body, ProvisionedKeptCheck):
                raise ValueError(
                    f"{where}: provisionedKept is not written in checks.yaml: declare "
                    "`invariants` in lab.yaml, which states the constraints in the task and "
                    "makes this check"
                )
            if isinstance(body, (ResourceCheck, AbsentCheck)):
                errors = validate_tree(body.expect, f"{where}.expect")
                if errors:
                    raise ValueError("; ".join(errors))
            names.append(check.name)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate names {dupes}")
        return value

    @field_validator("competency")
    @classmethod
    def _known_competency(cls, value: str | None) -> str | None:
        if value is not None and value not in COMPETENCIES:
            raise ValueError(f"{value!r} is none of {', '.join(COMPETENCIES)}")
        return value

    @property
    def trains(self) -> str:
        """The competency id this lab trains ('' when its category has none)."""
        return competency_of(self.category, self.competency)

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioSpec:
        # Every template must render, not just the checks: a stray `{#` in a shell command is
        # a Jinja comment, and `validate` should say so rather than the first lab that uses it.
        context = probe_context(self.variables, self.namespace.others)
        render_text(self.stated_task(), context, "task")
        rendered = [
            render_tree(
                manifest.model_dump(mode="json", by_alias=True, exclude_none=True),
                context,
                f"manifests[{index}]",
            )
            for index, manifest in enumerate(self.manifests)
        ]
        if self.invariants is not None:
            self._invariants_name_manifests(rendered, context)
        for index, hint in enumerate(self.hints):
            render_text(hint.text, context, f"hints[{index}].text")
        render_tree(
            self.solution.model_dump(mode="json", by_alias=True, exclude_none=True),
            context,
            "solution",
        )
        if self.node_changes is not None and not self.exclusive:
            raise ValueError("nodeChanges: a lab that changes a node must be exclusive: true")
        changes = self.node_changes
        if self.scope != "Namespace" and changes is None:
            raise ValueError(f"scope: a {self.scope} lab changes a node (nodeChanges)")
        if changes is not None and changes.on_host and self.scope == "Namespace":
            raise ValueError(
                "scope: a lab that changes files or services on a node is a Node "
                "or ControlPlane lab"
            )
        if self.scope == "ControlPlane" and changes is not None and changes.role != "control-plane":
            raise ValueError("nodeChanges.role: a ControlPlane lab changes the control-plane node")
        names = [v.name for v in self.variables]
        if len(set(names)) != len(names):
            raise ValueError("variables: duplicate names")
        if self.invariants is not None and INVARIANTS_CHECK in {c.get("name") for c in self.checks}:
            raise ValueError(f"checks: {INVARIANTS_CHECK} is the name of the invariants' check")
        return self

    def _invariants_name_manifests(
        self, manifests: list[dict[str, Any]], context: dict[str, Any]
    ) -> None:
        """A rule for an object the lab does not provision would silently grade nothing."""
        assert self.invariants is not None
        provisioned = {(m.get("kind"), (m.get("metadata") or {}).get("name")) for m in manifests}
        seen = set()
        for index, rule in enumerate(self.invariants.objects):
            where = f"invariants.objects[{index}]"
            name = render_text(rule.name, context, f"{where}.name")
            if (rule.kind, name) not in provisioned:
                raise ValueError(f"{where}: the lab provisions no {rule.kind} named {rule.name}")
            if (rule.kind, rule.namespace, name) in seen:
                raise ValueError(f"{where}: a second rule for {rule.kind} {rule.name}")
            seen.add((rule.kind, rule.namespace, name))


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
    as_learner: bool = Field(
        True,
        alias="asLearner",
        description="Fixes: the self-test applies it with the lab learner's rights. False for a "
        "fix only a cluster admin can make (a new ClusterRole granting what the learner holds "
        "in their namespace only): still accepted, proven with full rights.",
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


# Parsed Scenarios by the identity of the object they were parsed from: the operator's index
# keeps one object per Scenario until the Scenario changes, and parsing it again at every
# grading (its validators render every template) was a sixth of a fix's CPU (py-spy).
_PARSED: dict[int, tuple[Mapping[str, Any], ScenarioSpec]] = {}
_PARSED_MAX = 512


def parsed_scenario(raw: Mapping[str, Any]) -> ScenarioSpec:
    """`ScenarioSpec.model_validate(raw)`, once per object (raises ValidationError likewise)."""
    known = _PARSED.get(id(raw))
    if known is not None and known[0] is raw:
        return known[1]
    spec = ScenarioSpec.model_validate(raw)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.pop(next(iter(_PARSED)))
    # The cache holds `raw` itself, so its id cannot be reused by another object meanwhile.
    _PARSED[id(raw)] = (raw, spec)
    return spec
