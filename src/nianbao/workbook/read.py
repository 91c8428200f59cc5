"""Reading a filled workbook back: office, year and every data cell's value, found by labels.

The cover gives the office and the year (`--office`/`--year` override); the year gives the format. Each
table's sheet is the one whose labels are that table's (sheets may be renamed), each data row is found by
its row label as `nianbao.published.labels` matches published reports (rows may be inserted), table 四's
row by the header line above it, and each column by the labels the grid puts in it (columns may be
inserted). A formula's cached value is used as Excel, WPS and LibreOffice saved it; a formula with none is
computed (`workbook.formula`). Numbers typed as text (`'12`, `12 `, `１２`) are read as published cells are
(`published.values`); an empty cell is not reported. Every problem is collected and named by file, sheet
and cell (`示例街道2024.xlsx 表三!F12：…`); one problem and nothing is returned."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import to_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.formula import ArrayFormula

from .. import filekind
from ..exceptions import InputError, NianbaoError
from ..formats import FORMATS, Format, Kind, Label, Role, Severity, Table, format_for
from ..formats.rules import AMOUNT_RE, COUNT_RE, SIGNED_RE
from ..project import OFFICE_ID
from ..published.labels import key, row_index
from ..published.values import read_cell
from ..render.html import TABLE_NAMES
from . import layout
from .formula import FormulaError, evaluate
from .numfmt import decimals, disguise

_PATTERN = {Kind.COUNT: (COUNT_RE, "应填写非负整数（单位：件）"), Kind.SIGNED: (SIGNED_RE, "应填写整数"),
            Kind.AMOUNT: (AMOUNT_RE, "应填写非负数（单位：万元）")}
_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"}
YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


@dataclass
class FilledWorkbook:
    """One filled workbook, read."""

    file: str
    office_id: str | None  # from the cover (None when it has none)
    office_name: str | None
    year: int
    format: Format
    values: dict[str, str | None]  # every data cell → stored text, None when not reported
    cells: dict[str, str] = field(default_factory=dict)  # `table.row.column` → `表三!F12`
    originals: dict[str, str] = field(default_factory=dict)  # cells whose stored text differs from the cell's
    contact: dict[str, str] = field(default_factory=dict)  # 填表人, 联系电话, 填报日期 as filled

    @property
    def not_reported(self) -> list[str]:
        return [ref for ref, value in self.values.items() if value is None]


Sheets = dict[str, dict[tuple[int, int], tuple[object, str]]]  # title → (row, column) → (value, number format)


@dataclass(frozen=True)
class SheetFacts:
    """What the read-only mode does not give of a sheet: whether it is hidden, and its merged ranges."""

    hidden: bool
    merged: tuple[tuple[int, int, int, int], ...]  # (min_col, min_row, max_col, max_row) of each merged range


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def _sheets(path: Path, data_only: bool, facts: dict[str, SheetFacts] | None = None) -> Sheets:
    """Every non-empty cell of every sheet, in one pass (openpyxl's read-only mode: the fastest to load);
    `facts`, when given, is filled with each sheet's `SheetFacts` (its merged ranges read from the sheet's XML,
    which the read-only mode skips)."""
    # A file object, not a path: openpyxl refuses a path by its suffix (a form renamed `.xls`), not its content.
    with path.open("rb") as file:
        return _read_sheets(file, data_only, facts)


def _read_sheets(file: BinaryIO, data_only: bool, facts: dict[str, SheetFacts] | None) -> Sheets:
    wb = load_workbook(file, read_only=True, data_only=data_only)
    try:
        out: Sheets = {}
        for ws in wb.worksheets:
            ws.reset_dimensions()  # some writers record wrong dimensions
            out[ws.title] = {(c.row, c.column): (c.value, c.number_format) for row in ws.iter_rows() for c in row
                             if c.value is not None}
            if facts is not None:
                xml = wb._archive.read(ws._worksheet_path)  # openpyxl keeps both for the read-only mode
                merged = tuple(range_boundaries(m.decode()) for m in _MERGE.findall(xml))
                facts[ws.title] = SheetFacts(ws.sheet_state != "visible", merged)  # type: ignore[arg-type]
        return out
    finally:
        wb.close()


class _Cells:
    """Cell values as a spreadsheet shows them: a formula's cached value, else the formula computed."""

    def __init__(self, formulas: Sheets, cached: Sheets) -> None:
        self.formulas, self.cached = formulas, cached
        self.memo: dict[tuple[str, int, int], object] = {}

    def value(self, sheet: str, row: int, col: int) -> object:
        here = (sheet, row, col)
        if here in self.memo:
            if self.memo[here] is _BUSY:
                raise FormulaError("循环引用")
            return self.memo[here]
        raw = self.formulas[sheet].get((row, col), (None, ""))[0]
        if isinstance(raw, ArrayFormula):
            raw = raw.text
        if isinstance(raw, str) and raw.startswith("=") and len(raw) > 1:
            value = self.cached.get(sheet, {}).get((row, col), (None, ""))[0]
            if value is None:
                self.memo[here] = _BUSY
                try:
                    value = evaluate(raw, lambda s, cells: self.range(s or sheet, cells))
                finally:
                    self.memo.pop(here)
        else:
            value = raw
        self.memo[here] = value
        return value

    def range(self, sheet: str, cells: str) -> list[object]:
        if sheet not in self.formulas:
            raise FormulaError(f"#REF!：没有工作表“{sheet}”")
        min_col, min_row, max_col, max_row = range_boundaries(cells)
        return [self.value(sheet, r, c) for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)]


