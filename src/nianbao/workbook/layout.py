"""Where things are in a nianbao workbook, shared by the writer and the reader.

The writer lays each table's grid (`nianbao.formats`) from GRID_ROW, column A. The reader does not trust
those coordinates: it finds each table's sheet and rows by their labels, so rows inserted and sheets
renamed are fine. The totals and live checks are the rules' identities (`formats/rules.py`), never a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ..formats import Data, Format, Label, Role, Table, get_format
from ..formats.rules import Identity, Instance, Rule, rule
from ..render.html import TABLE_NAMES

COVER = "封面"
GRID_ROW = 3  # row 1: the table's title, row 2: office and year, then the grid
COVER_TITLE = "政府信息公开工作年度报告报表"
# Cover fields: label → what it holds. The first four are nianbao's (locked), the rest the office's.
FIELD_NAME, FIELD_ID, FIELD_YEAR, FIELD_FORMAT = "机关名称", "机关代码", "报告年度", "格式版本"
CONTACT_FIELDS = ("填表人", "联系电话", "填报日期")
CHECK_HEADER = "校验"
CHECK_SUMMARY = "校验结果"  # on the cover: how many rows of the tables break an identity
INSTRUCTIONS = (
    "填写说明",
    "1. 请只在浅黄色单元格中填写数字：件数填写非负整数；“本年增/减”可填负整数（如 -3）；金额以万元为单位，可带小数。",
    "2. 无数据的单元格请填 0；留空表示未填报。",
    "3. “总计”单元格已设公式，填好各项后自动求和；如需填写本机关核定的数字，可直接覆盖公式。",
    "4. 数字不满足勾稽关系时，相关单元格变红，表格右侧“校验”列写明原因，请核对后再报送。",
    "5. 请勿修改栏目名称和本封面的机关、年度信息；可以插入行作注释，但请不要删除表格的行。",
    "6. 已按上年数据预填“上年结转”等栏目，请核对。填好后以 .xlsx 格式保存报送。",
)
# The identities whose first term is a 总计 cell and whose other terms are its parts (FORMAT.md §7).
TOTAL_RULES = ("T3-ROWSUM", "T3-OUTCOME-SUM", "T4-GROUPSUM")


def title(fmt: Format, table: Table) -> str:
    """`表三　收到和处理政府信息公开申请情况`: the table's name and its section's heading, without the number."""
    return f"{TABLE_NAMES[table.key]}　{fmt.headings[table.section][2:]}"


@dataclass(frozen=True)
class Line:
    """A grid line that holds data cells, and how the reader finds it: by its row label (`label`, at grid
    column `label_col`), or, for table 四's line with no label, as the line right under `header`."""

    grid_row: int
    data: tuple[tuple[int, Data], ...]  # (grid column, cell)
    label: Label | None
    label_col: int
    header: tuple[tuple[int, Label], ...] = ()  # the labels of the grid line above, when there is no row label


@cache
def lines(format_id: str, table_key: str) -> tuple[Line, ...]:
    table = get_format(format_id).table(table_key)
    by_row: dict[int, list[tuple[int, object]]] = {}
    for r, c, cell in table.positions():
        by_row.setdefault(r, []).append((c, cell))
    out = []
    for r, cells in sorted(by_row.items()):
        data = tuple((c, cell) for c, cell in cells if isinstance(cell, Data))
        if not data:
            continue
        row_labels = [(c, cell) for c, cell in cells if isinstance(cell, Label) and cell.role is Role.ROW]
        if row_labels:
            c, label = row_labels[-1]
            out.append(Line(r, data, label, c))
        else:
            header = tuple((c, cell) for c, cell in by_row[r - 1] if isinstance(cell, Label))
            out.append(Line(r, data, None, -1, header))
    return tuple(out)


def header_rows(fmt: Format, table: Table) -> int:
    """How many grid lines come before the first data line (repeated on each printed page)."""
    return lines(fmt.id, table.key)[0].grid_row


def _identities(fmt: Format, r: Rule) -> list[Instance]:
    return [i for c in r.checks if isinstance(c, Identity) for i in c.instances(fmt)]


@cache
def totals(format_id: str) -> dict[str, tuple[str, ...]]:
    """`table.row.column` of every 总计 cell → the cells it adds up (`T3-ROWSUM`, `T3-OUTCOME-SUM`,
    `T4-GROUPSUM`); a cell that two rules total (表三's 总计 of 总计) takes the first rule's terms."""
    fmt = get_format(format_id)
    out: dict[str, tuple[str, ...]] = {}
    for rule_id in TOTAL_RULES:
        for inst in _identities(fmt, rule(rule_id)):
            target, *parts = inst.terms
            assert target.coef == 1 and all(t.coef == -1 and not t.prev for t in parts), rule_id
            out.setdefault(target.ref, tuple(t.ref for t in parts))
    return out


@cache
def checks(format_id: str) -> tuple[tuple[Rule, Identity, Instance], ...]:
    """Every identity of this version that needs this year's figures only: the checks a sheet can make
    while the office types (T3-BALANCE, the totals, T2-DELTA-FLOOR, ...)."""
    from ..formats import RULES

    fmt = get_format(format_id)
    out = []
    for r in RULES:
        if not r.applies_to(fmt):
            continue
        for check in r.checks:
            if isinstance(check, Identity):
                out += [(r, check, i) for i in check.instances(fmt) if not any(t.prev for t in i.terms)]
    return tuple(out)


def message(fmt: Format, inst: Instance, text: str) -> str:
    """A rule's Chinese message with its {列}/{行}/{组} filled with the instance's labels."""
    row, column = fmt.table(inst.table).labels_of(inst.row, inst.column)
    for name, value in (("列", column), ("行", row), ("组", row)):
        text = text.replace("{" + name + "}", value)
    return text
