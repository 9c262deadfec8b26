"""`breakfix selftest`: install, run, report."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from rich.console import Console

from breakfix.kube.client import Kube
from breakfix.report import junit as junit_xml
from breakfix.scenario.catalog import LabFolder
from breakfix.selftest.install import install
from breakfix.selftest.operator import inprocess_operator
from breakfix.selftest.report import junit as junit_suite
from breakfix.selftest.report import table
from breakfix.selftest.runner import Result, run_catalog


async def run(
    labs: list[LabFolder],
    *,
    seeds: list[int] | None,
    seeds_per_lab: int,
    parallel: int,
    variants: bool,
    junit: Path | None,
    node_variants: int | None = None,
    inprocess: bool,
    kubeconfig: str | None,
    context: str | None,
    console: Console,
) -> bool:
    kube = await Kube.connect(kubeconfig, context)
    try:
        await install(kube, labs)
        started = time.monotonic()

        def progress(result: Result) -> None:
            mark = "[green]✓[/green]" if result.passed else "[red]✗[/red]"
            console.print(
                f"{mark} {result.lab} (seed {result.seed})"
                + ("" if result.passed else f": {result.error}"),
                highlight=False,
            )

        operator = inprocess_operator() if inprocess else contextlib.nullcontext()
        async with operator:
            results = await run_catalog(
                kube,
                labs,
                seeds=seeds,
                seeds_per_lab=seeds_per_lab,
                parallel=parallel,
                variants=variants,
                on_result=progress,
                node_variants=node_variants,
            )
        console.print(table(results, time.monotonic() - started))
        if junit:
            junit_xml.write(junit, [junit_suite(results)])
            console.print(f"JUnit report: {junit}")
        return all(r.passed for r in results)
    finally:
        await kube.close()
