"""The prose of one office-year: a Markdown file an analyst edits by hand.

    data/narrative/<office>/<year>.md

Text before the first `# ` heading is the optional preamble. Each `# ` line opens one of the six
sections, with the official heading as its text (the SEC-HEADINGS rule checks them). The body is
Markdown; `{{ t3.new.total }}`, `{{ year }}` or `{{ office.phone }}` take their value from the data, so
the prose cannot contradict the tables. Raw HTML is refused: a report is text and tables.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import cache

from markdown_it import MarkdownIt

from .exceptions import InputError

# A third brace next to one is not a placeholder: it stays as written, and the gate's PLACEHOLDER-MALFORMED
# rule names it (filling `{{x}}}` would leave a lone brace that looks like text).
PLACEHOLDER = re.compile(r"(?<!\{)\{\{\s*([^{}]*?)\s*\}\}(?!\})")


@dataclass(frozen=True)
class Section:
    heading: str
    body: str
    line: int  # 1-based line of the heading
    body_line: int  # 1-based line where the body's text starts


@dataclass(frozen=True)
class Narrative:
    file: str
    preamble: str
    sections: tuple[Section, ...]
    preamble_line: int = 1
    # What `fill` put in place of each placeholder: (part: 0 the preamble, i + 1 the i-th section; start, end in
    # the filled text; the placeholder as typed), so that a finding quotes the prose as the analyst wrote it.
    filled: tuple[tuple[int, int, int, str], ...] = ()

    def as_typed(self, part: int, text: str, start: int, end: int) -> str:
        """`text[start:end]` of a filled `part` with each value `fill` put there shown as the placeholder typed."""
        out, at = [], start
        for p, a, b, typed in self.filled:
            if p == part and a < end and b > start:
                out += [text[at:max(a, at)], typed]
                at = b
        return "".join(out) + text[at:end] if out else text[start:end]

    @property
    def headings(self) -> tuple[str, ...]:
        return tuple(s.heading for s in self.sections)

    def body(self, heading: str) -> str:
        for s in self.sections:
            if s.heading == heading:
                return s.body
        return ""


# A part's heading as CommonMark reads a level-1 ATX heading: up to three spaces before `#`, spaces or tabs
# after it (`#  一、总体情况` is one), an optional closing run of `#`.
_PART = re.compile(r"^ {0,3}#[ \t]+(\S.*?)(?:[ \t]+#+)?[ \t]*$")
# A part's heading written some other way than `# 一、总体情况`: `## 一、…`, full-width `＃ 一、…`, `#一、…`
# (no space), `#　一、…` (a full-width space, typed with a Chinese input method), or no `#` at all. Markdown
# reads none of them as the part's heading.
_HEADING_LIKE = re.compile(r"^\s*(#{2,}\s*|＃+\s*|#[ \t]*\u3000\s*|#(?=[^\s#])|)([一二三四五六])、(\S.{0,40})$")
WIDE_SPACE_MARKER = "#\u3000"  # `_part_heading`'s marker for `#` followed by a full-width space


def _part_heading(line: str) -> tuple[str, str] | None:
    """(marker, heading) when `line` is one of the six parts' headings (by its number and, loosely, its words,
    as in any format version) written without `# `; None otherwise (`## 一、加强组织领导` is a sub-heading)."""
    from .formats import FORMATS

    m = _HEADING_LIKE.match(line)
    if not m:
        return None
    index = "一二三四五六".index(m.group(2))
    words = re.sub(r"\s+", "", m.group(3))
    if max(difflib.SequenceMatcher(None, words, f.headings[index][2:]).ratio() for f in FORMATS) < 0.6:
        return None
    typed = m.group(1)
    marker = WIDE_SPACE_MARKER if typed[:1] == "#" and typed[1:2] != "#" and "\u3000" in typed else typed.strip()
    return marker, f"{m.group(2)}、{m.group(3).strip()}"


def parse(text: str, file: str, *, office: str | None = None, year: int | None = None) -> Narrative:
    """The preamble and the six parts of a prose file (`# ` opens a part). Raises `InputError` naming the line
    when a part's heading is written another way (`## 一、总体情况`, `＃ 一、…`, `#一、…`; a bare `一、总体情况`
    line when the file has no `# ` heading at all): the part would be read as empty."""
    preamble: list[str] = []
    sections: list[tuple[str, int, list[str]]] = []
    in_fence = False
    marked: tuple[int, str, str, str] | None = None  # the first heading written with another marker
    bare: tuple[int, str, str, str] | None = None  # the first one written with none
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        part = None if in_fence else _PART.match(line)
        if part:
            sections.append((part.group(1).strip(), number, []))
            continue
        found = None if in_fence else _part_heading(line)
        if found and found[0] and marked is None:
            marked = (number, line.strip(), *found)
        elif found and not found[0] and bare is None:
            bare = (number, line.strip(), *found)
        if sections:
            sections[-1][2].append(line)
        else:
            preamble.append(line)
    wrong = marked or (bare if not sections else None)
    if wrong:
        number, line, marker, heading = wrong
        why = ("“#”后缺少空格" if marker == "#" else "“#”后是全角空格" if marker == WIDE_SPACE_MARKER
               else f"以“{marker}”开头" if marker else "没有“# ”")
        raise InputError(f"“{line}”像是部分标题，但{why}：标题应写作“# {heading}”（行首一个半角井号，再加一个空格），"
                         "否则这一部分读作空白", file=file, line=number, office=office, year=year)
    return Narrative(
        file=file,
        preamble="\n".join(preamble).strip(),
        sections=tuple(Section(h, "\n".join(body).strip(), n, n + 1 + _leading_blanks(body))
                       for h, n, body in sections),
        preamble_line=1 + _leading_blanks(preamble),
    )


def _leading_blanks(lines: list[str]) -> int:
    return next((i for i, line in enumerate(lines) if line.strip()), len(lines))


@cache
def _detector() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True})


def _html_line(markdown: str) -> int | None:
    """The 0-based line of the first raw HTML in `markdown`, or None."""
    for token in _detector().parse(markdown):
        if token.type == "html_block":
            return token.map[0] if token.map else 0
        for child in token.children or ():
            if child.type == "html_inline":
                return token.map[0] if token.map else 0
    return None


PREAMBLE = "正文前言"  # how messages name the prose before the first heading (the sections: by their heading)


def _parts(narrative: Narrative) -> list[tuple[str, str, int]]:
    """(field name, text, first line) of the preamble and each section body."""
    parts = [(PREAMBLE, narrative.preamble, narrative.preamble_line)]
    parts += [(s.heading, s.body, s.body_line) for s in narrative.sections]
    return parts


def check_no_html(narrative: Narrative, office: str, year: int) -> None:
    for field, text, first in _parts(narrative):
        offset = _html_line(text)
        if offset is not None:
            raise InputError("报告正文中不能使用 HTML 标签（raw HTML），请写纯文本或 Markdown",
                             file=narrative.file, line=first + offset, office=office, year=year, field=field)


def fill(narrative: Narrative, resolve: Callable[[str], str | None], office: str, year: int,
         names: Collection[str] = ()) -> Narrative:
    """Replace every placeholder by its value, keeping where each was (`Narrative.filled`); an unknown name or a
    blank cell is an error (`InputError` with the file and line). `names`: every name a placeholder may use, to
    tell a blank cell from a name that does not exist and to suggest the one a misspelt name resembles
    (`{{ T3.NEW.TOTAL }}` → `{{ t3.new.total }}`)."""
    filled: list[tuple[int, int, int, str]] = []

    def substitute(part: int, text: str, field: str, first: int) -> str:
        out, last, size = [], 0, 0
        for match in PLACEHOLDER.finditer(text):
            name = match.group(1)
            value = resolve(name)
            if value is None:
                line = first + text.count("\n", 0, match.start())
                raise InputError(unresolved(name, names, year), file=narrative.file, line=line, office=office,
                                 year=year, field=field)
            literal = text[last:match.start()]
            size += len(literal)
            filled.append((part, size, size + len(value), match.group(0)))
            out += [literal, value]
            size += len(value)
            last = match.end()
        return "".join(out) + text[last:] if out else text

    preamble = substitute(0, narrative.preamble, PREAMBLE, narrative.preamble_line)
    sections = tuple(replace(s, body=substitute(i + 1, s.body, s.heading, s.body_line))
                     for i, s in enumerate(narrative.sections))
    return replace(narrative, preamble=preamble, sections=sections, filled=tuple(filled))


def unresolved(name: str, names: Collection[str], year: int) -> str:
    """Why the placeholder `{{ name }}` has no value, in Chinese: a cell left blank, or a name that does not
    exist (with the name it most resembles, when one does)."""
    shown = f"{{{{ {name} }}}}"
    if name in names:
        return f"占位符 {shown} 引用的单元格未填报（空白），没有数字可以写入正文；请填写该单元格（无数据填0）"
    folded = re.sub(r"\s+", "", name).lower().translate(_FULL_WIDTH)
    near = folded if folded in names else next(iter(difflib.get_close_matches(folded, list(names), 1, 0.75)), None)
    hint = f"是否应为 {{{{ {near} }}}}？" if near else ""
    return (f"占位符 {shown} 的名称不存在（{hint}可用 year、office.name 等，表格单元格见 `nianbao cells {year}`）"
            if names else f"占位符 {shown} 没有对应的数字（名称不存在，或该单元格未填报）")


_FULL_WIDTH = str.maketrans("０１２３４５６７８９．＿ｔＴ", "0123456789._tt")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~{}])")
_MD_LIST_START = re.compile(r"^(\d+)([.)])(\s)")


def plain_to_markdown(paragraph: str) -> str:
    """A paragraph of plain text as Markdown that renders as exactly that text (no list, heading, emphasis
    or raw HTML where the text only looked like one)."""
    text = _MD_SPECIAL.sub(r"\\\1", paragraph)
    text = _MD_LIST_START.sub(r"\1\\\2\3", text)
    return "\\" + text if text[:1] in "+-=" else text


def narrative_text(preamble: list[str], sections: list[tuple[str, list[str]]],
                   rewrite: Callable[[str], str] = lambda markdown: markdown) -> str:
    """A narrative file from plain paragraphs: the preamble, then each heading with its paragraphs.
    `rewrite` is applied to each paragraph's Markdown (ingest puts placeholders in place of table figures)."""
    parts = [rewrite(plain_to_markdown(p)) for p in preamble]
    for heading, paragraphs in sections:
        parts.append(f"# {heading}")
        parts += [rewrite(plain_to_markdown(p)) for p in paragraphs]
    return "\n\n".join(parts) + "\n"
