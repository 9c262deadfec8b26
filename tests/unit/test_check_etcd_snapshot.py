"""`etcdSnapshot`: what the agent says of a file (pure, on files in a temporary root shaped as
etcd writes them: a bbolt meta page, then the SHA-256 `etcdctl snapshot save` appends), and the
verdicts on those answers. The real path (etcdctl on the control-plane node, the agent there)
is the self-test of controlplane-etcd-snapshot."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from breakfix.agent.snapshots import ALIGNMENT, BOLT_MAGIC, inspect
from breakfix.checks.etcd_snapshot import EtcdSnapshotCheck
from breakfix.checks.snapshot import EtcdSnapshotNeed, Snapshot

PATH = "/var/backups/etcd-snapshot.db"
MARK = "bf-k3x9q2mzt7wa"


def database(*values: bytes, pages: int = 4, grown: int = 0) -> bytes:
    """A bbolt file's shape: two meta pages (magic, page size, high-water page, transaction),
    then pages holding the values; `grown` more empty pages past the high-water mark, as
    etcd's data file grows ahead of its content."""
    body = bytearray(ALIGNMENT * (pages + grown))
    for page, txid in ((0, 7), (1, 8)):
        at = page * ALIGNMENT
        struct.pack_into("<IIII", body, at + 16, BOLT_MAGIC, 2, ALIGNMENT, 0)
        struct.pack_into("<QQ", body, at + 56, pages, txid)
    at = 1024
    for v in values:
        body[at : at + len(v)] = v
        at += len(v) + 8
    return bytes(body)


def saved(db: bytes) -> bytes:
    return db + hashlib.sha256(db).digest()


def answer_for(tmp_path: Path, data: bytes | None) -> dict[str, Any]:
    if data is not None:
        (tmp_path / "var/backups").mkdir(parents=True, exist_ok=True)
        (tmp_path / PATH.lstrip("/")).write_bytes(data)
    return inspect(tmp_path, PATH, [MARK])


def verdict(answer: dict[str, Any], **fields: Any) -> tuple[bool, str]:
    check = EtcdSnapshotCheck.model_validate({"node": "cp", "path": PATH, "markers": [MARK],
                                              **fields})  # fmt: skip
    [need] = check.needs("lab-a")
    assert isinstance(need, EtcdSnapshotNeed)
    snapshot = Snapshot(now=0.0)
    snapshot.etcd_snapshots[need] = answer
    v = check.verdict(snapshot, "lab-a")
    return v.passed, v.message


def test_a_snapshot_saved_after_the_lab_started_passes(tmp_path: Path) -> None:
    answer = answer_for(tmp_path, saved(database(MARK.encode())))
    assert answer["hashed"] and answer["hashOk"] and answer["markers"] == {MARK: True}
    passed, message = verdict(answer)
    assert passed, message


def test_no_file_fails_and_is_the_symptom(tmp_path: Path) -> None:
    answer = answer_for(tmp_path, None)
    assert answer == {"exists": False}
    assert verdict(answer) == (False, f"there is no file at {PATH} on cp")
    assert verdict(answer, absent=True)[0]
    assert not verdict(answer_for(tmp_path, saved(database(MARK.encode()))), absent=True)[0]


def test_a_copy_of_the_data_file_is_not_a_snapshot(tmp_path: Path) -> None:
    # etcd's member/snap/db: page-aligned, no hash after it, though it holds the marker.
    passed, message = verdict(answer_for(tmp_path, database(MARK.encode())))
    assert not passed
    assert "without the hash" in message and "--skip-hash-check" in message


def test_a_copy_of_the_data_file_with_a_hash_added_by_hand_is_not_a_snapshot(
    tmp_path: Path,
) -> None:
    """etcd's data file is larger than its content (it grows ahead); a snapshot is exactly the
    pages the newest meta page counts. Hashing the copy does not make it a snapshot."""
    answer = answer_for(tmp_path, saved(database(MARK.encode(), grown=3)))
    assert answer["hashed"] and answer["hashOk"] and not answer["sized"]
    passed, message = verdict(answer)
    assert not passed
    assert "longer than the database its meta page describes" in message
    assert answer_for(tmp_path, saved(database(MARK.encode())))["sized"]


