"""Hostile workbooks: what offices send back instead of the form as filled. Each kind is refused with a message in
Chinese that names the file and the sheet and cell (or says what the file is and what to do), exit 2, no
traceback, and nothing written; or read as the office meant it.

Kinds: files that are not an .xlsx (Excel 97-2003, OpenDocument, a password, a damaged archive or sheet, the
lock file Excel leaves, an empty file); sheets copied or hidden so that two hold one table; data cells merged;
numbers shown as dates; numbers a spreadsheet cannot hold exactly; cells with line breaks.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import files_under
from openpyxl import load_workbook

from nianbao.cli import main
from nianbao.data import read_offices
from nianbao.project import Project
from nianbao.synth import synth
from nianbao.workbook import layout
from nianbao.workbook.read import read_workbook
from nianbao.workbook.write import file_name

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
YEAR = 2024


def cli(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Project, Path]:
    """One office, 2023-2024, and its 2024 form as `nianbao workbook` writes it."""
    root = tmp_path_factory.mktemp("hostile-wb")
    project = Project(root / "p")
    synth(project.root, 1, range(2023, 2025), 11, 0.0)
    office = next(iter(read_offices(project)))
    code, out = cli("workbook", office, YEAR, "--project", project.root, "--out", root / "forms")
    assert code == 0, out
    return project, root / "forms" / file_name(read_offices(project)[office], YEAR)


@pytest.fixture
def form(made, tmp_path) -> tuple[Project, Path]:
    """A copy of the project and of its form, for one test to spoil."""
    project, path = made
    shutil.copytree(project.root, tmp_path / "p")
    shutil.copy(path, tmp_path / path.name)
    return Project(tmp_path / "p"), tmp_path / path.name


def refused(project: Project, path: Path, *expected: str) -> str:
    """Ingest `path`: exit 2, each of `expected` in the output, nothing in data/ changed."""
    before = files_under(project.data)
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 2, out
    for text in expected:
        assert text in out, (text, out)
    assert files_under(project.data) == before
    return out


def coord(path: Path, ref: str) -> tuple[str, str]:
    sheet, cell = read_workbook(path, year=YEAR).cells[ref].split("!")
    return sheet, cell


# --- files that are not an .xlsx ---------------------------------------------------------------------------

@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize(("to", "name", "expected"), [
    ("xls", "x.xls", "这是 Excel 97-2003 格式（.xls）的工作簿"),
    ("xls", "x.xlsx", "这是 Excel 97-2003 格式（.xls）的工作簿"),  # renamed: told by content, not by name
    ("ods", "x.ods", "这是 OpenDocument 表格（.ods）"),
    ("ods", "x.xlsx", "这是 OpenDocument 表格（.ods）"),
])
def test_other_spreadsheet_formats_say_what_they_are(form, tmp_path, to: str, name: str, expected: str) -> None:
    import subprocess

    project, path = form
    out_dir = tmp_path / "conv"
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", to,
                    "--outdir", out_dir, path], check=True, capture_output=True, timeout=180)
    converted = next(out_dir.iterdir())
    target = tmp_path / name
    converted.rename(target)
    refused(project, target, expected, "另存为", name)


def test_a_password_protected_workbook_says_so(form, tmp_path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    project, path = form
    out = io.BytesIO()
    with path.open("rb") as f:
        OOXMLFile(f).encrypt("密码123", out)
    locked = tmp_path / "加密.xlsx"
    locked.write_bytes(out.getvalue())
    refused(project, locked, "文件设有打开密码（已加密）", "加密.xlsx")


def _rezip(path: Path, dest: Path, change) -> Path:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(dest, "w") as out:
        for item in src.namelist():
            data = change(item, src.read(item))
            if data is not None:
                out.writestr(item, data)
    return dest


@pytest.mark.parametrize("damage", ["sheet cut short", "styles broken", "styles missing", "workbook missing",
                                    "truncated", "empty"])
def test_a_damaged_workbook_is_named_without_a_traceback(form, tmp_path, damage: str) -> None:
    project, path = form
    bad = tmp_path / "坏.xlsx"
    if damage == "truncated":
        bad.write_bytes(path.read_bytes()[:3000])
    elif damage == "empty":
        bad.write_bytes(b"")
    else:
        def change(item: str, data: bytes) -> bytes | None:
            if damage == "sheet cut short" and item == "xl/worksheets/sheet3.xml":
                return data[: len(data) // 2]
            if damage == "styles broken" and item == "xl/styles.xml":
                return b"<x"
            if item == {"styles missing": "xl/styles.xml", "workbook missing": "xl/workbook.xml"}.get(damage):
                return None
            return data
        _rezip(path, bad, change)
    out = refused(project, bad, "坏.xlsx")
    assert any(t in out for t in ("工作簿已损坏", "不是可读取的 .xlsx 工作簿", "文件是空的")), out


def test_the_lock_file_of_an_open_workbook_is_skipped_with_a_note(form, tmp_path) -> None:
    project, path = form
    lock = tmp_path / f"~${path.name}"
    lock.write_bytes(bytes([4]) + b"user".ljust(53, b" ") + b"\x00" * 108)  # as Excel writes it: 165 bytes
    before = files_under(project.data)
    code, out = cli("ingest", "--project", project.root, path, lock)  # what `forms/*.xlsx` names
    assert code == 0 and "临时锁定文件" in out and f"跳过 {lock}" in out, out
    code, out = cli("ingest", "--project", project.root, lock)
    assert code == 2 and "临时锁定文件" in out, out
    assert files_under(project.data) == before


def test_a_form_saved_as_xlsm_or_renamed_is_read(form, tmp_path) -> None:
    project, path = form
    for name in ("表.xlsm", "表.XLSX", "表.xls"):
        copy = tmp_path / name
        shutil.copy(path, copy)
        code, out = cli("ingest", "--project", project.root, copy)
        assert code == 0 and "读到200/200个单元格" in out, out


def test_audit_of_a_workbook_says_to_ingest_it(form) -> None:
    _, path = form
    code, out = cli("audit", path)
    assert code == 2 and "这是 Excel 工作簿（.xlsx），不是发布的报告" in out, out


# --- two sheets of one table, merged cells -------------------------------------------------------------------

@pytest.mark.parametrize("hide_original", [False, True])
def test_a_table_on_two_sheets_is_refused_naming_both(form, hide_original: bool) -> None:
    project, path = form
    sheet, cell = coord(path, "t3.new.natural")
    wb = load_workbook(path)
    copy = wb.copy_worksheet(wb[sheet])
    copy.title = f"{sheet} (2)"
    copy[cell] = 99
    if hide_original:
        wb[sheet].sheet_state = "hidden"
    wb.save(path)
    hidden = "（隐藏）" if hide_original else ""
    refused(project, path, f"有2张工作表都是表三（“{sheet}”{hidden}、“{sheet} (2)”）", "请删去多余的工作表")


def test_merged_data_cells_are_refused_naming_the_cell_merged_away(form) -> None:
    project, path = form
    sheet, first = coord(path, "t3.new.natural")
    _, second = coord(path, "t3.new.business")
    wb = load_workbook(path)
    wb[sheet][first] = 5
    wb[sheet].merge_cells(f"{first}:{second}")
    wb.save(path)
    refused(project, path, f"{sheet}!{second}：已与{first}合并为一个单元格（{first}:{second}）", "请取消合并")


def test_hidden_rows_and_an_extra_sheet_are_read(form) -> None:
    project, path = form
    sheet, cell = coord(path, "t3.new.natural")
    wb = load_workbook(path)
    wb[sheet].row_dimensions[int(cell[1:])].hidden = True
    wb.create_sheet("填报说明", 0)["A1"] = "本表由办公室填写，表三为本年数"
    wb.save(path)
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 0 and "读到200/200个单元格" in out, out


# --- values ----------------------------------------------------------------------------------------------------

def _set(path: Path, ref: str, value: object, number_format: str | None = None) -> tuple[str, str]:
    sheet, cell = coord(path, ref)
    wb = load_workbook(path)
    wb[sheet][cell] = value
    if number_format:
        wb[sheet][cell].number_format = number_format
    wb.save(path)
    return sheet, cell


@pytest.mark.parametrize(("value", "number_format", "shown"), [
    (datetime(2024, 3, 5), None, "2024-03-05"),  # `3-5` typed: Excel makes it a date
    (12, "yyyy-mm-dd", "1900-01-12"),  # 12 typed into a cell formatted as a date
    (datetime(2024, 3, 5, 8, 30), None, "2024-03-05 08:30:00"),
])
def test_a_number_shown_as_a_date_is_refused_saying_so(form, value: object, number_format: str | None,
                                                       shown: str) -> None:
    project, path = form
    sheet, cell = _set(path, "t3.new.natural", value, number_format)
    refused(project, path, f"{sheet}!{cell}：单元格是日期或时间格式，显示为“{shown}”", "改为“常规”")


@pytest.mark.parametrize(("ref", "value", "number_format", "what", "shown", "number"), [
    ("t3.new.natural", 0.5, "0%", "百分比格式", "50%", "0.5"),  # 50 meant, 0.5 in the file
    ("t2.fees.amount", 0.125, "0.00%", "百分比格式", "12.50%", "0.125"),
    ("t3.new.natural", 12, "0%", "百分比格式", "1200%", "12"),
    ("t2.fees.amount", 1.5, "# ?/?", "分数格式", "1 1/2", "1.5"),
    ("t2.fees.amount", 0.25, "?/4", "分数格式", "1/4", "0.25"),
    ("t3.new.natural", 12000, "0.00E+00", "科学记数格式", "1.20E+04", "12000"),
    ("t3.new.natural", 12, '0"千"', "带文字的自定义格式", "12千", "12"),
    ("t2.fees.amount", 3, '"约"0.0', "带文字的自定义格式", "约3.0", "3"),
    ("t3.new.natural", 12, "[DBNum1][$-804]G/通用格式", "中文数字格式", "一十二", "12"),
    ("t3.new.natural", 1500, "0,", "以千为单位缩放的格式", "2", "1500"),
    ("t2.fees.amount", 1234567.8, "0.0,,", "以千为单位缩放的格式", "1.2", "1234567.8"),
    ("t3.new.natural", 1234567, "#,##0,", "以千为单位缩放的格式", "1,235", "1234567"),
    ("t3.new.natural", 0, "0;-0;;@", "不显示这个数字的格式", "（空白）", "0"),  # a zero hidden: looks not reported
])
def test_a_number_its_format_shows_as_something_else_is_refused(form, ref: str, value: object, number_format: str,
                                                                 what: str, shown: str, number: str) -> None:
    """A number whose cell format changes what the office sees: the office checked what is shown, the file holds
    the number; the message names the cell, the format, both, and what to do (as for a number shown as a date)."""
    project, path = form
    sheet, cell = _set(path, ref, value, number_format)
    refused(project, path, f"{sheet}!{cell}：单元格是{what}", f"显示为“{shown}”，实际数字是{number}；",
            "改为“常规”或“数值”")


@pytest.mark.parametrize(("ref", "value", "number_format", "expected"), [
    ("t3.new.natural", 1234, "#,##0", "1234"),
    ("t3.new.natural", 12, "G/通用格式", "12"),  # Chinese Excel's name of General
    ("t3.new.natural", 12, "[Red]0", "12"),
    ("t3.new.natural", 12, "0_);[Red](0)", "12"),
    ("t2.fees.amount", 12.5, "¥#,##0.00", "12.50"),
    ("t2.fees.amount", 12.5, "[$¥-804]#,##0.00", "12.50"),
    ("t2.fees.amount", 12.5, '_ * #,##0.00_ ;_ * -#,##0.00_ ;_ * "-"??_ ;_ @_ ', "12.50"),  # 会计专用
    ("t2.fees.amount", 0, '_ * #,##0.00_ ;_ * -#,##0.00_ ;_ * "-"??_ ;_ @_ ', "0"),  # its zero shown as `-`
    ("t2.fees.amount", 7.489, "0.0000", "7.4890"),
])
def test_a_number_its_format_only_decorates_is_read(form, ref: str, value: object, number_format: str,
                                                    expected: str) -> None:
    """Grouping, colours, a currency sign, padding and decimals show the number as it is: read as it shows."""
    _, path = form
    _set(path, ref, value, number_format)
    assert read_workbook(path, year=YEAR).values[ref] == expected


def test_a_signed_number_shown_without_its_sign_is_refused(tmp_path_factory) -> None:
    """F2019 本年增/减: -3 in a cell whose format's negative section drops the sign shows as 3."""
    root = tmp_path_factory.mktemp("signed")
    project = Project(root / "p")
    synth(project.root, 1, range(2019, 2021), 11, 0.0)
    office = next(iter(read_offices(project)))
    code, out = cli("workbook", office, 2020, "--project", project.root, "--out", root / "forms")
    assert code == 0, out
    path = root / "forms" / file_name(read_offices(project)[office], 2020)
    ref = next(r for r, k in read_workbook(path, year=2020).format.cell_kinds().items() if k.name == "SIGNED")
    sheet, cell = read_workbook(path, year=2020).cells[ref].split("!")
    wb = load_workbook(path)
    wb[sheet][cell] = -3
    wb[sheet][cell].number_format = "0;[Red]0"
    wb.save(path)
    refused(project, path, f"{sheet}!{cell}：单元格是负数不显示负号的格式", "显示为“3”，实际数字是-3")
    wb[sheet][cell].number_format = "0;[Red]-0"
    wb.save(path)
    assert read_workbook(path, year=2020).values[ref] == "-3"


