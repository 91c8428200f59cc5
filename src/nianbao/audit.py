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
from dataclasses import dataclass, field, replace
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


def as_report(pub: Published, previous: Published | None = None) -> Report:
    """A published report as the validator sees reports: headings as published, values as read."""
    sections = tuple(Section(h, "\n\n".join(paragraphs), 0, 0)
                     for h, paragraphs in zip(pub.headings, pub.sections, strict=True) if h is not None)
    return Report(
        office=Office(_office_id(pub.office), pub.office, labels=dict(pub.labels)),
        year=pub.year,
        format=pub.format,
        values=dict(pub.values),
        sources={ref: pub.file for ref in pub.values},
        narrative=Narrative(pub.file, "\n\n".join(pub.preamble), sections),
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


def read_report_file(path: Path, year: int | None = None) -> Published:
    """`read_published`, with every way a hostile file can break the reader (markup nested a thousand levels
    deep, ...) turned into an `InputError` for that file: one bad page never stops the others."""
    try:
        return read_published(path, year=year)
    except InputError:
        raise
    except RecursionError:
        raise InputError("not a readable report: its markup is nested too deeply (more than about 1000 "
                         "levels, or that many unclosed tags)", file=path) from None
    except Exception as exc:  # a reader's failure on one file is that file's problem
        raise InputError(f"not a readable report: {type(exc).__name__}: {exc}", file=path) from None


def _previous(copies: list[Published]) -> Published | None:
    """The report of the year before, when it is unambiguous: one copy, or copies with the same figures."""
    if copies and all(c.values == copies[0].values for c in copies[1:]):
        return copies[0]
    return None


def audit(paths: Sequence[Path]) -> AuditResult:
    """Read and audit every report in `paths` in one validation run.

    Each file is audited on its own: several copies of one office-year (a page and its revised copy, the
    same report on two sites) each get their own findings. A file named twice is audited once.
    """
    from .validate import not_assessable, validate

    published: list[Published] = []
    errors: list[InputError] = []
    for path in dict.fromkeys(paths):
        try:
            published.append(read_report_file(path))
        except InputError as exc:
            errors.append(exc)
    by_year: dict[tuple[str, int], list[Published]] = {}
    for p in published:
        by_year.setdefault((p.office, p.year), []).append(p)
    reports = []
    for i, p in enumerate(published):
        copies = by_year.get((p.office, p.year - 1), [])
        previous = _previous(copies)
        if copies and previous is None:
            p.problems.append(f"{len(copies)} different copies of the {p.year - 1} report were audited: the "
                              "cross-year checks were not made")
        report = as_report(p, previous)
        # Findings and not-assessable checks come back keyed by office id and year: one id per file keeps
        # the copies of one office-year apart.
        reports.append(replace(report, office=replace(report.office, id=f"{report.office.id}-{i}")))
    findings = validate(reports, None) + [f for r in reports for f in prose_contradictions(r)]
    audited = [Audited(p) for p in published]
    by_key = {(r.office.id, r.year): a for a, r in zip(audited, reports, strict=True)}
    for f in findings:
        by_key[(f.office, f.year)].findings.append(f)
    for office, year, *where in not_assessable(reports):
        by_key[(office, year)].not_assessable.append(tuple(where))
    return AuditResult(audited, errors)
