"""`etcdSnapshot`: a file on a node is a snapshot of this cluster's etcd, saved through etcd's
API after the lab started. The node agent answers what the file is, never its content (a
snapshot holds every Secret): a bbolt database followed by the SHA-256 that `etcdctl snapshot
save` writes after it, holding the markers the lab wrote to etcd when it started. A copy of
etcd's data file has no such hash (and may be torn mid-write); a snapshot from before the lab
lacks the markers."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from breakfix.agent.snapshots import MARKER, SNAPSHOT_PATH
from breakfix.checks.check_type import NodeRequestCheck, Verdict
from breakfix.checks.snapshot import EtcdSnapshotNeed, Snapshot


class EtcdSnapshotCheck(NodeRequestCheck):
    key: ClassVar[str] = "etcdSnapshot"

    node: str = Field(min_length=1)
    path: str = Field(pattern=SNAPSHOT_PATH.pattern)
    markers: list[Annotated[str, Field(pattern=MARKER.pattern)]] = Field(
        default_factory=list,
        description="Values the lab wrote to etcd when it started (a ConfigMap's data): a "
        "snapshot taken after holds them.",
    )
    absent: bool = Field(False, description="A symptom: there is no file at the path yet.")

    def need(self) -> EtcdSnapshotNeed:
        return EtcdSnapshotNeed(self.node, self.path, tuple(self.markers))

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        answer = snapshot.etcd_snapshots.get(self.need())
        where = f"{self.path} on {self.node}"
        if answer is None:
            return Verdict(False, f"the node agent on {self.node} did not say what {where} is")
        if not answer.get("exists"):
            if self.absent:
                return Verdict(True, f"there is no file at {where}")
            return Verdict(False, f"there is no file at {where}")
        if self.absent:
            return Verdict(False, f"{where} exists")
        if not answer.get("database"):
            return Verdict(False, f"{where} is not an etcd database: not a snapshot")
        if not answer.get("hashed"):
            return Verdict(
                False,
                f"{where} is etcd's database without the hash `etcdctl snapshot save` writes "
                "after it: a copy of the data file, which may be torn while etcd writes to it "
                "(and `etcdutl snapshot restore` refuses it without --skip-hash-check); save a "
                "snapshot through etcd's API",
            )
        if not answer.get("hashOk"):
            return Verdict(
                False, f"{where} does not match the hash saved with it: damaged or changed since"
            )
        if answer.get("sized") is False:
            return Verdict(
                False,
                f"{where} is longer than the database its meta page describes: etcd's data file "
                "copied, with a hash added after it, not a snapshot saved through etcd's API",
            )
        found = answer.get("markers") or {}
        missing = [m for m in self.markers if not found.get(m)]
        if missing:
            return Verdict(
                False,
                f"{where} is a snapshot from before this lab started: it lacks what the lab "
                "wrote to etcd since",
            )
        return Verdict(True, f"{where} is a snapshot of etcd saved after the lab started "
                             f"({int(answer.get('bytes') or 0) / 2**20:.1f} MiB)")  # fmt: skip
