"""Is a real request in the API server's audit log, and at which level? The agent makes the
request with a kubeconfig on the node, to the API server on that node (the one whose log is
here), takes the `Audit-Id` the API server answers with, and looks for that ID in the log.
Only the event's outline leaves the node: its level, stage, verb and user, and whether it holds
the request and response bodies, never the bodies themselves (they may be Secrets)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp

from breakfix.agent.credentials import Unusable, client_for, require

# Where a lab may ask the API server to write its audit log.
AUDIT_LOG = re.compile(r"^/var/log/kubernetes/audit/[A-Za-z0-9._-]+\.log$")
# The log backend may write an event a moment after the response reached the client.
WAIT_SECONDS = 3.0
# An audit log grows with every logged request: only its end can hold the event just made.
TAIL_BYTES = 4 * 2**20


def outline(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "level": event.get("level", ""),
        "stage": event.get("stage", ""),
        "verb": event.get("verb", ""),
        "user": (event.get("user") or {}).get("username", ""),
        "requestObject": "requestObject" in event,
        "responseObject": "responseObject" in event,
    }


def find(text: str, audit_id: str) -> dict[str, Any] | None:
    """The last event with `audit_id` in a JSON-lines audit log (one per stage logged: the
    last is the furthest stage)."""
    found: dict[str, Any] | None = None
    needle = f'"auditID":"{audit_id}"'
    for line in text.splitlines():
        if needle not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("auditID") == audit_id:
            found = event
    return found


def _tail(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            return handle.read().decode(errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return None


async def audited(
    root: Path, kubeconfig: str, get: str, log: str, wait: float = WAIT_SECONDS
) -> dict[str, Any]:
    """{"status": HTTP status of the GET or 0, "auditID", "log": whether the log exists,
    "event": the event's outline or None, "error": text}."""
    require(kubeconfig, get)
    if not AUDIT_LOG.match(log):
        raise ValueError(f"{log}: not an audit log the agent reads")
    try:
        server, tls, headers = client_for(root, kubeconfig)
    except Unusable as exc:
        return {"status": 0, "error": str(exc), "log": False, "event": None}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(server + get, ssl=tls, headers=headers) as response,
        ):
            await response.read()
            status, audit_id = response.status, response.headers.get("Audit-Id", "")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return {"status": 0, "error": f"{type(exc).__name__}: {exc}", "log": False, "event": None}
    path = root / log.lstrip("/")
    deadline = time.monotonic() + wait
    while True:
        text = await asyncio.to_thread(_tail, path)
        event = find(text, audit_id) if text is not None and audit_id else None
        if event is not None or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    return {
        "status": status,
        "auditID": audit_id,
        "log": text is not None,
        "event": outline(event) if event is not None else None,
        "error": "" if audit_id else "the API server sent no Audit-Id",
    }
