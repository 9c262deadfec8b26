"""`staticPod`: a control-plane component that the kubelet runs from a manifest on a node
(kube-scheduler, kube-controller-manager, kube-apiserver, etcd) is running, Ready for
`forSeconds`, and started with the given flags.

The flags are read from the manifest on the node (by the node agent) and from the component's
mirror pod, the API's copy of what the kubelet runs; both must agree. Just after an outage of
the API server the mirror pod may still show a manifest from before it (the kubelet could not
update it), and a pod of the same name made by hand has no `kubernetes.io/config.mirror`
annotation: neither counts. Flags are read as the component parses them: `--name=value` or
`--name value`, in `command` or `args`."""

from __future__ import annotations

from typing import ClassVar

import yaml
from pydantic import Field

from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import describe_pod, live, name_of, ready_pods
from breakfix.checks.snapshot import Need, NodeFileNeed, Obj, ObjectsNeed, Snapshot

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


def manifest_flags(text: str | None, container: str) -> dict[str, str] | None:
    """The flags a static-pod manifest gives `container`; None if it has no such container."""
    try:
        pod = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return None
    return container_flags(pod, container) if isinstance(pod, dict) else None


def container_flags(pod: Obj, container: str) -> dict[str, str] | None:
    for c in pod.get("spec", {}).get("containers") or []:
        if c.get("name") == container:
            return parse_flags([*(c.get("command") or []), *(c.get("args") or [])])
    return None


class StaticPodCheck(CheckType):
    key: ClassVar[str] = "staticPod"
    # The manifest comes from the node agent, found through the Node's address.
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "pods", kind="Pod"),
        Reads("v1", "nodes", kind="Node"),
    )

    component: str = Field(
        pattern=r"^[a-z0-9-]+$", description="kube-scheduler, kube-apiserver, ... (the container)"
    )
    node: str = Field(min_length=1, description="The node whose kubelet runs it.")
    flags: dict[str, str] = Field(
        default_factory=dict, description="Flags it must run with, without the dashes."
    )
    for_seconds: int = Field(10, ge=0, alias="forSeconds")

    @property
    def manifest(self) -> str:
        return f"/etc/kubernetes/manifests/{self.component}.yaml"

    def needs(self, namespace: str) -> list[Need]:
        return [ObjectsNeed("v1", "Pod", SYSTEM), NodeFileNeed(self.node, self.manifest)]

    def wakes_on(self, namespace: str) -> set[str]:
        return {"Pod", "Node"}

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
        text = snapshot.files.get((self.node, self.manifest))
        on_disk = manifest_flags(text, self.component)
        if on_disk is None:
            return Verdict(
                False,
                f"{self.manifest} on {self.node} "
                + ("does not exist" if text is None else f"runs no container {self.component}"),
            )
        stale = sorted(f for f in self.flags if on_disk.get(f) != flags.get(f))
        if stale:
            return Verdict(
                False,
                f"pod {name} does not show {self.manifest} yet (--{stale[0]}): the kubelet has "
                "not reported the pod it now runs from it",
            )
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