@pytest.mark.parametrize("value", [12345678901234567890, 1.5e300, 1234567890123456.7])
def test_a_number_a_spreadsheet_cannot_hold_exactly_is_refused(form, value: object) -> None:
    project, path = form
    sheet, cell = _set(path, "t3.new.natural", value)
    out = refused(project, path, f"{sheet}!{cell}：数字过大", "15位有效数字")
    assert max(len(line) for line in out.splitlines()) < 300, out  # never a 300-digit number


def test_line_breaks_in_a_cell_stay_on_one_line_of_the_message(form) -> None:
    project, path = form
    sheet, cell = _set(path, "t3.new.natural", "1\n2")
    refused(project, path, f"{sheet}!{cell}：应填写非负整数（单位：件），读到“1↵2”")
    wb = load_workbook(path)
    wb[sheet][cell] = "12\n"
    wb.save(path)
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 0 and "：“12”读作 12" in out, out


@pytest.mark.parametrize(("value", "number_format", "expected"), [
    (2024, "yyyy-mm-dd", None),  # the year formatted as a date (1905-07-16) is still 2024
    (2024.0, None, None),
    ("２０２４年", None, None),
    ("二〇二四年", None, "封面的“报告年度”是“二〇二四年”，不是四位数的年份"),
    (datetime(2024, 1, 1), None, "封面的“报告年度”是“2024-01-01”，不是四位数的年份"),
])
def test_the_cover_year_as_typed(form, value: object, number_format: str | None, expected: str | None) -> None:
    project, path = form
    wb = load_workbook(path)
    ws = wb[layout.COVER]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == layout.FIELD_YEAR)
    ws.cell(row, 2).value = value
    if number_format:
        ws.cell(row, 2).number_format = number_format
    wb.save(path)
    if expected:
        refused(project, path, expected, "--year")
    else:
        code, out = cli("ingest", "--project", project.root, path)
        assert code == 0 and "2024年（F2021）" in out, out


