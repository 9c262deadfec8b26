"""How labs and scenarios look in a terminal."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from breakfix.lab.conditions import lab_condition as condition


def placeholders(text: str) -> str:
    """A scenario's task before any lab exists: `{{ app }}` shown as `<app>`."""
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", r"<\1>", text)


def task(markdown: str) -> Markdown:
    return Markdown(markdown)


def elapsed(since: str | None) -> str:
    if not since:
        return "-"
    start = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    seconds = int(time.time() - start)
    return f"{seconds // 60}m{seconds % 60:02d}s"


def lab_panel(lab: dict[str, Any]) -> Group:
    status = lab.get("status") or {}
    ready, solved = condition(lab, "Ready"), condition(lab, "Solved")
    name = lab["metadata"]["name"]
    if solved.get("status") == "True":
        head = Text(f"✓ {name}: solved", style="bold green")
    elif ready.get("status") == "True":
        head = Text(f"… {name}: {status.get('progress', '?')} checks passing", style="bold")
    else:
        head = Text(
            f"… {name}: not ready ({ready.get('reason', 'Pending')}: "
            f"{ready.get('message', 'waiting for the operator')})",
            style="yellow",
        )
    checks = Table(show_edge=False, expand=False)
    checks.add_column("")
    checks.add_column("check")
    checks.add_column("what the cluster shows")
    for entry in status.get("checks") or []:
        mark = "[green]✓[/green]" if entry.get("passed") else "[red]✗[/red]"
        label = entry["name"] + (" [dim](guard)[/dim]" if entry.get("guard") else "")
        checks.add_row(mark, label, entry.get("message", ""))
    first = status.get("timeToSolveSeconds")
    facts = Text(
        f"namespace {status.get('namespace', '-')} · time {elapsed(status.get('startedAt'))}"
        + (f" · first solved after {first}s" if first is not None else "")
        + f" · hints {status.get('hintsUsed', 0)} · score {status.get('score', '-')}",
        style="dim",
    )
    parts: list[Any] = [head, facts]
    if status.get("checks"):
        parts.append(checks)
    for index, hint in enumerate(status.get("hints") or [], 1):
        parts.append(Text(f"hint {index}: {hint}", style="cyan"))
    return Group(*parts)


@contextlib.contextmanager
def live(console: Console, renderable: RenderableType | None = None) -> Iterator[Live]:
    """A live view that ends its last frame with a newline, on a terminal or not (rich adds it
    only on a terminal: piped or captured, the shell prompt ran on after the last hint)."""
    with Live(renderable, console=console, refresh_per_second=4) as view:
        yield view
    if not console.is_terminal:
        console.line()
