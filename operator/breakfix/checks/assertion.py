"""Assertion trees, in the spirit of Kyverno Chainsaw: match a partial object against a live one.

- Maps match as subsets: fields the tree does not mention are ignored.
- A key in parentheses is a JMESPath expression evaluated on the current node, e.g.
  ``(conditions[?type=='Ready'] | [0].status): "True"`` or ``(spec.replicas > `2`): true``.
- A list matches when every expected element matches some actual element, in any order
  (unlike kuttl, neither length nor position matters).
- A map matched against a list must match every element, and the list must not be empty.
- ``null`` expects the field to be absent or null.
- ``quantity(x)`` turns a Kubernetes quantity (``"100m"``, ``"16Mi"``, ``"0"``, ``2``) into a
  number, so a guard can say what "kept" means: ``(quantity(requests.cpu) >= `0.05`)`` rejects
  ``"0"``, which a presence test (``!= null``) accepts. Absent or unparsable gives null.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions
from jmespath import functions

_MISSING = object()

_SUFFIXES = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "Pi": 2.0**50,
    "Ei": 2.0**60,
}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse_quantity(value: Any) -> float | None:
    """A Kubernetes resource quantity as a number of base units; None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    found = _QUANTITY.match(str(value).strip())
    if not found or found.group(2) not in _SUFFIXES:
        return None
    return float(found.group(1)) * _SUFFIXES[found.group(2)]


class _Functions(functions.Functions):
    @functions.signature({"types": ["string", "number", "null"]})
    def _func_quantity(self, value: Any) -> float | None:
        return parse_quantity(value)


_OPTIONS = jmespath.Options(custom_functions=_Functions())


@dataclass(frozen=True)
class Mismatch:
    path: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        got = "nothing" if self.actual is _MISSING else _show(self.actual)
        return f"{self.path}: expected {_show(self.expected)}, got {got}"


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _join(path: str, key: str) -> str:
    return key if not path else f"{path}.{key}"


def _lookup(actual: Any, key: str) -> Any:
    if key.startswith("(") and key.endswith(")"):
        try:
            return jmespath.search(key[1:-1], actual, options=_OPTIONS)
        except jmespath.exceptions.JMESPathTypeError:
            # A function given null or a wrong type: the object does not have what the
            # expression needs yet (a condition without a message), so the assertion fails.
            return _MISSING
        except jmespath.exceptions.JMESPathError as exc:
            raise ValueError(f"invalid JMESPath expression {key}: {exc}") from exc
    if isinstance(actual, dict):
        return actual.get(key, _MISSING)
    return _MISSING


def match(expected: Any, actual: Any, path: str = "") -> list[Mismatch]:
    """Every way `actual` fails the assertion tree `expected`; empty when it matches."""
    if isinstance(expected, dict):
        if isinstance(actual, list):
            if not actual:
                return [Mismatch(path or "object", expected, actual)]
            for index, item in enumerate(actual):
                found = match(expected, item, f"{path}[{index}]")
                if found:
                    return found
            return []
        if not isinstance(actual, dict):
            return [Mismatch(path or "object", expected, actual)]
        problems: list[Mismatch] = []
        for key, value in expected.items():
            problems += match(value, _lookup(actual, str(key)), _join(path, str(key)))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [Mismatch(path, expected, actual)]
        for index, item in enumerate(expected):
            if not any(not match(item, candidate) for candidate in actual):
                return [Mismatch(f"{path}[{index}]", item, actual)]
        return []
    if expected is None:
        return [] if actual is _MISSING or actual is None else [Mismatch(path, None, actual)]
    if actual is _MISSING:
        return [Mismatch(path, expected, actual)]
    if isinstance(expected, bool) or isinstance(actual, bool):
        ok = expected is actual
    elif isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        ok = expected == actual
    else:
        ok = type(expected) is type(actual) and expected == actual
    return [] if ok else [Mismatch(path, expected, actual)]


def validate_tree(expected: Any, path: str = "expect") -> list[str]:
    """Syntax errors in the JMESPath keys of a tree, for offline validation."""
    errors: list[str] = []
    if isinstance(expected, dict):
        for key, value in expected.items():
            key = str(key)
            if key.startswith("(") and key.endswith(")"):
                try:
                    jmespath.compile(key[1:-1])
                except jmespath.exceptions.JMESPathError as exc:
                    errors.append(f"{path}.{key}: invalid JMESPath: {exc}")
            errors += validate_tree(value, _join(path, key))
    elif isinstance(expected, list):
        for index, item in enumerate(expected):
            errors += validate_tree(item, f"{path}[{index}]")
    return errors
