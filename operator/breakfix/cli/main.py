"""breakfix: run and grade Kubernetes troubleshooting labs."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
import yaml
from rich.console import Console

from breakfix.cli import grade as grading
from breakfix.cli import labs, session
from breakfix.kube.client import ApiException, Kube
from breakfix.scenario.catalog import CatalogError, load_catalog, load_lab
from breakfix.scenario.curriculum import coverage_table

T = TypeVar("T")

app = typer.Typer(
    help="Run and grade hands-on Kubernetes troubleshooting labs.\n\n"
    "Works against the current kubeconfig context (`KUBECONFIG`, `--kubeconfig`, `--context`); "
    "also available as `kubectl breakfix`.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
console = Console()
errors = Console(stderr=True)


class Target:
    kubeconfig: str | None = None
    context: str | None = None


@app.callback()
def options(
    kubeconfig: str | None = typer.Option(
        None, envvar="KUBECONFIG", help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."
    ),
    context: str | None = typer.Option(None, help="Kubeconfig context to use."),
) -> None:
    Target.kubeconfig, Target.context = kubeconfig, context


def _run(body: Callable[[Kube], Awaitable[T]]) -> T:
    try:
        return session.run(Target.kubeconfig, Target.context, body)
    except session.CliError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(exc.code) from None
    except ApiException as exc:
        errors.print(f"[red]error:[/red] {session.api_message(exc)}", highlight=False)
        raise typer.Exit(1) from None


def _duration(text: str) -> float:
    try:
        return session.parse_duration(text)
    except session.CliError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(exc.code) from None


@app.command("list")
def list_(
    tag: list[str] = typer.Option([], "--tag", "-t", help="Only scenarios with this tag."),
    difficulty: str | None = typer.Option(None, help="easy, medium or hard."),
) -> None:
    """The catalog: every Scenario in the cluster.

    **Examples:** `breakfix list` · `breakfix list --tag cks --difficulty hard`
    """
    _run(lambda kube: labs.list_scenarios(kube, console, tag, difficulty))


@app.command()
def show(scenario: str = typer.Argument(..., help="Scenario name.")) -> None:
    """The task of a scenario, as the learner will read it.

    **Example:** `breakfix show crashloop-bad-command`
    """
    _run(lambda kube: labs.show_scenario(kube, console, scenario))


@app.command()
def start(
    scenario: str = typer.Argument(..., help="Scenario name (see `breakfix list`)."),
    name: str | None = typer.Option(None, help="Lab name (default: the scenario name)."),
    seed: int | None = typer.Option(None, min=0, help="Variant to get; random if omitted."),
    timeout: str = typer.Option("5m", help="How long to wait for the lab to be ready."),
) -> None:
    """Create a Lab, wait until it is deployed and proven broken, and print the task.

    **Examples:** `breakfix start pending-insufficient-cpu` · `breakfix start
    rbac-missing-permission --name alice --seed 7`
    """
    wait = _duration(timeout)
    _run(lambda kube: labs.start_lab(kube, console, scenario, name, seed, wait))


@app.command()
def status(
    lab: str = typer.Argument(..., help="Lab name."),
    watch: bool = typer.Option(
        False, "--watch", "-w", help="Update live as the cluster changes; exit when solved."
    ),
) -> None:
    """The checks of a lab, what is still wrong, time spent, hints used and score.

    **Examples:** `breakfix status alice` · `breakfix status alice --watch`
    """
    solved = _run(lambda kube: labs.show_status(kube, console, lab, watch))
    raise typer.Exit(0 if solved or not watch else 1)


@app.command()
def hint(lab: str = typer.Argument(..., help="Lab name.")) -> None:
    """Reveal the next hint of a lab (it costs points) and print it.

    **Example:** `breakfix hint alice`
    """
    _run(lambda kube: labs.reveal_hint(kube, console, lab))


@app.command()
def reset(
    lab: str = typer.Argument(..., help="Lab name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    timeout: str = typer.Option("5m", help="How long to wait for the lab to be ready again."),
) -> None:
    """Delete the lab's namespace and deploy the broken scenario again; progress is cleared.

    **Example:** `breakfix reset alice --yes`
    """
    if not yes and not typer.confirm(f"Reset lab {lab}? Everything in its namespace is deleted"):
        raise typer.Exit(1)
    wait = _duration(timeout)
    _run(lambda kube: labs.reset_lab(kube, console, lab, wait))


@app.command("grade")
def grade_(
    lab: list[str] = typer.Argument(None, help="Lab names (or use --all / --selector)."),
    all_: bool = typer.Option(False, "--all", help="Grade every lab in the cluster."),
    selector: str | None = typer.Option(
        None, "--selector", "-l", help="Grade labs with these labels (k=v,k2=v2)."
    ),
    wait: str = typer.Option("0s", help="Wait up to this long (e.g. 10m) for labs to be solved."),
    junit: Path | None = typer.Option(None, help="Write JUnit XML here (one case per check)."),
    json_: Path | None = typer.Option(None, "--json", help="Write a JSON report here."),
) -> None:
    """Score labs; exit 0 only when every graded lab is solved. For CI and instructors.

    **Examples:** `breakfix grade alice` · `breakfix grade --all --wait 10m --junit
    grades.xml --json grades.json`
    """
    seconds = _duration(wait)
    ok = _run(
        lambda kube: grading.grade(kube, console, lab or [], all_, selector, seconds, junit, json_)
    )
    raise typer.Exit(0 if ok else 1)


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
def coverage(
    path: Path = typer.Argument(Path("labs"), help="A lab folder, or a folder of lab folders."),
) -> None:
    """How many labs train each CKA/CKS curriculum competency, as a Markdown table (the
    README's), offline.

    **Example:** `breakfix coverage labs/`
    """
    try:
        labs = load_catalog(path)
    except CatalogError as exc:
        errors.print(f"{len(exc.problems)} problem(s) found: run `breakfix validate {path}`")
        raise typer.Exit(1) from None
    print(coverage_table((lab.id, lab.spec.trains) for lab in labs), end="")


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
    node_variants: int | None = typer.Option(
        None,
        min=0,
        help="Try at most this many variants (shortcuts first) of each Node or ControlPlane "
        "lab, whose runs have the cluster to themselves; all by default.",
    ),
    junit: Path | None = typer.Option(None, help="Write a JUnit XML report here."),
    operator: str = typer.Option(
        "inprocess", help="`inprocess` runs the operator here; `external` uses a running one."
    ),
) -> None:
    """Prove labs on a real cluster: broken when applied, Solved by the reference solution,
    nothing left after delete. Installs the CRDs and Scenarios it needs first.

    **Examples:** `breakfix selftest labs/` · `breakfix selftest --lab crashloop-bad-command
    --seed 7` · `breakfix selftest --operator external --junit selftest.xml`
    """
    import asyncio

    from breakfix.selftest.command import run

    try:
        # With --lab, only those folders are read: another lab's problem must not block them.
        labs = [load_lab(path / x) for x in lab] if lab else load_catalog(path)
    except CatalogError as exc:
        errors.print(str(exc))
        raise typer.Exit(1) from None
    ok = asyncio.run(
        run(
            labs,
            seeds=seed or None,
            seeds_per_lab=seeds,
            parallel=parallel,
            variants=variants,
            junit=junit,
            node_variants=node_variants,
            inprocess=operator == "inprocess",
            kubeconfig=Target.kubeconfig,
            context=Target.context,
            console=console,
        )
    )
    raise typer.Exit(0 if ok else 1)


@app.command("learner-kubeconfig")
def learner_kubeconfig(
    lab: str | None = typer.Argument(None, help="The Lab whose learner it is for."),
    exam: str | None = typer.Option(None, help="Or the Exam whose learner it is for."),
    hours: float = typer.Option(4.0, min=0.2, max=720, help="How long the credentials last."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write it here (mode 0600) instead of printing it."
    ),
) -> None:
    """A kubeconfig for the learner of a Lab or Exam, with their rights and nothing more:
    admin in their lab namespaces, read on their own Labs and on Nodes; no Scenario (hints,
    solutions), no other lab, no Secret elsewhere, no score to change. A User gets a client
    certificate the cluster signs; a ServiceAccount a bound token.

    **Examples:** `breakfix learner-kubeconfig alice -o alice.kubeconfig` ·
    `breakfix learner-kubeconfig --exam alice-cka --hours 3 -o alice.kubeconfig`
    """
    from breakfix.cli.learner import learner_kubeconfig as issue

    text = _run(lambda kube: issue(kube, lab, exam, hours, output))
    if output is None:
        sys.stdout.write(text)
    else:
        errors.print(f"kubeconfig written to {output}: `KUBECONFIG={output} kubectl get lab`")


@app.command()
def dashboard(
    namespace: str = typer.Option("breakfix-system", help="Where the chart is installed."),
    release: str = typer.Option("breakfix", help="The Helm release's name."),
    port: int = typer.Option(8082, help="The local port to forward from."),
    remote_port: int = typer.Option(8082, help="The chart's dashboard.port."),
    open_browser: bool = typer.Option(True, "--open/--no-open", help="Open a browser."),
) -> None:
    """The class dashboard, live: every Lab and Exam, who is stuck, exam results. Port-forwards
    to the operator (the chart's `dashboard.enabled=true`) and opens it with its token.

    **Example:** `breakfix dashboard --no-open`
    """
    from breakfix.cli import dashboard as board

    secret = _run(lambda kube: board.token(kube, namespace, release))
    try:
        board.forward(namespace, release, port, remote_port, secret, open_browser)
    except session.CliError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(exc.code) from None


exam_app = typer.Typer(
    help="Timed exams: several labs for one learner under one clock, weighted, with a passing "
    "score. Ready-made: exams/cka-troubleshooting.yaml and exams/cks-hardening.yaml.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(exam_app, name="exam")


@exam_app.command("start")
def exam_start(
    file: Path | None = typer.Argument(None, help="An Exam file (see exams/)."),
    tags: list[str] = typer.Option([], "--tags", help="Draw scenarios carrying these tags."),
    count: int | None = typer.Option(None, min=1, max=30, help="How many scenarios to draw."),
    minutes: int | None = typer.Option(None, min=5, max=600, help="The time limit."),
    learner: str | None = typer.Option(
        None, help="Who takes it: a User name, or system:serviceaccount:NAMESPACE:NAME."
    ),
    name: str | None = typer.Option(None, help="The Exam's name (default: the file's)."),
    passing: int | None = typer.Option(None, min=1, max=100, help="Passing score, percent."),
    timeout: str = typer.Option("10m", help="How long to wait for every lab to be ready."),
) -> None:
    """Create an Exam, wait until all its labs are ready (the clock starts then), and list
    the tasks.

    **Examples:** `breakfix exam start exams/cka-troubleshooting.yaml --learner alice` ·
    `breakfix exam start --tags cka --count 15 --minutes 120 --learner alice`
    """
    from breakfix.cli import exams

    wait = _duration(timeout)
    try:
        body = exams.exam_from(file, tags, count, minutes, learner, name, passing)
    except session.CliError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(exc.code) from None
    _run(lambda kube: exams.start_exam(kube, console, body, wait))


@exam_app.command("status")
def exam_status(
    name: str = typer.Argument(..., help="Exam name."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Update live until it finishes."),
) -> None:
    """Points per task and why, the total, and the deadline.

    **Examples:** `breakfix exam status cka-troubleshooting --watch`
    """
    from breakfix.cli import exams

    _run(lambda kube: exams.show_exam(kube, console, name, watch))


@exam_app.command("submit")
def exam_submit(name: str = typer.Argument(..., help="Exam name.")) -> None:
    """Hand the exam in before the deadline: grading stops at once, for every task."""
    from breakfix.cli import exams

    _run(lambda kube: exams.submit_exam(kube, console, name))


@exam_app.command("grade")
def exam_grade(
    name: str = typer.Argument(..., help="Exam name."),
    wait: str = typer.Option("0s", help="Wait up to this long for the exam to finish."),
    junit: Path | None = typer.Option(None, help="Write JUnit XML here (one case per task)."),
    json_: Path | None = typer.Option(None, "--json", help="Write a JSON report here."),
) -> None:
    """The results: points per task, and for every failed check what was expected beside what
    was found. Exit 0 only when the exam is passed.

    **Example:** `breakfix exam grade alice-cka --wait 2h --junit exam.xml --json exam.json`
    """
    from breakfix.cli import exams

    seconds = _duration(wait)
    ok = _run(lambda kube: exams.grade_exam(kube, console, name, seconds, junit, json_))
    raise typer.Exit(0 if ok else 1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
