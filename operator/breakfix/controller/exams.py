"""Thin Kopf handlers around exam/decide.py: one daemon per Exam, woken by its own events, its
Labs' (handlers.lab_changed) and its clock."""

from __future__ import annotations

import random
import time
from typing import Any

import kopf

from breakfix import API_VERSION, GROUP, VERSION
from breakfix.controller.handlers import ScenarioIndex, shared
from breakfix.exam.decide import (
    DONE,
    EXAM_LABEL,
    CreateLab,
    ExamObserved,
    OtherExam,
    SetDeadline,
    decide_exam,
    exam_signal,
)
from breakfix.kube import events
from breakfix.kube.client import ApiException
from breakfix.lab.actions import PostEvent

# The safety net when no event comes: an exam's own clock wakes it at its deadline.
SAFETY_SECONDS = 300.0


@kopf.index(GROUP, VERSION, "labs", id="exam_labs", labels={EXAM_LABEL: kopf.PRESENT})
async def exam_labs(name: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[str, Any]:
    return {
        labels[EXAM_LABEL]: {
            "name": name,
            "spec": dict(body.get("spec") or {}),
            "status": dict(body.get("status") or {}),
        }
    }


@kopf.index(GROUP, VERSION, "exams", id="exams")
async def exams(name: str, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: Any) -> Any:
    learner = spec.get("learner") or {}
    return {
        None: OtherExam(
            name=name,
            learner=(
                learner.get("kind", ""),
                learner.get("name", ""),
                learner.get("namespace", ""),
            ),
            created=str(meta.get("creationTimestamp", "")),
            finished=status.get("phase") == DONE,
        )
    }


@kopf.on.event(GROUP, VERSION, "exams", id="exam_changed")
async def exam_changed(
    name: str, body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    state = shared(memo)
    # A hand-in (spec.submitted) wakes the exam; its own status writes change nothing it reads.
    state.signals.lab(exam_signal(name))
    if state.board is not None:
        state.board.update("Exam", name, None if type == "DELETED" else body)


@kopf.daemon(GROUP, VERSION, "exams", id="exam", cancellation_timeout=5.0)
async def exam(
    name: str,
    body: kopf.Body,
    stopped: kopf.DaemonStopped,
    logger: kopf.Logger,
    memo: kopf.Memo,
    **kwargs: Any,
) -> None:
    labs_index: kopf.Index[str, dict[str, Any]] = kwargs["exam_labs"]
    exams_index: kopf.Index[Any, OtherExam] = kwargs["exams"]
    scenarios: kopf.Index[str, dict[str, Any]] = kwargs["scenarios"]
    state = shared(memo)
    key = exam_signal(name)
    state.signals.flag(key)
    written = dict(body.get("status") or {})
    new_seed = random.randrange(1, 2**31)
    try:
        while not stopped:
            meta = body.get("metadata") or {}
            seen = ExamObserved(
                name=name,
                uid=str(meta.get("uid")),
                generation=int(meta.get("generation") or 0),
                created=str(meta.get("creationTimestamp", "")),
                spec=dict(body.get("spec") or {}),
                status=written,
                scenarios=ScenarioIndex(scenarios),
                labs={lab["name"]: lab for lab in labs_index.get(name, [])},
                now=time.time(),
                new_seed=new_seed,
                others=[o for o in exams_index.get(None, []) if o.name != name],
            )
            decision = decide_exam(seen)
            for action in decision.actions:
                await _act(state.kube, dict(body), action, logger)
            if decision.status != written:
                await state.kube.patch_status(
                    API_VERSION, "Exam", name, {"status": decision.status}
                )
                written = decision.status
            wake_at = decision.wake_at or time.time() + SAFETY_SECONDS
            await state.signals.wait(key, wake_at - time.time(), stopped.wait())
            # A burst of lab events (four labs becoming Ready) makes one evaluation.
            if not stopped:
                await state.signals.wait(key, 0.05, None)
    finally:
        state.signals.unsubscribe(key)


async def _act(kube: Any, body: dict[str, Any], action: Any, logger: kopf.Logger) -> None:
    if isinstance(action, CreateLab):
        # Server-side apply: a Lab created before a restart is taken as it is.
        await kube.apply(action.body)
        logger.info(f"created lab {action.body['metadata']['name']}")
    elif isinstance(action, SetDeadline):
        try:
            await kube.patch(
                API_VERSION, "Lab", action.lab, {"spec": {"deadline": action.deadline}}, "merge"
            )
        except ApiException as exc:
            # The Lab then keeps grading; the exam scores it as it stands after its grace.
            logger.warning(
                f"could not give lab {action.lab} its deadline: {exc.status} {exc.reason}"
            )
    elif isinstance(action, PostEvent):
        await events.post(kube, body, action.type, action.reason, action.message)