@pytest.mark.parametrize("office_id", [530111, 530111.0, "530111"])
def test_a_cover_code_that_is_not_its_names_says_whose_the_name_is(form, office_id: object) -> None:
    project, path = form
    office = next(iter(read_offices(project)))
    wb = load_workbook(path)
    ws = wb[layout.COVER]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == layout.FIELD_ID)
    ws.cell(row, 2).value = office_id
    wb.save(path)
    refused(project, path, "封面的机关代码 530111 与机关名称", f"的机关代码是 {office}", "字段 机关代码")


# --- a new user's first steps ------------------------------------------------------------------------------------

def test_a_registry_row_typed_without_its_empty_last_column_says_to_keep_the_comma(made, tmp_path) -> None:
    project, _ = made
    root = tmp_path / "p"
    shutil.copytree(project.root, root)
    with (root / "data" / "offices.csv").open("a", encoding="utf-8") as f:
        f.write("my-office,示例县测试局,示例省示例市示例区,示例路1号,100000,010-1234567\n")
    code, out = cli("new", "my-office", YEAR, "--project", root)
    assert code == 2 and "实有 6 个；没有内容的字段也须保留逗号" in out and "行尾应有一个“,”" in out, out
    code, out = cli("check", "my-office", YEAR, "--project", root)
    assert code == 2 and "params/ 下没有 my-office 2024 的参数文件：请先运行 nianbao new my-office 2024" in out, out


