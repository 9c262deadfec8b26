"""The Exam spec, as the operator reads it (the CRD's schema and CEL rules guard the API)."""

from __future__ import annotations

from pydantic import Field, model_validator

from breakfix.checks.models import NAME_PATTERN, Model
from breakfix.lab.models import Learner

# A lab is named <exam>-<n> and its namespace lab-<exam>-<n>, a DNS label of at most 63.
MAX_NAME = 55
MAX_TASKS = 30


class ExamTask(Model):
    scenario: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
    weight: int = Field(1, ge=1, le=100)
    seed: int | None = Field(None, ge=0)


class Pick(Model):
    """`count` scenarios drawn from those carrying every tag in `tags`."""

    tags: list[str] = Field(min_length=1)
    count: int = Field(ge=1, le=MAX_TASKS)
    weight: int = Field(1, ge=1, le=100)


class ExamSpec(Model):
    learner: Learner
    tasks: list[ExamTask] | None = Field(None, min_length=1, max_length=MAX_TASKS)
    pick: Pick | None = None
    seed: int | None = Field(None, ge=0)
    time_limit_minutes: int = Field(ge=5, le=600, alias="timeLimitMinutes")
    passing_score: int = Field(66, ge=1, le=100, alias="passingScore")
    submitted: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> ExamSpec:
        if (self.tasks is None) == (self.pick is None):
            raise ValueError("give either tasks or pick, not both and not neither")
        return self
