"""Random Lab specs at the API server's door (its CRD schema and CEL rules, a server-side dry
run): each is accepted, or refused with a message that names the field. Never a 500, never a
refusal that leaves the learner guessing which field. Specs mutated from a valid one, near every
bound, are also created for real when admitted: the operator provisions them cleanly or refuses
them naming the field, and deleting them leaves nothing."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.chaos_report import count
from tests.integration.cluster import get_json, kubectl, wait_until
from tests.integration.labs import delete_lab_and_wait_gone
from tests.integration.operator import InClusterOperator

pytestmark = pytest.mark.chaos

EXAMPLES = int(os.environ.get("BREAKFIX_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 40,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=4,
)
FIELDS = ("scenario", "seed", "hints", "reset", "learner", "timeLimitMinutes", "unknownField")
learners = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["User", "ServiceAccount", "Group", ""]),
        "name": st.text(max_size=8),
        "namespace": st.text(max_size=8),
    },
)
specs = st.dictionaries(
    st.sampled_from(FIELDS),
    st.one_of(
        anything,
        st.sampled_from(["crashloop-bad-command", "no-such-lab", "", "A_B"]),
        st.integers(-3, 3),
        learners,
    ),
    max_size=4,
)


def at_the_door(kind: str, spec: dict[str, Any]) -> bool:
    """A server-side dry run of a `kind` with `spec`: admitted, or refused naming the field."""
    body = {
        "apiVersion": "breakfix.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": "t-fuzz"},
        "spec": spec,
    }
    proc = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(body), check=False)
    if proc.returncode == 0:
        count(f"{kind} specs fuzzed", "admitted")
        return True
    message = proc.stderr
    assert "InternalError" not in message and "500" not in message, message
    assert "spec" in message, f"refused without naming a field: {message}"
    count(f"{kind} specs fuzzed", "refused naming the field")
    return False


@FUZZ
@given(spec=specs)
def test_a_lab_spec_is_admitted_or_refused_naming_the_field(
    operator: InClusterOperator, spec: dict[str, Any]
) -> None:
    at_the_door("Lab", spec)


# A valid spec, each field then set near its bounds or just past them. The scenario has no
# containers, so a real provisioning is quick.
names = st.sampled_from(["ann", "a.b@example.org", "system:anonymous", "A_B", "a b", "x" * 300])
near_bounds = st.fixed_dictionaries(
    {"scenario": st.sampled_from(["rbac-missing-permission"] * 4 + ["no-such-lab"])},
    optional={
        "seed": st.sampled_from([-1, 0, 7, 2**63 - 1, 2**63]),
        "hints": st.sampled_from([-1, 0, 3, 10, 11]),
        "reset": st.sampled_from([-1, 0, 2]),
        "timeLimitSeconds": st.sampled_from([59, 60, 86400, 86401]),
        "deadline": st.sampled_from(
            ["2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "tomorrow", "2026-13-01T00:00:00Z"]
        ),
        "learner": st.fixed_dictionaries(
            {"kind": st.sampled_from(["User", "ServiceAccount"]), "name": names},
            optional={"namespace": st.sampled_from(["default", "lab-t-fuzz-real", "A_B"])},
        ),
    },
)
REAL = "t-fuzz-real"
# Each admitted spec is created for real until this many have been; the rest are dry runs.
REAL_LIMIT = int(os.environ.get("BREAKFIX_FUZZ_REAL", "8"))
real_runs: list[dict[str, Any]] = []


def provisioned_or_refused(spec: dict[str, Any]) -> None:
    """Create the Lab: Ready, or Ready=False with a reason that names the field at fault; then
    delete it, and nothing of it stays."""
    body = {"apiVersion": "breakfix.dev/v1alpha1", "kind": "Lab",
            "metadata": {"name": REAL}, "spec": spec}  # fmt: skip
    kubectl("create", "-f", "-", input=json.dumps(body))
    try:

        def ready() -> dict[str, Any] | None:
            conditions = get_json("lab", REAL).get("status", {}).get("conditions", [])
            found = next((c for c in conditions if c["type"] == "Ready"), None)
            settled = found and (found["status"] == "True" or found["reason"] in TERMINAL)
            return found if settled else None

        found = wait_until(ready, 120, f"lab {REAL} with {spec} to be Ready or refused")
        if found["status"] != "True":
            assert found["reason"] in ("InvalidSpec", "ScenarioNotFound"), (spec, found)
            assert "spec." in found["message"], f"refused without naming a field: {found}"
            count("Lab specs created for real", f"refused by the operator ({found['reason']})")
        else:
            count("Lab specs created for real", "provisioned")
    finally:
        delete_lab_and_wait_gone(REAL)
    leftovers = kubectl("get", "clusterroles,clusterrolebindings", "-o", "name",
                        "-l", f"breakfix.dev/lab={REAL}").stdout.split()  # fmt: skip
    assert not leftovers, f"{spec}: left behind {leftovers}"


TERMINAL = ("InvalidSpec", "ScenarioNotFound", "ScenarioInvalid", "RenderFailed",
            "ProvisioningFailed", "SymptomsNotObserved")  # fmt: skip


@FUZZ
@given(spec=near_bounds)
def test_a_spec_near_its_bounds_provisions_cleanly_or_is_refused_naming_the_field(
    operator: InClusterOperator, spec: dict[str, Any]
) -> None:
    if at_the_door("Lab", spec) and len(real_runs) < REAL_LIMIT and spec not in real_runs:
        real_runs.append(spec)
        provisioned_or_refused(spec)


EXAM_FIELDS = (
    "learner", "tasks", "pick", "seed", "timeLimitMinutes", "passingScore", "submitted", "other",
)  # fmt: skip
tasks = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "scenario": st.sampled_from(["crashloop-bad-command", "no-such-lab", "", "A_B"]),
            "weight": st.integers(-2, 120),
            "seed": st.integers(-2, 5),
        },
    ),
    max_size=3,
)
exam_specs = st.dictionaries(
    st.sampled_from(EXAM_FIELDS),
    st.one_of(anything, st.integers(-3, 700), learners, tasks),
    max_size=5,
)


@FUZZ
@given(spec=exam_specs)
def test_an_exam_spec_is_admitted_or_refused_naming_the_field(
    operator: InClusterOperator, spec: dict[str, Any]
) -> None:
    at_the_door("Exam", spec)