def test_ingest_names_the_form_cells_of_a_broken_identity(form) -> None:
    """The analyst sees where in the form the office's figures disagree (the sheet's own 校验 column), not only
    the figures file's lines that `nianbao check` names later."""
    project, path = form
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 0 and "勾稽关系不符" not in out, out  # the synthetic figures hold every identity
    refs = ("t3.new.natural", "t3.carry_in.natural", "t3.total.natural", "t3.carry_out.natural")
    cells = {ref: "!".join(coord(path, ref)) for ref in refs}
    sheet, cell = cells["t3.carry_out.natural"].split("!")
    wb = load_workbook(path)
    wb[sheet][cell] = 999
    wb.save(path)
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 0, out
    line = next(x for x in out.splitlines() if "T3-BALANCE：表三自然人不满足勾稽关系" in x)
    assert "严重问题，报告将不予发布" in line and f"{cells['t3.carry_out.natural']}=999" in line, line
    assert all(c in line for c in cells.values()), line


def test_a_note_row_inserted_above_table_four_figures_is_passed_over(form) -> None:
    """Table 四's figures have no row label: they are the line under its header. A row inserted there for a
    note (`注：…` in column A, a data column) is not that line."""
    project, path = form
    sheet, cell = coord(path, "t4.review.upheld")
    row = int(cell[1:])
    wb = load_workbook(path)
    ws = wb[sheet]
    ws.insert_rows(row)  # openpyxl moves the cells, not the formulas: move the totals' as Excel would
    for c in ws[row + 1]:
        if isinstance(c.value, str) and c.value.startswith("="):
            c.value = c.value.replace(f"{row})", f"{row + 1})").replace(f"{row}:", f"{row + 1}:")
    ws.cell(row, 1).value = "注：下行为本年数"
    wb.save(path)
    read = read_workbook(path, year=YEAR)
    assert read.cells["t4.review.upheld"] == f"{sheet}!A{row + 1}"
    code, out = cli("ingest", "--project", project.root, path)
    assert code == 0 and "读到200/200个单元格" in out, out


