"""What decide() is given: the Lab and the cluster as the executor observed them, and timing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from breakfix.checks.snapshot import Snapshot
from breakfix.lab.actions import Provisioned
from breakfix.lab.conditions import Status

Obj = dict[str, Any]


@dataclass(frozen=True)
class Timing:
    safety_seconds: float = 300.0
    """Look again after this long even without any event."""
    retry_seconds: float = 30.0
    """Pause after the API refused the scenario's objects."""


@dataclass(frozen=True)
class Observed:
    """Everything decide() looks at. The executor fills the first fields at the start of a step
    from the Lab and the watch cache; the last four are the answers to earlier actions of the
    same step."""

    name: str
    generation: int
    spec: Mapping[str, Any]
    status: Status
    """As last decided: written, or decided earlier in this step."""
    scenarios: Mapping[str, Any]
    nodes: Sequence[Obj]
    namespace_exists: bool
    now: float
    new_seed: int
    """Drawn by the executor, used when the Lab has no seed yet: decide() draws nothing."""
    operator_node: str | None = None
    """The node the operator runs on, which a node lab leaves alone."""
    labs_alive: Mapping[str, bool] = field(default_factory=dict)
    provisioned: Provisioned | None = None
    symptoms: Snapshot | None = None
    checks: Snapshot | None = None
