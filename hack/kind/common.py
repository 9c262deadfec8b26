"""Paths, progress lines with timings, and commands that fail with a message a person can act on.

Standard library only: this runs before the project's virtualenv exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

HACK = Path(__file__).resolve().parent.parent
ROOT = HACK.parent
HERE = Path(__file__).resolve().parent


def _xdg(var: str, default: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / default)


STATE = Path(
    os.environ.get("BREAKFIX_STATE") or _xdg("XDG_STATE_HOME", ".local/state") / "breakfix"
)
CACHE = Path(os.environ.get("BREAKFIX_CACHE") or _xdg("XDG_CACHE_HOME", ".cache") / "breakfix")


class SetupError(RuntimeError):
    """A step failed; `hint` says what the person can do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def log(msg: str) -> None:
    # stderr: callers may capture stdout for a single machine-readable line.
    print(f"kind-up: {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    start = time.monotonic()
    log(f"{what} ...")
    try:
        yield
    except BaseException:
        log(f"{what}: failed after {time.monotonic() - start:.1f}s")
        raise
    log(f"{what}: done in {time.monotonic() - start:.1f}s")


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    capture: bool = False,
    check: bool = True,
    cwd: Path | None = None,
    hint: str = "",
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; its output goes to stderr unless captured. A failure names the command,
    its last lines of output and `hint`."""
    args = [str(c) for c in cmd]
    full_env = {**os.environ, **(env or {})}
    text_input = input.decode() if isinstance(input, bytes) else input
    proc = subprocess.run(
        args,
        env=full_env,
        input=text_input,
        stdout=subprocess.PIPE if capture else sys.stderr,
        stderr=subprocess.PIPE if capture else sys.stderr,
        text=True,
        cwd=cwd,
        check=False,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        tail = "\n".join(((proc.stderr or "") + (proc.stdout or "")).strip().splitlines()[-15:])
        raise SetupError(f"`{' '.join(args)}` exited {proc.returncode}\n{tail}".rstrip(), hint)
    return proc


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        raise SetupError(
            f"{why} needs root",
            "run `make up` as root (or with sudo), or start a Docker engine yourself first: "
            "with `docker info` answering, nothing is installed",
        )


def which(name: str) -> str | None:
    return shutil.which(name)