@pytest.mark.parametrize(("old_year", "new_year", "old_id", "new_id"), [(2020, 2024, "F2019", "F2021"),
                                                                         (2024, 2020, "F2021", "F2019")])
def test_a_form_of_the_other_version_with_its_cover_changed_says_so(form, tmp_path, old_year: int, new_year: int,
                                                                     old_id: str, new_id: str) -> None:
    project, _ = form
    office = next(iter(read_offices(project)))
    code, out = cli("new", office, 2020, "--project", project.root)
    assert code == 0, out
    code, out = cli("workbook", office, old_year, "--project", project.root, "--out", tmp_path / "f", "--force")
    assert code == 0, out
    path = tmp_path / "f" / file_name(read_offices(project)[office], old_year)
    wb = load_workbook(path)
    ws = wb[layout.COVER]
    for r in range(1, ws.max_row + 1):
        label = ws.cell(r, 1).value
        if label in (layout.FIELD_YEAR, layout.FIELD_FORMAT):
            ws.cell(r, 2).value = new_year if label == layout.FIELD_YEAR else new_id
    target = tmp_path / file_name(read_offices(project)[office], new_year)
    wb.save(target)
    refused(project, target, f"这份报表的表格是{old_id}格式的，封面却是{new_year}年（应为{new_id}格式）",
            "nianbao workbook 重新生成")


def test_two_different_forms_of_one_office_year_in_one_run_take_the_first_only(form, tmp_path) -> None:
    """A corrected copy beside the first (`…2024(1).xlsx`): which one is meant is a guess. The first is written,
    the second refused naming the first and the cells that differ; the same form twice is fine."""
    project, path = form
    same = tmp_path / path.name.replace(".xlsx", "(副本).xlsx")
    shutil.copy(path, same)
    code, out = cli("ingest", "--project", project.root, path, same)
    assert code == 0, out
    sheet, cell = coord(path, "t3.new.natural")
    corrected = tmp_path / path.name.replace(".xlsx", "(1).xlsx")
    wb = load_workbook(path)
    wb[sheet][cell] = 77
    wb.save(corrected)
    code, out = cli("ingest", "--project", project.root, path, corrected)
    assert code == 2, out
    assert f"与同一次导入的“{path.name}”是同一机关、同一年度的报表" in out and f"{sheet}!{cell}" in out, out
    figures = project.figures_file(next(iter(read_offices(project)))).read_text(encoding="utf-8")
    assert f"{YEAR},t3,new,natural,77" not in figures


@pytest.mark.parametrize(("typed", "read"), [("1\u200b2", "12"), ("\ufeff12", "12"), ("12\u00ad", "12"),
                                             ("12\xa0", "12"), ("１２\u3000", "12")])
def test_invisible_and_wide_spaces_pasted_into_a_cell_are_read_as_shown(form, typed: str, read: str) -> None:
    _, path = form
    _set(path, "t3.new.natural", typed)
    got = read_workbook(path, year=YEAR)
    assert got.values["t3.new.natural"] == read and got.originals["t3.new.natural"] == typed


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize(("formula", "error"), [("=1/0", "#DIV/0!"), ('=SUM("x")+"y"', "#VALUE!")])
def test_a_formula_error_cached_by_a_spreadsheet_names_the_cell_and_the_formula(form, tmp_path, formula: str,
                                                                                 error: str) -> None:
    import subprocess

    project, path = form
    sheet, cell = _set(path, "t3.new.natural", formula)
    out_dir = tmp_path / "saved"
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "xlsx",
                    "--outdir", out_dir, path], check=True, capture_output=True, timeout=180)
    saved = out_dir / path.name
    refused(project, saved, f"{sheet}!{cell}：公式出错（{error}），请改正公式或直接填写数字（公式 ")
