"""What the report notebook calls: validate, gate, display. Each display carries `nianbao` metadata,
which is how the exporter knows which outputs make the published page."""

from __future__ import annotations

from collections.abc import Sequence

from .exceptions import GateFailed
from .findings import Finding, has_critical
from .project import Project
from .render import findings_html, report_html
from .report import Report


def check_report(report: Report, project: Project, findings: Sequence[dict] | None = None) -> list[Finding]:
    """The findings of `report`: those a batch passed in (it validated the whole dataset at once), else
    computed here. Handed findings are verified, not trusted: when the figures and prose about to be rendered
    carry a critical finding that they lack, the report is validated here (a `findings` parameter cannot
    skip the gate)."""
    from .validate import validate, verify  # imports great-expectations: only when needed

    if findings is not None:
        given = [Finding.from_dict(d) for d in findings]
        known = {_key(f) for f in given if f.critical}
        if all(_key(f) in known for f in verify(report, project)):
            return given
    return validate([report], project)


def _key(f: Finding) -> tuple:
    return f.rule, f.table, f.row if f.table else None, f.column  # prose findings are placed after validation


def _display(html: str, role: str, title: str, **meta: object) -> None:
    from IPython.display import display

    display({"text/html": html}, raw=True, metadata={"nianbao": {"role": role, "title": title, **meta}})


def gate(report: Report, findings: Sequence[Finding]) -> None:
    """Show the findings; on any critical one, show them as the page and stop with `GateFailed`."""
    if not findings:
        return
    if has_critical(findings):
        _display(findings_html(findings, f"{report.title}：未通过数据校验，不予发布", report), "findings", report.title,
                 findings=[f.to_dict() for f in findings])
        raise GateFailed(report.office.id, report.year, findings)
    from IPython.display import HTML, display

    # Warnings are for the analyst in the notebook, not for the published page.
    display(HTML(findings_html(findings, f"{report.title}：数据校验警告", report)))


def show_report(report: Report) -> None:
    _display(report_html(report), "report", report.title)
