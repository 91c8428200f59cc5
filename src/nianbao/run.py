"""Run one office-year: execute the report notebook with papermill, render it, publish atomically.

Outputs, in `outputs/<office>/`:
- published: `<year>.ipynb` (the executed notebook) and `<year>.html` (the report page);
- gated: `<year>.findings.ipynb` and `<year>.findings.html`, and an earlier published report stays.
A failed run writes nothing at all.

`nianbao run` executes in a fresh kernel and validates inside the notebook; `nianbao batch` validates the
whole dataset first, passes each report its findings and executes on warm kernels. Both go through
`execute_report`, so their pages are the same bytes.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import nbformat

from .atomic import temp_path, write_files
from .exceptions import ExecutionFailed
from .findings import Finding
from .kernel import IPCKernelManager
from .manifest import GATED, PUBLISHED, input_digests
from .params import read_params
from .project import Project
from .report import load_report

INJECTED_CELL_ID = "injected-parameters"
# What the executed notebook records of the software that made it.
PACKAGES = ("nianbao", "papermill", "nbclient", "nbconvert", "ipykernel", "great-expectations", "pandas")


@dataclass
class RunResult:
    office: str
    year: int
    status: str
    html: Path
    notebook: Path
    seconds: float
    findings: list[Finding] = field(default_factory=list)


@cache
def _exporter() -> Any:
    from .render.exporter import ReportExporter

    return ReportExporter()


def render_page(nb: nbformat.NotebookNode) -> str:
    body, _ = _exporter().from_notebook_node(nb)
    return body


def notebook_findings(nb: nbformat.NotebookNode) -> list[Finding]:
    """The findings the notebook's gate displayed (kept in the output's metadata)."""
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            meta = output.get("metadata", {}).get("nianbao", {})
            if "findings" in meta:
                return [Finding.from_dict(d) for d in meta["findings"]]
    return []


@cache
def package_versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def normalize(nb: nbformat.NotebookNode, *, notebook: str, output: str, provenance: dict[str, Any]) -> None:
    """Make the executed notebook a function of its inputs: drop timestamps and durations, give the injected
    cell a fixed id, record relative paths instead of scratch files, and add nianbao's provenance."""
    pm = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration"):
        pm.pop(key, None)
    pm["input_path"], pm["output_path"] = notebook, output
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell.metadata.get("papermill", {}).pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", ()):
            cell.id = INJECTED_CELL_ID
    nb.metadata["nianbao"] = {**provenance, "versions": package_versions()}


def execute_report(project: Project, office: str, year: int, *, findings: list[Finding] | None = None,
                   engine: str | None = None, inputs: str | None = None, timeout: int | None = None) -> RunResult:
    """Execute the notebook for one office-year and publish its outputs atomically.

    `findings`: the report's findings when a batch validated already (None: the notebook validates);
    `engine`: a papermill engine name (None: papermill's own, a fresh kernel); `inputs`: the digest of the
    inputs, recorded in the notebook; `timeout`: seconds a cell may run. Raises `ExecutionFailed` when the
    notebook fails for another reason than the gate, and writes nothing then.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    out_dir = project.output_dir(office)
    parameters: dict[str, Any] = {"office": office, "year": year}
    if findings is not None:
        parameters["findings"] = [f.to_dict() for f in findings]
    scratch = temp_path(out_dir / f"{year}.ipynb")
    try:
        status = PUBLISHED
        try:
            nb = papermill.execute_notebook(
                str(project.notebook), str(scratch), parameters=parameters, engine_name=engine,
                cwd=str(project.root), progress_bar=False, request_save_on_cell_execute=False,
                kernel_manager_class=IPCKernelManager, execution_timeout=timeout,
            )
        except PapermillExecutionError as exc:
            if exc.ename != "GateFailed":
                raise ExecutionFailed(office, year, exc.ename, exc.evalue, exc.traceback) from None
            status = GATED
            nb = nbformat.read(scratch, as_version=4)  # papermill saved it before raising
        stem = f"{year}.findings" if status == GATED else f"{year}"
        html, ipynb = out_dir / f"{stem}.html", out_dir / f"{stem}.ipynb"
        normalize(nb, notebook=project.relative(project.notebook), output=project.relative(ipynb),
                  provenance={"status": status, "inputs": inputs})
        write_files({ipynb: nbformat.writes(nb), html: render_page(nb)})
        if status == PUBLISHED:  # the report is good again: findings of an earlier gated run are stale
            for stale in (out_dir / f"{year}.findings.html", out_dir / f"{year}.findings.ipynb"):
                stale.unlink(missing_ok=True)
    finally:
        scratch.unlink(missing_ok=True)
    return RunResult(office, year, status, html, ipynb, time.perf_counter() - started, notebook_findings(nb))


def run_report(project: Project, office: str, year: int) -> RunResult:
    """Execute and publish one report in a fresh kernel. Raises `InputError` for bad input and
    `ExecutionFailed` when the notebook fails; writes nothing in either case."""
    read_params(project, office, year)
    load_report(office, year, project)  # fail fast, with file and line, before a kernel starts
    return execute_report(project, office, year, inputs=input_digests(project, [(office, year)])[(office, year)])
