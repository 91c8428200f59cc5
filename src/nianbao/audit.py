"""`nianbao audit`: the gate's expectations, run on reports as they were published.

Each report is read (`nianbao.published`) and validated with the suites nianbao generates from its rules,
the same great-expectations run as the gate. Reports of the same office in consecutive years, audited
together, feed the cross-year rules. Besides the findings, an audit says which checks were *not
assessable* (a cell they need was not reported: they neither pass nor fail) and where the prose states a
figure that contradicts the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .data import Office
from .exceptions import InputError, NianbaoError
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
    # In the order printed (a part out of order is SEC-HEADINGS' finding), each found once.
    order = [i for i in dict.fromkeys([*pub.order, *range(6)]) if pub.headings[i] is not None]
    found = [(pub.headings[i], pub.format.headings[i], pub.sections[i]) for i in order]
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


def read_report_file(path: Path, year: int | None = None, office: str | None = None) -> Published:
    """`read_published`, with every way a hostile file can break the reader (markup nested a thousand levels
    deep, ...) turned into an `InputError` for that file: one bad page never stops the others."""
    try:
        return read_published(path, year=year, office=office)
    except InputError:
        raise
    except RecursionError:
        raise InputError("无法读取的报告：网页标签嵌套过深（超过约1000层，或有这么多未闭合的标签）",
                         file=path) from None
    except Exception as exc:  # a reader's failure on one file is that file's problem
        raise InputError(f"无法读取的报告（{type(exc).__name__}: {exc}）", file=path) from None


def _read_for_pool(path: Path, year: int | None, office: str | None) -> Published | tuple[str, dict]:
    """`read_report_file` in a pool's process: a file's `InputError` comes back as its problem and fields (an
    exception's own pickling keeps its message only)."""
    try:
        return read_report_file(path, year=year, office=office)
    except InputError as exc:
        return exc.problem, {"file": exc.file, "line": exc.line, "office": exc.office, "year": exc.year,
                             "field": exc.field}


def read_report_files(paths: Sequence[Path], *, year: int | None = None, office: str | None = None,
                      jobs: int = 1) -> list[Published | InputError]:
    """`read_report_file` of each of `paths`, in their order: the report, or the file's `InputError`. `jobs`:
    processes that read at once (a process pool of `spawn`ed workers: a PDF costs ~0.6 s of CPU to read);
    1 reads here, one file after the other. Raises `NianbaoError` when a reading process dies."""
    from .formats import FORMATS

    if jobs <= 1 or len(paths) <= 1:
        found: list[Published | InputError] = []
        for path in paths:
            try:
                found.append(read_report_file(path, year=year, office=office))
            except InputError as exc:
                found.append(exc)
        return found
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    workers = min(jobs, len(paths))
    # Chunks small enough that a few slow files do not leave a worker idle at the end, large enough to keep the
    # round trips few.
    chunk = max(1, min(8, len(paths) // (workers * 8)))
    formats = {f.id: f for f in FORMATS}
    out: list[Published | InputError] = []
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        for got in pool.map(_read_for_pool, paths, [year] * len(paths), [office] * len(paths), chunksize=chunk):
            if isinstance(got, tuple):
                out.append(InputError(got[0], **got[1]))
            else:
                got.format = formats.get(got.format.id, got.format)  # the format objects rules and labels key on
                out.append(got)
    except BrokenProcessPool:
        raise NianbaoError("a process reading the reports stopped (out of memory, or killed); "
                           "--jobs 1 reads them one after the other here") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def _previous(copies: list[Published]) -> Published | None:
    """The report of the year before, when it is unambiguous: one copy, or copies with the same figures."""
    if copies and all(c.values == copies[0].values for c in copies[1:]):
        return copies[0]
    return None


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


def audit(paths: Sequence[Path], *, office: str | None = None, year: int | None = None,
          jobs: int = 1) -> AuditResult:
    """Read and audit every report in `paths` in one validation run. `office` (机关名称) and `year` stand in
    for a title a report does not have (`year` also overrides the title's). `jobs`: processes that read the
    files at once (`read_report_files`); the result is the same whatever their number.

    Each file is audited on its own: several copies of one office-year (a page and its revised copy, the
    same report on two sites) each get their own findings. A file named twice is audited once.
    """
    from .validate import not_assessable, validate

    published: list[Published] = []
    errors: list[InputError] = []
    for got in read_report_files(list(dict.fromkeys(paths)), year=year, office=office, jobs=jobs):
        if isinstance(got, InputError):
            errors.append(got)
        else:
            published.append(got)
    by_year: dict[tuple[str, int], list[Published]] = {}
    for p in published:
        by_year.setdefault((p.office, p.year), []).append(p)
    reports = []
    for i, p in enumerate(published):
        copies = by_year.get((p.office, p.year - 1), [])
        previous = _previous(copies)
        if copies and previous is None:
            p.problems.append(f"同时核查了{p.year - 1}年报告的{len(copies)}个内容不同的版本：未做跨年度核对")
        report = as_report(p, previous)
        # Findings and not-assessable checks come back keyed by office id and year: one id per file keeps
        # the copies of one office-year apart.
        reports.append(replace(report, office=replace(report.office, id=f"{report.office.id}-{i}")))
    unreadable = {(r.office.id, r.year, ref) for r, p in zip(reports, published, strict=True)
                  for ref in p.unreadable}
    # a cell that could not be read was not left blank, nor its table; the prose-vs-tables comparison is in
    # validate, as in the gate
    unread_tables = {(office, year, ref.split(".")[0]) for office, year, ref in unreadable}
    findings = [f for f in validate(reports, None)
                if not (f.rule == "CELL-FILLED" and (f.office, f.year, f"{f.table}.{f.row}.{f.column}") in unreadable)
                and not (f.rule == "TABLE-BLANK" and (f.office, f.year, f.table) in unread_tables)]
    findings += [f for p, r in zip(published, reports, strict=True) for f in layout_findings(p, r.office.id)]
    audited = [Audited(p) for p in published]
    by_key = {(r.office.id, r.year): a for a, r in zip(audited, reports, strict=True)}
    for f in findings:
        by_key[(f.office, f.year)].findings.append(f)
    for office, year, *where in not_assessable(reports):
        by_key[(office, year)].not_assessable.append(tuple(where))
    return AuditResult(audited, errors)
