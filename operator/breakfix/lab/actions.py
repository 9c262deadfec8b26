"""What `decide()` asks the executor to do, and the answers some actions bring back.

Actions are plain data, run in order by `controller/lab_loop.py`. A decision whose `wake_at` is
None asks a question (LookUpLab, Provision, Gather): the executor runs its actions, adds the
answers to what it observed, and asks `decide()` again within the same step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from breakfix.checks.snapshot import Need
from breakfix.lab.conditions import Status
from breakfix.lab.models import Learner
from breakfix.scenario.render import RenderedScenario

Obj = dict[str, Any]


@dataclass(frozen=True)
class Subscribe:
    """Wake the lab on changes to its Scenario and to these cluster-scoped kinds (besides
    anything in its own namespace). Always the first action, before any I/O of the step."""

    scenario: str
    cluster_kinds: frozenset[str] = frozenset()
    # The lab's namespaces besides its own, whose every change wakes it too.
    namespaces: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PostEvent:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class WriteStatus:
    """Patch the Lab's status to this, if it differs from what was last written; the executor
    also posts the Events of the difference (`status.events_between`)."""

    status: Status


@dataclass(frozen=True)
class LookUpLab:
    """Does this Lab still exist? Answered in `Observed.labs_alive`."""

    name: str


@dataclass(frozen=True)
class Provision:
    """Create the namespace, apply the node changes (writing their record into `status` at
    once, so that even a crash right after reverts them), apply the manifests and bind the
    learner. Answered in `Observed.provisioned`."""

    rendered: RenderedScenario
    node: str | None
    learner: Learner | None
    status: Status


@dataclass(frozen=True)
class TearDown:
    """Delete the lab namespace and these cluster-scoped objects, revert the node changes, and
    with `wait`, wait until the namespace is gone."""

    cluster_objects: list[Obj]
    node_changes: list[Obj]
    wait: bool


@dataclass(frozen=True)
class Gather:
    """Read what the symptoms or the checks need. Answered in `Observed.symptoms` or
    `Observed.checks`."""

    purpose: Literal["symptoms", "checks"]
    needs: tuple[Need, ...]


Action = Subscribe | PostEvent | WriteStatus | LookUpLab | Provision | TearDown | Gather


@dataclass(frozen=True)
class Provisioned:
    """The answer to Provision: what was changed, and the API's refusal if any."""

    node_changes: list[Obj]
    cluster_objects: list[Obj]
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    status: Status
    actions: list[Action]
    wake_at: float | None
    """When to step again (epoch seconds); None: run the actions and decide again at once."""
