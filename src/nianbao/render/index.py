"""The reviewers' index of a batch, `outputs/index.html`: every office-year, its status, its findings and
links to its page and executed notebook.

The page itself is small (counts, links to the overviews, the table's head) and works from file:// without
a server: its inline script loads the rows from one script file per year beside it (`index/<year>.js`), the
years it shows (all of them up to `ALL_YEARS_MAX` reports), and lays out `PAGE` rows at a time, so it opens at
once at 10^5 reports and filters and sorts all of them. A batch rewrites only the chunks of years whose rows
changed (`nianbao.batch.write_index`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
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
PAGE = 200  # rows shown at a time: a page of 10^5 rows would take the browser seconds to lay out and sort
ALL_YEARS_MAX = 15_000  # up to this many reports the page opens on every year, above it on the latest
INDEX_VERSION = 2  # of the chunk files' rows: a change here rewrites every chunk


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
        return '<td class="num"></td>'
    shown = "持平" if change in ("0", "0.00") else change if change is None or change.startswith("-") else f"+{change}"
    delta = f' <span class="change">{escape(shown.replace("-", "−"))}</span>' if change is not None else ""
    return f'<td class="num" data-key="{escape(value)}">{escape(value)}{delta}</td>'


def _number(figure: list | None) -> float | None:
    try:
        return float(figure[0]) if figure and figure[0] is not None else None
    except (TypeError, ValueError):
        return None


def _row(entry: Entry, name: str, figures: Mapping[str, list]) -> list:
    status = STATUS_LABEL.get(entry.status, entry.status)
    search = f"{entry.office} {name} {entry.year} {status}".lower()
    rank = STATUS_ORDER.index(entry.status) if entry.status in STATUS_ORDER else len(STATUS_ORDER)
    html = (
        f'<tr class="{escape(entry.status)}" data-status="{escape(entry.status)}" data-search="{escape(search)}">'
        f'<td>{escape(name)} <span class="office-id">{escape(entry.office)}</span></td>'
        f'<td class="num">{entry.year}</td>'
        f'<td class="status">{escape(status)}</td>'
        + "".join(_headline(figures.get(k)) for k in HEADLINE_LABELS) +
        f"<td>{_findings(entry)}</td>"
        f"<td>{_links(entry)}</td>"
        "</tr>"
    )
    keys = [name or entry.office, entry.year, rank, *(_number(figures.get(k)) for k in HEADLINE_LABELS),
            len(entry.findings)]
    return [entry.office, html, search, entry.status, keys]


def chunk_rows(entries: Iterable[tuple[str, Entry]], names: Mapping[str, str],
               headlines: Mapping[str, Mapping[str, list]]) -> list[list]:
    """The rows of one chunk file, for the index's script: `[office, html, search, status, keys]`, where
    `html` is the `<tr>`, `search` the text the filter matches, `status` the manifest's, and `keys` one sort
    key per sortable column (机关, 年度, 状态, the headline figures, 校验问题; None when blank). `entries`:
    (office, entry) pairs; `headlines`: office → the year's headline figures (`[value, change]` by key, from
    the overview)."""
    return [_row(entry, names.get(office, ""), headlines.get(office) or {}) for office, entry in entries]


def chunk_script(year: int, rows: list[list]) -> str:
    """A chunk file, `index/<year>.js`: a script that hands the year's rows to the index page. A script, not
    JSON: pages opened from file:// may load scripts beside them, but Chromium refuses them fetch()."""
    data = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return f"nianbaoIndex({year},{data});\n"


def index_html(chunks: Sequence[Mapping], counts: Mapping[str, int], overviews: Mapping[str, dict] | None = None,
               ) -> str:
    """The index page: counts by status, a link to each year's overview (`overviews`: year → the manifest's
    record of that year's overview), and a table whose rows the page's script loads from the chunk files
    (`chunks`: `{"year", "src", "rows"}` each, `src` relative to outputs/), a page of rows at a time: the
    page opens at once whatever the number of reports, and filters and sorts all of them."""
    overviews = overviews or {}
    total = sum(counts.values())
    chips = "".join(f"<li>{STATUS_LABEL[s]} {counts.get(s, 0)}</li>" for s in reversed(STATUS_ORDER))
    options = "".join(f'<option value="{s}">{STATUS_LABEL[s]}</option>' for s in STATUS_ORDER)
    years = "".join(f'<option value="{c["year"]}">{c["year"]}年（{c["rows"]}份）</option>'
                    for c in sorted(chunks, key=lambda c: c["year"], reverse=True))
    links = " · ".join(f'<a href="{escape(o["html"])}">{year}</a>' for year, o in sorted(overviews.items())
                       if o.get("html"))
    overview_links = f'<p class="overviews">年度概览：{links}</p>\n' if links else ""
    title = "政府信息公开工作年度报告：生成结果"
    data = json.dumps({"chunks": list(chunks), "page": PAGE, "all": ALL_YEARS_MAX}, ensure_ascii=False)
    body = f"""<h1>{title}</h1>
<ul class="counts"><li>共{total}份</li>{chips}</ul>
{overview_links}<noscript><p class="noscript">报告列表由页面脚本从 index/ 文件夹载入，请启用 JavaScript；各份报告在
outputs/&lt;机关&gt;/&lt;年度&gt;.html。</p></noscript>
<div class="controls" id="controls" hidden>
<input id="filter-text" type="search" placeholder="按机关名称、代码或年度筛选" aria-label="筛选">
<select id="filter-status" aria-label="状态"><option value="">全部状态</option>{options}</select>
<select id="filter-year" aria-label="年度"><option value="">全部年度</option>{years}</select>
<span>显示 <span id="shown">0</span> 份</span>
<span class="pager"><button type="button" id="page-prev">上一页</button>
<span id="page-at"></span><button type="button" id="page-next">下一页</button></span>
<span id="loading" hidden>正在载入……</span>
</div>
<table id="reports">
<thead><tr><th data-sort="text">机关</th><th data-sort="number">年度</th><th data-sort="number">状态</th>
{"".join(f'<th data-sort="number">{label}</th>' for label in HEADLINE_LABELS.values())}
<th data-sort="number">校验问题</th><th>文件</th></tr></thead>
<tbody>
</tbody>
</table>
<script type="application/json" id="index-data">{_script_json(data)}</script>"""
    return standalone_page(title, _asset("index.css"), body, _asset("index.js"))


def _script_json(text: str) -> str:
    """JSON inside a <script> element: `</` (as in `</script>`) cannot end it early."""
    return text.replace("</", "<\\/")


def assets_digest() -> str:
    """What the index's files are made with (its script, style and this module's version of the rows)."""
    h = hashlib.sha256(f"index {INDEX_VERSION}\0".encode())
    for name in ("index.css", "index.js"):
        h.update(_asset(name).encode() + b"\0")
    return h.hexdigest()
