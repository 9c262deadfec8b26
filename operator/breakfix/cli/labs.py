"""Commands on the catalog and on one lab: list, show, start, status, hint, reset."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from breakfix import API_VERSION
from breakfix.cli.session import CliError, get_lab, get_scenario
from breakfix.cli.view import lab_panel, live, placeholders, task
from breakfix.kube.client import Kube, wait_for
from breakfix.lab.conditions import lab_condition as condition
from breakfix.lab.conditions import ready_or_stuck
from breakfix.lab.nodes import changes_recorded
from breakfix.scenario.curriculum import COMPETENCIES, competency_of
from breakfix.scenario.models import Invariants, ScenarioSpec, with_constraints
from breakfix.scenario.render import render

# With no status this long after creation, the operator is assumed not to be running.
OPERATOR_SILENCE_SECONDS = 15.0


async def list_scenarios(
    kube: Kube, console: Console, tags: list[str], difficulty: str | None
) -> None:
    items = await kube.list_objects(API_VERSION, "Scenario")
    table = Table(title="breakfix scenarios, by the CKA/CKS competency they train")
    table.add_column("competency")
    table.add_column("name", no_wrap=True)
    table.add_column("title")
    for column in ("difficulty", "category", "minutes"):
        table.add_column(column, no_wrap=True)
    table.add_column("tags")
    shown = 0
    order = {key: index for index, key in enumerate(COMPETENCIES)}

    def trains(item: dict[str, Any]) -> str:
        spec = item["spec"]
        return competency_of(spec.get("category", ""), spec.get("competency"))

    last = None
    for item in sorted(items, key=lambda i: (order.get(trains(i), 99), i["metadata"]["name"])):
        spec = item["spec"]
        if difficulty and spec.get("difficulty") != difficulty:
            continue
        if tags and not set(tags) <= set(spec.get("tags") or []):
            continue
        shown += 1
        key = trains(item)
        known = COMPETENCIES.get(key)
        group = f"{known.exam}: {known.title}" if known else "(none)"
        if last is not None and group != last:
            table.add_section()
        table.add_row(
            group if group != last else "",
            item["metadata"]["name"],
            spec.get("title", ""),
            spec.get("difficulty", ""),
            spec.get("category", ""),
            str(spec.get("estimatedMinutes", "")),
            ", ".join(spec.get("tags") or []),
        )
        last = group
    if not items:
        raise CliError("no Scenarios in this cluster: run `make install` to add the catalog")
    console.print(table)
    console.print(f"{shown} of {len(items)} scenarios")


def stated_task(spec: dict[str, Any]) -> str:
    """The task with the constraints its `invariants` state, as a started lab shows it."""
    if not spec.get("invariants"):
        return str(spec["task"])
    lines = Invariants.model_validate(spec["invariants"]).constraint_lines()
    return with_constraints(str(spec["task"]), lines)


async def show_scenario(kube: Kube, console: Console, name: str) -> None:
    spec = (await get_scenario(kube, name))["spec"]
    console.print(
        f"[bold]{spec['title']}[/bold] · {spec['difficulty']} · {spec['category']} · "
        f"~{spec.get('estimatedMinutes', '?')} min · {len(spec.get('hints') or [])} hints"
    )
    console.print(task(placeholders(stated_task(spec))))
    console.print(f"[dim]Start it with: breakfix start {name}[/dim]")


async def _wait_ready(kube: Kube, name: str, timeout: float) -> dict[str, Any]:
    """Wait for Ready=True, failing fast on a terminal reason or a silent operator."""
    created = time.monotonic()

    while True:
        window = min(OPERATOR_SILENCE_SECONDS, timeout - (time.monotonic() - created))
        try:
            lab = await wait_for(kube, API_VERSION, "Lab", name, ready_or_stuck, max(window, 1))
            break
        except TimeoutError:
            current = await get_lab(kube, name)
            if not current.get("status"):
                raise CliError(
                    f"lab {name} has no status {OPERATOR_SILENCE_SECONDS:.0f}s after creation: "
                    "is the breakfix operator running? (`make run`, or the Helm chart)"
                ) from None
            if time.monotonic() - created >= timeout:
                reason = condition(current, "Ready")
                raise CliError(
                    f"lab {name} not ready after {timeout:.0f}s: "
                    f"{reason.get('reason')}: {reason.get('message')}"
                ) from None
    ready = condition(lab, "Ready")
    if ready.get("status") != "True":
        raise CliError(f"lab {name} failed: {ready.get('reason')}: {ready.get('message')}")
    assert lab is not None
    return lab


async def start_lab(
    kube: Kube, console: Console, scenario: str, name: str | None, seed: int | None, timeout: float
) -> None:
    spec = ScenarioSpec.model_validate((await get_scenario(kube, scenario))["spec"])
    name = name or scenario[:59].rstrip("-")
    if await kube.get(API_VERSION, "Lab", name) is not None:
        raise CliError(
            f"a lab named {name!r} exists already: `breakfix status {name}`, or "
            "pick another with --name",
            2,
        )
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Lab",
        "metadata": {"name": name},
        "spec": {"scenario": scenario},
    }
    if seed is not None:
        body["spec"]["seed"] = seed
    await kube.apply(body)
    takes_api = spec.node_changes is not None and spec.node_changes.takes_api_server
    with console.status(f"provisioning {scenario} as lab {name}..."):
        if takes_api:
            # Its status says Ready only once the API server answers again: the task is known
            # as soon as the lab has chosen its node, just before the API server goes away.
            lab = await wait_for(
                kube,
                API_VERSION,
                "Lab",
                name,
                changes_recorded,
                timeout,
            )
        else:
            lab = await _wait_ready(kube, name, timeout)
    status = (lab or {})["status"]
    node, shell = status.get("node"), status.get("shell")
    rendered = render(spec, scenario, name, int(status["seed"]), node, shell)
    console.print(task(rendered.task))
    console.print(
        f"\nYour lab runs in namespace [bold]{status['namespace']}[/bold] "
        f"(seed {status['seed']}). Work there with:\n"
        f"  kubectl config set-context --current --namespace {status['namespace']}"
    )
    if shell:
        console.print(f"A root shell on node [bold]{node}[/bold]: [bold]{shell}[/bold]")
    if takes_api:
        console.print(
            "The API server is going down now: kubectl will not answer until you repair it. "
            f"Then: breakfix status {name}"
        )
    else:
        console.print(f"Follow the checks with: breakfix status {name} --watch")


async def show_status(kube: Kube, console: Console, name: str, watch: bool) -> bool:
    lab = await get_lab(kube, name)
    if not watch:
        console.print(lab_panel(lab))
        return condition(lab, "Solved").get("status") == "True"
    with live(console, lab_panel(lab)) as view:

        def solved(obj: dict[str, Any] | None) -> bool:
            if obj is None:
                raise CliError(f"lab {name} was deleted")
            view.update(lab_panel(obj))
            return condition(obj, "Solved").get("status") == "True"

        await wait_for(kube, API_VERSION, "Lab", name, solved, timeout=24 * 3600)
    return True


async def reveal_hint(kube: Kube, console: Console, name: str) -> None:
    lab = await get_lab(kube, name)
    scenario = (await get_scenario(kube, lab["spec"]["scenario"]))["spec"]
    available = len(scenario.get("hints") or [])
    used = int(lab["spec"].get("hints", 0))
    if used >= available:
        raise CliError(f"all {available} hints of lab {name} are revealed already", 2)
    cost = scenario["hints"][used].get("cost", 10)
    await kube.patch(API_VERSION, "Lab", name, {"spec": {"hints": used + 1}}, "merge")
    revealed = await wait_for(
        kube,
        API_VERSION,
        "Lab",
        name,
        lambda o: len((o or {}).get("status", {}).get("hints") or []) > used,
        OPERATOR_SILENCE_SECONDS,
    )
    text = (revealed or {})["status"]["hints"][used]
    console.print(f"[cyan]hint {used + 1}/{available}[/cyan] (-{cost} points): {text}")


async def reset_lab(kube: Kube, console: Console, name: str, timeout: float) -> None:
    lab = await get_lab(kube, name)
    target = int(lab["spec"].get("reset", 0)) + 1
    await kube.patch(API_VERSION, "Lab", name, {"spec": {"reset": target}}, "merge")
    with console.status(f"resetting lab {name}..."):
        await wait_for(
            kube,
            API_VERSION,
            "Lab",
            name,
            lambda o: (o or {}).get("status", {}).get("observedReset") == target,
            timeout,
        )
        await _wait_ready(kube, name, timeout)
    console.print(f"lab {name} is back to its broken state; progress cleared")


async def sleep_forever() -> None:
    await asyncio.Event().wait()
