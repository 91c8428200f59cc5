"""A published report as a sequence of blocks: lines of text and table rows, in reading order.

Sources: a web page (HTML, with or without the site around the report), a text copy of one, where each
table row became one line of cells joined by `|` (like the seed), a PDF (`pdf.py`) and a Word file
(`word.py`); `READERS` picks one by the file's suffix. Everything that depends on the form stays in these
modules; the reader of the report (`reader.py`) sees only blocks. Traditional script is mapped
to simplified, and white space inside Chinese text (Word breaks lines anywhere) is removed.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .. import filekind
from ..exceptions import InputError

ENCODINGS = ("utf-8-sig", "gb18030")  # Chinese sites serve UTF-8 or GBK; GB18030 reads both of the latter
MAX_BYTES = 20 * 2**20
_CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”‘’"
_SPACE_NEAR_CJK = re.compile(rf"\s+(?=[{_CJK}])|(?<=[{_CJK}])\s+")
_SPACES = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")
# Word's conditional comments, which some sites print as text: `<!--[if !supportMisalignedColumns]-->`.
_WORD_CONDITIONAL = re.compile(r"<!--\[(?:if[^\]]*|endif)\]-->|<!\[(?:if[^\]]*|endif)\]>")
BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "section", "article", "center", "blockquote",
              "dd", "dt", "header", "footer", "pre", "ul", "ol", "dl", "form", "main", "aside", "nav", "caption"}
SKIP_TAGS = {"script", "style", "noscript", "template", "head", "select", "button", "iframe", "object", "svg"}


@dataclass
class Row:
    """A table row: its cells' texts, and the table it belongs to (a counter, per document)."""

    cells: list[str]
    table: int


@dataclass
class Document:
    file: str
    kind: str  # "html", "text", "pdf" or "docx"
    blocks: list[str | Row] = field(default_factory=list)
    title_hint: str = ""  # the page's <title>, for a page whose report has no title line
    traditional: bool = False  # the source was in traditional script
    images: int = 0  # pictures in the report (a table pasted as a picture holds no figure anyone can read)
    # blocks[body[0]:body[1]] is the report itself; on a web page, what is around it is the site (menus,
    # links, footer), except for the title, which sites often print above the article.
    body: tuple[int, int] = (0, 0)


def clean(text: str) -> str:
    """One line of text: white space folded, and dropped next to Chinese characters."""
    text = _SPACES.sub(" ", _WORD_CONDITIONAL.sub("", text)).strip()
    return _SPACE_NEAR_CJK.sub("", text)


@cache
def _t2s() -> Any:  # opencc.OpenCC
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> tuple[str, bool]:
    """The text in simplified script, and whether it was in traditional script (many characters changed)."""
    converted = _t2s().convert(text)
    changed = sum(a != b for a, b in zip(text, converted, strict=False))
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in text) or 1
    # A simplified text has the odd character that t2s would touch; a traditional one has many.
    if changed >= 3 and changed / cjk > 0.02:
        return converted, True
    return text, False


_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
              (codecs.BOM_UTF16_BE, "utf-16"))


def decode(data: bytes, file: str) -> str:
    """The text of a page or text copy: UTF-8 or GBK/GB18030 (what Chinese sites serve), or UTF-16/32 with its
    byte-order mark (Notepad's “Unicode”: the mark says the encoding, nothing is guessed)."""
    for bom, encoding in _WIDE_BOMS:  # UTF-32-LE's mark begins with UTF-16-LE's: UTF-32 first
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise InputError(f"文件以 {encoding.upper()} 标记开头，内容却不是 {encoding.upper()} 文本",
                                 file=file) from None
    if b"\x00" in data[:4096]:
        raise InputError("不是文本或网页文件（内容是二进制数据）", file=file)
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError("无法识别文字编码（既不是 UTF-8 也不是 GB18030）", file=file)


def looks_like_html(text: str) -> bool:
    head = text[:4096].lower()
    return "<html" in head or "<!doctype" in head or "<body" in head or "<table" in text.lower() or "<p" in head


def read_document(path: Path, label: str | None = None) -> Document:
    """The blocks of the report in the file at `path` (`label`: how messages name the file), read by the
    reader of its suffix (`READERS`), or by its content when the suffix is not one of them."""
    file = label or str(path)
    try:
        with path.open("rb") as f:
            magic = f.read(8)
    except OSError as exc:
        raise InputError(f"无法读取文件（{exc.strerror}）", file=file) from None
    wrong_kind = filekind.problem(path, "docx")
    if wrong_kind:
        raise InputError(wrong_kind, file=file)
    reader = READERS.get(path.suffix.lower()) or (
        READERS[".pdf"] if magic.startswith(b"%PDF") else READERS[".docx"] if magic.startswith(b"PK") else _markup)
    doc = reader(path, file)
    _simplified(doc)
    return doc


def _simplified(doc: Document) -> None:
    """Traditional script mapped to simplified, in every block (a PDF or Word file is read as it is)."""
    if doc.kind in ("html", "text"):
        return  # converted as one text before it was split
    texts = [b if isinstance(b, str) else "|".join(b.cells) for b in doc.blocks]
    _, doc.traditional = to_simplified("\n".join(texts))
    if doc.traditional:
        convert = _t2s().convert
        doc.blocks = [convert(b) if isinstance(b, str) else Row([convert(c) for c in b.cells], b.table)
                      for b in doc.blocks]


