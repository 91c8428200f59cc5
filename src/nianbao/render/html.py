"""HTML fragments of a report and of a list of findings.

Tables are written straight from the format's grid, with real rowspan/colspan. Prose is Markdown
rendered with raw HTML disabled (escaped, never executed) and images off (a report fetches nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from html import escape
from importlib.resources import files
from typing import TYPE_CHECKING

from ..exceptions import NianbaoError
from ..findings import SEVERITY_LABEL, Cell, Finding
from ..formats import Data, Label, Role, Table, format_for

if TYPE_CHECKING:  # the index and the overviews' pages use this module too, and neither parses prose
    from markdown_it import MarkdownIt

    from ..report import Report

__all__ = ["SEVERITY_LABEL", "cell_text", "findings_html", "report_html", "table_html"]


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).disable("image")


@cache
def report_css() -> str:
    return files("nianbao.render").joinpath("templates/nianbao/report.css").read_text(encoding="utf-8")


def prose(text: str) -> str:
    return _markdown().render(text) if text else ""


def _span(cell: Label | Data) -> str:
    attrs = ""
    if cell.rowspan > 1:
        attrs += f' rowspan="{cell.rowspan}"'
    if cell.colspan > 1:
        attrs += f' colspan="{cell.colspan}"'
    return attrs


Marks = dict[str, list[tuple[int, Finding]]]  # "t3.new.natural" → (number in the list, finding) of each finding


def _marked(ref: str, value: str | None, span: str, marks: Marks) -> str:
    """A data cell that findings involve: their rule ids in `data-rule`, their messages on hover (`title`) and
    as note numbers that print, coloured by the worst severity."""
    hits = marks[ref]
    rules = " ".join(dict.fromkeys(f.rule for _, f in hits))
    severity = "critical" if any(f.critical for _, f in hits) else "warning"
    suspect = " nb-suspect" if any(f.suspect == ref for _, f in hits) else ""
    notes = ",".join(str(n) for n, _ in hits)
    tip = "\n".join(f"{n}. {f.rule}：{f.message}" + _expected_note(f, ref) for n, f in hits)
    return (f'<td class="num nb-flag {severity}{suspect}" data-rule="{escape(rules)}" data-cell="{ref}"'
            f' title="{escape(tip)}"{span}>'
            f'{escape(value or "")}<sup class="nb-note">{notes}</sup></td>')


def _expected_note(f: Finding, ref: str) -> str:
    cell = next((c for c in f.cells if c.ref == ref), None)
    if cell is None or cell.expected is None or cell.expected == cell.value:
        return ""
    return f"（按此勾稽关系应为{cell.expected}）"


def table_html(table: Table, report: Report, marks: Marks | None = None,
               counts: Mapping[str, int] | None = None) -> str:
    """One official table, with real rowspan/colspan; header rows in `<thead>` so that print repeats them.
    `marks`: the cells findings involve (see `findings_html`); `counts` (the overview's region tables):
    cell → how many offices gave it, shown under each value."""
    header = _header_rows(table)
    lines = [f'<div class="nb-scroll"><table class="nb-table nb-{table.key}">', "<thead>"]
    for i, line in enumerate(table.grid):
        if i == header:
            lines.append("</thead><tbody>")
        cells = []
        for cell in line:
            if isinstance(cell, Data):
                ref = f"{table.key}.{cell.row}.{cell.column}"
                value = report.values.get(ref)
                if marks and ref in marks:
                    cells.append(_marked(ref, value, _span(cell), marks))
                elif counts is not None:
                    count = f'<span class="nb-count">{counts.get(ref, 0)}</span>'
                    cells.append(f'<td class="num"{_span(cell)}>{escape(value or "")}{count}</td>')
                else:
                    cells.append(f'<td class="num"{_span(cell)}>{escape(value or "")}</td>')
            else:
                scope = ' scope="row"' if cell.role is Role.ROW else ""
                text = report.label(cell)
                keep = cell.role in (Role.HEADER, Role.ROW) and len(text) <= KEEP_WHOLE
                cls = f"{cell.role.value} nb-keep" if keep else cell.role.value
                cells.append(f'<th class="{cls}"{scope}{_span(cell)}>{_breakable(text) if keep else escape(text)}</th>')
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table></div>" if header < len(table.grid) else "</thead></table></div>")
    return "\n".join(lines)


KEEP_WHOLE = 8  # labels this short (结果维持, （三）不予公开) never break inside a word; longer ones wrap as text does
_BREAK_AFTER = re.compile(r"(?<=[）、，])(?=.)")


def _breakable(label: str) -> str:
    """A label that breaks between words only (with `word-break: keep-all`): after `）`, `、` and `，`, and in a
    label of four or more characters without them, before its last two (结果<wbr>维持, 社会公益<wbr>组织), which
    is where the format's two-character words end."""
    if _BREAK_AFTER.search(label):
        return "<wbr>".join(escape(part) for part in _BREAK_AFTER.split(label))
    if len(label) >= 4 and not any(ch.isascii() for ch in label):
        return f"{escape(label[:-2])}<wbr>{escape(label[-2:])}"
    return escape(label)


def _header_rows(table: Table) -> int:
    """How many grid rows head the table: those before its first data row, when no label-only row follows
    (table 二 is blocks, each with its own caption and header: it has no single head to repeat)."""
    data = [any(isinstance(c, Data) for c in line) for line in table.grid]
    first = data.index(True) if True in data else len(data)
    if not all(data[first:]):
        return 0
    for r, _, cell in table.positions():
        if r < first < r + cell.rowspan:  # a label spanning head and body: no clean head
            return 0
    return first


def report_html(report: Report) -> str:
    """The whole report (title, preamble, six sections with their tables) as one fragment."""
    tables = {t.section: t for t in report.format.tables}
    parts = [
        f"<style>{report_css()}</style>",
        '<article class="nianbao-report" lang="zh-CN">',
        f"<h1>{_title(report)}</h1>",
    ]
    if report.narrative.preamble:
        parts.append(f'<div class="preamble">{prose(report.narrative.preamble)}</div>')
    for i, heading in enumerate(report.format.headings):
        parts.append(f"<section><h2>{escape(heading)}</h2>")
        parts.append(prose(report.narrative.body(heading)))
        if i in tables:
            parts.append(table_html(tables[i], report))
        parts.append("</section>")
    parts.append("</article>")
    return "\n".join(parts)


def _title(report: Report) -> str:
    """The title, breakable only after the office's name and the year (太和街道办事处2020年 / 政府信息公开工作
    年度报告), as official pages set it on two lines."""
    office, year, rest = report.title.partition(f"{report.year}年")
    return f"{escape(office)}<wbr>{year}<wbr>{escape(rest)}" if year else escape(report.title)


TABLE_NAMES = {"t2": "表二", "t3": "表三", "t4": "表四"}


def location(f: Finding) -> str:
    """Where a finding is, in the table's own words: `表三 · 一、本年新收政府信息公开申请数量 · 自然人`."""
    return cell_location(f.year, f.table, f.row, f.column) if f.table else ""


def cell_text(year: int, cell: Cell | None) -> str:
    """An involved cell in words: `表三 · （七）总计 · 商业企业：填报0，按此勾稽关系应为4（data/figures/x.csv:12）`."""
    if cell is None:
        return ""
    table, row, column = cell.key.split(".")
    where = ("上年" if cell.previous else "") + cell_location(year - cell.previous, table, row, column)
    text = f"{where}：填报{cell.value if cell.value is not None else '空白'}"
    if cell.expected is not None and cell.expected != cell.value:
        text += f"，按此勾稽关系应为{cell.expected}"
    if cell.source:
        text += f"（{cell.source}）"
    return text


def cell_location(year: int, table: str, row: str | None, column: str | None) -> str:
    """A cell of `year`'s format in the table's own words (its keys when the format does not know them)."""
    try:
        t = format_for(year).table(table)
    except (NianbaoError, KeyError):
        return ".".join(p for p in (table, row, column) if p)
    return " · ".join(p for p in (TABLE_NAMES.get(table, table), *t.labels_of(row, column)) if p)


def _finding_cells(f: Finding) -> str:
    """The involved cells of a finding as a list, the likely wrong one first; else what was found and where."""
    if not f.cells:
        found = f"所填：{f.value}" if f.value is not None else ""
        return escape("；".join(p for p in (found, f.source or "") if p))
    cells = sorted(f.cells, key=lambda c: c.ref != f.suspect)
    items = [f'<li{" class=nb-suspect" if c.ref == f.suspect else ""}>'
             + ("<b>最可能有误：</b>" if c.ref == f.suspect else "") + escape(cell_text(f.year, c)) + "</li>"
             for c in cells]
    if len(items) > 4:  # a long sum: the likely wrong cell and the first ones, the rest folded
        rest = items[3:]
        items = [*items[:3], f"<li><details><summary>其余{len(rest)}个单元格</summary><ul>{''.join(rest)}</ul>"
                             "</details></li>"]
    return '<ul class="nb-cells">' + "".join(items) + "</ul>"


def findings_html(findings: Sequence[Finding], title: str, report: Report | None = None) -> str:
    """The findings, critical first, for the analyst and the reviewer. With `report`, its tables come first,
    every cell a finding involves marked (`data-rule`, colour, note number, message on hover)."""
    head = ("序号", "规则", "级别", "说明", "涉及的单元格（填报值、应有值、来源）")
    ordered = sorted(findings, key=lambda f: (not f.critical, f.rule, f.where))
    rows, marks = [], {}
    for n, f in enumerate(ordered, start=1):
        message = f.message if not f.where or f.cells else f"{location(f)}：{f.message}"
        cells = (str(n), f.rule, SEVERITY_LABEL.get(f.severity, f.severity))
        rows.append(f'<tr class="{escape(f.severity)}" id="nb-finding-{n}">'
                    + "".join(f'<td class="txt">{escape(c)}</td>' for c in cells)
                    + f'<td class="txt">{escape(message)}</td><td class="txt">{_finding_cells(f)}</td></tr>')
        for c in f.cells:
            if not c.previous:
                marks.setdefault(c.ref, []).append((n, f))
    critical = sum(f.critical for f in findings)
    summary = f"严重问题{critical}项，警告{len(findings) - critical}项"
    tables = []
    if report is not None:
        for t in report.format.tables:
            if any(ref.startswith(f"{t.key}.") for ref in marks):
                tables.append(f'<h2>{TABLE_NAMES.get(t.key, t.key)}（标出的单元格涉及下列问题，数字为问题序号）</h2>')
                tables.append(table_html(t, report, marks))
    return "\n".join([
        f"<style>{report_css()}</style>",
        '<article class="nianbao-report nianbao-findings" lang="zh-CN">',
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">数据校验结果：{summary}。</p>',
        *tables,
        "<h2>问题清单</h2>" if tables else "",
        '<table class="nb-findings"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        "</article>",
    ])


def standalone_page(title: str, style: str, body: str, script: str = "") -> str:
    """A self-contained page (nianbao's index and audit pages): inline style and script, nothing fetched."""
    scripts = f"<script>\n{script}</script>\n" if script else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nianbao">
<title>{escape(title)}</title>
<style>
{style}</style>
</head>
<body>
<main>
{body}
</main>
{scripts}</body>
</html>
"""
