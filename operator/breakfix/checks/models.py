"""The check format shared by Scenario objects and lab folders."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class Model(BaseModel):
    """Strict camelCase models: an unknown or misspelt field is an error that names it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Target(Model):
    """Which objects a check looks at: one by name, or all that match a label selector."""

    api_version: str = Field("v1", alias="apiVersion")
    kind: str
    name: str | None = None
    selector: dict[str, str] | None = None
    namespace: str | None = Field(
        None, description="Defaults to the lab namespace for namespaced kinds."
    )

    @model_validator(mode="after")
    def _name_or_selector(self) -> Target:
        if self.name is not None and self.selector is not None:
            raise ValueError("give either name or selector, not both")
        return self

    def describe(self) -> str:
        if self.name:
            return f"{self.kind} {self.name}"
        if self.selector:
            return f"{self.kind} objects with labels {format_selector(self.selector)}"
        return f"{self.kind} objects"


def format_selector(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


class ResourceCheck(Target):
    """Objects must exist and match `expect`, a partial object tree (see assertion.py)."""

    expect: dict[str, Any] = Field(default_factory=dict)
    match: Literal["all", "any"] = Field(
        "all", description="With a selector: every selected object must match, or at least one."
    )


class AbsentCheck(Target):
    """No selected object may match `expect` (with no `expect`: no selected object may exist)."""

    expect: dict[str, Any] = Field(default_factory=dict)


class Subject(Model):
    kind: Literal["ServiceAccount", "User", "Group"]
    name: str
    namespace: str | None = None


class CanICheck(Model):
    """A SubjectAccessReview: may `subject` do `verb` on `resource`?"""

    subject: Subject
    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str | None = Field(
        None, description="Defaults to the lab namespace; empty string for a cluster-wide check."
    )
    allowed: bool = True


class PodsReadyCheck(Model):
    """At least `min` pods matching `selector` are Ready, and have been for `forSeconds`."""

    selector: dict[str, str]
    min: int = Field(1, ge=1)
    for_seconds: int = Field(0, ge=0, alias="forSeconds")
    namespace: str | None = None


class WorkloadAvailableCheck(Model):
    """A Deployment or StatefulSet has every desired replica updated and available."""

    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = "Deployment"
    name: str
    min_replicas: int = Field(1, ge=0, alias="minReplicas")
    for_seconds: int = Field(0, ge=0, alias="forSeconds")
    namespace: str | None = None


class ServiceEndpointsCheck(Model):
    """A Service has at least `min` ready endpoints in its EndpointSlices."""

    service: str
    min: int = Field(1, ge=1)
    port: int | str | None = Field(
        None, description="Only count endpoints of this port (number or name)."
    )
    namespace: str | None = None


class LogsCheck(Model):
    """The logs of the pods matching `selector` contain (or do not contain) a substring."""

    selector: dict[str, str]
    container: str | None = None
    contains: str | None = None
    not_contains: str | None = Field(None, alias="notContains")
    namespace: str | None = None

    @model_validator(mode="after")
    def _one_pattern(self) -> LogsCheck:
        if (self.contains is None) == (self.not_contains is None):
            raise ValueError("give exactly one of contains or notContains")
        return self


class FlowEnd(Model):
    selector: dict[str, str]
    namespace: str | None = None


class NetworkFlowCheck(Model):
    """Would NetworkPolicies allow TCP/UDP traffic between the selected pods? Evaluated from the
    policies' semantics, so it grades the same with or without an enforcing network plugin."""

    from_: FlowEnd = Field(alias="from")
    to: FlowEnd
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    allowed: bool = True


CHECK_TYPES = (
    "resource",
    "absent",
    "canI",
    "podsReady",
    "workloadAvailable",
    "serviceEndpoints",
    "logs",
    "networkFlow",
)

CheckBody = (
    ResourceCheck
    | AbsentCheck
    | CanICheck
    | PodsReadyCheck
    | WorkloadAvailableCheck
    | ServiceEndpointsCheck
    | LogsCheck
    | NetworkFlowCheck
)


class Check(Model):
    """One named check: exactly one of the check types below."""

    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    description: str = Field(min_length=1)
    guard: bool = Field(
        False, description="Rejects a shortcut (deleting the workload, cluster-admin, ...)."
    )
    resource: ResourceCheck | None = None
    absent: AbsentCheck | None = None
    can_i: CanICheck | None = Field(None, alias="canI")
    pods_ready: PodsReadyCheck | None = Field(None, alias="podsReady")
    workload_available: WorkloadAvailableCheck | None = Field(None, alias="workloadAvailable")
    service_endpoints: ServiceEndpointsCheck | None = Field(None, alias="serviceEndpoints")
    logs: LogsCheck | None = None
    network_flow: NetworkFlowCheck | None = Field(None, alias="networkFlow")

    @model_validator(mode="after")
    def _exactly_one(self) -> Check:
        given = [
            alias
            for alias, value in zip(CHECK_TYPES, self._bodies(), strict=True)
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"a check needs exactly one of {', '.join(CHECK_TYPES)}; got "
                + (", ".join(given) if given else "none")
            )
        return self

    def _bodies(self) -> tuple[CheckBody | None, ...]:
        return (
            self.resource,
            self.absent,
            self.can_i,
            self.pods_ready,
            self.workload_available,
            self.service_endpoints,
            self.logs,
            self.network_flow,
        )

    @property
    def body(self) -> CheckBody:
        return next(b for b in self._bodies() if b is not None)


class CheckResult(Model):
    name: str
    passed: bool
    message: str
    recheck_at: float | None = Field(
        None, description="Epoch seconds at which the result may change without any event."
    )
