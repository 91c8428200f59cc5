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

import gc
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from distributed import WorkerPlugin

from .digests import SETTLE_NS
from .early import may_start_early, same_reports
from .exceptions import NianbaoError
from .manifest import FAILED, GATED, MANIFEST, PUBLISHED, Entry, outcome_entry, shared_digest

# Imported with this module, which a worker imports as it receives the plugin: an overview's task (`OverviewTask`)
# unpickled in the worker's event loop while the plugin's thread imports papermill failed half-way (jupyter_client).
from .overview import OverviewTask, overview_key, overview_notebook, regions, report_status
from .pool import Task, failed_entry, failure_reason, start_kernel
from .project import Project

ENV = "DASK_SCHEDULER_ADDRESS"
LOCAL = "local"  # --scheduler local: a LocalCluster of processes on this machine
PLUGIN = "nianbao"
MIN_CHUNK, MAX_CHUNK = 2, 25  # reports per execution task: fewer round trips, smaller near the end
IN_FLIGHT = 2  # chunks queued per worker, so a worker never waits for the client between chunks
# Reports up to which a batch is validated and executed by one task: a re-run after a small change spares a round
# trip, and its worker cannot take an early overview between the two.
TOGETHER = 4
CONNECT_TIMEOUT = 30  # seconds to reach the scheduler
RESENDS = 2  # times an overview goes back to a worker with the files it lacked
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


Listing = dict[str, tuple[int, int]]  # path relative to the project -> (size, mtime_ns) of the client's file


