"""What a lab's change to an add-on object (CoreDNS) replaced: the revert patch, computed from
the object as it was before the change. Pure functions on plain objects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Obj = dict[str, Any]


def leaves(patch: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths a merge patch sets: a mapping is merged into, anything else (a list
    included, as merge patches replace lists whole) replaces what was there."""
    for key, value in patch.items():
        if isinstance(value, Mapping) and value:
            yield from leaves(value, (*path, key))
        else:
            yield (*path, key)


def value_at(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _put(tree: Obj, path: tuple[str, ...] | list[str], value: Any) -> None:
    *parents, last = path
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[last] = value


def originals(before: Mapping[str, Any], patch: Mapping[str, Any]) -> list[Obj]:
    """What `before` had at every path `patch` sets: `{path, value}`, or `{path}` where it had
    nothing. No nulls: they would not survive a merge patch of the Lab's status."""
    found = []
    for path in leaves(patch):
        entry: Obj = {"path": list(path)}
        value = value_at(before, path)
        if value is not None:
            entry["value"] = value
        found.append(entry)
    return found


def revert_patch(recorded: list[Obj]) -> Obj:
    """The merge patch that writes the recorded values back (null, which removes, where the
    object had none)."""
    revert: Obj = {}
    for entry in recorded:
        _put(revert, entry["path"], entry.get("value"))
    return revert


def edited(obj: Mapping[str, Any], edits: Mapping[str, list[tuple[str, str]]]) -> Obj:
    """The merge patch that makes text replacements (path -> [(old, new)]) in string fields
    of `obj`; a ValueError names what is not there to replace."""
    patch: Obj = {}
    for dotted, replacements in edits.items():
        path = tuple(dotted.split("."))
        text = value_at(obj, path)
        if not isinstance(text, str):
            raise ValueError(f"{dotted}: no text to edit")
        for old, new in replacements:
            if old not in text:
                raise ValueError(f"{dotted}: {old!r} does not occur")
            text = text.replace(old, new)
        _put(patch, path, text)
    return patch


def merged(patch: Mapping[str, Any], other: Mapping[str, Any]) -> Obj:
    """Two merge patches as one (`other` wins where both set a path)."""
    out: Obj = dict(patch)
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def skeleton(paths: list[str]) -> Obj:
    """A merge patch whose leaves are these dotted paths: merged under a lab's patch, the paths
    it keeps are recorded and put back as the ones it changes."""
    out: Obj = {}
    for dotted in paths:
        _put(out, tuple(dotted.split(".")), True)
    return out
