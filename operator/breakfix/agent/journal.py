"""What a lab changed on a node, and how to put it back: the files' original bytes, mode and
owner, and whether each unit was running. Plain file I/O under a root directory (the host's `/`
as mounted in the agent's pod), so it is tested on a temporary directory."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from pathlib import Path

from pydantic import BaseModel, Field

from breakfix.scenario.models import FileChange, NodeChanges

LAB_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# What checks may read: configuration, never credentials (kubeconfigs, keys, the journal).
READABLE = re.compile(
    r"^/(etc/kubernetes/manifests/[A-Za-z0-9._-]+\.yaml|var/lib/kubelet/config\.yaml"
    r"|var/lib/kubelet/kubeadm-flags\.env|etc/systemd/system/kubelet\.service\.d/[A-Za-z0-9._-]+"
    r"|etc/containerd/config\.toml)$"
)


def readable(path: str) -> bool:
    return bool(READABLE.match(path))


class ChangeError(ValueError):
    """The node is not as the scenario expects (a text to replace is missing): nothing changed."""


class FileRecord(BaseModel):
    path: str
    existed: bool
    content: str = ""
    """The original bytes, base64."""
    mode: int = 0o600
    uid: int = 0
    gid: int = 0


class UnitRecord(BaseModel):
    name: str
    action: str
    was_active: bool = Field(alias="wasActive")

    model_config = {"populate_by_name": True}


class Journal(BaseModel):
    lab: str
    created: float
    restore_at: float = Field(alias="restoreAt")
    files: list[FileRecord] = Field(default_factory=list)
    units: list[UnitRecord] = Field(default_factory=list)
    containers: list[str] = Field(default_factory=list)

    model_config = {"populate_by_name": True}


class Store:
    """Journals under `<root>/var/lib/breakfix/journal`, one JSON file per lab."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "var/lib/breakfix/journal"

    def host(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def path(self, lab: str) -> Path:
        if not LAB_NAME.match(lab):
            raise ChangeError(f"not a lab name: {lab!r}")
        return self.dir / f"{lab}.json"

    def load(self, lab: str) -> Journal | None:
        try:
            return Journal.model_validate_json(self.path(lab).read_bytes())
        except FileNotFoundError:
            return None

    def all(self) -> list[Journal]:
        if not self.dir.is_dir():
            return []
        return [
            Journal.model_validate_json(p.read_bytes()) for p in sorted(self.dir.glob("*.json"))
        ]

    def save(self, journal: Journal) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path(journal.lab), journal.model_dump_json(by_alias=True).encode(), 0o600)

    def drop(self, lab: str) -> None:
        self.path(lab).unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes, mode: int, uid: int = 0, gid: int = 0) -> None:
    """Replace `path` in one rename. The temporary name starts with a dot because the kubelet
    ignores hidden files in its static-pod directory: a half-written manifest is never run."""
    tmp = path.with_name(f".breakfix-{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, mode)
    if os.geteuid() == 0:
        os.chown(tmp, uid, gid)
    os.replace(tmp, path)


def edited(original: str, change: FileChange, root: Path | None = None) -> str:
    """The file's new text. Every `old` must occur, or the scenario does not fit this node; a text
    already replaced (the lab provisioned again after a restart) is left as it is."""
    if change.content is not None:
        return change.content
    if change.copy_from is not None:
        source = (root or Path("/")) / change.copy_from.lstrip("/")
        try:
            return source.read_text()
        except FileNotFoundError:
            raise ChangeError(f"{change.copy_from}: no such file on this node") from None
    if change.absent:
        return ""
    text = original
    for r in change.replace:
        if r.old in text:
            text = text.replace(r.old, r.new)
        elif r.new not in text:
            raise ChangeError(f"{change.path}: the text {r.old!r} does not occur in the file")
    return text


def record_files(store: Store, changes: NodeChanges) -> list[FileRecord]:
    records = []
    for change in changes.files:
        target = store.host(change.path)
        try:
            st = target.stat()
        except FileNotFoundError:
            if change.replace:
                raise ChangeError(f"{change.path}: no such file on this node") from None
            records.append(FileRecord(path=change.path, existed=False))
            continue
        data = target.read_bytes()
        edited(data.decode(), change, store.root)  # fail before anything changes
        records.append(
            FileRecord(
                path=change.path,
                existed=True,
                content=base64.b64encode(data).decode(),
                mode=st.st_mode & 0o7777,
                uid=st.st_uid,
                gid=st.st_gid,
            )
        )
    return records


def apply_files(store: Store, changes: NodeChanges) -> list[str]:
    """The paths whose content changed (none when applied again)."""
    changed = []
    for change in changes.files:
        target = store.host(change.path)
        if change.keep:
            continue
        if change.absent:
            if target.exists():
                target.unlink()
                changed.append(change.path)
            continue
        before = target.read_text() if target.exists() else ""
        after = edited(before, change, store.root)
        if after != before or not target.exists():
            st = target.stat() if target.exists() else None
            write_atomic(
                target,
                after.encode(),
                st.st_mode & 0o7777 if st else 0o600,
                st.st_uid if st else 0,
                st.st_gid if st else 0,
            )
            changed.append(change.path)
    return changed


def restore_files(store: Store, records: list[FileRecord]) -> None:
    for record in records:
        target = store.host(record.path)
        if not record.existed:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir() and not target.is_symlink():
            # The runtime makes a missing bind-mount source a directory: a component restarted
            # while the learner had moved its kubeconfig away leaves an empty one in its place.
            # (A directory with something in it is not ours to remove: restoring fails.)
            target.rmdir()
        original = base64.b64decode(record.content)
        if (
            not target.exists()
            or target.read_bytes() != original
            or _meta(target)
            != (
                record.mode,
                record.uid,
                record.gid,
            )
        ):
            write_atomic(target, original, record.mode, record.uid, record.gid)


def _meta(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_mode & 0o7777, st.st_uid, st.st_gid


def new_journal(
    lab: str, changes: NodeChanges, files: list[FileRecord], now: float | None = None
) -> Journal:
    now = time.time() if now is None else now
    return Journal(
        lab=lab, created=now, restore_at=now + changes.restore_after_seconds, files=files
    )


def due(journals: list[Journal], now: float) -> list[Journal]:
    return [j for j in journals if j.restore_at <= now]


def describe(journal: Journal) -> dict[str, object]:
    """The journal without the files' contents (which may be credentials)."""
    described: dict[str, object] = json.loads(
        journal.model_dump_json(by_alias=True, exclude={"files": {"__all__": {"content"}}})
    )
    return described
