"""What an etcd snapshot file on the node is, without letting its content leave the node: a
snapshot holds every Secret of the cluster. The agent answers whether the file is one that
`etcdctl snapshot save` wrote (a bbolt database followed by the SHA-256 of its bytes, which the
server appends to the stream and `etcdutl snapshot restore` verifies) and whether given
markers occur in it: a value the lab wrote when it started is in a snapshot taken after, and in
no snapshot taken before."""

from __future__ import annotations

import hashlib
import re
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
    """{exists, bytes, database, hashed, hashOk, markers: {marker: found}}; raises ValueError
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
        "markers": {m: m.encode() in body for m in markers},
    }
