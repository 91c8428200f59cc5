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

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.formula import ArrayFormula

from ..exceptions import InputError, NianbaoError
from ..formats import Format, Kind, Label, Role, Table, format_for
from ..formats.rules import AMOUNT_RE, COUNT_RE, SIGNED_RE
from ..published.labels import key, row_index
from ..published.values import read_cell
from ..render.html import TABLE_NAMES
from . import layout
from .formula import FormulaError, evaluate

_PATTERN = {Kind.COUNT: (COUNT_RE, "应填写非负整数（单位：件）"), Kind.SIGNED: (SIGNED_RE, "应填写整数"),
            Kind.AMOUNT: (AMOUNT_RE, "应填写非负数（单位：万元）")}
_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"}
_DECIMALS = re.compile(r"^#?,?#*0\.(0+)$")  # number formats `0.0000`, `#,##0.00`: the decimals shown
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


def _sheets(path: Path, data_only: bool) -> Sheets:
    """Every non-empty cell of every sheet, in one pass (openpyxl's read-only mode: the fastest to load)."""
    wb = load_workbook(path, read_only=True, data_only=data_only)
    try:
        out: Sheets = {}
        for ws in wb.worksheets:
            ws.reset_dimensions()  # some writers record wrong dimensions
            out[ws.title] = {(c.row, c.column): (c.value, c.number_format) for row in ws.iter_rows() for c in row
                             if c.value is not None}
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
    Raises ValueError with the Chinese reason when the value is not a number of `kind`."""
    original = None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool) or isinstance(value, (datetime, date, time)):
        raise ValueError(f"应填写数字，读到“{value}”")
    if isinstance(value, (int, float)):
        # A float to the 15 significant digits a spreadsheet keeps and shows: `=1.1+2.2` is 3.3 there, not
        # 3.3000000000000003 (which T2-AMT-DEC would flag as more than 4 decimals).
        number = Decimal(value) if isinstance(value, int) else Decimal(format(value, ".15g"))
        shown = _DECIMALS.match(number_format or "")
        if kind is Kind.AMOUNT and shown and -number.as_tuple().exponent < len(shown.group(1)):
            number = number.quantize(Decimal(1).scaleb(-len(shown.group(1))))
        elif isinstance(value, float) and value.is_integer():
            number = Decimal(int(value))
        text = format(number, "f")
    else:
        raw = str(value)
        if raw.strip() in _ERRORS:
            raise ValueError(f"公式出错（{raw.strip()}）")
        cell = read_cell(raw.strip().removeprefix("'"), kind)
        if cell.value is None:
            return None, None
        text, original = cell.value, raw
    pattern, problem = _PATTERN[kind]
    if not re.match(pattern, text):
        raise ValueError(f"{problem}，读到“{original or text}”")
    return text, original if original != text else None


def _strings(cells: dict[tuple[int, int], tuple[object, str]]) -> dict[str, list[tuple[int, int]]]:
    """Label key → (row, column) of every text cell of a sheet that is not a formula."""
    found: dict[str, list[tuple[int, int]]] = {}
    for where, (value, _) in sorted(cells.items()):
        if isinstance(value, str) and not value.startswith("="):
            k = key(value)
            if k:
                found.setdefault(k, []).append(where)
    return found


def _cover(sheets: Sheets) -> dict[str, object]:
    """The cover's fields (label → the value right of it), from the sheet that holds 机关代码."""
    wanted = {key(f): f for f in (layout.FIELD_NAME, layout.FIELD_ID, layout.FIELD_YEAR, layout.FIELD_FORMAT,
                                  *layout.CONTACT_FIELDS)}
    for cells in sheets.values():
        rows: dict[int, list[object]] = {}
        for (r, _), (value, _) in sorted(cells.items()):
            rows.setdefault(r, []).append(value)
        fields: dict[str, object] = {}
        for values in rows.values():
            for i, value in enumerate(values[:-1]):
                if isinstance(value, str) and key(value) in wanted:
                    fields.setdefault(wanted[key(value)], values[i + 1])
                    break
        if layout.FIELD_ID in fields or layout.FIELD_YEAR in fields:
            return fields
    return {}


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
    text = str(value).translate(str.maketrans("０１２３４５６７８９", "0123456789")).strip().removesuffix("年")
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return int(text) if re.fullmatch(r"(19|20)\d{2}", text) else None


