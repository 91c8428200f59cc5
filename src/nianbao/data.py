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
from .textfile import read_text

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


def csv_rows(path: Path, rel: str, expected: tuple[str, ...], *, exact: bool,
             office: str | None = None) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line, cells, header) of a hand-edited UTF-8 CSV file of the project (a BOM from Excel is fine): line
    numbers from 1 as an editor shows them, cells and header names stripped. The header must hold the
    `expected` names (exactly them, in order, when `exact`; else at least them, in any order, once each).
    Rows with no value at all (Excel's trailing `,,,,`) are skipped, and so are empty columns after the last
    named one; a row with another number of fields than the header comes as it is, for the caller to say whose
    it is (`wrong_field_count` words it). Raises `InputError` naming `rel` (the path shown, relative to the
    project), the line and `office` when given: file missing, not UTF-8, empty, bad header, broken quoting."""
    try:
        text = read_text(path, file=rel, office=office)
    except FileNotFoundError:
        raise InputError("文件不存在", file=rel, office=office) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1  # where the record being read begins (a quoted field may span lines): the header's first
    try:
        header = next(reader, None)
        if header is None:
            raise InputError(f"空文件：第 1 行应为表头 {','.join(expected)}", file=rel, line=1, office=office)
        header = [h.strip() for h in header]
        while header and not header[-1]:  # Excel's empty trailing columns (`value,,`): a column once formatted
            header.pop()
        missing = [f for f in expected if f not in header]
        if missing or (exact and tuple(header) != expected) or len(set(header)) != len(header):
            sep = next((f"；分隔符应为英文逗号，不是 {c!r}" for c in (";", "\t", "，") if c in "".join(header)), "")
            raise InputError(f"表头 {','.join(header)!r} 有误：应为 {','.join(expected)!r}"
                             + (f"（缺少 {', '.join(missing)}）" if missing else "") + sep,
                             file=rel, line=1, office=office)
        start = reader.line_num + 1  # where the record being read begins (a quoted field may span lines)
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                if len(cells) > len(header) and not any(c.strip() for c in cells[len(header):]):
                    cells = cells[:len(header)]
                yield reader.line_num, [c.strip() for c in cells], header
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            problem = "引号未闭合：这一行的字段以英文引号（\"）开头，直到文件末尾都没有结束的引号"
        else:
            problem = f"引号使用有误：英文引号（\"）须成对包住整个字段，字段内的引号写作两个（\"\"）（{exc}）"
        raise InputError(problem, file=rel, line=start, office=office) from None


def wrong_field_count(cells: list[str], header: list[str]) -> str | None:
    """What is wrong with a row (`csv_rows`' cells) that has another number of fields than the header, in
    Chinese for the analyst; None when it has as many."""
    if len(cells) == len(header):
        return None
    hint = ""
    if len(cells) < len(header):  # a row typed by hand that leaves out the empty optional columns at its end
        hint = f"；没有内容的字段也须保留逗号（如最后一列 {header[-1]} 留空时，行尾应有一个“,”）"
    return f"应有 {len(header)} 个字段（{','.join(header)}），实有 {len(cells)} 个{hint}"


@dataclass
class Registry:
    """`data/offices.csv` as read: the offices whose row is good, and the rows that are not. A bad row fails
    only its office's reports (`problems`, by office id); a row with no valid id belongs to no office
    (`unplaced`)."""

    offices: dict[str, Office]
    problems: dict[str, InputError] = field(default_factory=dict)
    unplaced: list[InputError] = field(default_factory=list)

    def office(self, office: str, *, file: str, year: int | None = None) -> Office:
        """The office `office`; raises its row's `InputError`, or one saying it is not registered."""
        if office in self.problems:
            raise self.problems[office]
        if office not in self.offices:
            known = ", ".join(sorted(self.offices)[:20]) or "无"
            raise InputError(f"未登记的机关 {office!r}：请先在 data/offices.csv 中添加（已登记：{known}）", file=file,
                             office=office, year=year)
        return self.offices[office]


def read_registry(project: Project) -> Registry:
    """The office registry. Raises `InputError` when the file as a whole cannot be read (missing, not UTF-8,
    bad header): no office can be built then. A bad row is kept in `Registry.problems`."""
    rel = project.relative(project.offices_file)
    registry = Registry({})
    first_line: dict[str, int] = {}
    header: list[str] = []
    keys = label_keys()
    for line, cells, header in csv_rows(project.offices_file, rel, ("id", "name"), exact=False):
        raw_id = cells[header.index("id")] if len(cells) > header.index("id") else ""
        try:
            office = check_office_id(raw_id, file=rel, line=line)
        except InputError as exc:
            registry.unplaced.append(exc)
            continue
        if office in first_line:
            registry.problems[office] = InputError(f"机关 {office!r} 重复登记（另见第 {first_line[office]} 行）",
                                                   file=rel, line=line, office=office, field="id")
            registry.offices.pop(office, None)
            continue
        first_line[office] = line
        if problem := wrong_field_count(cells, header):
            registry.problems[office] = InputError(problem, file=rel, line=line, office=office)
            continue
        row = dict(zip(header, cells, strict=True))
        if not row["name"]:
            registry.problems[office] = InputError("机关名称为空", file=rel, line=line, office=office, field="name")
            continue
        labels = {key: v for k, v in row.items()
                  if k.startswith(LABEL_PREFIX) and (key := k.removeprefix(LABEL_PREFIX)) in keys and v}
        registry.offices[office] = Office(**{k: row.get(k, "") for k in OFFICE_FIELDS}, labels=labels)
    for name in header:
        # A mistyped label column would leave every office's override unused without a word: said, the rest built.
        if name.startswith(LABEL_PREFIX) and name.removeprefix(LABEL_PREFIX) not in keys:
            known = "、".join(LABEL_PREFIX + k for k in sorted(keys))
            registry.unplaced.append(InputError(f"没有这个可配置的表头，此列未被使用（可配置的：{known}）", file=rel,
                                                field=name))
    return registry


def label_keys() -> set[str]:
    """The keys of the labels an office may word its own way (`label.<key>` columns of `data/offices.csv`), from
    every format's tables (FORMAT.md: the labels marked as configurable)."""
    from .formats import FORMATS

    return {label.key for f in FORMATS for t in f.tables for _, label in t.labels() if label.key}


def read_offices(project: Project) -> dict[str, Office]:
    """The offices of the registry whose row is good (see `read_registry` for the others). Raises `InputError`
    when the registry file cannot be read at all."""
    return read_registry(project).offices


@dataclass(frozen=True)
class Figures:
    """One office's figures for one year: `table.row.column` → text (None when blank), and its line."""

    values: dict[str, str | None]
    lines: dict[str, int]


class FileErrors(InputError):
    """Every fault of one file's rows: reads as the first, with how many more (`problems` holds them all)."""

    def __init__(self, problems: list[InputError]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.problem, file=first.file, line=first.line, office=first.office, year=first.year,
                         field=first.field)

    def __str__(self) -> str:
        more = len(self.problems) - 1
        return super().__str__() + (f"（另有 {more} 处问题，`nianbao check` 列出全部）" if more else "")


def read_figures(project: Project, office: str) -> dict[int, Figures]:
    """All years of one office's figures file, each cell checked against its year's format.

    Raises `InputError` with the file (relative to the project), line, office, year and field: not UTF-8, a bad
    header; or `FileErrors` holding every faulty row: another number of fields, an invalid year (non-ASCII
    digits, before 2019), a cell that is not in that year's format, a cell given twice. The file is one
    office's input: a fault in it fails that office's reports, and no other."""
    path = project.figures_file(office)
    rel = project.relative(path)
    years: dict[int, Figures] = {}
    known: dict[int, set[str]] = {}
    problems: list[InputError] = []
    for line, cells, header in csv_rows(path, rel, FIGURE_FIELDS, exact=True, office=office):
        try:
            if problem := wrong_field_count(cells, header):
                year = _year_or_none(cells[0])
                raise InputError(problem, file=rel, line=line, office=office, year=year,
                                 field=".".join(cells[1:4]) if year and len(cells) >= 4 else None)
            row = dict(zip(header, cells, strict=True))
            year = check_year(row["year"], file=rel, line=line, office=office)
            if year not in known:
                known[year] = set(format_for(year).cell_kinds())
                years[year] = Figures({}, {})
            ref = f"{row['table']}.{row['row']}.{row['column']}"
            if ref not in known[year]:
                raise InputError(f"{format_for(year).id} 格式中没有单元格 {ref}"
                                 f"（`nianbao cells {year}` 列出全部单元格）",
                                 file=rel, line=line, office=office, year=year, field=ref)
            figures = years[year]
            if ref in figures.values:
                raise InputError(f"单元格 {ref} 重复填写（第一次在第 {figures.lines[ref]} 行）", file=rel,
                                 line=line, office=office, year=year, field=ref)
        except InputError as exc:
            problems.append(exc)
            continue
        figures.values[ref] = row["value"] or None
        figures.lines[ref] = line
    if problems:
        raise FileErrors(problems)
    return years


def _year_or_none(text: str) -> int | None:
    try:
        return check_year(text)
    except InputError:
        return None


def figures_csv(cells: Iterable[tuple[int, str, str]], *, header: bool = True) -> str:
    """The text of a figures file for `(year, "table.row.column", value)` cells, quoted where a value needs it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(FIGURE_FIELDS)
    writer.writerows((year, *ref.split("."), value) for year, ref, value in cells)
    return out.getvalue()
