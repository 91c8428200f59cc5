"""`nianbao batch`: every office-year of a project, gated, executed on warm kernels, incremental.

1. Digest each selected report's inputs; a report whose outputs were made from the same inputs is skipped.
2. Load the others and validate them with great-expectations (imported once, run on a chunk of reports
   at a time so that memory does not grow with the dataset; a few reports, row by row without GX), so each
   report knows its findings before it runs. This happens in a thread while the workers start and execute
   the first chunk.
3. Execute them in N worker processes (`nianbao.pool`): warm kernels, rendering, atomic publishing.
4. Record each outcome in `outputs/manifest.json` as it arrives; each overview a change remakes runs on the
   same workers once the reports its page shows are recorded, or at once when they were built before (kept if
   they come out as it showed them: `nianbao.early`). Then write `outputs/index.html`.

A notebook that raises, a kernel that dies or even a worker that dies fails that report only. An
interrupted batch leaves finished outputs and no partial ones; the next run does what is missing.
"""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from .data import Registry, read_registry
from .digests import DigestState
from .early import may_start_early, same_reports
from .exceptions import InputError, NianbaoError
from .findings import Finding, has_critical
from .manifest import FAILED, GATED, Entry, Manifest, input_digests, look_ahead, recover
from .overview import (
    OUTPUT_DIR,
    ExecutedOverview,
    OverviewTask,
    drop_removed_offices,
    drop_removed_regions,
    drop_removed_years,
    overview_plan,
    overview_tasks,
    report_status,
    year_pages,
)
from .params import list_reports
from .pool import Task, WorkerPool, failure_reason, usable_cpus
from .project import Project

if TYPE_CHECKING:
    from .cluster import DaskPool
    from .lock import Held

SAVE_EVERY = 2.0  # seconds between manifest saves while a batch runs: what a kill can lose
# Reports validated in one great-expectations run. GX costs per run and per expectation far more than per
# row, so chunks are large; the first is small so that the workers get work as soon as they are warm.
FIRST_CHUNK = 50
CHUNK = 250
# Reports to build per worker started at once. Starting a worker (a process, papermill, a kernel) costs about as
# much CPU as a warm one spends on 40 reports, and on a machine of a few cores the workers' starts compete with
# the parent's validation: a handful of reports goes to one warm worker, and the pool grows while it runs only
# if the work waiting outlasts a worker's start (`WorkerPool`).
REPORTS_PER_WORKER = 20


def workers_for(reports: int, jobs: int) -> int:
    """How many workers to start for `reports` reports to build when `jobs` may run: one per
    `REPORTS_PER_WORKER` reports, at least one, at most `jobs`."""
    return max(1, min(jobs, math.ceil(reports / REPORTS_PER_WORKER)))


@dataclass
class BatchResult:
    entries: list[Entry]  # every selected office-year, rebuilt or not
    built: int
    seconds: float
    index: Path
    swept: list[Path] = field(default_factory=list)
    # Bad input that belongs to no office-year (a params file named `２０２２.yaml`, a registry row with no valid
    # id): reported, and the batch exits 2, but every report it does not belong to is built.
    problems: list[InputError] = field(default_factory=list)
    overviews: list[dict] = field(default_factory=list)  # the overviews of the selected years, as recorded
    damaged: list[str] = field(default_factory=list)  # outputs rebuilt because they were changed or deleted: the
    # reports', then the overviews' (relative to outputs/)

    def with_status(self, *statuses: str) -> list[Entry]:
        return [e for e in self.entries if e.status in statuses]

    @property
    def exit_code(self) -> int:
        """2 when a report or an overview failed or some input belongs to no report, 1 when a report is blocked
        by the gate, else 0."""
        failed = self.with_status(FAILED) or any(o.get("status") == FAILED for o in self.overviews)
        return 2 if failed or self.problems else 1 if self.with_status(GATED) else 0


def _chunks(pairs: Sequence[tuple[str, int]]) -> Iterator[Sequence[tuple[str, int]]]:
    it, size = iter(pairs), FIRST_CHUNK
    while chunk := list(islice(it, size)):
        yield chunk
        size = CHUNK


