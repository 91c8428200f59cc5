"""The papermill parameter files: `params/<office>/<year>.yaml`, one per report to produce."""

from __future__ import annotations

from typing import Any

import yaml

from .exceptions import InputError
from .project import Project, check_office_id, check_year

KNOWN = {"office", "year"}


def read_params(project: Project, office: str, year: int) -> dict[str, Any]:
    path = project.params_file(office, year)
    rel = project.relative(path)
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no parameter file: create it with `office: {office}` and `year: {year}`", file=rel,
                         office=office, year=year) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"malformed YAML: {getattr(exc, 'problem', None) or exc}", file=rel,
                         line=mark.line + 1 if mark else None, office=office, year=year) from None
    if not isinstance(params, dict):
        raise InputError("expected a mapping of parameter names to values", file=rel, office=office, year=year)
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise InputError(f"unknown parameter(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(KNOWN))}",
                         file=rel, office=office, year=year, field=str(unknown[0]))
    if params.get("office") != office:
        raise InputError(f"office is {params.get('office')!r}, but the file is for {office!r}", file=rel,
                         office=office, year=year, field="office")
    if check_year(params.get("year"), file=rel, office=office) != year:
        raise InputError(f"year is {params.get('year')!r}, but the file is for {year}", file=rel, office=office,
                         year=year, field="year")
    return params


def params_text(office: str, year: int) -> str:
    """The parameter file of one report, as `nianbao new` and `nianbao synth` write it."""
    return f"office: {office}\nyear: {year}\n"


def list_reports(project: Project, offices: list[str] | None = None,
                 years: list[int] | None = None) -> list[tuple[str, int]]:
    """Every (office, year) that has a parameter file, optionally filtered, in a stable order."""
    root = project.root / "params"
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        if not folder.is_dir() or (offices and folder.name not in offices):
            continue
        office = check_office_id(folder.name, file=project.relative(folder))
        for path in sorted(folder.glob("*.yaml")):
            year = check_year(path.stem, file=project.relative(path), office=office)
            if not years or year in years:
                found.append((office, year))
    return found
