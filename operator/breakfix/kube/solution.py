"""Applying a reference solution through the API, as a learner's kubectl would."""

from __future__ import annotations

import asyncio

from breakfix.kube.client import Kube, wait_for
from breakfix.kube.node_shell import NodeShellError, run_on_node
from breakfix.scenario.models import Solution

LEARNER_MANAGER = "learner"


async def apply_solution(
    kube: Kube, solution: Solution, namespace: str, shell: str | None = None
) -> None:
    """`shell` opens a shell on the lab's node (`status.shell`), for `onNode` steps."""
    for step in solution.steps:
        if step.wait_seconds is not None:
            await asyncio.sleep(step.wait_seconds)
        elif step.on_node is not None:
            if shell is None:
                raise NodeShellError("an onNode step, but the lab names no node shell")
            await run_on_node(shell, step.on_node)
        elif step.apply is not None:
            await kube.apply(step.apply, namespace, field_manager=LEARNER_MANAGER)
        elif step.patch is not None:
            p = step.patch
            if p.subresource == "status" and isinstance(p.patch, dict):
                await kube.patch_status(
                    p.api_version, p.kind, p.name, p.patch, p.namespace or namespace
                )
                continue
            await kube.patch(
                p.api_version, p.kind, p.name, p.patch, p.type, p.namespace or namespace
            )
        elif step.delete is not None:
            d = step.delete
            ns = d.namespace or namespace
            await kube.delete(d.api_version, d.kind, d.name, ns)
            # Like `kubectl delete`, wait until it is gone, so a later step may recreate it.
            await wait_for(kube, d.api_version, d.kind, d.name, lambda o: o is None, 120, ns)
