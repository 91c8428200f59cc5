"""The page of `nianbao audit --html`: for each published report its findings, the checks that could not
be assessed, and what could not be read. One self-contained file, like the reports."""

from __future__ import annotations

from collections import Counter
from html import escape

from ..audit import Audited, AuditResult
from .html import cell_location, findings_html, report_css, standalone_page


def _not_assessable(audited: Audited) -> str:
    if not audited.not_assessable:
        return ""
    counts = Counter(rule for rule, *_ in audited.not_assessable)
    why = "所需单元格未填报或未能读取，见读取说明" if audited.report.unreadable else "所需单元格未填报"
    items = "".join(f"<li>{escape(rule)}：{n}处（{why}）</li>" for rule, n in sorted(counts.items()))
    return f'<h2>无法评估的检查</h2><ul class="not-assessable">{items}</ul>'


def _problems(audited: Audited) -> str:
    pub = audited.report
    notes = list(pub.problems)
    blanks = pub.not_reported
    if blanks:
        where = [cell_location(pub.year, *ref.split(".")) for ref in blanks[:20]]
        more = f"……另有{len(blanks) - 20}处" if len(blanks) > 20 else ""
        notes.insert(0, f"未填报（空白或“-”）的单元格{len(blanks)}处（CELL-FILLED，警告）：{'；'.join(where)}{more}")
    if not notes:
        return ""
    return "<h2>读取说明</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def audit_html(result: AuditResult) -> str:
    parts = []
    for a in result.audited:
        pub = a.report
        title = f"{pub.office}{pub.year}年政府信息公开工作年度报告（{pub.format.id}）"
        # Blank cells are listed once, under 读取说明, rather than as one finding row each.
        shown = [f for f in a.findings if f.rule != "CELL-FILLED"]
        body = findings_html(shown, title) if shown else (
            f'<article class="nianbao-report nianbao-findings"><h1>{escape(title)}</h1>'
            f'<p class="summary">{"除未填报的单元格外，" if pub.not_reported else ""}未发现问题。</p></article>')
        parts.append(f'<section class="audited"><p class="file">{escape(pub.file)}</p>{body}'
                     f"{_not_assessable(a)}{_problems(a)}</section>")
    for error in result.errors:
        parts.append(f'<section class="audited"><h2>无法读取</h2><p>{escape(str(error))}</p></section>')
    style = report_css() + "\nsection.audited { border-top: 2px solid #999; margin-top: 2rem; padding-top: 1rem; }\n"
    return standalone_page("政府信息公开工作年度报告：审核结果", style, "".join(parts))
