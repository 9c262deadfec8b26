"""The README shows files and commands that exist, not an older copy of them."""

from __future__ import annotations

import re

from breakfix.scenario.catalog import load_catalog
from breakfix.scenario.curriculum import coverage_table
from tests.paths import ROOT

README = (ROOT / "README.md").read_text()


def test_the_ci_example_is_the_linted_file() -> None:
    example = (ROOT / "examples/grade-on-kind.yml").read_text()
    assert "```yaml\n" + example + "```" in README


def test_every_make_target_in_the_readme_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    used = set(re.findall(r"`make ([a-z][a-z-]*)", README)) | set(
        re.findall(r"^make ([a-z][a-z-]*)", README, re.M)
    )
    assert used, "the README names no make target"
    assert used <= targets, used - targets


def test_the_coverage_table_counts_the_catalog() -> None:
    labs = load_catalog(ROOT / "labs")
    table = coverage_table((lab.id, lab.spec.trains) for lab in labs)
    assert table in README, "README's coverage table is stale: run `breakfix coverage labs/`"
    assert all(lab.spec.trains for lab in labs), "a lab whose category trains no competency"
