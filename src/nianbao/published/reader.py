"""From the blocks of a published report to nianbao's data: office name, year, format, every data cell's
value (or *not reported*), the prose of the preamble and of the six parts, and what could not be read.

The title gives the office and the year; the year gives the format version. Headings are matched by
number and words; a table row is identified by its last label (`labels.row_index`), and its values are
laid on the row's data cells in order, allowing for the empty slots that flattened merged cells leave.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..exceptions import InputError, NianbaoError
from ..formats import FORMATS, Data, Format, Kind, format_for
from ..render.html import TABLE_NAMES, cell_location
from .document import Document, Row, read_document
from .glued import LINE, Run, looks_like_table_text, scan, settle
from .labels import RowIndex, heading_number, key, row_index
from .values import Cell, figure_like, is_value, read_cell

TITLE = re.compile(r"^(?P<before>[^，。；：《》、,;:]*?)(?P<year>(?:19|20)\d{2})年度?(?P<after>[^，。；：《》、,;:]*?)"
                   r"政府信息公开工作年度报告")
DATE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")  # the date under the signature: the report ends there


@dataclass
class Published:
    """One published report, read."""

    file: str
    office: str  # 机关名称, from the title
    year: int
    format: Format
    values: dict[str, str | None]  # every data cell of the format → stored text, None when not reported
    originals: dict[str, str] = field(default_factory=dict)  # cells whose stored text differs from the page
    preamble: list[str] = field(default_factory=list)
    sections: list[list[str]] = field(default_factory=lambda: [[] for _ in range(6)])
    headings: list[str | None] = field(default_factory=lambda: [None] * 6)  # as published
    order: list[int] = field(default_factory=list)  # the parts found, in the order printed (headings' indices)
    labels: dict[str, str] = field(default_factory=dict)  # configurable labels as printed
    printed: dict[str, str] = field(default_factory=dict)  # every label read, by position ("t3/r5c2")
    problems: list[str] = field(default_factory=list)  # what could not be read, in English for the analyst
    unreadable: dict[str, str] = field(default_factory=dict)  # cells not read (value None) → the text seen
    # A group printed as one row (label as printed → the refs of each sub-row, and the row's figures by column)
    groups: dict[str, tuple[tuple[tuple[str, ...], ...], dict[str, str | None]]] = field(default_factory=dict)

    def for_rules(self) -> dict[str, str | None]:
        """The values as the arithmetic rules see them: a group printed as one row stands in for its sub-rows
        (the first holds the row's figures, the others 0), so the sums over the group are checked."""
        values = dict(self.values)
        for rows, figures in self.groups.values():
            for n, refs in enumerate(rows):
                for ref in refs:
                    if values[ref] is None:
                        values[ref] = figures.get(ref.rsplit(".", 1)[1]) if n == 0 else "0"
        return values
    traditional: bool = False  # the page was in traditional script (read as simplified)

    @property
    def not_reported(self) -> list[str]:
        """Cells left blank or dashed in the report (not those that could not be read: `unreadable`)."""
        return [ref for ref, value in self.values.items() if value is None and ref not in self.unreadable]

    @property
    def reported(self) -> int:
        return sum(v is not None for v in self.values.values())


def read_published(path: Path, *, year: int | None = None, office: str | None = None,
                   label: str | None = None) -> Published:
    """Read the report in `path` (a web page, text copy, PDF or Word file). `year` overrides the title's
    year; `office` (机关名称) names the office when the report has no title and its prose does not say.

    Raises `InputError` naming the file when it is not a report: no title with a year (and no `year` and
    office given or found in the preamble), no headings, or no table values at all.
    """
    doc = read_document(path, label)
    return read(doc, year=year, office=office)


def read(doc: Document, *, year: int | None = None, office: str | None = None) -> Published:
    start, end = doc.body
    _join_split_headings(doc.blocks)
    first_heading = _first_heading(doc.blocks, start, end)
    if first_heading is None:
        raise InputError("找不到报告的各部分标题（应有“一、总体情况”至“六、其他需要报告的事项”）", file=doc.file)
    found, title_year, title_lines = _title(doc, first_heading)
    second = _second_report(doc, first_heading, end)
    if second:
        raise InputError(f"文件中不止一份报告：第一份之后又有“{second}”（及其“一、总体情况”），只读第一份会漏掉"
                         "后面的；请把每份报告存为单独的文件后再读取", file=doc.file, year=title_year)
    office = found or _office_in_prose(doc) or office
    year = year or title_year or _year_in_preamble(doc, first_heading)
    if not office or not year:
        raise InputError("找不到报告标题（应为“{机关名称}{年份}年政府信息公开工作年度报告”）；"
                         "请用 --office、--year 指定机关和年度", file=doc.file)
    try:
        fmt = format_for(year)
    except NianbaoError as exc:
        raise InputError(str(exc), file=doc.file, year=year) from None
    pub = Published(doc.file, office, year, fmt, {ref: None for ref in fmt.cell_kinds()},
                    traditional=doc.traditional)
    _contents(doc, pub, start, end, title_lines)
    if pub.order != sorted(pub.order):
        printed = "、".join("一二三四五六"[i] for i in pub.order)
        pub.problems.append(f"各部分的顺序与规定不同（印为{printed}），每部分及其表格按标题读取")
    missing = [i for i, h in enumerate(pub.headings) if h is None]
    if len(missing) > 3:
        raise InputError(f"报告不完整或不是年度报告：六个部分的标题只找到{6 - len(missing)}个",
                         file=doc.file, year=year)
    pictures = (f"文件中有{doc.images}张图片，表格可能是以图片插入的：图片中的数字无法读取，"
                "须经文字识别（OCR）或向发布机关索取文字版") if doc.images else ""
    if pub.reported == 0 and not pub.unreadable:
        raise InputError("没有读到表格数字（表二、表三、表四为空或缺失）" + (f"；{pictures}" if pictures else ""),
                         file=doc.file, office=office, year=year)
    if pictures:
        for table in fmt.tables:
            refs = [f"{table.key}.{d.row}.{d.column}" for d in table.data_cells()]
            if all(pub.values.get(ref) is None for ref in refs) and not any(u.startswith(f"{table.key}.")
                                                                            for u in pub.unreadable):
                pub.problems.append(f"{TABLE_NAMES.get(table.key, table.key)}没有读到数字：{pictures}")
    _check_format(pub, doc)
    if doc.kind == "text" and _fragmented(pub):
        pub.preamble = _paragraphs(pub.preamble)
        pub.sections = [_paragraphs(lines) for lines in pub.sections]
    return pub


_SENTENCE_END = re.compile(r"[。！？；：:]$")
_ITEM_START = re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[）)]|\d+[、.．](?!\d))")


