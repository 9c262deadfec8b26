"""Two `make bench` runs side by side, measure by measure, with the ratio B/A: a regression in a
pull request shows as a ratio far from 1.

    python bench/compare.py A.json B.json [--mode watch]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import console, table


def load(path: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    if "summary" not in data:
        raise SystemExit(f"{path}: no summary (written by a bench older than bench-compare)")
    return dict(data)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--mode", default="watch", help="the operator mode to compare")
    args = parser.parse_args()
    runs = [load(args.a), load(args.b)]
    names = [f"A {runs[0].get('revision', '?')}", f"B {runs[1].get('revision', '?')}"]
    if names[0] == names[1]:
        names = ["A", "B"]
    measures = {r["measure"]: r["target"] for run in runs for r in run["summary"]}
    rows = [
        {
            "measure": measure,
            "values": {
                name: next(
                    (
                        r["values"].get(args.mode, "-")
                        for r in run["summary"]
                        if r["measure"] == measure
                    ),
                    "-",
                )
                for name, run in zip(names, runs, strict=True)
            },
            "target": target,
        }
        for measure, target in measures.items()
    ]
    console.print(table(rows, names, f"breakfix benchmark, {args.mode} mode: {args.a} vs {args.b}"))


if __name__ == "__main__":
    main()
