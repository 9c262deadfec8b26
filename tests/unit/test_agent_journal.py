"""The node agent's journal on a temporary root: originals kept, edits applied, put back."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from breakfix.agent.journal import (
    ChangeError,
    Store,
    apply_files,
    due,
    new_journal,
    readable,
    record_files,
    restore_files,
)
from breakfix.scenario.models import NodeChanges

MANIFEST = (
    "spec:\n  containers:\n  - command:\n    - kube-scheduler\n"
    "    - --kubeconfig=/etc/kubernetes/scheduler.conf\n"
)


def changes(**files: object) -> NodeChanges:
    return NodeChanges.model_validate({"role": "control-plane", **files})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    manifests = tmp_path / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    (manifests / "kube-scheduler.yaml").write_text(MANIFEST)
    os.chmod(manifests / "kube-scheduler.yaml", 0o640)
    return Store(tmp_path)


BREAK = {
    "files": [
        {
            "path": "/etc/kubernetes/manifests/kube-scheduler.yaml",
            "replace": [
                {"old": "--kubeconfig=/etc/kubernetes/scheduler.conf", "new": "--kubeconfig=/x"}
            ],
        },
        {"path": "/etc/kubernetes/x", "absent": True},
    ]
}


def test_apply_then_restore_gives_back_the_same_bytes_and_mode(store: Store) -> None:
    wanted = changes(**BREAK)
    store.save(new_journal("lab-a", wanted, record_files(store, wanted)))
    changed = apply_files(store, wanted)
    target = store.host("/etc/kubernetes/manifests/kube-scheduler.yaml")
    assert changed == ["/etc/kubernetes/manifests/kube-scheduler.yaml"]
    assert "--kubeconfig=/x" in target.read_text()
    # The learner makes the wrong path exist and edits the manifest some other way.
    store.host("/etc/kubernetes/x").write_text("copy")
    target.write_text("something else")
    os.chmod(target, 0o600)
    journal = store.load("lab-a")
    assert journal is not None
    restore_files(store, journal.files)
    assert target.read_text() == MANIFEST
    assert target.stat().st_mode & 0o777 == 0o640
    assert not store.host("/etc/kubernetes/x").exists()
    # No temporary file is left in the static-pod directory.
    assert sorted(p.name for p in target.parent.iterdir()) == ["kube-scheduler.yaml"]


def test_applying_again_changes_nothing_and_keeps_the_first_originals(store: Store) -> None:
    wanted = changes(**BREAK)
    store.save(new_journal("lab-a", wanted, record_files(store, wanted)))
    apply_files(store, wanted)
    assert apply_files(store, wanted) == []
    journal = store.load("lab-a")
    assert journal is not None
    assert "scheduler.conf" in base64.b64decode(journal.files[0].content).decode()


def test_a_missing_text_refuses_before_anything_changes(store: Store) -> None:
    wanted = changes(
        files=[
            {
                "path": "/etc/kubernetes/manifests/kube-scheduler.yaml",
                "replace": [{"old": "--no-such-flag", "new": "--x"}],
            }
        ]
    )
    with pytest.raises(ChangeError, match="--no-such-flag"):
        record_files(store, wanted)
    assert store.host("/etc/kubernetes/manifests/kube-scheduler.yaml").read_text() == MANIFEST


def test_journals_come_due_after_restore_after_seconds(store: Store) -> None:
    wanted = changes(restoreAfterSeconds=60, **BREAK)
    journal = new_journal("lab-a", wanted, [], now=1000.0)
    assert due([journal], 1059.0) == []
    assert due([journal], 1060.0) == [journal]


def test_lab_names_are_file_names_only(store: Store) -> None:
    with pytest.raises(ChangeError):
        store.path("../etc/passwd")


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("/etc/kubernetes/manifests/kube-apiserver.yaml", True),
        ("/var/lib/kubelet/config.yaml", True),
        ("/etc/kubernetes/admin.conf", False),
        ("/etc/kubernetes/pki/ca.key", False),
        ("/etc/kubernetes/manifests/../admin.conf", False),
    ],
)
def test_checks_read_configuration_never_credentials(path: str, ok: bool) -> None:
    assert readable(path) is ok


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "/etc/kubernetes/../shadow", "relative/path", "/var/lib/kubelet"]
)
def test_a_lab_changes_only_kubelet_and_control_plane_files(path: str) -> None:
    with pytest.raises(ValueError, match="may change files under"):
        changes(files=[{"path": path, "content": "x"}])


def test_a_kept_file_is_left_alone_then_put_back(store: Store) -> None:
    wanted = changes(
        files=[{"path": "/etc/kubernetes/manifests/kube-scheduler.yaml", "keep": True}]
    )
    store.save(new_journal("lab-k", wanted, record_files(store, wanted)))
    assert apply_files(store, wanted) == []
    target = store.host("/etc/kubernetes/manifests/kube-scheduler.yaml")
    target.write_text("the learner's edit")
    journal = store.load("lab-k")
    assert journal is not None
    restore_files(store, journal.files)
    assert target.read_text() == MANIFEST


def test_an_empty_directory_the_runtime_made_in_a_files_place_is_replaced(store: Store) -> None:
    conf = store.host("/etc/kubernetes/scheduler.conf")
    conf.write_text("kubeconfig")
    wanted = changes(files=[{"path": "/etc/kubernetes/scheduler.conf", "content": "wrong"}])
    store.save(new_journal("lab-a", wanted, record_files(store, wanted)))
    apply_files(store, wanted)
    # The learner moves the file away; the kubelet restarts the scheduler meanwhile, and the
    # runtime makes the missing bind-mount source a directory.
    conf.unlink()
    conf.mkdir()
    journal = store.load("lab-a")
    assert journal is not None
    restore_files(store, journal.files)
    assert conf.is_file() and conf.read_text() == "kubeconfig"
    # A directory with something in it is not the runtime's: restoring refuses.
    conf.unlink()
    conf.mkdir()
    (conf / "notes").write_text("mine")
    with pytest.raises(OSError):
        restore_files(store, journal.files)
    assert (conf / "notes").exists()
