"""`nianbao batch`: every office-year of a project, gated, executed on warm kernels, incremental.

1. Digest each selected report's inputs; a report whose outputs were made from the same inputs is skipped.
2. Load the others and validate them in one great-expectations pass, so each knows its findings.
3. Execute them in N worker processes. Each worker keeps one warm kernel (papermill engine `nianbao`),
   renders with the `nianbao` exporter and publishes atomically; the parent only hands out work.
4. Record each outcome in `outputs/manifest.json` as it arrives, and write `outputs/index.html`.

A notebook that raises, a kernel that dies or even a worker that dies fails that report only. An
interrupted batch leaves finished outputs and no partial ones; the next run does what is missing.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .atomic import sweep, write_files
from .exceptions import ExecutionFailed, InputError, NianbaoError
from .findings import Finding, has_critical
from .manifest import FAILED, GATED, PUBLISHED, WARNINGS, Entry, Manifest, input_digests
from .params import list_reports, read_params
from .project import Project

TIMEOUT = 600  # seconds a notebook cell may run before its report fails
SAVE_EVERY = 2.0  # seconds between manifest saves while a batch runs: what a kill can lose
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Task:
    office: str
    year: int
    findings: list[dict]
    inputs: str | None


# -- in a worker process ------------------------------------------------------------------------------

def _outputs_relative(project: Project, path: Path) -> str:
    return path.relative_to(project.outputs).as_posix()


def execute_task(project: Project, task: Task, engine: str | None = "nianbao") -> Entry:
    """Execute and publish one report; every failure becomes a failed entry with its reason."""
    from .run import execute_report

    findings = [Finding.from_dict(d) for d in task.findings]
    failed = Entry(task.office, task.year, FAILED, task.inputs, findings=task.findings)
    try:
        result = execute_report(project, task.office, task.year, findings=findings, engine=engine,
                                inputs=task.inputs, timeout=TIMEOUT)
    except ExecutionFailed as exc:
        lines = exc.traceback or [f"{exc.ename}: {exc.evalue}"]
        failed.error = ANSI.sub("", "\n".join(lines))
        return failed
    except Exception as exc:  # a dead kernel, a full disk: this report fails, the batch goes on
        failed.error = "".join(traceback.format_exception_only(exc)).strip() or type(exc).__name__
        return failed
    status = GATED if result.status == GATED else WARNINGS if findings else PUBLISHED
    return Entry(task.office, task.year, status, task.inputs, html=_outputs_relative(project, result.html),
                 notebook=_outputs_relative(project, result.notebook), findings=task.findings)


def _warm_up(project: Project) -> None:
    """Start this worker's kernel and import nianbao in it while the parent validates."""
    import nbformat
    import papermill

    from .kernel import IPCKernelManager
    from .run import _exporter

    _exporter()
    nb = nbformat.read(project.notebook, as_version=4)
    nb.cells = [nbformat.v4.new_code_cell("import nianbao, nianbao.render")]
    papermill.execute_notebook(nb, None, engine_name="nianbao", cwd=str(project.root), progress_bar=False,
                               kernel_manager_class=IPCKernelManager)


def _worker_main(conn: Connection, root: str) -> None:
    import papermill  # noqa: F401  first: papermill loads its engines, ours among them, as it initialises

    from . import engines

    def terminate(signum: int, frame: Any) -> None:  # the parent stops us: do not leave a kernel behind
        engines.shutdown()
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, terminate)
    project = Project(Path(root))
    try:
        _warm_up(project)
    except Exception:
        pass  # the first report starts a kernel again, and reports what fails
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            break
        if task is None:
            break
        conn.send(execute_task(project, task))
    engines.shutdown()


# -- in the parent ------------------------------------------------------------------------------------

@dataclass
class _Worker:
    process: Any
    conn: Connection
    task: Task | None = None


def _start_worker(ctx: Any, root: Path) -> _Worker:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_worker_main, args=(child, str(root)), name="nianbao-worker", daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def _stop(workers: Sequence[_Worker], graceful: bool) -> None:
    for w in workers:
        try:
            if graceful and w.task is None:
                w.conn.send(None)
            else:
                w.process.terminate()
        except (OSError, ValueError):
            pass
    for w in workers:
        w.process.join(timeout=10)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.conn.close()


def execute_all(project: Project, tasks: Sequence[Task], jobs: int) -> Iterator[Entry]:
    """Run `tasks` on `jobs` worker processes and yield each outcome as it arrives. A worker that dies
    fails the report it was running and is replaced."""
    if not tasks:
        return
    # spawn, not fork: the parent has imported great-expectations and its threads by now.
    ctx = multiprocessing.get_context("spawn")
    pending = deque(tasks)
    workers = [_start_worker(ctx, project.root) for _ in range(max(1, min(jobs, len(tasks))))]
    graceful = False
    try:
        while True:
            for w in workers:
                if w.task is None and pending:
                    w.task = pending.popleft()
                    w.conn.send(w.task)
            busy = [w for w in workers if w.task is not None]
            if not busy:
                break
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for i, w in enumerate(workers):
                if w.task is None:
                    continue
                if w.conn in ready:
                    try:
                        entry = w.conn.recv()
                    except (EOFError, OSError):
                        entry = None
                    if entry is not None:
                        w.task = None
                        yield entry
                        continue
                if w.process.sentinel in ready or not w.process.is_alive():
                    w.process.join()
                    task, w.task = w.task, None
                    yield Entry(task.office, task.year, FAILED, task.inputs, findings=task.findings,
                                error=f"worker process died (exit code {w.process.exitcode}) while running "
                                      "this report")
                    w.conn.close()
                    workers[i] = _start_worker(ctx, project.root)
        graceful = True
    finally:
        _stop(workers, graceful)