def test_an_agent_that_does_not_say_the_size_is_not_held_against_the_file(
    tmp_path: Path,
) -> None:
    answer = answer_for(tmp_path, saved(database(MARK.encode())))
    del answer["sized"]
    assert verdict(answer)[0]


def test_a_snapshot_from_before_the_lab_lacks_the_marker(tmp_path: Path) -> None:
    passed, message = verdict(answer_for(tmp_path, saved(database(b"bf-otherlab12345"))))
    assert not passed
    assert "from before this lab started" in message


def test_a_changed_or_truncated_snapshot_fails(tmp_path: Path) -> None:
    data = bytearray(saved(database(MARK.encode())))
    data[2000] ^= 0xFF
    passed, message = verdict(answer_for(tmp_path, bytes(data)))
    assert not passed and "does not match the hash" in message
    # Cut short: no longer the size of a database plus its hash.
    passed, message = verdict(answer_for(tmp_path, saved(database(MARK.encode()))[:-100]))
    assert not passed


def test_a_file_that_is_no_database_fails(tmp_path: Path) -> None:
    junk = saved(MARK.encode().ljust(ALIGNMENT, b"x"))
    passed, message = verdict(answer_for(tmp_path, junk))
    assert not passed and "not an etcd database" in message
    assert not verdict(answer_for(tmp_path, b""))[0]


def test_the_marker_in_the_hash_does_not_count() -> None:
    # Only the database is searched, not the 32 bytes after it.
    from breakfix.agent.snapshots import describe

    db = database()
    assert describe(db + hashlib.sha256(db).digest(), [MARK])["markers"] == {MARK: False}


@pytest.mark.parametrize(
    "path",
    [
        "/etc/kubernetes/pki/ca.key",
        "/var/backups/../lib/etcd/member/snap/db",
        "/var/backups/a/b.db",
        "var/backups/x.db",
        "/var/backups/x.txt",
    ],
)
def test_the_agent_reads_snapshots_only_where_tasks_put_them(tmp_path: Path, path: str) -> None:
    with pytest.raises(ValueError, match="not a snapshot path"):
        inspect(tmp_path, path, [])
    with pytest.raises(ValidationError):
        EtcdSnapshotCheck.model_validate({"node": "cp", "path": path})


def test_markers_are_plain_tokens(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a marker"):
        inspect(tmp_path, PATH, ["short"])
    with pytest.raises(ValidationError):
        EtcdSnapshotCheck.model_validate({"node": "cp", "path": PATH, "markers": ["a b c d e f"]})


def test_the_file_is_read_in_chunks_and_a_marker_across_two_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot is as large as etcd's database (78 MB after a day of labs): the agent reads it
    a chunk at a time, within its memory limit, and still finds a marker cut by a chunk's end."""
    import breakfix.agent.snapshots as snapshots

    monkeypatch.setattr(snapshots, "HEAD", 1024)
    monkeypatch.setattr(snapshots, "CHUNK", 100)
    db = bytearray(database(pages=8))
    at = 1024 + 100 * 3 - 5  # the marker starts 5 bytes before the end of a chunk
    db[at : at + len(MARK)] = MARK.encode()
    answer = answer_for(tmp_path, saved(bytes(db)))
    assert answer["hashOk"] and answer["sized"] and answer["markers"] == {MARK: True}
    assert verdict(answer)[0]
    # The hash is of every byte but its own, across chunks: one changed byte anywhere fails.
    damaged = bytearray(saved(bytes(db)))
    damaged[3000] ^= 1
    assert not answer_for(tmp_path, bytes(damaged))["hashOk"]
