"""Jinja over strings and trees, and seed-derived variables (no scenario models here)."""

from __future__ import annotations

import base64
import functools
import random
import string
from collections.abc import Iterable
from typing import Any

import jinja2
import jinja2.nativetypes
from jinja2.sandbox import SandboxedEnvironment

from breakfix.scenario.certificate import certificate


class RenderError(ValueError):
    """The scenario does not render; the message names the field."""


def _typed_concat(values: Any) -> Any:
    """A lone expression keeps its Python type (`{{ port }}` -> 8080, `{{ port|string }}` ->
    "8080"); anything else is text. Unlike Jinja's native_concat, text is never re-parsed as a
    literal, so a string that looks like a number stays a string."""
    parts = list(values)
    if len(parts) == 1:
        return parts[0]
    return "".join(str(p) for p in parts)


class _NativeSandbox(SandboxedEnvironment):
    concat = staticmethod(_typed_concat)
    code_generator_class = jinja2.nativetypes.NativeCodeGenerator


class _TypedTemplate(jinja2.nativetypes.NativeTemplate):
    # NativeTemplate concatenates through its environment_class, not the environment.
    environment_class = _NativeSandbox  # type: ignore[assignment]


_NativeSandbox.template_class = _TypedTemplate


_TEXT = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
# A block scalar ("|") ends in a newline that belongs to its text (a script, a line to add).
_NATIVE = _NativeSandbox(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
# Functions a template may call: `certificate(host).cert` and `.key` (scenario/certificate.py);
# `b64encode` for a Secret's `data` (a manifest's `stringData` never shows on the live object,
# so the invariants could not compare it).
for _env in (_TEXT, _NATIVE):
    _env.globals["certificate"] = certificate
    _env.filters["b64encode"] = lambda text: base64.b64encode(str(text).encode()).decode()


@functools.lru_cache(maxsize=4096)
def _compiled(native: bool, source: str) -> jinja2.Template:
    """Templates compiled once: a lab renders its scenario at every grading, and compiling the
    same strings again was half of the operator's CPU in a fix (py-spy, make bench)."""
    return (_NATIVE if native else _TEXT).from_string(source)


def derive_variables(variables: list[Any], scenario: str, seed: int) -> dict[str, Any]:
    """The same scenario and seed always give the same values, on any machine."""
    rng = random.Random(f"{scenario}/{seed}")
    values: dict[str, Any] = {}
    for var in variables:
        if var.choices is not None:
            values[var.name] = rng.choice(var.choices)
        elif var.range is not None:
            values[var.name] = rng.randint(var.range.min, var.range.max)
        else:
            assert var.suffix is not None
            alphabet = string.ascii_lowercase + string.digits
            # A leading letter keeps names valid where a digit may not start them.
            values[var.name] = rng.choice(string.ascii_lowercase) + "".join(
                rng.choice(alphabet) for _ in range(var.suffix - 1)
            )
    return values


def render_tree(tree: Any, context: dict[str, Any], path: str) -> Any:
    if isinstance(tree, dict):
        return {
            render_text(str(k), context, path) if "{" in str(k) else k: render_tree(
                v, context, f"{path}.{k}"
            )
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [render_tree(v, context, f"{path}[{i}]") for i, v in enumerate(tree)]
    if isinstance(tree, str) and ("{{" in tree or "{%" in tree):
        try:
            value = _compiled(True, tree).render(context)
            if isinstance(value, jinja2.Undefined):
                # A lone undefined expression is returned, not rendered: make it fail as text does.
                value._fail_with_undefined_error()
            return value
        except jinja2.TemplateError as exc:
            raise RenderError(f"{path}: {exc}") from exc
    return tree


def render_text(text: str, context: dict[str, Any], path: str) -> str:
    try:
        return _compiled(False, text).render(context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{path}: {exc}") from exc


def namespace_for(lab: str) -> str:
    return f"lab-{lab}"


def other_namespace(lab: str, name: str) -> str:
    """A namespace of the lab besides its own (`namespace.others` in lab.yaml)."""
    return f"{namespace_for(lab)}-{name}"


def home_namespace(manifest: dict[str, Any], namespace: str, others: Iterable[str]) -> str:
    """Where a namespaced manifest of the lab lives: the other lab namespace it names, or the
    lab's own whatever else it says."""
    named = (manifest.get("metadata") or {}).get("namespace")
    return named if named in set(others) else namespace


def object_key(kind: str, name: str, elsewhere: str | None = None) -> str:
    """How a lab's object is named in its records (provisioned uids, invariants' rules):
    `Kind/name` in the lab namespace (and for cluster-scoped objects), `Kind/namespace/name` in
    another of the lab's namespaces (`elsewhere`)."""
    return f"{kind}/{elsewhere}/{name}" if elsewhere else f"{kind}/{name}"


def uid_key(kind: str, name: str, where: str | None, namespace: str) -> str:
    """`object_key` of an object in `where` (None when cluster-scoped), for lab `namespace`."""
    return object_key(kind, name, None if where == namespace else where)


def probe_context(variables: list[Any], others: Iterable[Any] = ()) -> dict[str, Any]:
    """A context to validate templates offline: seed 0 and a placeholder lab."""
    return {
        **derive_variables(variables, "probe", 0),
        "lab": "probe",
        "namespace": namespace_for("probe"),
        "namespaces": {o.name: other_namespace("probe", o.name) for o in others},
        "scenario": "probe",
        "seed": 0,
        "node": "node",
        "shell": "docker exec -it node bash",
    }
