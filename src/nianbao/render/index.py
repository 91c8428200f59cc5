"""The reviewers' index of a batch, `outputs/index.html`: every office-year, its status, its findings and
links to its page and executed notebook. One self-contained file; a small inline script filters and sorts,
and without it the page is still the complete table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from functools import cache
from html import escape
from importlib.resources import files

from ..findings import Finding
from ..manifest import FAILED, GATED, PUBLISHED, WARNINGS, Entry
from .html import SEVERITY_LABEL, cell_text, location, standalone_page

STATUS_LABEL = {
    PUBLISHED: "已发布",
    WARNINGS: "已发布（有警告）",
    GATED: "未通过校验，不予发布",
    FAILED: "生成失败",
}
STATUS_ORDER = (FAILED, GATED, WARNINGS, PUBLISHED)  # the ones that need a reviewer first
MAX_FINDINGS = 20  # per row; the findings page and notebook hold them all


@cache
def _asset(name: str) -> str:
    return files("nianbao.render").joinpath(f"templates/index/{name}").read_text(encoding="utf-8")


def _findings(entry: Entry) -> str:
    found = sorted((Finding.from_dict(d) for d in entry.findings), key=lambda f: (not f.critical, f.rule, f.where))
    if not found:
        return ""
    items = []
    for f in found[:MAX_FINDINGS]:
        where = location(f)
        text = f"{f.rule}（{SEVERITY_LABEL.get(f.severity, f.severity)}）{'：' + where if where else ''} {f.message}"
        if f.suspect:
            text += f"；最可能有误：{cell_text(f.year, f.suspect_cell)}"
        items.append(f'<li class="{escape(f.severity)}">{escape(text)}</li>')
    if len(found) > MAX_FINDINGS:
        items.append(f"<li>……另有{len(found) - MAX_FINDINGS}项</li>")
    return '<ul class="findings">' + "".join(items) + "</ul>"


def _links(entry: Entry) -> str:
    links = []
    if entry.html:
        label = "校验结果" if entry.status == GATED else "报告"
        links.append(f'<a href="{escape(entry.html)}">{label}</a>')
    if entry.notebook:
        links.append(f'<a href="{escape(entry.notebook)}">执行记录（ipynb）</a>')
    if entry.error:
        links.append(f"<details><summary>错误信息</summary><pre>{escape(entry.error)}</pre></details>")
    return " · ".join(links)


HEADLINE_LABELS = {"new": "新收申请", "open": "予以公开", "review": "行政复议"}  # nianbao.overview.INDEX_HEADLINES


def _headline(figure: list | None) -> str:
    """A headline cell: the figure and its change from last year (`[value, change]` as text, None unknown)."""
    value, change = (figure or [None, None])[:2]
    if value is None:
        return '<td class="num" data-key=""></td>'
    shown = "持平" if change in ("0", "0.00") else change if change is None or change.startswith("-") else f"+{change}"
    delta = f' <span class="change">{escape(shown.replace("-", "−"))}</span>' if change is not None else ""
    return f'<td class="num" data-key="{escape(value)}">{escape(value)}{delta}</td>'


def _row(entry: Entry, name: str, figures: Mapping[str, list] | None = None) -> str:
    status = STATUS_LABEL.get(entry.status, entry.status)
    search = f"{entry.office} {name} {entry.year} {status}".lower()
    rank = STATUS_ORDER.index(entry.status) if entry.status in STATUS_ORDER else len(STATUS_ORDER)
    return (
        f'<tr class="{escape(entry.status)}" data-status="{escape(entry.status)}" data-search="{escape(search)}">'
        f'<td data-key="{escape(name or entry.office)}">{escape(name)} <span class="office-id">{escape(entry.office)}'
        f"</span></td>"
        f'<td class="num" data-key="{entry.year}">{entry.year}</td>'
        f'<td class="status" data-key="{rank}">{escape(status)}</td>'
        + "".join(_headline((figures or {}).get(k)) for k in HEADLINE_LABELS) +
        f'<td data-key="{len(entry.findings)}">{_findings(entry)}</td>'
        f'<td data-key="">{_links(entry)}</td>'
        "</tr>"
    )


def index_html(entries: Sequence[Entry], names: Mapping[str, str], overviews: Mapping[str, dict] | None = None) -> str:
    """The index page of `entries` (in their order), with office names from `names`, and from `overviews`
    (year → the manifest's record of that year's overview) each office-year's headline figures and a link to
    each year's overview."""
    overviews = overviews or {}
    counts = Counter(e.status for e in entries)
    chips = "".join(f"<li>{STATUS_LABEL[s]} {counts[s]}</li>" for s in reversed(STATUS_ORDER))
    options = "".join(f'<option value="{s}">{STATUS_LABEL[s]}</option>' for s in STATUS_ORDER)
    rows = "\n".join(_row(e, names.get(e.office, ""), overviews.get(str(e.year), {}).get("headlines", {}).get(e.office))
                      for e in entries)
    links = " · ".join(f'<a href="{escape(o["html"])}">{year}</a>' for year, o in sorted(overviews.items())
                       if o.get("html"))
    overview_links = f'<p class="overviews">年度概览：{links}</p>\n' if links else ""
    title = "政府信息公开工作年度报告：生成结果"
    body = f"""<h1>{title}</h1>
<ul class="counts"><li>共{len(entries)}份</li>{chips}</ul>
{overview_links}<div class="controls" id="controls" hidden>
<input id="filter-text" type="search" placeholder="按机关名称、代码或年度筛选" aria-label="筛选">
<select id="filter-status" aria-label="状态"><option value="">全部状态</option>{options}</select>
<span>显示 <span id="shown">{len(entries)}</span> 份</span>
</div>
<table id="reports">
<thead><tr><th data-sort="text">机关</th><th data-sort="number">年度</th><th data-sort="number">状态</th>
{"".join(f'<th data-sort="number">{label}</th>' for label in HEADLINE_LABELS.values())}
<th data-sort="number">校验问题</th><th>文件</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>"""
    return standalone_page(title, _asset("index.css"), body, _asset("index.js"))