def _fragmented(pub: Published) -> bool:
    """A crawler's copy that put every text node of the page on its own line (`201` / `9` / `年，`)."""
    lines = [line for part in (pub.preamble, *pub.sections) for line in part]
    return len(lines) > 20 and sum(len(line) < 8 for line in lines) > len(lines) * 0.3


def _paragraphs(lines: list[str]) -> list[str]:
    """The lines of a fragmented copy joined into paragraphs: a paragraph ends with its sentence, before a
    numbered item, or around the date of the signature."""
    out: list[str] = []
    for line in lines:
        if out and not _SENTENCE_END.search(out[-1]) and not _ITEM_START.match(line) and not DATE.match(line) \
                and not DATE.match(out[-1]):
            out[-1] += line
        else:
            out.append(line)
    return out


_BARE_NUMBER = re.compile(r"^[一二三四五六][、.．，,]$")


def _join_split_headings(blocks: list) -> None:
    """A heading whose number and words are on two lines (`一、` / `总体情况`, a crawler's text) as one line;
    the second line is left empty."""
    for i in range(len(blocks) - 1):
        if isinstance(blocks[i], str) and _BARE_NUMBER.match(blocks[i]) and isinstance(blocks[i + 1], str):
            blocks[i], blocks[i + 1] = blocks[i] + blocks[i + 1], ""


_PREAMBLE_YEAR = (re.compile(r"统计期限[^。]*?((?:19|20)\d{2})年"), re.compile(r"((?:19|20)\d{2})年1月1日"),
                  re.compile(r"((?:19|20)\d{2})年度?政府信息公开工作年度报告"))
