"""What the report notebook calls: validate, gate, display. Each display carries `nianbao` metadata,
which is how the exporter knows which outputs make the published page."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from html import escape
from pathlib import Path

from .exceptions import GateFailed, NianbaoError
from .findings import Finding, has_critical
from .project import Project
from .render import findings_html, report_html
from .render.inline import LATER, inline_styles
from .report import Report


def check_report(report: Report, project: Project, findings: Sequence[dict] | None = None) -> list[Finding]:
    """The findings of `report`: those a batch passed in (it validated the whole dataset at once), else
    computed here. Handed findings are verified, not trusted: when the figures and prose about to be rendered
    carry a critical finding that they lack, the report is validated here (a `findings` parameter cannot
    skip the gate)."""
    from .validate import validate, verify

    if findings is not None:
        given = [Finding.from_dict(d) for d in findings]
        known = {_key(f) for f in given if f.critical}
        try:
            if all(_key(f) in known for f in verify(report, project)):
                return given
        except NianbaoError:  # a critical expectation only great-expectations decides: validated here
            pass
    return validate([report], project)


def _key(f: Finding) -> tuple:
    return f.rule, f.table, f.row if f.table else None, f.column  # prose findings are placed after validation


def notebook_digest(path: Path) -> str:
    """The digest of what a report notebook does: each cell's type and source, the parameters cell reduced to
    the names it defines. Outputs, execution counts, metadata and parameter values are left out, so that
    running and saving the notebook in JupyterLab (as an analyst does to look at one report) does not make
    the next batch rebuild every report. A notebook that cannot be read digests as its bytes."""
    import ast

    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # whatever is wrong with it, the run will say; the digest must not fail
        return hashlib.sha256(path.read_bytes() if path.is_file() else b"(missing)").hexdigest()
    parts = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", ())
        if "injected-parameters" in tags:
            continue
        source = cell.source
        if "parameters" in tags:
            try:
                source = " ".join(sorted(t.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
                                         for t in node.targets if isinstance(t, ast.Name)))
            except SyntaxError:
                pass
        parts.append([cell.cell_type, source])
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _styled(html: str, metadata: dict) -> tuple[str, dict]:
    """`html` with inline styles, so that JupyterLab shows it as published, trusted or not (the exporter strips
    them); in a batch kernel, unstyled and marked for the worker to style (`render.inline.inline_later`)."""
    from .kernel import batch_kernel

    if batch_kernel():
        return html, {**metadata, LATER: True}
    return inline_styles(html), metadata


def _display(html: str, role: str, title: str, **meta: object) -> None:
    from IPython.display import display

    html, metadata = _styled(html, {"nianbao": {"role": role, "title": title, **meta}})
    display({"text/html": html}, raw=True, metadata=metadata)


def _display_html(html: str) -> None:
    """Display analyst-only HTML (not published), styled as `_display` styles."""
    from IPython.display import display

    html, metadata = _styled(html, {})
    # What `display(HTML(html))` sends, with the metadata at the top level where `inline_later` finds it.
    display({"text/html": html, "text/plain": "<IPython.core.display.HTML object>"}, raw=True, metadata=metadata)


def gate(report: Report, findings: Sequence[Finding]) -> None:
    """Show the findings; on any critical one, show them as the page and stop with `GateFailed`."""
    if not findings:
        return
    if has_critical(findings):
        _display(findings_html(findings, f"{report.title}：未通过数据校验，不予发布", report), "findings", report.title,
                 findings=[f.to_dict() for f in findings])
        raise GateFailed(report.office.id, report.year, findings)
    # Warnings are for the analyst in the notebook, not for the published page.
    _display_html(findings_html(findings, f"{report.title}：数据校验警告", report))


def show_report(report: Report) -> None:
    _display(report_html(report), "report", report.title)


GROWTH = 5  # a figure this many times last year's (or this many times smaller) is worth a second look


def year_changes(report: Report) -> tuple[list[tuple[str, Decimal, Decimal, str]], list[str]]:
    """This year's figures against last year's: (cell, last year, this year, what looks wrong or "") for every
    cell both years' formats have and either year reports as non-zero, and the tables that are unchanged
    from last year in every cell (a copied table). Empty when there is no report last year."""
    from .prose_figures import fold_number

    if report.previous is None or report.previous_format is None:
        return [], []
    prev_kinds = report.previous_format.cell_kinds()
    rows, same = [], {}
    for ref in report.format.cell_kinds():
        if ref not in prev_kinds:
            continue
        now, before = fold_number(report.values.get(ref) or ""), fold_number(report.previous.get(ref) or "")
        if now is None or before is None:
            continue
        table = ref.split(".")[0]
        same[table] = same.get(table, True) and now == before
        if now == 0 and before == 0:
            continue
        note = ""
        if before > 0 and now >= GROWTH * before:
            note = f"是上年的{now / before:.1f}倍"
        elif now > 0 and before >= GROWTH * now:
            note = f"仅为上年的{now / before:.0%}"
        elif before == 0 and now >= 10:
            note = "上年为0"
        rows.append((ref, before, now, note))
    nonzero = {ref.split(".")[0] for ref, *_ in rows}
    return rows, [t for t, unchanged in same.items() if unchanged and t in nonzero]


def compare_years(report: Report) -> None:
    """Show, for the analyst only (not published), this year's figures beside last year's and the changes
    that look wrong: a figure ×5 or more (or a fifth or less), a table unchanged from last year."""
    from IPython.display import HTML, display

    from .render.html import TABLE_NAMES, cell_location

    rows, unchanged = year_changes(report)
    if not rows and not unchanged:
        display(HTML(f"<p>{report.year - 1}年无本机关数据，不作同比核对。</p>"))
        return
    flagged = [r for r in rows if r[3]]
    notes = [f"{TABLE_NAMES.get(t, t)}各单元格与上年完全相同，请核实是否沿用了上年数据。" for t in unchanged]
    notes.append(f"变化异常的数字{len(flagged)}项（本年为上年的{GROWTH}倍以上或{GROWTH}分之一以下）。" if flagged
                 else "未发现变化异常的数字。")

    def table(items: list) -> str:
        body = "".join(
            f'<tr><td class="txt">{escape(cell_location(report.year, *ref.split(".")))}</td>'
            f'<td class="num">{before}</td><td class="num">{now}</td>'
            f'<td class="txt{" critical" if note else ""}">{escape(note)}</td></tr>'
            for ref, before, now, note in items)
        return (f"<table><thead><tr><th>单元格</th><th>{report.year - 1}年</th><th>{report.year}年</th>"
                f"<th>提示</th></tr></thead><tbody>{body}</tbody></table>")

    html = ('<article class="nianbao-report" lang="zh-CN"><h2>同比核对（仅供填报人员参考，不发布）</h2>'
            + "".join(f"<p>{escape(n)}</p>" for n in notes)
            + (table(flagged) if flagged else "")
            + f"<details><summary>全部数字对比（{len(rows)}项）</summary>{table(rows)}</details></article>")
    _display_html(html)
