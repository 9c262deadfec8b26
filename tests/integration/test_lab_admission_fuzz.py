"""Random Lab specs at the API server's door (its CRD schema and CEL rules, a server-side dry
run): each is accepted, or refused with a message that names the field. Never a 500, never a
refusal that leaves the learner guessing which field."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.chaos_report import count
from tests.integration.cluster import kubectl
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


def at_the_door(kind: str, spec: dict[str, Any]) -> None:
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
        return
    message = proc.stderr
    assert "InternalError" not in message and "500" not in message, message
    assert "spec" in message, f"refused without naming a field: {message}"
    count(f"{kind} specs fuzzed", "refused naming the field")


@FUZZ
@given(spec=specs)
def test_a_lab_spec_is_admitted_or_refused_naming_the_field(
    operator: InClusterOperator, spec: dict[str, Any]
) -> None:
    at_the_door("Lab", spec)


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