_PROSE_OFFICE = re.compile(r"本报告由([^，。；、《》（）]{2,30}?)(?:根据|依据|按照|依照|编制|负责)")


def _year_in_preamble(doc: Document, first_heading: int) -> int | None:
    """The report year a preamble states: `统计期限为2019年…`, `2019年1月1日`, `现公布…2019年…年度报告`."""
    text = "".join(b for b in doc.blocks[:first_heading] if isinstance(b, str))
    for pattern in _PREAMBLE_YEAR:
        m = pattern.search(text)
        if m:
            return int(m.group(1))
    return None


def _office_in_prose(doc: Document) -> str | None:
    """The office a report without a title names in its prose: `本报告由青岚县示例档案局编制`."""
    for block in doc.blocks:
        m = _PROSE_OFFICE.search(block) if isinstance(block, str) else None
        if m:
            return m.group(1)
    return None


def _first_heading(blocks: list, start: int, end: int) -> int | None:
    for i in range(start, end):
        b = blocks[i]
        if isinstance(b, str) and heading_number(b, FORMATS[0], -1) == 0:
            return i
    return None


_TITLE_PREFIX = re.compile(r"^(?:文章)?(?:标题|题目|名称)[：:]")


def _title(doc: Document, first_heading: int) -> tuple[str | None, int | None, set[str]]:
    """Office name, year and the line(s) that hold the title: the last title before the first heading,
    a title split over two lines joined, or the page's <title>. (None, None, set()) when there is none."""
    lines = [_TITLE_PREFIX.sub("", b) for b in doc.blocks[:first_heading] if isinstance(b, str)]
    found = None
    for i, line in enumerate(lines):
        for candidate, parts in ((line, {line}), ("".join(lines[i:i + 2]), set(lines[i:i + 2]))):
            m = TITLE.match(candidate)
            # A line that is a title (not one that mentions it), and names an office.
            if m and m.end() == len(candidate) and len(candidate) < 80 and _office(m):
                found = (m, parts)
                break
    if found is None and doc.title_hint:
        m = TITLE.match(doc.title_hint)
        found = (m, set()) if m and _office(m) else None
    if found is None:
        return None, None, set()
    m, parts = found
    return _office(m), int(m.group("year")), parts


def _second_report(doc: Document, first_heading: int, end: int) -> str | None:
    """The title of a second report in the same file (a title line followed by a first heading again: two
    years, two offices or the same report pasted twice), or None. Only the first would be read, and the second
    silently lost. A site's links to other reports (`上一篇：…年度报告`) have no heading after them."""
    title = None
    for block in doc.blocks[first_heading + 1:end]:
        if not isinstance(block, str):
            continue
        line = _TITLE_PREFIX.sub("", block)
        m = TITLE.match(line)
        if m and m.end() == len(line) and len(line) < 80 and _office(m):
            title = line
        elif title and heading_number(block, FORMATS[0], -1) == 0:
            return title
    return None


def _earlier_heading(line: str, pub: Published, section: int) -> int | None:
    """The part `line` heads when it is one printed out of order (`三、收到和处理…` after 四), not yet seen,
    before part `section`: by its number and words both, strictly; None otherwise. Its table is then read as
    its own, and `Published.order` keeps the order printed, for SEC-HEADINGS."""
    number = heading_number(line, pub.format, -1)
    if number is None or number >= section or pub.headings[number] is not None:
        return None
    words = key(re.sub(r"^\W*[一二三四五六七八九十\d]+[、.．，,：:\s)）]*", "", line))
    official = key(pub.format.headings[number][2:])
    return number if difflib.SequenceMatcher(None, words, official).ratio() >= 0.85 else None


def _office(title: re.Match[str]) -> str:
    return (title.group("before") + title.group("after")).strip(" ：:")


