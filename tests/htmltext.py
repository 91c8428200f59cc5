"""Read back what a rendered report shows: headings, paragraphs, and tables with their spans."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Cell:
    tag: str
    text: str
    rowspan: int
    colspan: int
    cls: str


@dataclass
class Page:
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (tag, text) of h1/h2/p, in order
    tables: list[list[list[Cell]]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self.text: list[str] | None = None
        self.cell: Cell | None = None
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.page.tags.append(tag)
        if tag == "style":
            self.in_style = True
        elif tag in ("h1", "h2", "p", "pre") and self.cell is None:
            self.text = []
            self.stack.append(tag)
        elif tag == "table":
            self.page.tables.append([])
        elif tag == "tr":
            self.page.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = Cell(tag, "", int(a.get("rowspan") or 1), int(a.get("colspan") or 1), a.get("class") or "")
            self.text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.in_style = False
        elif tag in ("td", "th") and self.cell is not None:
            self.cell.text = "".join(self.text or []).strip()
            self.page.tables[-1][-1].append(self.cell)
            self.cell, self.text = None, None
        elif tag in ("h1", "h2", "p", "pre") and self.stack and self.stack[-1] == tag and self.cell is None:
            self.stack.pop()
            self.page.blocks.append((tag, "".join(self.text or []).strip()))
            self.text = None

    def handle_data(self, data: str) -> None:
        if self.text is not None and not self.in_style:
            self.text.append(data)


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    return reader.page


def expand(rows: list[list[Cell]]) -> list[list[str]]:
    """The rectangular grid a browser lays out from rowspan/colspan, each slot holding its cell's text."""
    grid: dict[tuple[int, int], str] = {}
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while (r, c) in grid:
                c += 1
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    assert (r + dr, c + dc) not in grid, f"overlap at r{r + dr}c{c + dc}"
                    grid[(r + dr, c + dc)] = cell.text
            c += cell.colspan
    height = max(r for r, _ in grid) + 1
    width = max(c for _, c in grid) + 1
    assert len(grid) == height * width, "the table has holes"
    return [[grid[(r, c)] for c in range(width)] for r in range(height)]