def tasks(project: Project, pairs: Sequence[tuple[str, int]], digests: dict,
          registry: Registry | None = None) -> Iterator[Task | Entry]:
    """A task for each office-year of `pairs` that loads, with its findings; a failed entry for each that
    does not (bad params, figures or prose), with the message that names file, office, year and field."""
    from .report import iter_reports
    from .validate import ROW_BY_ROW, validate

    # A few reports (a re-run after a small change) are checked row by row, without importing great-expectations;
    # more, with GX: the same findings either way.
    by_rows = len(pairs) <= ROW_BY_ROW

    for chunk in _chunks(pairs):
        reports = []
        for office, year, loaded in iter_reports(project, chunk, registry):
            if isinstance(loaded, InputError):
                yield Entry(office, year, FAILED, digests.get((office, year)), error=str(loaded))
            else:
                reports.append(loaded)
        found: dict[tuple[str, int], list[dict]] = {}
        for f in validate(reports, project, by_rows):
            found.setdefault((f.office, f.year), []).append(f.to_dict())
        for r in reports:
            key = (r.office.id, r.year)
            yield Task(r.office.id, r.year, found.get(key, []), digests[key])


UNGUARDED = ("run_batch was called while a batch worker process was starting: the workers import the "
             "script's main module again, so a script must call run_batch under `if __name__ == \"__main__\":`")


def _importing_main_in_a_child() -> bool:
    """Whether this process is a child that multiprocessing's `spawn` started, running its parent's main module at
    import (as `__mp_main__`): that module's top-level code is on the stack. (`parent_process()` is not set yet
    then; the child's flag for it, `_inheriting`, is private.) A function of that module run later in the child,
    such as a process pool's job that calls `run_batch`, is not top-level code."""
    import inspect

    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__mp_main__":
            return True
        frame = frame.f_back
    return False


def run_batch(project: Project, offices: list[str] | None = None, years: list[int] | None = None,
              jobs: int | None = None, force: bool = False,
              on_start: Callable[[int, int], None] | None = None,
              on_entry: Callable[[Entry], None] | None = None, *, kernel: str | None = None,
              timeout: int | None = None, wait: bool = False,
              on_note: Callable[[str], None] | None = None, scheduler: str | None = None) -> BatchResult:
    """Build every selected office-year whose inputs changed (all of them with `force`).

    `on_start(to_build, skipped)` is called once the work is known, `on_entry` for each report built,
    `on_note(text)` with notes for the user (a capped --jobs, a missing kernel, a wait for the lock).
    `jobs`: worker processes at most (default and most: the CPUs this process may use; fewer start for a few
    reports, see `workers_for`); `kernel`: `--kernel NAME`;
    `timeout`: seconds a cell may run; `wait`: wait for another process writing outputs/ instead of raising
    `OutputsBusy`; `scheduler`: a Dask scheduler's address, or `local` for a LocalCluster of `jobs` workers
    (None: the local process pool; see `nianbao.cluster`).

    The workers are new Python processes (multiprocessing's `spawn`) that import the caller's `__main__`
    module again: a script must call `run_batch` under `if __name__ == "__main__":`. Called while such a
    process imports the script, it raises `NianbaoError` saying so (instead of a second batch in every worker).
    """
    if _importing_main_in_a_child():
        raise NianbaoError(UNGUARDED)
    from .kernelspecs import choose_kernel
    from .lock import outputs_lock

    note = on_note or (lambda text: None)
    kernel, missing = choose_kernel(project.notebook, kernel)
    if missing:
        note(missing)
    usable = usable_cpus()
    if jobs and jobs > usable:
        note(f"note: --jobs {jobs} capped at {usable}, the CPUs this process may use")
    jobs = min(jobs or usable, usable)
    collecting = gc.isenabled()
    try:
        with outputs_lock(project, "nianbao batch", wait=wait, on_wait=note) as held:
            return _run_batch(project, offices, years, jobs, force, on_start, on_entry, kernel, timeout, scheduler,
                              held)
    finally:
        if collecting:
            gc.enable()
        else:
            gc.disable()


