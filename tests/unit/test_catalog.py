import shutil
from pathlib import Path

import pytest

from breakfix.scenario.catalog import CatalogError, load_catalog, load_lab
from tests.paths import LABS


def test_builtin_catalog_is_valid() -> None:
    labs = load_catalog(LABS)
    assert {"pending-insufficient-cpu", "crashloop-bad-command", "rbac-missing-permission"} <= {
        lab.id for lab in labs
    }


def broken_copy(tmp_path: Path, edit: str, old: str, new: str) -> Path:
    dest = tmp_path / "pending-insufficient-cpu"
    shutil.copytree(LABS / "pending-insufficient-cpu", dest)
    target = dest / edit
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    return dest


def test_problem_names_file_and_field(tmp_path: Path) -> None:
    lab = broken_copy(tmp_path, "checks.yaml", "minReplicas: 1", "minReplicas: 0\n      bogus: 1")
    with pytest.raises(CatalogError) as exc:
        load_lab(lab)
    text = str(exc.value)
    assert (
        f"{lab}/checks.yaml: checks[0].workloadAvailable.bogus: Extra inputs are not permitted"
        in text
    )


def test_bad_difficulty_points_at_lab_yaml(tmp_path: Path) -> None:
    lab = broken_copy(tmp_path, "lab.yaml", "difficulty: easy", "difficulty: trivial")
    with pytest.raises(CatalogError, match=r"lab\.yaml: difficulty: Input should be"):
        load_lab(lab)


def test_check_with_two_types_is_rejected(tmp_path: Path) -> None:
    lab = broken_copy(
        tmp_path,
        "checks.yaml",
        "    workloadAvailable:",
        "    podsReady: {selector: {a: b}}\n    workloadAvailable:",
    )
    with pytest.raises(CatalogError, match=r"exactly one of .* got podsReady, workloadAvailable"):
        load_lab(lab)


def test_manifest_problem_names_the_manifest_file(tmp_path: Path) -> None:
    lab = broken_copy(tmp_path, "manifests/deployment.yaml", "kind: Deployment\n", "")
    with pytest.raises(
        CatalogError, match=r"manifests/deployment.yaml: manifests\[0\].kind: Field required"
    ):
        load_lab(lab)


def test_rejected_by_must_name_a_check(tmp_path: Path) -> None:
    lab = broken_copy(
        tmp_path, "variants.yaml", "rejectedBy: cpu-request-kept", "rejectedBy: no-such-check"
    )
    with pytest.raises(
        CatalogError,
        match=r"variants.yaml: shortcuts\[\d\]\.rejectedBy: no check named no-such-check",
    ):
        load_lab(lab)


def test_a_stated_constraint_needs_its_check(tmp_path: Path) -> None:
    lab = broken_copy(tmp_path, "checks.yaml", "    identityKept:", "    identityKeptX:")
    # Replace the whole identityKept guard by a harmless one: the task still says "do not delete".
    text = (lab / "checks.yaml").read_text()
    head = text[: text.index("  - name: deployment-kept")]
    (lab / "checks.yaml").write_text(head)
    with pytest.raises(
        CatalogError,
        match=r"task.md: the task says not to delete or recreate an object; an identityKept "
        r"check \(or an invariants rule with keepUid\) must enforce it",
    ):
        load_lab(lab)


def test_a_stated_constraint_needs_a_guard_that_names_it(tmp_path: Path) -> None:
    # storage-wrong-storage-class says PersistentVolumes cannot be changed; without the guards
    # on the volume, a learner who moves it into the claim's class is Solved. (pending-pvc-unbound
    # states it through its invariants, whose guard keeps the volume.)
    dest = tmp_path / "storage-wrong-storage-class"
    shutil.copytree(LABS / "storage-wrong-storage-class", dest)
    checks = (dest / "checks.yaml").read_text()
    start = checks.index("  - name: volume-unchanged")
    end = checks.index("  - name: deployment-kept")
    (dest / "checks.yaml").write_text(checks[:start] + checks[end:])
    (dest / "variants.yaml").write_text("fixes: []\nshortcuts: []\n")
    with pytest.raises(
        CatalogError,
        match=r"task.md: the task says PersistentVolumes may not be changed; a check on the "
        r"PersistentVolume must enforce it",
    ):
        load_lab(dest)


def test_only_the_constraints_section_states_constraints() -> None:
    from breakfix.scenario.catalog import constraints_of

    task = "The readiness probe fails.\n\n**Constraints:**\n- Keep the command.\n"
    assert constraints_of(task) == "\n- Keep the command.\n"
    assert constraints_of("No constraints here: keep the readiness probe.") == ""


def _without_identity_guard(tmp_path: Path) -> Path:
    lab = broken_copy(tmp_path, "checks.yaml", "    identityKept:", "    identityKeptX:")
    text = (lab / "checks.yaml").read_text()
    start = text.index("  - name: deployment-kept")
    end = text.index("  - name:", start + 1) if "  - name:" in text[start + 1 :] else len(text)
    (lab / "checks.yaml").write_text(text[:start] + text[end:])
    variants = (lab / "variants.yaml").read_text()
    (lab / "variants.yaml").write_text(variants.replace("rejectedBy: deployment-kept", ""))
    return lab


def test_invariants_with_keep_uid_enforce_do_not_delete(tmp_path: Path) -> None:
    lab = _without_identity_guard(tmp_path)
    with (lab / "lab.yaml").open("a") as f:
        f.write(
            "invariants:\n  objects:\n    - kind: Deployment\n      name: '{{ app }}'\n"
            "      keepUid: true\n      mayChange: [spec.template.spec.containers]\n"
        )
    spec = load_lab(lab).spec
    assert "provisioned-kept" in {c["name"] for c in spec.all_checks()}


def test_a_constraint_the_invariants_state_is_validated_too(tmp_path: Path) -> None:
    # The line comes from the declaration, not task.md, and says "do not delete" without
    # keepUid: the validator reads the task as the learner does and rejects it.
    lab = _without_identity_guard(tmp_path)
    task = (lab / "task.md").read_text().replace("do not delete", "keep")
    (lab / "task.md").write_text(task.replace("do not recreate", "keep"))
    with (lab / "lab.yaml").open("a") as f:
        f.write(
            "invariants:\n  objects:\n    - kind: Deployment\n      name: '{{ app }}'\n"
            "      constraint: Edit the Deployment, do not delete it.\n"
            "      mayChange: [spec.template.spec.containers]\n"
        )
    with pytest.raises(CatalogError, match=r"task.md: the task says not to delete or recreate"):
        load_lab(lab)


def test_an_unknown_competency_is_named_with_the_known_ones(tmp_path: Path) -> None:
    lab = broken_copy(
        tmp_path, "lab.yaml", "difficulty: easy", "difficulty: easy\ncompetency: cka-yoga"
    )
    with pytest.raises(CatalogError, match=r"lab\.yaml: competency: .*'cka-yoga' is none of cka-"):
        load_lab(lab)
