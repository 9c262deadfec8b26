"""The dashboard's HTTP side: pages rendered from the board, and `/events`, a server-sent event
stream per open page that sends the HTML of what changed. Read-only; every request but the
health probe needs the token (`?token=` once, then a cookie; or `Authorization: Bearer`)."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from breakfix.dashboard import views
from breakfix.dashboard.board import Board, Change
from breakfix.exam.decide import EXAM_LABEL

COOKIE = "breakfix_dashboard"
KEEPALIVE_SECONDS = 15.0
# Changes arriving this close together go out as one batch.
COALESCE_SECONDS = 0.05

BOARD = web.AppKey("board", Board)
TOKEN = web.AppKey("token", str)
STUCK = web.AppKey("stuck", float)
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("breakfix.dashboard", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def render(template: str, **context: Any) -> str:
    return TEMPLATES.get_template(template).render(**context)


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/healthz":
        return await handler(request)
    token = request.app[TOKEN]
    given = request.query.get("token")
    if given is not None and hmac.compare_digest(given, token):
        # Once, from the link `breakfix dashboard` opens: then a cookie, and a URL without it.
        query = {k: v for k, v in request.query.items() if k != "token"}
        location = request.path + (f"?{urlencode(query)}" if query else "")
        response = web.HTTPFound(location)
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
        raise response
    bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    cookie = request.cookies.get(COOKIE, "")
    if any(c and hmac.compare_digest(c, token) for c in (bearer, cookie)):
        return await handler(request)
    raise web.HTTPUnauthorized(
        text="the dashboard needs its token: open it with `breakfix dashboard`\n"
    )


def filters_of(request: web.Request) -> views.Filters:
    q = request.query
    return views.Filters(q.get("learner", ""), q.get("tag", ""), q.get("state", ""))


def events_url(page: str, filters: views.Filters | None = None) -> str:
    params = {"page": page}
    if filters:
        params |= {k: v for k, v in vars(filters).items() if v}
    return "/events?" + urlencode(params)


async def class_page(request: web.Request) -> web.Response:
    board, filters = request.app[BOARD], filters_of(request)
    labs, exams = views.class_view(
        board.labs, board.exams, board.scenarios, time.time(), filters, request.app[STUCK]
    )
    html = render(
        "class.html",
        labs=labs,
        exams=exams,
        filters=filters,
        events_url=events_url("class", filters),
    )
    return web.Response(text=html, content_type="text/html")


async def lab_page(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    lab = request.app[BOARD].labs.get(name)
    if lab is None:
        raise web.HTTPNotFound(text=f"no lab {name}\n")
    html = render("lab.html", lab=views.lab_detail(lab), events_url=events_url(f"lab:{name}"))
    return web.Response(text=html, content_type="text/html")


async def exam_page(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    board = request.app[BOARD]
    exam = board.exams.get(name)
    if exam is None:
        raise web.HTTPNotFound(text=f"no exam {name}\n")
    html = render(
        "exam.html", exam=views.exam_detail(exam, board.labs), events_url=events_url(f"exam:{name}")
    )
    return web.Response(text=html, content_type="text/html")


async def scenario_page(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    board = request.app[BOARD]
    stats = views.scenario_view(name, board.labs, board.scenarios, time.time())
    html = render("scenario.html", stats=stats, events_url=events_url(f"scenario:{name}"))
    return web.Response(text=html, content_type="text/html")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def updates(
    board: Board, page: str, filters: views.Filters, changes: set[Change], stuck: float
) -> list[dict[str, str]]:
    """The HTML to send to an open `page` for `changes`: a row for the class page, the whole
    live part for a lab, exam or scenario page; nothing for changes the page does not show."""
    now = time.time()
    kind, _, name = page.partition(":")
    out: list[dict[str, str]] = []
    if kind == "class":
        for change in sorted(changes, key=lambda c: (c.kind, c.name)):
            if change.kind == "Lab":
                rows, _ = views.class_view(
                    {change.name: board.labs[change.name]} if change.name in board.labs else {},
                    {}, board.scenarios, now, filters, stuck,
                )  # fmt: skip
                html = render("lab_row.html", row=rows[0]) if rows else ""
                out.append({"id": f"lab-{change.name}", "parent": "labs", "html": html})
            elif change.kind == "Exam":
                exam = board.exams.get(change.name)
                html = render("exam_row.html", row=views.exam_row(exam, now)) if exam else ""
                out.append({"id": f"exam-{change.name}", "parent": "exams", "html": html})
        return out
    relevant = any(
        (kind == "lab" and c.kind == "Lab" and c.name == name)
        or (kind == "exam" and c.kind == "Exam" and c.name == name)
        or (kind == "exam" and c.kind == "Lab" and _exam_of(board, c.name) == name)
        or (kind == "scenario" and c.kind == "Lab" and _scenario_of(board, c.name) in (name, None))
        for c in changes
    )
    if not relevant:
        return out
    if kind == "lab" and name in board.labs:
        main = render("lab_main.html", lab=views.lab_detail(board.labs[name]))
    elif kind == "exam" and name in board.exams:
        main = render("exam_main.html", exam=views.exam_detail(board.exams[name], board.labs))
    elif kind == "scenario":
        stats = views.scenario_view(name, board.labs, board.scenarios, now)
        main = render("scenario_main.html", stats=stats)
    else:
        main = f"<p>{kind} {name} is gone.</p>"
    out.append({"id": "live", "html": f'<main id="live">{main}</main>'})
    return out


def _exam_of(board: Board, lab: str) -> str | None:
    return ((board.labs.get(lab) or {}).get("metadata", {}).get("labels") or {}).get(EXAM_LABEL)


def _scenario_of(board: Board, lab: str) -> str | None:
    return ((board.labs.get(lab) or {}).get("spec") or {}).get("scenario")


async def events(request: web.Request) -> web.StreamResponse:
    board = request.app[BOARD]
    page = request.query.get("page", "class")
    filters = filters_of(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    queue = board.subscribe()
    try:
        while True:
            try:
                first = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            await asyncio.sleep(COALESCE_SECONDS)
            changes = {first}
            while not queue.empty():
                changes.add(queue.get_nowait())
            for message in updates(board, page, filters, changes, request.app[STUCK]):
                await response.write(f"data: {json.dumps(message)}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        board.unsubscribe(queue)
    return response


def make_app(board: Board, token: str, stuck_after: float = 600.0) -> web.Application:
    if not token:
        raise ValueError("the dashboard needs a token")
    app = web.Application(middlewares=[require_token])
    app[BOARD], app[TOKEN], app[STUCK] = board, token, stuck_after
    app.router.add_get("/", class_page)
    app.router.add_get("/labs/{name}", lab_page)
    app.router.add_get("/exams/{name}", exam_page)
    app.router.add_get("/scenarios/{name}", scenario_page)
    app.router.add_get("/events", events)
    app.router.add_get("/healthz", healthz)
    return app


async def start(
    board: Board, token: str, port: int, stuck_after: float = 600.0, address: str = "0.0.0.0"
) -> web.AppRunner:
    runner = web.AppRunner(make_app(board, token, stuck_after), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, address, port).start()
    return runner
