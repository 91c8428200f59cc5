"""`nianbao ingest`: published reports into a project's data, in the schema `nianbao run` reads.

For each report: its office (found in `data/offices.csv` by name, or added), its figures into
`data/figures/<office>.csv` (a cell not reported is written blank, never 0), its prose into
`data/narrative/<office>/<year>.md` under the official headings, and `params/<office>/<year>.yaml`.
All files of one report are written together, atomically; a report that cannot be read, or whose year is
already in the project with other data (without `force`), writes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import filekind
from .atomic import write_files
from .data import LABEL_PREFIX, OFFICE_FIELDS, figures_csv, read_figures, read_registry
from .exceptions import InputError
from .narrative import narrative_text
from .params import params_text
from .project import OFFICE_ID, Project, check_office_id
from .prose_figures import with_placeholders
from .published.document import READERS
from .published.reader import Published

SUFFIXES = tuple(READERS)  # web pages, text copies, PDF, Word
WORKBOOKS = (".xlsx", ".xlsm")  # filled forms of `nianbao workbook` (nianbao.workbook.collect)


@dataclass
class Ingested:
    file: str
    office: str  # the office id
    report: Published
    written: list[Path] = field(default_factory=list)
    new_office: bool = False
    checks: list[tuple[bool, str]] = field(default_factory=list)  # a workbook's broken identities: (critical, text)


def report_files(paths: Iterable[Path], suffixes: tuple[str, ...] = SUFFIXES) -> Iterator[Path]:
    """The files named, and the report files in the folders named (those with a suffix in `suffixes`:
    default the published forms `SUFFIXES` lists), sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                              and not p.name.startswith("~$"))  # ~$: the lock file of a workbook open in Excel
        else:
            yield path


def office_id_from(file: Path) -> str:
    """An office id from a file name when the office is new and no `--office` was given:
    `09_pingtan_czj_2019.html` → `pingtan-czj`."""
    words = [w for w in re.split(r"[^a-z0-9]+", file.stem.lower()) if w and not re.fullmatch(r"\d+", w)]
    slug = "-".join(words)
    return slug if OFFICE_ID.fullmatch(slug) else "office-" + hashlib.sha256(file.stem.encode()).hexdigest()[:8]


