"""Starting out: a project (`init_project`: notebook, suites, registry), and a new office-year (`scaffold`:
zero figures (last year's carry-overs), a narrative skeleton with the six headings, the params file).

Nothing that exists is overwritten: an analyst's figures and prose are never replaced by blanks.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .atomic import write_files
from .carryover import carry_overs
from .data import OFFICE_FIELDS, figures_csv, read_figures, read_registry
from .formats import Kind, format_for
from .params import params_text
from .project import Project

NARRATIVE_HINT = "（请在此填写。可用 {{ t3.new.total }} 这样的占位符引用表格数字。）"


def init_project(root: Path) -> Project:
    """Make `root` a project: the report and overview notebooks, the expectation suites, a registry with no
    office yet and an outputs folder. What exists already is kept."""
    from .expectations import SUITES, write_suites

    project = Project(root)
    writes: dict[Path, str] = {}
    if not project.notebook.exists():
        writes[project.notebook] = files("nianbao").joinpath("project_files/report.ipynb").read_text(encoding="utf-8")
    overview = project.notebook.with_name("overview.ipynb")  # the reviewers' overview of a year
    if not overview.exists():
        writes[overview] = files("nianbao").joinpath("project_files/overview.ipynb").read_text(encoding="utf-8")
    if not project.offices_file.exists():
        writes[project.offices_file] = ",".join(OFFICE_FIELDS) + "\n"
    write_files(writes)
    if not all((project.expectations / f"{name}.json").exists() for name in SUITES):
        write_suites(project.expectations)
    project.outputs.mkdir(parents=True, exist_ok=True)
    return project


def scaffold(project: Project, office: str, year: int) -> list[Path]:
    """Write what is missing for (office, year) and return the files written."""
    read_registry(project).office(office, file=project.relative(project.offices_file), year=year)
    fmt = format_for(year)
    writes: dict[Path, str] = {}

    figures = project.figures_file(office)
    known = read_figures(project, office) if figures.is_file() else {}
    if year not in known:
        existing = figures.read_text(encoding="utf-8").rstrip("\n") + "\n" if figures.is_file() else ""
        previous = known.get(year - 1)
        carried = carry_overs(year, previous.values if previous else None)  # so a new year has no cross-year warning
        zeros = [(year, ref, carried.get(ref, "0")) for ref in fmt.cell_kinds()]
        writes[figures] = existing + figures_csv(zeros, header=not existing)

    narrative = project.narrative_file(office, year)
    if not narrative.exists():
        writes[narrative] = narrative_skeleton(year)

    params = project.params_file(office, year)
    if not params.exists():
        writes[params] = params_text(office, year)

    write_files(writes)
    return list(writes)


def narrative_skeleton(year: int) -> str:
    """The prose file of a new office-year: the six official headings, a hint under those to write."""
    return "\n\n".join(f"# {h}\n\n{NARRATIVE_HINT if i in (0, 4, 5) else ''}".rstrip()
                       for i, h in enumerate(format_for(year).headings)) + "\n"


def cell_table(year: int) -> list[tuple[str, str, str, Kind]]:
    """Every data cell of the year's format: key, row label, column label, kind."""
    fmt = format_for(year)
    out = []
    for t, d in fmt.cells():
        out.append((f"{t}.{d.row}.{d.column}", *fmt.table(t).labels_of(d.row, d.column), d.kind))
    return out
