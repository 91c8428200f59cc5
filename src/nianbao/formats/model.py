"""The vocabulary of a report format: frozen dataclasses, no I/O.

A table is declared once, as the grid a reader sees (rows of cells with rowspan/colspan). Label cells
carry the exact Chinese text; data cells carry a stable ASCII (row, column) key and a value kind. The
renderer walks the grid, the validator and the loaders walk its data cells, the tests expand it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The value type of a data cell (FORMAT.md §6)."""

    COUNT = "count"  # integer >= 0
    SIGNED = "signed"  # F2019 本年增/减: signed integer
    AMOUNT = "amount"  # decimal >= 0 in 万元, kept as written


class Role(StrEnum):
    CAPTION = "caption"
    HEADER = "header"
    CORNER = "corner"
    ROW = "row"  # a row label


@dataclass(frozen=True)
class Label:
    """A label cell. `variants` are other spellings that a given office may print instead."""

    text: str
    role: Role = Role.HEADER
    rowspan: int = 1
    colspan: int = 1
    key: str | None = None  # set for configurable labels, e.g. "t2.procurement.amount"
    variants: tuple[str, ...] = ()
    # Spellings met in published reports that a reader maps to this label but LABEL-EXACT never accepts:
    # known typos, and a previous version's wording (FORMAT.md §4, §11).
    read_as: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        return (self.text, *self.variants)

    @property
    def readings(self) -> tuple[str, ...]:
        return (*self.accepted, *self.read_as)


@dataclass(frozen=True)
class Data:
    """A data cell holding the value of (table, row, column)."""

    row: str
    column: str
    kind: Kind = Kind.COUNT
    rowspan: int = 1
    colspan: int = 1


Cell = Label | Data


@dataclass(frozen=True)
class Table:
    """One of the tables 二, 三, 四 of one format version.

    `rows` and `columns` give the human label of every key (used in messages); `grid` is the official
    layout, row by row, holding only the cells that start at that row (as HTML does).
    """

    key: str
    section: int  # index (0-based) of the heading the table belongs to
    width: int
    rows: dict[str, str]
    columns: dict[str, str]
    grid: tuple[tuple[Cell, ...], ...]

    def labels_of(self, row: str | None, column: str | None) -> tuple[str, str]:
        """The human labels of a row key and a column key (the key itself when unknown, "" for None)."""
        return self.rows.get(row or "", row or ""), self.columns.get(column or "", column or "")

    def data_cells(self) -> Iterator[Data]:
        for line in self.grid:
            for cell in line:
                if isinstance(cell, Data):
                    yield cell

    def labels(self) -> Iterator[tuple[str, Label]]:
        """Every label cell with a stable position key (`t3/r5c2`: grid row 5, start column 2)."""
        for r, c, cell in self.positions():
            if isinstance(cell, Label):
                yield f"{self.key}/r{r}c{c}", cell

    def positions(self) -> Iterator[tuple[int, int, Cell]]:
        """Each cell with the (row, column) of its top-left corner in the expanded grid."""
        taken: set[tuple[int, int]] = set()
        for r, line in enumerate(self.grid):
            c = 0
            for cell in line:
                while (r, c) in taken:
                    c += 1
                yield r, c, cell
                for dr in range(cell.rowspan):
                    for dc in range(cell.colspan):
                        taken.add((r + dr, c + dc))
                c += cell.colspan

    def expand(self) -> list[list[Cell]]:
        """The full rectangular grid, a spanned cell repeated in every slot it covers."""
        out: list[list[Cell | None]] = [[None] * self.width for _ in self.grid]
        for r, c, cell in self.positions():
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    if r + dr >= len(out) or c + dc >= self.width or out[r + dr][c + dc] is not None:
                        raise ValueError(f"{self.key}: cell at r{r}c{c} overflows or overlaps the grid")
                    out[r + dr][c + dc] = cell
        for r, line in enumerate(out):
            if any(cell is None for cell in line):
                raise ValueError(f"{self.key}: grid row {r} has holes")
        return out  # type: ignore[return-value]

    def cell_keys(self) -> list[tuple[str, str]]:
        return [(d.row, d.column) for d in self.data_cells()]


@dataclass(frozen=True)
class Format:
    """A format version: the six headings and the three tables, for a range of report years."""

    id: str
    first_year: int
    last_year: int | None
    headings: tuple[str, ...]
    tables: tuple[Table, ...]

    def covers(self, year: int) -> bool:
        return year >= self.first_year and (self.last_year is None or year <= self.last_year)

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(key)

    def cells(self) -> Iterator[tuple[str, Data]]:
        """Every data cell as (table key, cell), in reading order."""
        for table in self.tables:
            for cell in table.data_cells():
                yield table.key, cell

    def cell_kinds(self) -> dict[str, Kind]:
        """`table.row.column` → kind, for every data cell of this version (computed once per version)."""
        if self.id not in _CELL_KINDS:
            _CELL_KINDS[self.id] = {f"{t}.{d.row}.{d.column}": d.kind for t, d in self.cells()}
        return _CELL_KINDS[self.id]


_CELL_KINDS: dict[str, dict[str, Kind]] = {}
