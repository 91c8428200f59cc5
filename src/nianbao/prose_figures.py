"""Figures the prose states, against the tables that hold them (rule PROSE-TABLE), and the reverse for
`ingest`: figures in last year's published prose become placeholders, so that next year's prose cannot
keep stale numbers.

Numbers are read as people type them: ASCII or full-width digits (１２), and Chinese numerals where
they are unambiguous (三件, 十二件, 一百零五件, 两件).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from functools import cache

from .findings import Cell, Finding
from .formats import Format
from .formats.rules import PROSE_FIGURES, ProseFigure, rule
from .report import Report

RULE = "PROSE-TABLE"
_DIGITS = "0-9０-９"
NUMBER = rf"(?P<n>[{_DIGITS}]+(?:[.．][{_DIGITS}]+)?|[零〇一二两三四五六七八九十百千]+)"
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．", "0123456789.")
_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def fold_number(text: str) -> Decimal | None:
    """The value of a number as written in prose: `12`, `１２`, `12.5`, `十二`, `一百零五`, `两`; None when it is
    not one number (`三一` is a sequence of digits, not a count)."""
    ascii_ = text.translate(_FULL_WIDTH)
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", ascii_):
        try:
            return Decimal(ascii_)
        except InvalidOperation:
            return None
    return _chinese(text)


def _chinese(text: str) -> Decimal | None:
    total, digit, last_unit = 0, None, 10_000
    for ch in text:
        if ch in "零〇" and last_unit < 10_000 and digit is None:  # 一百零五: the zero only marks a gap
            continue
        if ch in _CN_DIGITS:
            if digit is not None:  # two digits in a row: not a numeral we can read without doubt
                return None
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit >= last_unit:
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    if digit is not None:
        total += digit
    return Decimal(total) if text else None


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("{N}", NUMBER))


def _figures(fmt: Format) -> list[ProseFigure]:
    cells = fmt.cell_kinds()
    return [f for f in PROSE_FIGURES if all(ref in cells for ref in f.refs)]


def stated(text: str, fmt: Format) -> Iterator[tuple[ProseFigure, re.Match[str], Decimal]]:
    """Each figure of `fmt`'s tables that `text` states: (figure, its match, its value)."""
    for figure in _figures(fmt):
        for m in _compiled(figure.pattern).finditer(text):
            value = fold_number(m.group("n"))
            if value is not None:
                yield figure, m, value


def _table_value(report: Report, figure: ProseFigure) -> Decimal | None:
    total = Decimal(0)
    for ref in figure.refs:
        v = fold_number(report.values.get(ref) or "")
        if v is None:
            return None
        total += v
    return total


def prose_contradictions(report: Report) -> list[Finding]:
    """A PROSE-TABLE warning for every figure the prose states that differs from the table's (after folding
    digits), naming the prose line and the table cells."""
    narrative = report.narrative
    parts = [(narrative.preamble, narrative.preamble_line), *((s.body, s.body_line) for s in narrative.sections)]
    template = rule(RULE).message
    found = []
    for part, (text, first) in enumerate(parts):
        for figure, m, value in stated(text, report.format):
            table = _table_value(report, figure)
            if table is None or table == value:
                continue
            line = first + text.count("\n", 0, m.start()) if first else 0
            t, row, column = figure.refs[0].split(".")
            shown = f"{table.normalize():f}"
            # The prose as the analyst typed it (a placeholder of another cell, say), and what it reads as filled.
            typed = narrative.as_typed(part, text, m.start(), m.end())
            quoted = f"正文“{typed}”" + (f"（填入数字后为“{m.group(0)}”）" if typed != m.group(0) else "")
            found.append(Finding(
                report.office.id, report.year, RULE, rule(RULE).severity.value, t, row, column,
                template.replace("{说明}", f"{quoted}，表格中{figure.what}为{shown}"),
                value=m.group("n"), source=f"{narrative.file}:{line}" if line else narrative.file,
                cells=tuple(Cell(ref, report.values.get(ref), None, report.sources.get(ref)) for ref in figure.refs)))
    return found


def with_placeholders(text: str, fmt: Format, values: dict[str, str | None]) -> str:
    """`text` with each stated figure that equals its table cell replaced by that cell's placeholder
    (`{{ t3.new.total }}`); a figure of several cells, or one that differs, stays as written."""
    out, last = [], 0
    for figure, m, value in sorted(stated(text, fmt), key=lambda hit: hit[1].start()):
        if len(figure.refs) != 1 or m.start() < last:
            continue
        cell = fold_number(values.get(figure.refs[0]) or "")
        if cell is None or cell != value:
            continue
        out += [text[last:m.start("n")], f"{{{{ {figure.refs[0]} }}}}"]
        last = m.end("n")
    return "".join(out) + text[last:]
