from breakfix.checks.check import Check, evaluate
from breakfix.checks.snapshot import LogsNeed, ObjectsNeed, Snapshot

NS = "lab-t"
POD = {"metadata": {"name": "web-1", "labels": {"app": "web"}}}


def logs_check(**pattern: str) -> Check:
    return Check.model_validate(
        {"name": "l", "description": "d", "logs": {"selector": {"app": "web"}, **pattern}}
    )


def snapshot(text: str | None, pods: list[dict] | None = None) -> Snapshot:
    snap = Snapshot(now=0.0)
    snap.objects[ObjectsNeed("v1", "Pod", NS)] = [POD] if pods is None else pods
    if text is not None:
        snap.logs[(NS, "web-1", "")] = text
    return snap


def test_needs_pods_then_their_logs() -> None:
    assert logs_check(contains="ok").needs(NS) == [
        ObjectsNeed("v1", "Pod", NS),
        LogsNeed(NS, (("app", "web"),), None),
    ]


def test_contains() -> None:
    check = logs_check(contains="listening")
    assert evaluate(check, snapshot("server listening on 80"), NS).passed
    result = evaluate(check, snapshot("starting"), NS)
    assert result.message == "logs of pods app=web: no pod has logged 'listening' yet"


def test_not_contains() -> None:
    check = logs_check(notContains="panic")
    assert evaluate(check, snapshot("fine"), NS).passed
    result = evaluate(check, snapshot("panic: nil map"), NS)
    assert not result.passed and result.message == "logs of pods app=web: pod web-1 logged 'panic'"


def test_no_pods() -> None:
    result = evaluate(logs_check(contains="x"), snapshot(None, pods=[]), NS)
    assert result.message == "no pods with labels app=web"
