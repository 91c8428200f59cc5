"""A few reports are validated row by row in Python, without importing great-expectations: the same findings as
GX finds, on random frames and expectations (hypothesis) and on broken reports; GX decides whatever the row-by-row
check cannot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import set_figure
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nianbao import validate as v
from nianbao.audit import audit
from nianbao.exceptions import InputError
from nianbao.expectations import FRAME_COLUMNS, SUITES, where
from nianbao.project import Project
from nianbao.report import load_report
from nianbao.scaffold import NARRATIVE_HINT

FIXTURES = Path(__file__).parent / "fixtures"
OFFICE = "example-shifan"

# -- random frames and expectations against GX --------------------------------------------------------------

TEXTS = ["", "0", "00", "7", "-3", "1.5", "12", " 1", "１２", "NaN", "1e3", "1,000", "三", "\n", "{year}", "a b"]
REGEXES = [r"^[0-9]+$", r"^-?[0-9]+(\.[0-9]+)?$", r"[0-9]", r"\{", r"^$", "NaN", r"^\s*$", r"\d{2}", "三"]
BOUNDS = [None, -1, 0, 0.5, 1, 2]


def _text(draw: st.DrawFn) -> str | None:
    return draw(st.one_of(st.none(), st.sampled_from(TEXTS), st.text(max_size=3)))


def _number(draw: st.DrawFn, floats: bool) -> float | int | None:
    if floats:
        return draw(st.one_of(st.none(), st.just(math.nan), st.sampled_from([-1.0, -0.0, 0.0, 0.25, 1.0, 2.0, 1e9,
                                                                           math.inf, -math.inf])))
    return draw(st.integers(-2, 3))


# name: (text columns a check may read, number columns and whether they are floats)
FRAMES = {"cells": (["value", "table", "kind", "source"], [], False),
          "arithmetic": (["table", "row", "source"], ["value"], True),
          "prose": (["text", "sec1", "headings", "source"], ["reported_t2", "reported_t3"], False),
          "labels": (["cell", "label", "position"], [], False)}


@st.composite
def frames(draw: st.DrawFn, name: str) -> list[tuple]:
    _, numbers, floats = FRAMES[name]
    rows = []
    for i in range(draw(st.integers(0, 12))):
        row = {"office": f"o{i}", "year": draw(st.sampled_from([2020, 2021])),
               "format": draw(st.sampled_from(["F2019", "F2021"])), "rule": "R", "position": "F2021/t2/r0c0"}
        row |= {c: _text(draw) for c in FRAME_COLUMNS[name] if c not in row}
        row |= {"table": draw(st.sampled_from(["t2", "t3", "t4", None]))} if name != "labels" else {}
        row |= {c: _number(draw, floats) for c in numbers}
        rows.append(tuple(row.get(c) for c in FRAME_COLUMNS[name]))
    return rows


@st.composite
def expectations(draw: st.DrawFn, name: str) -> dict:
    texts, numbers, _ = FRAMES[name]
    kind = draw(st.sampled_from(sorted(v.ROW_CHECKS) if numbers else sorted(set(v.ROW_CHECKS) - {
        "expect_column_values_to_be_between"})))
    if kind == "expect_column_values_to_be_between":
        kwargs: dict = {"column": draw(st.sampled_from(numbers))}
        low, high = draw(st.sampled_from(BOUNDS)), draw(st.sampled_from(BOUNDS))
        if low is None and high is None:
            low = 0
        elif low is not None and high is not None and low > high:  # GX raises: below
            low, high = high, low
        kwargs |= {"min_value": low} | ({"max_value": high} if high is not None or draw(st.booleans()) else {})
    else:
        kwargs = {"column": draw(st.sampled_from(texts + (numbers if kind != "expect_column_values_to_match_regex"
                                                             else [])))}
        if kind == "expect_column_values_to_match_regex":
            kwargs["regex"] = draw(st.sampled_from(REGEXES))
        elif kind == "expect_column_values_to_be_in_set":
            kwargs["value_set"] = draw(st.lists(st.sampled_from([*TEXTS, 1, 2]), max_size=5))
    condition = draw(st.sampled_from([None, where(format=["F2021"]), where(format=["F2019", "F2021"], year=[2020]),
                                      where(table=["t2", "t4"])]))
    if condition is not None and (name in ("cells", "arithmetic") or "table" not in json.dumps(condition)):
        kwargs["row_condition"] = condition
    rule = draw(st.sampled_from(["A", "B"]))
    return {"type": kind, "kwargs": kwargs, "severity": draw(st.sampled_from(["critical", "warning"])),
            "meta": {"rule": rule, "message": f"规则{rule}：{{表}}{{行}}{{列}}"}}


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, dict, list[tuple]]:
    name = draw(st.sampled_from(sorted(FRAMES)))
    suite = {"name": f"random-{name}", "expectations": draw(st.lists(expectations(name), min_size=1, max_size=4)),
             "meta": {"frame": name, "index": SUITES[name]}}
    return name, suite, draw(frames(name))


def _by_rows(name: str, suite: dict, rows: list[tuple]) -> list:
    checks = v._row_checks(suite)
    assert checks is not None  # every expectation drawn is of a kind the rows decide
    found = v._row_findings({name: suite}, {name: [dict(zip(FRAME_COLUMNS[name], r, strict=True)) for r in rows]},
                            {name: checks})
    return sorted(found, key=v._order)


# Found once: two findings alike but for a blank value ("") and none (None) came out in the order they were found
# in, which the two ways do not share.
TIED = ("cells", {"name": "random-cells", "meta": {"frame": "cells", "index": SUITES["cells"]}, "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "value"}, "severity": "critical",
     "meta": {"rule": "A", "message": "规则A：{表}{行}{列}"}},
    *({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": column, "value_set": []},
       "severity": "critical", "meta": {"rule": "B", "message": "规则B：{表}{行}{列}"}}
      for column in ("table", "value"))]},
    [("o0", 2020, "F2019", "t2", None, None, None, "", None)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
@example(TIED)
def test_row_by_row_finds_what_great_expectations_finds_on_random_frames(case) -> None:
    name, suite, rows = case
    gx = sorted(v.run_suite(name, suite, v.frame_of(name, rows)), key=v._order)
    assert _by_rows(name, suite, rows) == gx


def test_the_random_frames_break_every_kind_of_check() -> None:
    """The comparison above is not vacuous: each kind of check, null values and row conditions included, fails
    on some rows of a fixed example and passes on others."""
    rows = [("o0", 2021, "F2021", "t2", "r", "c", "count", "12", None),
            ("o1", 2021, "F2021", "t3", "r", "c", "count", None, "a.csv:2"),
            ("o2", 2020, "F2019", "t2", "r", "c", "count", "1.5", None)]
    expectations = [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "value"}},
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "value", "regex": r"^[0-9]+$", "row_condition": where(format=["F2019"])}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "table", "value_set": ["t2"]}},
    ]
    suite = {"expectations": [{**e, "severity": "critical", "meta": {"rule": f"R{i}", "message": "错"}}
                              for i, e in enumerate(expectations)], "meta": {"index": SUITES["cells"]}}
    found = _by_rows("cells", suite, rows)
    assert [(f.rule, f.office) for f in found] == [("R0", "o1"), ("R2", "o1"), ("R1", "o2")]
    assert found == sorted(v.run_suite("cells", suite, v.frame_of("cells", rows)), key=v._order)


# -- what only GX decides --------------------------------------------------------------------------------

BETWEEN = {"type": "expect_column_values_to_be_between", "kwargs": {"column": "value", "min_value": 0},
           "severity": "critical", "meta": {"rule": "R", "message": "错"}}


@pytest.mark.parametrize("change", [
    {"type": "expect_column_value_lengths_to_be_between"},  # another type
    {"kwargs": {"column": "value", "min_value": 0, "mostly": 0.9}},  # an argument the rows do not read
    {"kwargs": {"column": "value", "min_value": 0, "strict_min": True}},
    {"kwargs": {"column": "value"}},  # no bound
    {"kwargs": {"column": "value", "min_value": "0"}},  # a bound as text
    {"kwargs": {"column": "value", "min_value": 0, "row_condition": 'format=="F2021"'}},  # a condition as text
    {"kwargs": {"column": "value", "min_value": 0, "row_condition": {
        "type": "comparison", "column": {"name": "format"}, "operator": "==", "parameter": "F2021"}}},
    {"kwargs": {"column": "value", "min_value": 0, "row_condition": {"type": "or", "conditions": []}}},
    {"kwargs": {"column": ["value"], "min_value": 0}},
    {"severity": "fatal"},
])
def test_an_expectation_the_rows_cannot_decide_is_left_to_great_expectations(change: dict) -> None:
    assert v._row_check(BETWEEN) is not None
    assert v._row_check({**BETWEEN, **change}) is None
    assert v._row_checks({"expectations": [BETWEEN, {**BETWEEN, **change}]}) is None


def test_a_value_set_of_lists_or_a_regex_not_text_is_left_to_great_expectations() -> None:
    in_set = {**BETWEEN, "type": "expect_column_values_to_be_in_set", "kwargs": {"column": "value", "value_set": []}}
    assert v._row_check(in_set) is not None
    assert v._row_check({**in_set, "kwargs": {"column": "value", "value_set": [["a"]]}}) is None
    assert v._row_check({**in_set, "kwargs": {"column": "value", "value_set": "abc"}}) is None
    regex = {**BETWEEN, "type": "expect_column_values_to_match_regex", "kwargs": {"column": "value", "regex": 1}}
    assert v._row_check(regex) is None


def test_a_between_on_text_is_not_decided_row_by_row() -> None:
    with pytest.raises(v._NotRowCheckable):
        v._breaks(BETWEEN, {"value": "12"})
    with pytest.raises(v._NotRowCheckable):
        v._breaks({**BETWEEN, "type": "expect_column_values_to_match_regex",
                   "kwargs": {"column": "value", "regex": "1"}}, {"value": 1.5})


def _add_expectation(project: Project, name: str, like: str, **changes: object) -> None:
    """Add to a project's suite a copy of its expectation of rule `like`, with `changes`."""
    path = project.expectations / f"{name}.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    suite["expectations"].append({**next(e for e in suite["expectations"] if e["meta"]["rule"] == like), **changes})
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")


