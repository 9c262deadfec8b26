"""Run labs through their whole life on a real cluster, several at once.

For each lab and seed: apply the Lab -> Ready with every symptom holding and not Solved ->
apply the reference solution -> Solved within the lab's timeout -> delete -> the namespace and
every cluster-scoped object gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from breakfix import API_VERSION
from breakfix.kube.client import ApiException, Kube, transient, wait_for
from breakfix.kube.node_shell import NodeShellError, run_on_node
from breakfix.kube.solution import apply_solution
from breakfix.lab.conditions import lab_condition, ready_or_stuck
from breakfix.lab.nodes import changes_recorded, holder
from breakfix.lab.object_changes import value_at
from breakfix.scenario.catalog import LabFolder
from breakfix.scenario.models import ScenarioSpec, Solution, Variant
from breakfix.scenario.render import lab_context, render, render_steps
from breakfix.scenario.template import namespace_for, render_text

# How long a shortcut must leave the lab unsolved to count as rejected.
SHORTCUT_OBSERVE_SECONDS = 15.0
# After that, how long the check a shortcut names may take to be seen failing.
SHORTCUT_VERDICT_SECONDS = 60.0

T = TypeVar("T")


def settling(exc: BaseException) -> bool:
    """An answer of an API server that is starting again (a control-plane lab changed or put
    back its manifest): none at all, 5xx, or, until its authorizer's caches fill, 401 and 403
    even to the self-test's cluster admin."""
    return transient(exc) or (isinstance(exc, ApiException) and exc.status in (401, 403))


