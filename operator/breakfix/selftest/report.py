"""The self-test's table and JUnit report."""

from __future__ import annotations

from rich.table import Table

from breakfix.report.junit import Case, Suite
from breakfix.selftest.runner import Result


def _secs(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "-"


def _run(r: Result) -> str:
    if r.variant is None:
        return "reference"
    return ("fix: " if r.expect_solved else "shortcut: ") + r.variant


def _rejection(r: Result) -> str:
    return "; ".join(f"{n}: {m}" for n, m in r.rejected_by or [])


def _outcome(r: Result) -> str:
    if not r.passed:
        return f"[red]FAIL[/red] {r.error}"
    if r.rejected_by:
        return "[green]pass[/green], rejected by " + ", ".join(n for n, _ in r.rejected_by)
    return "[green]pass[/green]"


def table(results: list[Result], wall_seconds: float) -> Table:
    passed = sum(r.passed for r in results)
    out = Table(
        title=f"breakfix self-test: {passed}/{len(results)} passed in {wall_seconds:.0f}s wall time"
    )
    for column in ("lab", "run", "seed", "ready", "solved", "cleanup", "result"):
        out.add_column(
            column, justify="right" if column in ("seed", "ready", "solved", "cleanup") else "left"
        )
    for r in results:
        out.add_row(
            r.lab,
            _run(r),
            str(r.seed),
            _secs(r.ready_seconds),
            _secs(r.solved_seconds),
            _secs(r.cleanup_seconds),
            _outcome(r),
        )
    return out


def junit(results: list[Result]) -> Suite:
    return Suite(
        name="selftest",
        cases=[
            Case(
                name=f"{r.lab}[{_run(r)}, seed={r.seed}]",
                classname=f"selftest.{r.lab}",
                seconds=sum(
                    x or 0.0 for x in (r.ready_seconds, r.solved_seconds, r.cleanup_seconds)
                ),
                failure=r.error,
                output=("rejected by " + _rejection(r)) if r.rejected_by else "",
            )
            for r in results
        ],
    )
