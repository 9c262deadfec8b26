"""Running the installed `breakfix` command as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BREAKFIX = str(Path(sys.executable).parent / "breakfix")


def breakfix(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BREAKFIX, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
        input=input,
        check=False,
    )
