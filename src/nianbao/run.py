"""Run one office-year: execute the report notebook with papermill, render it, publish atomically.

Outputs, in `outputs/<office>/`:
- published: `<year>.ipynb` (the executed notebook) and `<year>.html` (the report page);
- gated: `<year>.findings.ipynb` and `<year>.findings.html`, and an earlier published report stays.
A failed run writes nothing at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .atomic import temp_path, write_files
from .exceptions import ExecutionFailed
from .findings import Finding
from .kernel import IPCKernelManager
from .params import read_params
from .project import Project
from .report import load_report

PUBLISHED = "published"
GATED = "gated"


@dataclass
class RunResult:
    office: str
    year: int
    status: str
    html: Path
    notebook: Path
    seconds: float
    findings: list[Finding] = field(default_factory=list)


def render_page(nb: nbformat.NotebookNode) -> str:
    from .render.exporter import ReportExporter

    body, _ = ReportExporter().from_notebook_node(nb)
    return body


def notebook_findings(nb: nbformat.NotebookNode) -> list[Finding]:
    """The findings the notebook's gate displayed (kept in the output's metadata)."""
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            meta = output.get("metadata", {}).get("nianbao", {})
            if "findings" in meta:
                return [Finding.from_dict(d) for d in meta["findings"]]
    return []


def run_report(project: Project, office: str, year: int) -> RunResult:
    """Execute and publish one report. Raises `InputError` for bad input and `ExecutionFailed` when the
    notebook fails for another reason than the gate; writes nothing in either case."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    read_params(project, office, year)
    load_report(office, year, project)  # fail fast, with file and line, before a kernel starts
    out_dir = project.output_dir(office)
    scratch = temp_path(out_dir / f"{year}.ipynb")
    try:
        status = PUBLISHED
        try:
            papermill.execute_notebook(
                str(project.notebook), str(scratch), parameters={"office": office, "year": year},
                cwd=str(project.root), progress_bar=False, request_save_on_cell_execute=False,
                kernel_manager_class=IPCKernelManager,
            )
        except PapermillExecutionError as exc:
            if exc.ename != "GateFailed":
                raise ExecutionFailed(office, year, exc.ename, exc.evalue) from None
            status = GATED
        nb = nbformat.read(scratch, as_version=4)
        page = render_page(nb)
        stem = f"{year}.findings" if status == GATED else f"{year}"
        html, ipynb = out_dir / f"{stem}.html", out_dir / f"{stem}.ipynb"
        write_files({ipynb: nbformat.writes(nb), html: page})
        if status == PUBLISHED:  # the report is good again: findings of an earlier gated run are stale
            for stale in (out_dir / f"{year}.findings.html", out_dir / f"{year}.findings.ipynb"):
                stale.unlink(missing_ok=True)
    finally:
        scratch.unlink(missing_ok=True)
    return RunResult(office, year, status, html, ipynb, time.perf_counter() - started, notebook_findings(nb))
