"""One office-year's report as loaded from the data: office, format, figures, prose, last year's figures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .data import Figures, Office, Registry, read_figures, read_registry
from .exceptions import InputError
from .filememo import FileMemo
from .formats import Format, Label, format_for
from .narrative import Narrative, check_no_html, fill, parse
from .params import read_params
from .project import Project, check_office_id, check_year
from .textfile import read_text

T = TypeVar("T")


@dataclass(frozen=True)
class Report:
    office: Office
    year: int
    format: Format
    values: dict[str, str | None]  # every data cell of the format: "t3.new.natural" → text or None
    sources: dict[str, str]  # "t3.new.natural" → "data/figures/x.csv:12"
    narrative: Narrative  # placeholders filled
    previous: dict[str, str | None] | None = None  # last year's figures, for the cross-year rules
    previous_format: Format | None = None
    previous_sources: dict[str, str] | None = None  # where last year's figures were read, as `sources`
    # Labels as a published report prints them, by position ("t3/r5c2"), when the report was read from one.
    printed: dict[str, str] | None = None

    @property
    def title(self) -> str:
        return f"{self.office.name}{self.year}年政府信息公开工作年度报告"

    def label(self, label: Label, position: str | None = None) -> str:
        """A label as this report prints it: as read from the published report at `position` when it was
        read from one, else as the office prints it (configurable labels may be overridden per office)."""
        if self.printed and position in self.printed:
            return self.printed[position]
        if label.key and label.key in self.office.labels:
            return self.office.labels[label.key]
        return label.text


OFFICE_PLACEHOLDERS = ("name", "region", "address", "postcode", "phone")  # `{{ office.name }}`, …


def _resolver(office: Office, year: int, values: dict[str, str | None]):
    def resolve(name: str) -> str | None:
        if name == "year":
            return str(year)
        if name.startswith("office."):
            attr = name.removeprefix("office.")
            return getattr(office, attr, None) if attr in OFFICE_PLACEHOLDERS else None
        return values.get(name)

    return resolve


def read_narrative(project: Project, office: Office, year: int, values: dict[str, str | None]) -> Narrative:
    path = project.narrative_file(office.id, year)
    rel = project.relative(path)
    try:
        text = read_text(path, file=rel, office=office.id, year=year)
    except FileNotFoundError:
        raise InputError("正文文件不存在（nianbao new 可写出含六个标题的骨架）", file=rel, office=office.id,
                         year=year) from None
    narrative = parse(text, rel, office=office.id, year=year)
    check_no_html(narrative, office.id, year)
    names = {"year", *(f"office.{a}" for a in OFFICE_PLACEHOLDERS), *values}
    return fill(narrative, _resolver(office, year, values), office.id, year, names)


def build_report(project: Project, office: Office, year: int, figures: dict[int, Figures]) -> Report:
    fmt = format_for(year)
    if year not in figures:
        raise InputError("数据文件中没有本年度的数据", file=project.relative(project.figures_file(office.id)),
                         office=office.id, year=year)
    this = figures[year]
    rel = project.relative(project.figures_file(office.id))
    values = {ref: this.values.get(ref) for ref in fmt.cell_kinds()}
    sources = {ref: f"{rel}:{line}" for ref, line in this.lines.items()}
    prev = figures.get(year - 1)
    return Report(
        office=office,
        year=year,
        format=fmt,
        values=values,
        sources=sources,
        narrative=read_narrative(project, office, year, values),
        previous=dict(prev.values) if prev else None,
        previous_format=format_for(year - 1) if prev else None,
        previous_sources={ref: f"{rel}:{line}" for ref, line in prev.lines.items()} if prev else None,
    )


# In a batch kernel: the registry, and the figures of the office being built (a warm kernel builds an office's
# years one after the other). One entry each: what a kernel keeps does not grow with the project.
_REGISTRY: FileMemo[Registry] = FileMemo(1)
_FIGURES: FileMemo[dict[int, Figures]] = FileMemo(1)


def _unchanged(memo: FileMemo[T], path: Path, read: Callable[[], T]) -> T:
    """`read()`, or, in a batch kernel, what it returned last time while `path` is unchanged (same size and
    mtime): reading an office's whole figures file for each of its reports was a quarter of a report's time.
    Elsewhere (JupyterLab, `nianbao run`) every call reads: an analyst may save a file twice within the
    file system's clock tick. Callers must not modify what they get."""
    from .kernel import batch_kernel

    return memo.get(path, read) if batch_kernel() else read()


def registry_of(project: Project) -> Registry:
    """The project's office registry (`data.read_registry`), read again in a batch kernel only when the file
    changed (see `_unchanged`): each report and each overview page of a warm kernel reads it. Not to be changed."""
    return _unchanged(_REGISTRY, project.offices_file, lambda: read_registry(project))


def load_report(office: str, year: int | str, project: Project | str | Path | None = None) -> Report:
    """Load one office-year from a project (by default the one around the current directory). In a batch
    kernel, the registry and the office's figures file are read again only when they changed."""
    if not isinstance(project, Project):
        project = Project.find(project)
    check_office_id(office)
    year = check_year(year, office=office)
    registry = registry_of(project)
    found = registry.office(office, file=project.relative(project.offices_file), year=year)
    figures = _unchanged(_FIGURES, project.figures_file(office), lambda: read_figures(project, office))
    return build_report(project, found, year, figures)


def iter_reports(project: Project, pairs: Iterable[tuple[str, int]],
                 registry: Registry | None = None) -> Iterator[tuple[str, int, Report | InputError]]:
    """Load many office-years as the batch builds them: each one's params file read and checked, the registry read
    once, each office's figures once. Bad input fails its own office-years only: they come as the `InputError`
    that says why (a bad registry row or figures file: every year of that office). Raises `InputError` when the
    registry cannot be read at all. `registry`: the one the caller read already."""
    registry = registry or read_registry(project)
    figures: dict[str, dict[int, Figures] | InputError] = {}
    for office, year in pairs:
        try:
            read_params(project, office, year)
            found_office = registry.office(office, file=project.relative(project.offices_file), year=year)
            if office not in figures:
                try:
                    figures[office] = read_figures(project, office)
                except InputError as exc:
                    figures[office] = exc
            found = figures[office]
            if isinstance(found, InputError):
                raise found
            yield office, year, build_report(project, found_office, year, found)
        except InputError as exc:
            yield office, year, exc


def load_reports(project: Project, pairs: list[tuple[str, int]]) -> list[Report]:
    """Load many office-years; the first bad input raises."""
    reports = []
    for _, _, loaded in iter_reports(project, pairs):
        if isinstance(loaded, InputError):
            raise loaded
        reports.append(loaded)
    return reports
