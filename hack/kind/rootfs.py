"""A Debian bookworm root filesystem made with debootstrap: the base of every image built here,
since no registry can be reached for `debian:bookworm-slim`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import packages
from common import CACHE, require_root, run, step

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
TARBALL = CACHE / "rootfs" / f"debian-{SUITE}-minbase.tar"


def ensure() -> Path:
    if TARBALL.exists():
        return TARBALL
    require_root("debootstrap")
    packages.ensure(packages.DEBOOTSTRAP, hint="install debootstrap, then run `make up` again")
    TARBALL.parent.mkdir(parents=True, exist_ok=True)
    with step(f"debootstrap {SUITE} (about a minute, once)"):
        work = Path(tempfile.mkdtemp(prefix="rootfs.", dir=TARBALL.parent))
        try:
            target = work / "root"
            run(
                ["debootstrap", "--variant=minbase", SUITE, target, MIRROR],
                capture=True,
                hint="debootstrap reaches Debian's mirror: check the network and `df -h`",
            )
            # The downloaded .debs would only make every image 30 MB larger.
            for deb in (target / "var/cache/apt/archives").glob("*.deb"):
                deb.unlink()
            partial = TARBALL.with_suffix(".partial")
            run(["tar", "-C", target, "--numeric-owner", "-cf", partial, "."])
            partial.rename(TARBALL)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return TARBALL
