"""A published cell's text as nianbao stores it: `0`, `-3`, `7.4890`, or None when it is not reported.

Published cells hold full-width digits, units (`2笔`, `832995元`), dashes for nothing, thousands
separators. What is clearly a number becomes one (amounts in 元 become 万元, FORMAT.md §11); a blank or a
dash is *not reported*, never 0; anything else is kept as written, for the rules to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..formats import Kind

NOT_REPORTED = {"", "-", "--", "/", "\\", "—", "——", "－", "–", "无", "空", "×", "*"}
_WIDTH = str.maketrans("０１２３４５６７８９．，－＋", "0123456789.,-+")
_MINUS = re.compile(r"^[—–－−](?=\d)")
_COUNT_UNIT = re.compile(r"^(-?\d+)(?:件次|件|笔|个|项|条|次|宗|人次|人)$")
_AMOUNT = re.compile(r"^(\d+(?:\.\d+)?)(万元|万|元)?$")
_GROUPED = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
# What a cell may hold to count as a value rather than a label, once units and separators are allowed for.
VALUE_LIKE = re.compile(r"^[-+—–－−]?\d[\d,]*(?:\.\d+)?(?:万元|万|元|件次|件|笔|个|项|条|次|宗|人次|人)?$")


@dataclass(frozen=True)
class Cell:
    value: str | None  # as stored in data/figures, None = not reported
    original: str  # as published (after white space is folded)

    @property
    def changed(self) -> bool:
        return self.value != self.original and self.value is not None


# A cell that states a figure in words a value reader does not take (`约128`, `128（件）`, `十二`, `一百二十八`):
# in a data cell it is that cell's text, which the rules judge, not a label.
_FIGURE_WORDS = re.compile(r"^(?:约|大约|共|计|合计)?[零〇一二三四五六七八九十百千万两]+(?:件次|件|个|项|万元|万|元)?$")


def figure_like(text: str) -> bool:
    """True for a short cell that states a figure, in digits or in Chinese numerals, however written."""
    t = text.translate(_WIDTH).replace(" ", "")
    return is_value(t) or (len(t) <= 16 and (any(ch.isdigit() for ch in t) or bool(_FIGURE_WORDS.match(t))))


def is_value(text: str) -> bool:
    """True for what can only be a data cell's content: a number (with a unit), a blank or a dash."""
    t = text.translate(_WIDTH).replace(" ", "")
    return t in NOT_REPORTED or bool(VALUE_LIKE.match(t))


def read_cell(text: str, kind: Kind, yuan: bool = False) -> Cell:
    """The stored value of a published cell of `kind`. `yuan`: the column's header says the unit is 元."""
    original = text.strip()
    t = original.translate(_WIDTH).replace(" ", "")
    if t in NOT_REPORTED:
        return Cell(None, original)
    t = _MINUS.sub("-", t)
    if t.startswith("+") and t[1:].isdigit():
        t = t[1:]  # "+5": the format writes 5
    if _GROUPED.match(t):
        t = t.replace(",", "")
    if kind is Kind.AMOUNT:
        m = _AMOUNT.match(t)
        if m and (m.group(2) == "元" or (yuan and m.group(2) is None)):
            return Cell(_wan(m.group(1)), original)
        if m:
            return Cell(m.group(1), original)
        return Cell(t, original)
    m = _COUNT_UNIT.match(t)
    return Cell(m.group(1) if m else t, original)


def _wan(yuan: str) -> str:
    """元 → 万元, exactly: `832995` → `83.2995`, `251000` → `25.1`."""
    try:
        value = Decimal(yuan) / Decimal(10000)
    except InvalidOperation:
        return yuan
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
