"""A filled workbook into a project's data: the year's figures replaced by the workbook's, the params file and a
narrative skeleton when missing; the office's prose is never touched. All files together, atomically, and
only once the whole workbook has read; the same workbook again changes nothing.

The workbook must be the one of its office and year: the cover's 机关代码 and 机关名称 must agree with
data/offices.csv, and a year or another office's name in the file name must agree with the cover, unless
`office`/`year` say whose it is.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_files
from ..contacts import contacts_file, with_contact
from ..data import figures_csv, read_figures, read_offices
from ..exceptions import InputError
from ..ingest import Ingested, registry_with
from ..params import params_text
from ..project import Project, check_office_id
from ..published.reader import Published
from ..scaffold import narrative_skeleton
from . import layout
from .read import FilledWorkbook, broken_checks, read_workbook


def _office_of(project: Project, path: Path, wb: FilledWorkbook, office: str | None) -> str:
    offices = read_offices(project)
    by_name = {o.name: o.id for o in offices.values()}
    office_id = office or wb.office_id or by_name.get(wb.office_name or "")
    if not office_id:
        raise InputError("封面没有“机关代码”，无法确定机关（请用 --office 指定）", file=path, year=wb.year)
    check_office_id(office_id, file=path)
    if office:
        return office_id
    listed = offices.get(office_id)
    if listed and wb.office_name and listed.name != wb.office_name:
        raise InputError(f"封面的机关代码 {office_id} 在 data/offices.csv 中是“{listed.name}”，封面机关名称却是"
                         f"“{wb.office_name}”，可能是其他机关的报表（确认无误请用 --office 指定）",
                         file=path, office=office_id, year=wb.year)
    if not listed and wb.office_name in by_name:  # a registered name under an id that is not its own
        raise InputError(f"封面的机关代码 {office_id} 与机关名称“{wb.office_name}”不符：data/offices.csv 中"
                         f"“{wb.office_name}”的机关代码是 {by_name[wb.office_name]}（确认无误请用 --office 指定）",
                         file=path, office=office_id, year=wb.year, field=layout.FIELD_ID)
    named = [n for n in by_name if n and n in path.stem]
    if named and not any(by_name[n] == office_id for n in named):
        other = max(named, key=len)
        raise InputError(f"文件名是“{other}”的报表，封面却是“{wb.office_name or office_id}”的，可能交错了文件"
                         f"（确认无误请用 --office 指定）", file=path, office=office_id, year=wb.year)
    if not listed and not wb.office_name:
        raise InputError(f"机关 {office_id} 不在 data/offices.csv 中，封面也没有机关名称", file=path,
                         office=office_id, year=wb.year)
    return office_id


def ingest_workbook(project: Project, path: Path, *, office: str | None = None, year: int | None = None,
                    earlier: dict[tuple[str, int], tuple[str, dict]] | None = None) -> Ingested:
    """Read a filled workbook and write its figures into `project`: the files written and the workbook as a
    `Published` (no prose). `earlier`: the forms ingested before in the same run, (office, year) → (file
    name, values), filled in here: a second form of one office-year with other figures (a corrected copy
    `…(1).xlsx` beside the first) is refused, since which one is meant is a guess.
    Raises `InputError` (and writes nothing) when any cell does not read or the workbook is another
    office's or year's."""
    wb = read_workbook(path, office=office, year=year)
    office_id = _office_of(project, path, wb, office)
    if earlier is not None:
        first = earlier.setdefault((office_id, wb.year), (str(path), wb.values))
        if first[0] != str(path) and first[1] != wb.values:
            changed = [wb.cells.get(ref, ref) for ref, v in wb.values.items() if first[1].get(ref) != v]
            name = Path(first[0]).name
            raise InputError(f"与同一次导入的“{name}”是同一机关、同一年度的报表，但有{len(changed)}个单元格的"
                             f"数字不同（如 {'、'.join(changed[:3])}）：已按“{name}”写入，本文件未写入；"
                             "请只保留正确的一份，再单独导入它", file=path, office=office_id, year=wb.year)
    offices = read_offices(project)
    report = Published(str(path), wb.office_name or offices[office_id].name, wb.year, wb.format, wb.values,
                       originals=wb.originals, headings=list(wb.format.headings))
    figures_file = project.figures_file(office_id)
    existing = read_figures(project, office_id) if figures_file.exists() else {}
    kept = [(y, ref, v or "") for y, f in sorted(existing.items()) if y != wb.year for ref, v in f.values.items()]
    order = [*existing[wb.year].values, *wb.values] if wb.year in existing else wb.values  # the file's order kept
    mine = [(wb.year, ref, wb.values[ref] or "") for ref in dict.fromkeys(order)]
    writes: dict[Path, str] = {}
    same = wb.year in existing and all(existing[wb.year].values.get(r) == v for r, v in wb.values.items())
    if not same:  # the file as it is when it holds these figures already, whatever its order
        writes[figures_file] = figures_csv(sorted(kept + mine, key=lambda c: c[0]))
    registry = registry_with(project, office_id, report)
    if registry is not None:
        writes[project.offices_file] = registry
    contacts = with_contact(project, office_id, wb.year, wb.contact)
    if contacts is not None:
        writes[contacts_file(project)] = contacts
    for target, text in ((project.params_file(office_id, wb.year), params_text(office_id, wb.year)),
                         (project.narrative_file(office_id, wb.year), narrative_skeleton(wb.year))):
        if not target.exists():
            writes[target] = text
    changed = {p: text for p, text in writes.items() if not p.exists() or p.read_text(encoding="utf-8") != text}
    write_files(changed)
    return Ingested(str(path), office_id, report, list(changed), new_office=office_id not in offices,
                    checks=broken_checks(wb))
