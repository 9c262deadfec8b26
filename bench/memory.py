"""Where the operator's memory goes with N labs: a profile, not a figure.

    python bench/memory.py [--labs 200] [--frames 1]

The chart's operator is scaled to 0 and this tree's operator runs as a local process with
tracemalloc (BREAKFIX_TRACEMALLOC); N labs without containers are applied, and once all are
Ready and the operator is quiet, SIGUSR1 makes it log its largest allocation sites and their call
chains, printed here with its RSS: once before the labs (imports and startup) and once after,
as the growth the labs brought. Tracing doubles the memory it watches, so the RSS printed is
the traced process's; `make bench` reports the untraced figures. The labs are deleted and the
chart's operator scaled back to 1 at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from breakfix.kube.client import Kube
from breakfix.scenario.catalog import load_lab
from breakfix.selftest.install import install
from run import FAST_LAB, ROOT, LabWatch, delete_all, kubectl_out, lab_body


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_traced(log: Path, frames: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BREAKFIX_TRACEMALLOC": str(frames)}
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "breakfix.controller"], env=env, stdout=out, stderr=out
        )


def read_from(log: Path, offset: int) -> str:
    with log.open() as text:
        text.seek(offset)
        return text.read()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labs", type=int, default=200)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench-results/memory.log"))
    args = parser.parse_args()
    kubectl_out("scale", "deployment/breakfix", "--replicas=0")
    kube = await Kube.connect()
    await install(kube, [load_lab(ROOT / "labs" / FAST_LAB)])
    log = Path(args.out)
    log.parent.mkdir(parents=True, exist_ok=True)
    operator = start_traced(log, args.frames)
    watch = LabWatch(kube)
    watch.start()
    try:
        # Past the old operator's Lease (15 s) and this one's startup.
        await asyncio.sleep(30)
        before = rss_mib(operator.pid)
        operator.send_signal(signal.SIGUSR1)  # the baseline the growth is measured from
        await asyncio.sleep(10)
        started = time.monotonic()
        for i in range(args.labs):
            await kube.apply(lab_body(f"bench-memory-{i}", FAST_LAB, 7000 + i))
        for i in range(args.labs):
            await watch.until(f"bench-memory-{i}", "ready", 900)
        print(f"{args.labs} labs Ready after {time.monotonic() - started:.1f}s")
        await asyncio.sleep(30)
        after = rss_mib(operator.pid)
        print(
            f"operator RSS (traced): {before:.1f} MiB before the labs, {after:.1f} after "
            f"({(after - before) * 1024 / args.labs:.0f} KiB per lab)"
        )
        mark = log.stat().st_size
        operator.send_signal(signal.SIGUSR1)
        await asyncio.sleep(20)
        print(read_from(log, mark))
    finally:
        watch.stop()
        await delete_all(kube)
        operator.terminate()
        operator.wait(30)
        await kube.close()
        kubectl_out("scale", "deployment/breakfix", "--replicas=1")


if __name__ == "__main__":
    asyncio.run(main())
