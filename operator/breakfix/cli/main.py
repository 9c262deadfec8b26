"""breakfix: run and grade Kubernetes troubleshooting labs."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
import yaml
from rich.console import Console

from breakfix.scenario.catalog import CatalogError, load_catalog

app = typer.Typer(
    help="Run and grade hands-on Kubernetes troubleshooting labs.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
console = Console()
errors = Console(stderr=True)


@app.command()
def validate(
    path: Path = typer.Argument(Path("labs"), help="A lab folder, or a folder of lab folders."),
) -> None:
    """Check lab folders offline: files present, every field valid, checks well-formed.

    Problems are listed with the file and the field, e.g.
    `labs/x/checks.yaml: checks[1].podsReady.min: Input should be greater than or equal to 1`.

    **Example:** `breakfix validate labs/`
    """
    try:
        labs = load_catalog(path)
    except CatalogError as exc:
        for problem in exc.problems:
            errors.print(f"[red]✗[/red] {problem}", highlight=False)
        errors.print(f"{len(exc.problems)} problem(s) found")
        raise typer.Exit(1) from None
    for lab in labs:
        console.print(f"[green]✓[/green] {lab.id}: {lab.spec.title}", highlight=False)
    console.print(f"{len(labs)} lab(s) valid")


@app.command()
def export(
    path: Path = typer.Argument(Path("labs"), help="A lab folder, or a folder of lab folders."),
) -> None:
    """Print the lab folders as Scenario objects (YAML), ready for `kubectl apply -f -`.

    **Example:** `breakfix export labs/ | kubectl apply -f -`
    """
    try:
        labs = load_catalog(path)
    except CatalogError as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    yaml.safe_dump_all([lab.to_scenario() for lab in labs], sys.stdout, sort_keys=False)


@app.command()
def selftest(
    path: Path = typer.Argument(Path("labs"), help="A lab folder, or a folder of lab folders."),
    lab: list[str] = typer.Option([], "--lab", "-l", help="Only these labs (repeatable)."),
    seeds: int = typer.Option(2, help="How many random seeds to try per lab."),
    seed: list[int] = typer.Option([], help="Use these seeds instead of random ones."),
    parallel: int = typer.Option(4, min=1, help="Labs in flight at once."),
    variants: bool = typer.Option(
        True, help="Also try each lab's variants.yaml: other fixes and shortcuts."
    ),
    junit: Path | None = typer.Option(None, help="Write a JUnit XML report here."),
    operator: str = typer.Option(
        "inprocess", help="`inprocess` runs the operator here; `external` uses a running one."
    ),
    kubeconfig: str | None = typer.Option(None, envvar="KUBECONFIG", help="Kubeconfig file."),
    context: str | None = typer.Option(None, help="Kubeconfig context."),
) -> None:
    """Prove labs on a real cluster: broken when applied, Solved by the reference solution,
    nothing left after delete. Installs the CRDs and Scenarios it needs first.

    **Examples:** `breakfix selftest labs/` · `breakfix selftest --lab crashloop-bad-command
    --seed 7` · `breakfix selftest --operator external --junit selftest.xml`
    """
    import asyncio

    from breakfix.selftest.command import run

    try:
        labs = load_catalog(path)
    except CatalogError as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    if lab:
        unknown = sorted(set(lab) - {x.id for x in labs})
        if unknown:
            errors.print(f"no such lab in {path}: {', '.join(unknown)}")
            raise typer.Exit(2)
        labs = [x for x in labs if x.id in lab]
    ok = asyncio.run(
        run(
            labs,
            seeds=seed or None,
            seeds_per_lab=seeds,
            parallel=parallel,
            junit=junit,
            inprocess=operator == "inprocess",
            kubeconfig=kubeconfig,
            context=context,
            console=console,
        )
    )
    raise typer.Exit(0 if ok else 1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
