"""`breakfix grade`: wait for labs, score them, and report for people and CI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from breakfix import API_VERSION
from breakfix.cli.session import CliError, get_lab
from breakfix.kube.client import Kube, wait_for
from breakfix.lab.conditions import lab_condition as condition
from breakfix.report import junit


async def select_labs(
    kube: Kube, names: list[str], all_: bool, selector: str | None
) -> list[dict[str, Any]]:
    if names:
        return [await get_lab(kube, n) for n in names]
    if not (all_ or selector):
        raise CliError("name labs to grade, or pass --all or --selector", 2)
    labs = await kube.list_objects(API_VERSION, "Lab")
    if selector:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        labs = [
            lab
            for lab in labs
            if all((lab["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]
    if not labs:
        raise CliError("no labs match", 2)
    return labs


async def settle(kube: Kube, labs: list[dict[str, Any]], wait: float) -> list[dict[str, Any]]:
    """Each lab as it is once Solved, or when `wait` runs out."""

    async def one(lab: dict[str, Any]) -> dict[str, Any]:
        name = lab["metadata"]["name"]
        try:
            final = await wait_for(
                kube,
                API_VERSION,
                "Lab",
                name,
                lambda o: condition(o, "Solved").get("status") == "True",
                max(wait, 0.001),
            )
            return final or lab
        except TimeoutError:
            return await get_lab(kube, name)

    return list(await asyncio.gather(*(one(lab) for lab in labs)))


def summary(labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for lab in labs:
        status = lab.get("status") or {}
        out.append(
            {
                "lab": lab["metadata"]["name"],
                "scenario": lab["spec"]["scenario"],
                "solved": condition(lab, "Solved").get("status") == "True",
                "ready": condition(lab, "Ready").get("status") == "True",
                "reason": condition(lab, "Ready").get("message")
                if condition(lab, "Ready").get("status") != "True"
                else None,
                "passed": status.get("passed", 0),
                "total": status.get("total", 0),
                "score": status.get("score", 0),
                "hintsUsed": status.get("hintsUsed", 0),
                "timeToSolveSeconds": status.get("timeToSolveSeconds"),
                "checks": [
                    {k: c.get(k) for k in ("name", "passed", "message", "guard")}
                    for c in status.get("checks") or []
                ],
            }
        )
    return out


def junit_suites(rows: list[dict[str, Any]]) -> list[junit.Suite]:
    suites = []
    for row in rows:
        cases = [
            junit.Case(
                name=c["name"],
                classname=f"breakfix.{row['scenario']}",
                failure=None if c["passed"] else c["message"] or "check failed",
            )
            for c in row["checks"]
        ]
        if not cases:
            cases = [
                junit.Case(
                    name="ready",
                    classname=f"breakfix.{row['scenario']}",
                    failure=row["reason"] or "the lab is not ready",
                )
            ]
        suites.append(junit.Suite(name=row["lab"], cases=cases))
    return suites


def table(rows: list[dict[str, Any]]) -> Table:
    out = Table(title="breakfix grades")
    for column in ("lab", "scenario", "solved", "checks", "hints", "score", "time to solve"):
        out.add_column(column)
    for row in rows:
        out.add_row(
            row["lab"],
            row["scenario"],
            "[green]yes[/green]" if row["solved"] else "[red]no[/red]",
            f"{row['passed']}/{row['total']}",
            str(row["hintsUsed"]),
            str(row["score"]),
            f"{row['timeToSolveSeconds']}s" if row["timeToSolveSeconds"] is not None else "-",
        )
    return out


async def grade(
    kube: Kube,
    console: Console,
    names: list[str],
    all_: bool,
    selector: str | None,
    wait: float,
    junit_path: Path | None,
    json_path: Path | None,
) -> bool:
    labs = await select_labs(kube, names, all_, selector)
    if wait > 0:
        with console.status(f"waiting up to {wait:.0f}s for {len(labs)} lab(s) to be solved..."):
            labs = await settle(kube, labs, wait)
    rows = summary(labs)
    console.print(table(rows))
    for row in rows:
        for check in row["checks"]:
            if not check["passed"]:
                console.print(
                    f"[red]✗[/red] {row['lab']}: {check['name']}: {check['message']}",
                    highlight=False,
                )
    if junit_path:
        await asyncio.to_thread(junit.write, junit_path, junit_suites(rows))
        console.print(f"JUnit report: {junit_path}")
    if json_path:
        await asyncio.to_thread(json_path.write_text, json.dumps({"labs": rows}, indent=2) + "\n")
        console.print(f"JSON report: {json_path}")
    return all(row["solved"] for row in rows)
