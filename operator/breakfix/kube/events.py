"""Kubernetes Events about Labs, shaped so that `kubectl describe lab` finds them.

Kopf's own poster files events on cluster-scoped objects with involvedObject.namespace set to
"default", which `kubectl describe` does not match; these leave it empty, as the kubelet does for
Nodes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime
from typing import Any

from breakfix import API_VERSION
from breakfix.kube.client import ApiException, Kube

log = logging.getLogger(__name__)
INSTANCE = socket.gethostname()


def lab_event(lab: dict[str, Any], type_: str, reason: str, message: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = lab["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": "default"},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": "Lab",
            "name": meta["name"],
            "uid": meta["uid"],
        },
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "source": {"component": "breakfix"},
        "reportingComponent": "breakfix.dev/operator",
        "reportingInstance": INSTANCE,
    }


async def post(kube: Kube, lab: dict[str, Any], type_: str, reason: str, message: str) -> None:
    """Best effort: a lost Event must never stop grading."""
    try:
        body: Any = lab_event(lab, type_, reason, message)
        async with asyncio.timeout(10):
            await kube.create(body, "default")
    except (ApiException, OSError, TimeoutError) as exc:
        log.warning(f"could not post event {reason}: {exc}")
