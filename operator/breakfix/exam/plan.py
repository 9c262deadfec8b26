"""From an Exam's spec and the catalog to its tasks: which scenario each lab runs, its weight
and seed. Pure: the same spec, seed and catalog always give the same exam."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from breakfix.exam.models import ExamSpec
from breakfix.scenario.models import ScenarioSpec, parsed_scenario


class PlanError(ValueError):
    """Why the exam cannot run, naming the field at fault."""


@dataclass(frozen=True)
class PlannedTask:
    lab: str
    scenario: str
    weight: int
    seed: int
    title: str
    exclusive: bool
    estimated_minutes: int


def lab_name(exam: str, index: int) -> str:
    return f"{exam}-{index + 1}"


def plan(exam: str, spec: ExamSpec, scenarios: Mapping[str, Any], seed: int) -> list[PlannedTask]:
    """The exam's tasks, in order. `seed` is the exam's (spec.seed, or one drawn once and kept in
    its status): it draws the picked scenarios and each task's own seed."""
    rng = random.Random(seed)
    parsed: dict[str, ScenarioSpec] = {}

    def scenario(name: str, field: str) -> ScenarioSpec:
        if name not in parsed:
            raw = scenarios.get(name)
            if raw is None:
                raise PlanError(f"{field}: Scenario {name!r} does not exist")
            try:
                parsed[name] = parsed_scenario(raw)
            except ValidationError as exc:
                raise PlanError(f"{field}: Scenario {name!r} is not valid: {exc}") from exc
        return parsed[name]

    chosen: list[tuple[str, int, int | None, str]] = []
    if spec.tasks is not None:
        seen: set[str] = set()
        for i, task in enumerate(spec.tasks):
            field = f"spec.tasks[{i}].scenario"
            if task.scenario in seen:
                first = _index(spec, task.scenario) + 1
                raise PlanError(f"{field}: {task.scenario!r} is already task {first}")
            seen.add(task.scenario)
            scenario(task.scenario, field)
            chosen.append((task.scenario, task.weight, task.seed, field))
    else:
        assert spec.pick is not None
        wanted = set(spec.pick.tags)
        tagged = sorted(n for n, raw in scenarios.items() if wanted <= set(raw.get("tags") or []))
        matching = [n for n in tagged if _parses(scenario, n)]
        # At most one lab that changes a node: such labs run one at a time on a cluster.
        shared = [n for n in matching if not scenario(n, "spec.pick").exclusive]
        exclusive = [n for n in matching if scenario(n, "spec.pick").exclusive]
        pool = shared + ([rng.choice(exclusive)] if exclusive else [])
        if len(pool) < spec.pick.count:
            raise PlanError(
                f"spec.pick.count: {spec.pick.count} asked, but only {len(pool)} scenarios carry "
                f"the tags {', '.join(sorted(wanted))} (at most one of them changing a node)"
            )
        for name in rng.sample(pool, spec.pick.count):
            chosen.append((name, spec.pick.weight, None, "spec.pick"))

    exclusive_tasks = [name for name, *_ in chosen if parsed[name].exclusive]
    if len(exclusive_tasks) > 1:
        raise PlanError(
            f"spec.tasks: {', '.join(exclusive_tasks)} each change a node, and such labs run one "
            "at a time: an exam may hold at most one"
        )
    tasks = [
        PlannedTask(
            lab=lab_name(exam, i),
            scenario=name,
            weight=weight,
            seed=own if own is not None else rng.randrange(1, 2**31),
            title=parsed[name].title,
            exclusive=parsed[name].exclusive,
            estimated_minutes=parsed[name].estimated_minutes,
        )
        for i, (name, weight, own, _) in enumerate(chosen)
    ]
    estimated = sum(t.estimated_minutes for t in tasks)
    if spec.time_limit_minutes * 2 < estimated:
        raise PlanError(
            f"spec.timeLimitMinutes: {spec.time_limit_minutes} minutes is less than half the "
            f"{estimated} minutes the tasks are estimated to take"
        )
    return tasks


def _index(spec: ExamSpec, scenario: str) -> int:
    assert spec.tasks is not None
    return next(i for i, t in enumerate(spec.tasks) if t.scenario == scenario)


def _parses(parse: Callable[[str, str], ScenarioSpec], name: str) -> bool:
    """A Scenario that does not validate is left out of a draw."""
    try:
        parse(name, "spec.pick")
    except PlanError:
        return False
    return True