def _markup(path: Path, file: str) -> Document:
    """A web page or a text copy."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取文件（{exc.strerror}）", file=file) from None
    if len(data) > MAX_BYTES:
        raise InputError(f"文件过大（{len(data) // 2**20} MiB），不像是一份年度报告", file=file)
    text = decode(data, file)
    if not text.strip():
        raise InputError("文件是空的", file=file)
    text, traditional = to_simplified(text)
    doc = _from_html(text, file) if looks_like_html(text) else _from_text(text, file)
    doc.traditional = traditional
    return doc


# -- text copies ------------------------------------------------------------------------------------

_WHOLE_REPORT = re.compile(r"(?:^|\s)一、\S+.*\s二、\S+.*\s三、\S+.*\s四、", re.S)

def _from_text(text: str, file: str) -> Document:
    doc = Document(file, "text")
    table = 0
    previous_was_row = False
    lines = text.splitlines()
    if len(lines) < 10:  # a crawler's copy on one line: headings, prose and tables apart only by spaces
        lines = [part for line in lines for part in (_SPACES.split(line) if _WHOLE_REPORT.search(line) else [line])]
    for raw in lines:
        if "|" in raw:
            if not previous_was_row:
                table += 1
            cells = raw.split("|")
            if cells and not cells[-1].strip():
                cells = cells[:-1]  # the line's closing separator
            doc.blocks.append(Row([clean(c) for c in cells], table))
            previous_was_row = True
            continue
        line = clean(raw)
        if line:
            doc.blocks.append(line)
            previous_was_row = False
    doc.body = (0, len(doc.blocks))
    return doc


# -- web pages --------------------------------------------------------------------------------------

def _from_html(text: str, file: str) -> Document:
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(text, "html.parser")
    title = clean(soup.title.get_text()) if soup.title else ""
    for node in soup.find_all(string=lambda s: isinstance(s, Comment)):
        node.extract()
    for tag in soup.find_all(SKIP_TAGS):
        tag.decompose()
    doc = Document(file, "html", title_hint=title)
    article = _article(soup.body or soup)
    walker = _Walker(doc, article)
    walker.walk(soup.body or soup)
    walker.flush()
    doc.images = len((article or soup.body or soup).find_all("img"))
    if doc.body == (0, 0):
        doc.body = (0, len(doc.blocks))
    return doc


HEADING_START = re.compile(r"^[一二三四五六][、.．，,]")


def _article(root: Any) -> Any:
    """The element that holds the report: the nearest common ancestor of its first heading 一 and its last
    heading 六 (outside tables). None when the page has no such headings."""
    from bs4 import Tag

    first = last = None
    for string in root.find_all(string=True):
        text = clean(str(string))
        if not HEADING_START.match(text) or len(text) > 40 or string.find_parent("table") is not None:
            continue
        if text[0] == "一" and first is None:
            first = string
        elif text[0] == "六" and first is not None:
            last = string
    if first is None or last is None:
        return None
    ancestors = [a for a in first.parents if isinstance(a, Tag)]
    for parent in last.parents:
        if parent in ancestors:
            return parent
    return None


class _Walker:
    """Depth-first over the page: text gathers into the current line until a block boundary; a table's
    rows become rows (a table nested in a cell is read as its own rows)."""

    def __init__(self, doc: Document, article: Any) -> None:
        self.doc = doc
        self.article = article
        self.parts: list[str] = []
        self.tables = 0

    def flush(self) -> None:
        line = clean("".join(self.parts))
        self.parts = []
        if line:
            self.doc.blocks.append(line)

    def walk(self, node: Any) -> None:  # a bs4 Tag
        from bs4 import NavigableString, Tag

        for child in node.children:
            if isinstance(child, NavigableString):
                self.parts.append(str(child))
            elif isinstance(child, Tag):
                name = child.name.lower()
                if name == "br":
                    self.flush()
                elif name == "table":
                    self.flush()
                    self.table(child)
                elif child is self.article:
                    self.flush()
                    start = len(self.doc.blocks)
                    self.walk(child)
                    self.flush()
                    self.doc.body = (start, len(self.doc.blocks))
                elif name in BLOCK_TAGS:
                    self.flush()
                    self.walk(child)
                    self.flush()
                else:
                    self.walk(child)

    def table(self, table: Any) -> None:
        self.tables += 1
        number = self.tables
        for tr in table.find_all("tr"):
            if tr.find_parent("table") is not table:
                continue  # a nested table's row: read with that table
            cells = [c for c in tr.find_all(["td", "th"]) if c.find_parent("tr") is tr]
            if any(c.find("table") for c in cells):
                for c in cells:  # layout table around the report: read what is inside
                    self.walk(c)
                    self.flush()
                continue
            texts = [clean(c.get_text(" ")) for c in cells]
            if any(texts):
                self.doc.blocks.append(Row(texts, number))


def _pdf(path: Path, file: str) -> Document:
    from .pdf import read_pdf

    return read_pdf(path, file)


def _docx(path: Path, file: str) -> Document:
    from .word import read_docx

    return read_docx(path, file)


# The reader of each form, by file suffix: what `ingest` and `audit` read from a folder.
READERS: dict[str, Callable[[Path, str], Document]] = {
    ".html": _markup,
    ".htm": _markup,
    ".shtml": _markup,
    ".txt": _markup,
    ".pdf": _pdf,
    ".docx": _docx,
}
