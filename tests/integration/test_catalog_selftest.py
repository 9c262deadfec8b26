"""Every lab in the catalog, proven on the cluster: broken, solvable, graded on outcomes.

This is `breakfix selftest` run inside the test suite; it also tries each lab's variants.yaml
(other valid fixes must pass, shortcuts must not). The operator runs as the Helm chart deploys
it, with exactly the chart's RBAC: every lab provisioned and cleaned up here proves that RBAC.
"""

from __future__ import annotations

import asyncio

import pytest
from rich.console import Console

from breakfix.kube.client import Kube
from breakfix.report import junit
from breakfix.scenario.catalog import load_catalog
from breakfix.selftest.report import junit as junit_suite
from breakfix.selftest.report import table
from breakfix.selftest.runner import Result, run_catalog
from tests.integration.operator import OperatorProcess
from tests.paths import LABS, ROOT


@pytest.mark.timeout(2400)
def test_every_lab_is_broken_then_solved_and_variants_graded(
    chart_operator: OperatorProcess,
) -> None:
    labs = load_catalog(LABS)

    async def run() -> list[Result]:
        kube = await Kube.connect()
        try:
            return await run_catalog(kube, labs, seeds_per_lab=2, parallel=4)
        finally:
            await kube.close()

    import time

    started = time.monotonic()
    results = asyncio.run(run())
    Console(width=200).print(table(results, time.monotonic() - started))
    junit.write(ROOT / "selftest.junit.xml", [junit_suite(results)])
    failed = [
        f"{r.lab} [{r.variant or 'reference'}] seed {r.seed}: {r.error}"
        for r in results
        if not r.passed
    ]
    assert not failed, "\n".join(failed)
    assert len({r.lab for r in results}) == len(labs)
    assert sum(1 for r in results if r.variant) >= 3

    # The metrics the chart's Service exposes counted this work.
    scraped = chart_operator.metrics()
    provisioned = _sample(scraped, "breakfix_labs_provisioned_total")
    assert provisioned >= len(labs), scraped
    assert _sample(scraped, 'breakfix_checks_evaluated_total{result="passed"}') > 0
    assert _sample(scraped, "breakfix_time_to_solve_seconds_count") >= len(labs)


def _sample(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"metric {name} not exposed")
