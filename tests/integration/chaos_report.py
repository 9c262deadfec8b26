"""Figures the chaos tests measure, printed as one table at the end of the run and written to
chaos-report.json (`make chaos`): what the issue asks a run to show, in one place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

FIGURES: dict[str, dict[str, Any]] = {}


def record(section: str, **figures: Any) -> None:
    FIGURES.setdefault(section, {}).update(figures)


def count(section: str, key: str, by: int = 1) -> None:
    entry = FIGURES.setdefault(section, {})
    entry[key] = int(entry.get(key, 0)) + by


def report(path: Path) -> None:
    if not FIGURES:
        return
    table = Table(title="make chaos")
    table.add_column("what")
    table.add_column("figures")
    for section, figures in FIGURES.items():
        table.add_row(section, ", ".join(f"{k}: {v}" for k, v in figures.items()))
    Console(width=160).print(table)
    path.write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n")
    print(f"chaos report: {path}")
