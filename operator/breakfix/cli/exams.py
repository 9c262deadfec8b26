"""`breakfix exam ...`: start an exam, follow it, hand it in, and grade it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console

from breakfix import API_VERSION
from breakfix.cli.session import CliError
from breakfix.cli.view import live
from breakfix.exam import report
from breakfix.exam.decide import DONE, EXAM_LABEL, INVALID
from breakfix.exam.models import ExamSpec
from breakfix.kube.client import Kube, wait_for
from breakfix.lab.decide import first_error
from breakfix.report import junit


def exam_from(
    file: Path | None,
    tags: list[str],
    count: int | None,
    minutes: int | None,
    learner: str | None,
    name: str | None,
    passing: int | None,
) -> dict[str, Any]:
    """The Exam to create: a file (as shipped in exams/), or tags and a count; the options
    override what the file says. Checked here, so a mistake is named before anything exists."""
    if file is not None:
        try:
            body = yaml.safe_load(file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise CliError(f"{file}: {exc}", 2) from None
        if not isinstance(body, dict) or body.get("kind") != "Exam":
            raise CliError(f"{file}: not an Exam (kind: Exam)", 2)
    elif tags and count:
        body = {"metadata": {"name": name or f"exam-{'-'.join(tags)}"}, "spec": {}}
        body["spec"]["pick"] = {"tags": tags, "count": count}
    else:
        raise CliError("give an exam file, or --tags and --count", 2)
    body = {"apiVersion": API_VERSION, "kind": "Exam", **body}
    spec = body.setdefault("spec", {})
    if name:
        body["metadata"]["name"] = name
    if learner:
        spec["learner"] = parse_learner(learner)
    if minutes:
        spec["timeLimitMinutes"] = minutes
    spec.setdefault("timeLimitMinutes", 120)
    if passing:
        spec["passingScore"] = passing
    if "learner" not in spec:
        raise CliError(
            "who takes the exam? --learner NAME (a User) or "
            "--learner system:serviceaccount:NAMESPACE:NAME",
            2,
        )
    try:
        ExamSpec.model_validate(spec)
    except ValidationError as exc:
        raise CliError(f"spec.{first_error(exc)}", 2) from None
    return body


def parse_learner(text: str) -> dict[str, str]:
    """A User by name, or a ServiceAccount as Kubernetes names it in RBAC and audit logs."""
    prefix = "system:serviceaccount:"
    if text.startswith(prefix):
        namespace, _, name = text[len(prefix) :].partition(":")
        if not namespace or not name:
            raise CliError(f"--learner {text}: expected {prefix}NAMESPACE:NAME", 2)
        return {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    return {"kind": "User", "name": text}


async def start_exam(kube: Kube, console: Console, body: dict[str, Any], timeout: float) -> None:
    name = body["metadata"]["name"]
    if await kube.get(API_VERSION, "Exam", name):
        raise CliError(f"exam {name} exists already: `breakfix exam status {name}`", 2)
    await kube.apply(body)
    with console.status(f"exam {name}: starting its labs..."):
        try:
            exam = await wait_for(
                kube, API_VERSION, "Exam", name,
                lambda o: _phase(o) in ("Running", INVALID, DONE), timeout,
            )  # fmt: skip
        except TimeoutError:
            raise CliError(
                f"exam {name}: its labs are not all Ready after {timeout:.0f}s: "
                f"`breakfix exam status {name}` says which"
            ) from None
    status = (exam or {}).get("status") or {}
    if status.get("phase") == INVALID:
        ready = next(c for c in status.get("conditions") or [] if c["type"] == "Ready")
        await kube.delete(API_VERSION, "Exam", name)
        raise CliError(f"exam {name} refused: {ready['message']}", 2)
    console.print(
        f"exam [bold]{name}[/bold] started: {len(status['tasks'])} tasks, "
        f"{status['maxPoints']} points, until {status['deadline']} (UTC)."
    )
    for i, task in enumerate(status["tasks"], 1):
        console.print(
            f"  {i}. {task['title']} ({task['weight']} points): "
            f"`kubectl get lab {task['lab']} -o jsonpath='{{.status.task}}'`",
            highlight=False,
        )
    console.print(f"Follow it: `breakfix exam status {name} --watch`; hand in: "
                  f"`breakfix exam submit {name}`.", highlight=False)  # fmt: skip


async def show_exam(kube: Kube, console: Console, name: str, watch: bool) -> bool | None:
    exam = await _get(kube, name)
    if not watch:
        console.print(report.table(report.results(exam, {})))
        passed = (exam.get("status") or {}).get("passed")
        return None if passed is None else bool(passed)
    with live(console, report.table(report.results(exam, {}))) as view:
        # The exam's status holds every task's points and why: watching it misses no change.

        def finished(obj: dict[str, Any] | None) -> bool:
            if obj is None:
                raise CliError(f"exam {name} was deleted")
            view.update(report.table(report.results(obj, {})))
            return _phase(obj) in (DONE, INVALID)

        exam = await wait_for(kube, API_VERSION, "Exam", name, finished, 24 * 3600) or exam
    passed = (exam.get("status") or {}).get("passed")
    return None if passed is None else bool(passed)


async def submit_exam(kube: Kube, console: Console, name: str) -> None:
    await _get(kube, name)
    await kube.patch(API_VERSION, "Exam", name, {"spec": {"submitted": True}}, "merge")
    console.print(f"exam {name} handed in; grading stops now.")


async def grade_exam(
    kube: Kube,
    console: Console,
    name: str,
    wait: float,
    junit_path: Path | None,
    json_path: Path | None,
) -> bool:
    exam = await _get(kube, name)
    if wait > 0 and _phase(exam) != DONE:
        with console.status(f"waiting up to {wait:.0f}s for exam {name} to finish..."):
            try:
                exam = (
                    await wait_for(
                        kube, API_VERSION, "Exam", name, lambda o: _phase(o) == DONE, wait
                    )
                    or exam
                )
            except TimeoutError:
                exam = await _get(kube, name)
    rendered = report.results(exam, await _labs(kube, name))
    console.print(report.table(rendered))
    if any(not c["passed"] for t in rendered["tasks"] for c in t["checks"]):
        console.print(report.failed_checks(rendered))
    if junit_path:
        await asyncio.to_thread(junit.write, junit_path, [report.junit_suite(rendered)])
        console.print(f"JUnit report: {junit_path}")
    if json_path:
        await asyncio.to_thread(json_path.write_text, json.dumps(rendered, indent=2) + "\n")
        console.print(f"JSON report: {json_path}")
    return bool(rendered["passed"])


async def _get(kube: Kube, name: str) -> dict[str, Any]:
    exam = await kube.get(API_VERSION, "Exam", name)
    if exam is None:
        raise CliError(f"no exam named {name}: `kubectl get exams` lists them", 2)
    return exam


async def _labs(kube: Kube, exam: str) -> dict[str, dict[str, Any]]:
    labs = await kube.list_objects(API_VERSION, "Lab", label_selector=f"{EXAM_LABEL}={exam}")
    return {lab["metadata"]["name"]: lab for lab in labs}


def _phase(exam: dict[str, Any] | None) -> str | None:
    return ((exam or {}).get("status") or {}).get("phase")