def _run_batch(project: Project, offices: list[str] | None, years: list[int] | None, jobs: int, force: bool,
               on_start: Callable[[int, int], None] | None, on_entry: Callable[[Entry], None] | None,
               kernel: str, timeout: int | None, scheduler: str | None, held: Held) -> BatchResult:
    started = time.perf_counter()
    # Until the project is loaded and digested, no automatic collection: each walked the ~10⁶ objects of the
    # manifest, the digest records and the registry made so far, none of them garbage (about half of this part).
    gc.disable()
    options = {"kernel": kernel, "timeout": timeout}
    # A local worker starts first, on standby (`WorkerPool`): its process and its imports are done by the time the
    # batch knows whether there is work (~0.3 s), and it starts its kernel only then: a run with nothing to do
    # starts none.
    standby = None if scheduler else WorkerPool(project, 1, most=jobs, standby=True, **options)

    def start(n: int) -> WorkerPool | DaskPool:
        if scheduler:
            try:
                from .cluster import DaskPool
            except ImportError as exc:
                raise NianbaoError(f"--scheduler needs Dask's distributed ({exc}): pip install 'nianbao[dask]'") \
                    from None
            return DaskPool(project, scheduler, min(jobs, n), **options)
        return WorkerPool(project, workers_for(n, jobs), most=jobs, **options)

    pool = standby

    def changed() -> None:  # the first input that digests to something new: a worker starts its kernel now
        nonlocal pool
        if isinstance(pool, WorkerPool):
            pool.start_kernels()
        pool = pool or start(1)

    try:
        # Digests from the files' recorded digests: only files whose size or mtime changed are read. When every
        # report is selected, the files that change most are looked at first, before anything else is read.
        state = DigestState(project.root, project.outputs, on_change=None if scheduler else changed)
        if force and standby is not None:
            standby.start_kernels()
        elif not offices and not years and standby is not None:
            look_ahead(project, state)
        # Temporaries of a killed process: only one that was killed leaves any (see `nianbao.lock`).
        swept = held.sweep(project.outputs) if held.unfinished else []
        problems: list[InputError] = []
        pairs = list_reports(project, offices, years, problems)
        if not pairs:
            if problems:
                raise problems[0]
            raise NianbaoError("no reports selected: params/<office>/<year>.yaml lists the reports to build")
        # An unreadable registry stops everything (InputError, exit 2; a kernel started for a change found already
        # is stopped with its worker); a bad row of it fails that office's reports only.
        registry = read_registry(project)
        problems += registry.unplaced
        manifest = Manifest(project)
    except BaseException:
        if standby is not None:
            standby.close()
        raise
    # A first build (reports never recorded) or --force has work: the workers start their kernels now, while
    # the inputs are hashed. Otherwise once something is found to have changed.
    eager = force or any(manifest.get(o, y) is None for o, y in pairs)
    if eager and standby is not None:
        standby.grow(workers_for(len(pairs), jobs))
        standby.start_kernels()
    elif eager:
        pool = start(len(pairs))

    try:
        digests = input_digests(project, pairs, registry=registry, state=state)
        if not offices and not years:  # every input was looked at: forget the files deleted since
            state.forget_untouched(("data" + os.sep, "params" + os.sep))
        state.save()
        # The registry, the manifest and the digests live until the batch ends: out of the collector's sight (a full
        # collection walking them, and the libraries a cluster's client imports next, cost ~60 ms each time).
        gc.freeze()
        gc.enable()
        stale = [(o, y) for o, y in pairs if force or not manifest.fresh(o, y, digests[(o, y)])]
        # Outputs that a killed batch finished but did not record are not built again (damaged ones are).
        recovered = [e for o, y in stale if not force and (o, y) not in manifest.damaged
                     and (e := recover(project, o, y, digests[(o, y)]))]
        for entry in recovered:
            manifest.put(entry)
        done = {(e.office, e.year) for e in recovered}
        stale = [pair for pair in stale if pair not in done]
        if on_start:
            on_start(len(stale), len(pairs) - len(stale))
        if stale and isinstance(pool, WorkerPool):
            pool.grow(workers_for(len(stale), jobs))  # started for the first change found: as many as the work needs
        if stale and not isinstance(pool := pool or start(len(stale)), WorkerPool):
            # On a cluster, the workers load and validate too: the client only hashes, ships and writes.
            for entry in pool.reports(stale, digests):
                _record(manifest, entry, on_entry)
        every = None if offices or years else pairs  # every office-year with params, when all are selected
        damaged_overviews: dict[str, str] = {}  # overview key → its output found changed or deleted
        if stale and isinstance(pool, WorkerPool):
            # The overviews run beside the reports, each once the reports its page shows are recorded.
            _build(project, pool, tasks(project, stale, digests, registry), len(stale), manifest, on_entry,
                   overview_plan(project, pairs, [*stale, *done], every, registry), done,
                   lambda: overview_tasks(project, pairs, manifest.overviews, manifest.as_dicts(), force, every,
                                          damaged_overviews, registry))
        else:
            # Then each year's overview, one more job for the same workers (it reads the statuses just saved).
            manifest.save()
            jobs_after = overview_tasks(project, pairs, manifest.overviews, manifest.as_dicts(), force, every,
                                        damaged_overviews, registry)
            if jobs_after:
                pool = pool or start(len(jobs_after))
                for outcome in pool.run(jobs_after):
                    manifest.put_overview(outcome)
        if isinstance(pool, WorkerPool):
            pool.release()  # no more work: the workers shut their kernels down while this process finishes its own
        year_pages(project, manifest.overviews, {y for _, y in pairs}, damaged_overviews, registry)  # regions' list
        drop_removed_regions(project, manifest.overviews, registry)  # of regions the registry no longer names
        if every:
            drop_removed_offices(project, registry)  # their kept figures
            drop_removed_years(project, every, registry)  # the kept charts of years no params file lists
        manifest.save()
        index = write_index(project, manifest, registry, every)
    finally:
        gc.unfreeze()  # collectable again for a caller that goes on
        if pool is not None:
            pool.close()
        try:
            manifest.save()
        finally:  # even when outputs/ is full or read-only: no temporary is left behind
            # by a local worker that died or was stopped while writing. This process's own writes (`write_files`,
            # a cluster's writer threads too: joined by `close`) remove their temporaries whatever happens, as do
            # those of a worker that finished its work, and a cluster's workers write none here: only a worker
            # lost or stopped at once can have left any (a walk of outputs/, 10⁴ folders at a province's scale).
            if isinstance(pool, WorkerPool) and pool.interrupted:
                held.sweep(project.outputs)
    entries = [manifest.get(o, y) for o, y in pairs]
    years = {y for _, y in pairs}
    overviews = [o for _, o in sorted(manifest.overviews.items()) if o.get("year") in years and "inputs" in o]
    return BatchResult([e for e in entries if e], len(stale), time.perf_counter() - started, index, swept,
                       problems=problems, overviews=overviews,
                       damaged=sorted(manifest.damaged.values()) + sorted(damaged_overviews.values()))


