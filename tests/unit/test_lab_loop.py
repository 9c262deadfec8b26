"""The executor against an in-memory API: it runs what decide() asks, in order, and feeds the
answers back. (decide() itself is covered by test_decide.py.)"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from breakfix.controller.lab_loop import LabLoop, LoopSettings, status_patch
from breakfix.controller.signals import Signals
from breakfix.lab.conditions import condition
from breakfix.lab.nodes import HOLDER
from tests.unit.fake_kube import FakeKube
from tests.unit.test_decide import scenario

CONFIGMAP = ("v1", "ConfigMap", "lab-t", "app")


class CacheView(Mapping[str, Any]):
    """The Namespace and Node watch caches, as the fake API holds them right now."""

    KINDS: ClassVar[dict[str, str]] = {"cache_namespaces": "Namespace", "cache_nodes": "Node"}

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube

    def __getitem__(self, key: str) -> Any:
        kind = self.KINDS[key]
        return {"": [o for (_, k, _, _), o in sorted(self.kube.objects.items()) if k == kind]}

    def __iter__(self) -> Iterator[str]:
        return iter(self.KINDS)

    def __len__(self) -> int:
        return len(self.KINDS)


class Lab:
    def __init__(self, spec: dict[str, Any], kube: FakeKube | None = None) -> None:
        self.kube = kube or FakeKube()
        self.events: list[str] = []
        self.body: dict[str, Any] = {
            "metadata": {"name": "t", "uid": "u", "generation": 1},
            "spec": spec,
        }

        async def post(type_: str, reason: str, message: str) -> None:
            self.events.append(reason)

        self.loop = LabLoop(
            kube=self.kube,  # type: ignore[arg-type]
            signals=Signals(),
            settings=LoopSettings(),
            body=self.body,
            indexes=CacheView(self.kube),
            scenarios={"s": scenario(), "n": scenario(node_changes=True)},
            post_event=post,
            logger=logging.getLogger("test"),
        )

    async def step(self) -> list[tuple[Any, ...]]:
        self.kube.calls.clear()
        self.events.clear()
        await self.loop.step()
        return [c[:2] for c in self.kube.calls if c[0] != "list"]

    def reason(self, type_: str) -> str:
        return str((condition(self.loop.written, type_) or {}).get("reason"))


async def test_provision_grade_and_reset() -> None:
    lab = Lab({"scenario": "s", "seed": 7})
    calls = await lab.step()
    assert calls == [
        ("apply", "Namespace"),
        ("apply", "ConfigMap"),
        ("patch", "Namespace"),
        ("patch_status", "Lab"),
    ]
    assert lab.events == ["Provisioned"] and lab.reason("Ready") == "SymptomsConfirmed"
    # The provisioned objects' uids are recorded on the namespace, for identityKept checks.
    [ns] = [o for k, o in lab.kube.objects.items() if k[1] == "Namespace"]
    uids = json.loads(ns["metadata"]["annotations"]["breakfix.dev/provisioned-uids"])
    [(key, uid)] = uids.items()
    assert key.startswith("ConfigMap/") and uid.startswith("uid-ConfigMap-")

    # Nothing changed: nothing written, nothing said.
    assert await lab.step() == [] and lab.events == []
    lab.kube.objects[CONFIGMAP]["data"] = {"mode": "fixed"}
    assert await lab.step() == [("patch_status", "Lab")]
    assert lab.events == ["CheckPassed", "Solved"] and lab.reason("Solved") == "AllChecksPassed"
    assert await lab.step() == [] and lab.events == []

    lab.body["spec"] = {"scenario": "s", "seed": 7, "reset": 1}
    calls = await lab.step()
    assert calls[:3] == [("patch_status", "Lab"), ("delete", "Namespace"), ("get", "Namespace")]
    assert calls[3:] == [
        ("apply", "Namespace"),
        ("apply", "ConfigMap"),
        ("patch", "Namespace"),
        ("patch_status", "Lab"),
    ]
    assert lab.events == ["Reset", "Provisioned"]
    assert lab.loop.written["observedReset"] == 1


async def test_refused_provisioning_is_torn_down_and_reported() -> None:
    lab = Lab({"scenario": "s"}, FakeKube(reject={"ConfigMap": "configmaps is forbidden"}))
    calls = await lab.step()
    assert ("delete", "Namespace") in calls and calls[-1] == ("patch_status", "Lab")
    assert lab.events == ["ProvisioningFailed", "ProvisioningFailed"]
    ready = condition(lab.loop.written, "Ready") or {}
    assert ready["message"] == "could not create the scenario's objects: configmaps is forbidden"


async def test_node_change_is_recorded_before_the_manifests_and_reverted_on_reset() -> None:
    kube = FakeKube()
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1", "resourceVersion": "1"},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    lab = Lab({"scenario": "n", "seed": 1}, kube)
    calls = await lab.step()
    assert calls[:5] == [
        ("apply", "Namespace"),
        ("get", "Node"),
        ("patch", "Node"),
        ("patch_status", "Lab"),
        ("apply", "ConfigMap"),
    ]
    node = kube.objects[("v1", "Node", "", "n1")]
    assert node["spec"]["unschedulable"] and node["metadata"]["annotations"][HOLDER] == "t"
    assert lab.loop.written["nodeChanges"][0]["node"] == "n1"

    lab.body["spec"] = {"scenario": "n", "seed": 1, "reset": 1}
    await lab.step()
    reverted = next(c for c in kube.calls if c[0] == "patch")
    assert reverted[3]["spec"]["unschedulable"] is None


def test_status_patch_nulls_removed_fields() -> None:
    assert status_patch({"a": 1, "b": 2}, {"a": 1, "c": 3}) == {"c": 3, "b": None}