def test_a_project_suite_with_an_expectation_only_gx_decides_is_validated_by_gx(project: Project) -> None:
    """An analyst's own expectation of another kind still gates: the few reports go to GX, which finds it."""
    _add_expectation(project, "prose", "TABLE-BLANK", type="expect_column_value_lengths_to_be_between",
                     kwargs={"column": "text", "min_value": 10 ** 6})
    report = load_report(OFFICE, 2023, project)
    found = v.validate([report], project, by_rows=True)
    assert [f.rule for f in found if f.critical] == ["TABLE-BLANK"]
    assert found == v.validate([report], project, by_rows=False)


# -- whole reports -----------------------------------------------------------------------------------------

BROKEN_FIGURES = [("t3.new.natural", "NaN"), ("t4.review.total", "9"), ("t2.rules.issued", "-1"),
                  ("t4.direct.upheld", "1.5"), ("t3.new.research", ""), ("t3.new.natural", "1" + "0" * 30),
                  ("t3.new.natural", "11"), ("t2.normative.valid", "abc"), ("t3.new.business", "2件")]


def _same_both_ways(project: Project, pairs: list[tuple[str, int]]) -> list:
    reports = [load_report(office, year, project) for office, year in pairs]
    by_rows = v.validate(reports, project, by_rows=True)
    assert by_rows == v.validate(reports, project, by_rows=False)
    return by_rows


