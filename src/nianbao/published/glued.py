"""Table text that lost its separators: cells run together (`规章000`, `行政规范性文件12345`), or one cell
per line with numbers sometimes broken over two lines (`1` / `62`).

A table's text is scanned for its row labels (the format's readings, with punctuation, spaces and line
breaks allowed between their characters); what follows a row label up to the next label is the row's
figures. Those are cut into the row's cells in every way the cells' kinds allow (a count has no leading
zero, an amount at most one decimal point), and the ways that break an identity of FORMAT.md §7 holding
inside the row (T3-ROWSUM, T4-GROUPSUM) are dropped; the identities across rows (T3-BALANCE,
T3-OUTCOME-SUM) then settle a row whose other rows are known. A row left with more than one way, or none,
is not read: it is reported with its text, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache

from ..formats import Data, Kind, get_format
from ..formats.rules import RULES, Identity, Instance
from .labels import RowIndex, key, row_index
from .values import NOT_REPORTED

LINE = "\x1f"  # where the text had a line break: a cell may end there
MAX_WAYS = 20000  # ways of cutting one row's figures to look at before calling it unreadable
_FIGURES = re.compile(rf"[\d.\-－—–+{LINE}\s]*(?:万元|元)?")
_RULES = ("T3-ROWSUM", "T4-GROUPSUM", "T3-BALANCE", "T3-OUTCOME-SUM")  # [N]/[L] equalities of one year
_CELL = {
    Kind.COUNT: re.compile(r"^(?:0|[1-9]\d*)$"),
    Kind.SIGNED: re.compile(r"^(?:0|-?[1-9]\d*)$"),
    Kind.AMOUNT: re.compile(r"^(?:0|[1-9]\d*)(?:\.\d+)?(?:万元|元)?$"),
}


@dataclass
class Run:
    """A row found in separator-less text: its label as printed, its data cells, the figures' text and the
    ways of cutting it into the cells."""

    label: str
    data: tuple[Data, ...]
    text: str
    ways: list[list[str]] = field(default_factory=list)
    group: tuple[tuple[Data, ...], ...] = ()  # a group label printed as one row: the data of its sub-rows


@dataclass
class Scan:
    """What a table's separator-less text holds: rows with their figures, labels (headers, captions,
    groups) as printed, and the figures of the row with no label (table 四), if any."""

    runs: list[Run] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def _pattern(text: str) -> str:
    """A label with any punctuation, spaces and line breaks between its characters, and its brackets."""
    return r"[（(“\"]?" + r"[\W_]*".join(re.escape(ch) for ch in key(text)) + r"[）)”\"]?"


@cache
def _patterns(format_id: str, table_key: str) -> tuple[re.Pattern[str] | None, re.Pattern[str]]:
    """The table's row labels (one alternation, longest first; None when no row has a label) and all its
    labels."""
    index = row_index(get_format(format_id), table_key)
    rows = sorted(set(index.rows) | set(index.groups), key=len, reverse=True)
    labels = sorted(index.labels | set(index.rows), key=len, reverse=True)
    return (re.compile("|".join(f"(?:{_pattern(r)})" for r in rows)) if rows else None,
            re.compile("|".join(f"(?:{_pattern(lb)})" for lb in labels)))


def looks_like_table_text(text: str, format_id: str, index: RowIndex) -> bool:
    """A line of a table part that is table text run together, not prose: no sentence ends in it, and it
    holds a row label followed by figures, or is figures only."""
    if "。" in text or "；" in text:
        return False
    if _FIGURES.fullmatch(text):
        return True
    rows, labels = _patterns(format_id, index.table.key)
    if rows is None:
        return bool(re.search(r"\d$", text)) and labels.match(text) is not None
    return any(_FIGURES.match(text, m.end()).group().strip(LINE + " ") for m in rows.finditer(text))


def scan(lines: list[str], format_id: str, index: RowIndex) -> Scan:
    """Find the rows, their figures and the labels in a table's lines of separator-less text."""
    text = LINE.join(lines)
    rows, labels = _patterns(format_id, index.table.key)
    out = Scan()
    matches = list(rows.finditer(text)) if rows is not None else []
    starts = [m.start() for m in matches] + [len(text)]
    _labels(text[:starts[0]], labels, out)
    for m, end in zip(matches, starts[1:], strict=True):
        figures = _FIGURES.match(text, m.end(), end).group()
        label = m.group().replace(LINE, "")
        group = index.groups.get(key(label), ())
        data = index.row(label) or (group[0] if group else None)
        if data is None:  # cannot happen: the pattern is made of the rows' and groups' labels
            continue
        out.labels.append(label)
        if figures.strip(LINE + " "):
            out.runs.append(Run(label, data, figures.strip(LINE + " "), group=group))
        _labels(text[m.end() + len(figures):end], labels, out)
    if index.unlabelled and not matches:  # table 四: its figures follow the last header label
        tail = re.search(rf"[\d.\-－—–+{LINE}\s]+$", text)
        if tail and tail.group().strip(LINE + " "):
            out.runs.append(Run("", index.unlabelled, tail.group().strip(LINE + " ")))
    return out


