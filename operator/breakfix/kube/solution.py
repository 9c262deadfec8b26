"""Applying a reference solution through the API, as a learner's kubectl would."""

from __future__ import annotations

import asyncio

from breakfix.kube.client import Kube, wait_for
from breakfix.kube.node_shell import NodeShellError, run_on_node
from breakfix.lab.object_changes import edited
from breakfix.scenario.models import DrainStep, EditStep, Solution

LEARNER_MANAGER = "learner"


async def apply_solution(
    kube: Kube,
    solution: Solution,
    namespace: str,
    shell: str | None = None,
    create_first: bool = False,
) -> None:
    """`shell` opens a shell on the lab's node (`status.shell`), for `onNode` steps.
    `create_first`: an `apply` step creates the object when it is new, as a learner with only
    `create` on a kind would (`kubectl create`), and applies it only when it exists."""
    for step in solution.steps:
        if step.wait_seconds is not None:
            await asyncio.sleep(step.wait_seconds)
        elif step.drain is not None:
            await drain(kube, step.drain)
        elif step.on_node is not None:
            if shell is None:
                raise NodeShellError("an onNode step, but the lab names no node shell")
            await run_on_node(shell, step.on_node)
        elif step.apply is not None:
            ns = step.apply_namespace(namespace)
            if create_first:
                await kube.create_or_apply(step.apply, ns, field_manager=LEARNER_MANAGER)
            else:
                await kube.apply(step.apply, ns, field_manager=LEARNER_MANAGER)
        elif step.patch is not None:
            p = step.patch
            if p.subresource == "status" and isinstance(p.patch, dict):
                await kube.patch_status(
                    p.api_version, p.kind, p.name, p.patch, p.namespace or namespace, p.type
                )
                continue
            await kube.patch(
                p.api_version, p.kind, p.name, p.patch, p.type, p.namespace or namespace
            )
        elif step.edit is not None:
            await edit(kube, step.edit, namespace)
        elif step.delete is not None:
            d = step.delete
            ns = d.namespace or namespace
            await kube.delete(d.api_version, d.kind, d.name, ns)
            # Like `kubectl delete`, wait until it is gone, so a later step may recreate it.
            await wait_for(kube, d.api_version, d.kind, d.name, lambda o: o is None, 120, ns)


async def edit(kube: Kube, step: EditStep, namespace: str) -> None:
    ns = step.namespace or namespace
    obj = await kube.get(step.api_version, step.kind, step.name, ns)
    if obj is None:
        raise LookupError(f"{step.kind} {ns}/{step.name} does not exist")
    patch = edited(obj, {p: [(r.old, r.new) for r in rs] for p, rs in step.replace.items()})
    # As kubectl edit: refused with a conflict if someone changed it since it was read.
    patch["metadata"] = {"resourceVersion": obj["metadata"]["resourceVersion"]}
    await kube.patch(step.api_version, step.kind, step.name, patch, "merge", ns)


async def drain(kube: Kube, step: DrainStep) -> None:
    """What `kubectl drain --pod-selector` does, with the requests it makes (so the self-test,
    run with the learner's rights, proves them enough): cordon, list the node's selected pods in
    every namespace, evict them (a budget's refusal, 429, is retried as kubectl retries it),
    until none is left."""
    await kube.patch("v1", "Node", step.node, {"spec": {"unschedulable": True}}, "merge")
    selector = ",".join(f"{k}={v}" for k, v in step.selector.items())
    deadline = asyncio.get_running_loop().time() + step.timeout_seconds
    while True:
        pods = await kube.list_objects(
            "v1", "Pod", label_selector=selector, field_selector=f"spec.nodeName={step.node}"
        )
        if not pods:
            return
        for pod in pods:
            meta = pod["metadata"]
            if not meta.get("deletionTimestamp"):
                await kube.evict(meta["namespace"], meta["name"])
        if asyncio.get_running_loop().time() > deadline:
            names = ", ".join(p["metadata"]["name"] for p in pods)
            raise TimeoutError(f"drain of {step.node}: {names} still there")
        await asyncio.sleep(2)