def _record(manifest: Manifest, entry: Entry, on_entry: Callable[[Entry], None] | None) -> None:
    manifest.put(entry)
    if on_entry:
        on_entry(entry)
    if time.monotonic() - manifest.saved > SAVE_EVERY:
        manifest.save()


def _build(project: Project, pool: WorkerPool, source: Iterator[Task | Entry], reports: int, manifest: Manifest,
           on_entry: Callable[[Entry], None] | None, plan: dict[OverviewTask, set[tuple[str, int]]],
           recorded: set[tuple[str, int]], overviews: Callable[[], list[OverviewTask]]) -> None:
    """Run and record the `reports` reports of `source` on `pool`, and the overviews the change remakes.

    An overview of `plan` (a `hold` task → the reports its page shows) runs as soon as those of its reports not
    `recorded` already are, with the manifest saved for its kernel to read, while other reports still run. Its
    digest also covers its region's reports of earlier years: once every report is recorded, `overviews()`
    gives the overviews to make with their digests; those executed already are published then (or as they
    come), those not run yet go to the workers with their digest, those not needed after all are dropped.

    An overview of `plan` whose reports were all built before (`early.may_start_early`) does not wait for them: it
    starts at once, from the manifest as the batch found it, and is published only if the reports of its year are
    then recorded as it showed them (`early.same_reports`), else made again."""
    waiting = {task: deps - recorded for task, deps in plan.items()}
    running: set[str] = set()  # held tasks given to the pool, by key
    held: dict[str, ExecutedOverview] = {}
    final: dict[str, OverviewTask] | None = None  # once every report is recorded: the overviews still to make
    # Overviews started before the reports they show are rebuilt (`nianbao.early`), by key: the reports of their year
    # as their kernel read them, to compare with those recorded once every report is.
    early: dict[str, dict[str, Entry]] = {}

    def give(task: OverviewTask) -> None:
        if final is None:
            running.add(task.key)
            pool.add(task)
        elif (known := final.pop(task.key, None)) is not None:
            pool.add(known)  # its digest is known: the worker publishes it

    def start_ready(early_too: bool = False) -> None:
        # `early_too`: those whose changed reports were all built before as well, made at once from the manifest as
        # the batch found it: the workers take them as their kernels come up, while the parent validates.
        ready = [task for task, deps in waiting.items() if not deps or (early_too and may_start_early(
            e.status if (e := manifest.get(*pair)) else None for pair in deps))]
        if ready:
            manifest.save()  # what their kernels read (with `early`'s entries: recovered, upgraded ones saved)
            for task in ready:
                if waiting.pop(task):
                    early[task.key] = _year_reports(manifest, task.year)
                give(task)

    def publish(done: ExecutedOverview) -> None:
        if final is None:
            held[done.key] = done
        elif (task := final.pop(done.key, None)) is not None:
            read = early.pop(done.key, None)
            if read is not None and (done.entry.status == FAILED or not same_reports(
                    read, _year_reports(manifest, task.year), _report_status)):
                pool.add(task)  # a report of its year came out otherwise (gated, failed): made again, with its digest
            else:
                manifest.put_overview(_publish(project, done, task))

    start_ready(early_too=True)
    for outcome in pool.run(source):
        if isinstance(outcome, ExecutedOverview):
            running.discard(outcome.key)
            publish(outcome)
        elif isinstance(outcome, dict):
            manifest.put_overview(outcome)
        elif outcome.office.partition(":")[0] == OUTPUT_DIR:  # a worker died while making an overview
            task = OverviewTask(outcome.year, outcome.inputs, outcome.office.partition(":")[2])
            running.discard(task.key)
            if outcome.inputs is not None:
                manifest.put_overview(outcome)  # it was given its digest: it fails, as a report would
            elif final is not None and task.key in final:
                pool.add(final.pop(task.key))  # once more, with its digest
        else:
            _record(manifest, outcome, on_entry)
            reports -= 1
            for deps in waiting.values():
                deps.discard((outcome.office, outcome.year))
            # The overviews that waited for this report start first (the manifest saved for them to read): the
            # digests of the overviews to make, once the last report is in, are worked out while they run.
            start_ready()
            if reports == 0:
                manifest.save()
                final = {task.key: task for task in overviews()}
                for done in held.values():
                    publish(done)
                held.clear()
            if reports == 0 and final:
                for key in [k for k in final if k not in running]:
                    pool.add(final.pop(key))  # not planned (a failed overview, a changed notebook...)