_BUSY = object()


def stored(value: object, kind: Kind, number_format: str = "General") -> tuple[str | None, str | None]:
    """The text nianbao stores for a cell's value, and the cell's own text when that differs (`１２` → 12).
    Raises ValueError with the Chinese reason when the value is not a number of `kind`, or when the cell shows
    something else than its number (a date; `number_format` a percentage, a fraction, … : `numfmt.disguise`)."""
    original = None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        raise ValueError(f"应填写数字，读到“{'TRUE' if value else 'FALSE'}”")
    if isinstance(value, (datetime, date, time)):
        # A number typed into a cell formatted as a date shows as one (12 → 1900-01-12), and `3-5` typed into
        # a plain cell becomes a date: either way the figure meant is not known.
        raise ValueError(f"单元格是日期或时间格式，显示为“{_date_text(value)}”；应填写数字，请把单元格格式改为"
                         "“常规”或“数值”后重新输入")
    if isinstance(value, (int, float)) and (disguised := disguise(value, number_format)):
        # The same number shown as something else (0.5 as `50%`, 1500 as `2` under `0,`): the office read and
        # checked what is shown, the file holds the number, and which one was meant is not known.
        what, shown = disguised
        number = format(Decimal(format(value, ".15g")), "f")
        raise ValueError(f"单元格是{what}（“{_shown(number_format)}”），显示为“{_shown(shown)}”，实际数字是{number}；"
                         "应填写数字，请把单元格格式改为“常规”或“数值”，核对后重新输入")
    if isinstance(value, (int, float)) and abs(value) >= MAX_EXACT and Decimal(value) != Decimal(f"{value:.15g}"):
        raise ValueError(f"数字过大（{value:.15g}），超过电子表格能准确保存的15位有效数字；请核对")
    if isinstance(value, (int, float)):
        # A float to the 15 significant digits a spreadsheet keeps and shows: `=1.1+2.2` is 3.3 there, not
        # 3.3000000000000003 (which T2-AMT-DEC would flag as more than 4 decimals).
        number = Decimal(value) if isinstance(value, int) else Decimal(format(value, ".15g"))
        shown = decimals(value, number_format)
        if kind is Kind.AMOUNT and shown and -number.as_tuple().exponent < shown:
            number = number.quantize(Decimal(1).scaleb(-shown))
        elif isinstance(value, float) and value.is_integer():
            number = Decimal(int(value))
        text = format(number, "f")
    else:
        raw = str(value)
        if raw.strip() in _ERRORS:
            raise ValueError(f"公式出错（{raw.strip()}），请改正公式或直接填写数字")
        cell = read_cell(_INVISIBLE.sub("", raw).strip().removeprefix("'"), kind)
        if cell.value is None:
            return None, None
        text, original = cell.value, raw
    pattern, problem = _PATTERN[kind]
    if not re.match(pattern, text):
        raise ValueError(f"{problem}，读到“{_shown(original or text)}”")
    return text, original if original != text else None


# Characters a copy from a web page or a chat leaves in a cell, invisible there: zero-width space and joiners,
# word joiner, soft hyphen, a BOM. `1\u200b2` shows as 12 and is read so (listed, as text numbers are).
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\u00ad\ufeff]")
MAX_EXACT = 10**15  # a spreadsheet keeps 15 significant digits: from 10¹⁵ on, more digits than that were lost


def _shown(value: object) -> str:
    """A cell's value for a one-line message: line breaks shown as ↵."""
    return str(value).replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")


def _date_text(value: datetime | date | time) -> str:
    if isinstance(value, datetime) and value.time() == time():
        return value.date().isoformat()
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()


def _strings(cells: dict[tuple[int, int], tuple[object, str]]) -> dict[str, list[tuple[int, int]]]:
    """Label key → (row, column) of every text cell of a sheet that is not a formula."""
    found: dict[str, list[tuple[int, int]]] = {}
    for where, (value, _) in sorted(cells.items()):
        if isinstance(value, str) and not value.startswith("="):
            k = key(value)
            if k:
                found.setdefault(k, []).append(where)
    return found


