"""A PDF report (a WPS, Word or browser export with a text layer) as document blocks.

pdfplumber finds the tables by their ruling lines (the drawn borders of the grid) and gives every word its
position, so the text outside the tables is read line by line in reading order and lines wrapped at the
right margin are joined into their paragraph, across pages too. A table cell that spans others comes out
once (pdfplumber gives None for the positions it covers), as a web page's `rowspan`/`colspan` cell does,
so the rows are the same blocks a web page gives. A box drawn around prose (one column) is prose.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path
from typing import Any

from ..exceptions import InputError
from .document import Document, Row, clean
from .values import is_value

PAGE_NUMBER = re.compile(r"^[-—–－\s]*(?:第\s*)?\d+\s*(?:页)?(?:\s*/\s*(?:共\s*)?\d+\s*页?)?[-—–－\s]*$")
PARAGRAPH_START = re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)]|\d+[、.．])")
# Browsers and some exporters write CJK characters with the code points of the radicals that share their
# glyph (`⼀` U+2F00 for 一, `⺠` U+2EA0 for 民). Kangxi radicals fold by NFKC; the supplement's simplified
# forms have no decomposition: their equivalent ideographs (Unicode's EquivalentUnifiedIdeograph.txt).
_RADICALS = {0x2E9F: "母", 0x2EA0: "民", 0x2EA9: "王", 0x2EC1: "虎", 0x2EC4: "西", 0x2EC5: "见", 0x2EC6: "角",
             0x2EC9: "贝", 0x2ECB: "车", 0x2ED1: "長", 0x2ED3: "长", 0x2ED4: "门", 0x2ED8: "青", 0x2ED9: "韦",
             0x2EDA: "页", 0x2EDB: "风", 0x2EDC: "飞", 0x2EDD: "食", 0x2EE2: "马", 0x2EE3: "骨", 0x2EE4: "鬼",
             0x2EE5: "鱼", 0x2EE6: "鸟", 0x2EE7: "卤", 0x2EE8: "麦", 0x2EE9: "黄", 0x2EEA: "黾", 0x2EEC: "齐",
             0x2EEE: "齿", 0x2EF0: "龙", 0x2EF3: "龟"}
_RADICALS |= {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0x2F00, 0x2FD6)}


def unradical(text: str) -> str:
    """CJK radicals used as characters (`⼀、总体情况`) → the ideographs they stand for (`一、总体情况`)."""
    return text.translate(_RADICALS)


def read_pdf(path: Path, file: str) -> Document:
    """The blocks of the report in a PDF. Raises `InputError` when the file is not a PDF pdfplumber can open,
    or has no text layer (a scan: it needs OCR first)."""
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfplumber.utils.exceptions import PdfminerException

    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # font-descriptor chatter of browser exports
    doc = Document(file, "pdf")
    reader = _Lines(doc)
    try:
        with pdfplumber.open(path) as pdf:
            chars = 0
            for page in pdf.pages:
                chars += len(page.chars)
                doc.images += len(page.images)
                _page(page, doc, reader)
                page.close()  # pdfplumber caches each page's objects: keep memory flat on long files
    except (PdfminerException, PDFSyntaxError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"不是可读取的 PDF 文件（{type(exc).__name__}: {exc}）", file=file) from None
    if chars == 0:
        raise InputError("扫描版 PDF，没有文字层：不经文字识别（OCR）无法读取", file=file)
    doc.body = (0, len(doc.blocks))
    return doc


class _Lines:
    """Joins the lines of a paragraph: a line continues the previous one when that one reached the right
    margin and this one is not indented and does not start a numbered item."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.open = False  # the last block is a text line that reached the right margin

    def add(self, text: str, indented: bool, full: bool) -> None:
        words = unradical(text).split()
        if not words:
            return
        if len(words) > 1 and is_value(words[-1]) and "。" not in text:
            # A table row laid out without a grid: its words keep their spaces, which part the cells.
            self.doc.blocks.append(" ".join(clean(w) for w in words))
            self.open = False
            return
        text = clean(" ".join(words))
        if self.open and not indented and not PARAGRAPH_START.match(text) and isinstance(self.doc.blocks[-1], str):
            self.doc.blocks[-1] = clean(self.doc.blocks[-1] + text)
        else:
            self.doc.blocks.append(text)
        self.open = full

    def row(self, cells: list[str], table: int) -> None:
        self.doc.blocks.append(Row(cells, table))
        self.open = False


