"""`nianbao workbook`: one .xlsx form per office-year, laid out as the official tables, for the office to fill.

A cover sheet (office, year, format version, contact fields, instructions), then tables 二, 三 and 四 each on
its own sheet, written from the format definitions: the labels, merged cells and layout of the grid, A4
print setup with the header rows repeated. Input cells are unlocked and validated as their kind; each
总计 cell is a formula over its terms (the rules' identities); every within-year identity is a live check
(the cells turn red, the 校验 column gives the rule's message). Prefilled with the office-year's figures,
or else with what last year carries over.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from ..atomic import write_files
from ..carryover import carry_overs
from ..contacts import read_contacts
from ..data import Office, read_figures, read_offices
from ..exceptions import InputError
from ..formats import Data, Format, Kind, Label, Role, Table, format_for
from ..formats.rules import AMOUNT_RE, COUNT_RE, SIGNED_RE
from ..project import Project
from . import layout

FONT = "宋体"
THIN = Side(style="thin")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
BAD_FILL = PatternFill("solid", bgColor="FFC7CE")  # Excel's own "bad" style, as a conditional format
BAD_FONT = Font(color="9C0006")
UNLOCKED = Protection(locked=False)
TEXT_NUMBER = "本行有数字是文本格式，总计和校验不计入，请改为数字；"
# Style objects made once: openpyxl looks each one up in the workbook's style list on every assignment.
PLAIN, BOLD, ALERT = Font(name=FONT), Font(name=FONT, bold=True), Font(name=FONT, color="9C0006")
CENTRED = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")
# The grid's cells take one named style each (one lookup, where setting font, border, ... looks up each).
CELL_STYLES = {
    "nianbao-label": dict(font=PLAIN, alignment=CENTRED, border=BORDER),
    "nianbao-row": dict(font=PLAIN, alignment=LEFT, border=BORDER),
    "nianbao-caption": dict(font=BOLD, alignment=CENTRED, border=BORDER),
    "nianbao-input": dict(font=PLAIN, alignment=RIGHT, border=BORDER, fill=INPUT_FILL, protection=UNLOCKED),
}
NUMBER_WIDTH = 10.0  # room for a 7-digit count or an amount with 4 decimals
VALIDATION = {
    Kind.COUNT: dict(type="whole", operator="greaterThanOrEqual", formula1="0", error="请填写非负整数（单位：件）"),
    Kind.SIGNED: dict(type="whole", operator="between", formula1="-999999999", formula2="999999999",
                      error="请填写整数（减少填负数，如 -3）"),
    Kind.AMOUNT: dict(type="decimal", operator="greaterThanOrEqual", formula1="0",
                      error="请填写非负数，单位为万元（如 12.5）"),
}
_PATTERN = {Kind.COUNT: COUNT_RE, Kind.SIGNED: SIGNED_RE, Kind.AMOUNT: AMOUNT_RE}


def text_width(text: str) -> float:
    """Column width (Excel's unit, about one Latin digit) that shows `text` on one line in 宋体 11pt."""
    return sum(2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1 for ch in text) + 2


def file_name(office: Office, year: int) -> str:
    """`示例街道2024.xlsx`: the office's name and the year, as offices name their forms."""
    return re.sub(r'[\\/:*?"<>|\s]+', "", office.name) + f"{year}.xlsx"


def prefill(year: int, figures: Mapping[int, Mapping[str, str | None]]) -> dict[str, str | None]:
    """What the form starts with: the year's figures when the project has them, else last year's
    carry-overs (`nianbao.carryover`) and blanks. `figures`: year → `table.row.column` → text."""
    if year in figures:
        return dict(figures[year])
    return dict(carry_overs(year, figures.get(year - 1)))


def typed(text: str | None, kind: Kind) -> tuple[object, str]:
    """The cell value and number format that show `text` as it is stored: `12.3400` → 12.34 shown with 4
    decimals. Text that is not a number of its kind stays text, for the office to see and correct."""
    if text is None:
        return None, "General"
    if re.match(_PATTERN[kind], text):
        if kind is not Kind.AMOUNT or "." not in text:
            return int(text), "General"
        number = float(text)
        if Decimal(repr(number)) == Decimal(text):
            return number, "0." + "0" * len(text.partition(".")[2])
    return text, "@"


@dataclass
class _Sheet:
    ws: Worksheet
    fmt: Format
    table: Table
    coords: dict[str, str]  # `table.row.column` → "D8"

    def cell(self, ref: str, absolute: bool = False) -> str:
        coord = self.coords[ref]
        if not absolute:
            return coord
        col, row = re.match(r"([A-Z]+)(\d+)", coord).groups()
        return f"${col}${row}"


def _ranges(sheet: _Sheet, refs: Iterable[str]) -> str:
    """`D8:I8` when the cells make one run of a row or a column, else `D8,F8,...`."""
    cells = [coordinate_from_string(sheet.coords[r]) for r in refs]
    cols = [column_index_from_string(c) for c, _ in cells]
    rows = [r for _, r in cells]
    one_row = len(set(rows)) == 1 and cols == list(range(cols[0], cols[0] + len(cols)))
    one_col = len(set(cols)) == 1 and rows == list(range(rows[0], rows[0] + len(rows)))
    if len(cells) > 1 and (one_row or one_col):
        return f"{sheet.coords[next(iter(refs))]}:{sheet.coords[list(refs)[-1]]}"
    return ",".join(sheet.coords[r] for r in refs)


def total_formula(sheet: _Sheet, parts: tuple[str, ...]) -> str:
    """The 总计 formula: the sum of the parts, blank while none of them is filled (not reported)."""
    span = _ranges(sheet, parts)
    return f'=IF(COUNT({span}),SUM({span}),"")'


def _sum_of(values: Mapping[str, str | None], parts: tuple[str, ...]) -> str | None:
    """What the 总计 formula gives for these values, or "?" when a part is not a whole number."""
    reported = [values.get(p) for p in parts if values.get(p) is not None]
    if not all(re.match(SIGNED_RE, v) for v in reported):
        return "?"
    return str(sum(int(v) for v in reported)) if reported else None


def _labels_and_widths(sheet: _Sheet, office: Office) -> None:
    ws, table = sheet.ws, sheet.table
    widths = [NUMBER_WIDTH] * table.width
    positions = list(table.positions())
    # Every label on one line, but the tall ones (表三's 三、本年度办理结果, the corner note) on two or three.
    for _, c, cell in sorted(positions, key=lambda p: p[2].colspan):
        if not isinstance(cell, Label):
            continue
        need = text_width(office.labels.get(cell.key, cell.text) if cell.key else cell.text)
        if cell.rowspan >= 3 and (cell.colspan > 1 or cell.rowspan >= 10):
            need = need / min(cell.rowspan, 3 if cell.colspan > 1 else 2) + 2
        span = range(c, c + cell.colspan)
        have = sum(widths[i] for i in span)
        if have < need:
            widths[span[-1]] += need - have
    for i, w in enumerate(widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = round(w, 1)


def _grid(sheet: _Sheet, office: Office, values: Mapping[str, str | None]) -> None:
    ws, table = sheet.ws, sheet.table
    validations = {kind: DataValidation(allow_blank=True, showErrorMessage=True, errorTitle="数据有误", **spec)
                   for kind, spec in VALIDATION.items()}
    for r, c, cell in table.positions():
        row, col = layout.GRID_ROW + r, c + 1
        if isinstance(cell, Data):
            ref = f"{table.key}.{cell.row}.{cell.column}"
            sheet.coords[ref] = f"{get_column_letter(col)}{row}"
        target = ws.cell(row, col)
        if isinstance(cell, Label):
            target.value = office.labels.get(cell.key, cell.text) if cell.key else cell.text
            target.style = ("nianbao-caption" if cell.role is Role.CAPTION else
                            "nianbao-row" if cell.role is Role.ROW and cell.rowspan == 1 else "nianbao-label")
        else:
            target.style = "nianbao-input"
            validations[cell.kind].add(target)
        if cell.rowspan > 1 or cell.colspan > 1:  # the merged range's edges get the first cell's border
            ws.merge_cells(start_row=row, start_column=col, end_row=row + cell.rowspan - 1,
                           end_column=col + cell.colspan - 1)
    for dv in validations.values():
        if dv.sqref:
            ws.add_data_validation(dv)
    totals = layout.totals(sheet.fmt.id)
    kinds = sheet.fmt.cell_kinds()
    for ref, coord in sheet.coords.items():
        parts = totals.get(ref)
        if parts is not None and values.get(ref) == _sum_of(values, parts):
            ws[coord] = total_formula(sheet, parts)
        else:
            ws[coord], number_format = typed(values.get(ref), kinds[ref])
            if number_format != "General":
                ws[coord].number_format = number_format


def _checks(sheet: _Sheet) -> str | None:
    """Each within-year identity: its cells turn red while it fails, and the 校验 column of its row says why.
    Returns the 校验 cells' range (`'表三'!$L$6:$L$30`), None when the table has no such identity."""
    ws, fmt, table = sheet.ws, sheet.fmt, sheet.table
    column = table.width + 2
    ws.column_dimensions[get_column_letter(column - 1)].width = 2
    ws.column_dimensions[get_column_letter(column)].width = 48
    ws.cell(layout.GRID_ROW, column, layout.CHECK_HEADER).font = BOLD
    by_row: dict[int, list[str]] = {}
    # A number typed as text (`'12`, pasted from a document) is left out of SUM and COUNT: flag it too.
    for line in layout.lines(fmt.id, table.key):
        ends = [f"{table.key}.{d.row}.{d.column}" for _, d in (line.data[0], line.data[-1])]
        first, last = (sheet.coords[ref] for ref in ends)
        ws.conditional_formatting.add(f"{first}:{last}", FormulaRule(formula=[f"ISTEXT({first})"], fill=BAD_FILL,
                                                                     font=BAD_FONT))
        span = ":".join(sheet.cell(ref, True) for ref in ends)
        by_row.setdefault(layout.GRID_ROW + line.grid_row, []).append(
            f'IF(SUMPRODUCT(--ISTEXT({span})),"{TEXT_NUMBER}","")')
    for rule, identity, inst in layout.checks(fmt.id):
        if inst.table != table.key:
            continue
        refs = [t.ref for t in inst.terms]
        terms = "".join(("+" if t.coef > 0 else "-") + (f"{abs(t.coef)}*" if abs(t.coef) != 1 else "")
                        + (f"({sheet.cell(t.ref, True)}=0)" if t.is_zero else sheet.cell(t.ref, True))
                        for t in inst.terms)
        cells = ",".join(sheet.cell(ref, True) for ref in refs)
        # IF, not AND: AND evaluates every argument, and text in a cell would make the check an error.
        fails = f"IF(COUNT({cells})={len(refs)},{terms}{'<>0' if identity.relation == '==' else '<0'},FALSE)"
        ws.conditional_formatting.add(" ".join(sheet.cell(ref) for ref in dict.fromkeys(refs)),
                                      FormulaRule(formula=[fails], fill=BAD_FILL, font=BAD_FONT))
        anchor = f"{table.key}.{inst.row}.{inst.column}" if inst.row else refs[-1]
        row = int(re.sub(r"[A-Z]+", "", sheet.coords.get(anchor, sheet.coords[refs[-1]])))
        text = layout.message(fmt, inst, rule.message).replace('"', '""')
        by_row.setdefault(row, []).append(f'IF({fails},"{text}；","")')
    for row, parts in by_row.items():
        target = ws.cell(row, column, "=" + "&".join(parts))
        target.font = ALERT  # not wrapped: the message runs on to the right, on one line
    letter = get_column_letter(column)
    if not by_row:
        return None
    return f"'{ws.title}'!${letter}${min(by_row)}:${letter}${max(by_row)}"


def _print_setup(ws: Worksheet, fmt: Format, table: Table) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait" if table.width <= 4 else "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    has_captions = any(isinstance(c, Label) and c.role is Role.CAPTION for line in table.grid for c in line)
    # Table 二's blocks each have their own header; the other tables repeat theirs on every page.
    last = layout.GRID_ROW - 1 + (0 if has_captions else layout.header_rows(fmt, table))
    ws.print_title_rows = f"1:{last}"
    ws.print_options.horizontalCentered = True


def _protect(ws: Worksheet) -> None:
    """Labels locked, without a password (anyone can unprotect); rows may be inserted and resized."""
    ws.protection.sheet = True
    ws.protection.insertRows = False
    ws.protection.formatRows = False
    ws.protection.formatColumns = False
    ws.protection.formatCells = False


def _table_sheet(wb: Workbook, fmt: Format, table: Table, office: Office, year: int,
                 values: Mapping[str, str | None]) -> str | None:
    from ..render.html import TABLE_NAMES

    ws = wb.create_sheet(TABLE_NAMES[table.key])
    sheet = _Sheet(ws, fmt, table, {})
    ws.cell(1, 1, layout.title(fmt, table)).font = Font(name=FONT, bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=table.width)
    info = f"填报机关：{office.name}　　报告年度：{year}年　　数量单位：件　　金额单位：万元"
    ws.cell(2, 1, info).font = PLAIN
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=table.width)
    _labels_and_widths(sheet, office)
    _grid(sheet, office, values)
    checked = _checks(sheet)
    _print_setup(ws, fmt, table)
    _protect(ws)
    return checked


def _cover(wb: Workbook, office: Office, year: int, fmt: Format, contact: Mapping[str, str]) -> None:
    ws = wb.active
    ws.title = layout.COVER
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 90
    ws.cell(1, 1, f"{office.name}{year}年{layout.COVER_TITLE}").font = Font(name=FONT, bold=True, size=16)
    ws.merge_cells("A1:B1")
    fields = [(layout.FIELD_NAME, office.name), (layout.FIELD_ID, office.id), (layout.FIELD_YEAR, year),
              (layout.FIELD_FORMAT, fmt.id), *((name, contact.get(name)) for name in layout.CONTACT_FIELDS)]
    for i, (label, value) in enumerate(fields, start=3):
        ws.cell(i, 1, label).font = Font(name=FONT, bold=True)
        target = ws.cell(i, 2, value)
        target.font = Font(name=FONT)
        target.alignment = Alignment(horizontal="left")
        if label in layout.CONTACT_FIELDS:
            target.fill, target.protection = INPUT_FILL, UNLOCKED
        for c in (ws.cell(i, 1), target):
            c.border = BORDER
    start = len(fields) + 5  # a row for the 校验结果 (`_summary`), a blank row
    for i, line in enumerate(layout.INSTRUCTIONS):
        target = ws.cell(start + i, 1, line)
        target.font = Font(name=FONT, bold=i == 0)
        ws.merge_cells(start_row=start + i, start_column=1, end_row=start + i, end_column=2)
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    _protect(ws)


def _summary(ws: Worksheet, checked: list[str | None]) -> None:
    """The cover's 校验结果: how many rows of the tables break an identity, so nobody sends a form unchecked."""
    row = len(layout.CONTACT_FIELDS) + 7
    failing = "+".join(f"SUMPRODUCT(--(LEN({cells})>0))" for cells in checked if cells)
    ws.cell(row, 1, layout.CHECK_SUMMARY).font = BOLD
    text = f'=IF({failing}=0,"各表均未发现问题",{failing}&"行有问题，请查看各表右侧“校验”列")'
    target = ws.cell(row, 2, text)
    target.font = ALERT
    for c in (ws.cell(row, 1), target):
        c.border = BORDER


def build_workbook(office: Office, year: int, values: Mapping[str, str | None],
                   contact: Mapping[str, str] | None = None) -> Workbook:
    """The form of `office` for `year`, prefilled with `values` (`table.row.column` → text, None blank) and the
    cover's contact fields with `contact` (填表人 → text, as `nianbao.contacts` keeps them)."""
    fmt = format_for(year)
    wb = Workbook()
    for name, style in CELL_STYLES.items():
        wb.add_named_style(NamedStyle(name, **style))
    _cover(wb, office, year, fmt, contact or {})
    checked = [_table_sheet(wb, fmt, table, office, year, values) for table in fmt.tables]
    _summary(wb[layout.COVER], checked)
    wb.properties.creator = "nianbao"
    wb.properties.title = f"{office.name}{year}年{layout.COVER_TITLE}"
    return wb


def workbook_bytes(office: Office, year: int, values: Mapping[str, str | None],
                   contact: Mapping[str, str] | None = None) -> bytes:
    """The form as the bytes of an .xlsx file (see `build_workbook`)."""
    out = io.BytesIO()
    build_workbook(office, year, values, contact).save(out)
    return out.getvalue()


def write_workbooks(project: Project, pairs: Iterable[tuple[str, int]], out: Path,
                    force: bool = False) -> list[tuple[Path, bool]]:
    """Write the form of each (office, year) into `out`; returns each file and whether it was written (an
    existing file, which may be a filled form, is kept unless `force`). Raises `InputError` for an office
    that is not in data/offices.csv or whose figures do not read."""
    offices = read_offices(project)
    contacts = read_contacts(project)
    figures: dict[str, dict[int, dict[str, str | None]]] = {}
    done = []
    for office_id, year in pairs:
        if office_id not in offices:
            raise InputError(f"机关代码 {office_id} 未登记：请先在 data/offices.csv 中添加",
                             file=project.relative(project.offices_file), office=office_id, year=year)
        if office_id not in figures:
            known = read_figures(project, office_id) if project.figures_file(office_id).is_file() else {}
            figures[office_id] = {y: f.values for y, f in known.items()}
        office = offices[office_id]
        path = out / file_name(office, year)
        if path.exists() and not force:
            done.append((path, False))
            continue
        write_files({path: workbook_bytes(office, year, prefill(year, figures[office_id]),
                                          contacts.get((office_id, year)))})
        done.append((path, True))
    return done