def _cover(sheets: Sheets) -> tuple[dict[str, object], dict[str, str]]:
    """The cover's fields (label → the value right of it), from the sheet that holds 机关代码, and where each
    value is (label → `封面!B4`)."""
    wanted = {key(f): f for f in (layout.FIELD_NAME, layout.FIELD_ID, layout.FIELD_YEAR, layout.FIELD_FORMAT,
                                  *layout.CONTACT_FIELDS)}
    for title, cells in sheets.items():
        rows: dict[int, list[tuple[int, object]]] = {}
        for (r, c), (value, _) in sorted(cells.items()):
            rows.setdefault(r, []).append((c, value))
        fields: dict[str, object] = {}
        places: dict[str, str] = {}
        for r, values in rows.items():
            for i, (_, value) in enumerate(values[:-1]):
                if isinstance(value, str) and key(value) in wanted and wanted[key(value)] not in fields:
                    fields[wanted[key(value)]] = values[i + 1][1]
                    places[wanted[key(value)]] = f"{title}!{get_column_letter(values[i + 1][0])}{r}"
                    break
        if layout.FIELD_ID in fields or layout.FIELD_YEAR in fields:
            return fields, places
    return {}, {}


def contact_text(value: object) -> str:
    """A contact field of the cover as text: a date cell as `2025-01-15`, a phone number typed as a number
    without `.0`, text without surrounding spaces; "" when empty."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _year_of(value: object) -> int | None:
    if isinstance(value, datetime):  # 2024 in a cell formatted as a date shows as 1905-07-16: its serial is 2024
        serial = to_excel(value)
        value = float(serial) if float(serial).is_integer() else value
    text = str(value).translate(str.maketrans("０１２３４５６７８９", "0123456789")).strip().removesuffix("年")
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return int(text) if re.fullmatch(r"(19|20)\d{2}", text) else None


def read_workbook(path: Path, *, office: str | None = None, year: int | None = None) -> FilledWorkbook:
    """Read a filled workbook. `office`/`year` take it as that office's or year's whatever its cover and file
    name say. Raises `InputError` listing every problem, each with file, sheet and cell, in Chinese."""
    name = path.name
    wrong_kind = filekind.problem(path, "xlsx")
    if wrong_kind:
        raise InputError(wrong_kind, file=path)
    try:
        facts: dict[str, SheetFacts] = {}
        formulas = _sheets(path, data_only=False, facts=facts)
        cached = _sheets(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile) as exc:
        raise InputError(f"不是可读取的 .xlsx 工作簿（{exc}）", file=path) from None
    except OSError as exc:
        raise InputError(f"无法读取文件（{exc.strerror or exc}）", file=path) from None
    except Exception as exc:  # openpyxl raises whatever its XML parser or its style tables raise
        raise InputError(f"工作簿已损坏，无法读取（{type(exc).__name__}: {exc}）；请用 Excel、WPS 或 "
                         "LibreOffice 打开，确认内容无误后另存为 .xlsx 再导入", file=path) from None
    cover, places = _cover(cached)
    printed_year = cover.get(layout.FIELD_YEAR)
    cover_year = _year_of(printed_year) if printed_year is not None else None
    if year is None:
        if cover_year is None and printed_year is not None and str(printed_year).strip():
            raise InputError(f"封面的“{layout.FIELD_YEAR}”是“{_shown(contact_text(printed_year))}”，不是四位数的年份，"
                             "无法确定年度（请改正封面，或用 --year 指定）", file=path)
        if cover_year is None:
            raise InputError(f"封面没有“{layout.FIELD_YEAR}”，无法确定年度（请用 --year 指定）", file=path)
        named = YEAR_IN_NAME.findall(path.stem)
        if named and str(cover_year) not in named:
            raise InputError(f"文件名是{named[0]}年，封面却是{cover_year}年的报表，可能交错了文件"
                             f"（确认无误请用 --year 指定年度）", file=path, year=cover_year)
        year = cover_year
    try:
        fmt = format_for(year)
    except NianbaoError as exc:
        raise InputError(f"{exc}", file=path, year=year) from None
    printed_format = cover.get(layout.FIELD_FORMAT)
    if printed_format and str(printed_format).strip() != fmt.id:
        raise InputError(f"这是{printed_format}格式的报表，{year}年的报告应使用{fmt.id}格式"
                         f"（请用 nianbao workbook 重新生成）", file=path, year=year)
    office_id = office or contact_text(cover.get(layout.FIELD_ID)) or None  # 530111.0 typed over is 530111
    if office is None and office_id is not None and not OFFICE_ID.fullmatch(office_id):
        raise InputError(f"{name} {places[layout.FIELD_ID]}：封面的“{layout.FIELD_ID}”是“{_shown(office_id)}”，"
                         "不是有效的机关代码（只能用小写英文字母、数字和“-”，如 guandu-taihe 或 530111）；"
                         "请改回 nianbao workbook 写入的机关代码，或用 --office 指定", file=path, year=year,
                         field=layout.FIELD_ID)
    result = FilledWorkbook(str(path), office_id, str(cover.get(layout.FIELD_NAME) or "").strip() or None, year,
                            fmt, {ref: None for ref in fmt.cell_kinds()},
                            contact={f: text for f in layout.CONTACT_FIELDS if (text := contact_text(cover.get(f)))})
    problems = _tables(formulas, cached, facts, fmt, result, name)
    if problems:
        # Last year's form of the other version with its cover changed (F2019's tables under 2021): its tables
        # are whole, only of the other version; say so rather than list the labels that differ.
        for other in FORMATS:
            trial = FilledWorkbook(str(path), None, None, year, other, {ref: None for ref in other.cell_kinds()})
            if other is not fmt and not _tables(formulas, cached, facts, other, trial, name):
                raise InputError(f"这份报表的表格是{other.id}格式的，封面却是{year}年（应为{fmt.id}格式）："
                                 "可能是用旧报表改了封面；请用 nianbao workbook 重新生成这一年的报表再填写",
                                 file=path, office=office_id, year=year)
        raise InputError(f"{len(problems)}处问题，未写入任何数据：\n" + "\n".join(f"  {p}" for p in problems),
                         file=path, office=office_id, year=year)
    return result


def _tables(formulas: Sheets, cached: Sheets, facts: dict[str, SheetFacts], fmt: Format, result: FilledWorkbook,
            name: str) -> list[str]:
    problems: list[str] = []
    values = _Cells(formulas, cached)
    strings = {title: _strings(cells) for title, cells in formulas.items()}
    taken: set[str] = set()
    kinds = fmt.cell_kinds()
    for table in fmt.tables:
        index = row_index(fmt, table.key)
        wanted = set(index.rows) | index.labels
        scores = {title: len(wanted & found.keys()) for title, found in strings.items() if title not in taken}
        best = max(scores, key=lambda t: scores[t], default=None)
        if best is None or scores[best] < len(wanted) // 2:
            problems.append(f"{name}：找不到{TABLE_NAMES[table.key]}（工作表可以改名，但表格的栏目名称不能改）")
            continue
        # A sheet copied (`表三 (2)`), or the original hidden and a copy filled: which one holds the figures is a
        # guess either way, so neither is read.
        twins = [t for t in scores if scores[t] >= max(len(wanted) // 2, 1)]
        if len(twins) > 1:
            shown = "、".join(f"“{t}”{'（隐藏）' if facts.get(t, SheetFacts(False, ())).hidden else ''}" for t in twins)
            problems.append(f"{name}：有{len(twins)}张工作表都是{TABLE_NAMES[table.key]}（{shown}），无法确定应读取哪一张；"
                            "请删去多余的工作表（或把数字填回其中一张）后再导入")
            taken.update(twins)
            continue
        taken.add(best)
        found = strings[best]
        merged = facts.get(best, SheetFacts(False, ())).merged
        label_merged = _merged_label(table, found, formulas[best], merged)
        if label_merged:
            problems.append(f"{name} {best}!{label_merged}")
            continue
        cols = _columns(table, found, formulas[best])
        if isinstance(cols, str):
            where = "!" if re.match(r"[A-Z]+[0-9]+：", cols) else "："
            problems.append(f"{name} {best}{where}{cols}（可以插入行和列，但请不要删除或改动表格的栏目名称）")
            continue
        rows: list[int | None] = []
        for line in layout.lines(fmt.id, table.key):
            row = _locate(line, found, formulas[best], cols)
            rows.append(row)
            if row is None:
                if line.label is not None:  # where it should be: under the row found last
                    above = next((r for r in reversed(rows[:-1]) if r is not None), None)
                    where = _should_hold(line.label, cols[line.label_col], above + 1 if above else None,
                                         formulas[best], found, Counter())
                    problems.append(f"{name} {best}!{where}（请不要删除或改动表格的行和栏目名称）")
                    continue
                what = "、".join(label.text for _, label in line.header)
                problems.append(f"{name} {best}：找不到“{what}”这一行（请不要删除或改动表格的行和栏目名称）")
                continue
            for c, data in line.data:
                ref = f"{table.key}.{data.row}.{data.column}"
                col = cols[c]
                coord = f"{get_column_letter(col)}{row}"
                result.cells[ref] = f"{best}!{coord}"
                covered = next((m for m in merged if m[0] <= col <= m[2] and m[1] <= row <= m[3]
                                and (col, row) != (m[0], m[1])), None)
                if covered:  # merged into the range's first cell: what it held is gone, and it can hold nothing
                    first = f"{get_column_letter(covered[0])}{covered[1]}"
                    problems.append(f"{name} {best}!{coord}：已与{first}合并为一个单元格（{first}:"
                                    f"{get_column_letter(covered[2])}{covered[3]}），{coord}的数字无法读取；"
                                    "请取消合并，逐格填写")
                    continue
                try:
                    value = values.value(best, row, col)
                    text, original = stored(value, kinds[ref], formulas[best].get((row, col), (None, ""))[1])
                except FormulaError as exc:
                    problems.append(f"{name} {best}!{coord}：公式无法计算（{exc}）；请用 Excel、WPS 或 LibreOffice "
                                    "打开并保存后再导入")
                    continue
                except ValueError as exc:
                    formula = formulas[best].get((row, col), (None, ""))[0]
                    formula = formula.text if isinstance(formula, ArrayFormula) else formula
                    shown = f"（公式 {formula}）" if isinstance(formula, str) and formula.startswith("=") else ""
                    problems.append(f"{name} {best}!{coord}：{exc}{shown}")
                    continue
                result.values[ref] = text
                if original is not None:
                    result.originals[ref] = original
        lost = _unlabelled_figures(table, cols, {r for r in rows if r is not None}, formulas[best])
        if lost:
            problems.append(f"{name} {best}!{lost}")
    return problems


_FIGURE_TEXT = re.compile(r"\s*'?[-+]?[0-9０-９]")


def _is_figure(value: object) -> bool:
    """Whether a cell's value is (or computes) a figure: a number, a formula, or text that starts as one."""
    return ((isinstance(value, (int, float)) and not isinstance(value, bool))
            or (isinstance(value, str) and (value.startswith("=") or bool(_FIGURE_TEXT.match(value)))))