def ingest_file(project: Project, path: Path, *, office: str | None = None, year: int | None = None,
                force: bool = False, earlier: dict | None = None) -> Ingested:
    """Read one published report and write it into `project`. Raises `InputError` (and writes nothing) when
    the file is not a readable report or its office-year already has data and `force` is not set.
    A filled workbook (.xlsx) replaces its office-year's figures (`nianbao.workbook.collect`; `earlier`: the
    forms read before in the same run, so that two different forms of one office-year are not both taken)."""
    if path.suffix.lower() in WORKBOOKS or filekind.kind(path) == "xlsx":  # a form renamed, say, `.xls`
        from .workbook.collect import ingest_workbook

        return ingest_workbook(project, path, office=office, year=year, earlier=earlier)
    from .audit import read_report_file

    known = read_registry(project)
    offices = known.offices
    # A report without a title that does not name its office: the office given is the one.
    name = offices[office].name if office in offices else office
    report = read_report_file(path, year=year, office=name)
    by_name = {o.name: o.id for o in offices.values()}
    office_id = office or by_name.get(report.office) or _slip_of(report.office, by_name) or office_id_from(path)
    check_office_id(office_id, file=path)
    if office_id in known.problems:  # its registry row is bad: fix that first
        raise known.problems[office_id]
    if office_id in offices and offices[office_id].name != report.office and _slip_of(
            report.office, {offices[office_id].name: office_id}):
        report.problems.append(f"机关名称印为“{report.office}”，与登记的“{offices[office_id].name}”只差一个字（笔误），"
                               "按登记的名称读取")
        report.office = offices[office_id].name
    if office_id in offices and offices[office_id].name != report.office:
        raise InputError(f"机关代码 {office_id} 在 data/offices.csv 中是“{offices[office_id].name}”，"
                         f"但这份报告是“{report.office}”的", file=path, office=office_id, year=report.year,
                         field="机关名称")
    figures_file = project.figures_file(office_id)
    existing = read_figures(project, office_id) if figures_file.exists() else {}
    narrative = project.narrative_file(office_id, report.year)
    writes: dict[Path, str] = {}
    registry = registry_with(project, office_id, report)
    if registry is not None:
        writes[project.offices_file] = registry
    kept = [(y, ref, v or "") for y, f in sorted(existing.items()) if y != report.year for ref, v in f.values.items()]
    mine = [(report.year, ref, v or "") for ref, v in report.values.items()]
    writes[figures_file] = figures_csv(sorted(kept + mine, key=lambda c: c[0]))  # stable: grouped by year
    # Figures the prose states that a table holds become placeholders: next year's prose, started from this
    # file, then states next year's figures instead of keeping these.
    writes[narrative] = narrative_text(report.preamble, list(zip(report.format.headings, report.sections, strict=True)),
                                       lambda text: with_placeholders(text, report.format, report.values))
    writes[project.params_file(office_id, report.year)] = params_text(office_id, report.year)
    changed = {p: text for p, text in writes.items() if not p.exists() or p.read_text(encoding="utf-8") != text}
    if changed and not force and (report.year in existing or narrative.exists()):
        held = existing[report.year].values if report.year in existing else {}
        differ = [ref for ref in dict.fromkeys([*report.values, *held])
                  if (report.values.get(ref) or "") != (held.get(ref) or "")]
        what = _differences(report.year, differ, held, report.values) if differ else (
            f"正文与已有的 {project.relative(narrative)} 不同" if narrative in changed else "参数文件不同")
        raise InputError(f"{office_id} 已有{report.year}年的其他数据，{what}（确需替换请加 --force）",
                         file=path, office=office_id, year=report.year, field=differ[0] if differ else None)
    write_files(changed)  # ingesting the same report again changes nothing
    return Ingested(str(path), office_id, report, list(changed), new_office=office_id not in offices)


# Differing cells named in the refusal of a second report of one office-year, before "…共N处".
SHOWN_DIFFERENCES = 3


def _differences(year: int, refs: list[str], held: dict[str, str | None], read: dict[str, str | None]) -> str:
    """The cells a report would change, in words: `表二 · 行政处罚 · 本年处理决定数量：已有128，此文件为129`."""
    from .render.html import cell_location

    def value(v: str | None) -> str:
        return v if v else "空白"

    shown = "；".join(f"{cell_location(year, *ref.split('.'))}：已有{value(held.get(ref))}，"
                     f"此文件为{value(read.get(ref))}" for ref in refs[:SHOWN_DIFFERENCES])
    more = f"……共{len(refs)}个单元格不同" if len(refs) > SHOWN_DIFFERENCES else ""
    return f"{len(refs)}个单元格不同：{shown}{more}" if not more else f"{shown}{more}"


def _slip_of(name: str, by_name: dict[str, str]) -> str | None:
    """The id of the one registered office whose name `name` differs from by one character in place (an OCR
    or typing slip: `沐阳县…` for `沭阳县…`), or None."""
    near = [i for n, i in by_name.items()
            if len(n) == len(name) >= 4 and sum(a != b for a, b in zip(n, name, strict=True)) == 1]
    return near[0] if len(near) == 1 else None


def registry_with(project: Project, office_id: str, report: Published) -> str | None:
    """`data/offices.csv` with the office added (and the label columns its report needs), or None when the
    office is listed already."""
    path = project.offices_file
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0] if rows else list(OFFICE_FIELDS)
    if any(r and r[0] == office_id for r in rows[1:]):
        return None
    labels = {f"{LABEL_PREFIX}{k}": v for k, v in report.labels.items()}
    header += [c for c in labels if c not in header]
    row = {"id": office_id, "name": report.office, **labels}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows[1:]:
        writer.writerow(r + [""] * (len(header) - len(r)))
    writer.writerow([row.get(c, "") for c in header])
    return out.getvalue()