def _contents(doc: Document, pub: Published, start: int, end: int, title_lines: set[str]) -> None:
    """Preamble, headings, prose and table values, in one pass over the report's blocks."""
    tables = {t.section: row_index(pub.format, t.key) for t in pub.format.tables}
    section = -1
    state = _TableState()
    loose: list[str] = []  # text lines of a table part, read when the table's rows or the part end

    def flush() -> None:
        if section in tables:
            _table_text(loose, tables[section], pub, state)
        loose.clear()

    for block in doc.blocks[start:end]:
        if not block:
            continue
        if isinstance(block, Row):
            flush()
            if section in tables:
                _read_row(block, tables[section], pub, state)
            continue
        number = heading_number(block, pub.format, section)
        if number is None and section > 0:
            number = _earlier_heading(block, pub, section)
        if number is not None and pub.headings[number] is None:
            flush()
            _settle(tables.get(section), pub, state)
            section = number
            pub.headings[number] = block
            pub.order.append(number)
            continue
        if section == -1:
            k = key(block)  # a piece of the title is not preamble; a word or a comma it holds may be
            if _TITLE_PREFIX.sub("", block) not in title_lines and (len(k) < 4 or k not in key("".join(title_lines))):
                pub.preamble.append(block)
        elif section in tables:
            loose.append(block)
        else:
            pub.sections[section].append(block)
            if section == 5 and DATE.match(block):
                break  # the date under the signature ends the report; the site's footer follows
    flush()
    _settle(tables.get(section), pub, state)
    for index in tables.values():
        pub.printed |= _positions_of(index, state.labels.get(index.table.key, []))


def _table_text(lines: list[str], index: RowIndex, pub: Published, state: _TableState) -> None:
    """Text lines of a table part: prose, labels that lost their row, or a table whose separators were lost
    (from its first line that is table text, with the header lines just before it, to its last)."""
    table_lines = [i for i, line in enumerate(lines) if looks_like_table_text(line, pub.format.id, index)]
    first, last = (table_lines[0], table_lines[-1]) if table_lines else (len(lines), -1)
    while first > 0 and len(lines[first - 1]) <= 80 and not re.search("[。；！？]", lines[first - 1]):
        first -= 1
    section = pub.sections[index.table.section]
    for line in lines[:first]:
        _label_or_prose(line, index, section, state)
    if table_lines:
        found = scan(lines[first:last + 1], pub.format.id, index)
        for text in found.stray:
            m = re.fullmatch(r"(.*?[^\d\s.])\s*([\d.\s—–-]+)", text)
            near = _resembles(m.group(1), index) if m else None
            if near is None:
                pub.problems.append(f"{row_name(index)}：一行数字找不到可识别的栏目名称，未读取：“{text}”")
                continue
            # A slip in the row label (`其他法律行政止公开`): its figures go to the row it resembles.
            pub.problems.append(f"{row_name(index)}“{m.group(1)}”一行按最相近的"
                                f"“{index.table.rows.get(index.rows[near][0].row, near)}”一行读取")
            found.labels.append(m.group(1))
            found.runs.append(Run(m.group(1), index.rows[near], m.group(2).strip(), spaced=" " in m.group(2)))
        state.labels.setdefault(index.table.key, []).extend(found.labels)
        state.runs.setdefault(index.table.key, []).extend(found.runs)
    for line in lines[last + 1:]:
        _label_or_prose(line, index, section, state)


def _label_or_prose(line: str, index: RowIndex, section: list[str], state: _TableState) -> None:
    if key(line) in index.labels or line == "|":  # a table label that lost its row (a text copy's corner note)
        state.labels.setdefault(index.table.key, []).append(line)
    else:
        section.append(line)