def _unlabelled_figures(table: Table, cols: dict[int, int], rows: set[int],
                        cells: dict[tuple[int, int], tuple[object, str]]) -> str | None:
    """A column the table's labels passed over (`_columns`: an inserted one) that has figures in the table's
    data `rows` but no text anywhere else: the header a column of the table lost when its label cell alone was
    cut and pasted elsewhere, where the label now names the wrong cells. The first such cell and why, in
    Chinese (`F6：F列填有数字，却没有栏目名称…`), naming the nearest labelled column with no figures (where the
    label likely went); None when there is none. An inserted column with a heading of its own (`备注`) or
    without figures is an office's note, and is left alone."""
    figures: dict[int, list[int]] = {}
    headed: set[int] = set()
    for (r, c), (value, _) in cells.items():
        if r in rows and _is_figure(value):
            figures.setdefault(c, []).append(r)
        elif r not in rows and isinstance(value, str) and value.strip() and not value.startswith("="):
            headed.add(c)
    used = set(cols.values())
    lost = sorted(c for c in figures if c not in used and c not in headed)
    if not lost:
        return None
    col, letter = lost[0], get_column_letter(lost[0])
    leaf = {c: label.text for _, c, label in sorted(table.positions()) if isinstance(label, Label)}
    empty = sorted((abs(c - col), c, leaf[g]) for g, c in cols.items() if g in leaf and c not in figures)
    hint = f"，如{get_column_letter(empty[0][1])}列的“{empty[0][2]}”" if empty else ""
    return (f"{letter}{min(figures[col])}：{letter}列填有数字，却没有栏目名称（栏目名称可能被单独剪切、移到了"
            f"别的列{hint}），按现在的位置会读错栏目；请把栏目名称移回{letter}列，或删去这一列的数字")


