"""The agent's HTTP API, spoken only by the operator (a bearer token both read from one Secret):

    PUT    /labs/<lab>   apply the lab's node changes (a NodeChanges body); idempotent
    DELETE /labs/<lab>   put back what the lab changed; idempotent
    GET    /labs         the journals on this node
    GET    /files?path=  a configuration file's text (manifests, kubelet config; no credentials)
    GET    /probe?url=   GET a loopback URL from the node (a component's health endpoint)
    GET    /whoami?kubeconfig=[&get=]  a real request with a kubeconfig on the node: its
                         identity, and the HTTP status of a GET of an API path with it
    GET    /audited?kubeconfig=&get=&log=  the same GET, then the outline of its event in
                         the API server's audit log (its level), found by the Audit-Id answered
    GET    /snapshot?path=&marker=...  what an etcd snapshot file is (a database saved with
                         its hash, holding the markers): never its content
    POST   /dry-run-patch {kubeconfig, path, body}  a merge patch with a kubeconfig on the
                         node, sent with dryRun=All: what admission answers, nothing written
    POST   /https-get {address, port, host, path, trust, attempts}  an HTTPS request to an
                         address the node reaches (a cluster IP), verified against `trust`
                         (agent/https.py)
    GET    /healthz      liveness, no token

It listens on the node's network, so the operator reaches it while the node's kubelet is stopped
and without asking the API server anything.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from breakfix.agent import changes
from breakfix.agent.audit import audited
from breakfix.agent.credentials import dry_run_patch, whoami
from breakfix.agent.https import https_get, unverified
from breakfix.agent.journal import ChangeError, Store, describe, due, readable
from breakfix.agent.snapshots import inspect
from breakfix.agent.units import UnitError
from breakfix.scenario.models import NodeChanges

log = logging.getLogger("breakfix.agent")
STORE = web.AppKey("store", Store)
TOKEN_FILE = web.AppKey("token_file", Path)
LOCK = web.AppKey("lock", asyncio.Lock)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _authorized(request: web.Request) -> bool:
    expected = request.app[TOKEN_FILE].read_text().strip()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(expected) and hmac.compare_digest(given, expected)


@web.middleware
async def _auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path != "/healthz" and not _authorized(request):
        return web.json_response({"error": "unauthorized"}, status=401)
    return await handler(request)


async def put_lab(request: web.Request) -> web.Response:
    lab = request.match_info["lab"]
    try:
        wanted = NodeChanges.model_validate(await request.json())
        async with request.app[LOCK]:
            journal = await changes.apply(request.app[STORE], lab, wanted)
    except (ValidationError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=422)
    except (UnitError, OSError) as exc:
        return web.json_response({"error": f"changing the node for lab {lab}: {exc}"}, status=500)
    return web.json_response(describe(journal))


async def delete_lab(request: web.Request) -> web.Response:
    lab = request.match_info["lab"]
    try:
        async with request.app[LOCK]:
            restored = await changes.restore(request.app[STORE], lab)
    except ChangeError as exc:
        return web.json_response({"error": str(exc)}, status=422)
    except (UnitError, OSError) as exc:
        # Said to the operator, which logs it and tries again: the node is not put back yet.
        return web.json_response({"error": f"restoring the node for lab {lab}: {exc}"}, status=500)
    return web.json_response({"restored": restored})


async def list_labs(request: web.Request) -> web.Response:
    return web.json_response([describe(j) for j in request.app[STORE].all()])


async def read_file(request: web.Request) -> web.Response:
    path = request.query.get("path", "")
    if not readable(path):
        return web.json_response({"error": f"{path}: not a file the agent reads"}, status=422)
    target = request.app[STORE].host(path)
    try:
        return web.json_response({"content": target.read_text(errors="replace")})
    except (FileNotFoundError, IsADirectoryError):
        return web.json_response({"content": None})


async def whoami_handler(request: web.Request) -> web.Response:
    try:
        answer = await whoami(
            request.app[STORE].root,
            request.query.get("kubeconfig", ""),
            request.query.get("get", ""),
        )
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=422)
    return web.json_response(answer)


async def dry_run_patch_handler(request: web.Request) -> web.Response:
    try:
        given = await request.json()
        answer = await dry_run_patch(
            request.app[STORE].root,
            str(given.get("kubeconfig", "")),
            str(given.get("path", "")),
            given.get("body"),
        )
    except (ValueError, AttributeError) as exc:
        return web.json_response({"error": str(exc)}, status=422)
    return web.json_response(answer)


async def audited_handler(request: web.Request) -> web.Response:
    query = request.query
    try:
        answer = await audited(
            request.app[STORE].root,
            query.get("kubeconfig", ""),
            query.get("get", ""),
            query.get("log", ""),
        )
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=422)
    return web.json_response(answer)


async def snapshot_handler(request: web.Request) -> web.Response:
    try:
        # Reading and hashing a few MB: off the event loop.
        answer = await asyncio.to_thread(
            inspect,
            request.app[STORE].root,
            request.query.get("path", ""),
            request.query.getall("marker", []),
        )
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=422)
    return web.json_response(answer)


async def probe(request: web.Request) -> web.Response:
    url = request.query.get("url", "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK:
        return web.json_response({"error": "only http(s) URLs on the loopback"}, status=422)
    # Components serve their health endpoints with self-signed certificates.
    insecure = unverified()
    try:
        timeout = aiohttp.ClientTimeout(total=3)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, ssl=insecure) as response,
        ):
            body = (await response.text())[:300]
            return web.json_response({"status": response.status, "body": body})
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return web.json_response({"status": 0, "body": f"{type(exc).__name__}: {exc}"})


async def https_get_handler(request: web.Request) -> web.Response:
    try:
        given = await request.json()
        answer = await https_get(
            str(given["address"]),
            int(given["port"]),
            str(given["host"]),
            str(given.get("path") or "/"),
            str(given["trust"]),
            max(1, min(20, int(given.get("attempts") or 1))),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return web.json_response({"error": f"bad request: {exc}"}, status=422)
    return web.json_response(answer)


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def restore_due(app: web.Application, every: float = 15.0) -> None:
    """The safety net: nobody asked for a repair in time (the API server is still broken, the
    operator is gone), so the agent puts the node back on its own."""
    while True:
        for journal in due(app[STORE].all(), time.time()):
            log.warning(f"lab {journal.lab}: restoreAt passed, putting the node back")
            try:
                async with app[LOCK]:
                    await changes.restore(app[STORE], journal.lab)
            except (UnitError, OSError) as exc:
                log.error(f"lab {journal.lab}: restore failed: {exc}")
        await asyncio.sleep(every)


def make_app(root: Path, token_file: Path) -> web.Application:
    app = web.Application(middlewares=[_auth])
    app[STORE] = Store(root)
    app[TOKEN_FILE] = token_file
    app[LOCK] = asyncio.Lock()
    app.router.add_put("/labs/{lab}", put_lab)
    app.router.add_delete("/labs/{lab}", delete_lab)
    app.router.add_get("/labs", list_labs)
    app.router.add_get("/files", read_file)
    app.router.add_get("/probe", probe)
    app.router.add_get("/whoami", whoami_handler)
    app.router.add_get("/audited", audited_handler)
    app.router.add_get("/snapshot", snapshot_handler)
    app.router.add_post("/dry-run-patch", dry_run_patch_handler)
    app.router.add_post("/https-get", https_get_handler)
    app.router.add_get("/healthz", healthz)

    async def background(app: web.Application):  # type: ignore[no-untyped-def]
        task = asyncio.create_task(restore_due(app))
        yield
        task.cancel()

    app.cleanup_ctx.append(background)
    return app
