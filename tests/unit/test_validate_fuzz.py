"""Mutated lab folders: `breakfix validate` accepts them or names the file and field at fault,
and never fails with anything but its own list of problems (no traceback, whatever the YAML).

Each example takes a real lab, changes one place in one of its files (a value replaced by
anything YAML can hold, a key removed, a key added), and loads the folder as `validate` does.
BREAKFIX_FUZZ_EXAMPLES sets how many examples each lab gets (CI: the default, derandomized).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breakfix.scenario.catalog import CatalogError, load_lab
from tests.paths import LABS

EXAMPLES = int(os.environ.get("BREAKFIX_FUZZ_EXAMPLES", "60"))
FILES = ("lab.yaml", "checks.yaml", "solution.yaml", "variants.yaml")
# A namespace lab, a node lab with node changes, one with invariants and an RBAC lab.
SOURCES = ("crashloop-bad-command", "node-kubelet-stopped", "svc-selector-mismatch",
           "rbac-missing-permission")  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["{{ nope }}", "{{", "0", "-1", "", "a" * 300, "Pod", "True", "1e9"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def places(tree: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a YAML tree."""
    found = [path]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += places(value, (*path, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += places(value, (*path, index))
    return found


def mutate(tree: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    if not path:
        return value if how == "replace" else tree
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last]["unexpectedField"] = value
    else:
        parent[last] = value
    return tree


@pytest.mark.parametrize("source", SOURCES)
def test_a_mutated_lab_is_valid_or_its_problems_name_file_and_field(
    source: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    original = LABS / source
    outcomes = {"accepted": 0, "rejected": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=EXAMPLES <= 60,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from([f for f in FILES if (original / f).exists()]))
        tree = yaml.safe_load((original / name).read_text())
        path = data.draw(st.sampled_from(places(tree)))
        how = data.draw(st.sampled_from(["replace", "delete", "add"]))
        value = data.draw(values)
        folder = tmp_path_factory.mktemp("lab") / source
        shutil.copytree(original, folder)
        (folder / name).write_text(yaml.safe_dump(mutate(tree, path, how, value)))
        try:
            load_lab(Path(folder))
            outcomes["accepted"] += 1
        except CatalogError as exc:
            outcomes["rejected"] += 1
            assert exc.problems
            for problem in exc.problems:
                # Each says where: a file of this folder, and (but for a file that is not a
                # mapping at all) the field.
                assert problem.path.startswith(str(folder)), problem
                assert problem.message.strip(), problem
            named = [p for p in exc.problems if p.path.endswith(name)]
            if named and path and how != "add":
                top = str(path[0])
                assert any(top in (p.field + p.message) for p in named), (path, exc.problems)

    check()
    print(f"{source}: {outcomes}")
    # Both happen: a mutation that changes nothing that matters (a description's text) loads.
    assert outcomes["accepted"] and outcomes["rejected"], outcomes


def test_a_solution_object_without_its_kind_is_named_before_it_reaches_a_cluster(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "rbac-missing-permission"
    shutil.copytree(LABS / folder.name, folder)
    solution = yaml.safe_load((folder / "solution.yaml").read_text())
    del solution["steps"][0]["apply"]["kind"]
    (folder / "solution.yaml").write_text(yaml.safe_dump(solution))
    with pytest.raises(CatalogError) as caught:
        load_lab(folder)
    [problem] = caught.value.problems
    assert problem.path.endswith("solution.yaml") and problem.field == "steps[0].apply"
    assert "apiVersion, kind and metadata.name" in problem.message
