"""Running a solution's `onNode` script the way a learner would: in a root shell on the node,
opened with the command the lab's status gives (`status.shell`)."""

from __future__ import annotations

import asyncio
import shlex


class NodeShellError(RuntimeError):
    pass


def script_command(shell: str) -> list[str]:
    """The non-interactive form of `shell`, reading a script on stdin: kind's `docker exec -it
    <node> bash` becomes `docker exec -i <node> bash -s`."""
    words = shlex.split(shell)
    if len(words) >= 4 and words[1] == "exec" and words[0] in ("docker", "podman", "nerdctl"):
        return [words[0], "exec", "-i", words[-2], "bash", "-s"]
    raise NodeShellError(
        f"cannot run a script through {shell!r}: onNode steps run on kind, where a node is a "
        "container"
    )


async def run_on_node(shell: str, script: str, timeout: float = 180.0) -> str:
    proc = await asyncio.create_subprocess_exec(
        *script_command(shell),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(("set -eu\n" + script).encode()), timeout)
    except TimeoutError:
        proc.kill()
        raise NodeShellError(f"the script on the node ran over {timeout:.0f}s") from None
    text = out.decode(errors="replace")
    if proc.returncode:
        raise NodeShellError(f"the script on the node failed (exit {proc.returncode}): {text}")
    return text
