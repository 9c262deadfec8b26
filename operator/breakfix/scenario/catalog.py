"""The lab folder format (labs/<id>/) and its conversion to Scenario objects.

lab.yaml        title, difficulty, category, tags, variables, namespace, timeouts, hints
task.md         the task text for the learner (Jinja, like every other string)
manifests/      the broken objects, one or more YAML documents per file, applied in order
checks.yaml     `symptoms` (prove it is broken) and `checks` (prove it is fixed)
solution.yaml   `explanation` and the `steps` of the reference solution
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from breakfix import API_VERSION
from breakfix.checks.models import NAME_PATTERN
from breakfix.scenario.models import ScenarioSpec, Variants

LAB_FILES = ("lab.yaml", "task.md", "checks.yaml", "solution.yaml")


@dataclass(frozen=True)
class Problem:
    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.field}: {self.message}"
            if self.field
            else f"{self.path}: {self.message}"
        )


class CatalogError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class LabFolder:
    id: str
    path: Path
    spec: ScenarioSpec
    variants: Variants | None = None

    def to_scenario(self) -> dict[str, Any]:
        return scenario_object(self.id, self.spec)


def scenario_object(name: str, spec: ScenarioSpec) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Scenario",
        "metadata": {"name": name, "labels": {"breakfix.dev/catalog": "builtin"}},
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


def _load_yaml(path: Path, problems: list[Problem], multi: bool = False) -> Any:
    try:
        text = path.read_text()
        if multi:
            return [d for d in yaml.safe_load_all(text) if d is not None]
        return yaml.safe_load(text) or {}
    except FileNotFoundError:
        problems.append(Problem(str(path), "", "file is missing"))
    except yaml.YAMLError as exc:
        problems.append(Problem(str(path), "", f"not valid YAML: {exc}"))
    return [] if multi else {}


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_lab(folder: Path) -> LabFolder:
    """Read and validate one lab folder; CatalogError lists every problem with file and field."""
    problems: list[Problem] = []
    lab_id = folder.name
    if not re.match(NAME_PATTERN, lab_id) or len(lab_id) > 50:
        problems.append(
            Problem(
                str(folder),
                "",
                "folder name must be a DNS label of at most "
                "50 characters (it becomes the Scenario name)",
            )
        )
    meta = _load_yaml(folder / "lab.yaml", problems)
    checks = _load_yaml(folder / "checks.yaml", problems)
    solution = _load_yaml(folder / "solution.yaml", problems)
    try:
        task = (folder / "task.md").read_text()
    except FileNotFoundError:
        problems.append(Problem(str(folder / "task.md"), "", "file is missing"))
        task = ""
    manifest_files = sorted((folder / "manifests").glob("*.yaml"))
    if not manifest_files:
        problems.append(Problem(str(folder / "manifests"), "", "no *.yaml manifests"))
    manifests: list[Any] = []
    origin: list[Path] = []
    for path in manifest_files:
        docs = _load_yaml(path, problems, multi=True)
        manifests += docs
        origin += [path] * len(docs)
    for name, part in (("lab.yaml", meta), ("checks.yaml", checks), ("solution.yaml", solution)):
        if not isinstance(part, dict):
            problems.append(Problem(str(folder / name), "", "must be a mapping"))
    if problems:
        raise CatalogError(problems)
    for key in ("task", "manifests", "symptoms", "checks", "solution"):
        if key in meta:
            problems.append(
                Problem(str(folder / "lab.yaml"), key, "belongs in its own file, not lab.yaml")
            )
    raw = {**meta, "task": task, "manifests": manifests, **checks, "solution": solution}
    check_names: set[str] | None = None
    try:
        spec = ScenarioSpec.model_validate(raw)
        check_names = {str(c.get("name")) for c in spec.all_checks()}
        problems += stated_but_unchecked(folder, spec.stated_task(), spec.all_checks())
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            top = loc[0] if loc else ""
            if top == "task":
                file = folder / "task.md"
            elif top in ("symptoms", "checks"):
                file = folder / "checks.yaml"
            elif top == "solution":
                file = folder / "solution.yaml"
                loc = loc[1:]
            elif top == "manifests" and len(loc) > 1 and isinstance(loc[1], int):
                file = origin[loc[1]]
            else:
                file = folder / "lab.yaml"
            field, message = _loc(loc), str(err["msg"]).removeprefix("Value error, ")
            # Check validators report the precise path themselves: "checks[1].port: ...".
            precise = re.match(r"^((?:symptoms|checks)\[\d+\][^:\s]*): (.*)$", message, re.S)
            if precise:
                field, message = precise.groups()
            problems.append(Problem(str(file), field, message))
    variants = None
    if (folder / "variants.yaml").exists():
        raw_variants = _load_yaml(folder / "variants.yaml", problems)
        try:
            variants = Variants.model_validate(raw_variants)
            for index, shortcut in enumerate(variants.shortcuts):
                if (
                    check_names is not None
                    and shortcut.rejected_by
                    and shortcut.rejected_by not in check_names
                ):
                    problems.append(
                        Problem(
                            str(folder / "variants.yaml"),
                            f"shortcuts[{index}].rejectedBy",
                            f"no check named {shortcut.rejected_by} in checks.yaml",
                        )
                    )
        except ValidationError as exc:
            problems += [
                Problem(str(folder / "variants.yaml"), _loc(tuple(e["loc"])), e["msg"])
                for e in exc.errors()
            ]
    if problems:
        raise CatalogError(problems)
    return LabFolder(id=lab_id, path=folder, spec=spec, variants=variants)


# Constraints a task may state only with the check that enforces them: (what the constraints
# say, what a check must name (or one of several), why). A check "names" it when the text
# appears in the check's YAML (a field path in an expectation, a kind, a check type); the guard
# `invariants` makes names what it keeps of the manifests.
STATED_CONSTRAINTS = (
    (
        re.compile(r"\bdo not (?:delete|recreate)\b", re.I),
        ("identityKept", '"keepUid": true'),
        "says not to delete or recreate an object; an identityKept check (or an invariants "
        "rule with keepUid) must enforce it",
    ),
    (
        re.compile(r"\b(?:cannot|do not|don't) (?:create or )?change PersistentVolumes\b", re.I),
        "PersistentVolume",
        "says PersistentVolumes may not be changed; a check on the PersistentVolume must "
        "enforce it",
    ),
    (
        re.compile(r"\breadiness probe\b", re.I),
        "readinessProbe",
        "states a constraint on the readiness probe; a check on readinessProbe must enforce it",
    ),
    (
        re.compile(r"\bliveness probe\b", re.I),
        "livenessProbe",
        "states a constraint on the liveness probe; a check on livenessProbe must enforce it",
    ),
    (
        re.compile(r"\btolerations?\b", re.I),
        "tolerations",
        "states a constraint on tolerations; a check on tolerations must enforce it",
    ),
    (
        re.compile(r"\bemptyDir\b"),
        "emptyDir",
        "rules out emptyDir; a check on the volumes must enforce it",
    ),
    (
        re.compile(r"\blabels? (?:on )?nodes\b", re.I),
        "Node",
        "says not to label nodes; a check on the Nodes must enforce it",
    ),
    (
        re.compile(r"\bnodeSelector\b"),
        "nodeSelector",
        "states a constraint on the nodeSelector; a check on nodeSelector must enforce it",
    ),
    (
        re.compile(r"\bcommand\b", re.I),
        "command",
        "states a constraint on the command; a check on the command must enforce it",
    ),
    (
        re.compile(r"\bLimitRange\b"),
        "LimitRange",
        "says to keep a LimitRange; a check on the LimitRange must enforce it",
    ),
)


def constraints_of(task: str) -> str:
    """The part of a task that states its constraints (from `**Constraints:**` on)."""
    _, marker, rest = task.partition("**Constraints:**")
    return rest if marker else ""


def stated_but_unchecked(folder: Path, task: str, checks: list[dict[str, Any]]) -> list[Problem]:
    """A constraint written in the task but checked by nothing is a promise the grading does
    not keep: a learner who breaks it is still Solved. The check must be a guard (shown to the
    learner as a constraint), except for identityKept, which is one by nature."""
    stated = constraints_of(task)
    keys = {key for check in checks for key in check}
    guards = json.dumps([c for c in checks if c.get("guard")])

    def named(needles: str | tuple[str, ...]) -> bool:
        return any(
            n in keys or re.search(rf"(?<!\w){re.escape(n)}(?!\w)", guards)
            for n in ((needles,) if isinstance(needles, str) else needles)
        )

    return [
        Problem(str(folder / "task.md"), "", f"the task {why}")
        for pattern, needles, why in STATED_CONSTRAINTS
        if pattern.search(task if isinstance(needles, tuple) else stated) and not named(needles)
    ]


def load_catalog(root: Path) -> list[LabFolder]:
    """Every lab folder below `root` (a folder with lab.yaml), or one lab folder itself."""
    if (root / "lab.yaml").exists():
        return [load_lab(root)]
    folders = sorted(p.parent for p in root.glob("*/lab.yaml"))
    labs, problems = [], []
    for folder in folders:
        try:
            labs.append(load_lab(folder))
        except CatalogError as exc:
            problems += exc.problems
    if not folders:
        problems.append(Problem(str(root), "", "no lab folders (a folder with lab.yaml) found"))
    if problems:
        raise CatalogError(problems)
    return labs
