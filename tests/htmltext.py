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
    attrs: dict[str, str | None] = field(default_factory=dict)


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
            self.cell = Cell(tag, "", int(a.get("rowspan") or 1), int(a.get("colspan") or 1), a.get("class") or "",
                             a)
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


HALF_WIDTH = str.maketrans({"（": "(", "）": ")", "：": ":", "，": ",", "；": ";"})


def flatten(html: str, *, spans: bool = False, half_width: bool = False, split_headers: bool = False) -> str:
    """A text copy of a report page, as people make them: the title, each paragraph on a line, and each
    table row as its cells joined by `|` (like the seed), after the prose of its part.

    `spans`: a merged cell leaves an empty slot for each extra column it covers (`| |||`);
    `half_width`: `(一)` for `（一）`; `split_headers`: header rows broken over two lines, and two-character
    labels broken inside (`总 计`).
    """
    page = read(html)
    tables = iter(page.tables)
    headings = [i for i, (tag, _) in enumerate(page.blocks) if tag == "h2"]
    table_before = set(headings[2:5])  # tables 二, 三, 四 end parts 二, 三, 四
    lines: list[str] = []
    for i, (tag, text) in enumerate([*page.blocks, ("end", "")]):
        if i in table_before:
            lines += _table_lines(next(tables), spans, split_headers)
        if tag in ("h1", "h2", "p"):
            lines.append(text)
    text = "\n".join(lines) + "\n"
    return text.translate(HALF_WIDTH) if half_width else text


def _table_lines(rows: list[list[Cell]], spans: bool, split_headers: bool) -> list[str]:
    lines = []
    for row in rows:
        cells = []
        for cell in row:
            text = cell.text
            if split_headers and cell.tag == "th" and len(text) == 2:
                text = text[0] + " " + text[1]
            cells.append(text)
            if spans:
                cells += [""] * (cell.colspan - 1)
        header = all(c.tag == "th" for c in row)
        if split_headers and header and len(cells) > 2:
            half = len(cells) // 2
            lines += [" | ".join(cells[:half]) + " |", " | ".join(cells[half:]) + " |"]
        else:
            lines.append(" | ".join(cells) + " |")
    return lines
