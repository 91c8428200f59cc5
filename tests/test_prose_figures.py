"""Prose against tables: every figure kind the prose states is compared with its table (warning PROSE-TABLE)
in the gate as in audit, with digits folded; ingest turns such figures into placeholders."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from click.testing import CliRunner
from conftest import set_figure
from htmltext import flatten

from nianbao.cli import main
from nianbao.formats.rules import PROSE_FIGURES
from nianbao.ingest import ingest_file
from nianbao.prose_figures import fold_number, prose_contradictions, with_placeholders
from nianbao.render.html import report_html
from nianbao.report import Report, load_report
from nianbao.scaffold import init_project

OFFICE, YEAR = "example-shifan", 2023


@pytest.mark.parametrize(("text", "value"), [
    ("12", 12), ("１２", 12), ("0", 0), ("７.５", Decimal("7.5")), ("7.4890", Decimal("7.4890")), ("三", 3),
    ("十", 10), ("十二", 12), ("二十", 20), ("九十九", 99), ("一百零五", 105), ("两", 2), ("一千零一", 1001),
    ("零", 0), ("三一", None), ("十十", None), ("百千", None), ("", None),
])
def test_fold_number(text: str, value) -> None:
    assert fold_number(text) == (None if value is None else Decimal(value))


# One phrase per figure kind, `{}` for the number, as reports word them.
PHRASES = {
    "t3.new.total": "全年新收政府信息公开申请{}件",
    "t3.carry_in.total": "上年结转{}件",
    "t3.carry_out.total": "结转下年度继续办理{}件",
    "t3.total.total": "办结{}件",
    "t3.open.total": "予以公开{}件",
    "t4.review.total": "发生行政复议{}起",
    "t4.direct.total+t4.after_review.total": "行政诉讼案件共{}件",
    "t2.fees.amount": "行政事业性收费金额{}万元",
}
FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")
WRITINGS = {"ascii": str, "full-width": lambda n: str(n).translate(FULL_WIDTH),
            "chinese": lambda n: "零一二三四五六七八九十"[n] if isinstance(n, int) and n <= 10 else str(n)}


def _with_prose(report: Report, sentence: str) -> Report:
    first = report.narrative.sections[0]
    sections = (replace(first, body=f"{first.body}\n\n{sentence}"), *report.narrative.sections[1:])
    return replace(report, narrative=replace(report.narrative, sections=sections))


def _table(report: Report, key: str) -> Decimal:
    return sum((Decimal(report.values[ref]) for ref in key.split("+")), Decimal(0))


def test_every_figure_kind_has_a_phrase() -> None:
    assert {"+".join(f.refs) for f in PROSE_FIGURES} == set(PHRASES)


@pytest.mark.parametrize("key", sorted(PHRASES))
@pytest.mark.parametrize("writing", sorted(WRITINGS))
def test_each_figure_kind_is_compared_with_its_table(repo, key: str, writing: str) -> None:
    report = load_report(OFFICE, YEAR, repo)
    right = _table(report, key)
    n = int(right) if right == int(right) else right
    write = WRITINGS[writing]
    assert prose_contradictions(_with_prose(report, PHRASES[key].format(write(n)))) == []
    wrong = n + 3
    (f,) = prose_contradictions(_with_prose(report, PHRASES[key].format(write(wrong))))
    assert f.rule == "PROSE-TABLE" and f.severity == "warning"
    assert [c.ref for c in f.cells] == key.split("+")
    assert f"为{right.normalize():f}" in f.message and f.value == write(wrong) and f"{write(wrong)}" in f.message
    assert f.source == f"data/narrative/{OFFICE}/{YEAR}.md:{report.narrative.sections[0].body_line + 2 + report.narrative.sections[0].body.count(chr(10))}"  # noqa: E501


def test_check_and_run_warn_on_prose_that_contradicts_a_table(project) -> None:
    path = project.narrative_file(OFFICE, YEAR)
    text = path.read_text(encoding="utf-8").replace("申请{{ t3.new.total }}件", "申请１８件")
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", OFFICE, str(YEAR), "--project", str(project.root)])
    assert result.exit_code == 0, result.output  # a warning, not a block
    assert "PROSE-TABLE" in result.output and "“新收政府信息公开申请１８件”" in result.output
    assert f"data/narrative/{OFFICE}/{YEAR}.md:" in result.output


@pytest.mark.parametrize("typed", [
    "新收政府信息公开申请{{ t3.carry_in.total }}件",  # the placeholder of another cell
    "新收政府信息公开申请{{t3.carry_in.total}}件",  # written tight
    "新收申请{{ t3.carry_in.total }}{{ t3.carry_in.total }}件",  # two placeholders in one figure
])
def test_a_contradiction_quotes_the_prose_as_typed_with_its_placeholders(project, typed: str) -> None:
    path = project.narrative_file(OFFICE, YEAR)
    text = path.read_text(encoding="utf-8")
    # Something before it on the line is filled too: the quote's place in the typed text must not shift.
    text = text.replace("全年新收政府信息公开申请{{ t3.new.total }}件", f"{{{{ year }}}}年{typed}")
    path.write_text(text, encoding="utf-8")
    report = load_report(OFFICE, YEAR, project)
    carry_in = report.values["t3.carry_in.total"]
    filled = typed.replace("{{ t3.carry_in.total }}", carry_in).replace("{{t3.carry_in.total}}", carry_in)
    found = [f for f in prose_contradictions(report) if f.table == "t3" and f.row == "new"]
    assert len(found) == 1, found
    assert f"正文“{typed}”（填入数字后为“{filled}”）" in found[0].message
    line = next(i for i, t in enumerate(text.splitlines(), 1) if typed in t)
    assert found[0].source == f"data/narrative/{OFFICE}/{YEAR}.md:{line}"


def test_a_contradiction_typed_as_digits_is_quoted_once(project) -> None:
    path = project.narrative_file(OFFICE, YEAR)
    text = path.read_text(encoding="utf-8").replace("申请{{ t3.new.total }}件", "申请１８件")
    path.write_text(text, encoding="utf-8")
    (finding,) = [f for f in prose_contradictions(load_report(OFFICE, YEAR, project)) if f.row == "new"]
    assert "正文“新收政府信息公开申请１８件”，表格中" in finding.message and "填入数字后" not in finding.message


def test_ingest_writes_placeholders_for_table_figures(repo, tmp_path) -> None:
    report = load_report(OFFICE, YEAR, repo)
    page = tmp_path / "page.txt"
    page.write_text(flatten(report_html(report)), encoding="utf-8")
    project = init_project(tmp_path / "p")
    done = ingest_file(project, page, office="shifan")
    prose = project.narrative_file("shifan", YEAR).read_text(encoding="utf-8")
    for ref in ("t3.new.total", "t3.carry_in.total", "t3.total.total", "t3.carry_out.total"):
        assert f"{{{{ {ref} }}}}" in prose, ref
    assert done.report.values["t3.new.total"] == report.values["t3.new.total"]
    # Next year, started from this prose, states next year's figures.
    set_figure(project, "shifan", YEAR, "t3.new.total", "99")
    assert "全年新收政府信息公开申请99件" in load_report("shifan", YEAR, project).narrative.sections[0].body


def test_with_placeholders_keeps_figures_that_differ_or_sum() -> None:
    fmt = load_report.__globals__["format_for"](2023)
    values = {"t3.new.total": "3", "t4.direct.total": "1", "t4.after_review.total": "0", "t3.open.total": "2"}
    text = "新收申请３件，予以公开5件，行政诉讼1件。"
    assert with_placeholders(text, fmt, values) == "新收申请{{ t3.new.total }}件，予以公开5件，行政诉讼1件。"


@pytest.mark.parametrize("left", [
    "（请在此填写，可用{{ t3.new.total }}这样的占位。）",  # a placeholder inside the quoted snippet
    "{{ year }}年{{ t3.new.total }}件。请在此填写",  # placeholders before the mark, on its line
])
def test_a_forbidden_text_is_quoted_as_typed(project, left: str) -> None:
    # SEC-SKELETON quotes a snippet around the template's prompt: the analyst must find it in the file.
    path = project.narrative_file(OFFICE, YEAR)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, t in enumerate(lines) if t.startswith("# 五、"))
    lines.insert(at + 1, left)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", OFFICE, str(YEAR), "--project", str(project.root), "--json"])
    found = [f for f in json.loads(result.output) if f["rule"] == "SEC-SKELETON"]
    assert len(found) == 1, result.output
    snippet = found[0]["value"]
    assert "{{ t3.new.total }}" in snippet and "请在此填写" in snippet, snippet
    assert found[0]["source"] == f"data/narrative/{OFFICE}/{YEAR}.md:{at + 2}"
