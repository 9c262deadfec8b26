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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