async def patiently(call: Callable[[], Awaitable[T]], seconds: float = 120) -> T:
    """A request the API server may refuse while it starts again: tried again until it
    answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except Exception as exc:
            if not settling(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


@dataclass
class Result:
    lab: str
    seed: int
    variant: str | None = None
    name: str = ""
    expect_solved: bool = True
    ready_seconds: float | None = None
    solved_seconds: float | None = None
    cleanup_seconds: float | None = None
    error: str | None = None
    # A shortcut's failing checks (name, message): what the learner is told.
    rejected_by: list[tuple[str, str]] | None = None
    # It changed a node: its namespace is checked at the end of the run.
    node_lab: bool = False

    @property
    def passed(self) -> bool:
        return self.error is None


def described(folder: LabFolder, seed: int, name: str, variant: Variant | None) -> str | None:
    """A variant's description with this run's values in it (`{{ node_port }}` as 31180)."""
    if variant is None:
        return None
    context = lab_context(folder.spec, folder.id, name, seed)
    return render_text(variant.description, context, "variants.yaml: description")


async def run_lab(
    kube: Kube,
    folder: LabFolder,
    seed: int,
    name: str,
    variant: Variant | None = None,
    expect_solved: bool = True,
) -> Result:
    """The reference solution (or `variant`), expecting Solved (or, for a shortcut, not)."""
    result = Result(
        lab=folder.id,
        seed=seed,
        name=name,
        variant=described(folder, seed, name, variant),
        node_lab=folder.spec.node_changes is not None,
    )
    spec = folder.spec
    # Each run has a learner, who applies the reference solution and the accepted fixes with
    # their own rights: the rights every learner is given are proven enough for the task. A
    # shortcut is applied with the self-test's own rights: the grader must refuse it even
    # from a learner who may do anything.
    learner = f"selftest-{name}"
    body = {
        "apiVersion": API_VERSION,
        "kind": "Lab",
        "metadata": {"name": name},
        "spec": {
            "scenario": folder.id,
            "seed": seed,
            "learner": {"kind": "User", "name": learner},
        },
    }
    start = time.monotonic()
    lab_status: dict[str, Any] = {}
    cluster_objects: list[dict[str, Any]] = []
    node_changes: list[dict[str, Any]] = []
    takes_api = spec.node_changes is not None and spec.node_changes.takes_api_server
    static_pods: dict[str, str] = {}
    try:
        if spec.node_changes is not None and spec.node_changes.role == "control-plane":
            static_pods = await static_pod_hashes(kube)
        # The API server may still be restarting after the previous node lab was put back.
        if await wait_lab(kube, name, lambda o: True, 180) is not None:
            # Left by an interrupted run: gone first, or this run would adopt a dying Lab.
            await patiently(lambda: kube.delete(API_VERSION, "Lab", name))
            await wait_lab(kube, name, lambda o: o is None, 300)
        await patiently(lambda: kube.apply(body))
        if takes_api:
            # The lab takes the API server away: its symptom is kubectl not answering, and the
            # operator writes Ready only once the API answers again, after the fix.
            lab = await _until_api_gone(kube, name, spec.timeouts.symptoms_seconds + 30)
        else:
            try:
                # Steady: a lab that edits the API server's manifest restarts it while it starts.
                lab = await steady_wait(
                    kube,
                    API_VERSION,
                    "Lab",
                    name,
                    ready_or_stuck,
                    spec.timeouts.symptoms_seconds + 30,
                )
            except TimeoutError:
                # Say what the operator last wrote, or the failure cannot be told from a slow one.
                late = lab_condition(await wait_lab(kube, name, lambda o: True, 60), "Ready")
                raise AssertionError(
                    f"not Ready {spec.timeouts.symptoms_seconds + 30}s after it was created; "
                    f"Ready={late.get('status')} {late.get('reason')}: {late.get('message')}"
                ) from None
            ready = lab_condition(lab, "Ready")
            if ready.get("status") != "True":
                raise AssertionError(f"not Ready: {ready.get('reason')}: {ready.get('message')}")
        result.ready_seconds = time.monotonic() - start
        status = (lab or {}).get("status", {})
        cluster_objects = list(status.get("clusterObjects") or [])
        if not takes_api:
            if not all(s.get("holds") for s in status.get("symptoms") or []):
                raise AssertionError("Ready although a symptom does not hold")
            if lab_condition(lab, "Solved").get("status") != "False":
                raise AssertionError("Solved before any fix: the checks do not detect the fault")

        node_changes = list(status.get("nodeChanges") or [])
        node, shell = status.get("node"), status.get("shell")
        lab_status.update(node=node, shell=shell)
        solution = (
            render_steps(spec, folder.id, name, seed, variant.steps, node, shell)
            if variant
            else render(spec, folder.id, name, seed, node, shell).solution
        )
        fixed = time.monotonic()
        if expect_solved and (variant is None or variant.as_learner):
            await as_learner(kube, learner, solution, namespace_for(name), shell)
        else:
            await apply_solution(kube, solution, namespace_for(name), shell)
        if not expect_solved:
            if takes_api:
                # The shortcut restarts the API server: judge it once it answers again, and
                # once the operator has graded what it then sees.
                await wait_lab(
                    kube, name, lambda o: lab_condition(o, "Ready").get("status") == "True", 240
                )
            await _stays_unsolved(kube, name, SHORTCUT_OBSERVE_SECONDS)
            result.solved_seconds = None
            wanted = variant.rejected_by if variant else None
            try:
                # An operator that lags (a starved node) may not have graded the shortcut yet:
                # wait a while for the check it names to fail, the lab still not Solved.
                current = await wait_lab(
                    kube,
                    name,
                    lambda o: not wanted or wanted in _failing(o) or _solved(o),
                    SHORTCUT_VERDICT_SECONDS,
                )
            except TimeoutError:
                current = await wait_lab(kube, name, lambda o: True, 120)
            if _solved(current):
                message = lab_condition(current, "Solved").get("message")
                raise AssertionError(f"the shortcut was graded Solved: {message}")
            result.rejected_by = [
                (str(c.get("name")), str(c.get("message")))
                for c in (current or {}).get("status", {}).get("checks") or []
                if not c.get("passed")
            ]
            if wanted and wanted not in {n for n, _ in result.rejected_by}:
                raise AssertionError(
                    f"not Solved, but {wanted} passes; failing: "
                    + ("; ".join(f"{n}: {m}" for n, m in result.rejected_by) or "none")
                )
            return result
        try:
            await wait_lab(
                kube,
                name,
                lambda o: lab_condition(o, "Solved").get("status") == "True",
                spec.timeouts.solve_seconds,
            )
        except TimeoutError:
            current = await wait_lab(kube, name, lambda o: True, 60)
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
    except (
        AssertionError,
        TimeoutError,
        NodeShellError,
        OSError,
        aiohttp.ClientError,
        ApiException,
    ) as exc:
        result.error = (
            f"{type(exc).__name__}: {exc}" if isinstance(exc, (OSError, ApiException)) else str(exc)
        )
    finally:
        cleanup = time.monotonic()
        if takes_api:
            await _api_back_or_repaired(kube, folder, name, seed, lab_status)
        try:
            await cleanup_lab(kube, name, cluster_objects, node_changes)
            if static_pods:
                await static_pods_back(kube, static_pods, 240)
            result.cleanup_seconds = time.monotonic() - cleanup
        except (AssertionError, TimeoutError, OSError, aiohttp.ClientError, ApiException) as exc:
            result.error = result.error or f"cleanup: {type(exc).__name__}: {exc}"
    return result


async def _until_api_gone(kube: Kube, name: str, timeout: float) -> dict[str, Any] | None:
    """Until the API server stops answering (the lab's break took hold); the Lab as last seen,
    which names the node and its shell (written before the node is changed)."""
    deadline = time.monotonic() + timeout
    lab = await wait_for(
        kube,
        API_VERSION,
        "Lab",
        name,
        changes_recorded,
        timeout,
    )
    while time.monotonic() < deadline:
        try:
            lab = await asyncio.wait_for(kube.get(API_VERSION, "Lab", name), 5)
        except Exception:  # refused, reset, timed out or 5xx while shutting down: all "gone"
            return lab
        await asyncio.sleep(0.5)
    raise AssertionError(f"the API server still answers {timeout:.0f}s after the lab started")


async def _api_back_or_repaired(
    kube: Kube, folder: LabFolder, name: str, seed: int, lab_status: dict[str, Any]
) -> None:
    """A run that failed or a shortcut may leave the API server down, and nothing can delete a
    Lab then: the reference solution's node steps repair it, so the self-test never leaves the
    cluster broken (the node agent would, only after the lab's restoreAfterSeconds)."""
    try:
        await wait_lab(kube, name, lambda o: True, 60)
        return
    except TimeoutError:
        pass
    shell = lab_status.get("shell")
    if not shell:
        return
    solution = render(folder.spec, folder.id, name, seed, lab_status.get("node"), shell).solution
    for step in solution.steps:
        if step.on_node is not None:
            await run_on_node(shell, step.on_node)
    await wait_lab(kube, name, lambda o: True, 180)


async def as_learner(
    kube: Kube, learner: str, solution: Solution, namespace: str, shell: str | None
) -> None:
    """The solution's API steps as `learner` (node steps go through the node's shell, as a
    learner's `docker exec` would); a refusal names the right the learner lacks."""
    own = kube.impersonating(learner)
    try:
        await apply_solution(own, solution, namespace, shell, create_first=True)
    except ApiException as exc:
        if exc.status != 403:
            raise
        raise AssertionError(
            f"the learner may not do the task: {_refusal(exc)} (the lab's learnerRights?)"
        ) from None
    finally:
        await own.close()


def _refusal(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except ValueError:
        return str(exc.reason)


async def wait_lab(
    kube: Kube, name: str, predicate: Callable[[Any], bool], timeout: float
) -> dict[str, Any] | None:
    return await steady_wait(kube, API_VERSION, "Lab", name, predicate, timeout)


async def steady_wait(
    kube: Kube,
    api_version: str,
    kind: str,
    name: str,
    predicate: Callable[[Any], bool],
    timeout: float,
    namespace: str | None = None,
) -> dict[str, Any] | None:
    """`wait_for`, riding out an API server that restarts meanwhile (a control-plane lab broken,
    repaired or put back)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{kind} {name}: condition not met within {timeout:.0f}s")
        try:
            return await wait_for(kube, api_version, kind, name, predicate, remaining, namespace)
        except Exception as exc:
            if not settling(exc):
                raise
            await asyncio.sleep(1)
        except ApiException as exc:
            # An API server starting up answers 403 until its RBAC caches fill, and 5xx.
            if exc.status not in (403, 429) and (exc.status or 0) < 500:
                raise
            await asyncio.sleep(1)


def _solved(lab: Any) -> bool:
    return bool(lab_condition(lab, "Solved").get("status") == "True")


def _failing(lab: Any) -> set[str]:
    checks = (lab or {}).get("status", {}).get("checks") or []
    return {str(c.get("name")) for c in checks if not c.get("passed")}


async def _stays_unsolved(kube: Kube, name: str, seconds: float) -> None:
    try:
        lab = await wait_lab(kube, name, _solved, seconds)
    except TimeoutError:
        return
    raise AssertionError(
        f"the shortcut was graded Solved: {lab_condition(lab, 'Solved').get('message')}"
    )


async def cleanup_lab(
    kube: Kube,
    name: str,
    cluster_objects: list[dict[str, Any]],
    node_changes: list[dict[str, Any]] | None = None,
) -> None:
    # After a lab that took the API server down, it may still be coming back.
    await wait_lab(kube, name, lambda o: True, 120)
    await patiently(lambda: kube.delete(API_VERSION, "Lab", name))
    await wait_lab(kube, name, lambda o: o is None, 240)
    # The Lab is gone once its node is put back. Its namespace goes meanwhile; a node lab's is
    # checked at the end of the run (`namespaces_gone`), so the next one need not wait for it.
    if node_changes:
        await asyncio.gather(*(_node_back(kube, name, record) for record in node_changes))
    else:
        await wait_for(kube, "v1", "Namespace", namespace_for(name), lambda o: o is None, 180)
    for ref in cluster_objects:
        get = functools.partial(kube.get, ref["apiVersion"], ref["kind"], ref["name"])
        if await patiently(get):
            await wait_for(
                kube, ref["apiVersion"], ref["kind"], ref["name"], lambda o: o is None, 60
            )


async def _node_back(kube: Kube, name: str, record: dict[str, Any]) -> None:
    node = await steady_wait(kube, "v1", "Node", record["node"], lambda o: True, 120)
    if node is not None and holder(node) == name:
        raise AssertionError(f"node {record['node']} still held by {name} after delete")
    taints = {
        (t.get("key"), t.get("effect")) for t in (node or {}).get("spec", {}).get("taints") or []
    }
    left = [t for t in record.get("taints") or [] if (t["key"], t["effect"]) in taints]
    if left:
        raise AssertionError(f"node {record['node']} still has taints {left} after delete")
    for change in record.get("objects") or []:
        await _object_back(kube, change)
    if record.get("agent"):
        # Put back on the node: wait until it and its system pods are healthy again, so the
        # next lab does not start on a control plane still restarting.
        await steady_wait(kube, "v1", "Node", record["node"], node_ready, 180)
        await wait_system_pods(kube, record["node"], 180)


async def _object_back(kube: Kube, change: dict[str, Any]) -> None:
    """An add-on object the lab changed has its values back, and a Deployment has rolled them
    out, so the next lab meets a cluster DNS that works."""
    obj = await kube.get(change["apiVersion"], change["kind"], change["name"], change["namespace"])
    where = f"{change['kind']} {change['namespace']}/{change['name']}"
    for entry in change["originals"]:
        if value_at(obj or {}, tuple(entry["path"])) != entry.get("value"):
            raise AssertionError(f"{where}: {'.'.join(entry['path'])} not put back after delete")
    if change["kind"] == "Deployment":
        await steady_wait(
            kube, change["apiVersion"], "Deployment", change["name"], rolled_out, 180,
            change["namespace"],
        )  # fmt: skip


def rolled_out(deployment: dict[str, Any] | None) -> bool:
    spec, status = (deployment or {}).get("spec", {}), (deployment or {}).get("status", {})
    wanted = spec.get("replicas", 1)
    return bool(
        status.get("observedGeneration") == (deployment or {}).get("metadata", {}).get("generation")
        and status.get("updatedReplicas", 0) == wanted
        and status.get("availableReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
    )


def node_ready(node: dict[str, Any] | None) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node or {}).get("status", {}).get("conditions") or []
    ) and not (node or {}).get("spec", {}).get("unschedulable")


MIRROR_HASH = "kubernetes.io/config.hash"


def _mirrors(pods: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        p["metadata"]["name"]: p
        for p in pods
        if MIRROR_HASH in (p["metadata"].get("annotations") or {})
        and not p["metadata"].get("deletionTimestamp")
    }


async def static_pod_hashes(kube: Kube) -> dict[str, str]:
    """The manifest hash each control-plane static pod runs (its mirror pod says it)."""
    pods = await patiently(lambda: kube.list_objects("v1", "Pod", "kube-system"))
    return {n: p["metadata"]["annotations"][MIRROR_HASH] for n, p in _mirrors(pods).items()}


async def static_pods_back(kube: Kube, hashes: dict[str, str], seconds: float) -> None:
    """Every static pod runs the manifest it ran before the lab again, and is Ready. The Lab is
    gone once the node agent has put the manifests back, but the kubelet restarts a component
    a moment later: the next lab, created in between, met an API server going away (its
    operator then saw nothing for 90 s)."""
    deadline = time.monotonic() + seconds
    waiting: list[str] = sorted(hashes)
    while time.monotonic() < deadline:
        try:
            mirrors = _mirrors(await kube.list_objects("v1", "Pod", "kube-system"))
        except Exception as exc:
            if not settling(exc):
                raise
            await asyncio.sleep(1)
            continue
        waiting = [
            name
            for name, digest in hashes.items()
            if name not in mirrors
            or mirrors[name]["metadata"]["annotations"][MIRROR_HASH] != digest
            or not any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in mirrors[name].get("status", {}).get("conditions") or []
            )
        ]
        if not waiting:
            return
        await asyncio.sleep(1)
    raise AssertionError(f"static pods not back as before the lab: {', '.join(waiting)}")


async def wait_system_pods(kube: Kube, node: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    waiting: list[str] = []
    while time.monotonic() < deadline:
        try:
            pods = await kube.list_objects("v1", "Pod", "kube-system")
        except (OSError, aiohttp.ClientError, ApiException):
            await asyncio.sleep(1)
            continue
        waiting = [
            p["metadata"]["name"]
            for p in pods
            if p.get("spec", {}).get("nodeName") == node
            and not any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in p.get("status", {}).get("conditions") or []
            )
        ]
        if not waiting:
            return
        await asyncio.sleep(1)
    raise AssertionError(f"after delete, kube-system pods on {node} not Ready: {waiting}")


Job = tuple[LabFolder, int, str, Variant | None, bool]


def plan_runs(
    labs: list[LabFolder],
    seeds: list[int] | None,
    seeds_per_lab: int,
    variants: bool,
    node_variants: int | None,
    fixes_per_lab: int | None,
    rng: random.Random,
    shortcuts_per_lab: int | None = None,
    exclusive_share: float = 1.0,
    fix_share: float = 1.0,
) -> list[Job]:
    """The runs of a catalog self-test: (lab, seed, Lab name, variant, expected Solved).
    `exclusive_share` is the chance that an exclusive lab's variants (up to `node_variants`)
    are tried at all this run: such a lab has the cluster to itself for minutes a run.
    `fix_share` is the chance that a namespace lab's other fixes (up to `fixes_per_lab`) are."""
    jobs: list[Job] = []
    for folder in labs:
        stem = f"selftest-{folder.id[: _id_room(folder.spec)]}"
        # With variants, one seed for the reference and each variant its own: as many values of
        # the lab's variables are tried as with more reference runs, in fewer runs.
        count = 1 if variants and folder.variants else seeds_per_lab
        lab_seeds = seeds or rng.sample(range(1, 100_000), count)
        for index, seed in enumerate(lab_seeds):
            jobs.append((folder, seed, f"{stem}-{index}", None, True))
        if variants and folder.variants:
            fixes = list(folder.variants.fixes)
            if fixes_per_lab is not None:
                fixes = rng.sample(fixes, min(fixes_per_lab, len(fixes)))
            if not folder.spec.exclusive and rng.random() >= fix_share:
                fixes = []
            shortcuts = list(folder.variants.shortcuts)
            if shortcuts_per_lab is not None and not folder.spec.exclusive:
                shortcuts = rng.sample(shortcuts, min(shortcuts_per_lab, len(shortcuts)))
            tried = [(v, True) for v in fixes]
            tried += [(v, False) for v in shortcuts]
            if folder.spec.exclusive and node_variants is not None:
                # Shortcuts first, in a random order: each CI run tries another one.
                rng.shuffle(tried)
                tried = sorted(tried, key=lambda t: t[1])[:node_variants]
                if rng.random() >= exclusive_share:
                    tried = []
            for index, (variant, solved) in enumerate(tried):
                seed = lab_seeds[0] if count > 1 else rng.randrange(1, 100_000)
                jobs.append((folder, seed, f"{stem}-v{index}", variant, solved))
    return jobs


def _id_room(spec: ScenarioSpec) -> int:
    """How much of a lab's id its self-test Lab names hold: 40 characters (with `selftest-` and
    `-v12`, 53 of the 59 a Lab name may have), less what the names of the lab's other
    namespaces (`lab-<lab>-<other>`) need beyond the 6 left."""
    longest = max((len(o.name) + 1 for o in spec.namespace.others), default=0)
    return 40 - max(0, longest - 6)


async def run_catalog(
    kube: Kube,
    labs: list[LabFolder],
    seeds: list[int] | None = None,
    seeds_per_lab: int = 2,
    parallel: int = 4,
    variants: bool = True,
    on_result: Callable[[Result], None] | None = None,
    node_variants: int | None = None,
    fixes_per_lab: int | None = None,
    shortcuts_per_lab: int | None = None,
    exclusive_share: float = 1.0,
    fix_share: float = 1.0,
) -> list[Result]:
    """Every lab with each seed, then each variant once; exclusive labs run one at a time.
    `node_variants` caps the variants tried on an exclusive lab (shortcuts first: each also
    shows the lab deleted while still broken): such a run has the cluster to itself.
    `fixes_per_lab` tries at most that many of a lab's other fixes, drawn at random (every
    shortcut is still tried): the reference proves a lab solvable, and a budget that cannot
    hold every fix on every run still tries each of them over a few runs; `shortcuts_per_lab`
    likewise for the shortcuts of namespace labs, and `fix_share` is the chance that a namespace
    lab's drawn fixes run at all."""
    rng = random.Random()
    jobs = plan_runs(
        labs,
        seeds,
        seeds_per_lab,
        variants,
        node_variants,
        fixes_per_lab,
        rng,
        shortcuts_per_lab,
        exclusive_share,
        fix_share,
    )
    gate = asyncio.Semaphore(parallel)
    exclusive = asyncio.Lock()
    # In catalog order a lab's runs start together and the slowest family (workload-*) ends the
    # run alone; in a random order the last minutes keep every slot busy.
    shared = [job for job in jobs if not job[0].spec.exclusive]
    rng.shuffle(shared)
    results: list[Result] = []

    async def one(job: Job) -> None:
        folder, seed, name, variant, solved = job
        async with contextlib.AsyncExitStack() as stack:
            if folder.spec.exclusive:
                await stack.enter_async_context(exclusive)
            await stack.enter_async_context(gate)
            try:
                result = await run_lab(kube, folder, seed, name, variant, solved)
            except Exception as exc:
                # One run's surprise is that run's failure, never the end of the whole catalog
                # (and of every result so far).
                result = Result(folder.id, seed, described(folder, seed, name, variant), name)
                result.error = f"the run itself failed: {type(exc).__name__}: {exc}"
        result.expect_solved = solved
        results.append(result)
        if on_result:
            on_result(result)

    # Exclusive labs change shared state (a node) that would disturb the others: run them
    # afterwards, one at a time.
    await asyncio.gather(*(one(job) for job in shared))
    for job in jobs:
        if job[0].spec.exclusive:
            await one(job)
    await namespaces_gone(kube, [r for r in results if r.node_lab])
    order = {job[2]: i for i, job in enumerate(jobs)}
    return sorted(results, key=lambda r: order.get(r.name, 0))


async def namespaces_gone(kube: Kube, node_runs: list[Result]) -> None:
    """Node labs' namespaces, left to go while the next lab ran: gone by now, or that run fails."""
    for result in node_runs:
        try:
            await wait_for(
                kube, "v1", "Namespace", namespace_for(result.name), lambda o: o is None, 180
            )
        except TimeoutError as exc:
            result.error = result.error or f"namespace left after delete: {exc}"
