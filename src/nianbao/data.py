"""Reading the tidy data: the office registry and the figures (see README, "Data schema").

`data/offices.csv`: one row per office. `data/figures/<office>.csv`: one row per data cell,
`year,table,row,column,value`, keys from the format definitions. Values stay the text that was written
(`7.4890` stays `7.4890`); whether it is a valid number is for the rules to say, with their messages.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .exceptions import InputError
from .formats import format_for
from .project import Project, check_office_id, check_year

OFFICE_FIELDS = ("id", "name", "region", "address", "postcode", "phone")
LABEL_PREFIX = "label."  # columns `label.<label key>` override a configurable label for that office
FIGURE_FIELDS = ("year", "table", "row", "column", "value")


@dataclass(frozen=True)
class Office:
    id: str
    name: str  # 机关名称, as it opens the report title
    region: str = ""
    address: str = ""
    postcode: str = ""
    phone: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def _rows(path: Path, expected: tuple[str, ...], *, exact: bool) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a UTF-8 CSV file (a BOM from Excel is fine) with their line numbers, header checked."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    with handle:
        try:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            if header is None:
                raise InputError("empty file: expected a header line", file=path, line=1)
            header = [h.strip() for h in header]
            missing = [f for f in expected if f not in header]
            if missing or (exact and tuple(header) != expected) or len(set(header)) != len(header):
                raise InputError(f"bad header {','.join(header)!r}: expected {','.join(expected)!r}"
                                 + (f" (missing {', '.join(missing)})" if missing else ""), file=path, line=1)
            for cells in reader:
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                if len(cells) != len(header):
                    raise InputError(f"expected {len(header)} fields, found {len(cells)}", file=path,
                                     line=reader.line_num)
                yield reader.line_num, dict(zip(header, (c.strip() for c in cells), strict=True))
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", file=path, line=reader.line_num) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None


def read_offices(project: Project) -> dict[str, Office]:
    path = project.offices_file
    offices: dict[str, Office] = {}
    for line, row in _rows(path, ("id", "name"), exact=False):
        office = check_office_id(row["id"], file=path, line=line)
        if office in offices:
            raise InputError(f"office {office!r} is listed twice", file=path, line=line, office=office, field="id")
        if not row["name"]:
            raise InputError("empty 机关名称", file=path, line=line, office=office, field="name")
        labels = {k.removeprefix(LABEL_PREFIX): v for k, v in row.items() if k.startswith(LABEL_PREFIX) and v}
        offices[office] = Office(**{k: row.get(k, "") for k in OFFICE_FIELDS}, labels=labels)
    return offices


@dataclass(frozen=True)
class Figures:
    """One office's figures for one year: `table.row.column` → text (None when blank), and its line."""

    values: dict[str, str | None]
    lines: dict[str, int]


def read_figures(project: Project, office: str) -> dict[int, Figures]:
    """All years of one office's figures file, each cell checked against its year's format."""
    path = project.figures_file(office)
    rel = project.relative(path)
    years: dict[int, Figures] = {}
    known: dict[int, set[str]] = {}
    for line, row in _rows(path, FIGURE_FIELDS, exact=True):
        year = check_year(row["year"], file=f"{rel}:{line}", office=office)
        if year not in known:
            known[year] = set(format_for(year).cell_kinds())
            years[year] = Figures({}, {})
        ref = f"{row['table']}.{row['row']}.{row['column']}"
        if ref not in known[year]:
            raise InputError(f"no cell {ref} in format {format_for(year).id}", file=rel, line=line, office=office,
                             year=year, field=ref)
        figures = years[year]
        if ref in figures.values:
            raise InputError(f"cell {ref} is given twice (first on line {figures.lines[ref]})", file=rel,
                             line=line, office=office, year=year, field=ref)
        figures.values[ref] = row["value"] or None
        figures.lines[ref] = line
    return years


def figures_csv(cells: Iterable[tuple[int, str, str]], *, header: bool = True) -> str:
    """The text of a figures file for `(year, "table.row.column", value)` cells, quoted where a value needs it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(FIGURE_FIELDS)
    writer.writerows((year, *ref.split("."), value) for year, ref, value in cells)
    return out.getvalue()
