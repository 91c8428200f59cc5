"""The collection loop: `nianbao workbook` writes the forms, offices fill them, `nianbao ingest` reads them back.

Round trips over synthetic projects (both formats, blanks, signed and decimal values); forms filled with
openpyxl (formulas with no cached value) and saved by LibreOffice (formulas recalculated and cached); what
people do to forms (numbers typed as text, rows inserted, sheets renamed, another office's or year's form);
every problem named by file, sheet and cell.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import files_under
from openpyxl import load_workbook

from nianbao.cli import main
from nianbao.data import read_figures, read_offices
from nianbao.formats import Data, Label, format_for
from nianbao.project import Project
from nianbao.synth import synth
from nianbao.workbook import layout
from nianbao.workbook.formula import FormulaError, evaluate
from nianbao.workbook.read import read_workbook
from nianbao.workbook.write import build_workbook, file_name

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed: "
                                   "apt-get install libreoffice-calc-nogui, as .ci/run does")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def set_cells(project: Project, office: str, year: int, changes: dict[str, str]) -> None:
    """Change cells of an office's figures file in place (keys `table.row.column`)."""
    path = project.figures_file(office)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    for row in rows[1:]:
        ref = ".".join(row[1:4])
        if row[0] == str(year) and ref in changes:
            row[4] = changes[ref]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Project:
    """Three fictional offices, 2019-2024 (both formats), with blanks, negative 本年增/减, amounts of 0 to 4
    decimals and a 总计 that is the office's own figure, not the sum."""
    root = tmp_path_factory.mktemp("synth") / "proj"
    synth(root, 3, range(2019, 2025), 7, 0.0)
    project = Project(root)
    offices = sorted(read_offices(project))
    set_cells(project, offices[0], 2019, {"t2.license.prev_items": "5", "t2.license.delta": "-3",
                                          "t2.procurement.count": "2", "t2.procurement.amount": "0.5000",
                                          "t3.deny_3.natural": "", "t3.new.research": ""})
    set_cells(project, offices[0], 2020, {"t2.procurement.amount": "12", "t3.total.total": "",
                                          "t4.review.upheld": ""})
    set_cells(project, offices[1], 2022, {"t2.fees.amount": "3.1", "t3.open.total": "99"})
    set_cells(project, offices[2], 2024, {f"t3.{r}.business": "" for r in format_for(2024).table("t3").rows})
    return project


def copy_of(project: Project, dest: Path) -> Project:
    shutil.copytree(project.root, dest)
    return Project(dest)


