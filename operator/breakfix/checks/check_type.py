"""The interface every check type implements, in the manner of Chainsaw's operations: one module
per type holds its model (the YAML under the type's key), what it reads from the cluster, and how
it reaches a verdict. `registry.py` lists the types; everything else is derived from it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from breakfix.checks.models import Model
from breakfix.checks.snapshot import Need, ObjectsNeed, Snapshot

READ = ("get", "list", "watch")


@dataclass(frozen=True)
class Reads:
    """Something a check type reads: an RBAC grant the operator needs (see the chart's
    templates/rbac.yaml) and, for a `kind`, a kind served from the watch cache (kube/watched.py).
    A unit test holds both files to these declarations."""

    api_version: str
    resource: str
    verbs: tuple[str, ...] = READ
    kind: str | None = None

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


# How often checks that read a node through its agent look again.
NODE_RECHECK_SECONDS = 2.0
# How long after a wake-up an answer the API server derives through its own informers is asked
# again (an informer lags a watch event by milliseconds, seconds on a loaded 2-core cluster).
INFORMER_SETTLE_SECONDS = 2.0
# While such an answer says no, it is asked again this long after the wake-up, then at the
# settle time: one asked only at 2 s cost a fix whose Role the API server's RBAC cache had not
# yet seen 2 s (1 fix in 100 in make bench); most lags are a few milliseconds.
INFORMER_SETTLE_STEPS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str
    # Epoch seconds at which the verdict may change without any watch event (a `forSeconds`).
    recheck_at: float | None = None


class CheckType(Model, ABC):
    """One kind of check. Subclasses are pydantic models of the type's YAML body."""

    key: ClassVar[str]
    """The field that names the type in a check, e.g. `podsReady`."""
    reads: ClassVar[tuple[Reads, ...]]
    """What grading reads, for every instance; types that read what the check names (resource,
    absent) declare nothing here and the catalog test checks the kinds they name."""
    recheck_seconds: ClassVar[float | None] = None
    """For types that read what no watch reaches (a file on a node, an answer of a request made
    there): look again this often, while the lab is graded. Such labs hold the cluster alone,
    so at most one lab at a time asks its node agent."""
    settle_seconds: ClassVar[float | None] = None
    """For types answered by the API server from objects it follows through its own informers
    (an access review from RBAC objects, admission from policies): a grading woken by a watch
    event may ask before the API server's informer has the change the event brought, and get the
    old answer with nothing left to wake the lab. Asked again this long after the wake-up; never
    at rest."""

    def recheck_every(self) -> float | None:
        """How often this check is looked at again while its lab is graded, though no watch
        event came (`recheck_seconds` for the type; an instance may need it for what it reads)."""
        return type(self).recheck_seconds

    @abstractmethod
    def needs(self, namespace: str) -> list[Need]:
        """What must be gathered to grade this check for a lab living in `namespace`."""

    @abstractmethod
    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        """Pass or fail, with a message that says what is wrong; never raises for cluster
        states. Called only when every need was gathered without error."""

    def wakes_on(self, namespace: str) -> set[str]:
        """Kinds whose changes outside the lab's namespace (cluster-scoped, or in kube-system)
        may change the verdict. Changes inside the lab's own namespace wake the lab anyway."""
        return {
            n.kind
            for n in self.needs(namespace)
            if isinstance(n, ObjectsNeed) and n.namespace != namespace
        }


class NodeRequestCheck(CheckType):
    """A check answered by a request the node agent makes on a node with a kubeconfig there:
    found through the Node's address, looked at again on a timer (files on the node change
    nothing in the API), and woken when the component it talks to restarts (its mirror pod)."""

    recheck_seconds: ClassVar[float | None] = NODE_RECHECK_SECONDS
    reads: ClassVar[tuple[Reads, ...]] = (Reads("v1", "nodes", kind="Node"),)

    @abstractmethod
    def need(self) -> Need:
        """The one request this check asks of the agent."""

    def needs(self, namespace: str) -> list[Need]:
        return [self.need()]

    def wakes_on(self, namespace: str) -> set[str]:
        return {"Node", "Pod"}
