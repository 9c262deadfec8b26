"""`provisionedKept`: what the lab created stays as provisioned, apart from what a fix may change.

The provisioned state needs no copy: it is the scenario's manifests rendered with the lab's
seed, which is exactly what the operator applied, plus the uids it recorded on the lab
namespace (`breakfix.dev/provisioned-uids`). This check is never written in checks.yaml: the
scenario's `invariants` (lab.yaml) declares the exceptions and the task's constraint lines, and
rendering turns that one declaration into this check with the rendered manifests attached
(scenario/render.py), so a constraint the task states is the constraint graded.

The diff (`object_changes`) compares what a manifest sets, not everything the live object has:
defaults the API server fills in are not changes. A declaration widens it with `exact` paths
("nothing added here": a `nodeName`, a toleration the manifest does not have), and narrows it
with `mayChange` paths (the field the fix is about)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, field_validator

from breakfix import PROVISIONED_UIDS
from breakfix.checks.assertion import match, parse_quantity
from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import live, name_of
from breakfix.checks.models import Model
from breakfix.checks.snapshot import CLUSTER_SCOPED_KINDS, Need, Obj, ObjectsNeed, Snapshot, scope
from breakfix.kube.watched import GET_ONLY, WATCHED
from breakfix.scenario.template import home_namespace, object_key

Seg = str | int
Path = tuple[Seg, ...]
# One segment of a path pattern: a key, an index, or "*" for any index.
_SEGMENT = re.compile(r'\.?([A-Za-z0-9_/-]+)|\[(\*|\d+)\]|\["([^"\]]+)"\]')

# Objects every lab namespace has that no scenario provisions and no learner made: the
# namespace's own defaults and the operator's learner bindings (kube/provision.py).
NAMESPACE_DEFAULTS = frozenset(
    {
        ("ConfigMap", "kube-root-ca.crt"),
        ("ServiceAccount", "default"),
        ("RoleBinding", "breakfix-learner"),
        ("Role", "breakfix-learner-limits"),
        ("RoleBinding", "breakfix-learner-limits"),
    }
)
# The short-lived client pods of `serviceRequest` checks.
PROBE_LABEL = "breakfix.dev/probe"
# New objects are looked for among the namespaced kinds the operator caches.
NEW_OBJECT_KINDS = tuple((w.api_version, w.kind) for w in WATCHED if w.namespaced)


def parse_path(text: str) -> Path:
    """`spec.template.spec.containers[*].command`, `nodeSelector["kubernetes.io/os"]`."""
    out: list[Seg] = []
    pos = 0
    while pos < len(text):
        found = _SEGMENT.match(text, pos)
        if not found or (found.group(1) and pos > 0 and not found.group(0).startswith(".")):
            raise ValueError(f"{text!r}: not a field path (at {text[pos:]!r})")
        key, index, quoted = found.groups()
        if index is not None:
            out.append("*" if index == "*" else int(index))
        else:
            out.append(key if key is not None else quoted)
        pos = found.end()
    if not out or not isinstance(out[0], str):
        raise ValueError(f"{text!r}: a field path starts with a field name")
    return tuple(out)


def show_path(path: Path) -> str:
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif re.fullmatch(r"[A-Za-z0-9_/-]+", seg):
            out += f".{seg}" if out else seg
        else:
            out += f'["{seg}"]'
    return out


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 100 else text[:97] + "..."


def _covers(pattern: Path, path: Path) -> bool:
    """`pattern` names `path` or a field that contains it."""
    return len(pattern) <= len(path) and all(
        p == s or (p == "*" and isinstance(s, int)) for p, s in zip(pattern, path, strict=False)
    )


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == []


def _same_scalar(a: Any, b: Any) -> bool:
    if a == b and type(a) is type(b):
        return True
    # The API server writes quantities back in its own form ("0.5" -> "500m", 1 -> "1").
    if isinstance(a, (str, int, float)) and isinstance(b, (str, int, float)):
        if (
            isinstance(a, bool)
            or isinstance(b, bool)
            or not (isinstance(a, str) or isinstance(b, str))
        ):
            return False
        qa, qb = parse_quantity(a), parse_quantity(b)
        return qa is not None and qa == qb
    return False


def _normal(value: Any) -> Any:
    """Without empty fields: for `exact`, an absent field, null, {} and [] are all "nothing"."""
    if isinstance(value, dict):
        kept = {k: _normal(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if not _empty(v)} or None
    if isinstance(value, list):
        return [_normal(v) for v in value] or None
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return _same_scalar(a, b)


@dataclass(frozen=True)
class Change:
    """One way a live object differs from its manifest, for the learner to read."""

    path: Path
    provisioned: Any
    now: Any
    # "changed", "removed", or "added" (under an `exact` path).
    how: str = "changed"

    def __str__(self) -> str:
        where = show_path(self.path)
        if self.how == "removed":
            return f"{where} was removed (provisioned {_show(self.provisioned)})"
        if self.how == "added" and self.provisioned is None:
            return f"{where} is {_show(self.now)}, provisioned without it"
        return f"{where} is {_show(self.now)}, provisioned {_show(self.provisioned)}"


def field_changes(
    provisioned: Any, now: Any, may_change: tuple[Path, ...] = (), path: Path = ()
) -> list[Change]:
    """Every field `provisioned` sets that `now` no longer has with the same value, except
    under `may_change`. Maps are open (a field the API server adds is no change); a list of
    named elements (containers, ports, volumes) is matched by name and is open too; elements
    without names are matched by content; a list of plain values (a command) is one value."""
    if any(_covers(p, path) for p in may_change):
        return []
    if isinstance(provisioned, dict):
        if not isinstance(now, dict):
            return [] if _empty(provisioned) and now is None else [Change(path, provisioned, now)]
        out: list[Change] = []
        for key, value in provisioned.items():
            child = now.get(key)
            sub = (*path, key)
            if child is None:
                if not _empty(value) and not any(_covers(p, sub) for p in may_change):
                    out.append(Change(sub, value, None, "removed"))
                continue
            out += field_changes(value, child, may_change, sub)
        return out
    if isinstance(provisioned, list):
        if not isinstance(now, list):
            return [] if _empty(provisioned) and now is None else [Change(path, provisioned, now)]
        return _list_changes(provisioned, now, may_change, path)
    return [] if _same_scalar(provisioned, now) else [Change(path, provisioned, now)]


def _list_changes(
    provisioned: list[Any], now: list[Any], may_change: tuple[Path, ...], path: Path
) -> list[Change]:
    if not all(isinstance(e, dict) for e in provisioned):
        return [] if _same(provisioned, now) else [Change(path, provisioned, now)]
    names = [e.get("name") for e in provisioned]
    out: list[Change] = []
    if None not in names and len(set(names)) == len(names):
        by_name = {e.get("name"): e for e in now if isinstance(e, dict)}
        for index, element in enumerate(provisioned):
            sub = (*path, index)
            if element["name"] not in by_name:
                if not any(_covers(p, sub) for p in may_change):
                    out.append(Change(sub, element, None, "removed"))
                continue
            out += field_changes(element, by_name[element["name"]], may_change, sub)
        return out
    unused = list(range(len(now)))
    missing: list[int] = []
    for index, element in enumerate(provisioned):
        sub = (*path, index)
        found = next(
            (j for j in unused if not field_changes(element, now[j], may_change, sub)), None
        )
        if found is None:
            missing.append(index)
        else:
            unused.remove(found)
    # An element found nowhere is shown against what is left in its place, if anything.
    for index, other in zip(missing, [*unused, *([None] * len(missing))], strict=False):
        sub = (*path, index)
        if other is None:
            out.append(Change(sub, provisioned[index], None, "removed"))
        else:
            out += field_changes(provisioned[index], now[other], may_change, sub)
    return out


def _at(obj: Any, pattern: Path, path: Path = ()) -> list[tuple[Path, Any]]:
    """The values at `pattern` in `obj` ("*" over every index); a missing field is None."""
    if not pattern:
        return [(path, obj)]
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        items = obj if isinstance(obj, list) else []
        return [hit for i, item in enumerate(items) for hit in _at(item, rest, (*path, i))]
    if isinstance(head, int):
        item = obj[head] if isinstance(obj, list) and head < len(obj) else None
        return _at(item, rest, (*path, head))
    return _at(obj.get(head) if isinstance(obj, dict) else None, rest, (*path, head))


def _get(obj: Any, path: Path) -> Any:
    for seg in path:
        if isinstance(seg, int):
            obj = obj[seg] if isinstance(obj, list) and seg < len(obj) else None
        else:
            obj = obj.get(seg) if isinstance(obj, dict) else None
    return obj


def exact_changes(
    provisioned: Any, now: Any, exact: tuple[Path, ...], may_change: tuple[Path, ...] = ()
) -> list[Change]:
    """Under each `exact` path the live object holds exactly what the manifest sets (elements
    paired by position): what the manifest leaves out must stay out."""
    out: list[Change] = []
    for pattern in exact:
        paths = dict.fromkeys(p for p, _ in _at(provisioned, pattern) + _at(now, pattern))
        for path in paths:
            if any(_covers(p, path) for p in may_change):
                continue
            was, is_ = _normal(_get(provisioned, path)), _normal(_get(now, path))
            if not _same(was, is_):
                out.append(Change(path, was, is_, "added" if was is None else "changed"))
    return out


def without(obj: Any, patterns: tuple[Path, ...]) -> Any:
    """`obj` without the fields `patterns` name: what a rule leaves graded."""
    if any(not p for p in patterns):
        return None
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            rest = tuple(p[1:] for p in patterns if p[0] == key)
            if () not in rest:
                out[key] = without(value, rest)
        return out
    if isinstance(obj, list):
        return [
            without(v, tuple(p[1:] for p in patterns if p[0] in ("*", i)))
            for i, v in enumerate(obj)
        ]
    return obj


def object_changes(
    manifest: Obj, now: Obj, may_change: tuple[Path, ...] = (), exact: tuple[Path, ...] = ()
) -> list[Change]:
    """What changed in a provisioned object since its manifest was applied. Its name,
    namespace and kind are its identity, not its content; labels and annotations count."""
    meta = manifest.get("metadata") or {}
    content = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
    content["metadata"] = {k: meta[k] for k in ("labels", "annotations") if k in meta}
    return field_changes(content, now, may_change) + exact_changes(content, now, exact, may_change)


class ObjectRule(Model):
    """What may happen to one provisioned object; every other provisioned object must stay
    exactly as its manifest sets it, and must not be deleted."""

    api_version: str | None = Field(None, alias="apiVersion")
    kind: str
    name: str
    namespace: str | None = Field(
        None, description="For an object in another of the lab's namespaces (namespace.others)."
    )
    may_change: list[str] = Field(
        default_factory=list,
        alias="mayChange",
        description="Field paths a fix may change (and everything under them), e.g. "
        "spec.template.spec.containers[*].command; `spec` for the whole spec.",
    )
    exact: list[str] = Field(
        default_factory=list,
        description="Field paths that must hold exactly what the manifest sets, nothing added "
        "(spec.template.spec.nodeName, ...tolerations): for fields the API server leaves alone.",
    )
    keep_uid: bool = Field(
        False,
        alias="keepUid",
        description="The very object provisioned (same uid): edited, not deleted and recreated.",
    )
    may_delete: bool = Field(
        False,
        alias="mayDelete",
        description="A fix may delete it (and may create it again, compared with its manifest).",
    )
    constraint: str | None = Field(
        None, description="A line of the task's Constraints that this rule enforces."
    )
    why: str | None = Field(None, description="Told to the learner when the rule is broken.")

    @field_validator("may_change", "exact")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_path(text)
        return value

    def key(self) -> str:
        return object_key(self.kind, self.name, self.namespace)


class AddRule(Model):
    """New objects of one kind a fix may create in the lab namespace (or `namespace`)."""

    api_version: str = Field("v1", alias="apiVersion")
    kind: str
    namespace: str | None = Field(
        None, description="Another of the lab's namespaces (namespace.others) instead of its own."
    )
    expect: dict[str, Any] = Field(
        default_factory=dict,
        description="A rule every new object of this kind must follow: an assertion tree, as "
        "in a `resource` check.",
    )
    why: str | None = None


class ProvisionedKeptCheck(CheckType):
    key: ClassVar[str] = "provisionedKept"
    # It reads the kinds the scenario provisions and the namespaced kinds the operator caches
    # (for new objects): the catalog test holds those to the watched kinds.
    reads: ClassVar[tuple[Reads, ...]] = ()

    objects: list[ObjectRule] = Field(default_factory=list)
    may_add: list[AddRule] = Field(default_factory=list, alias="mayAdd")
    provisioned: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The manifests as rendered for this lab; attached when the scenario is "
        "rendered, never written by hand.",
    )
    namespaces: list[str] = Field(
        default_factory=list,
        description="The lab's namespaces besides its own; attached when the scenario is rendered.",
    )
    why: str | None = Field(None, description="Told to the learner for objects without a rule.")

    def _rules(self) -> dict[str, ObjectRule]:
        return {r.key(): r for r in self.objects}

    def _home(self, manifest: Obj, namespace: str) -> str:
        return home_namespace(manifest, namespace, self.namespaces)

    def _need(self, api_version: str, kind: str, where: str, namespace: str) -> ObjectsNeed:
        """How the provisioned objects of a kind in one of the lab's namespaces (`where`) are
        read: every one of the kind, or for kinds the operator never lists (Secrets) the
        provisioned ones by name."""
        where = scope(kind, None, where)
        if (api_version, kind) not in GET_ONLY:
            return ObjectsNeed(api_version, kind, where)
        names = sorted(
            {
                name_of(m)
                for m in self.provisioned
                if (m["apiVersion"], m["kind"]) == (api_version, kind)
                and scope(kind, None, self._home(m, namespace)) == where
            }
        )
        return ObjectsNeed(api_version, kind, where, names=tuple(names))

    def needs(self, namespace: str) -> list[Need]:
        seen: dict[Need, None] = {ObjectsNeed("v1", "Namespace", ""): None}
        for m in self.provisioned:
            home = self._home(m, namespace)
            seen.setdefault(self._need(m["apiVersion"], m["kind"], home, namespace))
        for where in (namespace, *self.namespaces):
            for api_version, kind in (
                *NEW_OBJECT_KINDS,
                *((a.api_version, a.kind) for a in self.may_add),
            ):
                if kind not in CLUSTER_SCOPED_KINDS:
                    seen.setdefault(ObjectsNeed(api_version, kind, where))
        return list(seen)

    def wakes_on(self, namespace: str) -> set[str]:
        # Cluster-scoped objects the lab provisioned (a PersistentVolume) change outside the lab
        # namespace; the Namespace's uid record is written once.
        return {m["kind"] for m in self.provisioned if m["kind"] in CLUSTER_SCOPED_KINDS} - {
            "Namespace"
        }

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        problems = provisioned_problems(
            self.provisioned,
            self._rules(),
            self.may_add,
            lambda api_version, kind, where: live(
                snapshot.objects.get(self._need(api_version, kind, where, namespace), [])
            ),
            recorded_uids(snapshot, namespace),
            namespace,
            self.why,
            self.namespaces,
        )
        if not problems:
            return Verdict(
                True,
                f"the {len(self.provisioned)} objects the lab created are as provisioned, apart "
                "from what the fix may change, and no other objects were added",
            )
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        return Verdict(False, "; ".join(problems[:3]) + more)


def recorded_uids(snapshot: Snapshot, namespace: str) -> dict[str, str] | None:
    ns = next((n for n in snapshot.list("v1", "Namespace", "") if name_of(n) == namespace), None)
    raw = ((ns or {}).get("metadata", {}).get("annotations") or {}).get(PROVISIONED_UIDS)
    try:
        return {str(k): str(v) for k, v in json.loads(raw).items()} if raw else None
    except (ValueError, TypeError, AttributeError):
        return None


def provisioned_problems(
    provisioned: list[Obj],
    rules: dict[str, ObjectRule],
    may_add: list[AddRule],
    objects: Callable[[str, str, str], list[Obj]],
    uids: dict[str, str] | None,
    namespace: str,
    default_why: str | None = None,
    others: list[str] | None = None,
) -> list[str]:
    """Every way the lab's objects differ from what was provisioned and allowed, as the learner
    reads it. `objects(api_version, kind, namespace)` lists the live objects of a kind in one of
    the lab's namespaces (its own, or one of `others`); `uids` maps "Kind/name" (and
    "Kind/namespace/name" in the others) to the uid recorded at provisioning."""
    others = others or []
    out: list[str] = []
    mine: set[tuple[str, str, str]] = set()
    for manifest in provisioned:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        home = home_namespace(manifest, namespace, others)
        mine.add((kind, home, name))
        elsewhere = None if home == namespace else home
        key = object_key(kind, name, elsewhere)
        rule = rules.get(key) or ObjectRule(kind=kind, name=name)
        text = rule.why or rule.constraint or default_why
        why = f" ({text})" if text else ""
        label = f"{kind} {name}" if elsewhere is None else f"{kind} {home}/{name}"
        current = next(
            (o for o in objects(manifest["apiVersion"], kind, home) if name_of(o) == name), None
        )
        if current is None:
            if not rule.may_delete:
                out.append(f"{label} is gone: the lab created it and the task keeps it{why}")
            continue
        uid = current.get("metadata", {}).get("uid")
        if rule.keep_uid and uids is None:
            out.append(f"{label}: namespace {namespace} does not record what was provisioned")
            continue
        if rule.keep_uid and (uids or {}).get(key) != uid:
            out.append(
                f"{label} was deleted and created again (its uid changed since the lab was "
                f"provisioned); the task says to edit it, not to recreate it{why}"
            )
            continue
        changes = object_changes(
            manifest,
            current,
            tuple(parse_path(p) for p in rule.may_change),
            tuple(parse_path(p) for p in rule.exact),
        )
        out += [f"{label}: {c}{why}" for c in changes]
    for where in (namespace, *others):
        out += _new_objects(where, may_add, objects, mine, namespace, default_why)
    return out


def _new_objects(
    where: str,
    may_add: list[AddRule],
    objects: Callable[[str, str, str], list[Obj]],
    mine: set[tuple[str, str, str]],
    namespace: str,
    default_why: str | None,
) -> list[str]:
    """The objects a fix added in `where`, one of the lab's namespaces, that the task does not
    allow there."""
    out: list[str] = []
    allowed = {(a.api_version, a.kind): a for a in may_add if (a.namespace or namespace) == where}
    for api_version, kind in dict.fromkeys((*NEW_OBJECT_KINDS, *allowed)):
        if kind in CLUSTER_SCOPED_KINDS:
            continue
        for obj in objects(api_version, kind, where):
            name = name_of(obj)
            meta = obj.get("metadata") or {}
            if (
                (kind, where, name) in mine
                or (kind, name) in NAMESPACE_DEFAULTS
                or PROBE_LABEL in (meta.get("labels") or {})
                # Made by a controller from an object that is itself judged (a Deployment's
                # ReplicaSet and pods, a Service's EndpointSlices).
                or any(ref.get("controller") for ref in meta.get("ownerReferences") or [])
            ):
                continue
            rule_add = allowed.get((api_version, kind))
            if rule_add is None:
                out.append(
                    f"{kind} {name} is new in {where}: the task lets a fix create no "
                    f"{kind} here{f' ({default_why})' if default_why else ''}"
                )
                continue
            mismatches = match(rule_add.expect, obj)
            if mismatches:
                why = f" ({rule_add.why})" if rule_add.why else ""
                out.append(f"{kind} {name} is new in {where}: {mismatches[0]}{why}")
    return out
