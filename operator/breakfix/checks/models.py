"""The base of every model in the check and scenario formats, and a check's graded result."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class Model(BaseModel):
    """Strict camelCase models: an unknown or misspelt field is an error that names it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class CheckResult(Model):
    name: str
    passed: bool
    message: str
    recheck_at: float | None = Field(
        None, description="Epoch seconds at which the result may change without any event."
    )
    settling_at: float | None = Field(
        None,
        description="A no that may be the API server's own caches lagging the event that woke "
        "the lab: when to ask again if nothing else stands between the lab and Solved.",
    )
    unknown: bool = Field(
        False,
        description="What the check reads could not be read (the API server slow or away): "
        "neither passed nor failed, and asked again soon.",
    )
