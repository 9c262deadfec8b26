"""breakfix benchmark: how fast a fix is noticed, how fast a lab is ready, how far one operator
scales — for the watch-driven operator and, in the same run, a plain 5 s poller.

    python bench/run.py [--fixes 30] [--scale 50,500,1000,2000] [--rest 60] [--out FILE]

Needs the kind cluster (`make bench` brings it up). The operator measured is the chart's
Deployment, from the image built from this tree, with the chart's resource limits, redeployed
for each mode (and back to the chart's defaults at the end). Prints a table and writes JSON
with the machine and git revision (`make bench-compare` compares two). Targets are reported,
never enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

from breakfix import API_VERSION
from breakfix.cli.dashboard import port_forward
from breakfix.kube.client import Kube
from breakfix.kube.solution import apply_solution
from breakfix.scenario.catalog import load_lab
from breakfix.scenario.render import render
from breakfix.selftest.install import install

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE, RELEASE = "breakfix-system", "breakfix"
ROLE_LABEL = "breakfix.dev/role"
console = Console(width=160)
FAST_LAB = "rbac-missing-permission"  # no containers: the fixed state is observable at once
POD_LAB = "pending-insufficient-cpu"  # the fix needs the scheduler and kubelet first
DASHBOARD_PAGES = 10
UPDATES_GRACE_SECONDS = 2.0  # the dashboard's promise: a change on the page within 2 s


@dataclass
class ModeResult:
    mode: str
    fix_operator_s: list[float] = field(default_factory=list)
    fix_cluster_s: list[float] = field(default_factory=list)
    # The pod lab's check holds availability for 2 s on purpose: reported apart, hold included.
    fix_pod_operator_s: list[float] = field(default_factory=list)
    provision_operator_s: list[float] = field(default_factory=list)
    provision_symptoms_s: list[float] = field(default_factory=list)
    # A solved lab reset (spec.reset raised): until it is provisioned again (its old namespace
    # deleted first, which is the cluster's part), and until Ready again.
    reset_provisioned_s: list[float] = field(default_factory=list)
    reset_ready_s: list[float] = field(default_factory=list)
    scale: list[dict[str, Any]] = field(default_factory=list)
    # Grading stage -> mean and p95 (upper bound of its bucket) in ms, over the fixes.
    stages: dict[str, dict[str, float]] = field(default_factory=dict)


class LabWatch:
    """One watch on all Labs, recording when each first showed a given state."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.seen: dict[tuple[str, str], float] = {}
        self.restarts: list[str] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            # A watch that ends or breaks is started again (its first events list every Lab as
            # it is now, so nothing is missed); a silent death would stall every `until`.
            try:
                async for event in self.kube.watch(API_VERSION, "Lab", timeout_seconds=120):
                    self._record(event["object"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts.append(repr(exc))
                await asyncio.sleep(0.5)

    def _record(self, obj: dict[str, Any]) -> None:
        name, now = obj["metadata"]["name"], time.monotonic()
        status = obj.get("status") or {}
        conds = {c["type"]: c["status"] for c in status.get("conditions") or []}
        again = int(status.get("observedReset") or 0) >= 1
        for key, ok in (
            ("provisioned", bool(status.get("provisioned"))),
            ("ready", conds.get("Ready") == "True"),
            ("solved", conds.get("Solved") == "True"),
            # After the first reset: provisioned and Ready again.
            ("reset-provisioned", again and bool(status.get("provisioned"))),
            ("reset-ready", again and conds.get("Ready") == "True"),
        ):
            if ok:
                self.seen.setdefault((name, key), now)

    async def until(self, name: str, key: str, timeout: float = 300) -> float:
        deadline = time.monotonic() + timeout
        next_read = time.monotonic() + 0.25
        while (name, key) not in self.seen:
            if time.monotonic() >= next_read:
                # The watch can fail for minutes at a time (seen at 500 labs): then read the Lab
                # itself, four times a second, so the figure is bounded by 0.25 s, not lost.
                next_read = time.monotonic() + 0.25
                if self.restarts and (lab := await self.kube.get(API_VERSION, "Lab", name)):
                    self._record(lab)
                    continue
            if time.monotonic() > deadline:
                lab = await self.kube.get(API_VERSION, "Lab", name) or {}
                conditions = (lab.get("status") or {}).get("conditions")
                raise TimeoutError(
                    f"{name}: no {key} within {timeout}s; the Lab's conditions now: "
                    f"{conditions}; watch restarts: {self.restarts[-3:]}"
                )
            await asyncio.sleep(0.01)
        return self.seen[(name, key)]

    def stop(self) -> None:
        if self.task:
            self.task.cancel()


class Operator:
    """The chart's Deployment in the kind cluster, from the operator's image, with the chart's
    resource limits: deployed for one mode (watches, or the `poll`-second poller) and reached
    through a port-forward to the replica that holds the Lease. RSS and CPU are the process's
    own (its Prometheus process metrics)."""

    def __init__(self, poll: float | None, log: Path) -> None:
        self.poll, self.log = poll, log
        self.forward: subprocess.Popen[str] | None = None
        self.token = ""

    def start(self) -> None:
        deploy(
            "--set", "operator.safetySeconds=300",
            "--set", f"operator.pollSeconds={int(self.poll or 0)}",
            "--set", f"dashboard.enabled={'false' if self.poll else 'true'}",
        )  # fmt: skip
        pod = leader_pod()
        self.metrics_port, self.dashboard_port = free_port(), free_port()
        ports = [f"{self.metrics_port}:8080"]
        if not self.poll:
            ports.append(f"{self.dashboard_port}:8082")
            self.token = kubectl_out(
                "get", "secret", f"{RELEASE}-dashboard", "-o", "jsonpath={.data.token}"
            )
            self.token = base64.b64decode(self.token).decode()
        self.forward = port_forward(NAMESPACE, f"pod/{pod}", *ports)

    def stop(self) -> None:
        command = ["kubectl", "-n", NAMESPACE, "logs", f"deploy/{RELEASE}", "--tail=2000"]
        logs = subprocess.run(command, capture_output=True, text=True, check=False)
        self.log.write_text(logs.stdout + logs.stderr)
        if self.forward:
            self.forward.terminate()
            self.forward.wait(10)

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def counter(self, name: str) -> float:
        """One of the operator's own Prometheus series (breakfix_*_total, process_*)."""
        match = re.search(rf"^{name} (\S+)$", self.metrics(), re.M)
        return float(match.group(1)) if match else 0.0

    async def settle(self, quiet: float = 5.0, limit: float = 300.0) -> float:
        """Wait until the operator has evaluated no lab for `quiet` seconds (Kopf drains its
        backlog of Lab events after a burst of creations); returns how long that took."""
        started = last_change = time.monotonic()
        seen = self.counter("breakfix_lab_evaluations_total")
        while time.monotonic() - last_change < quiet and time.monotonic() - started < limit:
            await asyncio.sleep(0.5)
            now = self.counter("breakfix_lab_evaluations_total")
            if now != seen:
                seen, last_change = now, time.monotonic()
        return time.monotonic() - started

    def stages(self) -> dict[str, dict[str, float]]:
        """The operator's grading-stage histogram: per stage its cumulative buckets (by upper
        bound, as text), sum and count."""
        out: dict[str, dict[str, float]] = {}
        pattern = r"^breakfix_grading_stage_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)$"
        for kind, labels, value in re.findall(pattern, self.metrics(), re.M):
            label = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            stage = label["stage"]
            key = f"le={label['le']}" if kind == "bucket" else kind
            out.setdefault(stage, {})[key] = float(value)
        return out

    def rss_mib(self) -> float:
        return self.counter("process_resident_memory_bytes") / 2**20

    def cpu_seconds(self) -> float:
        return self.counter("process_cpu_seconds_total")


def kubectl_out(*args: str) -> str:
    return subprocess.run(
        ["kubectl", "-n", NAMESPACE, *args], capture_output=True, text=True, check=True
    ).stdout


def deploy(*helm_args: str) -> None:
    """`hack/kind deploy`: the image built from this tree, the chart upgraded, rolled out."""
    subprocess.run([sys.executable, str(ROOT / "hack/kind"), "deploy", *helm_args], check=True)


def leader_pod(timeout: float = 120) -> str:
    """The running replica that labelled itself leader (a replaced one may still terminate)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = json.loads(kubectl_out("get", "pods", "-l", f"{ROLE_LABEL}=leader", "-o", "json"))[
            "items"
        ]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if live:
            return str(live[0]["metadata"]["name"])
        time.sleep(1)
    raise TimeoutError(f"no operator pod labelled {ROLE_LABEL}=leader in {NAMESPACE}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def api_metrics(kube: Kube) -> str:
    return await kube.text("/metrics")


async def api_watches(kube: Kube) -> int:
    """Watches the API server holds open for the operator's ServiceAccount, by its own
    gauge of long-running requests (every client's): the operator's minus an idle cluster's is
    what is reported, so measured with and without it."""
    body = await api_metrics(kube)
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in body.splitlines()
            if line.startswith("apiserver_longrunning_requests{") and 'verb="WATCH"' in line
        )
    )


async def api_requests(kube: Kube) -> float:
    """The API server's own count of requests served so far (all clients)."""
    body = await api_metrics(kube)
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("apiserver_request_total{")
    )


FLOOR_SAMPLES = 50
# Labs of each scale step fixed one at a time before its storm.
SINGLE_FIXES = 10
# Solved labs reset one at a time after the fixes.
RESETS = 10


async def api_floor(kube: Kube) -> dict[str, list[float]]:
    """What the API server itself takes for the steps no grading can skip, measured with no
    operator running: a write seen through a watch (the least a fix→Solved can take: the fix's
    event, one status write), and one SubjectAccessReview (the least an RBAC check asks)."""
    name, namespace = "bench-floor", "default"
    await kube.apply({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": name, "namespace": namespace}})  # fmt: skip
    seen: dict[str, float] = {}
    ready, arrived = asyncio.Event(), asyncio.Event()

    async def watch() -> None:
        async for event in kube.watch(
            "v1", "ConfigMap", namespace, field_selector=f"metadata.name={name}"
        ):
            ready.set()
            mark = (event["object"]["metadata"].get("annotations") or {}).get("bench")
            if mark:
                seen.setdefault(mark, time.monotonic())
                arrived.set()

    watcher = asyncio.create_task(watch())
    out: dict[str, list[float]] = {"write_seen_s": [], "write_s": [], "access_review_s": []}
    try:
        await asyncio.wait_for(ready.wait(), 30)
        for i in range(FLOOR_SAMPLES):
            mark = f"{time.time()}-{i}"
            patch = {"metadata": {"annotations": {"bench": mark}}}
            arrived.clear()
            sent = time.monotonic()
            await kube.patch("v1", "ConfigMap", name, patch, "merge", namespace)
            out["write_s"].append(time.monotonic() - sent)
            while mark not in seen:
                await asyncio.wait_for(arrived.wait(), 10)
                arrived.clear()
            out["write_seen_s"].append(seen[mark] - sent)
            sent = time.monotonic()
            await kube.can_i("bench", [], {"verb": "get", "resource": "pods", "namespace": "x"})
            out["access_review_s"].append(time.monotonic() - sent)
            await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
        await kube.delete("v1", "ConfigMap", name, namespace)
    return out


def lab_body(name: str, scenario: str, seed: int) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Lab",
        "metadata": {"name": name, "labels": {"breakfix.dev/bench": "yes"}},
        "spec": {"scenario": scenario, "seed": seed},
    }


async def wait_pod_ready(kube: Kube, namespace: str, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pod in await kube.list_objects("v1", "Pod", namespace):
            for cond in pod.get("status", {}).get("conditions") or []:
                if cond["type"] == "Ready" and cond["status"] == "True":
                    return time.monotonic()
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no Ready pod in {namespace}")


async def delete_all(kube: Kube) -> None:
    labs = [
        lab
        for lab in await kube.list_objects(API_VERSION, "Lab")
        if (lab["metadata"].get("labels") or {}).get("breakfix.dev/bench")
    ]
    await asyncio.gather(
        *(kube.delete(API_VERSION, "Lab", lab["metadata"]["name"]) for lab in labs)
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        left = [
            n
            for n in await kube.list_objects("v1", "Namespace")
            if n["metadata"]["name"].startswith("lab-bench-")
        ]
        if not left and not [
            lab
            for lab in await kube.list_objects(API_VERSION, "Lab")
            if lab["metadata"]["name"].startswith("bench-")
        ]:
            return
        await asyncio.sleep(1)


def stage_figures(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Per stage, from two readings of the histogram: gradings, mean ms, and the upper bound of
    the bucket holding the 95th percentile, in ms."""
    out = {}
    for stage, now in after.items():
        then = before.get(stage, {})
        count = now.get("count", 0) - then.get("count", 0)
        if count <= 0:
            continue
        mean = (now.get("sum", 0) - then.get("sum", 0)) / count
        bounds = sorted((float(k[3:]), now[k] - then.get(k, 0)) for k in now if k.startswith("le="))
        p95 = next((le for le, n in bounds if n >= 0.95 * count), float("inf"))
        out[stage] = {"gradings": count, "mean_ms": round(1000 * mean, 1),
                      "p95_at_most_ms": round(1000 * p95, 1)}  # fmt: skip
    return out


async def fix_latency(
    kube: Kube, watch: LabWatch, op: Operator, result: ModeResult, fixes: int
) -> None:
    folders = {s: load_lab(ROOT / "labs" / s) for s in (FAST_LAB, POD_LAB)}
    pod_fixes = max(1, fixes // 5)
    plan = [(FAST_LAB, i) for i in range(fixes)] + [(POD_LAB, i) for i in range(pod_fixes)]
    names = []
    for scenario, i in plan:
        name = f"bench-{result.mode}-{scenario[:12]}-{i}"
        names.append((name, scenario, i))
        created = time.monotonic()
        await kube.apply(lab_body(name, scenario, 1000 + i))
        provisioned = await watch.until(name, "provisioned")
        ready = await watch.until(name, "ready")
        result.provision_operator_s.append(provisioned - created)
        result.provision_symptoms_s.append(ready - provisioned)
    # A fix lands at a random moment: fixes in lockstep would meet a poller's ticks in phase.
    rng = random.Random(7)
    stages_before = op.stages()
    for name, scenario, i in names:
        await asyncio.sleep(rng.uniform(0, 5))
        folder = folders[scenario]
        solution = render(folder.spec, scenario, name, 1000 + i).solution
        await apply_solution(kube, solution, f"lab-{name}")
        fixed = time.monotonic()
        observable = fixed
        if scenario == POD_LAB:
            observable = await wait_pod_ready(kube, f"lab-{name}")
        solved = await watch.until(name, "solved", 120)
        result.fix_cluster_s.append(observable - fixed)
        operator_part = max(0.0, solved - observable)
        if scenario == POD_LAB:
            result.fix_pod_operator_s.append(operator_part)
        else:
            result.fix_operator_s.append(operator_part)
    result.stages = stage_figures(stages_before, op.stages())
    for name, _, _ in names[:RESETS]:
        asked = time.monotonic()
        await kube.patch(API_VERSION, "Lab", name, {"spec": {"reset": 1}}, "merge")
        result.reset_provisioned_s.append(await watch.until(name, "reset-provisioned") - asked)
        result.reset_ready_s.append(await watch.until(name, "reset-ready") - asked)


async def scale_step(
    kube: Kube, watch: LabWatch, op: Operator, result: ModeResult, count: int, rest: float
) -> None:
    existing = sum(
        1 for (n, k) in watch.seen if k == "ready" and n.startswith(f"bench-{result.mode}-scale-")
    )
    started = time.monotonic()
    for i in range(existing, count):
        await kube.apply(lab_body(f"bench-{result.mode}-scale-{i}", FAST_LAB, 5000 + i))
    for i in range(count):
        await watch.until(f"bench-{result.mode}-scale-{i}", "ready", 900)
    ready_after = time.monotonic() - started
    # A poller is never quiet: its rest is its polling, which is what is measured.
    settled_after = 0.0 if op.poll else await op.settle()
    requests_before, cpu_before = await api_requests(kube), op.cpu_seconds()
    evaluations_before = op.counter("breakfix_lab_evaluations_total")
    writes_before = op.counter("breakfix_status_writes_total")
    await asyncio.sleep(rest)
    requests = await api_requests(kube) - requests_before
    cpu = op.cpu_seconds() - cpu_before
    evaluations = op.counter("breakfix_lab_evaluations_total") - evaluations_before
    writes = op.counter("breakfix_status_writes_total") - writes_before
    watches = await api_watches(kube)
    rss_at_rest = op.rss_mib()
    dashboard = await DashboardLoad.open(op) if not op.poll else None
    # A fix storm under this load: a tenth of the labs this step created (at least five; the
    # earlier steps' labs are solved already) fixed at once; the operator part of each, and
    # the operator's CPU while it lasts.
    folder = load_lab(ROOT / "labs" / FAST_LAB)
    storm = range(count - max(5, (count - existing) // 10), count)

    async def fix(i: int) -> float:
        name = f"bench-{result.mode}-scale-{i}"
        await apply_solution(
            kube, render(folder.spec, FAST_LAB, name, 5000 + i).solution, f"lab-{name}"
        )
        fixed = time.monotonic()
        return await watch.until(name, "solved", 300) - fixed

    # First SINGLE_FIXES labs fixed one at a time, a random pause apart: what one learner's fix
    # costs with this many labs held (the storm's figure grows with the storm's own size too).
    rng = random.Random(count)
    singles = []
    for i in range(storm.start - SINGLE_FIXES, storm.start):
        await asyncio.sleep(rng.uniform(0, 1))
        singles.append(await fix(i))
    cpu_before, storm_started = op.cpu_seconds(), time.monotonic()
    latencies = await asyncio.gather(*(fix(i) for i in storm))
    storm_s = time.monotonic() - storm_started
    storm_cpu = op.cpu_seconds() - cpu_before
    result.scale.append(
        {
            "labs": count,
            "time_to_all_ready_s": round(ready_after, 1),
            "quiet_after_ready_s": round(settled_after, 1),
            "evaluations_per_lab_per_min_at_rest": round(evaluations / count / (rest / 60), 3),
            "status_writes_at_rest": int(writes),
            "operator_rss_mib": round(rss_at_rest, 1),
            "operator_cpu_percent_at_rest": round(100 * cpu / rest, 2),
            "api_requests_per_lab_per_min_at_rest": round(requests / count / (rest / 60), 3),
            "api_requests_total_at_rest_per_min": round(requests / (rest / 60), 1),
            "operator_watch_connections": watches,
            "fix_one_at_a_time_p50_s": round(statistics.median(singles), 3),
            "fix_one_at_a_time_p95_s": round(pct(singles, 0.95), 3),
            "fix_storm_labs": len(latencies),
            "fix_to_solved_under_load_p50_s": round(statistics.median(latencies), 3),
            "fix_to_solved_under_load_p95_s": round(pct(latencies, 0.95), 3),
            "fix_to_solved_under_load_max_s": round(max(latencies), 3),
            "operator_cpu_percent_in_fix_storm": round(100 * storm_cpu / storm_s, 1),
            "operator_rss_mib_after_fix_storm": round(op.rss_mib(), 1),
            **(await dashboard.close(op) if dashboard else {}),
        }
    )
    console.print(f"[dim]{result.mode}: {result.scale[-1]}[/dim]")


class DashboardLoad:
    """The class page loaded once, and DASHBOARD_PAGES pages left open on its event stream while
    labs are fixed: the page's load time and what the open pages cost the operator in RSS."""

    def __init__(self, session: aiohttp.ClientSession, rss_before: float, load_s: float) -> None:
        self.session, self.rss_before, self.load_s = session, rss_before, load_s
        self.rss_open = rss_before
        self.streams: list[aiohttp.ClientResponse] = []
        self.received = 0
        self.errors: list[str] = []
        self.readers: list[asyncio.Task[None]] = []

    @classmethod
    async def open(cls, op: Operator) -> DashboardLoad:
        base = f"http://127.0.0.1:{op.dashboard_port}"
        headers = {"Authorization": f"Bearer {op.token}"}
        session = aiohttp.ClientSession(base, headers=headers)
        rss_before = op.rss_mib()
        started = time.monotonic()
        async with session.get("/") as page:
            await page.read()
            page.raise_for_status()  # a refused page loads fast too
        load = cls(session, rss_before, time.monotonic() - started)
        for _ in range(DASHBOARD_PAGES):
            stream = await session.get("/events?page=class")
            stream.raise_for_status()
            load.streams.append(stream)
            load.readers.append(asyncio.create_task(load._read(stream)))
        # What the open pages cost, measured before the fixes: a storm's own garbage would
        # count as theirs.
        await asyncio.sleep(5)
        load.rss_open = op.rss_mib()
        return load

    async def _read(self, stream: aiohttp.ClientResponse) -> None:
        try:
            async for line in stream.content:
                if line.startswith(b"data: "):
                    self.received += 1
        except Exception as exc:  # a stream that broke counts no more updates: say why
            self.errors.append(f"{type(exc).__name__}: {exc}")

    async def close(self, op: Operator) -> dict[str, Any]:
        grown = self.rss_open - self.rss_before
        # A page is sent what changed after a short coalescing pause: a storm of 5 fixes is over
        # in a fraction of a second, and closing at once counted none of their updates.
        await asyncio.sleep(UPDATES_GRACE_SECONDS)
        for reader in self.readers:
            reader.cancel()
        for stream in self.streams:
            stream.close()
        await self.session.close()
        return {
            "dashboard_page_load_s": round(self.load_s, 3),
            "dashboard_rss_growth_10_pages_mib": round(grown, 1),
            "dashboard_updates_received": self.received,
            "dashboard_stream_errors": sorted(set(self.errors)),
        }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_mode(
    mode: str, poll: float | None, args: argparse.Namespace, baseline_rpm: float
) -> ModeResult:
    result = ModeResult(mode=mode)
    kube = await Kube.connect()
    op = Operator(poll, Path(args.out).parent / f"operator-{mode}.log")
    watch = LabWatch(kube)
    try:
        await delete_all(kube)
        op.start()
        await asyncio.sleep(3)
        watch.start()
        console.print(f"[bold]{mode}[/bold]: fix and provisioning latency over {args.fixes} labs")
        await fix_latency(kube, watch, op, result, args.fixes)
        await delete_all(kube)
        for count in args.poll_scale if poll else args.scale:
            console.print(f"[bold]{mode}[/bold]: {count} labs at rest for {args.rest:.0f}s")
            await scale_step(kube, watch, op, result, count, args.rest)
        for row in result.scale:
            row["api_requests_per_lab_per_min_at_rest_minus_idle_cluster"] = round(
                max(0.0, row["api_requests_total_at_rest_per_min"] - baseline_rpm) / row["labs"], 3
            )
    finally:
        watch.stop()
        await delete_all(kube)
        op.stop()
        await kube.close()
    return result


async def idle_cluster(rest: float) -> tuple[float, int]:
    """The cluster with no operator running: API requests per minute, watches held."""
    kubectl_out("scale", f"deployment/{RELEASE}", "--replicas=0")
    operator_pods = "app.kubernetes.io/name=breakfix,app.kubernetes.io/component!=agent"
    kubectl_out("wait", "--for=delete", "pod", "-l", operator_pods, "--timeout=120s")
    kube = await Kube.connect()
    try:
        before = await api_requests(kube)
        await asyncio.sleep(rest)
        return (await api_requests(kube) - before) / (rest / 60), await api_watches(kube)
    finally:
        await kube.close()


def ratio(a: str, b: str) -> str:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return "-"
    return f"{y / x:.1f}x" if x > 0 else "-"


def summary(results: list[ModeResult]) -> list[dict[str, Any]]:
    """The table's rows: measure, value per mode (as printed), target. Stored in the JSON, so
    `make bench-compare` compares exactly what was printed."""
    rows: list[dict[str, Any]] = []

    def row(label: str, values: list[str], target: str = "") -> None:
        modes = [r.mode for r in results]
        rows.append({"measure": label, "values": dict(zip(modes, values, strict=True)),
                     "target": target})  # fmt: skip

    for label, attr in (
        ("fix→Solved, operator part", "fix_operator_s"),
        ("fix→Solved, pod lab incl. its 2 s hold", "fix_pod_operator_s"),
        ("fix→Solved, cluster part", "fix_cluster_s"),
        ("provisioning, operator part", "provision_operator_s"),
        ("provisioning, waiting for symptoms", "provision_symptoms_s"),
        ("reset → provisioned again (old namespace deleted first)", "reset_provisioned_s"),
        ("reset → Ready again", "reset_ready_s"),
    ):
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            target = ""
            if attr == "fix_operator_s" and name == "p95":
                target = "≤ 0.020"
            if attr == "provision_operator_s" and name == "p95":
                target = "≤ 0.5"
            row(f"{label} {name}", [f"{pct(getattr(r, attr), q):.3f}" for r in results], target)
        row(f"{label} max", [f"{max(getattr(r, attr), default=float('nan')):.3f}" for r in results])
    for stage in ("wake", "checks", "confirm", "write", "symptoms"):
        for key, label in (("mean_ms", "mean"), ("p95_at_most_ms", "p95 ≤")):
            row(
                f"grading stage {stage}, {label} (ms, during the fixes)",
                [str(r.stages.get(stage, {}).get(key, "-")) for r in results],
            )
    sizes = sorted({s["labs"] for r in results for s in r.scale})
    for size in sizes:
        cells = {r.mode: next((s for s in r.scale if s["labs"] == size), None) for r in results}
        for key, label, target in (
            ("operator_rss_mib", "operator RSS MiB", "≤ 250 at 2000"),
            ("operator_cpu_percent_at_rest", "operator CPU % at rest", ""),
            (
                "api_requests_per_lab_per_min_at_rest_minus_idle_cluster",
                "API requests/lab/min at rest",
                "≈ 0",
            ),
            ("evaluations_per_lab_per_min_at_rest", "lab evaluations/lab/min at rest", "≈ 0"),
            ("status_writes_at_rest", "status writes at rest", "0"),
            ("operator_watch_connections", "watch connections held", ""),
            ("operator_cpu_percent_in_fix_storm", "operator CPU % in a fix storm", ""),
            ("operator_rss_mib_after_fix_storm", "operator RSS MiB after the storm", ""),
            ("fix_one_at_a_time_p50_s", "fix→Solved one at a time p50", "≤ 2x at 50"),
            ("fix_one_at_a_time_p95_s", "fix→Solved one at a time p95", ""),
            ("fix_storm_labs", "labs fixed at once in the storm", ""),
            ("fix_to_solved_under_load_p50_s", "fix→Solved in the storm p50", ""),
            ("fix_to_solved_under_load_p95_s", "fix→Solved in the storm p95", ""),
            ("time_to_all_ready_s", "all labs Ready after", ""),
            ("quiet_after_ready_s", "operator quiet after Ready", ""),
            ("dashboard_page_load_s", "dashboard class page load s", "< 1 at 500"),
            ("dashboard_rss_growth_10_pages_mib", "RSS growth, 10 open dashboards MiB", "< 20"),
        ):
            row(
                f"{size} labs: {label}",
                [str(c.get(key, "-")) if c else "-" for c in cells.values()],
                target,
            )
    return rows


def table(rows: list[dict[str, Any]], columns: list[str], title: str) -> Table:
    """The rows, one column per mode (or run), and the ratio of the second to the first."""
    out = Table(title=title)
    out.add_column("measure")
    for column in columns:
        out.add_column(column, justify="right")
    both = len(columns) == 2
    if both:
        out.add_column(f"{columns[1]}/{columns[0]}", justify="right")
    out.add_column("target")
    for r in rows:
        values = [str(r["values"].get(c, "-")) for c in columns]
        out.add_row(r["measure"], *values, *([ratio(*values)] if both else []), r["target"])
    return out


def report(results: list[ModeResult], baseline_rpm: float, floor: dict[str, list[float]]) -> None:
    rows = summary(results)
    console.print(
        table(rows, [r.mode for r in results], "breakfix benchmark (seconds unless stated)")
    )
    console.print(
        "API server floor, no operator running (s, p50 / p95 / max of "
        f"{FLOOR_SAMPLES}): "
        + "; ".join(
            f"{label} {pct(floor[key], 0.5):.4f} / {pct(floor[key], 0.95):.4f} / "
            f"{max(floor[key]):.4f}"
            for key, label in (
                ("write_s", "a merge PATCH"),
                ("write_seen_s", "a PATCH seen through a watch"),
                ("access_review_s", "a SubjectAccessReview"),
            )
        )
    )
    m = machine()
    console.print(
        f"idle cluster (no operator): {baseline_rpm:.1f} API requests/min; "
        f"machine: {m['node']}, {m['cpus']} CPUs, {m['memory_gib']} GiB; revision {revision()}"
    )


def machine() -> dict[str, Any]:
    return {
        "node": platform.node(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def revision() -> str:
    """The commit measured, and `+dirty` when the tree had changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=False).stdout.strip()  # fmt: skip

    return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain") else "")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fixes", type=int, default=30)
    parser.add_argument("--scale", default="50,500,1000,2000")
    parser.add_argument(
        "--poll-scale",
        default="50,200",
        help="the poller's lab counts: it lists every RBAC object of the cluster for every lab "
        "every 5 s, so at 500 labs it measures the API server's collapse, not itself",
    )
    parser.add_argument("--rest", type=float, default=60.0)
    parser.add_argument("--modes", default="watch,poll")
    parser.add_argument("--out", default=str(ROOT / "bench-results/bench.json"))
    args = parser.parse_args()
    args.scale = [int(x) for x in args.scale.split(",") if x]
    args.poll_scale = [int(x) for x in args.poll_scale.split(",") if x]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    kube = await Kube.connect()
    await install(kube, [load_lab(ROOT / "labs" / FAST_LAB), load_lab(ROOT / "labs" / POD_LAB)])
    await kube.close()
    console.print(f"measuring the idle cluster for {args.rest:.0f}s")
    baseline, idle_watches = await idle_cluster(args.rest)
    kube = await Kube.connect()
    floor = await api_floor(kube)
    await kube.close()
    results = []
    for mode in args.modes.split(","):
        result = await run_mode(mode, 5.0 if mode == "poll" else None, args, baseline)
        for row in result.scale:
            row["operator_watch_connections"] -= idle_watches
        results.append(result)
    # Back to the chart's defaults: the cluster is left as `make up` leaves it.
    deploy()
    report(results, baseline, floor)
    Path(args.out).write_text(
        json.dumps(
            {
                "machine": machine(),
                "revision": revision(),
                "args": {k: v for k, v in vars(args).items() if k != "out"},
                "idle_cluster_requests_per_min": baseline,
                "api_floor": floor,
                "results": [asdict(r) for r in results],
                "summary": summary(results),
            },
            indent=2,
        )
    )
    console.print(f"JSON: {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