def _columns(table: Table, found: dict[str, list[tuple[int, int]]],
             cells: dict[tuple[int, int], tuple[object, str]]) -> dict[int, int] | str:
    """Each grid column's sheet column (1-based), found by the labels the grid puts in it, top to bottom. An
    office may insert columns (for notes): they hold none of the table's labels and are passed over; every
    other column, left to right, must hold exactly the labels of the next grid column (table 四 repeats
    结果纠正 in three columns: order tells them apart). When one does not: the reason, in Chinese, naming the
    cell that holds something else."""
    grid: dict[int, list[tuple[int, Label]]] = {}
    for r, c, cell in table.positions():
        if isinstance(cell, Label):
            grid.setdefault(c, []).append((r, cell))
    # Each label's reading → how many labels of the table read so (table 四 repeats its column labels)
    known = Counter(key(t) for column in grid.values() for _, label in column for t in set(label.readings))
    sheet: dict[int, list[tuple[int, str]]] = {}
    for k, hits in found.items():
        if k in known:
            for row, col in hits:
                sheet.setdefault(col, []).append((row, k))
    columns = sorted(sheet)
    out: dict[int, int] = {}
    offset = None  # sheet row - grid row of the last column's labels
    for g in range(table.width):
        want = sorted(grid.get(g, []), key=lambda x: x[0])
        if g >= len(columns):  # no column left: the one right of the last found should hold its labels
            col = columns[-1] + 1 if columns else 1
            row = want[0][0] + offset if offset is not None and want else None
            return _should_hold(want[0][1], col, row, cells, found, known)
        col = columns[g]
        got = sorted(sheet[col])
        wrong = _label_mismatch(want, got, col, cells, found, known)
        if wrong:
            # A column whose only label was edited holds none of the table's labels, as a column inserted for
            # notes: the one passed over just before, with text where the label should be, is the one to name.
            if offset is not None and want:
                row = want[0][0] + offset
                for c in range(col - 1, (out[g - 1] if g else 0), -1):
                    value = cells.get((row, c), (None, ""))[0]
                    if isinstance(value, str) and value.strip() and not value.startswith("="):
                        return _should_hold(want[0][1], c, row, cells, found, known)
            return wrong
        out[g] = col
        if got and want:
            offset = got[-1][0] - want[-1][0]
    return out