@dataclass
class BatchResult:
    entries: list[Entry]  # every selected office-year, rebuilt or not
    built: int
    seconds: float
    index: Path
    swept: list[Path] = field(default_factory=list)

    def with_status(self, *statuses: str) -> list[Entry]:
        return [e for e in self.entries if e.status in statuses]

    @property
    def exit_code(self) -> int:
        """2 when a report failed, 1 when one is blocked by the gate, else 0."""
        return 2 if self.with_status(FAILED) else 1 if self.with_status(GATED) else 0


def _load_failures(project: Project, pairs: Sequence[tuple[str, int]], digests: dict) -> tuple[list, list[Entry]]:
    """The reports of `pairs` that load, and a failed entry for each that does not."""
    from .report import iter_reports

    reports, failed = [], []
    good = []
    for office, year in pairs:
        try:
            read_params(project, office, year)
            good.append((office, year))
        except InputError as exc:
            failed.append(Entry(office, year, FAILED, digests.get((office, year)), error=str(exc)))
    for office, year, loaded in iter_reports(project, good):
        if isinstance(loaded, InputError):
            failed.append(Entry(office, year, FAILED, digests.get((office, year)), error=str(loaded)))
        else:
            reports.append(loaded)
    return reports, failed


def run_batch(project: Project, offices: list[str] | None = None, years: list[int] | None = None,
              jobs: int | None = None, force: bool = False,
              on_start: Callable[[int, int], None] | None = None,
              on_entry: Callable[[Entry], None] | None = None) -> BatchResult:
    """Build every selected office-year whose inputs changed (all of them with `force`).

    `on_start(to_build, skipped)` is called once the work is known, `on_entry` for each report built.
    """
    started = time.perf_counter()
    swept = sweep(project.outputs)  # temporaries of a killed run
    pairs = list_reports(project, offices, years)
    if not pairs:
        raise NianbaoError("no reports selected: params/<office>/<year>.yaml lists the reports to build")
    manifest = Manifest(project)
    digests = input_digests(project, pairs)
    stale = [(o, y) for o, y in pairs
             if force or not (e := manifest.get(o, y)) or not e.is_fresh(digests[(o, y)], project.outputs)]
    if on_start:
        on_start(len(stale), len(pairs) - len(stale))
    last_save = time.monotonic()

    def record(entry: Entry) -> None:
        nonlocal last_save
        manifest.put(entry)
        if on_entry:
            on_entry(entry)
        if time.monotonic() - last_save > SAVE_EVERY:
            manifest.save()
            last_save = time.monotonic()

    try:
        if stale:
            reports, failed = _load_failures(project, stale, digests)
            for entry in failed:
                record(entry)
            findings = _validate(reports, project)
            tasks = [Task(r.office.id, r.year, [f.to_dict() for f in findings.get((r.office.id, r.year), ())],
                          digests[(r.office.id, r.year)]) for r in reports]
            for entry in execute_all(project, tasks, jobs or os.cpu_count() or 1):
                record(entry)
    finally:
        manifest.save()
        sweep(project.outputs)
    entries = [manifest.get(o, y) for o, y in pairs]
    index = write_index(project, manifest)
    return BatchResult([e for e in entries if e], len(stale), time.perf_counter() - started, index, swept)


def _validate(reports: list, project: Project) -> dict[tuple[str, int], list[Finding]]:
    if not reports:
        return {}
    from .validate import validate  # imports great-expectations: once per batch, only when there is work

    by_report: dict[tuple[str, int], list[Finding]] = {}
    for f in validate(reports, project):
        by_report.setdefault((f.office, f.year), []).append(f)
    return by_report


def write_index(project: Project, manifest: Manifest) -> Path:
    """`outputs/index.html`: every office-year that has params, with its status, findings and links."""
    from .data import read_offices
    from .render.index import index_html

    try:
        names = {o.id: o.name for o in read_offices(project).values()}
    except InputError:
        names = {}
    entries = [e for e in (manifest.get(o, y) for o, y in list_reports(project)) if e]
    path = project.outputs / "index.html"
    write_files({path: index_html(entries, names)})
    return path


def critical_findings(entry: Entry) -> list[Finding]:
    found = [Finding.from_dict(d) for d in entry.findings]
    return [f for f in found if f.critical] if has_critical(found) else []
