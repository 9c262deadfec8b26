"""The Lab spec, as the operator reads it (the CRD's OpenAPI schema and CEL rules guard the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from breakfix.checks.models import Model


class Learner(Model):
    kind: Literal["User", "ServiceAccount"]
    name: str = Field(min_length=1)
    namespace: str | None = None

    @model_validator(mode="after")
    def _sa_namespace(self) -> Learner:
        if self.kind == "ServiceAccount" and not self.namespace:
            raise ValueError("a ServiceAccount learner needs a namespace")
        return self


class LabSpec(Model):
    scenario: str = Field(min_length=1)
    seed: int | None = Field(None, ge=0)
    hints: int = Field(0, ge=0)
    reset: int = Field(0, ge=0)
    learner: Learner | None = None
    time_limit_seconds: int | None = Field(None, ge=60, alias="timeLimitSeconds")
    deadline: datetime | None = None