def _settle(index: RowIndex | None, pub: Published, state: _TableState) -> None:
    """Cut the figures of the table's separator-less rows into cells, where only one way fits."""
    if index is None or not state.runs.get(index.table.key):
        return
    table = index.table.key
    runs = state.runs.pop(table)
    settle(table, pub.format.id, runs, {r: v for r, v in pub.values.items() if r.startswith(table + ".")})
    for run in runs:
        what = f"“{run.label}”一行" if run.label else "数字行"
        if len(run.ways) == 1:
            if run.group:
                _read_group_row(run.label, run.group, run.ways[0], index, pub, state)
            else:
                _assign(index, run.data, run.ways[0], pub, state, what=what)
            continue
        refs = [f"{table}.{d.row}.{d.column}" for d in run.data]
        if all(pub.values.get(r) is not None for r in refs):
            continue  # the row was read already (printed twice)
        for ref in refs:
            pub.unreadable.setdefault(ref, run.text)
        shown = ", ".join("|".join(w) for w in run.ways[:3]) + (", …" if len(run.ways) > 3 else "")
        why = (f"符合勾稽关系的切分方式有{len(run.ways)}种（{shown}），无法确定{len(run.data)}个单元格各是多少"
               if run.ways else f"无法按勾稽关系切分成{len(run.data)}个单元格")
        cells = "; ".join(cell_location(pub.year, *r.split(".")) for r in refs)
        pub.problems.append(f"{row_name(index)}{what}：数字连在一起（“{run.text.replace(LINE, ' ')}”），"
                            f"{why}；未读取：{cells}")


_HALF_WIDTH = str.maketrans({"(": "（", ")": "）", ":": "：", ",": "，", ";": "；"})


_SUB_ROW_NUMBER = re.compile(r"^(\d)[、．]")


def as_printed(text: str) -> str:
    """A label as the office printed it, less what copying the page did to it: half-width punctuation and
    line breaks (FORMAT.md, introduction). Wording, typos and `、`/`，` stay for LABEL-EXACT to judge."""
    text = re.sub(r"\s+", "", text.translate(_HALF_WIDTH))
    text = _SUB_ROW_NUMBER.sub(r"\1.", text)  # `1、` `1．` numbering a sub-row: the office's numbering style
    quotes = iter("“”" * text.count('"'))
    return re.sub('"', lambda _: next(quotes), text)


def _positions_of(index: RowIndex, printed: list[str]) -> dict[str, str]:
    """The grid position of each label read, in reading order: the n-th label that reads as a given text is
    the n-th grid label with that reading (`信息内容` stands five times in table 二)."""
    free = [(pos, {key(t) for t in label.readings}) for pos, label in index.table.labels()]
    found: dict[str, str] = {}
    unmatched = []
    for text in printed:
        k = key(text)
        for i, (pos, keys) in enumerate(free):
            if k in keys:
                found[pos] = as_printed(text)
                del free[i]
                break
        else:
            unmatched.append(text)
    # A label misspelt beyond the known typos (`三三、本年度办理结果`) still stands where a label is missing.
    for text in unmatched:
        for i, (pos, keys) in enumerate(free):
            if any(difflib.SequenceMatcher(None, key(text), k).ratio() >= RESEMBLES for k in keys):
                found[pos] = as_printed(text)
                del free[i]
                break
    return found


@dataclass
class _TableState:
    yuan: bool = False  # the last header row said the amounts are in 元
    labels: dict[str, list[str]] = field(default_factory=dict)  # table key → label cells read, in order
    runs: dict[str, list[Run]] = field(default_factory=dict)  # table key → rows whose cells ran together
    part: str | None = None  # the row key of the part the last header row named


