"""What an etcd snapshot file on the node is, without letting its content leave the node: a
snapshot holds every Secret of the cluster. The agent answers whether the file is one that
`etcdctl snapshot save` wrote (a bbolt database followed by the SHA-256 of its bytes, which the
server appends to the stream and `etcdutl snapshot restore` verifies) and whether given
markers occur in it: a value the lab wrote when it started is in a snapshot taken after, and in
no snapshot taken before."""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
from pathlib import Path
from typing import Any, BinaryIO

# Where a task asks for a snapshot: Debian's directory for backups, one file, no subdirectory.
SNAPSHOT_PATH = re.compile(r"^/var/backups/[A-Za-z0-9._-]+\.db$")
MARKER = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# bbolt's meta page: a 16-byte page header, then the magic number (little-endian).
BOLT_MAGIC = 0xED0CDAED
HASH_SIZE = hashlib.sha256().digest_size
# A page-aligned database plus the appended hash: `etcdutl snapshot restore` tells a snapshot
# with a hash from a copied data file by this remainder.
ALIGNMENT = 512
CHUNK = 1 << 20
# The start of the file read first: both meta pages, whatever bbolt's page size (4 KiB here,
# up to 64 KiB on some machines).
HEAD = 1 << 17


def inspect(root: Path, path: str, markers: list[str]) -> dict[str, Any]:
    """{exists, bytes, database, hashed, hashOk, sized, markers: {marker: found}}; raises ValueError
    for a path or marker the agent does not look at."""
    if not SNAPSHOT_PATH.match(path) or "/../" in path:
        raise ValueError(f"{path}: not a snapshot path the agent reads (/var/backups/<name>.db)")
    bad = [m for m in markers if not MARKER.match(m)]
    if bad:
        raise ValueError(f"not a marker: {bad[0]!r}")
    target = root / path.lstrip("/")
    try:
        with target.open("rb") as f:
            return {"exists": True, **describe_stream(f, os.fstat(f.fileno()).st_size, markers)}
    except (FileNotFoundError, IsADirectoryError):
        return {"exists": False}


def describe(data: bytes, markers: list[str]) -> dict[str, Any]:
    return describe_stream(io.BytesIO(data), len(data), markers)


def describe_stream(f: BinaryIO, size: int, markers: list[str]) -> dict[str, Any]:
    """Read once, a chunk at a time: a snapshot is as large as etcd's database (78 MB after a
    day of labs), and the agent's memory limit is a fraction of that."""
    head = f.read(HEAD)
    database = len(head) >= 20 and int.from_bytes(head[16:20], "little") == BOLT_MAGIC
    hashed = size % ALIGNMENT == HASH_SIZE
    body_size = size - HASH_SIZE if hashed else size
    digest = hashlib.sha256()
    wanted = [m.encode() for m in markers]
    found = dict.fromkeys(markers, False)
    overlap = max((len(w) for w in wanted), default=1) - 1
    carry = b""
    data, read, tail = head, 0, b""
    while data:
        take = data[: max(0, body_size - read)]
        tail += data[len(take) :]
        read += len(take)
        digest.update(take)
        window = carry + take
        for m, w in zip(markers, wanted, strict=True):
            found[m] = found[m] or w in window
        carry = window[-overlap:] if overlap else b""
        data = f.read(CHUNK)
    return {
        "bytes": size,
        "database": database,
        "hashed": hashed,
        "hashOk": hashed and digest.digest() == tail[-HASH_SIZE:],
        "sized": database and written_size(head) == body_size,
        "markers": found,
    }


def written_size(db: bytes) -> int | None:
    """The bytes bbolt writes when it copies this database (what `etcdctl snapshot save`
    streams): its newest meta page's page count times its page size. etcd's data file is
    larger, grown ahead in chunks, so a copy of it with a hash added by hand is told apart.

    A meta page (pages 0 and 1) is a 16-byte page header, then magic, version, page size and
    flags (u32 each), the root bucket (16 bytes), the freelist's page, the high-water page id
    and the transaction id (u64 each), little-endian."""
    if len(db) < 80:
        return None
    page_size = struct.unpack_from("<I", db, 24)[0]
    newest: tuple[int, int] | None = None
    for offset in (0, page_size):
        if offset + 80 > len(db) or struct.unpack_from("<I", db, offset + 16)[0] != BOLT_MAGIC:
            continue
        pages, txid = struct.unpack_from("<QQ", db, offset + 56)
        if newest is None or txid > newest[1]:
            newest = (pages, txid)
    return None if newest is None else newest[0] * page_size