def read_workbook(path: Path, *, office: str | None = None, year: int | None = None) -> FilledWorkbook:
    """Read a filled workbook. `office`/`year` take it as that office's or year's whatever its cover and file
    name say. Raises `InputError` listing every problem, each with file, sheet and cell, in Chinese."""
    name = path.name
    try:
        formulas = _sheets(path, data_only=False)
        cached = _sheets(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(f"{name}：不是可读取的 .xlsx 工作簿（{exc}）", file=path) from None
    cover = _cover(cached)
    cover_year = _year_of(cover.get(layout.FIELD_YEAR)) if cover.get(layout.FIELD_YEAR) is not None else None
    if year is None:
        if cover_year is None:
            raise InputError(f"{name}：封面没有“{layout.FIELD_YEAR}”，无法确定年度（请用 --year 指定）", file=path)
        named = YEAR_IN_NAME.findall(path.stem)
        if named and str(cover_year) not in named:
            raise InputError(f"{name}：文件名是{named[0]}年，封面却是{cover_year}年的报表，可能交错了文件"
                             f"（确认无误请用 --year 指定年度）", file=path, year=cover_year)
        year = cover_year
    try:
        fmt = format_for(year)
    except NianbaoError as exc:
        raise InputError(f"{name}：{exc}", file=path, year=year) from None
    printed_format = cover.get(layout.FIELD_FORMAT)
    if printed_format and str(printed_format).strip() != fmt.id:
        raise InputError(f"{name}：这是{printed_format}格式的报表，{year}年的报告应使用{fmt.id}格式"
                         f"（请用 nianbao workbook 重新生成）", file=path, year=year)
    office_id = office or (str(cover[layout.FIELD_ID]).strip() if cover.get(layout.FIELD_ID) else None)
    result = FilledWorkbook(str(path), office_id, str(cover.get(layout.FIELD_NAME) or "").strip() or None, year,
                            fmt, {ref: None for ref in fmt.cell_kinds()},
                            contact={f: text for f in layout.CONTACT_FIELDS if (text := contact_text(cover.get(f)))})
    problems = _tables(formulas, cached, fmt, result, name)
    if problems:
        raise InputError(f"{name}：{len(problems)}处问题，未写入任何数据：\n" + "\n".join(f"  {p}" for p in problems),
                         file=path, office=office_id, year=year)
    return result


def _tables(formulas: Sheets, cached: Sheets, fmt: Format, result: FilledWorkbook, name: str) -> list[str]:
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
        taken.add(best)
        found = strings[best]
        cols = _columns(table, found, formulas[best])
        if isinstance(cols, str):
            where = "!" if re.match(r"[A-Z]+[0-9]+：", cols) else "："
            problems.append(f"{name} {best}{where}{cols}（可以插入行和列，但请不要删除或改动表格的栏目名称）")
            continue
        rows = []
        for line in layout.lines(fmt.id, table.key):
            row = _locate(line, found, formulas[best], cols)
            rows.append(row)
            if row is None:
                what = line.label.text if line.label else "、".join(label.text for _, label in line.header)
                problems.append(f"{name} {best}：找不到“{what}”这一行（请不要删除或改动表格的行和栏目名称）")
                continue
            for c, data in line.data:
                ref = f"{table.key}.{data.row}.{data.column}"
                col = cols[c]
                coord = f"{get_column_letter(col)}{row}"
                result.cells[ref] = f"{best}!{coord}"
                try:
                    value = values.value(best, row, col)
                    text, original = stored(value, kinds[ref], formulas[best].get((row, col), (None, ""))[1])
                except FormulaError as exc:
                    problems.append(f"{name} {best}!{coord}：公式无法计算（{exc}）；请用 Excel、WPS 或 LibreOffice "
                                    "打开并保存后再导入")
                    continue
                except ValueError as exc:
                    problems.append(f"{name} {best}!{coord}：{exc}")
                    continue
                result.values[ref] = text
                if original is not None:
                    result.originals[ref] = original
        lost = _unlabelled_figures(table, cols, {r for r in rows if r is not None}, formulas[best])
        if lost:
            problems.append(f"{name} {best}!{lost}")
    return problems


_FIGURE_TEXT = re.compile(r"\s*'?[-+]?[0-9０-９]")


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
        if r in rows and ((isinstance(value, (int, float)) and not isinstance(value, bool))
                          or (isinstance(value, str) and (value.startswith("=") or _FIGURE_TEXT.match(value)))):
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
        if g >= len(columns):
            after = get_column_letter(columns[-1]) if columns else "A"
            return f"找不到“{want[-1][1].text}”这一栏（{after}列之后没有了）"
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
    matched: list[tuple[int, int]] = []  # (grid row, sheet row) of the labels found in place
    missing: list[tuple[int, Label]] = []
    used: set[int] = set()
    i = 0
    for grid_row, label in want:
        keys = {key(t) for t in label.readings}
        j = next((j for j in range(i, len(got)) if got[j][1] in keys), None)
        if j is None:
            missing.append((grid_row, label))
            continue
        matched.append((grid_row, got[j][0]))
        used.add(j)
        i = j + 1
    letter = get_column_letter(col)
    if missing:
        grid_row, label = missing[0]
        above = max(((g, r) for g, r in matched if g < grid_row), default=None)
        below = min(((g, r) for g, r in matched if g > grid_row), default=None)
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
    shape = ""
    if label.colspan > 1:
        shape = f"（合并单元格，是其下{label.colspan}栏共同的栏目名称）"
    elif label.rowspan > 1 and label.role is Role.ROW:
        shape = f"（合并单元格，是右边{label.rowspan}行共同的栏目名称）"
    letter = get_column_letter(col)
    value = cells.get((row, col), (None, ""))[0] if row else None
    now = f"现为“{value}”" if isinstance(value, str) and value.strip() else "现在是空白"
    if isinstance(value, str) and key(value) in known:
        now += "（这是另一栏的名称：这一栏可能被删除或移动了）"
    elsewhere = [f"{get_column_letter(c)}{r}" for t in label.readings for r, c in found.get(key(t), ())
                 if (r, c) != (row, col) and known[key(t)] == 1]
    moved = f"；“{label.text}”现在在{'、'.join(dict.fromkeys(elsewhere))}" if elsewhere else ""
    return f"{letter}{row or '列'}：此处应为栏目名称“{label.text}”{shape}，{now}{moved}"


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
        filled = (r for r in range(row + 1, last + 1) if any((r, c) in cells for c in data_cols))
        return next(filled, row + 1)
    return None
