"""Prometheus metrics of the operator: what a classroom's dashboard and an SRE want to see.

Counters move where the work happens (the lab loop); the HTTP server is started only when a port
is configured, so tests and `make run` open no socket unless asked.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LABS_ACTIVE = Gauge("breakfix_labs_active", "Labs whose loop is running in this operator.")
LABS_SOLVED = Gauge("breakfix_labs_solved", "Active labs whose Solved condition is True.")
CHECKS_EVALUATED = Counter(
    "breakfix_checks_evaluated_total", "Checks evaluated, by result.", ["result"]
)
EVALUATIONS = Counter(
    "breakfix_lab_evaluations_total", "Passes of a lab loop: each reads its state and grades it."
)
SOLVE_CONFIRMATIONS = Counter(
    "breakfix_solve_confirmations_total",
    "Gradings from the watch cache that would solve a lab, graded again with their fresh reads "
    "as of that moment (a fenced cache, or the API).",
)
STATUS_WRITES = Counter("breakfix_status_writes_total", "Lab status patches sent to the API.")
STEP_RETRIES = Counter(
    "breakfix_lab_step_retries_total",
    "Lab loop steps the API server failed (unreachable, 429 or 5xx), each tried again shortly.",
)
PROVISIONED = Counter("breakfix_labs_provisioned_total", "Lab namespaces provisioned.")
TIME_TO_SOLVE = Histogram(
    "breakfix_time_to_solve_seconds",
    "From the lab being Ready to its first Solved.",
    buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200),
)


def serve(port: int, address: str = "0.0.0.0") -> None:
    start_http_server(port, addr=address)


# Where a grading's time goes, so a slow fix→Solved can be taken apart (make bench prints the
# mean of each): from the watch event that woke the lab to its step starting ("wake"), reading
# the symptoms' and checks' needs from the cache ("symptoms", "checks"), grading a solving
# grading again with its fresh needs as of that moment ("confirm": a fence, or the API), and
# patching the status ("write").
GRADING_STAGE = Histogram(
    "breakfix_grading_stage_seconds",
    "Seconds spent in each stage of grading a lab.",
    ["stage"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
)
