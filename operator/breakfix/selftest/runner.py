"""Run labs through their whole life on a real cluster, several at once.

For each lab and seed: apply the Lab -> Ready with every symptom holding and not Solved ->
apply the reference solution -> Solved within the lab's timeout -> delete -> the namespace and
every cluster-scoped object gone.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from breakfix import API_VERSION
from breakfix.kube.client import Kube, wait_for
from breakfix.kube.solution import apply_solution
from breakfix.scenario.catalog import LabFolder
from breakfix.scenario.render import namespace_for, render

TERMINAL_REASONS = {
    "ScenarioNotFound",
    "ScenarioInvalid",
    "RenderFailed",
    "InvalidSpec",
    "ProvisioningFailed",
    "SymptomsNotObserved",
}


@dataclass
class Result:
    lab: str
    seed: int
    ready_seconds: float | None = None
    solved_seconds: float | None = None
    cleanup_seconds: float | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None


def _condition(lab: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in (lab or {}).get("status", {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def _ready_or_stuck(lab: dict[str, Any] | None) -> bool:
    ready = _condition(lab, "Ready")
    return ready.get("status") == "True" or ready.get("reason") in TERMINAL_REASONS


async def run_lab(kube: Kube, folder: LabFolder, seed: int, name: str) -> Result:
    result = Result(lab=folder.id, seed=seed)
    spec = folder.spec
    body = {
        "apiVersion": API_VERSION,
        "kind": "Lab",
        "metadata": {"name": name},
        "spec": {"scenario": folder.id, "seed": seed},
    }
    start = time.monotonic()
    cluster_objects: list[dict[str, Any]] = []
    try:
        await kube.apply(body)
        lab = await wait_for(
            kube, API_VERSION, "Lab", name, _ready_or_stuck, spec.timeouts.symptoms_seconds + 30
        )
        ready = _condition(lab, "Ready")
        if ready.get("status") != "True":
            raise AssertionError(f"not Ready: {ready.get('reason')}: {ready.get('message')}")
        result.ready_seconds = time.monotonic() - start
        status = (lab or {}).get("status", {})
        cluster_objects = list(status.get("clusterObjects") or [])
        if not all(s.get("holds") for s in status.get("symptoms") or []):
            raise AssertionError("Ready although a symptom does not hold")
        if _condition(lab, "Solved").get("status") != "False":
            raise AssertionError("Solved before any fix: the checks do not detect the fault")

        rendered = render(spec, folder.id, name, seed)
        fixed = time.monotonic()
        await apply_solution(kube, rendered.solution, namespace_for(name))
        try:
            await wait_for(
                kube,
                API_VERSION,
                "Lab",
                name,
                lambda o: _condition(o, "Solved").get("status") == "True",
                spec.timeouts.solve_seconds,
            )
        except TimeoutError:
            current = await kube.get(API_VERSION, "Lab", name)
            failing = [
                f"{c['name']}: {c['message']}"
                for c in (current or {}).get("status", {}).get("checks") or []
                if not c.get("passed")
            ]
            raise AssertionError(
                f"not Solved {spec.timeouts.solve_seconds}s after the reference solution; "
                + "; ".join(failing)
            ) from None
        result.solved_seconds = time.monotonic() - fixed
    except (AssertionError, TimeoutError) as exc:
        result.error = str(exc)
    finally:
        cleanup = time.monotonic()
        try:
            await cleanup_lab(kube, name, cluster_objects)
            result.cleanup_seconds = time.monotonic() - cleanup
        except (AssertionError, TimeoutError) as exc:
            result.error = result.error or str(exc)
    return result


async def cleanup_lab(kube: Kube, name: str, cluster_objects: list[dict[str, Any]]) -> None:
    await kube.delete(API_VERSION, "Lab", name)
    await wait_for(kube, API_VERSION, "Lab", name, lambda o: o is None, 120)
    await wait_for(kube, "v1", "Namespace", namespace_for(name), lambda o: o is None, 180)
    for ref in cluster_objects:
        if await kube.get(ref["apiVersion"], ref["kind"], ref["name"]) is not None:
            await wait_for(
                kube, ref["apiVersion"], ref["kind"], ref["name"], lambda o: o is None, 60
            )


async def run_catalog(
    kube: Kube,
    labs: list[LabFolder],
    seeds: list[int] | None = None,
    seeds_per_lab: int = 2,
    parallel: int = 4,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Every lab with each seed; exclusive labs run alone, the rest `parallel` at a time."""
    rng = random.Random()
    jobs = []
    for folder in labs:
        lab_seeds = seeds or rng.sample(range(1, 100_000), seeds_per_lab)
        for index, seed in enumerate(lab_seeds):
            jobs.append((folder, seed, f"selftest-{folder.id[:40]}-{index}"))
    gate = asyncio.Semaphore(parallel)
    exclusive = asyncio.Lock()
    results: list[Result] = []

    async def one(folder: LabFolder, seed: int, name: str) -> None:
        if folder.spec.exclusive:
            async with exclusive, gate:
                result = await run_lab(kube, folder, seed, name)
        else:
            async with gate:
                result = await run_lab(kube, folder, seed, name)
        results.append(result)
        if on_result:
            on_result(result)

    await asyncio.gather(*(one(*job) for job in jobs))
    order = {(f.id, s): i for i, (f, s, _) in enumerate(jobs)}
    return sorted(results, key=lambda r: order[(r.lab, r.seed)])