@pytest.mark.parametrize(("ref", "value"), BROKEN_FIGURES)
def test_a_broken_figure_is_found_the_same_row_by_row_and_by_gx(project: Project, ref: str, value: str) -> None:
    set_figure(project, OFFICE, 2023, ref, value)
    found = _same_both_ways(project, [(OFFICE, y) for y in (2022, 2023, 2024)])
    assert any(f.year == 2023 for f in found)


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("政务新媒体互动回应不够及时。", "{{ year 年"),  # a malformed placeholder
    lambda t: t.replace("# 一、总体情况", "# 总体情况"),  # a heading not the format's
    lambda t: "\n".join(t.splitlines()[:3]),  # the parts gone
    lambda t: t.replace("政务新媒体互动回应不够及时。", NARRATIVE_HINT),  # the skeleton left in
])
def test_broken_prose_is_found_the_same_row_by_row_and_by_gx(project: Project, edit) -> None:
    path = project.narrative_file(OFFICE, 2023)
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    found = _same_both_ways(project, [(OFFICE, 2023), ("guandu-taihe", 2020)])
    assert any(f.critical and f.year == 2023 for f in found)


def test_a_label_not_accepted_is_found_the_same_row_by_row_and_by_gx(project: Project) -> None:
    offices = project.root / "data" / "offices.csv"
    offices.write_text(offices.read_text(encoding="utf-8").replace(",采购总金额", ",随便写的"), encoding="utf-8")
    found = _same_both_ways(project, [(OFFICE, 2019), (OFFICE, 2020), (OFFICE, 2021)])
    assert {(f.year, f.value) for f in found if f.rule == "LABEL-EXACT"} == {(2019, "随便写的"), (2020, "随便写的")}


