"""Matching the labels of published tables and headings to the format definitions.

Published reports write the labels with half-width brackets, ASCII quotes, stray spaces and line breaks,
`，` for `、`, and known typos. A label's *key* drops all of that (punctuation, quotes, spaces) and keeps
the characters that carry meaning; a row is identified by the key of its last label. The labels
themselves come from `nianbao.formats`, never from a copy here.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import cache

from ..formats import Data, Format, Label, Role, Table, get_format

_NOT_MEANING = re.compile(r"[\s\W_]+")  # punctuation of both widths, quotes, spaces
NUMERALS = "一二三四五六"
MAX_GROUP = 8  # a group of a few sub-rows, not table 三's 三、本年度办理结果 around all the outcomes


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
    # A group label spanning a few rows (F2021's （六）其他处理 over its three sub-rows) → the data cells of
    # each of its rows: offices that keep an older layout print the group as one row of figures.
    groups: dict[str, tuple[tuple[Data, ...], ...]] = field(default_factory=dict)

    def row(self, label: str) -> tuple[Data, ...] | None:
        return self.rows.get(key(label))


def row_index(fmt: Format, table_key: str) -> RowIndex:
    return _row_index(fmt.id, table_key)


@cache
def _row_index(format_id: str, table_key: str) -> RowIndex:
    table = get_format(format_id).table(table_key)
    rows: dict[str, tuple[Data, ...]] = {}
    unlabelled: tuple[Data, ...] = ()
    groups: dict[str, tuple[tuple[Data, ...], ...]] = {}
    lines = [tuple(c for c in line if isinstance(c, Data)) for line in table.grid]
    for n, line in enumerate(table.grid):
        data = lines[n]
        if not data:
            continue
        row_labels = [c for c in line if isinstance(c, Label) and c.role is Role.ROW]
        if not row_labels:
            unlabelled = data
            continue
        for text in row_labels[-1].readings:
            rows[key(text)] = data
        for group in row_labels[:-1]:
            if 1 < group.rowspan <= MAX_GROUP:
                for text in group.readings:
                    groups[key(text)] = tuple(lines[n:n + group.rowspan])
    labels = frozenset(key(t) for _, label in table.labels() for t in label.readings)
    return RowIndex(table, rows, unlabelled, labels, groups)


_NUMBERING = re.compile(r"^(?:第([一二三四五六七八九十]+)部分|([一二三四五六七八九十]+)|(\d{1,2})"
                        r"|[（(]([一二三四五六])[）)])[、.．，,：:\s]*")
_NUMERALS_ALL = "一二三四五六七八九十"


def heading_number(line: str, fmt: Format, after: int) -> int | None:
    """The index (0-5) of the heading `line` is, if it is one of the headings after index `after`.

    Headings are matched by their words as well as their number, not byte for byte: published reports write
    `四、政府信息公开行政复议与行政诉讼情况` or `五、政府信息公开工作存在的主要问题及改进情况`, and some number
    them wrongly (`三、主动公开政府信息情况` where 二 belongs, all six shifted by one, `第二部分`). A heading
    whose number is not its place is matched by its words alone, more strictly; the numbering it prints
    stays in the published heading, for SEC-HEADINGS to report.
    """
    if len(line) > 40 or len(line) < 3:
        return None
    m = _NUMBERING.match(line)
    if not m or m.end() == 0 or m.end() == len(line):
        return None
    numeral = m.group(1) or m.group(2) or m.group(4)  # group 4: `（一）总体情况`, an office's own numbering
    if numeral:
        number = _NUMERALS_ALL.index(numeral) if len(numeral) == 1 else 10
    else:
        number = int(m.group(3)) - 1
    words = key(line[m.end():])
    ratios = {i: difflib.SequenceMatcher(None, words, key(fmt.headings[i][2:])).ratio() for i in range(after + 1, 6)}
    if not ratios:
        return None
    best = max(ratios, key=ratios.__getitem__)
    if number == best and ratios[best] >= 0.6 and (m.group(2) or m.group(1) or m.group(4)):
        return best  # a parenthesised number only so: `（二）依申请公开` inside part 一 is a sub-item
    if number in ratios and ratios[number] >= 0.6 and m.group(2) and ratios[best] < 0.85:
        return number  # the number and loosely the words agree, and no other heading's words fit better
    return best if ratios[best] >= 0.85 else None
