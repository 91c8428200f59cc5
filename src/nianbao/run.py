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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import nbformat

from .atomic import sweep, temp_path, write_files
from .exceptions import ExecutionFailed
from .findings import Finding
from .manifest import GATED, PUBLISHED, input_digests
from .params import read_params
from .pool import TIMEOUT
from .project import Project
from .render.inline import inline_later
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


_RENDERING = threading.Lock()  # one page at a time: a batch worker finishes one task while the next executes


def render_page(nb: nbformat.NotebookNode) -> str:
    with _RENDERING:
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
        elif "papermill-error-cell-tag" in cell.metadata.get("tags", ()):  # papermill gives these random ids
            cell.id = f"papermill-error-{nb.cells.index(cell)}"
    nb.metadata["nianbao"] = {**provenance, "versions": package_versions()}


def _execution_failure(office: str, year: int, exc: BaseException, timeout: int | None) -> ExecutionFailed:
    """What failed, in one line, for a run that did not get to the end of the notebook."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from .kernel import kernel_log_tail

    if isinstance(exc, CellTimeoutError):
        return ExecutionFailed(office, year, "timed out", f"a cell ran longer than {timeout} s (--timeout)")
    said = kernel_log_tail()
    said = f"; it said: {said}" if said else ""
    if isinstance(exc, DeadKernelError):
        return ExecutionFailed(office, year, "kernel died", "the kernel stopped while running the notebook "
                                                           f"(out of memory, or killed){said}")
    if isinstance(exc, NoSuchKernel):
        return ExecutionFailed(office, year, "no such kernel", f"{exc.args[0] if exc.args else exc} "
                                                              "(--kernel NAME picks an installed one)")
    first = (str(exc).strip().splitlines() or [""])[0]
    return ExecutionFailed(office, year, type(exc).__name__, first + said)


def quiet_papermill() -> None:
    """Keep papermill's and nbclient's log lines ("Timeout waiting for execute reply") off the terminal
    unless the application configures logging: each failure is said in one line already."""
    import logging

    logging.getLogger("papermill").addHandler(logging.NullHandler())


def execute_report(project: Project, office: str, year: int, *, findings: list[Finding] | None = None,
                   engine: str | None = None, inputs: str | None = None, timeout: int | None = None,
                   kernel: str | None = None) -> RunResult:
    """Execute the notebook for one office-year and publish its outputs atomically (`execute_to_memory`, then
    `publish`); the arguments, errors and outputs are those of `execute_to_memory`. `OSError` when the outputs
    cannot be written (nothing partial is left)."""
    result, files = execute_to_memory(project, office, year, findings=findings, engine=engine, inputs=inputs,
                                      timeout=timeout, kernel=kernel)
    publish(result, files)
    return result


def publish(result: RunResult, files: dict[Path, str | bytes]) -> None:
    """Write an executed report's notebook and page (`files`: path -> contents) atomically; a published report
    removes the findings pages an earlier gated run left."""
    write_files(files)
    if result.status == PUBLISHED:  # the report is good again: findings of an earlier gated run are stale
        for stale in (result.html.with_name(f"{result.year}.findings.html"),
                      result.html.with_name(f"{result.year}.findings.ipynb")):
            stale.unlink(missing_ok=True)


def execute_to_memory(project: Project, office: str, year: int, *, findings: list[Finding] | None = None,
                      engine: str | None = None, inputs: str | None = None, timeout: int | None = None,
                      kernel: str | None = None) -> tuple[RunResult, dict[Path, str]]:
    """Execute the notebook for one office-year and render it; nothing under `outputs/` is written. Returns the
    result and the files `publish` writes: `outputs/<office>/<year>[.findings].ipynb` and `.html` -> text.

    `findings`: the report's findings when validated already (None: the notebook validates); `engine`: a
    papermill engine name (None: papermill's own, a fresh kernel); `inputs`: the digest of the inputs, recorded
    in the notebook with the findings and the status; `timeout`: seconds a cell may run; `kernel`: the kernel
    name (None: the notebook's). Raises `ExecutionFailed` when the notebook fails for another reason than the
    gate, its kernel cannot start or dies, or a cell times out. `OSError` when the scratch file beside the
    outputs cannot be written.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .kernel import IPCKernelManager

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
                kernel_manager_class=IPCKernelManager, execution_timeout=timeout, kernel_name=kernel,
            )
        except PapermillExecutionError as exc:
            if exc.ename != "GateFailed":
                raise ExecutionFailed(office, year, exc.ename, exc.evalue, exc.traceback) from None
            status = GATED
            nb = nbformat.read(scratch, as_version=4)  # papermill saved it before raising
        except Exception as exc:  # the kernel did not start, died or timed out: one line says which
            if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                raise  # outputs/ cannot be written: the caller says so
            raise _execution_failure(office, year, exc, timeout) from exc
        stem = f"{year}.findings" if status == GATED else f"{year}"
        html, ipynb = out_dir / f"{stem}.html", out_dir / f"{stem}.ipynb"
        normalize(nb, notebook=project.relative(project.notebook), output=project.relative(ipynb),
                  provenance={"status": status, "inputs": inputs,
                              **({"findings": parameters["findings"]} if findings is not None else {})})
        page = render_page(nb)
        inline_later(nb)  # the styles a batch kernel left out: the executed notebook is the same either way
        files: dict[Path, str] = {ipynb: nbformat.writes(nb), html: page}
    finally:
        scratch.unlink(missing_ok=True)
    return RunResult(office, year, status, html, ipynb, time.perf_counter() - started, notebook_findings(nb)), files


def run_report(project: Project, office: str, year: int, *, kernel: str | None = None, timeout: int = TIMEOUT,
               wait: bool = False, on_note: Callable[[str], None] | None = None) -> RunResult:
    """Validate, execute and publish one report in a fresh kernel, and record it in `outputs/manifest.json`
    as a batch would (status, findings, inputs), so that the index and the next batch tell the truth.

    `kernel`: `--kernel NAME` (None: the notebook's, else this environment's Python, with a note);
    `timeout`: seconds a cell may run; `wait`: wait for another process writing outputs/ instead of raising
    `OutputsBusy`; `on_note(text)` receives notes for the user. Raises `InputError` for bad input and
    `ExecutionFailed` when the notebook fails; writes nothing in either case.
    """
    from .batch import write_index
    from .kernelspecs import choose_kernel
    from .lock import outputs_lock
    from .manifest import Manifest, outcome_entry
    from .validate import validate

    read_params(project, office, year)
    report = load_report(office, year, project)  # fail fast, with file and line, before a kernel starts
    kernel, note = choose_kernel(project.notebook, kernel)
    if note and on_note:
        on_note(note)
    findings = validate([report], project)
    digest = input_digests(project, [(office, year)])[(office, year)]
    with outputs_lock(project, "nianbao run", wait=wait, on_wait=on_note) as held:
        # Temporaries of a killed process (no one else writes now): a run killed in this folder leaves some, and any
        # process killed may have left some anywhere (`nianbao.lock`).
        if held.unfinished:
            held.sweep(project.outputs)
        else:
            sweep(project.output_dir(office))
        result = execute_report(project, office, year, findings=findings, inputs=digest, timeout=timeout,
                                kernel=kernel)
        manifest = Manifest(project)
        manifest.put(outcome_entry(project, result, [f.to_dict() for f in findings], digest))
        manifest.save()
        if (project.outputs / "index.html").is_file():
            write_index(project, manifest)
    return result
