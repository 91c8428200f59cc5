"""The committed great-expectations suites are what the rule definitions generate, and they carry every
rule with its severity and message."""

from __future__ import annotations

import json

import pytest

from nianbao.expectations import build_suites, stale_suites
from nianbao.formats import RULES
from nianbao.formats.rules import ProseFigure


def test_committed_suites_are_up_to_date(repo) -> None:
    assert stale_suites(repo.expectations) == [], "run `nianbao expectations` and commit expectations/"


def test_every_rule_is_in_a_suite_with_its_severity_and_message(repo) -> None:
    seen = {}
    for path in sorted(repo.expectations.glob("*.json")):
        for exp in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            seen.setdefault(exp["meta"]["rule"], set()).add((exp["severity"], exp["meta"]["message"]))
    # PROSE-TABLE compares phrases in Python (nianbao.prose_figures), outside the suites.
    in_suites = [r for r in RULES if not all(isinstance(c, ProseFigure) for c in r.checks)]
    assert [r.id for r in RULES if r not in in_suites] == ["PROSE-TABLE"]
    assert set(seen) == {r.id for r in in_suites}
    for r in in_suites:
        assert seen[r.id] == {(r.severity.value, r.message)}


def test_identities_carry_their_formulas() -> None:
    arithmetic = build_suites()["arithmetic"]["expectations"]
    balance = next(e for e in arithmetic if e["meta"]["rule"] == "T3-BALANCE")
    natural = next(i for i in balance["meta"]["instances"]["F2019"] if i["column"] == "natural")
    assert natural["terms"] == [[1, "t3.new.natural"], [1, "t3.carry_in.natural"], [-1, "t3.total.natural"],
                                [-1, "t3.carry_out.natural"]]
    outcome = next(e for e in arithmetic if e["meta"]["rule"] == "T3-OUTCOME-SUM")
    sizes = {fmt: len(i[0]["terms"]) - 1 for fmt, i in outcome["meta"]["instances"].items()}
    assert sizes == {"F2019": 19, "F2021": 21}  # FORMAT.md §4: the leaf outcome rows


@pytest.mark.parametrize("damage, problem", [
    (lambda p: p.unlink(), "找不到校验规则文件"),
    (lambda p: p.write_text("{", encoding="utf-8"), "JSON 格式有误"),
    (lambda p: p.write_text('{"meta": {"frame": "other"}}', encoding="utf-8"), "不是 nianbao 的“cells”校验规则文件"),
])
def test_a_missing_or_broken_suite_is_named_in_chinese(project, damage, problem) -> None:
    from nianbao import expectations
    from nianbao.exceptions import InputError

    expectations.load_suites(project.expectations)  # kept: the damaged file must be read again
    path = project.expectations / "cells.json"
    damage(path)
    with pytest.raises(InputError, match=problem) as error:
        expectations.load_suites(project.expectations)
    assert error.value.file == "expectations/cells.json"  # as the project names it
