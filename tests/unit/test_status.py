from breakfix.checks.check import Check
from breakfix.checks.models import CheckResult
from breakfix.lab.conditions import condition, iso
from breakfix.lab.status import Evaluation, events_between, graded_status
from breakfix.scenario.models import Hint

T0 = 1_800_000_000.0
CHECKS = [
    Check.model_validate(
        {"name": "works", "description": "it works", "podsReady": {"selector": {"a": "b"}}}
    ),
    Check.model_validate(
        {
            "name": "guard",
            "description": "no shortcut",
            "guard": True,
            "absent": {"kind": "Pod", "name": "x"},
        }
    ),
]
READY = {
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "SymptomsConfirmed",
            "message": "",
            "observedGeneration": 1,
            "lastTransitionTime": iso(T0),
        }
    ],
    "startedAt": iso(T0),
}


def results(*passed: bool) -> list[CheckResult]:
    return [
        CheckResult(name=c.name, passed=p, message="m") for c, p in zip(CHECKS, passed, strict=True)
    ]


def evaluation(now: float, *passed: bool, hints: int = 0, limit: int | None = None) -> Evaluation:
    return Evaluation(
        generation=1,
        now=now,
        checks=CHECKS,
        results=results(*passed),
        revealed=[Hint(text=f"h{i}", cost=10) for i in range(hints)],
        time_limit_seconds=limit,
    )


def test_unchanged_results_give_an_identical_status() -> None:
    first = graded_status(READY, evaluation(T0 + 5, False, True))
    again = graded_status(first, evaluation(T0 + 50, False, True))
    assert again == first


def test_solving_records_first_solve_score_and_events() -> None:
    before = graded_status(READY, evaluation(T0 + 5, False, True, hints=1))
    assert condition(before, "Solved")["reason"] == "ChecksFailing"  # type: ignore[index]
    assert before["progress"] == "1/2" and before["score"] == 40
    after = graded_status(before, evaluation(T0 + 65, True, True, hints=1))
    assert condition(after, "Solved")["status"] == "True"  # type: ignore[index]
    assert after["firstSolvedAt"] == iso(T0 + 65) and after["timeToSolveSeconds"] == 65
    assert after["score"] == 90
    reasons = [r for _, r, _ in events_between(before, after)]
    assert reasons == ["CheckPassed", "Solved"]
    assert after["checks"][1]["lastTransitionTime"] == before["checks"][1]["lastTransitionTime"]


def test_regression_is_counted_and_first_solve_kept() -> None:
    solved = graded_status(READY, evaluation(T0 + 10, True, True))
    broken = graded_status(solved, evaluation(T0 + 20, True, False))
    assert broken["regressions"] == 1 and broken["firstSolvedAt"] == iso(T0 + 10)
    assert condition(broken, "Solved")["reason"] == "ShortcutDetected"  # type: ignore[index]
    assert [r for _, r, _ in events_between(solved, broken)] == ["CheckFailed", "Regressed"]


def test_time_limit() -> None:
    late = graded_status(READY, evaluation(T0 + 120, False, True, limit=60))
    assert condition(late, "TimeLimitExceeded")["status"] == "True"  # type: ignore[index]
    solved_late = graded_status(late, evaluation(T0 + 130, True, True, limit=60))
    assert solved_late["score"] == 0


def test_a_live_view_ends_with_a_newline_when_piped() -> None:
    # `breakfix status --watch | cat`, or captured by CI: the shell prompt must not run on.
    import io

    from rich.console import Console
    from rich.text import Text

    from breakfix.cli.view import live

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=80)
    with live(console, Text("hint 1: look at the selector")) as view:
        view.update(Text("hint 1: look at the selector"))
    assert out.getvalue().endswith("hint 1: look at the selector\n"), repr(out.getvalue())


def test_a_check_that_could_not_be_read_keeps_its_last_verdict() -> None:
    solved = graded_status(READY, evaluation(T0 + 10, True, True))
    blip = Evaluation(
        generation=1,
        now=T0 + 20,
        checks=CHECKS,
        results=[
            CheckResult(name="works", passed=False, message="could not read", unknown=True),
            CheckResult(name="guard", passed=True, message="m"),
        ],
        revealed=[],
        time_limit_seconds=None,
    )
    after = graded_status(solved, blip)
    assert condition(after, "Solved")["status"] == "True"  # type: ignore[index]
    assert after.get("regressions", 0) == 0 and events_between(solved, after) == []


def test_symptoms_that_could_not_be_read_are_waited_for_past_the_deadline() -> None:
    from breakfix.lab.symptoms import Observation, symptoms_status

    def observe(now: float, unknown: bool) -> tuple[str, float]:
        result = CheckResult(name="works", passed=False, message="no answer",
                             recheck_at=now + 2 if unknown else None, unknown=unknown)  # fmt: skip
        status, _, wake = symptoms_status(
            {"provisionedAt": iso(T0)},
            Observation(
                generation=1,
                now=now,
                namespace="lab-a",
                symptoms=CHECKS[:1],
                results=[result],
                checks_watched=1,
                symptoms_seconds=30,
                safety_seconds=300,
            ),
        )
        return condition(status, "Ready")["reason"], wake  # type: ignore[index]

    assert observe(T0 + 60, unknown=True) == ("WaitingForSymptoms", T0 + 62)
    assert observe(T0 + 60, unknown=False)[0] == "SymptomsNotObserved"


def test_a_guard_the_broken_state_fails_is_no_shortcut_until_it_held() -> None:
    """A guard that fails from the start (its broken state fails it by design) leaves the reason
    ChecksFailing; once it has held, failing again is a shortcut."""
    guarded = CHECKS
    start = Evaluation(1, T0 + 5, guarded, results(False, False), [], None)
    first = graded_status(READY, start)
    assert condition(first, "Solved")["reason"] == "ChecksFailing"  # type: ignore[index]
    assert first["unheldGuards"] == [guarded[1].name]
    again = graded_status(first, Evaluation(1, T0 + 9, guarded, results(True, False), [], None))
    assert condition(again, "Solved")["reason"] == "ChecksFailing"  # type: ignore[index]
    held = graded_status(again, Evaluation(1, T0 + 20, guarded, results(False, True), [], None))
    assert held["unheldGuards"] == []
    broken = graded_status(held, Evaluation(1, T0 + 30, guarded, results(True, False), [], None))
    assert condition(broken, "Solved")["reason"] == "ShortcutDetected"  # type: ignore[index]
