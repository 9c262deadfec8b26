"""Every condition type, condition reason and Event reason a Lab shows: the wire vocabulary that
learners, the CLI, the self-test and the docs rely on. Decided in decide.py and status.py only."""

from __future__ import annotations

# Condition types.
READY = "Ready"
SOLVED = "Solved"
EXPIRED = "TimeLimitExceeded"

# Ready=False: the lab cannot start (each is also posted as a Warning Event when it first shows).
INVALID_SPEC = "InvalidSpec"
SCENARIO_NOT_FOUND = "ScenarioNotFound"
SCENARIO_INVALID = "ScenarioInvalid"
NO_NODE_AVAILABLE = "NoNodeAvailable"
WAITING_FOR_EXCLUSIVE_LAB = "WaitingForExclusiveLab"
RENDER_FAILED = "RenderFailed"
PROVISIONING_FAILED = "ProvisioningFailed"
# Ready=False while the lab (re)starts; never posted as an Event.
RESETTING = "Resetting"
WAITING_FOR_SYMPTOMS = "WaitingForSymptoms"
SYMPTOMS_NOT_OBSERVED = "SymptomsNotObserved"
# Ready=True.
SYMPTOMS_CONFIRMED = "SymptomsConfirmed"

# Solved.
NOT_READY = "NotReady"
ALL_CHECKS_PASSED = "AllChecksPassed"
CHECKS_FAILING = "ChecksFailing"
SHORTCUT_DETECTED = "ShortcutDetected"

# TimeLimitExceeded.
TIME_LIMIT_EXCEEDED = "TimeLimitExceeded"
WITHIN_TIME_LIMIT = "WithinTimeLimit"

# Events only.
PROVISIONED = "Provisioned"
RESET = "Reset"
NAMESPACE_LOST = "NamespaceLost"
HINT_REVEALED = "HintRevealed"
CHECK_PASSED = "CheckPassed"
CHECK_FAILED = "CheckFailed"
SOLVED_EVENT = "Solved"
REGRESSED = "Regressed"
DEADLINE_REACHED = "DeadlineReached"

# Ready=False reasons that no amount of waiting will change: the Lab or Scenario must change.
TERMINAL_REASONS = frozenset(
    {
        SCENARIO_NOT_FOUND,
        SCENARIO_INVALID,
        RENDER_FAILED,
        INVALID_SPEC,
        PROVISIONING_FAILED,
        SYMPTOMS_NOT_OBSERVED,
    }
)
