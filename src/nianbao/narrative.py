"""The prose of one office-year: a Markdown file an analyst edits by hand.

    data/narrative/<office>/<year>.md

Text before the first `# ` heading is the optional preamble. Each `# ` line opens one of the six
sections, with the official heading as its text (the SEC-HEADINGS rule checks them). The body is
Markdown; `{{ t3.new.total }}`, `{{ year }}` or `{{ office.phone }}` take their value from the data, so
the prose cannot contradict the tables. Raw HTML is refused: a report is text and tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


def parse(text: str, file: str) -> Narrative:
    preamble: list[str] = []
    sections: list[tuple[str, int, list[str]]] = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if not in_fence and re.match(r"# \S", line):
            sections.append((line[2:].strip(), number, []))
        elif sections:
            sections[-1][2].append(line)
        else:
            preamble.append(line)
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


def fill(narrative: Narrative, resolve: Callable[[str], str | None], office: str, year: int) -> Narrative:
    """Replace every placeholder by its value, keeping where each was (`Narrative.filled`); an unknown name or a
    blank cell is an error."""
    filled: list[tuple[int, int, int, str]] = []

    def substitute(part: int, text: str, field: str, first: int) -> str:
        out, last, size = [], 0, 0
        for match in PLACEHOLDER.finditer(text):
            name = match.group(1)
            value = resolve(name)
            if value is None:
                line = first + text.count("\n", 0, match.start())
                raise InputError(f"占位符 {{{{ {name} }}}} 没有对应的数字（名称不存在，或该单元格未填报）",
                                 file=narrative.file, line=line, office=office, year=year, field=field)
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
