"""The reference solution as the kubectl commands a learner would type (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from breakfix.scenario.models import Solution


@dataclass(frozen=True)
class Command:
    args: tuple[str, ...]
    stdin: str | None = None

    def __str__(self) -> str:
        text = "kubectl " + " ".join(self.args)
        return text + (" <<EOF\n" + self.stdin + "\nEOF" if self.stdin else "")


def _resource(api_version: str, kind: str) -> str:
    group = api_version.split("/")[0] if "/" in api_version else ""
    return f"{kind.lower()}.{group}" if group else kind.lower()


def solution_commands(solution: Solution, namespace: str) -> list[Command]:
    commands = []
    for step in solution.steps:
        if step.on_node is not None or step.wait_seconds is not None:
            raise ValueError("onNode and waitSeconds steps are not kubectl commands")
        if step.drain is not None:
            drain = step.drain
            selector = ",".join(f"{k}={v}" for k, v in sorted(drain.selector.items()))
            commands.append(
                Command(
                    (
                        "drain",
                        drain.node,
                        "--ignore-daemonsets",
                        "--delete-emptydir-data",
                        f"--pod-selector={selector}",
                        f"--timeout={int(drain.timeout_seconds)}s",
                    )
                )
            )
            continue
        if step.apply is not None:
            commands.append(
                Command(
                    (
                        "apply",
                        "--server-side",
                        "--force-conflicts",
                        "--field-manager=learner",
                        "-n",
                        step.apply_namespace(namespace),
                        "-f",
                        "-",
                    ),
                    json.dumps(step.apply),
                )
            )
        elif step.patch is not None:
            p = step.patch
            sub = ("--subresource", p.subresource) if p.subresource else ()
            commands.append(
                Command(
                    (
                        "patch",
                        "-n",
                        p.namespace or namespace,
                        _resource(p.api_version, p.kind),
                        p.name,
                        "--type",
                        p.type,
                        "-p",
                        json.dumps(p.patch),
                        *sub,
                    )
                )
            )
        elif step.delete is not None:
            d = step.delete
            commands.append(
                Command(
                    (
                        "delete",
                        "-n",
                        d.namespace or namespace,
                        _resource(d.api_version, d.kind),
                        d.name,
                    )
                )
            )
    return commands