def test_round_trip_is_exact_for_both_formats(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    before = files_under(project.data)
    code, out = cli("workbook", "--project", project.root, "--out", tmp_path / "forms")
    assert code == 0, out
    forms = sorted((tmp_path / "forms").glob("*.xlsx"))
    assert len(forms) == 18 and {format_for(int(p.stem[-4:])).id for p in forms} == {"F2019", "F2021"}
    # Data changed in between: the ingest puts back exactly what the forms hold.
    for year in (2019, 2024):
        set_cells(project, sorted(read_offices(project))[0], year, {"t3.new.natural": "999", "t2.rules.valid": ""})
    code, out = cli("ingest", "--project", project.root, tmp_path / "forms")
    assert code == 0, out
    assert files_under(project.data) == before
    code, out = cli("ingest", "--project", project.root, tmp_path / "forms")
    assert code == 0 and out.count("未改动") == 18, out  # re-ingest is a no-op
    assert files_under(project.data) == before


def test_blank_decimal_signed_and_own_total_survive(synthetic: Project, tmp_path: Path) -> None:
    office = sorted(read_offices(synthetic))[0]
    path = tmp_path / "f.xlsx"
    values = read_figures(synthetic, office)[2019].values
    build_workbook(read_offices(synthetic)[office], 2019, values).save(path)
    read = read_workbook(path, year=2019)
    assert read.values == values
    assert read.values["t2.license.delta"] == "-3" and read.values["t2.procurement.amount"] == "0.5000"
    assert read.values["t3.deny_3.natural"] is None and "t3.deny_3.natural" in read.not_reported


def test_untouched_form_has_totals_as_formulas_and_label_cells_locked(synthetic: Project, tmp_path: Path) -> None:
    office = read_offices(synthetic)[sorted(read_offices(synthetic))[1]]
    values = read_figures(synthetic, office.id)[2022].values
    wb = build_workbook(office, 2022, values)
    ws = wb["表三"]
    fmt = format_for(2022)
    totals = layout.totals(fmt.id)
    formulas = {c.coordinate: c.value for row in ws.iter_rows() for c in row
                if isinstance(c.value, str) and c.value.startswith("=IF(COUNT(")}
    # Every 总计 of 表三 is a formula except the one the office gave as its own figure (open.total = 99).
    t3_totals = [ref for ref in totals if ref.startswith("t3.")]
    assert len(formulas) == len(t3_totals) - 1 == 25 + 6 - 1
    assert formulas["J6"] == '=IF(COUNT(D6:I6),SUM(D6:I6),"")'  # 一、本年新收 总计 over its six columns
    assert ws["J8"].value == 99
    # Labels locked, inputs unlocked, sheet protected without a password; merged cells as in the grid.
    assert ws.protection.sheet and not ws.protection.password
    assert ws["A6"].protection.locked and not ws["D6"].protection.locked
    spans = sum(1 for _, _, cell in fmt.table("t3").positions() if cell.rowspan > 1 or cell.colspan > 1)
    assert len(ws.merged_cells.ranges) == spans + 2  # and the title and info rows
    assert ws.print_title_rows == "$1:$5" and str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4


def test_every_input_cell_is_validated_as_its_kind(tmp_path: Path) -> None:
    for year in (2020, 2024):
        fmt = format_for(year)
        wb = build_workbook(_office(), year, {})
        for table in fmt.tables:
            ws = wb[{"t2": "表二", "t3": "表三", "t4": "表四"}[table.key]]
            validated = {}
            for dv in ws.data_validations.dataValidation:
                for rng in dv.sqref.ranges:
                    validated[rng.coord] = (dv.type, dv.operator, dv.formula1)
            for r, c, cell in table.positions():
                if isinstance(cell, Data):
                    coord = f"{chr(ord('A') + c)}{layout.GRID_ROW + r}"
                    expected = {"count": ("whole", "greaterThanOrEqual", "0"),
                                "signed": ("whole", "between", "-999999999"),
                                "amount": ("decimal", "greaterThanOrEqual", "0")}[cell.kind.value]
                    assert validated.get(coord) == expected, (year, table.key, coord)


def test_live_checks_cover_every_within_year_identity() -> None:
    wb = build_workbook(_office(), 2024, {})
    checks = layout.checks("F2021")
    rules = {r.id for r, _, _ in checks}
    assert {"T3-BALANCE", "T3-OUTCOME-SUM", "T3-ROWSUM", "T4-GROUPSUM"} <= rules
    assert not any(t.prev for _, _, i in checks for t in i.terms)
    n = sum(len(list(wb[s].conditional_formatting)) for s in ("表二", "表三", "表四"))
    lines = sum(1 for t in format_for(2024).tables for line in layout.lines("F2021", t.key))
    assert n == len(checks) + lines  # and one per data line, for numbers typed as text
    balance = [c for row in wb["表三"].iter_rows() for c in row
               if isinstance(c.value, str) and "不满足勾稽关系" in c.value]
    assert len(balance) == 1 and "表三自然人不满足勾稽关系" in balance[0].value


def _office():
    from nianbao.data import Office

    return Office("shili-test", "示例测试街道办事处")


# -- filled forms ----------------------------------------------------------------------------------------------


def _form(project: Project, office: str, year: int, dest: Path) -> Path:
    code, out = cli("workbook", office, year, "--project", project.root, "--out", dest)
    assert code == 0, out
    return dest / file_name(read_offices(project)[office], year)


def _coords(path: Path, year: int) -> dict[str, str]:
    return read_workbook(path, year=year).cells


def _fill(path: Path, year: int, values: dict[str, object], save_as: Path | None = None) -> Path:
    coords = _coords(path, year)
    wb = load_workbook(path)
    for ref, value in values.items():
        sheet, coord = coords[ref].split("!")
        wb[sheet][coord] = value
    wb.save(save_as or path)
    return save_as or path


def _leaves(fmt_year: int) -> dict[str, int]:
    """A consistent year of table 三 and 四 leaves (totals left to the formulas)."""
    fmt = format_for(fmt_year)
    values: dict[str, int] = {}
    for c in ("natural", "business", "research", "public_interest", "legal_services", "other_org"):
        values |= {f"t3.new.{c}": 3, f"t3.carry_in.{c}": 1, f"t3.open.{c}": 2, f"t3.partial.{c}": 1,
                   f"t3.carry_out.{c}": 1}
        for r in fmt.table("t3").rows:
            if r != "total":
                values.setdefault(f"t3.{r}.{c}", 0)
    for g in ("review", "direct", "after_review"):
        values |= {f"t4.{g}.upheld": 1, f"t4.{g}.corrected": 2, f"t4.{g}.other": 0, f"t4.{g}.pending": 0}
    return values


def test_formulas_without_cached_values_are_computed(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[1]
    path = _fill(_form(project, office, 2024, tmp_path / "forms"), 2024, {**_leaves(2024), "t3.deny_1.natural": "=1+1",
                                                                        "t3.open.natural": 0})
    read = read_workbook(path)
    assert read.values["t3.new.total"] == "18" and read.values["t3.total.natural"] == "3"  # 0 + 1 + 2
    assert read.values["t3.total.total"] == "18" and read.values["t4.direct.total"] == "3"
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 0, out
    assert read_figures(project, office)[2024].values["t3.new.total"] == "18"


def test_numbers_typed_as_text_are_read(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[2]
    typed = {"t3.new.natural": "'12", "t3.new.business": "12 ", "t3.new.research": "１２", "t3.carry_in.natural": " ",
             "t2.fees.amount": "３.５０", "t4.review.upheld": "-", "t2.rules.issued": "2件"}
    path = _fill(_form(project, office, 2024, tmp_path / "forms"), 2024, typed)
    read = read_workbook(path)
    assert [read.values[r] for r in typed] == ["12", "12", "12", None, "3.50", None, "2"]
    assert read.originals["t3.new.research"] == "１２"
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 0 and "科研机构（t3.new.research）：“１２”读作 12" in out, out


def test_rows_inserted_sheets_renamed_and_reordered(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[0]
    path = _form(project, office, 2020, tmp_path / "forms")
    expected = read_workbook(path).values
    wb = load_workbook(path)
    # Totals as values (openpyxl does not move formulas when it inserts rows; a spreadsheet program does).
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    c.value = None
    for ws in wb.worksheets:
        ws.merged_cells.ranges = set()  # openpyxl does not move merged ranges either
    wb["表三"].insert_rows(8, 2)
    wb["表三"]["A8"] = "注：以下为本年度办理结果"
    wb["表四"].insert_rows(4, 1)
    wb["表二"].insert_rows(1, 3)
    wb["表三"].title, wb["表二"].title, wb["表四"].title = "Sheet2", "申请", "复议诉讼"
    wb.move_sheet("Sheet2", offset=2)
    wb.save(path)
    read = read_workbook(path)
    totals = layout.totals("F2019")
    assert {r: v for r, v in read.values.items() if r not in totals} == \
        {r: v for r, v in expected.items() if r not in totals}
    assert read.cells["t3.open.natural"].startswith("Sheet2!") and read.cells["t4.review.upheld"] == "复议诉讼!A7"


def _values_only(path: Path) -> None:
    """Totals as values, no merged ranges: openpyxl moves neither formulas nor merged cells when it inserts or
    deletes (a spreadsheet program does both)."""
    wb = load_workbook(path)
    for ws in wb.worksheets:
        ws.merged_cells.ranges = set()
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    c.value = None
    wb.save(path)


@pytest.mark.parametrize("year", [2020, 2024])
def test_columns_inserted_are_skipped_and_cells_named_where_they_are(synthetic: Project, tmp_path: Path,
                                                                     year: int) -> None:
    """Columns inserted for notes: before the first data column, between two data columns (in a merged header's
    span), after the last, in each table; table 四 repeats 结果维持/结果纠正 per group, order tells them apart."""
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[0]
    path = _form(project, office, year, tmp_path / "forms")
    expected = read_workbook(path)
    _values_only(path)
    wb = load_workbook(path)
    t2, t3, t4 = wb["表二"], wb["表三"], wb["表四"]
    t3.insert_cols(5)  # between 自然人 (D) and 商业企业: 商业企业 moves to F
    t3["E5"] = "备注"
    t3["E9"] = "含电子邮件申请3件"
    t3.insert_cols(1)  # before the row labels: every column moves
    t3.insert_cols(13)  # after 总计
    t3["M5"] = "说明"
    t2.insert_cols(3, 2)  # between the first two data columns of table 二
    t2["C5"] = "备注"
    t4.insert_cols(7)  # inside 行政诉讼 / 未经复议直接起诉, after its 结果维持
    t4["G5"] = "注"
    wb.save(path)
    read = read_workbook(path)
    totals = layout.totals(format_for(year).id)
    assert {r: v for r, v in read.values.items() if r not in totals} == \
        {r: v for r, v in expected.values.items() if r not in totals}
    moved = {ref: coord for ref, coord in read.cells.items() if coord != expected.cells[ref]}
    assert read.cells["t3.new.natural"] == "表三!E" + expected.cells["t3.new.natural"].split("!D")[1]
    assert read.cells["t3.new.business"] == "表三!G" + expected.cells["t3.new.business"].split("!E")[1]
    assert read.cells["t4.direct.upheld"] == "表四!F6" and read.cells["t4.direct.corrected"] == "表四!H6"
    assert read.cells["t4.review.upheld"] == "表四!A6"  # left of the inserted column: where it was
    assert all(ref.startswith(("t2", "t3", "t4.direct", "t4.after")) for ref in moved)
    assert all(coord.startswith("表二!") for ref, coord in moved.items() if ref.startswith("t2"))


def _swap(ws, a: str, b: str) -> None:
    ws[a], ws[b] = ws[b].value, ws[a].value


# A merged group heading (F2021 表三's and 表四's column groups, 表三's row groups) edited, emptied, moved or swapped:
# the refusal names that cell, what it should hold and what it holds, not the label under it.
GROUP_LABEL_EDITS = {
    "column group edited": ("表三", lambda ws: ws.__setitem__("E4", "法人或者其他组织"),
                            "表三!E4：此处应为栏目名称“法人或其他组织”（合并单元格，是其下5栏共同的栏目名称），"
                            "现为“法人或者其他组织”（可以插入行和列"),
    "top group edited": ("表三", lambda ws: ws.__setitem__("D3", "申请人"),
                         "表三!D3：此处应为栏目名称“申请人情况”（合并单元格，是其下7栏共同的栏目名称），现为“申请人”"),
    "row group edited": ("表三", lambda ws: ws.__setitem__("B10", "（三）不公开"),
                         "表三!B10：此处应为栏目名称“（三）不予公开”（合并单元格，是右边8行共同的栏目名称），"
                         "现为“（三）不公开”"),
    "group emptied, pasted elsewhere": ("表三", lambda ws: (ws.__setitem__("E4", None),
                                                              ws.__setitem__("L2", "法人或其他组织")),
                                        "表三!E4：此处应为栏目名称“法人或其他组织”（合并单元格，是其下5栏共同的栏目名称），"
                                        "现在是空白；“法人或其他组织”现在在L2"),
    "groups swapped": ("表四", lambda ws: _swap(ws, "F4", "K4"),
                       "表四!F4：此处应为栏目名称“未经复议直接起诉”（合并单元格，是其下5栏共同的栏目名称），现为“复议后起诉”"
                       "（这是另一栏的名称：这一栏可能被删除或移动了）；“未经复议直接起诉”现在在K4"),
    "label repeated below": ("表三", lambda ws: ws.__setitem__("B31", "（一）予以公开"),
                             "表三!B31：此处不应有栏目名称“（一）予以公开”（这一列的栏目名称已经齐全），请删去，或移回原来的位置"),
}


def _each_refused(project: Project, path: Path, tmp_path: Path, cases: dict) -> dict[str, str]:
    """Each of `cases` (name → (sheet, an edit of it, the message)) made to a copy of the form at `path`, then
    ingested: refused with the message, writing nothing. Returns each case's output."""
    before = files_under(project.data)
    outputs = {}
    for name, (sheet, edit, message) in cases.items():
        broken = tmp_path / name / path.name
        broken.parent.mkdir()
        wb = load_workbook(path)
        edit(wb[sheet])
        wb.save(broken)
        code, out = cli("ingest", "--project", project.root, broken)
        assert code == 2 and f"{path.name} {message}" in out and "未写入任何数据" in out, (name, out)
        outputs[name] = out
    assert files_under(project.data) == before
    return outputs


def test_a_column_deleted_or_relabelled_is_refused_naming_sheet_and_column(synthetic: Project,
                                                                           tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[0]
    path = _form(project, office, 2024, tmp_path / "forms")
    _values_only(path)
    cases = {"deleted": ("表三", lambda ws: ws.delete_cols(6),
                         "表三!F5：此处应为栏目名称“科研机构”，现为“社会公益组织”（这是另一栏的名称：这一栏可能被删除或移动了）"),
             "relabelled": ("表四", lambda ws: ws.__setitem__("B4", "纠正"),
                            "表四!B4：此处应为栏目名称“结果纠正”，现为“纠正”（可以插入行和列"),
             "last deleted": ("表三", lambda ws: ws.delete_cols(10),
                              "表三!J4：此处应为栏目名称“总计”，现在是空白"),  # where it should be, not "找不到"
             **GROUP_LABEL_EDITS}
    _each_refused(project, path, tmp_path, cases)


def _merge(ws, cells: str) -> None:
    ws.merge_cells(cells)  # as a spreadsheet merges: the first cell's text kept, the others' gone


def _move(ws, cells: str, rows: int) -> None:
    """Cut and paste a label (a merged one with its merge) `rows` rows down (up when negative)."""
    merged = next((m for m in ws.merged_cells.ranges if m.coord == cells), None)
    if merged is not None:
        ws.unmerge_cells(cells)
    ws.move_range(cells, rows=rows)
    if merged is not None:
        ws.merge_cells(start_row=merged.min_row + rows, start_column=merged.min_col,
                       end_row=merged.max_row + rows, end_column=merged.max_col)


# Label cells merged (two row labels, two column labels, a group heading over the next group), moved by a row
# onto another label, or written over two cells: the refusal names the cell that lost its label, what should be
# there and what happened, never "找不到…这一栏/这一行".
LABEL_CELL_FAULTS = {
    "row labels merged": ("表三", lambda ws: _merge(ws, "C10:C11"),
                          "表三!C11：已与C10合并为一个单元格（C10:C11），此处应为栏目名称“2.其他法律行政法规禁止公开”，"
                          "合并后只剩C10的“1.属于国家秘密”；请取消合并，在C11填回“2.其他法律行政法规禁止公开”"),
    "table 二's row labels merged": ("表二", lambda ws: _merge(ws, "A5:A6"),
                                     "表二!A6：已与A5合并为一个单元格（A5:A6）"),
    "column labels merged": ("表三", lambda ws: _merge(ws, "E5:F5"),
                             "表三!F5：已与E5合并为一个单元格（E5:F5），此处应为栏目名称“科研机构”，合并后只剩E5的“商业企业”"),
    "last column labels merged": ("表四", lambda ws: _merge(ws, "N5:O5"),
                                  "表四!O5：已与N5合并为一个单元格（N5:O5），此处应为栏目名称“总计”"),
    "table 二's last column merged": ("表二", lambda ws: _merge(ws, "C4:D4"),
                                      "表二!D4：已与C4合并为一个单元格（C4:D4），此处应为栏目名称“现行有效件数”"),
    "rows and columns merged": ("表四", lambda ws: _merge(ws, "A4:B5"),
                                "表四!B4：已与A4合并为一个单元格（A4:B5），此处应为栏目名称“结果纠正”"),
    "group heading widened over the next": ("表四", lambda ws: _merge(ws, "F4:O4"),
                                            "表四!K4：已与F4合并为一个单元格（F4:O4），此处应为栏目名称“复议后起诉”"
                                            "（合并单元格，是其下5栏共同的栏目名称），合并后只剩F4的“未经复议直接起诉”"),
    "two rows' labels merged": ("表三", lambda ws: _merge(ws, "A6:C7"),
                                "表三!A7：已与A6合并为一个单元格（A6:C7），此处应为栏目名称“二、上年结转政府信息公开申请数量”"
                                "（合并单元格，占3列）"),
    "row label moved down onto the next": ("表三", lambda ws: _move(ws, "B8:C8", 1),
                                           "表三!B8：此处应为栏目名称“（一）予以公开”（合并单元格，占2列），现在是空白；"
                                           "“（一）予以公开”现在在B9（B9原为“（二）部分公开"),
    "row label moved up onto a heading": ("表二", lambda ws: _move(ws, "A5", -1),
                                          "表二!A5：此处应为栏目名称“规章”，现在是空白；“规章”现在在A4（A4原为“信息内容”，已被覆盖）"),
    "row label moved onto a merged heading": ("表二", lambda ws: _move(ws, "A9", 1),
                                              "表二!A9：此处应为栏目名称“行政许可”，现在是空白；“行政许可”现在在A10"
                                              "（A10原为“第二十条第（六）项”，已被覆盖）"),
    "row group moved down": ("表三", lambda ws: _move(ws, "B10:B17", 1),
                             "表三!B10：此处应为栏目名称“（三）不予公开”（合并单元格，是右边8行共同的栏目名称），现在是空白；"
                             "“（三）不予公开”现在在B11（移动后盖住了B18原有的“（四）无法提供”）"),
    "group heading split over two cells": ("表三", lambda ws: (ws.unmerge_cells("E4:I4"),
                                                               ws.__setitem__("E4", "法人或"),
                                                               ws.__setitem__("F4", "其他组织")),
                                           "表三!E4：此处应为栏目名称“法人或其他组织”（合并单元格，是其下5栏共同的栏目名称），"
                                           "现为“法人或”，其余的“其他组织”写在了F4（栏目名称应完整写在E4一个单元格里）"),
    "row label split over two rows": ("表三", lambda ws: (ws.__setitem__("A6", "一、本年新收政府"),
                                                          ws.__setitem__("A7", "信息公开申请数量")),
                                      "表三!A6：此处应为栏目名称“一、本年新收政府信息公开申请数量”（合并单元格，占3列），"
                                      "现为“一、本年新收政府”，其余的“信息公开申请数量”写在了A7"),
    "column label split": ("表二", lambda ws: (ws.__setitem__("B4", "本年制发"), ws.__setitem__("B5", "件数")),
                           "表二!B4：此处应为栏目名称“本年制发件数”，现为“本年制发”，其余的“件数”写在了B5"),
}


def test_label_cells_merged_moved_or_split_are_refused_naming_the_cell(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[0]
    path = _form(project, office, 2024, tmp_path / "forms")  # with its merged cells, as written
    for name, out in _each_refused(project, path, tmp_path, LABEL_CELL_FAULTS).items():
        assert "找不到" not in out, (name, out)


@needs_soffice
def test_label_cells_merged_in_libreoffice_are_refused_naming_the_cell(synthetic: Project, tmp_path: Path) -> None:
    """In Calc: 表三's row labels 1.属于国家秘密 and 2.其他法律行政法规禁止公开 merged, and 表二's 本年制发件数 with
    本年废止件数 (Merge Cells; Calc keeps the hidden cells' text in the file, the sheet shows the first's)."""
    project, _, _, saved = _edited_in_calc(synthetic, tmp_path, {}, {"merge": [["表三", "C10:C11"], ["表二", "B4:C4"]]})
    assert "C10:C11" in {str(r) for r in load_workbook(saved)["表三"].merged_cells.ranges}
    code, out = cli("ingest", "--project", project.root, saved)
    assert code == 2, out
    assert "表三!C11：已与C10合并为一个单元格（C10:C11），此处应为栏目名称“2.其他法律行政法规禁止公开”" in out, out
    assert "表二!C4：已与B4合并为一个单元格（B4:C4），此处应为栏目名称“本年废止件数”" in out, out


# A header cell cut and pasted alone (without its column): (sheet, columns to insert before (1-based), cell cut,
# where it is pasted, the refusal). Its old column keeps the figures under no heading; read by the labels, the
# heading would name the wrong cells.
MOVED_ALONE = {
    "into an inserted column": ("表三", 7, "F5", "G5", "F6", "科研机构"),
    "total, right of the table": ("表三", None, "J4", "K4", "J6", "总计"),
    "table 四's last total": ("表四", None, "O5", "P5", "O6", "总计"),
    "table 二, into the gap": ("表二", None, "D4", "E4", "D5", "现行有效件数"),
    "left, into an inserted column": ("表三", 7, "H5", "G5", "H6", "社会公益组织"),
}


@pytest.mark.parametrize("case", MOVED_ALONE)
def test_a_header_cell_moved_alone_is_refused_naming_the_cell(synthetic: Project, tmp_path: Path, case: str) -> None:
    sheet, insert, source, target, cell, label = MOVED_ALONE[case]
    col, went = cell[0], target[0]
    message = (f"{sheet}!{cell}：{col}列填有数字，却没有栏目名称（栏目名称可能被单独剪切、移到了别的列，如{went}列的"
               f"“{label}”），按现在的位置会读错栏目；请把栏目名称移回{col}列，或删去这一列的数字")
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[1]  # its 2024 totals are formulas, which openpyxl moves with a cut
    path = _form(project, office, 2024, tmp_path / "forms")
    assert read_workbook(path).values["t3.new.research"] is not None
    wb = load_workbook(path)
    ws = wb[sheet]
    if insert:
        _values_only(path)  # openpyxl moves neither formulas nor merged cells when it inserts
        wb = load_workbook(path)
        ws = wb[sheet]
        ws.insert_cols(insert)
    ws[target] = ws[source].value
    ws[source] = None
    wb.save(path)
    before = files_under(project.data)
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 2 and f"{path.name} {message}" in out and "未写入任何数据" in out, out
    assert files_under(project.data) == before


def test_inserted_columns_with_a_heading_or_without_figures_are_an_offices_own(synthetic: Project,
                                                                                tmp_path: Path) -> None:
    """Only figures under no heading at all are refused: a note column headed 备注 may hold numbers, and an
    unheaded one text; a number typed beside the table under no heading is refused (it may be a moved label's)."""
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[1]
    path = _form(project, office, 2024, tmp_path / "forms")
    expected = read_workbook(path).values
    wb = load_workbook(path)
    t3 = wb["表三"]
    t3["K4"], t3["K6"], t3["K7"] = "备注", 3, "=D6+1"  # the gap column, headed
    t3["M6"] = "电话申请"  # beyond the check column: text only
    wb.save(path)
    assert read_workbook(path).values == expected
    t3["N7"] = 12
    wb.save(path)
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 2 and "表三!N7：N列填有数字，却没有栏目名称" in out, out


def test_wrong_year_or_office_is_refused_unless_said(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    offices = sorted(read_offices(project))
    registry = read_offices(project)
    path = _form(project, offices[0], 2023, tmp_path / "forms")
    before = files_under(project.data)
    # Last year's form sent back under this year's name.
    renamed = path.with_name(path.name.replace("2023", "2024"))
    path.rename(renamed)
    code, out = cli("ingest", "--project", project.root, renamed)
    assert code == 2 and "文件名是2024年，封面却是2023年的报表" in out, out
    assert files_under(project.data) == before
    code, out = cli("ingest", "--project", project.root, renamed, "--year", "2023")
    assert code == 0, out
    # Another office's form, under this office's file name.
    other = path.with_name(path.name.replace(registry[offices[0]].name, registry[offices[1]].name))
    renamed.rename(other)
    code, out = cli("ingest", "--project", project.root, other)
    assert code == 2 and f"文件名是“{registry[offices[1]].name}”的报表" in out, out
    # A cover whose 机关名称 is not the one of its 机关代码.
    wb = load_workbook(other)
    wb[layout.COVER]["B3"] = "示例区别的街道办事处"
    wb.save(tmp_path / "x.xlsx")
    code, out = cli("ingest", "--project", project.root, tmp_path / "x.xlsx")
    assert code == 2 and "可能是其他机关的报表" in out, out
    code, out = cli("ingest", "--project", project.root, tmp_path / "x.xlsx", "--office", offices[0])
    assert code == 0, out
    # An F2019 form read as a 2021 report.
    old = _form(project, offices[0], 2020, tmp_path / "forms")
    code, out = cli("ingest", "--project", project.root, old, "--year", "2021")
    assert code == 2 and "这是F2019格式的报表，2021年的报告应使用F2021格式" in out, out


def test_bad_cells_are_named_by_file_sheet_and_cell_and_nothing_is_written(synthetic: Project,
                                                                           tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[1]
    path = _form(project, office, 2022, tmp_path / "forms")
    coords = _coords(path, 2022)
    _fill(path, 2022, {"t3.new.natural": -3, "t3.deny_2.business": "很多", "t2.fees.amount": -1.5,
                       "t4.direct.pending": 2.5, "t2.rules.valid": "=FOO(1)"})
    before = files_under(project.data)
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 2
    name = path.name
    for ref, problem in (("t3.new.natural", "应填写非负整数（单位：件），读到“-3”"),
                         ("t3.deny_2.business", "读到“很多”"), ("t2.fees.amount", "应填写非负数（单位：万元）"),
                         ("t4.direct.pending", "读到“2.5”"), ("t2.rules.valid", "公式无法计算")):
        assert f"{name} {coords[ref]}：" in out and problem in out, (ref, out)
    assert "7处问题，未写入任何数据" in out  # and the two 总计 over -3 and 2.5
    assert files_under(project.data) == before


def test_not_a_workbook_and_no_cover(tmp_path: Path, synthetic: Project) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    bad = tmp_path / "坏文件2024.xlsx"
    bad.write_bytes(b"not a zip")
    code, out = cli("ingest", "--project", project.root, bad)
    assert code == 2 and "不是可读取的 .xlsx 工作簿" in out
    office = sorted(read_offices(project))[2]
    path = _form(project, office, 2024, tmp_path / "forms")
    wb = load_workbook(path)
    del wb[layout.COVER]
    wb.save(path)
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 2 and "封面没有“报告年度”" in out
    code, out = cli("ingest", "--project", project.root, path, "--year", "2024", "--office", office)
    assert code == 0, out


def test_workbook_keeps_existing_forms_unless_forced(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[0]
    path = _form(project, office, 2024, tmp_path / "forms")
    path.write_bytes(b"filled")
    code, out = cli("workbook", "--project", project.root, "--out", tmp_path / "forms", "--years", "2024")
    assert code == 0 and f"保留 {path}" in out and path.read_bytes() == b"filled"
    code, out = cli("workbook", "--project", project.root, "--out", tmp_path / "forms", "--years", "2024", "--force")
    assert code == 0 and "已生成3份报表" in out and path.read_bytes() != b"filled"


# -- carry-overs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2020, 2025])
def test_new_year_carries_last_years_values_over(synthetic: Project, tmp_path: Path, year: int) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[1]
    shutil.rmtree(project.root / "params")
    if year == 2020:  # start again after 2019, an F2019 year
        kept = [line for line in project.figures_file(office).read_text().splitlines() if not line.startswith("20")
                or line.startswith("2019")]
        project.figures_file(office).write_text("\n".join(kept) + "\n")
    code, out = cli("new", office, year - 1, "--project", project.root)
    code, out = cli("new", office, year, "--project", project.root)
    assert code == 0, out
    figures = read_figures(project, office)
    last, this = figures[year - 1].values, figures[year].values
    for c in format_for(year).table("t3").columns:
        assert this[f"t3.carry_in.{c}"] == last[f"t3.carry_out.{c}"]
    if year == 2020:
        assert this["t2.license.prev_items"] == str(int(last["t2.license.prev_items"]) + int(last["t2.license.delta"]))
    else:
        assert this["t2.normative.valid"] == last["t2.normative.valid"] and this["t2.normative.issued"] == "0"
    code, out = cli("check", office, year, "--project", project.root)
    assert not any(rule in out for rule in ("T3-XYEAR", "T2-PROJ-XYEAR", "T2-VALID-XYEAR")), out
    # With no figures for the year, the form starts from the same carry-overs, the rest blank.
    set_cells(project, office, year, {})
    form = tmp_path / "f.xlsx"
    build_workbook(read_offices(project)[office], year + 1, {}).save(form)
    from nianbao.workbook.write import prefill

    start = prefill(year + 1, {y: f.values for y, f in figures.items()})
    assert start["t3.carry_in.natural"] == this["t3.carry_out.natural"] and "t3.new.natural" not in start


# -- amounts (万元) ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "number_format", "expected"), [
    (12.5, "General", "12.5"),  # `12.50` typed into a General cell: the spreadsheet keeps the number 12.5
    (7.489, "General", "7.489"), (0, "General", "0"), (0.0, "General", "0"), (3.0, "General", "3"),
    (0.1 + 0.2, "General", "0.3"), (1.1 + 2.2, "General", "3.3"),  # a formula's binary noise: as shown
    (1e-4, "General", "0.0001"), (12345.6789, "General", "12345.6789"), (2e15, "General", "2000000000000000"),
    (12.5, "0.00", "12.50"), (12.5, "0.0000", "12.5000"), (7.489, "#,##0.0000", "7.4890"),
    ("12.50", "@", "12.50"), ("'12.50", "General", "12.50"), ("１２．５０", "General", "12.50"),
])
def test_amounts_are_stored_as_the_sheet_shows_them(value: object, number_format: str, expected: str) -> None:
    """An amount in 万元 is stored as the sheet shows it: with the decimals of its number format (the form's
    prefilled amounts), as typed when it is text, and a General cell's number to a spreadsheet's 15 digits.
    FORMAT.md §6 fixes no number of decimals (at most 4 recommended: T2-AMT-DEC), so 12.5 and 12.50 are the
    same 万元; a General cell keeps no trailing zero to read back."""
    from nianbao.formats import Kind
    from nianbao.formats.rules import AMOUNT_RE
    from nianbao.workbook.read import stored

    text, _ = stored(value, Kind.AMOUNT, number_format)
    assert text == expected
    assert re.match(AMOUNT_RE, text)


def test_an_amount_computed_in_the_form_reads_as_shown(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[1]
    form = _form(project, office, 2024, tmp_path / "forms")
    set_cells(project, office, 2024, {"t2.fees.amount": repr(1.1 + 2.2)})
    code, out = cli("check", "--project", project.root, office, 2024)
    assert code in (0, 1) and "T2-AMT-DEC" in out, out  # what a float's repr would have stored
    path = _fill(form, 2024, {"t2.fees.amount": "=1.1+2.2"})
    assert read_workbook(path).values["t2.fees.amount"] == "3.3"  # computed here: no value cached
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 0 and read_figures(project, office)[2024].values["t2.fees.amount"] == "3.3", out
    code, out = cli("check", "--project", project.root, office, 2024)
    assert code in (0, 1) and "已校验1份报告" in out and "T2-AMT-DEC" not in out, out


# -- the evaluator ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("formula", "expected"), [
    ("=SUM(A1:B2)", 10), ('=IF(COUNT(A1:B2),SUM(A1:B2),"")', 10), ('=IF(COUNT(C1:C2),SUM(C1:C2),"")', ""),
    ("=A1+B1-A2", 0), ("=SUM(A1,B2,7)", 12), ("=COUNT(A1:C2)", 4), ("=-A1*2", -2), ("=(A1+B1)/2", 1.5),
    ("=ROUND(2.345,2)", 2.35), ("='表 三'!A1+1", 2), ('=A1&"件"', "1件"), ("=SUM(D1)", 0), ("=D1+1", 13),
    ("=A1=1", True), ("=A1<>1", False),
])
def test_evaluator(formula: str, expected: object) -> None:
    cells = {"A1": 1, "B1": 2, "A2": 3, "B2": 4, "C1": None, "C2": "", "D1": "12"}

    def lookup(sheet: str | None, rng: str) -> list[object]:
        from openpyxl.utils.cell import get_column_letter, range_boundaries

        c0, r0, c1, r1 = range_boundaries(rng)
        return [cells.get(f"{get_column_letter(c)}{r}") for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]

    assert evaluate(formula, lookup) == expected


@pytest.mark.parametrize("formula", ["=VLOOKUP(A1,B1:B2,1)", "=A1+", "=1/0", '="x"+1', "=SUM(A1"])
def test_evaluator_refuses_what_it_cannot_compute(formula: str) -> None:
    with pytest.raises(FormulaError):
        evaluate(formula, lambda sheet, rng: ["x"])


# -- LibreOffice -----------------------------------------------------------------------------------------------


def _soffice_convert(path: Path, out: Path) -> Path:
    """Open and save `path` with LibreOffice Calc (which recalculates and caches every formula, as Excel does
    on save)."""
    out.mkdir(parents=True, exist_ok=True)
    profile = out / "lo-profile"
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--calc", "--convert-to",
                    "xlsx", "--outdir", str(out), str(path)], check=True, capture_output=True, timeout=180)
    return out / path.name


@needs_soffice
def test_libreoffice_saved_form_is_ingested(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[1]  # its 2024 totals are formulas (office 2's has blanks)
    filled = _fill(_form(project, office, 2024, tmp_path / "forms"), 2024,
                   {**_leaves(2024), "t2.fees.amount": 7.25, "t3.new.business": "'12", "t3.open.business": 11,
                    "t4.review.total": 5, "t3.carry_out.research": 4})  # an own (wrong) 总计; 科研机构 unbalanced
    saved = _soffice_convert(filled, tmp_path / "lo")
    cached = load_workbook(saved, data_only=True)
    coords = _coords(saved, 2024)
    sheet, coord = coords["t3.new.total"].split("!")
    assert cached[sheet][coord].value == 15 + 0  # LibreOffice's SUM skips the number typed as text
    assert load_workbook(saved)[sheet][coord].value.startswith("=")  # the formula is kept
    code, out = cli("ingest", "--project", project.root, saved)
    assert code == 0, out
    values = read_figures(project, office)[2024].values
    assert values["t3.total.natural"] == "3" and values["t3.total.total"] == "27"
    assert values["t3.new.business"] == "12" and values["t2.fees.amount"] == "7.25"
    assert values["t4.review.total"] == "5" and values["t4.direct.total"] == "3"
    # The live checks computed in LibreOffice: 表四's wrong 总计 and 表三's unbalanced 科研机构 column say why.
    checks = [c.value for ws in cached.worksheets for row in ws.iter_rows() for c in row
              if isinstance(c.value, str) and c.value.endswith("；")]
    assert any("表四“行政复议”总计不等于" in v for v in checks), checks
    assert any("表三科研机构不满足勾稽关系" in v for v in checks), checks
    summary = [c.value for row in cached[layout.COVER].iter_rows() for c in row if c.value == layout.CHECK_SUMMARY]
    # 表四 行政复议, 表三 结转下年度 (科研机构), 表三 本年新收 (商业企业 typed as text)
    assert summary and cached[layout.COVER]["B10"].value == "3行有问题，请查看各表右侧“校验”列"
    assert any(v.startswith("本行有数字是文本格式") for v in checks), checks
    # Conditional formats, validation and protection survive LibreOffice.
    ws = load_workbook(saved)["表三"]
    assert len(list(ws.conditional_formatting)) >= 30 and ws.data_validations.dataValidation and ws.protection.sheet


@needs_soffice
def test_libreoffice_round_trip_is_exact(synthetic: Project, tmp_path: Path) -> None:
    project = copy_of(synthetic, tmp_path / "p")
    before = files_under(project.data)
    cli("workbook", "--project", project.root, "--out", tmp_path / "forms", "--years", "2019,2020,2022,2024")
    for path in sorted((tmp_path / "forms").glob("*.xlsx")):
        _soffice_convert(path, tmp_path / "lo")
    code, out = cli("ingest", "--project", project.root, tmp_path / "lo")
    assert code == 0 and out.count("未改动") == 12, out
    assert files_under(project.data) == before


def test_form_labels_are_the_format_definitions() -> None:
    for year in (2020, 2024):
        fmt = format_for(year)
        wb = build_workbook(_office(), year, {})
        for table in fmt.tables:
            ws = wb[{"t2": "表二", "t3": "表三", "t4": "表四"}[table.key]]
            for r, c, cell in table.positions():
                if isinstance(cell, Label):
                    assert ws.cell(layout.GRID_ROW + r, c + 1).value == cell.text


def _uno_python() -> str | None:
    """A Python with LibreOffice's `uno` module (Debian's python3-uno), or None."""
    for python in ("/usr/bin/python3", shutil.which("python3")):
        if python and subprocess.run([python, "-c", "import uno"], capture_output=True).returncode == 0:
            return python
    return None


def _edited_in_calc(synthetic: Project, tmp_path: Path, typed: dict[str, object],
                    edits: dict[str, list], formats: dict[str, str] | None = None
                    ) -> tuple[Project, str, dict[str, str], Path]:
    """A copy of the project, an office's 2024 form (its totals are formulas) typed in (`typed`), its cells
    given number formats (`formats`: ref → format code) and edited (`edits`, see lo_edit.py) in LibreOffice Calc
    through UNO and saved: (project, office, the form's cells, the saved file)."""
    import json

    python = _uno_python()
    if python is None:
        pytest.skip("no Python with LibreOffice's uno module (apt-get install python3-uno)")
    project = copy_of(synthetic, tmp_path / "p")
    office = sorted(read_offices(project))[1]
    form = _form(project, office, 2024, tmp_path / "forms")
    coords = _coords(form, 2024)
    edits = {"cells": [[*coords[ref].split("!"), value] for ref, value in typed.items()],
             "formats": [[*coords[ref].split("!"), code] for ref, code in (formats or {}).items()], **edits}
    (tmp_path / "edits.json").write_text(json.dumps(edits, ensure_ascii=False), encoding="utf-8")
    saved = tmp_path / "saved" / form.name
    saved.parent.mkdir()
    subprocess.run([python, str(Path(__file__).parent / "lo_edit.py"), str(form), str(saved),
                    str(tmp_path / "lo-profile"), str(tmp_path / "edits.json")], check=True, timeout=300,
                   capture_output=True)
    return project, office, coords, saved


@needs_soffice
def test_rows_inserted_and_sheet_renamed_in_libreoffice(synthetic: Project, tmp_path: Path) -> None:
    """An office edits the form by hand in Calc: types figures (one as text), inserts rows in 表三 and 表四,
    renames 表三. Calc moves the formulas and caches their values; the ingest finds every cell by its label."""
    typed = {"t3.deny_1.natural": 7, "t3.carry_out.other_org": 2, "t4.review.upheld": 4,
             "t2.license.decisions": "12"}
    project, office, _, saved = _edited_in_calc(synthetic, tmp_path, typed, {
        "insert_rows": [["表三", 9, 2], ["表四", 5, 1]], "rename": [["表三", "申请办理"]]})
    read = read_workbook(saved)
    assert read.cells["t3.deny_1.natural"] == "申请办理!D12"  # row 10 of the form, 2 rows inserted above
    assert read.cells["t4.review.upheld"] == "表四!A7"
    assert {ref: read.values[ref] for ref in typed} == {ref: str(v) for ref, v in typed.items()}
    # Every total is what Calc computed over the moved cells: the sum of its parts as read.
    for total, parts in layout.totals("F2021").items():
        assert read.values[total] == str(sum(int(read.values[p]) for p in parts if read.values[p] is not None))
    code, out = cli("ingest", "--project", project.root, saved)
    assert code == 0, out
    assert read_figures(project, office)[2024].values["t3.deny_1.natural"] == "7"


@needs_soffice
def test_columns_inserted_in_libreoffice(synthetic: Project, tmp_path: Path) -> None:
    """An office inserts note columns in Calc (inside merged headers, between data columns) and types figures:
    Calc widens the merged cells and moves the formulas; the ingest finds every column by its labels."""
    typed = {"t3.new.business": 9, "t3.new.research": 5, "t4.review.corrected": 3, "t4.after_review.pending": 6,
             "t2.rules.issued": 4, "t2.rules.repealed": 1}
    project, office, coords, saved = _edited_in_calc(synthetic, tmp_path, typed, {
        "insert_columns": [["表三", 4, 1], ["表三", 12, 2], ["表四", 1, 1], ["表二", 2, 1]],
        "after": [["表三", "E5", "备注"], ["表三", "E8", "含信函申请2件"], ["表四", "B5", "注"]]})
    merged = {str(r) for r in load_workbook(saved)["表三"].merged_cells.ranges}
    assert any(r.startswith("D") and r.split(":")[1].startswith("K") for r in merged), merged  # 申请人情况, widened
    read = read_workbook(saved)
    assert read.cells["t3.new.business"] == coords["t3.new.business"].replace("!E", "!F")
    assert read.cells["t3.new.natural"] == coords["t3.new.natural"]  # left of the inserted column
    assert read.cells["t4.review.corrected"] == coords["t4.review.corrected"].replace("!B", "!C")
    assert read.cells["t2.rules.repealed"] == coords["t2.rules.repealed"].replace("!C", "!D")
    assert {ref: read.values[ref] for ref in typed} == {ref: str(v) for ref, v in typed.items()}
    for total, parts in layout.totals("F2021").items():  # what Calc computed over the moved cells
        assert read.values[total] == str(sum(int(read.values[p]) for p in parts if read.values[p] is not None))
    code, out = cli("ingest", "--project", project.root, saved)
    assert code == 0, out
    assert read_figures(project, office)[2024].values["t3.new.business"] == "9"


@needs_soffice
def test_a_header_cell_cut_and_pasted_in_libreoffice_is_refused(synthetic: Project, tmp_path: Path) -> None:
    """In Calc: a column inserted between 科研机构 and 社会公益组织, then 科研机构's heading alone cut and pasted
    into it; and the same form with the column inserted but the heading left in place, which reads."""
    project, _, _, saved = _edited_in_calc(synthetic, tmp_path, {"t3.new.research": 5}, {
        "insert_columns": [["表三", 6, 1]], "move": [["表三", "F5", "G5"]]})
    assert load_workbook(saved)["表三"]["G5"].value == "科研机构" and load_workbook(saved)["表三"]["F5"].value is None
    code, out = cli("ingest", "--project", project.root, saved)
    assert code == 2 and "表三!F6：F列填有数字，却没有栏目名称" in out and "如G列的“科研机构”" in out, out
    _, _, _, inserted = _edited_in_calc(synthetic, tmp_path / "kept", {"t3.new.research": 5}, {
        "insert_columns": [["表三", 6, 1]]})
    assert read_workbook(inserted).values["t3.new.research"] == "5"


@needs_soffice
def test_numbers_formatted_in_libreoffice_to_show_something_else_are_refused(synthetic: Project,
                                                                              tmp_path: Path) -> None:
    """In Calc: 0.5 typed into a count cell formatted as a percentage (shown 50%), 1500 into an amount shown in
    thousands (`0,`: 2) and 0.25 into a fraction cell (1/4); Calc saves the formats, and each cell is refused
    with what it shows and what it holds. A cell formatted `#,##0` reads."""
    typed = {"t3.new.natural": 0.5, "t2.fees.amount": 1500, "t3.new.business": 0.25, "t3.new.research": 1234}
    formats = {"t3.new.natural": "0%", "t2.fees.amount": "0,", "t3.new.business": "# ?/?",
               "t3.new.research": "#,##0"}
    project, _, coords, saved = _edited_in_calc(synthetic, tmp_path, typed, {}, formats)
    before = files_under(project.data)
    code, out = cli("ingest", "--project", project.root, saved)
    assert code == 2, out
    assert f"{coords['t3.new.natural']}：单元格是百分比格式（“0%”），显示为“50%”，实际数字是0.5" in out, out
    assert f"{coords['t2.fees.amount']}：单元格是以千为单位缩放的格式" in out, out
    assert "显示为“2”，实际数字是1500" in out, out
    assert f"{coords['t3.new.business']}：单元格是分数格式" in out and "显示为“1/4”，实际数字是0.25" in out, out
    assert f"{coords['t3.new.research']}：" not in out, out  # `#,##0` shows 1,234: the number itself
    assert files_under(project.data) == before


# -- the cover's contact fields ----------------------------------------------------------------------------------


def _fill_cover(path: Path, fields: dict[str, object], save_as: Path | None = None) -> Path:
    wb = load_workbook(path)
    ws = wb[layout.COVER]
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    for label, value in fields.items():
        ws.cell(rows[label], 2).value = value
    wb.save(save_as or path)
    return save_as or path


def _cover_fields(path: Path) -> dict[str, object]:
    ws = load_workbook(path)[layout.COVER]
    return {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, ws.max_row + 1)
            if ws.cell(r, 1).value in layout.CONTACT_FIELDS}


def test_contact_fields_are_kept_and_written_on_the_next_form(synthetic: Project, tmp_path: Path) -> None:
    """What an office writes on the cover (a name with spaces, a phone typed as a number or as text, a date
    cell or a date typed as text) goes to data/contacts.csv, one row per office-year; the form issued again
    carries it; ingesting either again changes nothing."""
    from datetime import datetime

    from nianbao.contacts import COLUMNS, contacts_file

    assert tuple(COLUMNS) == layout.CONTACT_FIELDS
    project = copy_of(synthetic, tmp_path / "p")
    first, second = sorted(read_offices(project))[:2]
    a = _fill_cover(_form(project, first, 2024, tmp_path / "forms"),
                    {"填表人": " 张三 ", "联系电话": 13800000000, "填报日期": datetime(2025, 1, 15)})
    b = _fill_cover(_form(project, second, 2021, tmp_path / "forms"),
                    {"填表人": "李四", "联系电话": "0871-63132651", "填报日期": "2022年1月10日"})
    code, out = cli("ingest", "--project", project.root, b, a)
    assert code == 0, out
    assert contacts_file(project).read_text(encoding="utf-8") == (
        "office,year,filled_by,phone,date\n"
        f"{first},2024,张三,13800000000,2025-01-15\n"
        f"{second},2021,李四,0871-63132651,2022年1月10日\n")
    before = files_under(project.root)
    code, out = cli("ingest", "--project", project.root, a, b)
    assert code == 0 and files_under(project.root) == before, out
    code, out = cli("workbook", first, 2024, "--project", project.root, "--out", tmp_path / "again", "--force")
    again = tmp_path / "again" / a.name
    assert code == 0 and _cover_fields(again) == {"填表人": "张三", "联系电话": "13800000000", "填报日期": "2025-01-15"}
    code, out = cli("ingest", "--project", project.root, again)
    assert code == 0 and files_under(project.root) == before, out
    # A form sent back with the cover left empty keeps what the office wrote before; a new name replaces it.
    blank = _fill_cover(again, {"填表人": None, "联系电话": None, "填报日期": None}, tmp_path / "blank.xlsx")
    assert cli("ingest", "--project", project.root, "--office", first, blank)[0] == 0
    assert files_under(project.root) == before
    _fill_cover(again, {"填表人": "王五"})
    assert cli("ingest", "--project", project.root, again)[0] == 0
    assert f"{first},2024,王五,13800000000,2025-01-15\n" in contacts_file(project).read_text(encoding="utf-8")


@pytest.mark.parametrize("text, line, problem", [
    ("office,year,name\n", 1, "表头"),
    ("office,year,filled_by,phone,date\nshili-0001,2024,张三,1,2025-01-15\nshili-0001,2024,李四,,\n", 3, "重复"),
    ("office,year,filled_by,phone,date\nshili-0001,二〇二四,张三,,\n", 2, "年"),
    ("office,year,filled_by,phone,date\nshili-0001,2024,张三\n", 2, "字段"),
])
def test_a_bad_contacts_file_is_named_with_its_line(synthetic: Project, tmp_path: Path, text: str, line: int,
                                                   problem: str) -> None:
    from nianbao.contacts import contacts_file

    project = copy_of(synthetic, tmp_path / "p")
    contacts_file(project).write_text(text, encoding="utf-8")
    code, out = cli("workbook", "--project", project.root, "--out", tmp_path / "forms", "--years", "2024")
    assert code == 2 and f"data/contacts.csv:{line}" in out and problem in out, out
    assert not (tmp_path / "forms").exists() or not list((tmp_path / "forms").iterdir())
