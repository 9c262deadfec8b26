"""systemd units on the node, through its own systemctl: the agent's pod shares the node's PID
namespace, so `nsenter` into PID 1's namespaces runs the node's systemctl against its systemd."""

from __future__ import annotations

import asyncio

HOST = ("nsenter", "--target", "1", "--mount", "--uts", "--ipc", "--net", "--pid", "--")


class UnitError(RuntimeError):
    pass


async def systemctl(*args: str, check: bool = True) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *HOST,
        "systemctl",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace").strip()
    code = proc.returncode or 0
    if check and code != 0:
        raise UnitError(f"systemctl {' '.join(args)}: exit {code}: {text}")
    return code, text


async def is_active(unit: str) -> bool:
    code, _ = await systemctl("is-active", "--quiet", unit, check=False)
    return code == 0


async def stop(unit: str) -> None:
    await systemctl("stop", unit)


async def start(unit: str) -> None:
    # A unit that crashed in a loop may have hit its start limit: clear that first.
    await systemctl("reset-failed", unit, check=False)
    await systemctl("start", unit)


async def restart(unit: str) -> None:
    await systemctl("reset-failed", unit, check=False)
    await systemctl("restart", unit)


async def running_containers(name: str) -> set[str]:
    """IDs of the running containers named `name`, through the node's crictl."""
    proc = await asyncio.create_subprocess_exec(
        *HOST,
        "crictl",
        "ps",
        "-q",
        "--state",
        "running",
        "--name",
        f"^{name}$",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    return set(out.decode().split())


async def wait_stopped(containers: set[str], name: str, timeout: float = 60.0) -> None:
    """Until none of `containers` runs: the kubelet has replaced a static pod whose manifest
    changed, so nothing the old one would have done (schedule a pod) happens after we return."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while containers & await running_containers(name):
        if loop.time() > deadline:
            raise UnitError(f"{name} still runs {timeout:.0f}s after its manifest changed")
        await asyncio.sleep(0.5)


async def _crictl(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *HOST,
        "crictl",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode:
        raise UnitError(f"crictl {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


async def remove_containers(containers: set[str]) -> None:
    """Remove stopped containers from the runtime. The kubelet backs off restarting a container
    by the exits it finds there for the same pod: a component put back exactly as it was (the
    same static pod) would otherwise wait out minutes of back-off for exits it never made."""
    for container in sorted(containers):
        try:
            await _crictl("rm", "-f", container)
        except UnitError as exc:
            # Gone between listing and removing (the kubelet removes old exits itself): the
            # wanted outcome, not a failure of the lab.
            if "NotFound" not in str(exc):
                raise


async def restart_container(name: str) -> None:
    """Remove the containers named `name`, running or not; the kubelet starts a fresh one at
    once (no exit to back off from), so the component reads its files anew."""
    out = await _crictl("ps", "-a", "-q", "--name", f"^{name}$")
    await remove_containers(set(out.split()))


async def clear_backoff(names: tuple[str, ...]) -> None:
    """Remove the exited containers of these components, so that any of them waiting out a
    crash-loop back-off is started again at once."""
    for name in names:
        out = await _crictl("ps", "-a", "-q", "--state", "exited", "--name", f"^{name}$")
        await remove_containers(set(out.split()))
