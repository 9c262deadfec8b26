"""What an etcd snapshot file on the node is, without letting its content leave the node: a
snapshot holds every Secret of the cluster. The agent answers whether the file is one that
`etcdctl snapshot save` wrote (a bbolt database followed by the SHA-256 of its bytes, which the
server appends to the stream and `etcdutl snapshot restore` verifies) and whether given
markers occur in it: a value the lab wrote when it started is in a snapshot taken after, and in
no snapshot taken before."""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path
from typing import Any

# Where a task asks for a snapshot: Debian's directory for backups, one file, no subdirectory.
SNAPSHOT_PATH = re.compile(r"^/var/backups/[A-Za-z0-9._-]+\.db$")
MARKER = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# bbolt's meta page: a 16-byte page header, then the magic number (little-endian).
BOLT_MAGIC = 0xED0CDAED
HASH_SIZE = hashlib.sha256().digest_size
# A page-aligned database plus the appended hash: `etcdutl snapshot restore` tells a snapshot
# with a hash from a copied data file by this remainder.
ALIGNMENT = 512


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
        data = target.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return {"exists": False}
    return {"exists": True, **describe(data, markers)}


def describe(data: bytes, markers: list[str]) -> dict[str, Any]:
    database = len(data) >= 20 and int.from_bytes(data[16:20], "little") == BOLT_MAGIC
    hashed = len(data) % ALIGNMENT == HASH_SIZE
    body = data[:-HASH_SIZE] if hashed else data
    return {
        "bytes": len(data),
        "database": database,
        "hashed": hashed,
        "hashOk": hashed and hashlib.sha256(body).digest() == data[-HASH_SIZE:],
        "sized": database and written_size(body) == len(body),
        "markers": {m: m.encode() in body for m in markers},
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