def _read_row(row: Row, index: RowIndex, pub: Published, state: _TableState) -> None:
    cells = row.cells
    first = next((i for i, c in enumerate(cells) if c), 0)
    if not is_value(cells[first]):
        cells = cells[first:]  # a merged label's empty remainder after a page break: the labels follow
    n = 0
    while n < len(cells) and not is_value(cells[n]):
        n += 1
    at = [i for i in range(n) if cells[i]]
    # A data cell whose text is no plain number (`约128`, `十二`) ends the labels only as the cell it is: after
    # the row's own label, such cells are its figures as printed (the rules judge them), not more label.
    known = next((j for j in reversed(at[:-1]) if index.row(cells[j]) is not None), None) \
        if at and index.row(cells[at[-1]]) is None else None
    if known is not None and all(figure_like(cells[j]) for j in at if j > known):
        n = known + 1
        at = [j for j in at if j <= known]
    labels = [cells[j] for j in at]
    values = cells[n:]
    state.labels.setdefault(index.table.key, []).extend(c for c in cells if c and not is_value(c))
    if not labels:
        if index.unlabelled and any(values) and all(is_value(v) for v in values):
            data = index.unlabelled
            part = tuple(d for d in data if d.row == state.part)
            if part and len(values) <= len(part) < len(data):  # one part of a table printed as its own table
                data = part
            _assign(index, data, values, pub, state, what="数字行")
        return
    data = index.row(labels[-1])
    group = index.groups.get(key(labels[-1]))
    if data is None and group and any(values) and len(group) > 1:
        _read_group_row(labels[-1], group, values, index, pub, state)
        return
    if data is None:
        if all(key(c) in index.labels for c in labels):  # a caption or header row
            _note_header(labels, index, pub, state)
        elif _glued(labels[-1], index):  # the row's figures run into its label: cut them where only one way fits
            found = scan([LINE.join(c for c in cells if c)], pub.format.id, index)
            state.runs.setdefault(index.table.key, []).extend(found.runs)
        elif any(values) and (near := _resembles(labels[-1], index)) is not None:
            # A slip in the label (OCR, typing): read as the row it resembles; LABEL-EXACT reports the label.
            pub.problems.append(f"{row_name(index)}“{labels[-1]}”一行按最相近的"
                                f"“{index.table.rows.get(index.rows[near][0].row, near)}”一行读取")
            _assign(index, index.rows[near], values, pub, state, what=f"“{labels[-1]}”一行")
        elif any(values):
            pub.problems.append(f"{row_name(index)}：不认识的“{labels[-1]}”一行，其数字未读取")
        return
    _assign(index, data, values, pub, state, what=f"“{labels[-1]}”一行")


def _read_group_row(label: str, group: tuple[tuple[Data, ...], ...], values: list[str], index: RowIndex,
                    pub: Published, state: _TableState) -> None:
    """A group printed as one row of figures (an F2021 report keeping F2019's single （六）其他处理 row): its
    sub-rows are not reported; the row's figures are kept (`Published.groups`) for the rules that sum the
    group, and the layout is reported."""
    scratch = Published(pub.file, pub.office, pub.year, pub.format, {})
    _assign(index, group[0], values, scratch, state, what=f"“{label}”一行")
    table = index.table.key
    figures = {d.column: scratch.values.get(f"{table}.{d.row}.{d.column}") for d in group[0]}
    pub.groups[label] = (tuple(tuple(f"{table}.{d.row}.{d.column}" for d in data) for data in group), figures)
    pub.problems += scratch.problems
    pub.problems.append(f"{row_name(index)}“{label}”按F2019格式印成一行：其{len(group)}个子项视为未填报，"
                        "这一行的数字只用于该组的合计核对")


RESEMBLES = 0.8  # how alike a misprinted label and the format's label are (difflib's ratio of their keys)


def _resembles(label: str, index: RowIndex) -> str | None:
    """The key of the one row whose label `label` resembles (a slip: `其他法律行政止公开`), or None."""
    k = key(label)
    ratios = sorted(((difflib.SequenceMatcher(None, k, row).ratio(), row) for row in index.rows), reverse=True)
    if not ratios or ratios[0][0] < RESEMBLES:
        return None
    if len(ratios) > 1 and ratios[1][0] >= ratios[0][0] - 0.05 and index.rows[ratios[1][1]] != index.rows[ratios[0][1]]:
        return None  # as like another row: not read
    return ratios[0][1]


def row_name(index: RowIndex) -> str:
    return TABLE_NAMES.get(index.table.key, index.table.key)


def _glued(label: str, index: RowIndex) -> bool:
    k = key(label)
    return any(k.startswith(row) and k[len(row):].isdigit() for row in index.rows)


def _note_header(labels: list[str], index: RowIndex, pub: Published, state: _TableState) -> None:
    """Remember what a header row says that the values need: a configurable label's wording, a unit."""
    state.yuan = any("元" in c and "万元" not in c for c in labels)
    # A header row that is the name of one part of the table alone (表四's 未经复议直接起诉 over a table of its
    # own): the values row that follows is that part's.
    parts = {key(text): row for row, text in index.table.rows.items()}
    named = [parts[key(text)] for text in labels if key(text) in parts]
    if named:
        state.part = named[0] if len(labels) == 1 else None
    for _, label in index.table.labels():
        if not label.key:
            continue
        for text in labels:
            for accepted in label.variants:  # the office prints another accepted wording than the default
                if key(text) == key(accepted):
                    pub.labels[label.key] = accepted


