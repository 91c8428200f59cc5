"""HTML fragments of a report and of a list of findings.

Tables are written straight from the format's grid, with real rowspan/colspan. Prose is Markdown
rendered with raw HTML disabled (escaped, never executed) and images off (a report fetches nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from html import escape
from importlib.resources import files

from markdown_it import MarkdownIt

from ..exceptions import NianbaoError
from ..findings import Finding
from ..formats import Data, Label, Role, Table, format_for
from ..report import Report

SEVERITY_LABEL = {"critical": "严重", "warning": "警告"}


@cache
def _markdown() -> MarkdownIt:
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


def table_html(table: Table, report: Report, counts: Mapping[str, int] | None = None) -> str:
    """One table in the official grid. `counts` (the overview's region tables): cell → how many offices gave
    it, shown under each value."""
    lines = [f'<table class="nb-table nb-{table.key}">']
    for line in table.grid:
        cells = []
        for cell in line:
            if isinstance(cell, Data):
                ref = f"{table.key}.{cell.row}.{cell.column}"
                value = escape(report.values.get(ref) or "")
                if counts is not None:
                    value += f'<span class="nb-count">{counts.get(ref, 0)}</span>'
                cells.append(f'<td class="num"{_span(cell)}>{value}</td>')
            else:
                scope = ' scope="row"' if cell.role is Role.ROW else ""
                cells.append(f'<th class="{cell.role.value}"{scope}{_span(cell)}>{escape(report.label(cell))}</th>')
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def report_html(report: Report) -> str:
    """The whole report (title, preamble, six sections with their tables) as one fragment."""
    tables = {t.section: t for t in report.format.tables}
    parts = [
        f"<style>{report_css()}</style>",
        '<article class="nianbao-report" lang="zh-CN">',
        f"<h1>{escape(report.title)}</h1>",
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


TABLE_NAMES = {"t2": "表二", "t3": "表三", "t4": "表四"}


def location(f: Finding) -> str:
    """Where a finding is, in the table's own words: `表三 · 一、本年新收政府信息公开申请数量 · 自然人`."""
    return cell_location(f.year, f.table, f.row, f.column) if f.table else ""


def cell_location(year: int, table: str, row: str | None, column: str | None) -> str:
    """A cell of `year`'s format in the table's own words (its keys when the format does not know them)."""
    try:
        t = format_for(year).table(table)
    except (NianbaoError, KeyError):
        return ".".join(p for p in (table, row, column) if p)
    return " · ".join(p for p in (TABLE_NAMES.get(table, table), *t.labels_of(row, column)) if p)


def findings_html(findings: Sequence[Finding], title: str) -> str:
    """The findings as a table, critical first, for the analyst and the reviewer."""
    head = ("规则", "级别", "位置", "说明", "值", "来源")
    rows = []
    for f in sorted(findings, key=lambda f: (not f.critical, f.rule, f.where)):
        cells = (f.rule, SEVERITY_LABEL.get(f.severity, f.severity), location(f), f.message, f.value, f.source)
        rows.append(f'<tr class="{escape(f.severity)}">' + "".join(f"<td>{escape(c or '')}</td>" for c in cells)
                    + "</tr>")
    critical = sum(f.critical for f in findings)
    summary = f"严重问题{critical}项，警告{len(findings) - critical}项"
    return "\n".join([
        f"<style>{report_css()}</style>",
        '<article class="nianbao-report nianbao-findings" lang="zh-CN">',
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">数据校验结果：{summary}。</p>',
        '<table class="nb-findings"><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr>",
        *rows,
        "</table>",
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