def test_the_demo_project_is_found_the_same_row_by_row_and_by_gx(project: Project) -> None:
    from nianbao.params import list_reports

    assert _same_both_ways(project, list_reports(project))  # it has warnings (a prose figure against a table)


def test_published_reports_are_audited_the_same_row_by_row_and_by_gx(monkeypatch) -> None:
    files = sorted(p for p in (FIXTURES / "published").iterdir() if p.suffix != ".json")
    files += sorted(p for p in (FIXTURES / "ingest").glob("*.txt"))
    monkeypatch.setattr(v, "ROW_BY_ROW", 0)
    by_gx = [(a.report.file, a.findings) for a in audit(files).audited]
    monkeypatch.setattr(v, "ROW_BY_ROW", 100)
    assert [(a.report.file, a.findings) for a in audit(files).audited] == by_gx
    assert any(findings for _, findings in by_gx)


def test_handed_findings_cannot_skip_an_expectation_only_gx_decides(project: Project) -> None:
    """The notebook cross-checks handed findings row by row; a critical expectation it cannot decide that way
    makes it validate the report itself (with GX), so an empty findings list still cannot publish."""
    from nianbao.run import GATED, execute_report

    _add_expectation(project, "prose", "TABLE-BLANK", type="expect_column_value_lengths_to_be_between",
                     kwargs={"column": "text", "min_value": 10 ** 6})
    result = execute_report(project, OFFICE, 2023, findings=[])
    assert result.status == GATED and [f.rule for f in result.findings if f.critical] == ["TABLE-BLANK"]
    assert not (project.output_dir(OFFICE) / "2023.html").exists()


# -- suites edited by hand -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "change", "problem"), [
    ("cells", {"type": None}, "（CELL-FILLED）：缺少校验类型（type）"),
    ("cells", {"kwargs": {"regex": "x"}}, "（CELL-FILLED）：缺少参数（kwargs）或参数中没有列名（column）"),
    ("prose", {"meta": {"rule": "X"}}, "（X）：meta 中缺少规则编号（rule）或提示（message）"),
    ("prose", {"meta": {"rule": " ", "message": "错"}}, "（ ）：meta 中缺少规则编号（rule）或提示（message）"),
    ("arithmetic", {"meta": {"rule": "T4-SUM", "message": "错"}}, "（T4-SUM）：meta 中缺少勾稽关系的各项（instances）"),
    ("labels", "not an object", "：不是一个对象"),
    ("cells", {"description": {"a": 1}}, "（CELL-FILLED）：“description”应为文字"),
])
def test_a_suite_edited_into_something_validation_cannot_run_is_named_by_file_and_line(
        project: Project, name: str, change, problem: str) -> None:
    path = project.expectations / f"{name}.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    broken = change if isinstance(change, str) else {**suite["expectations"][0], **change}
    suite["expectations"].insert(1, broken)
    path.write_text(json.dumps(suite, ensure_ascii=False, indent=1), encoding="utf-8")
    line = next(i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if text.startswith("  }")) + 1  # the second item starts after the first one's closing brace
    with pytest.raises(InputError) as raised:
        v.validate([load_report(OFFICE, 2023, project)], project)
    assert raised.value.file == f"expectations/{name}.json" and raised.value.line == line
    assert str(raised.value).endswith(f"第2条校验规则{problem}")


