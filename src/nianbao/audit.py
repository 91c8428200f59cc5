"""`nianbao audit`: the gate's expectations, run on reports as they were published.

Each report is read (`nianbao.published`) and validated with the suites nianbao generates from its rules,
the same great-expectations run as the gate. Reports of the same office in consecutive years, audited
together, feed the cross-year rules. Besides the findings, an audit says which checks were *not
assessable* (a cell they need was not reported: they neither pass nor fail) and where the prose states a
figure that contradicts the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .data import Office
from .exceptions import InputError
from .findings import Finding, has_critical
from .narrative import Narrative, Section
from .published.reader import Published, read_published
from .report import Report


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


def audit(paths: Sequence[Path]) -> AuditResult:
    """Read and audit every report in `paths` in one validation run."""
    from .validate import not_assessable, validate

    published: list[Published] = []
    errors: list[InputError] = []
    for path in paths:
        try:
            published.append(read_published(path))
        except InputError as exc:
            errors.append(exc)
    by_office = {(p.office, p.year): p for p in published}
    reports = [as_report(p, by_office.get((p.office, p.year - 1))) for p in published]
    findings = validate(reports, None)  # the prose-vs-tables comparison included, as in the gate
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
