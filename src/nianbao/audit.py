"""`nianbao audit`: the gate's expectations, run on reports as they were published.

Each report is read (`nianbao.published`) and validated with the suites nianbao generates from its rules,
the same great-expectations run as the gate. Reports of the same office in consecutive years, audited
together, feed the cross-year rules. Besides the findings, an audit says which checks were *not
assessable* (a cell they need was not reported: they neither pass nor fail) and where the prose states a
figure that contradicts the tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .data import Office
from .exceptions import InputError
from .findings import Finding, has_critical
from .narrative import Narrative, Section
from .published.reader import Published, read_published
from .report import Report

PROSE_RULE = "PROSE-TABLE"
PROSE_MESSAGE = "正文所述数字与表格不一致：{说明}"
# Figures the prose of part 一 or 三 often states, and the table cell that holds the same figure. Only
# figures a table holds: "主动公开政府信息N条" counts all information, table 二 only documents.
PROSE_FIGURES: tuple[tuple[str, str, str], ...] = (
    (r"(?:新收|收到|受理)(?:各类|群众|公民)?(?:政府信息公开|依申请公开)?申请(?:共计|共|合计)?(\d+)(?:件|条|个|份|宗)",
     "t3.new.total", "本年新收申请"),
    (r"上年结转(?:政府信息公开申请|申请)?(\d+)件", "t3.carry_in.total", "上年结转申请"),
    (r"结转下年度(?:继续办理)?(\d+)件", "t3.carry_out.total", "结转下年度继续办理"),
    (r"(?:行政复议|复议申请)(\d+)(?:件|起)", "t4.review.total", "行政复议"),
)


@dataclass
class Audited:
    report: Published
    findings: list[Finding] = field(default_factory=list)
    not_assessable: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)  # rule, table, row, col

    @property
    def critical(self) -> bool:
        return has_critical(self.findings)


@dataclass
class AuditResult:
    audited: list[Audited]
    errors: list[InputError]  # files that are not readable reports

    @property
    def exit_code(self) -> int:
        """1 when a report has a critical finding, 2 when a file could not be read, else 0."""
        return 1 if any(a.critical for a in self.audited) else 2 if self.errors else 0


def _office_id(name: str) -> str:
    import hashlib

    return "p-" + hashlib.sha256(name.encode()).hexdigest()[:10]  # stable, never shown: reports group by it


@dataclass(frozen=True)
class PublishedNarrative(Narrative):
    """The prose of a published report: its headings as printed (SEC-HEADINGS judges them), each part found
    by its official heading too, so a misnumbered heading does not hide its part from the prose rules."""

    official: tuple[str, ...] = ()  # the format's heading of each section, in order

    def body(self, heading: str) -> str:
        for section, official in zip(self.sections, self.official, strict=True):
            if heading in (section.heading, official):
                return section.body
        return ""


def as_report(pub: Published, previous: Published | None = None) -> Report:
    """A published report as the validator sees reports: headings as published, values as read."""
    found = [(h, official, paragraphs) for h, official, paragraphs
             in zip(pub.headings, pub.format.headings, pub.sections, strict=True) if h is not None]
    sections = tuple(Section(h, "\n\n".join(paragraphs), 0, 0) for h, _, paragraphs in found)
    return Report(
        office=Office(_office_id(pub.office), pub.office, labels=dict(pub.labels)),
        year=pub.year,
        format=pub.format,
        values=pub.for_rules(),
        sources={ref: pub.file for ref in pub.values},
        narrative=PublishedNarrative(pub.file, "\n\n".join(pub.preamble), sections,
                                     official=tuple(official for _, official, _ in found)),
        previous=dict(previous.values) if previous else None,
        previous_format=previous.format if previous else None,
        printed=dict(pub.printed),
    )


def prose_contradictions(report: Report) -> list[Finding]:
    """Figures stated in the prose that differ from the table cell holding the same figure (warnings)."""
    found = []
    text = "\n".join([report.narrative.preamble, *(s.body for s in report.narrative.sections)])
    for pattern, ref, what in PROSE_FIGURES:
        table_value = report.values.get(ref)
        if table_value is None:
            continue
        for m in re.finditer(pattern, text):
            if m.group(1) != table_value:
                table, row, column = ref.split(".")
                found.append(Finding(
                    report.office.id, report.year, PROSE_RULE, "warning", table, row, column,
                    PROSE_MESSAGE.replace("{说明}", f"“{m.group(0)}”，表格中{what}为{table_value}"),
                    value=m.group(1), source=report.narrative.file))
    return found


GROUP_ROW_MESSAGE = "{规则}：“{标签}”印作一行（{版本}之前的格式），其下{n}项细目未分列填报"


def layout_findings(pub: Published, office_id: str) -> list[Finding]:
    """LABEL-EXACT findings for a table laid out otherwise than the format: a group printed as one row."""
    from .formats.rules import rule

    label_rule = rule("LABEL-EXACT")
    found = []
    for label, (rows, _) in pub.groups.items():
        table, row, _ = rows[0][0].split(".")
        message = GROUP_ROW_MESSAGE.format(规则=label_rule.message, 标签=label, 版本=pub.format.id, n=len(rows))
        found.append(Finding(office_id, pub.year, label_rule.id, label_rule.severity.value, table, row, None,
                             message, value=label, source=pub.file))
    return found


def audit(paths: Sequence[Path], *, office: str | None = None, year: int | None = None) -> AuditResult:
    """Read and audit every report in `paths` in one validation run. `office` (机关名称) and `year` stand in
    for a title a report does not have (`year` also overrides the title's)."""
    from .validate import not_assessable, validate

    published: list[Published] = []
    errors: list[InputError] = []
    for path in paths:
        try:
            published.append(read_published(path, year=year, office=office))
        except InputError as exc:
            errors.append(exc)
    by_office = {(p.office, p.year): p for p in published}
    reports = [as_report(p, by_office.get((p.office, p.year - 1))) for p in published]
    unreadable = {(r.office.id, r.year, ref) for r, p in zip(reports, published, strict=True) for ref in p.unreadable}
    findings = [f for f in validate(reports, None)  # a cell that could not be read was not left blank
                if not (f.rule == "CELL-FILLED" and (f.office, f.year, f"{f.table}.{f.row}.{f.column}") in unreadable)]
    findings += [f for r in reports for f in prose_contradictions(r)]
    findings += [f for p, r in zip(published, reports, strict=True) for f in layout_findings(p, r.office.id)]
    audited = [Audited(p) for p in published]
    by_key: dict[tuple[str, int], list[Audited]] = {}  # the same report twice shares its findings
    for a, r in zip(audited, reports, strict=True):
        by_key.setdefault((r.office.id, r.year), []).append(a)
    for f in findings:
        for a in by_key[(f.office, f.year)]:
            a.findings.append(f)
    for office, year, *where in not_assessable(reports):
        for a in by_key[(office, year)]:
            a.not_assessable.append(tuple(where))
    return AuditResult(audited, errors)