def _year_reports(manifest: Manifest, year: int) -> dict[str, Entry]:
    """The manifest's entries of the reports of `year`, by key."""
    return {key: entry for key, entry in manifest.entries.items() if entry.year == year}


def _report_status(entry: Entry) -> dict:
    return report_status(entry.to_dict())


def _publish(project: Project, done: ExecutedOverview, task: OverviewTask) -> dict:
    """Write an overview executed ahead (`done`) with the digest of `task`; a failed entry when outputs/ cannot be
    written, as a worker would record it."""
    try:
        return done.publish(project, task.inputs)
    except (OSError, ValueError) as exc:
        return asdict(replace(done.entry, status=FAILED, inputs=task.inputs, error=failure_reason(exc), html=None,
                              notebook=None, headlines={}, summary={}))


def write_index(project: Project, manifest: Manifest, registry: Registry | None = None,
                pairs: Sequence[tuple[str, int]] | None = None) -> Path:
    """`outputs/index.html`: every office-year that has params, with its status, findings and links (only
    what changed is written: `nianbao.index_files`). `pairs`: every office-year that has params, if the caller
    listed them."""
    from .index_files import write_index as write

    return write(project, manifest, registry, pairs)


def critical_findings(entry: Entry) -> list[Finding]:
    found = [Finding.from_dict(d) for d in entry.findings]
    return [f for f in found if f.critical] if has_critical(found) else []