# A ruling line is drawn as a line, a stroked rectangle or a filled one at most this thick (pt): browsers draw
# a 1px border as a 0.75 pt filled rectangle. A filled rectangle thicker both ways is a background.
RULE_MAX = 3.0


def _ruling(obj: dict) -> bool:
    """Whether a page object can be part of a table's grid: not a background (a page's white box, a shaded
    header cell), whose edges pdfplumber would otherwise take for the borders of one table holding the
    headings, tables and prose drawn on it (a published web page saved as PDF from a browser)."""
    if obj.get("object_type") != "rect" or obj.get("stroke"):
        return True
    return min(obj["width"], obj["height"]) <= RULE_MAX


def _open_ends(grid: Any) -> list[dict]:
    """Horizontal lines where a table's column borders begin or end with no line drawn across them: a table
    continued on a new page without its header rows, whose first row's top border (collapsed into the row
    above) was printed on the previous page, or a table cut at the foot of a page. Without them that row is
    no part of the table and its figures are read as prose. A border that goes on in another segment is no
    end: browsers draw the sides of a cell spanning rows (三、本年度办理结果) one segment a row."""
    h = [e for e in grid.edges if e["orientation"] == "h" and e["width"] > RULE_MAX]
    v = [e for e in grid.edges if e["orientation"] == "v" and e["height"] > RULE_MAX]
    ends: dict[float, set[float]] = {}
    for e in v:
        same_x = [f for f in v if abs(f["x0"] - e["x0"]) <= RULE_MAX]
        # (y, whether another segment goes on past it: above the top, below the bottom)
        for y, goes_on in ((e["top"], any(f["top"] < e["top"] - RULE_MAX <= f["bottom"] for f in same_x)),
                           (e["bottom"], any(f["top"] <= e["bottom"] + RULE_MAX < f["bottom"] for f in same_x))):
            if goes_on or any(abs(line["top"] - y) <= RULE_MAX
                              and line["x0"] - RULE_MAX <= e["x0"] <= line["x1"] + RULE_MAX for line in h):
                continue
            ends.setdefault(round(y, 1), set()).add(round(e["x0"], 1))
    return [{"object_type": "line", "x0": min(xs), "x1": max(xs), "top": y, "bottom": y, "width": max(xs) - min(xs),
             "height": 0} for y, xs in ends.items() if len(xs) > 1]


def _page(page: Any, doc: Document, lines: _Lines) -> None:
    grid = page.filter(_ruling)
    found = grid.find_tables({"explicit_horizontal_lines": _open_ends(grid)})
    tables = [t for t in found if len(t.rows) and max(len(r.cells) for r in t.rows) > 1]
    boxes = [t.bbox for t in tables]

    def outside(obj: dict) -> bool:
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    text_lines = [ln for ln in page.filter(outside).extract_text_lines(return_chars=False)
                  if not PAGE_NUMBER.match(ln["text"])]
    items: list[tuple[float, int, Any]] = [(ln["top"], 0, ln) for ln in text_lines]
    items += [(t.bbox[1], 1, t) for t in tables]
    if text_lines:
        left = min(ln["x0"] for ln in text_lines)
        right = max(ln["x1"] for ln in text_lines)
        size = sorted(ln["bottom"] - ln["top"] for ln in text_lines)[len(text_lines) // 2]
    for _, is_table, item in sorted(items, key=lambda i: (i[0], i[1])):
        if is_table:
            number = _tables(doc)
            for cells in item.extract():
                texts = [clean(unradical(c)) for c in cells if c is not None]
                if any(texts):
                    lines.row(texts, number)
        else:
            lines.add(item["text"], indented=item["x0"] > left + size * 0.8, full=item["x1"] >= right - size * 1.5)


def _tables(doc: Document) -> int:
    """The number of the next table (a counter per document, as the other readers keep)."""
    return 1 + max((b.table for b in doc.blocks if isinstance(b, Row)), default=0)
