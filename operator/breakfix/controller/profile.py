"""Where the operator's memory goes, asked of the running process: with BREAKFIX_TRACEMALLOC set
to a frame count, tracemalloc traces every allocation from the start. The first SIGUSR1 logs the
largest live allocation sites and the call chains that made them, and keeps that snapshot: each
later one logs what grew since (what N labs added, with the imports and startup left out).
Tracing costs CPU and about as much memory again, so it is for profiling runs, never for the
figures a benchmark reports.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import tracemalloc

ENV = "BREAKFIX_TRACEMALLOC"
log = logging.getLogger("breakfix.profile")


def start_from_env() -> None:
    frames = int(os.environ.get(ENV, "0") or "0")
    if frames > 0 and not tracemalloc.is_tracing():
        tracemalloc.start(frames)


_FILTERS = [
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
]
_baseline: list[tracemalloc.Snapshot] = []


def report(top: int = 25, chains: int = 8) -> str:
    """The largest allocation sites (by file, then by line), then the call chains of the
    largest few; after the first report, the growth since it."""
    snapshot = tracemalloc.take_snapshot().filter_traces(_FILTERS)
    total = sum(s.size for s in snapshot.statistics("filename"))
    lines = [f"traced memory: {total / 2**20:.1f} MiB live"]
    if _baseline:
        before = _baseline[0]
        was = sum(s.size for s in before.statistics("filename"))
        lines.append(f"grown since the first report: {(total - was) / 2**20:+.1f} MiB")
        sign = "+"

        def stats(key: str) -> list[tuple[int, int, tracemalloc.Traceback]]:
            return [
                (d.size_diff, d.count_diff, d.traceback) for d in snapshot.compare_to(before, key)
            ]
    else:
        _baseline.append(snapshot)
        sign = ""

        def stats(key: str) -> list[tuple[int, int, tracemalloc.Traceback]]:
            return [(s.size, s.count, s.traceback) for s in snapshot.statistics(key)]

    # By file first: which library holds it (Kopf's per-object state, the caches, the client).
    for key in ("filename", "lineno"):
        for size, count, traceback in stats(key)[:top]:
            frame = traceback[0]
            where = frame.filename if key == "filename" else f"{frame.filename}:{frame.lineno}"
            lines.append(f"{size / 2**20:{sign}8.2f} MiB {count:{sign}9d} blocks  {where}")
    for size, count, traceback in stats("traceback")[:chains]:
        lines.append(f"--- {size / 2**20:{sign}.2f} MiB in {count:{sign}d} blocks, allocated by:")
        lines.extend("    " + line for line in traceback.format(most_recent_first=True)[:24])
    return "\n".join(lines)


def install_signal(loop: asyncio.AbstractEventLoop) -> None:
    if tracemalloc.is_tracing():
        loop.add_signal_handler(signal.SIGUSR1, lambda: log.warning("%s", report()))
