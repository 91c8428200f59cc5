"""`nianbao batch --scheduler ADDRESS|local`: the batch on a Dask distributed cluster.

The client (the machine with the project) hashes the inputs, sends each chunk of reports what it needs, and
alone writes `outputs/` and the manifest, atomically, as the local pool does. Workers need no project folder,
only nianbao installed (`pip install nianbao[dask]`):
- a worker plugin (`NianbaoWorker`) keeps one folder and one warm kernel (papermill engine `nianbao`) per
  worker, started once and stopped when the worker closes;
- what every report shares (the notebooks, the expectation suites, the registry) travels once per worker,
  scattered and cached by digest; each chunk carries its own figures files, prose and params files;
- a task loads, validates and executes its chunk of reports there, and returns each report's executed notebook
  and page (bytes) with its manifest entry; overviews get the project's inputs and the manifest.

A notebook that raises or a kernel that dies fails its report only; Dask runs the chunk of a lost worker again
on another, and a chunk whose workers keep dying fails with the reason. Pages are the same bytes as the local
pool's: the worker's folder holds the same relative paths.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from .exceptions import NianbaoError
from .manifest import FAILED, GATED, MANIFEST, PUBLISHED, Entry, outcome_entry, shared_digest
from .pool import Task, failed_entry, failure_reason
from .project import Project

ENV = "DASK_SCHEDULER_ADDRESS"
LOCAL = "local"  # --scheduler local: a LocalCluster of processes on this machine
PLUGIN = "nianbao"
MIN_CHUNK, MAX_CHUNK = 2, 25  # reports per execution task: fewer round trips, smaller near the end
IN_FLIGHT = 2  # chunks queued per worker, so a worker never waits for the client between chunks
CONNECT_TIMEOUT = 30  # seconds to reach the scheduler
# Threads writing the reports' outputs on the client. Each file is still written to a temporary, fsynced and
# renamed into place, as the local pool's workers do, but the fsyncs' waits overlap and the loop goes on
# fetching results meanwhile.
WRITERS = 4

Files = dict[str, bytes | None]  # path relative to the project (or outputs/) -> contents; None: absent


@dataclass(frozen=True)
class Bundle:
    """Files sent to workers, with their digest (a worker writes a bundle it has written already only once)."""

    digest: str
    files: Files
    shared: str = ""  # the client's `manifest.shared_digest`: a worker with another nianbao refuses the work
    version: str = ""  # the client's nianbao version, for the refusal's message


def _read(project: Project, paths: Iterable[Path]) -> Files:
    files: Files = {}
    for path in paths:
        try:
            files[path.relative_to(project.root).as_posix()] = path.read_bytes()
        except FileNotFoundError:
            files[path.relative_to(project.root).as_posix()] = None
    return files


def _bundle(files: Files, shared: str = "") -> Bundle:
    h = hashlib.sha256(shared.encode())
    for name in sorted(files):
        h.update(f"\0{name}\0".encode() + (b"-" if files[name] is None else b"+" + files[name]))
    from . import __version__

    return Bundle(h.hexdigest(), files, shared, __version__)


def shared_bundle(project: Project) -> Bundle:
    """What every report of `project` reads besides its own files: the notebooks, the suites, the registry."""
    paths = [project.notebook, project.notebook.with_name("overview.ipynb"), project.offices_file,
             *sorted(project.expectations.glob("*.json"))]
    return _bundle(_read(project, paths), shared_digest(project))


def report_files(project: Project, pairs: Sequence[tuple[str, int]]) -> Files:
    """Each office's figures file (once) and each office-year's prose and params file."""
    paths: dict[Path, None] = {}
    for office, year in pairs:
        paths.update(dict.fromkeys([project.figures_file(office), project.narrative_file(office, year),
                                    project.params_file(office, year)]))
    return _read(project, paths)


def project_bundle(project: Project) -> Bundle:
    """What an overview reads: the project's inputs (every figures, prose and params file) and the manifest."""
    paths = [p for folder in (project.data, project.root / "params", project.notebook.parent, project.expectations)
             for p in sorted(folder.rglob("*")) if p.is_file()]
    return _bundle(_read(project, [*paths, project.outputs / MANIFEST]), shared_digest(project))


# -- on the workers ----------------------------------------------------------------------------------