def _labels(text: str, labels: re.Pattern[str], out: Scan) -> None:
    out.labels += [m.group().replace(LINE, "") for m in labels.finditer(text)]


def _pieces(figures: str, cells: int) -> list[str]:
    """The pieces a row's figures are cut from: its lines when it has at least two (one cell per line,
    a number sometimes broken in two), else its characters (the cells run together)."""
    lines = [p for p in re.split(rf"[{LINE}\s]+", figures) if p]
    if len(lines) >= 2 or cells == 1:
        return lines
    return [ch for ch in lines[0]] if lines else []


def ways(figures: str, data: tuple[Data, ...]) -> Iterator[list[str]]:
    """Every way of cutting `figures` into the cells of `data` that their kinds allow."""
    pieces = _pieces(figures, len(data))
    kinds = [d.kind for d in data]
    count = 0

    def cut(start: int, cell: int) -> Iterator[list[str]]:
        nonlocal count
        if cell == len(kinds):
            if start == len(pieces):
                yield []
            return
        for end in range(start + 1, len(pieces) - (len(kinds) - cell - 1) + 1):
            text = "".join(pieces[start:end])
            count += 1
            if count > MAX_WAYS:
                return
            if text in NOT_REPORTED or _CELL[kinds[cell]].match(text):
                for rest in cut(end, cell + 1):
                    yield [text, *rest]

    yield from cut(0, 0)


@cache
def _instances(format_id: str, table_key: str) -> tuple[Instance, ...]:
    fmt = get_format(format_id)
    return tuple(i for r in RULES if r.id in _RULES and r.applies_to(fmt) for c in r.checks
                 if isinstance(c, Identity) for i in c.instances(fmt) if i.table == table_key)


def _number(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text is not None and text not in NOT_REPORTED else None
    except InvalidOperation:
        return None


def _holds(instance: Instance, values: dict[str, str | None]) -> bool | None:
    """Whether an identity holds on `values`; None when a cell it needs is not known."""
    total = Decimal(0)
    for term in instance.terms:
        n = _number(values.get(term.ref))
        if n is None:
            return None
        total += term.coef * n
    return total == 0


def settle(table: str, format_id: str, runs: list[Run], known: dict[str, str | None]) -> None:
    """Cut each run's figures: the ways its kinds allow, less those that break an identity inside the row;
    then the rows left with several ways are tried together, and a way is kept when every identity across
    rows (with the cells `known`, `t3.new.natural` → value) holds; a row is settled when all the surviving
    combinations agree on it."""
    instances = _instances(format_id, table)
    refs_of = [[f"{table}.{d.row}.{d.column}" for d in r.data] for r in runs]
    for run, refs in zip(runs, refs_of, strict=True):
        inside = [i for i in instances if all(t.ref in refs for t in i.terms)]
        run.ways = [w for w in ways(run.text, run.data)
                    if all(_holds(i, dict(zip(refs, w, strict=True))) is not False for i in inside)]
    settled = dict(known)
    open_runs = []
    for run, refs in zip(runs, refs_of, strict=True):
        if len(run.ways) == 1:
            settled |= dict(zip(refs, run.ways[0], strict=True))
        elif len(run.ways) > 1:
            open_runs.append((run, refs))
    if not open_runs:
        return
    mine = {r for _, refs in open_runs for r in refs}
    relevant = [i for i in instances if any(t.ref in mine for t in i.terms)]
    surviving: list[tuple[int, ...]] = []
    budget = [MAX_WAYS]

    def search(k: int, values: dict[str, str | None], chosen: tuple[int, ...]) -> None:
        budget[0] -= 1
        if budget[0] < 0 or len(surviving) > 1000:
            return
        if k == len(open_runs):
            surviving.append(chosen)
            return
        run, refs = open_runs[k]
        later = {r for _, rr in open_runs[k + 1:] for r in rr}
        for n, way in enumerate(run.ways):
            trial = values | dict(zip(refs, way, strict=True))
            if all(_holds(i, trial) is not False for i in relevant if not any(t.ref in later for t in i.terms)):
                search(k + 1, trial, (*chosen, n))

    search(0, settled, ())
    if budget[0] < 0:
        return  # too many combinations to tell: the rows stay unread
    for k, (run, _) in enumerate(open_runs):
        choices = {combo[k] for combo in surviving}
        run.ways = [run.ways[choices.pop()]] if len(choices) == 1 else [run.ways[c] for c in sorted(choices)]
