"""A Word report (.docx) as document blocks.

python-docx opens the package; the body is walked in order, paragraphs and tables alike (python-docx's
`Document.paragraphs` and `.tables` would lose their order). Each table row gives the cells that begin in
it, once each: a cell merged across columns (`w:gridSpan`) is one cell, and the continuation of a cell
merged down (`w:vMerge` without `restart`) is left out, as a web page's `rowspan` leaves it out. A cell's
paragraphs are joined (header cells are often written one character per paragraph).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..exceptions import InputError
from .document import Document, Row, clean

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(path: Path, file: str) -> Document:
    """The blocks of the report in a .docx file. Raises `InputError` when it is not a Word document."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        word = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"不是可读取的 Word（.docx）文件（{type(exc).__name__}）", file=file) from None
    doc = Document(file, "docx", images=sum(1 for _ in word.element.body.iter(f"{W}drawing", f"{W}pict")))
    _Body(doc).walk(word.element.body)
    doc.body = (0, len(doc.blocks))
    return doc


def _text(element: Any) -> str:
    """The text of a paragraph: its runs' text, tabs and breaks as spaces."""
    parts = []
    for node in element.iter(f"{W}t", f"{W}tab", f"{W}br", f"{W}cr"):
        parts.append(node.text or "" if node.tag == f"{W}t" else " ")
    return "".join(parts)


class _Body:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.tables = 0

    def walk(self, parent: Any) -> None:
        for child in parent:
            if child.tag == f"{W}p":
                line = clean(_text(child))
                if line:
                    self.doc.blocks.append(line)
            elif child.tag == f"{W}tbl":
                self.table(child)
            elif child.tag in (f"{W}sdt", f"{W}sdtContent", f"{W}customXml", f"{W}smartTag"):
                self.walk(child if child.tag != f"{W}sdt" else child.iterchildren(f"{W}sdtContent"))

    def table(self, tbl: Any) -> None:
        self.tables += 1
        number = self.tables
        for tr in tbl.iterchildren(f"{W}tr"):
            cells = list(tr.iterchildren(f"{W}tc"))
            if any(tc.find(f"{W}tbl") is not None for tc in cells):
                for tc in cells:  # a layout table around the report: read what is inside
                    self.walk(tc)
                continue
            texts = []
            for tc in cells:
                merge = tc.find(f"{W}tcPr/{W}vMerge")
                if merge is not None and merge.get(f"{W}val", "continue") == "continue":
                    continue  # covered by the cell above
                texts.append(clean("".join(_text(p) for p in tc.iterchildren(f"{W}p"))))
            if any(texts):
                self.doc.blocks.append(Row(texts, number))
