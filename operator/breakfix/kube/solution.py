"""Applying a reference solution through the API, as a learner's kubectl would."""

from __future__ import annotations

from breakfix.kube.client import Kube, wait_for
from breakfix.scenario.models import Solution

LEARNER_MANAGER = "learner"


async def apply_solution(kube: Kube, solution: Solution, namespace: str) -> None:
    for step in solution.steps:
        if step.apply is not None:
            await kube.apply(step.apply, namespace, field_manager=LEARNER_MANAGER)
        elif step.patch is not None:
            p = step.patch
            await kube.patch(
                p.api_version, p.kind, p.name, p.patch, p.type, p.namespace or namespace
            )
        elif step.delete is not None:
            d = step.delete
            ns = d.namespace or namespace
            await kube.delete(d.api_version, d.kind, d.name, ns)
            # Like `kubectl delete`, wait until it is gone, so a later step may recreate it.
            await wait_for(kube, d.api_version, d.kind, d.name, lambda o: o is None, 120, ns)
