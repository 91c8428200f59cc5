"""A finding: one rule broken at one place of one office-year's report, with the cells it involves."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True, order=True)
class Cell:
    """A data cell a finding involves: what was reported, what the rule expects, and where it was read.

    `ref` is `table.row.column` (`prev:` in front for last year's cell); `expected` is the value that would
    satisfy the broken identity if every other cell of it were right (None when the rule gives no single value).
    """

    ref: str
    value: str | None
    expected: str | None = None
    source: str | None = None  # "data/figures/x.csv:212", a workbook's "Sheet!C7", or a published file

    @property
    def previous(self) -> bool:
        return self.ref.startswith("prev:")

    @property
    def key(self) -> str:
        return self.ref.removeprefix("prev:")


@dataclass(frozen=True, order=True)
class Finding:
    office: str
    year: int
    rule: str
    severity: str  # "critical" or "warning"
    table: str | None
    row: str | None
    column: str | None
    message: str  # the Chinese message of FORMAT.md §7, placeholders filled
    value: str | None = None  # what was found, where it helps (a cell's text, a label)
    source: str | None = None  # file[:line] the finding comes from
    cells: tuple[Cell, ...] = ()  # every data cell the finding involves
    suspect: str | None = None  # the cell most likely wrong, when one cell explains several broken identities

    @property
    def critical(self) -> bool:
        return self.severity == "critical"

    @property
    def where(self) -> str:
        return ".".join(p for p in (self.table, self.row, self.column) if p)

    def describe(self) -> str:
        """One line for a terminal: rule, severity, place, message, each involved cell."""
        from .render.html import cell_text, location  # the labels live with the formats; rendering words them

        parts = [f"[{SEVERITY_LABEL.get(self.severity, self.severity)}] {self.rule}"]
        if self.where and not self.cells and self.rule != "TABLE-BLANK":
            parts.append(location(self))
        parts.append(self.message)
        if self.suspect:
            parts.append(f"最可能有误：{cell_text(self.year, self.suspect_cell)}")
        elif self.cells:
            shown = "；".join(cell_text(self.year, c) for c in self.cells[:MAX_CELLS])
            more = f"……共{len(self.cells)}个单元格" if len(self.cells) > MAX_CELLS else ""
            parts.append(f"涉及：{shown}{more}")
        if self.cells and self.source and all(c.source != self.source for c in self.cells):
            parts.append(f"— {self.source}")  # the prose line a PROSE-TABLE finding is about
        else:
            if self.value is not None:
                parts.append(f"（{'所填' if self.table else '原文'}：{self.value}）")
            if self.source:
                parts.append(f"— {self.source}")
        return " ".join(parts)

    @property
    def suspect_cell(self) -> Cell | None:
        return next((c for c in self.cells if c.ref == self.suspect), None)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types only: papermill passes findings to the notebook as Python literals of dicts, lists
        and strings (a tuple would arrive as its text)."""
        data = asdict(self)
        data["cells"] = list(data["cells"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Finding:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        kw["cells"] = tuple(c if isinstance(c, Cell) else Cell(**c) for c in kw.get("cells") or ())  # type: ignore[union-attr,arg-type]
        return cls(**kw)  # type: ignore[arg-type]


SEVERITY_LABEL = {"critical": "严重", "warning": "警告"}
MAX_CELLS = 3  # involved cells on a terminal line; the findings page lists them all


def dumps(findings: Iterable[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=1, sort_keys=True)


def loads(text: str) -> list[Finding]:
    return [Finding.from_dict(d) for d in json.loads(text)]


def has_critical(findings: Iterable[Finding]) -> bool:
    return any(f.critical for f in findings)


def mark_suspects(findings: list[Finding]) -> list[Finding]:
    """Name the likely wrong cell where one cell of this year is common to several broken identities of one
    report and would mend each of them with the same value: fixing it fixes them all, whereas blaming each
    identity's own total (often right) sends the analyst to the wrong cell.

    Shapes: findings in, the same findings out (those concerned with `suspect` set), order kept.
    """
    counts: dict[tuple[str, int, str], list[str | None]] = {}
    for f in findings:
        for c in f.cells:
            if len(f.cells) > 1 and not c.previous and c.expected is not None:
                counts.setdefault((f.office, f.year, c.ref), []).append(c.expected)
    best: dict[tuple[str, int], tuple[int, str | None]] = {}
    for (office, year, ref), expected in counts.items():
        n = len(expected) if len(set(expected)) == 1 else 0  # the same mending value everywhere
        if n < 2:
            continue
        top = best.get((office, year))
        if top is None or n > top[0]:
            best[(office, year)] = (n, ref)
        elif n == top[0]:
            best[(office, year)] = (n, None)  # a tie says nothing
    out = []
    for f in findings:
        top = best.get((f.office, f.year))
        if top and top[1] and any(c.ref == top[1] for c in f.cells):
            f = replace(f, suspect=top[1])
        out.append(f)
    return out
