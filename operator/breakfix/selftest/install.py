"""Make sure the cluster has the CRDs and the Scenarios under test."""

from __future__ import annotations

from pathlib import Path

import yaml

from breakfix.kube.client import Kube, wait_for
from breakfix.scenario.catalog import LabFolder

CRDS = Path(__file__).resolve().parents[3] / "crds"


async def install(kube: Kube, labs: list[LabFolder]) -> None:
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        await kube.apply(crd)
        await wait_for(
            kube,
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            crd["metadata"]["name"],
            lambda o: any(
                c.get("type") == "Established" and c.get("status") == "True"
                for c in (o or {}).get("status", {}).get("conditions") or []
            ),
            60,
        )
    for lab in labs:
        await kube.apply(lab.to_scenario())