def _positions(data: tuple[Data, ...], spans: bool) -> list[int]:
    out, at = [], 0
    for d in data:
        out.append(at)
        at += d.colspan if spans else 1
    return out


def _assign(index: RowIndex, data: tuple[Data, ...], values: list[str], pub: Published, state: _TableState,
            what: str) -> None:
    """Lay `values` on the row's data cells. A flattened row may hold an empty slot for each merged column,
    of the label (leading) or of a value (after it): take the first layout that loses no value. A row with
    fewer cells than its data cells lost some (a number dropped by a copy, a cell missing in the page): which
    ones is not known, and laying the others from the left would give figures to the wrong columns, so the row
    is not read (`Published.unreadable`: the checks that need it are not assessable) and the problem says so.
    A short row of zeros only is read from the left, the cells it lacks blank: text copies drop a row's trailing
    empty cells (the seed's `四、结转下年度继续办理 | 0 |`), and a 0 in a neighbour's column is no wrong figure."""
    filled = [i for i, v in enumerate(values) if v]
    table = index.table.key
    if filled and len(values) < len(data) and any(_nonzero(v) for v in values if v):
        refs = [f"{table}.{d.row}.{d.column}" for d in data]
        if all(pub.values.get(ref) is not None for ref in refs):
            return  # a row printed twice (a table split by a page break): the first one counts
        for ref in refs:
            if pub.values.get(ref) is None:
                pub.unreadable.setdefault(ref, " ".join(v for v in values if v))
        numbers = "、".join(v if v else "（空）" for v in values)
        pub.problems.append(f"{row_name(index)}{what}：应有{len(data)}个数字，只有{len(values)}个（{numbers}），"
                            "缺了一格，无法确定各数字属于哪一栏；这一行未读取，用到它的检查无法评估")
        return
    candidates = []  # (slots the layout covers, positions of the data cells)
    for skip in (0, 1, 2):
        for spans in (False, True):
            width = skip + (sum(d.colspan for d in data) if spans else len(data))
            candidates.append((width, [skip + p for p in _positions(data, spans)]))
    # A layout exactly as wide as the row first (a flattened row keeps its empty slots), then the simplest.
    candidates.sort(key=lambda c: c[0] != len(values))
    layout = next((at for _, at in candidates if all(i in at for i in filled)), None)
    if layout is None:
        layout = _positions(data, False)
        pub.problems.append(f"{row_name(index)}{what}：{len(data)}个单元格有{len(filled)}个数字，"
                            "多出的数字未读取")
    for d, i in zip(data, layout, strict=True):
        ref = f"{table}.{d.row}.{d.column}"
        if pub.values.get(ref) is not None:
            continue  # a row printed twice (a table split by a page break): the first one counts
        cell: Cell = read_cell(values[i] if i < len(values) else "", d.kind, yuan=state.yuan and d.kind is Kind.AMOUNT)
        pub.values[ref] = cell.value
        if cell.changed:
            pub.originals[ref] = cell.original


def _nonzero(text: str) -> bool:
    """Whether a cell's text is a figure other than 0 (text that is no number counts as one; a dash is none)."""
    value = read_cell(text, Kind.AMOUNT).value
    if value is None:
        return False
    try:
        return Decimal(value) != 0
    except ArithmeticError:
        return True


def _check_format(pub: Published, doc: Document) -> None:
    """The year gives the format; say so when the tables' labels are another version's."""
    rows = [b for b in doc.blocks if isinstance(b, Row)]
    scores = {}
    for fmt in FORMATS:
        known = set().union(*(row_index(fmt, t.key).labels | set(row_index(fmt, t.key).rows) for t in fmt.tables))
        scores[fmt.id] = sum(key(c) in known for r in rows for c in r.cells if c and not is_value(c))
    best = max(scores, key=scores.__getitem__)
    if best != pub.format.id and scores[best] > scores[pub.format.id]:
        pub.problems.append(f"{pub.year}年的报告应使用{pub.format.id}格式，但表格的栏目名称是{best}格式的；"
                            f"按{pub.format.id}格式读取")
