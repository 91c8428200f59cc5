"""The `nianbao` command: a thin layer over the library. Exit status: 0 fine, 1 critical findings or a
gated report, 2 bad input or a failed run."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from .exceptions import NianbaoError
from .project import Project, check_office_id, check_year


def _project(path: str | None) -> Project:
    return Project.find(path) if path else Project.find()


def project_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--project", "project_dir", type=click.Path(file_okay=False),
                        help="Project folder (default: the one around the current directory).")(fn)


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn nianbao's errors into a one-line message and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NianbaoError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


@click.group()
@click.version_option(package_name="nianbao")
def main() -> None:
    """nianbao (年报): annual government information disclosure reports, from data to a published page."""


@main.command()
@click.argument("office")
@click.argument("year")
@project_option
@reports_errors
def run(office: str, year: str, project_dir: str | None) -> None:
    """Execute and publish the report of OFFICE for YEAR.

    Writes outputs/OFFICE/YEAR.ipynb and outputs/OFFICE/YEAR.html; when a critical finding gates the
    report, writes outputs/OFFICE/YEAR.findings.html instead and exits 1.
    """
    from .run import GATED, run_report

    project = _project(project_dir)
    result = run_report(project, check_office_id(office), check_year(year, office=office))
    html = project.relative(result.html)
    if result.status == GATED:
        critical = [f for f in result.findings if f.critical]
        click.echo(f"gated: {office} {year} is not published ({len(critical)} critical finding(s)); see {html}",
                   err=True)
        for f in critical:
            click.echo(f"  {f.describe()}", err=True)
        sys.exit(1)
    size = result.html.stat().st_size
    click.echo(f"published {html} ({size / 1024:.1f} KB) and {project.relative(result.notebook)}"
               f" in {result.seconds:.1f} s")


@main.command()
@click.argument("office", required=False)
@click.argument("year", required=False)
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@reports_errors
def check(office: str | None, year: str | None, project_dir: str | None, as_json: bool) -> None:
    """Validate reports (all of them, one office's, or one office-year) and print the findings.

    Exits 1 when any finding is critical.
    """
    from .findings import dumps, has_critical
    from .params import list_reports
    from .report import load_reports
    from .validate import validate

    project = _project(project_dir)
    offices = [check_office_id(office)] if office else None
    years = [check_year(year, office=office)] if year else None
    pairs = list_reports(project, offices, years)
    if office and not pairs:
        raise NianbaoError(f"no parameter files for {office}{' ' + year if year else ''} under params/")
    findings = validate(load_reports(project, pairs), project)
    if as_json:
        click.echo(dumps(findings))
    else:
        for f in findings:
            click.echo(f"{f.office} {f.year} {f.describe()}")
        critical = sum(f.critical for f in findings)
        click.echo(f"{len(pairs)} report(s) checked: {critical} critical, {len(findings) - critical} warning(s)")
    sys.exit(1 if has_critical(findings) else 0)


@main.command()
@project_option
@click.option("--check", "only_check", is_flag=True, help="Only check that the suites are up to date.")
@reports_errors
def expectations(project_dir: str | None, only_check: bool) -> None:
    """Write the great-expectations suites of the format rules to expectations/."""
    from .expectations import stale_suites, write_suites

    folder = _project(project_dir).expectations
    if only_check:
        stale = stale_suites(folder)
        if stale:
            click.echo(f"out of date: {', '.join(stale)} (run `nianbao expectations`)", err=True)
            sys.exit(1)
        click.echo("expectation suites are up to date")
        return
    for path in write_suites(folder):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("office")
@click.argument("year")
@project_option
@reports_errors
def new(office: str, year: str, project_dir: str | None) -> None:
    """Start the report of OFFICE for YEAR: zero figures, a narrative skeleton and the params file.

    The office must be in data/offices.csv. Existing figures, prose and params are left as they are.
    """
    from .scaffold import scaffold

    project = _project(project_dir)
    written = scaffold(project, check_office_id(office), check_year(year, office=office))
    for path in written:
        click.echo(f"wrote {project.relative(path)}")
    if not written:
        click.echo("nothing to do: figures, narrative and params exist")


@main.command()
@click.argument("year")
def cells(year: str) -> None:
    """List every data cell of YEAR's format: its key for data/figures, its labels and its kind."""
    from .scaffold import cell_table

    for key, row, column, kind in cell_table(check_year(year)):
        click.echo(f"{key:<32} {kind.value:<7} {row} / {column}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def rules(as_json: bool) -> None:
    """List the rules of FORMAT.md §7 with their severity and message."""
    from .formats import RULES

    rows = [{"id": r.id, "versions": list(r.versions), "status": r.status, "soft": r.soft,
             "severity": r.severity.value, "message": r.message} for r in RULES]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        click.echo(f"{r['id']:<16} {r['severity']:<8} {'/'.join(r['versions']):<11} {r['message']}")


if __name__ == "__main__":  # pragma: no cover
    main()



