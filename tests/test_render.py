"""Rendering: safe prose, numbers as written, a small self-contained page."""

from __future__ import annotations

import re
from dataclasses import replace

import nbformat
from htmltext import read

from nianbao.narrative import parse
from nianbao.render.exporter import ReportExporter
from nianbao.render.html import prose, report_html
from nianbao.report import load_report


def test_prose_never_passes_raw_html() -> None:
    html = prose('正文<script>alert(1)</script><img src=x onerror=alert(1)> [链接](javascript:alert(1)) ![图](http://x/y.png)')
    assert "<script" not in html and "<img" not in html
    assert not re.search(r'(href|src)="javascript:', html)  # markdown-it refuses the link; it stays text
    assert "&lt;script&gt;" in html  # escaped, so the reader sees what was typed
    assert not re.search(r"<[^>]*\ssrc=", html)  # images are off: a report fetches nothing


def test_numbers_are_printed_as_written(repo) -> None:
    report = load_report("example-shifan", 2019, repo)
    values = dict(report.values)
    values.update({"t2.license.delta": "-3", "t2.procurement.amount": "7.4890", "t2.penalty.delta": "0"})
    page = read(report_html(replace(report, values=values)))
    t2 = [[c.text for c in row] for row in page.tables[0]]
    assert ["行政许可", values["t2.license.prev_items"], "-3", values["t2.license.decisions"]] in t2
    assert ["政府集中采购", values["t2.procurement.count"], "7.4890"] in t2
    assert not any(cell.startswith("+") for row in t2 for cell in row)


def test_sections_in_official_order_with_tables_after_their_prose(repo) -> None:
    page = read(report_html(load_report("example-shifan", 2021, repo)))
    blocks = [text for tag, text in page.blocks if tag in ("h1", "h2")]
    assert blocks[1:] == list(load_report("example-shifan", 2021, repo).format.headings)


def exported(nb_html: str) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="noise\n"),
        nbformat.v4.new_output("display_data", data={"text/html": "<p>not ours</p>"}),
        nbformat.v4.new_output("display_data", data={"text/html": nb_html},
                               metadata={"nianbao": {"role": "report", "title": "标题"}}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# analyst notes"), cell]
    return ReportExporter().from_notebook_node(nb)[0]


def test_exporter_keeps_only_the_report(repo) -> None:
    html = exported(report_html(load_report("guandu-taihe", 2020, repo)))
    assert "noise" not in html and "not ours" not in html and "analyst notes" not in html
    assert "<title>标题</title>" in html
    assert "In&nbsp;[" not in html and "jp-" not in html and "<script" not in html
    # Self-contained: nothing is fetched.
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html) and "@import" not in html
    assert len(html.encode()) < 40_000


def test_narrative_parse_keeps_preamble_and_sections() -> None:
    n = parse("前言\n\n# 一、总体情况\n\n正文一\n\n```\n# not a heading\n```\n# 二、主动公开政府信息情况\n", "x.md")
    assert n.preamble == "前言"
    assert n.headings == ("一、总体情况", "二、主动公开政府信息情况")
    assert "# not a heading" in n.sections[0].body
    assert n.sections[0].body_line == 5
