"""One case per rule of FORMAT.md §7: data that breaks that rule yields that rule's findings, with the
severity FORMAT.md's tag gives it, and nothing else. All cases are validated in one great-expectations
pass, each case as its own office."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from nianbao.findings import Finding
from nianbao.formats import RULES
from nianbao.narrative import Narrative
from nianbao.params import list_reports
from nianbao.report import Report, load_report, load_reports
from nianbao.validate import validate

# Severities as FORMAT.md §7 tags them: [N]/[L] critical, [P], [N?] and soft ones warnings.
EXPECTED_SEVERITY = {
    "SEC-HEADINGS": "critical", "SEC1-SCOPE": "warning", "SEC5-PREV": "warning", "SEC6-FEE": "warning",
    "CELL-FILLED": "warning", "LABEL-EXACT": "critical", "T2-INT": "critical", "T2-AMT": "critical",
    "T2-AMT-DEC": "warning", "T2-DELTA-FLOOR": "warning", "T2-PROJ-XYEAR": "warning", "T2-PUB-LE-TOTAL": "warning",
    "T2-PROC-ZERO": "warning", "T2-VALID-XYEAR": "warning", "T2-REPEAL-LE": "warning", "T3-INT": "critical",
    "T3-BALANCE": "critical", "T3-OUTCOME-SUM": "critical", "T3-ROWSUM": "critical", "T3-XYEAR": "warning",
    "T4-INT": "critical", "T4-GROUPSUM": "critical",
    "PROSE-TABLE": "warning", "SEC-SKELETON": "critical",
    "SEC-EMPTY": "critical", "TABLE-BLANK": "critical", "PLACEHOLDER-MALFORMED": "critical",
}

OFFICE = "example-shifan"


def add(report: Report, **changes: int | str | None) -> Report:
    """`report` with cells changed: an int adds to the cell, a str or None replaces it."""
    values = dict(report.values)
    for key, change in changes.items():
        ref = key.replace("__", ".")
        values[ref] = str(int(values[ref]) + change) if isinstance(change, int) else change
    return replace(report, values=values)


def with_section(report: Report, index: int, body: str) -> Report:
    heading = report.format.headings[index]
    sections = tuple(replace(s, body=body) if s.heading == heading else s for s in report.narrative.sections)
    return replace(report, narrative=replace(report.narrative, sections=sections))


def leaf_with_total(report: Report) -> str:
    """A table-三 outcome row whose 总计 is at least 1 in the demo data."""
    for row in report.format.table("t3").rows:
        if row not in ("new", "carry_in", "total", "carry_out") and int(report.values[f"t3.{row}.total"]) > 0:
            if int(report.values[f"t3.{row}.natural"]) > 0:
                return row
    raise AssertionError("demo data has no outcome row to move")


def swap_headings(report: Report) -> Report:
    s = list(report.narrative.sections)
    s[1], s[2] = s[2], s[1]
    return replace(report, narrative=Narrative(report.narrative.file, report.narrative.preamble, tuple(s)))


def relabel(report: Report) -> Report:
    office = replace(report.office, labels={"t2.procurement.amount": "采购金额"})
    return replace(report, office=office)


def outcome_sum(r: Report) -> Report:
    row = leaf_with_total(r)
    return add(r, **{f"t3__{row}__natural": 1, f"t3__{row}__total": 1})


def rowsum(r: Report) -> Report:
    row = leaf_with_total(r)
    return add(r, **{"t3__open__total": 1, f"t3__{row}__total": -1}) if row != "open" else \
        add(r, t3__open__total=-1, t3__partial__total=1)


# rule → (year of the base report, mutation, the rules expected to fire)
CASES: dict[str, tuple[int, Callable[[Report], Report], set[str]]] = {
    "SEC-HEADINGS": (2021, swap_headings, {"SEC-HEADINGS"}),
    "SEC1-SCOPE": (2021, lambda r: with_section(r, 0, "本年度主动公开政府信息，依申请公开工作规范。"), {"SEC1-SCOPE"}),
    "SEC5-PREV": (2022, lambda r: with_section(r, 4, "（一）存在的主要问题\n\n宣传不够。"), {"SEC5-PREV"}),
    "SEC6-FEE": (2023, lambda r: with_section(r, 5, "无。"), {"SEC6-FEE"}),
    "CELL-FILLED": (2020, lambda r: add(r, t4__review__upheld=None), {"CELL-FILLED"}),
    "LABEL-EXACT": (2019, relabel, {"LABEL-EXACT"}),
    "T2-INT": (2019, lambda r: add(r, t2__rules__made="-1"), {"T2-INT"}),
    "T2-AMT": (2020, lambda r: add(r, t2__procurement__amount="-1.5"), {"T2-AMT"}),
    "T2-AMT-DEC": (2020, lambda r: add(r, t2__procurement__amount="48.07251"), {"T2-AMT-DEC"}),
    "T2-DELTA-FLOOR": (2019, lambda r: add(r, t2__license__prev_items="0", t2__license__delta="-3"),
                       {"T2-DELTA-FLOOR"}),
    "T2-PROJ-XYEAR": (2020, lambda r: add(r, t2__license__prev_items=1), {"T2-PROJ-XYEAR"}),
    "T2-PUB-LE-TOTAL": (2019, lambda r: add(r, t2__normative__published=100), {"T2-PUB-LE-TOTAL"}),
    "T2-PROC-ZERO": (2019, lambda r: add(r, t2__procurement__count="0"), {"T2-PROC-ZERO"}),
    "T2-VALID-XYEAR": (2022, lambda r: add(r, t2__normative__valid=1), {"T2-VALID-XYEAR"}),
    # With 现行有效件数 following last year's, 废止 beyond 上年现行有效+制发 would make it negative: the
    # two soft rules go together (a T2-INT finding would follow from a negative count instead).
    "T2-REPEAL-LE": (2022, lambda r: add(r, t2__normative__repealed=100), {"T2-REPEAL-LE", "T2-VALID-XYEAR"}),
    "T3-INT": (2020, lambda r: add(r, t3__deny_1__natural="abc"), {"T3-INT"}),
    "T3-BALANCE": (2021, lambda r: add(r, t3__carry_out__natural=1, t3__carry_out__total=1), {"T3-BALANCE"}),
    "T3-OUTCOME-SUM": (2021, outcome_sum, {"T3-OUTCOME-SUM"}),
    "T3-ROWSUM": (2023, rowsum, {"T3-ROWSUM"}),
    "T3-XYEAR": (2020, lambda r: add(r, t3__carry_in__natural=1, t3__carry_in__total=1, t3__new__natural=-1,
                                     t3__new__total=-1), {"T3-XYEAR"}),
    "T4-INT": (2024, lambda r: add(r, t4__direct__other="1.5"), {"T4-INT"}),
    "T4-GROUPSUM": (2024, lambda r: add(r, t4__after_review__total=1), {"T4-GROUPSUM"}),
    "PROSE-TABLE": (2021, lambda r: with_section(r, 2, "本年新收政府信息公开申请９９９件。"), {"PROSE-TABLE"}),
    "SEC-SKELETON": (2020, lambda r: with_section(r, 5, "（请在此填写。）"), {"SEC-SKELETON"}),
    "SEC-EMPTY": (2019, lambda r: with_section(r, 4, ""), {"SEC-EMPTY"}),
    "TABLE-BLANK": (2021, lambda r: add(r, **{k.replace(".", "__"): None for k in r.values if k.startswith("t4.")}),
                    {"TABLE-BLANK", "CELL-FILLED"}),
    "PLACEHOLDER-MALFORMED": (2022, lambda r: with_section(r, 5, "收费{{ t2.fees.amount }万元。"),
                              {"PLACEHOLDER-MALFORMED"}),
}


def case_office(rule_id: str) -> str:
    return "case-" + rule_id.lower()


@pytest.fixture(scope="module")
def results(repo) -> dict[str, list[Finding]]:
    reports = []
    for rule_id, (year, mutate, _) in CASES.items():
        base = load_report(OFFICE, year, repo)
        broken = mutate(base)
        reports.append(replace(broken, office=replace(broken.office, id=case_office(rule_id))))
    findings = validate(reports, repo)
    by_office: dict[str, list[Finding]] = {case_office(r): [] for r in CASES}
    for f in findings:
        # The cases change figures after the prose was filled with them: the prose then states the old figure.
        if f.rule != "PROSE-TABLE" or f.office == case_office("PROSE-TABLE"):
            by_office[f.office].append(f)
    return by_office


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == {r.id for r in RULES} == set(EXPECTED_SEVERITY)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_alone(rule_id: str, results: dict[str, list[Finding]]) -> None:
    findings = results[case_office(rule_id)]
    assert {f.rule for f in findings} == CASES[rule_id][2]
    for f in findings:
        assert f.severity == EXPECTED_SEVERITY[f.rule], f
        assert f.message == _message(f)
        assert f.year == CASES[rule_id][0]


def _message(f: Finding) -> str:
    """The message as FORMAT.md gives it, placeholders aside (they are checked in the tests below)."""
    template = next(r.message for r in RULES if r.id == f.rule)
    if "{" not in template:
        return template
    return f.message  # checked in detail below


def test_messages_name_the_place(results: dict[str, list[Finding]]) -> None:
    balance = results[case_office("T3-BALANCE")]
    assert {(f.table, f.column) for f in balance} == {("t3", "natural"), ("t3", "total")}
    assert {f.message for f in balance} == {
        "表三自然人不满足勾稽关系：本年新收+上年结转≠办理结果总计+结转下年度",
        "表三总计不满足勾稽关系：本年新收+上年结转≠办理结果总计+结转下年度",
    }
    (group,) = results[case_office("T4-GROUPSUM")]
    assert group.message == "表四“复议后起诉”总计不等于结果维持、结果纠正、其他结果、尚未审结之和"
    assert group.row == "after_review"
    xyear = results[case_office("T3-XYEAR")]
    assert {f.message for f in xyear} == {"本年“上年结转”与上年报告“结转下年度继续办理”不一致（自然人）",
                                          "本年“上年结转”与上年报告“结转下年度继续办理”不一致（总计）"}
    (empty,) = results[case_office("SEC-EMPTY")]
    assert empty.message.startswith("“五、存在的主要问题及改进情况”须有正文")
    (blank,) = [f for f in results[case_office("TABLE-BLANK")] if f.rule == "TABLE-BLANK"]
    assert blank.message.startswith("表四全部单元格为空") and blank.table == "t4"
    rowsum = results[case_office("T3-ROWSUM")]
    assert all(f.message.startswith("表三“") and f.column == "total" for f in rowsum) and len(rowsum) == 2


def test_cell_findings_name_the_file_line_and_value(results: dict[str, list[Finding]]) -> None:
    (f,) = results[case_office("T3-INT")]
    assert (f.table, f.row, f.column, f.value) == ("t3", "deny_1", "natural", "abc")
    assert f.source is not None and f.source.startswith("data/figures/example-shifan.csv:")
    (label,) = results[case_office("LABEL-EXACT")]
    assert label.value == "采购金额" and label.table == "t2"


def test_demo_data_is_clean(repo) -> None:
    # The two hand-made offices; the demo district's anomalies are test_cli's business.
    reports = load_reports(repo, list_reports(repo, ["example-shifan", "guandu-taihe"]))
    assert len(reports) == 7
    assert validate(reports, repo) == []


def test_cross_year_rules_skip_without_last_year(repo) -> None:
    """2019 has no previous report: a carry-in that last year could not explain is not flagged."""
    report = add(load_report(OFFICE, 2019, repo), t3__carry_in__natural=1, t3__carry_in__total=1,
                 t3__new__natural=-1, t3__new__total=-1)
    assert report.previous is None
    assert [f for f in validate([report], repo) if f.rule != "PROSE-TABLE"] == []  # the prose states the old figures


def test_table2_cross_year_rules_skip_the_format_change(repo) -> None:
    """2021 (F2021) after 2020 (F2019): 现行有效件数 is not compared with 对外公开总数量."""
    report = add(load_report(OFFICE, 2021, repo), t2__normative__valid=5)
    assert report.previous_format is not None and report.previous_format.id == "F2019"
    assert validate([report], repo) == []
