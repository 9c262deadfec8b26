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


async def restart_container(name: str) -> None:
    """Stop the running containers named `name`; the kubelet starts them again (restartPolicy
    Always), so the component reads its files anew."""
    for container in await running_containers(name):
        proc = await asyncio.create_subprocess_exec(
            *HOST,
            "crictl",
            "stop",
            container,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode:
            raise UnitError(f"crictl stop {container} ({name}): {err.decode().strip()}")