def test_a_prose_expectation_of_a_rule_nianbao_does_not_know_is_reported_with_its_message(project: Project) -> None:
    _add_expectation(project, "prose", "TABLE-BLANK", type="expect_column_value_lengths_to_be_between",
                     kwargs={"column": "text", "min_value": 10 ** 6},
                     meta={"rule": "LOCAL-LONG", "message": "正文不足一百万字"})
    found = v.validate([load_report(OFFICE, 2023, project)], project)
    assert [(f.rule, f.message) for f in found if f.critical] == [("LOCAL-LONG", "正文不足一百万字")]


def _edit_suite(project: Project, name: str, edit) -> Path:
    """Apply `edit(expectations)` to a project's suite `name` (its list of expectations, changed in place)."""
    path = project.expectations / f"{name}.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    edit(suite["expectations"])
    path.write_text(json.dumps(suite, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _added(i: int, key: str, value, where: str | None = None):
    """An edit: a copy of expectation `i` added at the end with its `key` (or its `where`'s `key`: "kwargs",
    "meta") set to `value`: a project's own expectation (the national rules stay as generated)."""
    def edit(exps: list) -> None:
        copy = json.loads(json.dumps(exps[i]))
        (copy[where] if where else copy)[key] = value
        exps.append(copy)
    return edit


def _inserted(i: int, **changes):
    def edit(exps: list) -> None:
        exps.insert(i, {**exps[i], **changes})
    return edit


# A project's own expectations that GX would refuse, drop (an unknown type or severity: it only logs, and the suite
# seemed to pass) or fail on mid-run, each named by file, line and rule in Chinese, whichever way the reports are
# validated. `number`: the expectation's place, 0 for the last.
HOSTILE_SUITES = [
    ("cells", _added(1, "type", "expect_column_values_to_match_regexp"), 0, "不认识的校验类型（type）"),
    ("cells", _added(1, "severity", "fatal"), 0, "严重程度（severity）应为 critical、warning、info 之一"),
    ("cells", _added(1, "severity", "Critical"), 0, "严重程度（severity）"),
    ("cells", _added(1, "foo", 1), 0, "有不认识的键：foo"),
    ("cells", _added(1, "foo", 1, "kwargs"), 0, "great-expectations 不接受此校验规则"),
    ("cells", _added(1, "regex", "(", "kwargs"), 0, "正则表达式（regex）有误"),
    ("cells", _added(1, "column", "valu", "kwargs"), 0, "所用的列“valu”不在cells数据表中"),
    ("cells", _added(1, "row_condition", where(tabel=["t2"]), "kwargs"), 0, "所用的列“tabel”不在cells数据表中"),
    ("cells", _added(1, "row_condition", {"type": "comparison", "column": {"name": "source"}, "operator": "IN",
                                          "parameter": [math.nan]}, "kwargs"), 0,
     "great-expectations 不接受此校验规则"),
    ("arithmetic", _added(0, "max_value", -1, "kwargs"), 0, "下限（min_value 0）大于上限（max_value -1）"),
    ("cells", _inserted(1, type="expect_column_values_to_be_between", kwargs={"column": "value", "min_value": 0}), 2,
     "great-expectations 运行此校验规则时出错"),  # a between on the cells' text
    ("prose", _inserted(0, type="expect_column_mean_to_be_between",
                        kwargs={"column": "reported_t2", "min_value": 10 ** 6}), 1,
     "没有指出哪一行"),  # an aggregate check: no row to name
]


@pytest.mark.parametrize("by_rows", [True, False])
@pytest.mark.parametrize(("name", "edit", "number", "problem"), HOSTILE_SUITES)
def test_a_hand_edited_suite_gx_would_refuse_or_drop_is_named_whichever_way_validated(
        project: Project, name: str, edit, number: int, problem: str, by_rows: bool) -> None:
    path = _edit_suite(project, name, edit)
    with pytest.raises(InputError) as raised:
        v.validate([load_report(OFFICE, 2023, project)], project, by_rows=by_rows)
    expectations = json.loads(path.read_text(encoding="utf-8"))["expectations"]
    number = number or len(expectations)
    rule = expectations[number - 1]["meta"]["rule"]
    assert f"第{number}条校验规则（{rule}）" in str(raised.value) and problem in str(raised.value)
    assert raised.value.file == f"expectations/{name}.json"
    starts = [i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text.startswith("  {")]
    assert raised.value.line == starts[number - 1]  # where that expectation starts


def test_a_hand_edited_suite_is_refused_by_the_command_with_exit_2_and_no_traceback(project: Project) -> None:
    import subprocess
    import sys

    _edit_suite(project, "cells", _added(1, "type", "expect_column_values_to_match_regexp"))
    done = subprocess.run([sys.executable, "-m", "nianbao", "check", OFFICE, "2023", "--project", str(project.root)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "expectations/cells.json:" in done.stderr and "不认识的校验类型" in done.stderr


def test_a_suite_with_a_bom_is_read_and_one_not_in_utf8_is_named(project: Project) -> None:
    path = project.expectations / "labels.json"
    text = path.read_text(encoding="utf-8")
    path.write_text("\ufeff" + text, encoding="utf-8")
    assert v.validate([load_report(OFFICE, 2023, project)], project) is not None
    path.write_bytes(b"\xff\xfe" + text.encode("utf-8"))
    with pytest.raises(InputError, match="不是 UTF-8 编码的文件") as raised:
        v.validate([load_report(OFFICE, 2023, project)], project)
    assert raised.value.file == "expectations/labels.json"


@pytest.mark.parametrize("index", [["office", "year", "format", "bogus"], "office", ["year", "format"]])
def test_a_suite_index_validation_cannot_name_rows_by_is_refused(project: Project, index) -> None:
    path = project.expectations / "cells.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    suite["meta"]["index"] = index
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(InputError, match="index 应为cells数据表的列名列表"):
        v.validate([load_report(OFFICE, 2023, project)], project)


def _changed(i: int, key: str, value, where: str | None = None):
    def edit(exps: list) -> None:
        (exps[i][where] if where else exps[i])[key] = value
    return edit


@pytest.mark.parametrize("edit", [
    _changed(1, "severity", "warning"),  # critical lowered
    _changed(1, "mostly", 0.5, "kwargs"),  # half the cells may be wrong
    _changed(1, "regex", "", "kwargs"),  # anything matches
    _changed(1, "row_condition", {"type": "and", "conditions": []}, "kwargs"),
    _changed(1, "row_condition", where(format=["F2019", "F2O21"]), "kwargs"),  # a letter O: selects nothing of 2021
    lambda exps: exps.pop(1),
    lambda exps: exps.clear(),
])
def test_the_national_rules_cannot_be_changed_or_dropped_in_a_projects_suite(project: Project, edit) -> None:
    """The gate's rules are FORMAT.md's: a suite that changes or drops one would publish what they block."""
    path = _edit_suite(project, "cells", edit)
    set_figure(project, OFFICE, 2023, "t2.normative.issued", "1.5")  # what T2-INT blocks
    with pytest.raises(InputError, match=r"国家格式规定的校验规则 (T2-INT|CELL-FILLED) 被删除或改动") as raised:
        v.validate([load_report(OFFICE, 2023, project)], project)
    assert raised.value.file == "expectations/cells.json"
    starts = [i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text.startswith("  {")]
    assert raised.value.line in (None, *starts)


def test_a_repeated_key_in_a_suite_is_named(project: Project) -> None:
    path = project.expectations / "cells.json"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"severity": "critical"', '"severity": "critical", "severity": "warning"', 1),
                    encoding="utf-8")
    with pytest.raises(InputError, match="键“severity”出现了两次"):
        v.validate([load_report(OFFICE, 2023, project)], project)
