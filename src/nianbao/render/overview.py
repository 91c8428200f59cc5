"""The overview page of a year: one HTML fragment, with its style, charts (inline SVG) and a small sorting
script inline, so the page the exporter makes of it fetches nothing. Without the script every table is
still complete."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from html import escape
from importlib.resources import files

from ..data import Office
from ..findings import Finding
from ..formats import Label
from ..manifest import FAILED, GATED, PUBLISHED, WARNINGS
from ..overview import (
    FIRST_YEAR,
    HEADLINES,
    KINDS,
    NOT_BUILT,
    NOT_SUBMITTED,
    OUTCOMES,
    Anomaly,
    Headline,
    Overview,
    anomalies,
    headlines,
    kept_parts,
    part_digest,
    percent,
    region_tables,
    trends,
)
from .charts import FORMAT_CHANGE, KeptCharts
from .html import SEVERITY_LABEL, TABLE_NAMES, location, report_css, standalone_page, table_html

STATUS_LABEL = {
    PUBLISHED: "已发布", WARNINGS: "已发布（有警告）", GATED: "未通过校验，不予发布", FAILED: "生成失败",
    NOT_SUBMITTED: "未提交", NOT_BUILT: "尚未生成",
}
STATUS_ORDER = (NOT_SUBMITTED, FAILED, GATED, NOT_BUILT, WARNINGS, PUBLISHED)


@cache
def _asset(name: str) -> str:
    return files("nianbao.render").joinpath(f"templates/overview/{name}").read_text(encoding="utf-8")


@dataclass(frozen=True)
class _Sums:
    """What `table_html` reads of a report: the values, and the labels as the format prints them."""

    values: dict[str, str | None]

    def label(self, label: Label, position: str | None = None) -> str:
        return label.text


def _table(head: list[str], rows: list[list[tuple[str, str | None]]], cls: str = "", sortable: bool = False) -> str:
    """A plain table; each cell is (HTML, sort key or None). A sortable table sorts on its header's click."""
    attrs = f' class="{cls}"' if cls else ""
    sort = ' data-sortable=""' if sortable else ""
    out = [f"<table{attrs}{sort}><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f'<td data-key="{escape(k)}">{html}</td>' if k is not None else f"<td>{html}</td>"
                                    for html, k in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _name(office: Office) -> str:
    return _name_html(office.id, office.name)


@cache  # each office's, on every page of a warm kernel: twice a page
def _name_html(office: str, name: str) -> str:
    return f'{escape(name)} <span class="office-id">{escape(office)}</span>'


def _number(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,}" if value == value.to_integral_value() else str(value)


def _change(h: Headline, share: bool = False) -> str:
    change = h.change
    if change is None:
        return '<span class="change none">—</span>' if h.value is not None else ""
    if share:
        text = f"{change * 100:+.0f}个百分点" if change else "持平"
    else:
        text = ("+" if change > 0 else "−" if change < 0 else "") + _number(abs(change)) if change else "持平"
    direction = "up" if change > 0 else "down" if change < 0 else "same"
    return f'<span class="change {direction}">{escape(text)}</span>'


def _status_section(overview: Overview) -> str:
    rows = []
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    for office in overview.offices:
        entry = overview.status[office.id]
        status = entry.get("status", FAILED)
        links = []
        if entry.get("html"):
            links.append(f'<a href="{overview.to_outputs}{escape(entry["html"])}">'
                         f'{"校验结果" if status == GATED else "报告"}</a>')
        if office.id in overview.errors:
            links.append(escape(overview.errors[office.id]))
        rows.append([(_name(office), office.name), (escape(office.region), office.region),
                     (f'<span class="status {status}">{STATUS_LABEL.get(status, status)}</span>',
                      str(order.get(status, 9))),
                     (str(len(entry.get("findings", ()))), str(len(entry.get("findings", ())))),
                     (" · ".join(links), None)])
    return _table(["机关", "地区", "状态", "校验问题", "文件"], rows, "nb-list", sortable=True)


def _anomaly_section(overview: Overview, found: list[Anomaly]) -> str:
    parts = []
    names = {o.id: o for o in overview.offices}
    for kind, label in KINDS.items():
        mine = [a for a in found if a.kind == kind]
        parts.append(f'<h3 id="kind-{kind}">{escape(label)}（{len(mine)}）</h3>')
        if not mine:
            parts.append('<p class="none">未发现。</p>')
            continue
        parts.append(_table(["机关", "数字", "说明"], [[(_name(names[a.office]), None), (escape(a.figures), None),
                                                      (escape(a.why), None)] for a in mine], "nb-list"))
    parts.append(f"<h3>数据校验问题（按规则）（{_findings_count(overview)}）</h3>")
    parts.append(_findings_by_rule(overview))
    return "\n".join(parts)


def _findings_count(overview: Overview) -> int:
    return sum(len(e.get("findings", ())) for e in overview.status.values())


def _findings_by_rule(overview: Overview) -> str:
    by_rule: dict[str, list[tuple[Office, Finding]]] = defaultdict(list)
    for office in overview.offices:
        for d in overview.status[office.id].get("findings", ()):
            f = Finding.from_dict(d)
            by_rule[f.rule].append((office, f))
    if not by_rule:
        return '<p class="none">本年度各报告均未发现校验问题。</p>'
    parts = []
    for rule, items in sorted(by_rule.items(), key=lambda kv: (not kv[1][0][1].critical, kv[0])):
        first = items[0][1]
        offices = len({o.id for o, _ in items})
        severity = SEVERITY_LABEL.get(first.severity, first.severity)
        rows = [[(_name(o), None), (escape(location(f)), None), (escape(f.value or ""), None),
                 (escape(f.message), None)] for o, f in items]
        parts.append(f'<details class="rule {escape(first.severity)}" open><summary>{escape(rule)}（{severity}）：'
                     f"{len(items)}处，涉及{offices}个机关</summary>"
                     + _table(["机关", "位置", "值", "说明"], rows, "nb-list") + "</details>")
    return "\n".join(parts)


def _headline_section(overview: Overview) -> str:
    labels = {key: label for key, label, _ in HEADLINES}
    head = ["机关", *(labels[k] for k in ("new", "open")), "予以公开占比", *(labels[k] for k in
                                                                     ("deny", "review", "litigation", "fees"))]
    rows = []
    for office in overview.offices:
        if overview.values(office.id) is None:
            continue
        found = headlines(overview, office.id)
        row = [(_name(office), office.name)]
        for key in ("new", "open", "share", "deny", "review", "litigation", "fees"):
            h = found[key]
            if key == "share":
                shown = "" if h.value is None else percent(h.value)
            else:
                shown = _number(h.value)
            row.append((f"{shown} {_change(h, share=key == 'share')}".strip(),
                        "" if h.value is None else str(h.value)))
        rows.append(row)
    if not rows:
        return '<p class="none">本年度没有机关提交数据。</p>'
    note = ("<p class=\"note\">括号外为本年数字，后附较上年的增减（—：上年无可比数字）。点击表头排序。"
            f"“收费”为{FORMAT_CHANGE}年起表二第（八）项的本年收费金额，此前格式无此栏目。</p>")
    return note + _table(head, rows, "nb-list nb-headlines", sortable=True)


def _trend_section(overview: Overview) -> str:
    series = trends(overview)
    years = [y for y in range(FIRST_YEAR, overview.year + 1)
             if any(y in s for s in series.values())]
    if not years:
        return '<p class="none">没有可绘制的数字。</p>'
    outcomes = {label: series.get(f"outcome.{key}", {}) for key, label in OUTCOMES.items()}
    def pick(*names: str) -> dict:
        return {k: series.get(k, {}) for k in names}

    kept = kept_parts(overview) or KeptCharts(None)
    charts = [
        kept.chart("依申请公开：新收申请与办理结果", years, bars=outcomes, lines=pick("新收申请")),
        kept.chart("行政复议、行政诉讼", years, lines=pick("行政复议", "行政诉讼")),
        kept.chart("主动公开：处理决定数量", years,
                   lines=pick("行政许可决定", "行政处罚决定", "行政强制决定", "其他管理服务事项（至2020年）")),
    ]
    note = (f"<p class=\"note\">虚线为{FORMAT_CHANGE}年格式变化（国办公开办函〔2021〕30号）。办理结果各项可前后比较；"
            f"“其他处理”{FORMAT_CHANGE}年起分为三项，图中合并。表二的“其他对外管理服务事项”只在{FORMAT_CHANGE}年以前统计，"
            f"收费由项目数量改为收费金额，不作前后比较。各年为当年提交数据的机关之和。</p>")
    return note + "\n".join(f'<figure class="nb-figure">{c}</figure>' for c in charts)


def _kept(overview: Overview, name: str, years: Sequence[int], extra: object,
          make: Callable[[Overview], str]) -> str:
    """A section made by `make(overview)` from the offices (ids, names) and their figures of `years` (and `extra`)
    alone, as the page's kept parts have it when these are what they were (`overview.part_digest`): a batch that
    rebuilds a page because an earlier year changed (its trends) makes again only the charts that changed."""
    kept = kept_parts(overview)
    if kept is None:
        return make(overview)
    return kept.part(name, part_digest(overview, name, years, extra), lambda: make(overview))


def _gated(overview: Overview) -> int:
    """How many of the offices with figures this year have a report gated (the tables' note says so)."""
    return sum(overview.status[o.id].get("status") == GATED for o in overview.offices
               if overview.values(o.id) is not None)


def _tables_section(overview: Overview) -> str:
    sums, counts = region_tables(overview)
    reporting = sum(overview.values(o.id) is not None for o in overview.offices)
    gated = _gated(overview)
    note = (f"<p class=\"note\">{reporting}个机关的数字之和；每格下方小字为填报该格的机关数，空白和非数字不计入"
            f"（空白不等于0）。{f'其中{gated}份报告未通过校验，其数字照计。' if gated else ''}</p>")
    parts = [note]
    for table in overview.format.tables:
        parts.append(f"<h3>{TABLE_NAMES.get(table.key, table.key)}</h3>")
        parts.append(table_html(table, _Sums(sums), counts=counts))  # type: ignore[arg-type]
    return "\n".join(parts)


def _statuses(counts: Mapping[str, int]) -> str:
    return "，".join(f"{STATUS_LABEL[s]}{counts[s]}个" for s in reversed(STATUS_ORDER) if counts.get(s))


def overview_html(overview: Overview, found: list[Anomaly] | None = None) -> str:
    """The whole overview of `overview.year` as one fragment (style and script inline). `found`: its anomalies,
    when already computed."""
    statuses = Counter(overview.status[o.id].get("status", FAILED) for o in overview.offices)
    summary = _statuses(statuses)
    found = anomalies(overview) if found is None else found
    sections = [
        ("一、报告提交情况", _status_section(overview)),
        ("二、需要关注的情况", _anomaly_section(overview, found)),
        ("三、各机关主要数据", _kept(overview, "headlines", (overview.year - 1, overview.year), None,
                              _headline_section)),
        (f"四、{FIRST_YEAR}年以来的变化", _trend_section(overview)),
        ("五、汇总表", _kept(overview, "tables", (overview.year,), _gated(overview), _tables_section)),
    ]
    if (kept := kept_parts(overview)) is not None:
        kept.save()
    body = [
        f"<style>{report_css()}{_asset('overview.css')}</style>",
        '<article class="nianbao-report nianbao-overview" lang="zh-CN">',
        f"<h1>{escape(overview.title)}</h1>",
        f'<p class="summary">共{len(overview.offices)}个机关：{summary}。需要关注的情况{len(found)}项，'
        f"数据校验问题{_findings_count(overview)}项。</p>",
    ]
    for heading, html in sections:
        body.append(f"<section><h2>{heading}</h2>\n{html}\n</section>")
    body.append("</article>")
    body.append(f"<script>\n{_asset('overview.js')}</script>")
    return "\n".join(body)


def year_page_html(year: int, regions: Sequence[tuple[str, Mapping]]) -> str:
    """The page of a year whose offices are in several regions: each region (name, its overview as the manifest
    records it: `summary` counts and `html`; `earlier`: the page an overview that failed left) with its counts
    and a link to its overview. A whole page."""
    title = f"{year}年政府信息公开工作年度报告概览"
    order = [s for s in reversed(STATUS_ORDER)]
    head = ["地区", "机关数", *(STATUS_LABEL[s] for s in order), "需要关注", "校验问题", "概览"]
    rows, totals = [], Counter()
    for region, entry in regions:
        counts = entry.get("summary") or {}
        totals.update(counts)
        if entry.get("status") == FAILED:
            reason = (entry.get("error") or "").strip().splitlines()[:1]
            link = f"{STATUS_LABEL[FAILED]}{'：' + escape(reason[0]) if reason else ''}"
            if entry.get("earlier"):
                link += f'；<a href="{escape(entry["earlier"].split("/", 1)[1])}">上次生成的概览</a>'
        elif entry.get("html"):
            link = f'<a href="{escape(entry["html"].split("/", 1)[1])}">{escape(region)}{year}年概览</a>'
        else:
            link = STATUS_LABEL[NOT_BUILT]
        figures = [counts.get(k) for k in ("offices", *order, "anomalies", "findings")]
        rows.append([(escape(region), region)] + [(str(n or 0), str(n or 0)) for n in figures]
                    + [(link, None)])
    body = (f"<h1>{escape(title)}</h1>\n"
            f'<p class="summary">共{len(regions)}个地区、{totals["offices"]}个机关：{_statuses(totals)}。'
            f"需要关注的情况{totals['anomalies']}项，数据校验问题{totals['findings']}项。每个地区的概览列出其机关的"
            "提交情况、需要关注的情况、主要数据、历年变化和汇总表。点击表头排序。"
            '<a href="../index.html">全部报告</a></p>\n'
            + _table(head, rows, "nb-list", sortable=True))
    return standalone_page(title, report_css() + _asset("overview.css"),
                           f'<article class="nianbao-report nianbao-overview" lang="zh-CN">{body}</article>',
                           _asset("overview.js"))