def _label_mismatch(want: list[tuple[int, Label]], got: list[tuple[int, str]], col: int,
                    cells: dict[tuple[int, int], tuple[object, str]], found: dict[str, list[tuple[int, int]]],
                    known: Counter[str]) -> str | None:
    """Why a sheet column (`col`, 1-based) does not hold the labels a grid column wants (`want`: grid row, label,
    top to bottom; `got`: sheet row, label key of the table's labels found in it), in Chinese, starting with the
    cell: what should be there, what is (`E4：此处应为栏目名称“法人或其他组织”……现为“法人组织”`); None when it
    holds exactly them (`known`: the keys of the table's labels, counted). Labels are matched in order, an extra
    one passed over, so that an edited, emptied or moved label (a merged group heading above several columns, or
    beside several rows, as often as a column's own) is named itself, not the label below it."""
    wanted = [{key(t) for t in label.readings} for _, label in want]
    # The longest common subsequence of the labels wanted and found, in order: a label moved onto another's
    # place leaves the others matched where they are (a greedy match would skip ahead to a later twin, as
    # table 二's repeated 信息内容).
    n, m = len(want), len(got)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for a in range(n - 1, -1, -1):
        for b in range(m - 1, -1, -1):
            best[a][b] = (best[a + 1][b + 1] + 1 if got[b][1] in wanted[a]
                          else max(best[a + 1][b], best[a][b + 1]))
    pairs: dict[int, int] = {}  # index in want → index in got
    a = b = 0
    while a < n and b < m:
        if got[b][1] in wanted[a] and best[a][b] == best[a + 1][b + 1] + 1:
            pairs[a], a, b = b, a + 1, b + 1
        elif best[a + 1][b] >= best[a][b + 1]:
            a += 1
        else:
            b += 1
    matched = [(want[a][0], got[b][0]) for a, b in sorted(pairs.items())]  # (grid row, sheet row)
    missing = [want[a] for a in range(n) if a not in pairs]
    used = set(pairs.values())
    labels = dict(want)
    letter = get_column_letter(col)
    if missing:
        grid_row, label = missing[0]
        above = max(((g, r) for g, r in matched if g < grid_row), default=None)
        below = min(((g, r) for g, r in matched if g > grid_row), default=None)
        if above and below and below[1] - (below[0] - grid_row) < above[1] + grid_row - above[0]:
            # No room for it between its neighbours: one of them was moved onto its place. The one out of line
            # with the column's other labels is named, at the place it left.
            offsets = sorted(r - g for g, r in matched)
            usual = offsets[len(offsets) // 2]
            moved = above if above[1] - above[0] != usual else below if below[1] - below[0] != usual else None
            if moved is not None:
                covered = below[1] - (below[0] - grid_row) if moved is above else above[1] + grid_row - above[0]
                hint = (f"（{letter}{moved[1]}原为“{label.text}”，已被覆盖）" if moved[1] == covered else
                        f"（移动后盖住了{letter}{covered}原有的“{label.text}”）")
                return _should_hold(labels[moved[0]], col, moved[0] + usual, cells, found, known) + hint
        # The place its neighbours give; else, between them, a text that is none of the table's labels (the label
        # as edited, rows inserted above it).
        guess = (above[1] + grid_row - above[0] if above else below[1] - (below[0] - grid_row) if below else None)
        low = above[1] + 1 if above else guess or 1
        high = below[1] - 1 if below else max((r for r, _ in got), default=low) + label.rowspan
        placed = {got[j][0] for j in used}
        texts = [r for (r, c), (v, _) in sorted(cells.items()) if c == col and low <= r <= high
                 and isinstance(v, str) and v.strip() and not v.startswith("=") and r not in placed]
        row = guess if guess in texts or not texts else texts[0]
        return _should_hold(label, col, row, cells, found, known)
    extra = next((got[j] for j in range(len(got)) if j not in used), None)
    if extra is not None:
        row = extra[0]
        return (f"{letter}{row}：此处不应有栏目名称“{cells[(row, col)][0]}”（这一列的栏目名称已经齐全），"
                "请删去，或移回原来的位置")
    return None


def _should_hold(label: Label, col: int, row: int | None, cells: dict[tuple[int, int], tuple[object, str]],
                 found: dict[str, list[tuple[int, int]]], known: Counter[str]) -> str:
    """The cell (`col`, `row`, 1-based; None: the column only) that should hold `label`, in Chinese: what should
    be there, what is, and where the label is now, if it is one the table has once."""
    shape = _shape(label)
    letter = get_column_letter(col)
    value = cells.get((row, col), (None, ""))[0] if row else None
    now = f"现为“{value}”" if isinstance(value, str) and value.strip() else "现在是空白"
    if isinstance(value, str) and key(value) in known:
        now += "（这是另一栏的名称：这一栏可能被删除或移动了）"
    elif isinstance(value, str) and row and (rest := _rest_of(label, value)):
        for there in ((row, col + 1), (row + 1, col), (row, col + 2), (row + 2, col)):
            other = cells.get(there, (None, ""))[0]
            if isinstance(other, str) and key(other) == rest:
                now += (f"，其余的“{other.strip()}”写在了{get_column_letter(there[1])}{there[0]}"
                        f"（栏目名称应完整写在{letter}{row}一个单元格里）")
                break
    elsewhere = [f"{get_column_letter(c)}{r}" for t in label.readings for r, c in found.get(key(t), ())
                 if (r, c) != (row, col) and known[key(t)] == 1]
    moved = f"；“{label.text}”现在在{'、'.join(dict.fromkeys(elsewhere))}" if elsewhere else ""
    return f"{letter}{row or '列'}：此处应为栏目名称“{label.text}”{shape}，{now}{moved}"


def _shape(label: Label) -> str:
    """What a label's merged cell is, for a message: a group heading above columns, beside rows, or one row's
    label over several columns."""
    if label.colspan > 1 and label.role is not Role.ROW:
        return f"（合并单元格，是其下{label.colspan}栏共同的栏目名称）"
    if label.rowspan > 1 and label.role is Role.ROW:
        return f"（合并单元格，是右边{label.rowspan}行共同的栏目名称）"
    if label.colspan > 1:
        return f"（合并单元格，占{label.colspan}列）"
    return ""


def _rest_of(label: Label, text: str) -> str | None:
    """The rest of `label` when `text` is its beginning (`法人或` of `法人或其他组织`), as a label key; else None."""
    start = key(text)
    return next((key(t)[len(start):] for t in label.readings if start and key(t).startswith(start)
                 and key(t) != start), None)


def _merged_label(table: Table, found: dict[str, list[tuple[int, int]]],
                  cells: dict[tuple[int, int], tuple[object, str]],
                  merged: tuple[tuple[int, int, int, int], ...]) -> str | None:
    """A label cell merged over its neighbours' labels (two row labels merged into one, two column labels, a
    group heading widened over the next group): a spreadsheet keeps only the first cell's text, so the other
    labels are gone. The first cell that lost its label, in Chinese (`F5：已与E5合并为一个单元格（E5:F5），此处
    应为栏目名称“科研机构”…`); None when no label's merged range covers another label's place. A range wider
    than the grid's only by columns or rows that hold none of the table's labels (inserted for notes: Calc
    widens a merged heading over them) is the office's own."""
    grid = [(r, c, cell) for r, c, cell in table.positions() if isinstance(cell, Label)]
    by_key: dict[str, list[tuple[int, int, Label]]] = {}
    for r, c, label in grid:
        for t in set(label.readings):
            by_key.setdefault(key(t), []).append((r, c, label))
    # Sheet position minus grid position of the labels the table has once: where the grid sits on the sheet.
    offsets = [(hits[0][0] - places[0][0], hits[0][1] - places[0][1]) for k, places in by_key.items()
               if len(places) == 1 and len(hits := found.get(k, [])) == 1]
    if not offsets:
        return None
    d_row = sorted(o[0] for o in offsets)[len(offsets) // 2]
    d_col = sorted(o[1] for o in offsets)[len(offsets) // 2]
    labelled_cols = {c for hits in (found.get(k, []) for k in by_key) for _, c in hits}
    labelled_rows = {r for hits in (found.get(k, []) for k in by_key) for r, _ in hits}
    for min_col, min_row, max_col, max_row in sorted(merged, key=lambda m: (m[1], m[0])):
        value = cells.get((min_row, min_col), (None, ""))[0]
        places = by_key.get(key(value)) if isinstance(value, str) else None
        if not places:
            continue
        r, c, label = min(places, key=lambda p: abs(min_row - p[0] - d_row) + abs(min_col - p[1] - d_col))
        width, height = max_col - min_col + 1, max_row - min_row + 1
        wider = width > 1 and (label.colspan == 1 or sum(min_col <= x <= max_col for x in labelled_cols)
                                > label.colspan)
        taller = height > 1 and (label.rowspan == 1 or sum(min_row <= y <= max_row for y in labelled_rows)
                                 > label.rowspan)
        if not (wider or taller):
            continue
        lost = sorted((gr, gc, other) for gr, gc, other in grid if (gr, gc) != (r, c)
                      and r <= gr < r + height and c <= gc < c + width
                      and not (gr < r + label.rowspan and gc < c + label.colspan))
        if not lost:
            continue
        gr, gc, other = lost[0]
        first = f"{get_column_letter(min_col)}{min_row}"
        here = f"{get_column_letter(min_col + gc - c)}{min_row + gr - r}"
        span = f"{first}:{get_column_letter(max_col)}{max_row}"
        return (f"{here}：已与{first}合并为一个单元格（{span}），此处应为栏目名称“{other.text}”{_shape(other)}，"
                f"合并后只剩{first}的“{value.strip()}”；请取消合并，在{here}填回“{other.text}”")
    return None


def _locate(line: layout.Line, found: dict[str, list[tuple[int, int]]],
            cells: dict[tuple[int, int], tuple[object, str]], cols: dict[int, int]) -> int | None:
    """The sheet row of a data line, or None. `cols`: grid column → sheet column (`_columns`)."""
    if line.label is not None:
        hits = sorted(hit for text in line.label.readings for hit in found.get(key(text), ()))
        if not hits:
            return None
        # The label in its own column first (the same words may stand elsewhere, in a note).
        return min(hits, key=lambda hit: (hit[1] != cols[line.label_col], hit))[0]
    # No row label (table 四): the first line under its header line (found by that line's labels in their
    # columns) with anything in the data columns, rows inserted in between being empty; the line right under
    # if none.
    first_col, first = line.header[0]
    for row, col in sorted(found.get(key(first.text), ())):
        if col != cols[first_col] or not all((row, cols[c]) in found.get(key(label.text), ())
                                             for c, label in line.header):
            continue
        data_cols = [cols[c] for c, _ in line.data]
        last = max((r for r, _ in cells), default=row)
        filled = [r for r in range(row + 1, last + 1) if any((r, c) in cells for c in data_cols)]
        # A row inserted for a note (`注：…` in column A, one of table 四's data columns) holds no figure.
        figures = (r for r in filled if any(_is_figure(cells[(r, c)][0]) for c in data_cols if (r, c) in cells))
        return next(figures, next(iter(filled), row + 1))
    return None


def broken_checks(wb: FilledWorkbook) -> list[tuple[bool, str]]:
    """The identities of this year's figures alone (`layout.checks`: T3-BALANCE, the totals, T2-DELTA-FLOOR, …)
    that the workbook's values break, each as (critical, one line in Chinese: the rule, its message and the cells with
    their values, named by sheet and cell (`表三!D6=10`)), as the form's 校验 column shows them. An identity
    with a cell not reported is not assessable and is left out. The gate reports the same identities with
    the figures file's lines; this says where to look in the form the office sent."""
    out = []
    for rule, identity, inst in layout.checks(wb.format.id):
        values = [wb.values.get(t.ref) for t in inst.terms]
        if any(v is None for v in values):
            continue
        numbers = [Decimal(v) for v in values]  # type: ignore[arg-type]
        total = sum((t.coef * (Decimal(n == 0) if t.is_zero else n) for t, n in zip(inst.terms, numbers, strict=True)),
                    Decimal(0))
        if (total != 0) if identity.relation == "==" else (total < 0):
            cells = "、".join(dict.fromkeys(f"{wb.cells.get(t.ref, t.ref)}={v}" for t, v in zip(inst.terms, values,
                                                                                                strict=True)))
            message = layout.message(wb.format, inst, rule.message)
            out.append((rule.severity is Severity.CRITICAL, f"{rule.id}：{message}（{cells}）"))
    return out
