"""Apply a lab's node changes and put them back: journal first, then files, then units."""

from __future__ import annotations

import contextlib
import logging

from breakfix.agent import units
from breakfix.agent.journal import (
    Journal,
    Store,
    UnitRecord,
    apply_files,
    new_journal,
    record_files,
    restore_files,
)
from breakfix.scenario.models import NodeChanges

log = logging.getLogger("breakfix.agent")


MANIFESTS = "/etc/kubernetes/manifests/"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")


def static_pod(path: str) -> str | None:
    """The container a static-pod manifest runs, by kubeadm's naming (kube-scheduler.yaml)."""
    if path.startswith(MANIFESTS) and path.endswith(".yaml"):
        return path.removeprefix(MANIFESTS).removesuffix(".yaml")
    return None


async def apply(store: Store, lab: str, changes: NodeChanges) -> Journal:
    """Once per lab: a lab applied again (the operator restarted before it recorded that it was
    provisioned) keeps its journal and changes nothing, so neither are the originals recorded
    from broken files, nor is a node the learner already repaired broken again."""
    journal = store.load(lab)
    if journal is not None:
        return journal
    journal = new_journal(lab, changes, record_files(store, changes))
    journal.units = [
        UnitRecord(name=s.name, action=s.action, was_active=await units.is_active(s.name))
        for s in changes.services
    ]
    # Written before anything changes: whatever happens next, restore knows the originals.
    store.save(journal)
    static = {f.path: name for f in changes.files if (name := static_pod(f.path))}
    before = {path: await units.running_containers(name) for path, name in static.items()}
    for path in apply_files(store, changes):
        if path in static:
            # The kubelet replaces the pod. Once it has noticed, removing the old containers
            # spares a graceful shutdown (30 s for an API server) and leaves no exit of theirs to
            # back off from: the component put back later (by the learner or a restore) starts
            # at once.
            with contextlib.suppress(units.UnitError):
                await units.wait_stopped(before[path], static[path], timeout=3)
            await units.remove_containers(before[path])
    for service in changes.services:
        if service.action == "stop":
            await units.stop(service.name)
        else:
            await units.restart(service.name)
    for container in changes.restart_containers:
        await units.restart_container(container)
    log.info(f"lab {lab}: applied {len(changes.files)} files, {len(changes.services)} units")
    return journal


async def restore(store: Store, lab: str) -> bool:
    """Put back what `lab` changed; False if nothing was recorded (already restored)."""
    journal = store.load(lab)
    if journal is None:
        return False
    restore_files(store, journal.files)
    if any(static_pod(f.path) for f in journal.files):
        # Components that lost the API server meanwhile (the controller manager and the scheduler
        # exit when they cannot renew their lease) back off for minutes; they restart at once.
        await units.clear_backoff(CONTROL_PLANE)
    for unit in journal.units:
        if unit.action == "restart" or unit.was_active:
            await units.restart(unit.name)
    for container in journal.containers:
        await units.restart_container(container)
    store.drop(lab)
    log.info(f"lab {lab}: restored {len(journal.files)} files, {len(journal.units)} units")
    return True
