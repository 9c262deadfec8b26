"""Which runs the catalog self-test makes: CI's budget keeps every reference; fixes and shortcuts
are drawn so that a few runs try them all."""

from __future__ import annotations

import random
from collections import Counter

from breakfix.scenario.catalog import load_catalog
from breakfix.selftest.runner import plan_runs
from tests.paths import LABS


def test_ci_runs_every_reference_a_few_shortcuts_and_one_other_fix_per_lab() -> None:
    labs = load_catalog(LABS)
    jobs = plan_runs(labs, None, 2, True, 1, 1, random.Random(7), 2)
    assert len({name for _, _, name, _, _ in jobs}) == len(jobs), "Lab names collide"
    references = Counter(folder.id for folder, _, _, variant, _ in jobs if variant is None)
    assert set(references) == {lab.id for lab in labs}
    for lab in labs:
        assert lab.variants is not None
        tried = [(v, solved) for f, _, _, v, solved in jobs if f.id == lab.id and v is not None]
        shortcuts = [v for v, solved in tried if not solved]
        fixes = [v for v, solved in tried if solved]
        if lab.spec.exclusive:
            # The cluster is theirs alone while they run: one shortcut, no other fix.
            assert len(shortcuts) == 1 and shortcuts[0] in lab.variants.shortcuts and not fixes
        else:
            assert len(shortcuts) == min(2, len(lab.variants.shortcuts))
            assert all(s in lab.variants.shortcuts for s in shortcuts)
            assert len(fixes) == 1 and fixes[0] in lab.variants.fixes


def test_exclusive_labs_keep_their_reference_and_try_a_shortcut_every_other_run() -> None:
    labs = [lab for lab in load_catalog(LABS) if lab.spec.exclusive]
    rng = random.Random(3)
    runs, with_shortcut = 40, Counter[str]()
    for _ in range(runs):
        jobs = plan_runs(labs, None, 2, True, 1, 1, rng, 3, exclusive_share=0.5)
        assert {f.id for f, _, _, v, _ in jobs if v is None} == {lab.id for lab in labs}
        with_shortcut.update(f.id for f, _, _, v, solved in jobs if v is not None and not solved)
    assert all(5 <= with_shortcut[lab.id] <= runs - 5 for lab in labs), with_shortcut


def test_over_a_few_runs_every_shortcut_is_drawn() -> None:
    labs = load_catalog(LABS)  # exclusive labs too, one shortcut every other run
    rng = random.Random(2)
    drawn: set[tuple[str, str]] = set()
    for _ in range(80):
        for folder, _, _, variant, solved in plan_runs(
            labs, None, 2, True, 1, 1, rng, 2, exclusive_share=0.5
        ):
            if variant is not None and not solved:
                drawn.add((folder.id, variant.description))
    every = {
        (lab.id, v.description) for lab in labs if lab.variants for v in lab.variants.shortcuts
    }
    assert drawn == every


def test_over_a_few_runs_every_other_fix_is_drawn() -> None:
    """With CI's share: a namespace lab's drawn fix runs on about 2 runs in 5, its reference
    and a shortcut on every one."""
    labs = [lab for lab in load_catalog(LABS) if not lab.spec.exclusive]
    rng = random.Random(1)
    drawn: set[tuple[str, str]] = set()
    fixes_a_run: list[int] = []
    for _ in range(80):
        jobs = plan_runs(labs, None, 2, True, 1, 1, rng, 1, fix_share=0.4)
        assert {f.id for f, _, _, v, _ in jobs if v is None} == {lab.id for lab in labs}
        assert sum(1 for *_, v, solved in jobs if v is not None and not solved) == len(labs)
        fixes = [(f.id, v.description) for f, _, _, v, solved in jobs if v is not None and solved]
        fixes_a_run.append(len(fixes))
        drawn.update(fixes)
    every = {(lab.id, v.description) for lab in labs if lab.variants for v in lab.variants.fixes}
    assert drawn == every
    assert 0.3 * len(labs) < sum(fixes_a_run) / len(fixes_a_run) < 0.5 * len(labs)


def test_all_fixes_when_asked() -> None:
    labs = load_catalog(LABS)
    jobs = plan_runs(labs, None, 2, True, None, None, random.Random(3))
    fixes = sum(1 for _, _, _, v, solved in jobs if v is not None and solved)
    assert fixes == sum(len(lab.variants.fixes) for lab in labs if lab.variants)
