"""Debian packages the cluster path needs, installed before anything uses them."""

from __future__ import annotations

import os
from pathlib import Path

from common import SetupError, log, require_root, run, step

# What each package provides that we call: a package is installed only when its file is missing.
ENGINE = {
    "/usr/sbin/dockerd": "docker.io",
    "/usr/bin/containerd": "containerd",
    "/usr/sbin/runc": "runc",
    "/usr/sbin/iptables": "iptables",
    "/usr/sbin/iptables-save": "iptables",
}
# Each is ensured by the step that uses it: a step whose cached image is kept (the busybox image
# is keyed by the binary's digest) still reads its package's files on a machine that lacks them.
DEBOOTSTRAP = {"/usr/sbin/debootstrap": "debootstrap"}
BUSYBOX = {"/bin/busybox": "busybox-static"}
# The dashboard's browser test: Debian's browser and its driver, never a downloaded one.
BROWSER = {
    "/usr/bin/chromium": "chromium",
    "/usr/bin/chromedriver": "chromium-driver",
}
BROWSER_PATH = "/usr/bin/chromium"
POLICY_RC = Path("/usr/sbin/policy-rc.d")


def missing(wanted: dict[str, str]) -> list[str]:
    return sorted({pkg for path, pkg in wanted.items() if not Path(path).exists()})


DOCKER_HINT = (
    "install a Docker engine (or podman with KIND_EXPERIMENTAL_PROVIDER=podman) "
    "and make `docker info` answer, then run `make up` again"
)


def ensure(wanted: dict[str, str], hint: str = DOCKER_HINT) -> None:
    needed = missing(wanted)
    if not needed:
        return
    require_root(f"installing {', '.join(needed)}")
    if not Path("/usr/bin/apt-get").exists():
        raise SetupError(
            f"{', '.join(needed)} missing and this is not a Debian/Ubuntu machine", hint
        )
    with step(f"installing Debian packages: {' '.join(needed)}"):
        # There is no init system to hand the engine to: the package must not start services;
        # we start dockerd ourselves, with our own state directories.
        wrote_policy = not POLICY_RC.exists()
        if wrote_policy:
            POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
            POLICY_RC.chmod(0o755)
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                   "-o", "Dpkg::Options::=--force-confold", *needed]  # fmt: skip
        try:
            if run(install, env=env, check=False).returncode != 0:
                # A fresh machine's package lists may be missing or stale.
                log("apt-get install failed; refreshing the package lists and trying once more")
                mirror = "the Debian mirror could not be reached: check the network"
                run(["apt-get", "update", "-q"], env=env, hint=mirror)
                run(install, env=env, hint="see apt's message above; `df -h /` if it says disk")
        finally:
            if wrote_policy:
                os.unlink(POLICY_RC)
