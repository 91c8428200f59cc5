"""The gate stops what must not go out: skeleton text, an empty prose part, a blank table, a malformed
placeholder, and a `findings` parameter that claims a broken report is clean."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import set_figure

from nianbao.formats import format_for
from nianbao.formats.rules import SKELETON_MARK
from nianbao.report import load_report
from nianbao.run import GATED, PUBLISHED, execute_report
from nianbao.scaffold import NARRATIVE_HINT
from nianbao.validate import validate, verify

BIN = Path(sys.executable).parent
OFFICE, YEAR = "example-shifan", 2023


def _critical(project, office: str = OFFICE, year: int = YEAR) -> list:
    return [f for f in validate([load_report(office, year, project)], project) if f.critical]


def _edit_prose(project, edit, office: str = OFFICE, year: int = YEAR) -> Path:
    path = project.narrative_file(office, year)
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def test_the_demo_reports_pass_the_new_rules(project) -> None:
    for office, year in [(OFFICE, y) for y in range(2019, 2025)] + [("guandu-taihe", 2020)]:
        assert _critical(project, office, year) == [], (office, year)


def test_skeleton_hint_is_critical(project) -> None:
    assert SKELETON_MARK in NARRATIVE_HINT  # the rule knows what `nianbao new` writes
    path = _edit_prose(project, lambda t: t.replace("政务新媒体互动回应不够及时。", NARRATIVE_HINT))
    (f,) = _critical(project)
    assert f.rule == "SEC-SKELETON" and f.source == f"{project.relative(path)}:{_line(path, SKELETON_MARK)}"
    assert SKELETON_MARK in f.value


@pytest.mark.parametrize("part", [0, 4, 5])
def test_an_empty_prose_part_is_critical(project, part: int) -> None:
    headings = format_for(YEAR).headings

    def empty(text: str) -> str:
        start = text.index(f"# {headings[part]}\n") + len(headings[part]) + 3
        end = text.index(f"# {headings[part + 1]}") if part < 5 else len(text)
        return text[:start] + "\n" + text[end:]

    path = _edit_prose(project, empty)
    critical = _critical(project)
    assert [(f.rule, f.source) for f in critical] == [
        ("SEC-EMPTY", f"{project.relative(path)}:{_line(path, '# ' + headings[part])}")]
    assert headings[part] in critical[0].message


@pytest.mark.parametrize("table", ["t2", "t3", "t4"])
def test_an_entirely_blank_table_is_critical(project, table: str) -> None:
    report = load_report(OFFICE, YEAR, project)
    refs = [ref for ref in report.values if ref.startswith(f"{table}.")]
    _edit_prose(project, lambda t: re.sub(r"\{\{ t[234]\.[^}]*\}\}", "0", t))  # a blank cell names no value
    for ref in refs:
        set_figure(project, OFFICE, YEAR, ref, "")
    rules = {f.rule for f in _critical(project)}
    assert "TABLE-BLANK" in rules
    (blank,) = [f for f in _critical(project) if f.rule == "TABLE-BLANK"]
    assert blank.table == table and blank.source == f"data/figures/{OFFICE}.csv"
    # One cell reported: the table is incomplete (warnings), not missing.
    set_figure(project, OFFICE, YEAR, refs[0], "0")
    assert "TABLE-BLANK" not in {f.rule for f in _critical(project)}


MALFORMED = [
    "全年新收申请{{ t3.new.total }件。",  # unbalanced: one closing brace
    "{{ {{ year }} }}",  # nested
    "全年新收申请{ t3.new.total }}件。",
    "截至{{ year 年底",
    "电话：{{office.phone}}}",
]


@pytest.mark.parametrize("text", MALFORMED)
@pytest.mark.parametrize("where", ["preamble", "section"])
def test_a_malformed_placeholder_is_critical(project, text: str, where: str) -> None:
    if where == "preamble":
        path = _edit_prose(project, lambda t: f"{text}\n\n{t}")
    else:
        path = _edit_prose(project, lambda t: t.replace("回应不够及时。", f"回应不够及时。{text}"))
    (f,) = _critical(project)
    assert f.rule == "PLACEHOLDER-MALFORMED"
    assert f.source == f"{project.relative(path)}:{1 if where == 'preamble' else _line(path, text)}"


@pytest.mark.parametrize("text", ["{{ year }}年", r"花括号\{\{照印\}\}", "{单括号}"])
def test_well_formed_placeholders_and_escaped_braces_pass(project, text: str) -> None:
    _edit_prose(project, lambda t: t.replace("政务新媒体互动回应不够及时。", text))
    assert _critical(project) == []


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("ref", "value"), [("t3.new.natural", "NaN"), ("t4.review.total", "9"),
                                            ("t2.rules.issued", "-1"), ("t4.direct.upheld", "1.5"),
                                            ("t3.new.research", "")])
def test_verify_finds_what_great_expectations_finds(project, ref: str, value: str) -> None:
    set_figure(project, OFFICE, YEAR, ref, value)
    report = load_report(OFFICE, YEAR, project)
    key = lambda f: (f.rule, f.table, f.row, f.column)  # noqa: E731
    assert sorted(map(key, verify(report, project))) == sorted(
        key(f) for f in validate([report], project, by_rows=False) if f.critical)


def test_a_findings_parameter_cannot_skip_the_gate(project) -> None:
    set_figure(project, OFFICE, YEAR, "t3.new.natural", "NaN")
    result = execute_report(project, OFFICE, YEAR, findings=[])  # the batch's way in, handed a lie
    assert result.status == GATED and [f.rule for f in result.findings if f.critical] == ["T3-INT"]
    assert not (project.output_dir(OFFICE) / f"{YEAR}.html").exists()


def test_stock_papermill_with_an_empty_findings_list_is_gated(project, tmp_path: Path) -> None:
    set_figure(project, OFFICE, YEAR, "t3.new.natural", "NaN")
    out = tmp_path / "out.ipynb"
    run = subprocess.run([str(BIN / "papermill"), str(project.notebook), str(out), "-p", "office", OFFICE,
                          "-p", "year", str(YEAR), "-y", "findings: []", "--cwd", str(project.root),
                          "--log-level", "ERROR"], capture_output=True, text=True)
    assert run.returncode == 1
    nb = nbformat.read(out, as_version=4)
    roles = [o.metadata["nianbao"]["role"] for c in nb.cells for o in c.get("outputs", ())
             if o.get("metadata", {}).get("nianbao")]
    assert roles == ["findings"]  # no report output: nothing for nbconvert to publish
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "nianbao", str(out)], check=True, capture_output=True)
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert "未通过数据校验，不予发布" in page and not re.search(r'<td class="num">NaN</td>', page)


def test_a_clean_report_with_handed_findings_publishes(project) -> None:
    assert execute_report(project, OFFICE, YEAR, findings=[]).status == PUBLISHED