def project_listing(project: Project) -> Listing:
    """What an overview reads, by path with each file's size and mtime (no file is read): the project's inputs
    (every figures, prose and params file, the registry, the notebooks and suites) and the manifest."""
    listing: Listing = {}
    root = len(str(project.root)) + 1

    def scan(folder: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            try:
                if entry.is_dir():
                    scan(entry.path)
                elif entry.is_file():
                    st = entry.stat()
                    listing[entry.path[root:].replace(os.sep, "/")] = (st.st_size, st.st_mtime_ns)
            except OSError:  # deleted meanwhile: not listed
                continue

    for folder in (project.data, project.root / "params", project.notebook.parent, project.expectations):
        scan(str(folder))
    try:
        st = (project.outputs / MANIFEST).stat()
        listing[f"{project.outputs.name}/{MANIFEST}"] = (st.st_size, st.st_mtime_ns)
    except OSError:
        pass
    return listing


@dataclass(frozen=True)
class Mirror:
    """The project's inputs of the overviews as a worker is to hold them, sent by difference: every file by its
    size and mtime on the client (`listing`), and the bytes of those that some worker did not hold as they are
    (`files`). A worker keeps what it was sent, with the size and mtime of the client's file it came from, and
    needs a file again only when these changed; a file whose mtime is not older than `settled` (ns, the client's
    clock) is always sent, as `nianbao.digests` re-hashes it: a second edit in the same timestamp tick keeps
    size and mtime."""

    token: str  # one per batch: a worker applies a batch's mirror once
    listing: Listing
    settled: int
    files: Files
    shared: str = ""  # as `Bundle`'s: a worker with another nianbao refuses the work
    version: str = ""


# What an early overview records as its digest until the batch knows it (`DaskPool.run` puts the job's in).
EARLY = "nianbao-early-overview"


def early_overviews(project: Project, pairs: Sequence[tuple[str, int]], listing: Listing, manifest: bytes = b"") \
        -> list[Any]:
    """The overviews a batch rebuilding the reports `pairs` will make again that may start before any of them is
    built: per region, the years from the first changed one (an overview's digest covers its region's reports of
    every year up to its own) whose changed reports are all recorded, and not as failed, in `manifest` (the
    manifest as the batch found it). The figures an overview shows come from the project's files, which the batch
    does not change; of the reports it shows only what `overview.report_status` gives, which a rebuilt report
    usually keeps (published before and after, the same findings): such an overview, made from that manifest,
    stands for the one made after the reports (`_as_job` checks). A year with reports never built (a first build)
    waits for them. As `OverviewTask`s whose digest is `EARLY`, the latest year first; none when the project has
    no overview notebook or its registry cannot be read. `listing`: the project's files (`project_listing`), for
    the years each office has params for."""
    from .data import read_offices
    from .exceptions import InputError

    if not pairs or not overview_notebook(project).is_file():
        return []
    try:
        grouped = regions(read_offices(project).values())
    except InputError:
        return []
    region_of: dict[str, str | None] = {o.id: region for region, members in grouped.items() for o in members}
    listed: dict[str | None, set[int]] = {}
    for name in listing:
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "params" and len(parts[2]) == 9 and parts[2][:4].isdigit() \
                and parts[2].endswith(".yaml"):
            if not grouped or parts[1] in region_of:
                listed.setdefault(region_of.get(parts[1]) if grouped else None, set()).add(int(parts[2][:4]))
    recorded = _recorded(manifest, {f"{office}/{year}" for office, year in pairs})
    first: dict[str | None, int] = {}
    unrecorded: set[tuple[str | None, int]] = set()
    for office, year in pairs:
        if not grouped or office in region_of:
            region = region_of.get(office) if grouped else None
            first[region] = min(year, first.get(region, year))
            if f"{office}/{year}" not in recorded:
                unrecorded.add((region, year))
    tasks = [OverviewTask(year, EARLY, region or "") for region, since in first.items()
             for year in listed.get(region, ()) if year >= since and (region, year) not in unrecorded]
    return sorted(tasks, key=lambda t: (-t.year, t.region))


def _recorded(manifest: bytes, keys: set[str]) -> set[str]:
    """The reports of `keys` ("office/year") that `manifest` records with a status other than failed."""
    found = set()
    for line in manifest.split(b"\n"):
        if line.startswith(b'"'):
            close = line.find(b'"', 1)
            key = line[1:close].decode("utf-8", "replace")
            if key in keys and (shown := _shown(line[close + 1:].removesuffix(b","))) \
                    and may_start_early([shown.get("status")]):
                found.add(key)
    return found


def _year_entries(manifest: bytes, year: int) -> dict[bytes, bytes]:
    """The manifest's entries of the reports of `year`, by key, as the bytes of their lines (one line per report,
    as `Manifest.save` writes them)."""
    return _entries_by_year(manifest).get(str(year).encode(), {})


@lru_cache(maxsize=2)
def _entries_by_year(manifest: bytes) -> dict[bytes, dict[bytes, bytes]]:
    """`_year_entries` of every year (as text) at once: a batch compares each early overview's manifest with the
    final one (4 MB at 10^4 office-years), the same two manifests for every overview."""
    found: dict[bytes, dict[bytes, bytes]] = {}
    for line in manifest.split(b"\n"):
        if line.startswith(b'"'):
            close = line.find(b'"', 1)
            key = line[1:close]
            if b"/" in key:
                found.setdefault(key.rpartition(b"/")[2], {})[key] = line[close + 1:].removesuffix(b",")
    return found


def _shown(line: bytes) -> dict | None:
    """What an overview shows of the entry of one manifest line (`_year_entries`); None when it cannot be read."""

    try:
        entry = json.loads(line.removeprefix(b":"))
    except ValueError:
        return None
    return report_status(entry) if isinstance(entry, dict) else None


def _same_reports(read: bytes, final: bytes, year: int) -> bool:
    """Whether the `final` manifest records the reports of `year` as an overview made from the manifest `read`
    showed them: the same reports, each with the same `overview.report_status`."""
    return same_reports(_year_entries(read, year), _year_entries(final, year), _shown)


def _as_job(result: tuple[dict, Files] | list[str], job: Any, read: bytes, final: bytes) \
        -> tuple[dict, Files] | None:
    """An early overview's result (made from the manifest `read`) as `job`'s, with its digest; None when it cannot
    stand for it: it failed or lacked files, or a report of its year is recorded in the `final` manifest otherwise
    than it showed it (one rebuilt as gated, or that failed; a report recovered from a killed batch)."""
    if isinstance(result, list) or result[0].get("status") == FAILED:
        return None
    if not _same_reports(read, final, job.year):
        return None
    outcome, files = result
    placeholder, digest = json.dumps(EARLY).encode(), json.dumps(job.inputs).encode()
    if sum(data.count(placeholder) for data in files.values() if data) != 1:
        return None
    return ({**outcome, "inputs": job.inputs},
            {name: data.replace(placeholder, digest) if data else data for name, data in files.items()})


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


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
        self.synced = ""  # token of the mirror (`Mirror`) last applied to the folder
        self._have: dict[str, bytes] = {}  # what this plugin wrote in its folder: path -> digest of its contents
        # Of those, the ones a mirror sent: path -> size and mtime of the client's file they are the bytes of.
        self._mirrored: dict[str, tuple[int, int]] = {}
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="nianbao-kernel")
        self._lock = threading.Lock()
        self._thread.submit(self._warm_up)
        # great-expectations takes seconds to import: now, while the client hashes, not in the first validation.
        # In the same thread: imports of these packages from two threads at once can deadlock.
        self._thread.submit(_preload)
        # What is loaded by now (distributed, great-expectations, pandas, nbconvert: ~300 000 objects) stays for the
        # worker's life: out of the collector's sight, a full collection costs ~2 ms instead of ~180 ms, and one ran
        # in about every batch of a standing cluster, on the way to a report or an overview.
        self._thread.submit(gc.freeze)

    def teardown(self, worker: Any = None) -> None:
        from . import engines

        self._thread.submit(engines.shutdown)
        self._thread.shutdown(wait=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _warm_up(self) -> None:
        # The kernel first: it boots (and imports nianbao) while this thread imports papermill and nbconvert.
        launched = start_kernel(self.root, self.kernel or "python3")
        import papermill  # noqa: F401  first: papermill loads its engines, ours among them, as it initialises

        from . import engines
        from .run import _exporter, quiet_papermill

        if launched is not None:
            engines.adopt(launched[0], str(self.root), *launched[1:])
        quiet_papermill()
        _exporter()

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
                self._mirrored.pop(name, None)
                if self._have.pop(name, None) is not None or path.exists():
                    path.unlink(missing_ok=True)
                continue
            digest = hashlib.blake2b(data, digest_size=16).digest()
            if self._have.get(name) == digest:
                continue
            self._mirrored.pop(name, None)  # other bytes than the client's file the mirror recorded
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self._have[name] = digest

    def lacking(self, listing: Listing, settled: int) -> list[str]:
        """The files of `listing` this worker does not hold as the client has them (see `Mirror`). Safe from any
        thread: it only looks up (the plugin's thread may be writing)."""
        mirrored = self._mirrored
        return [name for name, key in listing.items() if key[1] >= settled or mirrored.get(name) != key]

    def _apply(self, mirror: Mirror) -> list[str]:
        """Make the folder hold `mirror`'s files: write those sent, delete those not listed; the files it should
        hold but was not sent (another batch wrote them meanwhile, or this worker joined late), else []."""
        self._write(mirror.files | dict.fromkeys((set(self._have) | set(self._mirrored)) - set(mirror.listing)))
        for name in mirror.files:
            key = mirror.listing.get(name)
            if key is not None and key[1] < mirror.settled:
                self._mirrored[name] = key
        return [name for name, key in mirror.listing.items()
                if name not in mirror.files and (key[1] >= mirror.settled or self._mirrored.get(name) != key)]

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

    def overview(self, mirror: Mirror, task: Any, base: Mirror | None = None) -> tuple[dict, Files] | list[str]:
        """Run an overview task (`nianbao.overview`) on the project's inputs; its outcome and its outputs, or the
        files this worker lacks to run it (the client sends them with the task again). `base`: a mirror to apply
        first if this worker has not (`DaskPool._mirror`)."""
        if base is not None and self.synced not in (base.token, mirror.token):
            self._apply(base)  # what it lacks is in `mirror`, or said below
            self.synced = base.token
        if self.synced != mirror.token:  # once per batch and worker: then only this task's work
            # Another project's (or a deleted file's) copies must not be listed: only the mirror's files stay.
            missing = self._apply(mirror)
            self.written = ""  # the shared files are checked again by the next report
            if missing:
                return missing
            self.synced = mirror.token
        project = Project(self.root)
        _same_nianbao(project, mirror)
        outcome = task.execute(project, kernel=self.kernel, timeout=self.timeout)
        names = [outcome.get(k) for k in ("html", "notebook")] if outcome.get("status") != FAILED else []
        files = {}
        for name in filter(None, names):  # back to the client, which alone keeps outputs
            files[name] = (project.outputs / name).read_bytes()
            (project.outputs / name).unlink()
        return outcome, files


def _same_nianbao(project: Project, bundle: Bundle | Mirror) -> None:
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


def validate_execute_chunk(shared: Bundle, files: Files, pairs: list[tuple[str, int]],
                           digests: dict[tuple[str, int], str | None]) -> list[Entry | tuple[Entry, Files]]:
    """Dask task: load, validate and execute a few reports on this worker, with no round trip to the client
    between (`NianbaoWorker.validate`, then `NianbaoWorker.execute`)."""
    plugin = _plugin()
    checked = plugin.call(plugin.validate, shared, files, pairs, digests)
    done = iter(plugin.call(plugin.execute, shared, {}, [t for t in checked if not isinstance(t, Entry)]))
    return [item if isinstance(item, Entry) else next(done) for item in checked]


def execute_chunk(shared: Bundle, files: Files, tasks: list[Task]) -> list[tuple[Entry, Files]]:
    """Dask task: execute validated reports on this worker's warm kernel (`NianbaoWorker.execute`)."""
    plugin = _plugin()
    return plugin.call(plugin.execute, shared, files, tasks)


def build_overview(mirror: Mirror, task: Any, base: Mirror | None = None) -> tuple[dict, Files] | list[str]:
    """Dask task: one overview job of `nianbao.overview` (`NianbaoWorker.overview`)."""
    plugin = _plugin()
    return plugin.call(plugin.overview, mirror, task, base)


def _lacking(listing: Listing, settled: int, dask_worker: Any) -> list[str]:
    """Run on each worker (`Client.run`): the files of `listing` it lacks (`NianbaoWorker.lacking`)."""
    plugin = dask_worker.plugins.get(PLUGIN)
    return list(listing) if plugin is None else plugin.lacking(listing, settled)


T = TypeVar("T")


# -- on the client -----------------------------------------------------------------------------------

def _written(writing: deque[tuple[Future, T]], wait: bool, failed: Callable[[T, Exception], T]) -> Iterator[T]:
    """The outcomes of `writing` whose outputs are written, in order (all of them with `wait`); one whose outputs
    could not be written (outputs/ full or read-only) is replaced by `failed(outcome, exc)`, as in the local pool."""
    while writing and (wait or writing[0][0].done()):
        future, outcome = writing.popleft()
        try:
            future.result()
        except Exception as exc:
            outcome = failed(outcome, exc)
        yield outcome


def _failed_overview(outcome: dict, exc: Exception) -> dict:
    return {**outcome, "status": FAILED, "error": failure_reason(exc), "html": None, "notebook": None,
            "headlines": {}, "summary": {}}


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
        self._early: Future | None = None  # the early overviews being sent (`_start_early`)
        self._listing: Listing | None = None  # the project's files when they were sent (`project_listing`)
        # Listed while the client connects (mostly waiting for the network): the early overviews need it first.
        self._listed = self._writer.submit(project_listing, project)
        self._base: tuple[Mirror, Any] | None = None  # the early overviews' mirror, and its future
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
        except Exception as exc:  # an unknown scheme, or something other than a Dask scheduler answering there
            self.close()
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise NianbaoError(f"cannot use the Dask scheduler at {address}: {first} (a scheduler's address is "
                               "tcp://HOST:8786, or `local`)") from None
        plugin = NianbaoWorker(kernel, timeout)
        # On an existing cluster a plugin an earlier batch registered stays, warm, when it is the same version
        # with the same options: registering it again would restart every worker's kernel.
        if self._cluster is not None or self._identities() != {plugin.identity}:
            self.client.register_plugin(plugin, name=PLUGIN)
        gc.freeze()  # distributed's ~100 000 objects live as long as the client: out of the collector's sight

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
        # Meanwhile, the overviews whose pages show none of these reports start on the workers validation leaves
        # free (see `early_overviews`).
        self._early = self._writer.submit(self._start_early, list(pairs))
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

        if len(pairs) <= TOGETHER:  # a few reports: validated and executed by one task, on one worker
            first = [send(validate_execute_chunk, list(pairs), list(pairs), dict(digests), priority=1)]
            unvalidated, executing = 0, 1
        else:
            first = [send(validate_chunk, list(chunk), list(chunk), {p: digests[p] for p in chunk}, priority=1)
                     for chunk in _chunks(pairs)]
        validating = {f.key for f in first} if unvalidated else set()
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
            yield from _written(writing, False, failed_entry)
        yield from _written(writing, True, failed_entry)

    def _publish(self, entry: Entry, files: Files) -> None:
        from .run import RunResult, publish

        out = self.project.outputs
        result = RunResult(entry.office, entry.year, GATED if entry.status == GATED else PUBLISHED,
                           out / str(entry.html), out / str(entry.notebook), 0.0)
        publish(result, {out / name: data for name, data in files.items() if data is not None})

    def run(self, jobs: Iterable[Any]) -> Iterator[dict | Entry]:
        """Run overview jobs (`nianbao.overview`) and write their outputs; each outcome as the manifest records
        it (a failed `Entry` for one Dask could not run). A job that an early overview (`early_overviews`) made
        already is written from it when the reports of its year are recorded as that overview read them."""
        from distributed import as_completed

        from .atomic import write_files

        early = self._early_overviews()
        jobs = {overview_key(job.year, job.region or None): job for job in jobs}
        self._cancel([future for key, (future, _) in early.items() if key not in jobs])
        if not jobs:
            return
        running = as_completed()
        futures: dict[Any, tuple[Any, int, bytes | None]] = {}  # future -> its job, times resent, early: manifest
        mirror: list[Any] = []  # this run's mirror, made for the first job that is not early, and its future

        def submit(job: Any, resent: int = 0, lacking: Sequence[str] = ()) -> None:
            if not mirror:
                # The project's files as the batch found them; those the early overviews' mirror sent already
                # are not sent again: a worker that has not applied it applies it first.
                made = self._mirror(self._listing or self._listed.result(), self._base[0] if self._base else None)[0]
                mirror.extend([made, self.client.scatter(made, broadcast=True, hash=False)])
            sent = mirror[1]
            if lacking:  # the worker lacked these files (it joined late, another batch ran): with the task
                sent = replace(mirror[0], files=mirror[0].files | _read(self.project, [
                    self.project.root / name for name in lacking]))
            future = self.client.submit(build_overview, sent, job, self._base[1] if self._base else None,
                                        pure=False)
            futures[future] = (job, resent, None)
            self._futures.append(future)
            running.add(future)

        for key, job in jobs.items():
            if key in early:
                futures[early[key][0]] = (job, 0, early[key][1])
                running.add(early[key][0])
            else:
                submit(job)
        final: list[bytes] = []  # the manifest as the batch recorded this run's reports, read once
        writing: deque[tuple[Future, dict]] = deque()  # overviews whose outputs are being written, in order
        for future in running:
            if future in self._futures:
                self._futures.remove(future)
            job, resent, read = futures.pop(future)
            try:
                result = future.result()
            except Exception as exc:
                if read is not None:  # an early overview: made again, as any
                    submit(job)
                    continue
                yield Entry(job.office, job.year, FAILED, job.inputs, error=failure_reason(exc))
                continue
            if read is not None:
                if not final:
                    final.append(_read_bytes(self.project.outputs / MANIFEST))
                result = _as_job(result, job, read, final[0])
                if result is None:  # a report of its year was recorded otherwise, or it failed: made again
                    submit(job)
                    continue
            if isinstance(result, list):
                if resent < RESENDS:
                    submit(job, resent + 1, result)
                    continue
                yield Entry(job.office, job.year, FAILED, job.inputs,
                            error=f"the Dask worker kept lacking {len(result)} of the project's files: {result[0]}")
                continue
            outcome, files = result
            # In the writers' threads: the fsyncs of several overviews' pages overlap, and results keep coming.
            writing.append((self._writer.submit(write_files, {self.project.outputs / name: data
                                                               for name, data in files.items() if data is not None}),
                            outcome))
            yield from _written(writing, False, _failed_overview)
        yield from _written(writing, True, _failed_overview)

    def _start_early(self, pairs: list[tuple[str, int]]) -> dict[str, tuple[Any, bytes]]:
        """Send the early overviews of a batch rebuilding `pairs` (`early_overviews`), with a mirror of the
        project as it is now; each by its key, with the manifest it reads. Runs in a thread beside `reports`."""

        listing = self._listing = self._listed.result()
        planned = early_overviews(self.project, pairs, listing, _read_bytes(self.project.outputs / MANIFEST))
        if not planned:
            return {}
        mirror, manifest = self._mirror(listing)
        sent = self.client.scatter(mirror, broadcast=True, hash=False)
        self._base = (mirror, sent)
        early = {}
        for task in planned:  # after the reports' tasks: a worker takes one only when it has no report to run
            future = self.client.submit(build_overview, sent, task, pure=False, priority=-1)
            self._futures.append(future)
            early[overview_key(task.year, task.region or None)] = (future, manifest)
        return early

    def _early_overviews(self) -> dict[str, tuple[Any, bytes]]:
        """The early overviews sent by `reports` (none when it sent none, or sending them failed)."""
        started, self._early = self._early, None
        try:
            return started.result() if started is not None else {}
        except Exception:  # the batch goes on without them: its overviews run as they would have
            return {}

    def _cancel(self, futures: list[Any]) -> None:
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:
                pass
            for future in futures:
                if future in self._futures:
                    self._futures.remove(future)

    def _mirror(self, listing: Listing | None = None, base: Mirror | None = None) -> tuple[Mirror, bytes]:
        """The mirror of the project's inputs for this batch's overviews, with the files some worker lacks and
        the manifest as it is now (always: the overviews read the reports' statuses from it); and that manifest.
        `base`: a mirror the workers apply first, whose settled files are not sent again (a worker that lost one
        since, as a report's task wrote other bytes, says so and is sent it with its task)."""
        from . import __version__

        started = time.time_ns()
        listing = dict(project_listing(self.project) if listing is None else listing)
        name = f"{self.project.outputs.name}/{MANIFEST}"
        try:  # its size and mtime with its bytes, from one open file: a save meanwhile replaces another
            with open(self.project.outputs / MANIFEST, "rb") as f:
                st = os.fstat(f.fileno())
                manifest: bytes | None = f.read()
            listing[name] = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            manifest = None
            listing.pop(name, None)
        settled = started - SETTLE_NS
        if base is not None:  # a worker holds what `base` lists as listed, or applies it first: no need to ask
            wanted = {n for n, key in listing.items() if base.listing.get(n) != key or key[1] >= base.settled}
        else:
            try:
                wanted = set().union(*self.client.run(_lacking, listing, settled).values())
            except Exception:  # a worker that cannot answer: it is sent everything
                wanted = set(listing)
        files = _read(self.project, [self.project.root / name for name in sorted(wanted - {name})])
        if manifest is not None:
            files[name] = manifest
        mirror = Mirror(uuid.uuid4().hex, listing, settled, files, shared_digest(self.project), __version__)
        return mirror, manifest or b""

    def close(self) -> None:
        """Cancel what is still queued, disconnect, and stop a LocalCluster this pool started. The workers of an
        existing cluster keep the plugin, and their warm kernels, for the next batch."""
        early = self._early_overviews()  # sent, but the batch made no overview: not needed
        self._writer.shutdown(wait=True)  # no temporary is being written when the batch sweeps outputs/
        self._futures += [future for future, _ in early.values() if future not in self._futures]
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
        gc.unfreeze()

