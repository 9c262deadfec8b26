"""`staticPod`: a control-plane component that the kubelet runs from a manifest on a node
(kube-scheduler, kube-controller-manager, kube-apiserver, etcd) is running, Ready for
`forSeconds`, and started with the given flags.

It reads the component's mirror pod, the API's copy of what the kubelet runs from the node's
file: a pod of the same name made by hand has no `kubernetes.io/config.mirror` annotation and
does not count. Flags are read as the component parses them: `--name=value` or `--name value`,
in `command` or `args`."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import describe_pod, live, name_of, ready_pods
from breakfix.checks.snapshot import Need, Obj, ObjectsNeed, Snapshot

SYSTEM = "kube-system"
MIRROR = "kubernetes.io/config.mirror"


def parse_flags(argv: list[str]) -> dict[str, str]:
    """`--flag=value` and `--flag value` (the last wins, as with Go's pflag); a bare `--flag`
    followed by another flag is "true"."""
    flags: dict[str, str] = {}
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if not word.startswith("-"):
            continue
        name, eq, value = word.lstrip("-").partition("=")
        if not eq:
            if index < len(argv) and not argv[index].startswith("-"):
                value = argv[index]
                index += 1
            else:
                value = "true"
        flags[name] = value
    return flags


def container_flags(pod: Obj, container: str) -> dict[str, str] | None:
    for c in pod.get("spec", {}).get("containers") or []:
        if c.get("name") == container:
            return parse_flags([*(c.get("command") or []), *(c.get("args") or [])])
    return None


class StaticPodCheck(CheckType):
    key: ClassVar[str] = "staticPod"
    reads: ClassVar[tuple[Reads, ...]] = (Reads("v1", "pods", kind="Pod"),)

    component: str = Field(
        pattern=r"^[a-z0-9-]+$", description="kube-scheduler, kube-apiserver, ... (the container)"
    )
    node: str = Field(min_length=1, description="The node whose kubelet runs it.")
    flags: dict[str, str] = Field(
        default_factory=dict, description="Flags it must run with, without the dashes."
    )
    for_seconds: int = Field(10, ge=0, alias="forSeconds")

    def needs(self, namespace: str) -> list[Need]:
        return [ObjectsNeed("v1", "Pod", SYSTEM)]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        name = f"{self.component}-{self.node}"
        pods = [p for p in live(snapshot.list("v1", "Pod", SYSTEM)) if name_of(p) == name]
        if not pods:
            return Verdict(
                False,
                f"no pod {name} in {SYSTEM}: the kubelet on {self.node} is not running "
                f"{self.component} from its manifest (or cannot report it)",
            )
        pod = pods[0]
        if MIRROR not in (pod["metadata"].get("annotations") or {}):
            return Verdict(
                False,
                f"pod {name} was not made by the kubelet from a static-pod manifest: only the "
                f"component the kubelet runs on {self.node} counts",
            )
        flags = container_flags(pod, self.component)
        if flags is None:
            return Verdict(False, f"pod {name} has no container {self.component}")
        wrong = [
            f"--{flag}={flags[flag]!s} (want {want})" if flag in flags else f"no --{flag}"
            for flag, want in sorted(self.flags.items())
            if flags.get(flag) != want
        ]
        if wrong:
            return Verdict(False, f"{self.component} on {self.node} runs with " + ", ".join(wrong))
        held, soonest = ready_pods([pod], self.for_seconds, snapshot.now)
        if not held:
            if soonest is not None:
                return Verdict(
                    False,
                    f"{self.component} on {self.node} is Ready, waiting {self.for_seconds}s to "
                    "be sure it stays up",
                    soonest,
                )
            return Verdict(False, f"{self.component} on {self.node}: {describe_pod(pod)}")
        return Verdict(True, f"{self.component} on {self.node} is running and Ready")
