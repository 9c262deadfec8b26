"""A Docker engine for kind: the one `docker info` reaches, or one started here.

Where none answers and this is Debian with root, Debian's docker.io is installed and dockerd runs
with its images under the XDG cache dir (they are the slow part to rebuild) and its pid and log
under the XDG state dir. `stop` stops only an engine started here, never one found running.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import packages
from common import CACHE, HERE, STATE, SetupError, log, require_root, run, step, which

DIR = STATE / "engine"
PIDFILE = DIR / "dockerd.pid"
LOG = DIR / "dockerd.log"
DATA_ROOT = CACHE / "docker"
EXEC_ROOT = Path("/run/breakfix-docker")
SOCKET = "unix:///var/run/docker.sock"
RUNTIME = "nosysres"
CAP_SYS_RESOURCE = 24
# kind's network, made here with a fixed subnet and bridge name so the egress rule can name it.
KIND_NETWORK = "kind"
KIND_BRIDGE = "br-breakfix"
KIND_SUBNET = "172.30.0.0/16"


def docker() -> str:
    """Debian's CLI matches Debian's engine (a newer CLI first on PATH may lack the legacy
    builder this engine uses)."""
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def answers() -> bool:
    try:
        return (
            subprocess.run(
                [docker(), "info"], capture_output=True, timeout=20, check=False
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def started_here() -> int | None:
    try:
        pid = int(PIDFILE.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def cap_missing() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not (int(line.split()[1], 16) >> CAP_SYS_RESOURCE) & 1
    return False


def ensure() -> bool:
    """True when the engine was started just now: containers it restarts on its own (kind nodes
    have a restart policy) come back from a previous life, with new addresses."""
    if provider := os.environ.get("KIND_EXPERIMENTAL_PROVIDER"):
        # podman or nerdctl: kind drives it; nothing is installed or started here (untested).
        log(f"using kind's {provider} provider as it is")
        return False
    if answers():
        if not started_here():
            log("using the Docker engine that `docker info` reaches")
        ensure_network()
        return False
    require_root("starting a Docker engine")
    packages.ensure(packages.ENGINE)
    with step("starting dockerd"):
        start()
    ensure_network()
    return True


def start() -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    _remove_leftovers()
    args = [
        "/usr/sbin/dockerd",
        f"--data-root={DATA_ROOT}",
        f"--exec-root={EXEC_ROOT}",
        f"--pidfile={EXEC_ROOT}/dockerd.pid",
        f"-H={SOCKET}",
        "--log-level=warn",
    ]
    if cap_missing():
        # Every kind node is --privileged; see runc-nosysres for why runc fails without this.
        # A copy, so the running engine does not depend on this checkout staying as it is.
        log("this machine lacks CAP_SYS_RESOURCE: containers run through runc-nosysres")
        wrapper = DIR / "runc-nosysres"
        shutil.copy(HERE / "runc-nosysres", wrapper)
        wrapper.chmod(0o755)
        args += [f"--add-runtime={RUNTIME}={wrapper}", f"--default-runtime={RUNTIME}"]
    with LOG.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True)
    PIDFILE.write_text(str(proc.pid))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(
                f"dockerd exited ({proc.returncode}); its log: {LOG}\n"
                + "\n".join(LOG.read_text().splitlines()[-10:]),
                "another dockerd may hold /var/run/docker.sock, or the disk may be full (df -h)",
            )
        if answers():
            return
        time.sleep(0.5)
    raise SetupError(f"dockerd did not answer within 60 s; its log: {LOG}")


def ensure_network() -> None:
    """kind reuses a network named `kind`: make it ours, then keep its traffic on this machine."""
    d = docker()
    if run([d, "network", "inspect", KIND_NETWORK], capture=True, check=False).returncode != 0:
        run(
            [
                d,
                "network",
                "create",
                "--driver=bridge",
                f"--subnet={KIND_SUBNET}",
                f"--opt=com.docker.network.bridge.name={KIND_BRIDGE}",
                "--opt=com.docker.network.bridge.enable_ip_masquerade=true",
                "--opt=com.docker.network.driver.mtu=1500",
                KIND_NETWORK,
            ],
            capture=True,
        )
    bridge = _bridge_of(KIND_NETWORK)
    if os.geteuid() == 0 and bridge:
        _isolate(bridge)


def _bridge_of(network: str) -> str | None:
    out = run(
        [
            docker(),
            "network",
            "inspect",
            "-f",
            '{{index .Options "com.docker.network.bridge.name"}}|{{.Id}}',
            network,
        ],
        capture=True,
        check=False,
    ).stdout.strip()
    if not out:
        return None
    name, _, ident = out.partition("|")
    return name if name and name != "<no value>" else f"br-{ident[:12]}"


def _isolate(bridge: str) -> None:
    """Nodes need nothing outside: every image is built here. Drop what the nodes and their pods
    would forward anywhere but to each other (a Service address not yet programmed by kube-proxy,
    a registry, a lab's typo), so no packet leaves the machine."""
    rule = ["DOCKER-USER", "-i", bridge, "!", "-o", bridge, "-j", "DROP"]
    if run(["iptables", "-C", *rule], capture=True, check=False).returncode != 0:
        run(
            ["iptables", "-I", *rule],
            capture=True,
            hint="the DOCKER-USER chain is missing: is the engine using iptables?",
        )


def stop() -> None:
    pid = started_here()
    if not pid:
        if answers():
            log("leaving the Docker engine running: it was not started by breakfix")
        return
    with step("stopping dockerd (started by breakfix)"):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.3)
        else:
            os.kill(pid, signal.SIGKILL)
        PIDFILE.unlink(missing_ok=True)
        _remove_leftovers()


def _remove_leftovers() -> None:
    """A stopped (or killed) dockerd leaves bridges, iptables chains and mounts behind; the next
    start would pick other subnets, or fail on a stale socket."""
    if os.geteuid() != 0:
        return
    for link in ("docker0", KIND_BRIDGE):
        run(["ip", "link", "del", link], capture=True, check=False)
    saved = (
        run(["iptables-save"], capture=True, check=False).stdout if which("iptables-save") else ""
    )
    table = "filter"
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A ") and ("DOCKER" in line or KIND_BRIDGE in line):
            run(["iptables", "-t", table, "-D", *shlex.split(line)[1:]], capture=True, check=False)
    Path("/var/run/docker.sock").unlink(missing_ok=True)
    _kill_orphans()
    for root in (DATA_ROOT, EXEC_ROOT):
        run(["sh", "-c", f"grep -o ' {root}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l"],
            capture=True, check=False)  # fmt: skip


def _kill_orphans() -> None:
    """Container shims of this engine (and the node containers under them) outlive a dockerd
    that was killed, and keep their mounts busy: kill those process trees, and only those."""
    parents: dict[int, int] = {}
    ours: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        if "containerd-shim" in cmdline and str(EXEC_ROOT) in cmdline:
            ours.append(pid)
    doomed = set(ours)
    grew = True
    while grew:
        children = {p for p, parent in parents.items() if parent in doomed} - doomed
        grew = bool(children)
        doomed |= children
    for pid in doomed:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if doomed:
        log(f"killed {len(doomed)} processes left by a stopped engine's containers")
        time.sleep(1)