class NianbaoWorker(WorkerPlugin):
    """One folder and one warm kernel per Dask worker. Every kernel call runs on the plugin's own thread (the
    kernel client is not thread-safe, and a worker may have several task threads); the kernel starts there
    as soon as the plugin is set up, and stops when the worker closes."""

    def __init__(self, kernel: str | None = None, timeout: int | None = None) -> None:
        from . import __version__

        self.kernel, self.timeout = kernel, timeout
        # A batch finds this plugin on a worker and keeps it (its warm kernel and folder) when it is the same.
        self.identity = (__version__, kernel, timeout)

    def setup(self, worker: Any = None) -> None:
        # Dask's statistical profiler walks every thread's stack every 10 ms: nbconvert's deep ones made each
        # report slower. Reports are profiled with nianbao's own tools, not the dashboard.
        for name in ("profile", "profile-cycle"):
            if callback := getattr(worker, "periodic_callbacks", {}).get(name):
                callback.stop()
        self.root = Path(tempfile.mkdtemp(prefix="nianbao-worker-"))
        self.written = ""  # digest of the shared bundle now in the folder
        self.synced = ""  # digest of the project bundle now in the folder
        self._have: dict[str, bytes] = {}  # what this plugin wrote in its folder: path -> digest of its contents
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="nianbao-kernel")
        self._lock = threading.Lock()
        self._thread.submit(self._warm_up)
        # great-expectations takes seconds to import: now, while the client hashes, not in the first validation.
        # In the same thread: imports of these packages from two threads at once can deadlock.
        self._thread.submit(_preload)

    def teardown(self, worker: Any = None) -> None:
        from . import engines

        self._thread.submit(engines.shutdown)
        self._thread.shutdown(wait=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _warm_up(self) -> None:
        import nbformat
        import papermill

        from .kernel import IPCKernelManager
        from .run import _exporter, quiet_papermill

        quiet_papermill()
        _exporter()
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import nianbao, nianbao.render")])
        nb.metadata["kernelspec"] = {"name": self.kernel or "python3", "display_name": "", "language": "python"}
        try:
            papermill.execute_notebook(nb, None, engine_name="nianbao", cwd=str(self.root), progress_bar=False,
                                       kernel_manager_class=IPCKernelManager, kernel_name=self.kernel)
        except Exception:
            pass  # the first report starts a kernel again, and says what fails

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            return self._thread.submit(fn, *args).result()

    def _write(self, files: Files) -> None:
        """Write `files` into the folder, but those it holds already with the same contents: an unchanged file
        keeps its mtime, so what is kept by size and mtime (the overviews' figures, the batch kernel's
        registry) stays valid from one task, or batch, to the next."""
        for name, data in files.items():
            path = self.root / name
            if data is None:
                if self._have.pop(name, None) is not None or path.exists():
                    path.unlink(missing_ok=True)
                continue
            digest = hashlib.blake2b(data, digest_size=16).digest()
            if self._have.get(name) == digest:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self._have[name] = digest

    def _shared(self, shared: Bundle) -> Project:
        project = Project(self.root)
        if self.written != shared.digest:  # another project, or its notebook or suites changed
            # A report task brings all its own files (absent ones as None): another project's are never read.
            self._write(shared.files)
            _same_nianbao(project, shared)
            self.written = shared.digest
        return project

    def validate(self, shared: Bundle, files: Files, pairs: list[tuple[str, int]],
                 digests: dict[tuple[str, int], str | None]) -> list[Entry | Task]:
        """Load and validate a chunk of reports (`batch.tasks`): a task with its findings for each that loads,
        a failed entry, with the message, for each that does not."""
        from .batch import tasks

        project = self._shared(shared)
        self._write(files)
        return list(tasks(project, pairs, digests))

    def execute(self, shared: Bundle, files: Files, tasks: list[Task]) -> list[tuple[Entry, Files]]:
        """Execute validated reports on the warm kernel; each entry with its outputs (relative to outputs/)."""
        project = self._shared(shared)
        self._write(files)
        return [self._execute(project, task) for task in tasks]

    def _execute(self, project: Project, task: Any) -> tuple[Entry, Files]:
        from .findings import Finding
        from .pool import TIMEOUT
        from .run import execute_to_memory

        try:
            result, files = execute_to_memory(
                project, task.office, task.year, findings=[Finding.from_dict(d) for d in task.findings],
                engine="nianbao", inputs=task.inputs, timeout=self.timeout or TIMEOUT, kernel=self.kernel)
        except Exception as exc:  # a notebook that raised, a dead kernel: this report fails, the chunk goes on
            return failed_entry(task, exc), {}
        return (outcome_entry(project, result, task.findings, task.inputs),
                {project.in_outputs(p): text.encode() for p, text in files.items()})

    def overview(self, bundle: Bundle, task: Any) -> tuple[dict, Files]:
        """Run an overview task (`nianbao.overview`) on the project's inputs; its outcome and its outputs."""
        if self.synced != bundle.digest:  # once per batch and worker: then only this task's work
            # Another project's (or a deleted file's) copies must not be listed: only the bundle's files stay.
            self._write(bundle.files | dict.fromkeys(set(self._have) - set(bundle.files)))
            self.synced, self.written = bundle.digest, ""  # the shared files are checked again by the next report
        project = Project(self.root)
        _same_nianbao(project, bundle)
        outcome = task.execute(project, kernel=self.kernel, timeout=self.timeout)
        names = [outcome.get(k) for k in ("html", "notebook")] if outcome.get("status") != FAILED else []
        files = {}
        for name in filter(None, names):  # back to the client, which alone keeps outputs
            files[name] = (project.outputs / name).read_bytes()
            (project.outputs / name).unlink()
        return outcome, files


def _same_nianbao(project: Project, bundle: Bundle) -> None:
    """Refuse the work (`NianbaoError`) when this worker's nianbao, or its page templates, are not the client's:
    its pages would not be the ones the client's version makes."""
    if shared_digest(project) != bundle.shared:
        from . import __version__

        raise NianbaoError(f"the Dask worker's nianbao {__version__} (its version or page templates) is not the "
                           f"client's {bundle.version}: install the same nianbao version on every worker")


def _preload() -> None:
    import great_expectations  # noqa: F401

    from . import validate  # noqa: F401


def _plugin() -> NianbaoWorker:
    from distributed import get_worker

    return get_worker().plugins[PLUGIN]


def _identity(dask_worker: Any) -> tuple | None:
    """Run on each worker (`Client.run`): the identity of its nianbao plugin, None without one."""
    return getattr(dask_worker.plugins.get(PLUGIN), "identity", None)


def validate_chunk(shared: Bundle, files: Files, pairs: list[tuple[str, int]],
                   digests: dict[tuple[str, int], str | None]) -> list[Entry | Task]:
    """Dask task: load and validate a chunk of reports on this worker (`NianbaoWorker.validate`)."""
    plugin = _plugin()
    return plugin.call(plugin.validate, shared, files, pairs, digests)


def execute_chunk(shared: Bundle, files: Files, tasks: list[Task]) -> list[tuple[Entry, Files]]:
    """Dask task: execute validated reports on this worker's warm kernel (`NianbaoWorker.execute`)."""
    plugin = _plugin()
    return plugin.call(plugin.execute, shared, files, tasks)


def build_overview(bundle: Bundle, task: Any) -> tuple[dict, Files]:
    """Dask task: one overview job of `nianbao.overview` (`NianbaoWorker.overview`)."""
    plugin = _plugin()
    return plugin.call(plugin.overview, bundle, task)


# -- on the client -----------------------------------------------------------------------------------

def _written(writing: deque[tuple[Future, Entry]], wait: bool) -> Iterator[Entry]:
    """The entries of `writing` whose outputs are written, in order (all of them with `wait`); a report whose
    outputs could not be written (outputs/ full or read-only) fails with the reason, as in the local pool."""
    while writing and (wait or writing[0][0].done()):
        future, entry = writing.popleft()
        try:
            future.result()
        except Exception as exc:
            entry = failed_entry(entry, exc)
        yield entry


def scheduler_address(option: str | None) -> str | None:
    """`--scheduler`, else `DASK_SCHEDULER_ADDRESS`, else None (the local process pool)."""
    return option or os.environ.get(ENV) or None


class DaskPool:
    """The batch's workers on a Dask cluster: `address` (`tcp://host:8786`), or `local` for a LocalCluster of
    `jobs` worker processes on this machine. Raises `NianbaoError` when the scheduler cannot be reached."""

    def __init__(self, project: Project, address: str, jobs: int, *, kernel: str | None = None,
                 timeout: int | None = None) -> None:
        from distributed import Client, LocalCluster

        self.project = project
        self._cluster = None
        self._futures: list[Any] = []
        self._writer = ThreadPoolExecutor(WRITERS, thread_name_prefix="nianbao-write")
        try:
            if address == LOCAL:
                self._cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                             dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
                self.client = Client(self._cluster)
            else:
                self.client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise NianbaoError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        plugin = NianbaoWorker(kernel, timeout)
        # On an existing cluster a plugin an earlier batch registered stays, warm, when it is the same version
        # with the same options: registering it again would restart every worker's kernel.
        if self._cluster is not None or self._identities() != {plugin.identity}:
            self.client.register_plugin(plugin, name=PLUGIN)

    def _identities(self) -> set:
        try:
            return set(self.client.run(_identity).values())
        except Exception:  # a worker without this nianbao (another version cannot load the function)
            return set()

    def _workers(self) -> int:
        return max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))

    def reports(self, pairs: Sequence[tuple[str, int]], digests: dict[tuple[str, int], str | None]
                ) -> Iterator[Entry]:
        """Load, validate and execute `pairs` on the cluster, write each report's outputs, and yield its entry
        as it arrives (a chunk Dask could not finish: failed entries with the reason).

        Validation runs in the chunks of the local batch (`batch._chunks`: great-expectations costs per run
        far more than per report) and first (a higher priority); execution in smaller chunks, smaller still near
        the end so that no worker idles while another finishes a long one."""
        from distributed import as_completed

        from .batch import _chunks

        shared = self.client.scatter(shared_bundle(self.project), broadcast=True, hash=False)
        workers = self._workers()
        chunks: dict[str, list[tuple[str, int]]] = {}
        validated: list[Task] = []  # waiting to be executed
        unvalidated = len(pairs)
        executing = 0
        writing: deque[tuple[Future, Entry]] = deque()  # reports whose outputs are being written, in order

        def send(fn: Callable[..., Any], chunk: list[tuple[str, int]], *args: Any, priority: int = 0) -> Any:
            future = self.client.submit(fn, shared, report_files(self.project, chunk), *args, pure=False,
                                        priority=priority)
            chunks[future.key] = chunk
            self._futures.append(future)
            return future

        first = [send(validate_chunk, list(chunk), list(chunk), {p: digests[p] for p in chunk}, priority=1)
                 for chunk in _chunks(pairs)]
        validating = {f.key for f in first}
        running = as_completed(first)
        del first  # a result is released once read, not kept until the batch ends
        for future in running:
            self._futures.remove(future)
            chunk = chunks.pop(future.key)
            try:
                outcome = future.result()
            except Exception as exc:  # workers lost while running it (KilledWorker), or refused (version)
                reason = f"the Dask cluster could not run this report: {failure_reason(exc)}"
                outcome = [Entry(o, y, FAILED, digests[(o, y)], error=reason) for o, y in chunk]
            if future.key in validating:
                unvalidated -= len(chunk)
                validated += [item for item in outcome if not isinstance(item, Entry)]
                outcome = [item for item in outcome if isinstance(item, Entry)]
            else:
                executing -= 1
            # More work for the workers before this chunk's files are written: they never wait for the disk.
            while validated and executing < IN_FLIGHT * workers:
                size = min(MAX_CHUNK, max(MIN_CHUNK, -(-(len(validated) + unvalidated) // (3 * workers))))
                batch, validated = validated[:size], validated[size:]
                running.add(send(execute_chunk, [(t.office, t.year) for t in batch], batch))
                executing += 1
            for item in outcome:
                entry, files = item if isinstance(item, tuple) else (item, {})
                if files:
                    writing.append((self._writer.submit(self._publish, entry, files), entry))
                else:
                    yield entry
            yield from _written(writing, wait=False)
        yield from _written(writing, wait=True)

    def _publish(self, entry: Entry, files: Files) -> None:
        from .run import RunResult, publish

        out = self.project.outputs
        result = RunResult(entry.office, entry.year, GATED if entry.status == GATED else PUBLISHED,
                           out / str(entry.html), out / str(entry.notebook), 0.0)
        publish(result, {out / name: data for name, data in files.items() if data is not None})

    def run(self, jobs: Iterable[Any]) -> Iterator[dict | Entry]:
        """Run overview jobs (`nianbao.overview`) and write their outputs; each outcome as the manifest records
        it (a failed `Entry` for one Dask could not run)."""
        from distributed import as_completed

        from .atomic import write_files

        jobs = list(jobs)
        if not jobs:
            return
        bundle = self.client.scatter(project_bundle(self.project), hash=False)
        futures = {self.client.submit(build_overview, bundle, job, pure=False): job for job in jobs}
        self._futures += futures
        for future in as_completed(list(futures)):
            self._futures.remove(future)
            job = futures.pop(future)
            try:
                outcome, files = future.result()
            except Exception as exc:
                yield Entry(job.office, job.year, FAILED, job.inputs, error=failure_reason(exc))
                continue
            write_files({self.project.outputs / name: data for name, data in files.items() if data is not None})
            yield outcome

    def close(self) -> None:
        """Cancel what is still queued, disconnect, and stop a LocalCluster this pool started. The workers of an
        existing cluster keep the plugin, and their warm kernels, for the next batch."""
        self._writer.shutdown(wait=True)  # no temporary is being written when the batch sweeps outputs/
        client = getattr(self, "client", None)
        if client is not None:
            try:
                if self._futures:
                    client.cancel(self._futures)
            except Exception:
                pass
            client.close()
        if self._cluster is not None:
            self._cluster.close()

