"""The dashboard without a cluster: its pages and event stream served by aiohttp from a board
filled as the operator's watch events fill it, with Lab statuses shaped like the operator's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from breakfix.dashboard import views
from breakfix.dashboard.board import Board
from breakfix.dashboard.server import make_app
from breakfix.lab.conditions import iso
from breakfix.scenario.catalog import load_lab
from tests.paths import LABS

TOKEN = "s3cret-token"
T0 = 1_800_000_000.0
SCENARIO = load_lab(LABS / "svc-selector-mismatch")


def lab(
    name: str, learner: str, passed: bool, hints: list[str], checked_at: float = T0
) -> dict[str, Any]:
    ready = {"type": "Ready", "status": "True", "reason": "SymptomsConfirmed"}
    solved = {"type": "Solved", "status": "True" if passed else "False"}
    checks = [
        {
            "name": "service-answers",
            "description": "Every request through Service api gets the page.",
            "passed": passed,
            "message": "answered 'api ok'" if passed else "nc: timed out",
            "guard": False,
            "lastTransitionTime": iso(checked_at),
        }
    ]
    status = {
        "conditions": [ready, solved],
        "checks": checks,
        "passed": int(passed),
        "total": 1,
        "progress": f"{int(passed)}/1",
        "score": 100 if passed else 0,
        "hints": hints,
        "hintsUsed": len(hints),
        "startedAt": iso(T0),
        "task": "Make the api Service answer.",
        "namespace": f"lab-{name}",
    }
    if passed:
        status["timeToSolveSeconds"] = 300
    spec = {"scenario": "svc-selector-mismatch", "learner": {"kind": "User", "name": learner}}
    return {"metadata": {"name": name}, "spec": spec, "status": status}


def board() -> Board:
    b = Board()
    b.update("Scenario", SCENARIO.id, SCENARIO.to_scenario())
    first_hint = SCENARIO.spec.hints[0].text
    b.update("Lab", "ann", lab("ann", "ann", passed=False, hints=[first_hint]))
    b.update("Lab", "bob", lab("bob", "bob", passed=True, hints=[]))
    return b


async def next_event(response: Any) -> dict[str, Any]:
    """The next server-sent event's data, past blank separator lines and keep-alives."""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 2)).decode()
        if line.startswith("data: "):
            return dict(json.loads(line.removeprefix("data: ")))


async def client(b: Board) -> TestClient[Any, Any]:
    c: TestClient[Any, Any] = TestClient(TestServer(make_app(b, TOKEN)))
    await c.start_server()
    return c


async def test_no_token_no_page_and_the_token_becomes_a_cookie() -> None:
    c = await client(board())
    try:
        assert (await c.get("/")).status == 401
        assert (await c.get("/", headers={"Authorization": "Bearer wrong"})).status == 401
        assert (await c.get("/healthz")).status == 200
        first = await c.get(f"/?token={TOKEN}&learner=ann", allow_redirects=False)
        assert first.status == 302 and first.headers["Location"] == "/?learner=ann"
        assert (await c.get("/?learner=ann")).status == 200  # the cookie now
        bearer = await c.get("/labs/ann", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status == 200
    finally:
        await c.close()


async def test_pages_show_progress_but_no_solution_or_unrevealed_hint() -> None:
    c = await client(board())
    try:
        await c.get(f"/?token={TOKEN}")
        pages = [await (await c.get(p)).text() for p in
                 ("/", "/labs/ann", "/labs/bob", "/scenarios/svc-selector-mismatch")]  # fmt: skip
        everything = "\n".join(pages)
        assert "ann" in pages[0] and "Working" in pages[0] and "Solved" in pages[0]
        assert SCENARIO.spec.hints[0].text.split("`")[0] in pages[1]  # revealed to ann
        for hint in SCENARIO.spec.hints[1:]:
            assert hint.text.split("`")[0].strip() not in everything
        assert SCENARIO.spec.solution.explanation.split("\n")[0] not in everything
        assert "median time to solve 5m00s" in pages[3]
        assert "service-answers (failing in 1 of 2)" in pages[3]
        only_ann = await (await c.get("/?learner=ann")).text()
        assert 'id="lab-ann"' in only_ann and 'id="lab-bob"' not in only_ann
    finally:
        await c.close()


async def test_a_check_turning_green_is_pushed_to_an_open_page() -> None:
    b = board()
    c = await client(b)
    try:
        await c.get(f"/?token={TOKEN}")
        stream = await c.get("/events?page=class")
        lab_page = await c.get("/events?page=lab:ann")
        await asyncio.sleep(0.05)
        b.update("Lab", "ann", lab("ann", "ann", passed=True, hints=[]))
        message = await next_event(stream)
        assert message["id"] == "lab-ann" and "1/1" in message["html"]
        assert "Solved" in message["html"]
        detail = await next_event(lab_page)
        assert detail["id"] == "live" and "answered" in detail["html"]
        b.update("Lab", "ann", None)
        gone = await next_event(stream)
        assert gone == {"id": "lab-ann", "parent": "labs", "html": ""}
        stream.close()
        lab_page.close()
    finally:
        await c.close()


def test_a_lab_without_a_change_for_ten_minutes_is_stuck() -> None:
    ann = lab("ann", "ann", passed=False, hints=[], checked_at=T0)
    assert views.lab_row(ann, {}, T0 + 599, 600).stuck is False
    assert views.lab_row(ann, {}, T0 + 601, 600).stuck is True
    solved = lab("bob", "bob", passed=True, hints=[])
    assert views.lab_row(solved, {}, T0 + 9999, 600).stuck is False


async def test_a_primed_board_serves_the_whole_class_before_any_watch_event() -> None:
    """A new leader lists the class before serving: its first page is never a part of it."""
    b = Board()
    b.prime("Scenario", [SCENARIO.to_scenario()])
    b.prime("Lab", [lab("ann", "ann", passed=False, hints=[]), lab("bob", "bob", True, [])])
    c = await client(b)
    try:
        page = await (await c.get("/", headers={"Authorization": f"Bearer {TOKEN}"})).text()
        assert 'id="lab-ann"' in page and 'id="lab-bob"' in page
        # The watch's events are newer than the list: they overwrite it.
        b.update("Lab", "ann", lab("ann", "ann", passed=True, hints=[]))
        assert b.labs["ann"]["status"]["passed"] == 1
        hidden = b.scenarios[SCENARIO.id]["spec"]
        assert set(hidden) == {"title", "tags", "difficulty", "category"}  # no hints primed
    finally:
        await c.close()
