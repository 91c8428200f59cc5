"""Matching the labels of published tables and headings to the format definitions.

Published reports write the labels with half-width brackets, ASCII quotes, stray spaces and line breaks,
`，` for `、`, and known typos. A label's *key* drops all of that (punctuation, quotes, spaces) and keeps
the characters that carry meaning; a row is identified by the key of its last label. The labels
themselves come from `nianbao.formats`, never from a copy here.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache

from ..formats import Data, Format, Label, Role, Table, get_format

_NOT_MEANING = re.compile(r"[\s\W_]+")  # punctuation of both widths, quotes, spaces
NUMERALS = "一二三四五六"


def key(text: str) -> str:
    """What is left of a label when punctuation and spaces are gone: `(一)予以公开` → `一予以公开`."""
    return _NOT_MEANING.sub("", text)


@dataclass(frozen=True)
class RowIndex:
    """The data rows of one table: the key of each row's label (and its readings) → the row's data cells."""

    table: Table
    rows: dict[str, tuple[Data, ...]]  # label key → data cells of that grid line, in order
    unlabelled: tuple[Data, ...]  # the one line with no label of its own (table 四's values), if any
    labels: frozenset[str]  # keys of every label of the table (captions, headers, corner)

    def row(self, label: str) -> tuple[Data, ...] | None:
        return self.rows.get(key(label))


def row_index(fmt: Format, table_key: str) -> RowIndex:
    return _row_index(fmt.id, table_key)


@cache
def _row_index(format_id: str, table_key: str) -> RowIndex:
    table = get_format(format_id).table(table_key)
    rows: dict[str, tuple[Data, ...]] = {}
    unlabelled: tuple[Data, ...] = ()
    for line in table.grid:
        data = tuple(c for c in line if isinstance(c, Data))
        if not data:
            continue
        row_labels = [c for c in line if isinstance(c, Label) and c.role is Role.ROW]
        if not row_labels:
            unlabelled = data
            continue
        for text in row_labels[-1].readings:
            rows[key(text)] = data
    labels = frozenset(key(t) for _, label in table.labels() for t in label.readings)
    return RowIndex(table, rows, unlabelled, labels)


def heading_number(line: str, fmt: Format, after: int) -> int | None:
    """The index (0-5) of the heading `line` is, if it is one of the headings after index `after`.

    Headings are matched by their number and their words, not byte for byte: published reports write
    `四、政府信息公开行政复议与行政诉讼情况` or `五、政府信息公开工作存在的主要问题及改进情况`.
    """
    if len(line) > 40 or len(line) < 3 or line[0] not in NUMERALS or line[1] not in "、.．，,":
        return None
    number = NUMERALS.index(line[0])
    if number <= after:
        return None
    official = key(fmt.headings[number][2:])
    ratio = difflib.SequenceMatcher(None, key(line[2:]), official).ratio()
    return number if ratio >= 0.6 else None
