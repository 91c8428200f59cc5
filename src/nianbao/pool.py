"""Worker processes for `nianbao batch`: each keeps one warm kernel (papermill engine `nianbao`), executes
a report, renders it with the `nianbao` exporter and publishes it atomically; the parent only hands out work.

A worker holds two tasks at a time (`AHEAD`), each in a thread of its own: while one is rendered, written and
sent back, the kernel executes the other (the kernel is used from one thread, `engines.use_thread`), so a
kernel does not wait for its worker between notebooks (~0.1 s of a 1429-office overview page).

A notebook that raises or a kernel that dies fails that report only (the engine starts a fresh kernel for the
next one); a worker that dies fails the reports it held and is replaced.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .exceptions import ExecutionFailed, NianbaoError
from .findings import Finding
from .manifest import FAILED, Entry, outcome_entry
from .project import Project

TIMEOUT = 600  # seconds a notebook cell may run before its report fails (--timeout)
SWITCH_INTERVAL = 0.0002  # seconds between GIL hand-overs while the feed thread validates
# Seconds from starting a worker to its first report (a Python process, papermill, a kernel, its imports), as
# measured on a 2-core machine. A pool that starts small adds a worker only when the work waiting for each busy
# worker would take much longer than this.
WORKER_START = 2.0
AHEAD = 2  # tasks a worker holds at a time: one executing on its kernel, one being rendered and written
START = "start"  # what tells a worker on standby to start its kernel (a task does too)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _quota(folder: Path, v2: bool) -> float | None:
    try:
        if v2:
            quota, period = (folder / "cpu.max").read_text().split()
            return None if quota == "max" else int(quota) / int(period)
        quota, period = (int((folder / f"cpu.cfs_{n}_us").read_text()) for n in ("quota", "period"))
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def _cgroup_cpus(root: Path) -> float | None:
    """The CPU quota of this process's cgroup and its ancestors, in CPUs (cgroup v2 `cpu.max`, v1
    `cpu.cfs_quota_us`); None when unlimited or unknown. `root`: the file system root (tests give another)."""
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        v2 = controllers == ""
        if not v2 and "cpu" not in controllers.split(","):
            continue
        cgroups = root / "sys/fs/cgroup"
        for base in [cgroups] if v2 else [cgroups / "cpu", cgroups / controllers]:
            folder = base / path.lstrip("/")
            while True:  # a limit on an ancestor holds too
                if (quota := _quota(folder, v2)) is not None:
                    limits.append(quota)
                if folder == base or base not in folder.parents:
                    break
                folder = folder.parent
    return min(limits) if limits else None


def usable_cpus(root: Path = Path("/")) -> int:
    """How many CPUs this process may use: its CPU affinity (taskset, a container's cpuset) and its cgroup's
    CPU quota (`docker --cpus`, Kubernetes limits), which `os.cpu_count()` ignores. At least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    quota = _cgroup_cpus(root)
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(1, n)


@dataclass(frozen=True)
class Task:
    office: str
    year: int
    findings: list[dict]
    inputs: str | None


def failure_reason(exc: BaseException) -> str:
    """Why a report failed: one line first (the batch's summary shows it), then the notebook's traceback when
    there is one, without terminal colours. nianbao's own errors (bad input, a refusal) are meant to be read as
    they are: their message alone, without the exception's class, on the pool and on Dask alike."""
    if isinstance(exc, ExecutionFailed):
        lines = [f"{exc.ename}: {exc.evalue}", *(["", *exc.traceback] if exc.traceback else [])]
        return ANSI.sub("", "\n".join(lines))
    if isinstance(exc, NianbaoError) and str(exc):
        return str(exc)
    return "".join(traceback.format_exception_only(exc)).strip() or type(exc).__name__


def failed_entry(work: Task | Entry, exc: BaseException) -> Entry:
    """The failed entry of a report (`work`: its task, or the entry its outputs were to be recorded as) that
    raised `exc`: its inputs and findings kept, `failure_reason` as its error."""
    return Entry(work.office, work.year, FAILED, work.inputs, findings=work.findings, error=failure_reason(exc))


def execute_task(project: Project, task: Task, engine: str | None = "nianbao", *, kernel: str | None = None,
                 timeout: int | None = None) -> Entry:
    """Execute and publish one report; every failure becomes a failed entry with its reason. `kernel`: the
    kernel name (None: the notebook's); `timeout`: seconds a cell may run (None: `run.TIMEOUT`)."""
    from .run import execute_report

    findings = [Finding.from_dict(d) for d in task.findings]
    try:
        result = execute_report(project, task.office, task.year, findings=findings, engine=engine,
                                inputs=task.inputs, timeout=timeout or TIMEOUT, kernel=kernel)
    except Exception as exc:  # a notebook that raised, a dead kernel, a full disk: this report fails, the batch goes on
        return failed_entry(task, exc)
    return outcome_entry(project, result, task.findings, task.inputs)


def start_kernel(root: Path, kernel: str | None) -> tuple[str, Any, Any] | None:
    """Start the warm kernel `kernel` (a name; None: none) of a worker in `root` (`kernel.start_batch_kernel`),
    without waiting for it. Returns its name, manager and client for `engines.adopt`; None when it cannot start
    (the first report starts one again, and says why it fails)."""
    from .kernel import start_batch_kernel

    try:
        return (kernel, *start_batch_kernel(kernel, str(root))) if kernel else None
    except Exception:
        return None


def _notebook_kernel(project: Project) -> str | None:
    from .kernelspecs import notebook_kernel

    try:
        return notebook_kernel(project.notebook)
    except NianbaoError:
        return None


def _worker_main(conn: Connection, root: str, kernel: str | None, timeout: int | None, standby: bool = False) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def terminate(signum: int, frame: Any) -> None:  # the parent stops us: do not leave a kernel behind
        try:  # every kernel started here, even one whose start is under way, and its files (the engine's included)
            if (kill := getattr(sys.modules.get(f"{__package__}.kernel"), "kill_kernels", None)) is not None:
                kill()
        except Exception:
            pass
        finally:
            os._exit(128 + signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent's (ignored since birth, `_start_worker`)
    signal.signal(signal.SIGTERM, terminate)
    project = Project(Path(root))
    # papermill changes the working folder for the time of each execution, and two tasks run at a time here: it
    # is the project's folder already, so that neither leaves the other's execution elsewhere.
    os.chdir(project.root)
    kernel_name = kernel or _notebook_kernel(project)
    first = None  # what ended the standby: a task to run, or `START`
    if standby:  # started before the batch knows there is work: with what a kernel's start needs, and no kernel
        from . import kernel as _  # noqa: F401  jupyter_client

        try:
            first = conn.recv()
        except (EOFError, OSError):
            first = None
        if first is None:  # no work after all
            conn.close()
            os._exit(0)
    # The kernel is used from one thread (`engines.use_thread`), this one from its start on. It goes first: it boots
    # (and imports nianbao) while this process imports papermill and nbconvert.
    on_kernel = ThreadPoolExecutor(1, thread_name_prefix="nianbao-kernel")
    launched = on_kernel.submit(start_kernel, project.root, kernel_name).result()
    import papermill  # noqa: F401  first: papermill loads its engines, ours among them, as it initialises

    from . import engines
    from .run import _exporter, quiet_papermill

    engines.use_thread(on_kernel)
    if launched is not None:
        engines.adopt(launched[0], str(project.root), *launched[1:])
    quiet_papermill()
    try:
        _exporter()
    except Exception:
        pass  # the first report renders again, and says what fails
    sending = threading.Lock()

    def run(number: int, task: Any, after: threading.Event, queued: threading.Event) -> None:
        after.wait()  # the task before is queued for the kernel (or done): they take it in the order they came
        engines.when_queued(queued.set)
        try:  # a task that knows how to run itself (an overview) does; a report goes through execute_task
            outcome = task.execute(project, kernel=kernel, timeout=timeout) if hasattr(task, "execute") \
                else execute_task(project, task, kernel=kernel, timeout=timeout)
        except BaseException as exc:  # both turn what a notebook or its kernel raises into a failed outcome
            outcome = failed_entry(task, exc)
        finally:
            queued.set()  # it failed before it reached the kernel, or is done
        try:
            with sending:
                conn.send((number, outcome))
        except (OSError, ValueError):  # the parent is gone: the loop below finds out
            pass

    # Two tasks at a time (`AHEAD`): while one is rendered and written, the next has the kernel.
    tasks = ThreadPoolExecutor(AHEAD, thread_name_prefix="nianbao-task")
    previous = threading.Event()
    previous.set()

    def submit(message: tuple[int, Any]) -> None:
        nonlocal previous
        queued = threading.Event()
        tasks.submit(run, *message, previous, queued)
        previous = queued

    if isinstance(first, tuple):
        submit(first)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone: what runs is nobody's any more, and goes with the kernel
            tasks.shutdown(wait=False, cancel_futures=True)
            engines.shutdown()
            break
        if message is None:  # told to stop: once the tasks given are done
            tasks.shutdown(wait=True)
            on_kernel.submit(engines.shutdown).result()
            break
        submit(message)
    conn.close()
    # Done, its kernel shut down: the process ends without tearing the interpreter down object by object (0.3-0.5 s
    # with papermill, nbconvert and pandas loaded), which the batch would wait for (`WorkerPool.close`), as the
    # `nianbao` command does (`cli.script_main`). Exit handlers run and output is flushed first.
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(0)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    tasks: dict[int, Any] = field(default_factory=dict)  # the tasks it holds (at most `AHEAD`), by their number
    warm: bool = False  # it has finished a task: its kernel is up
    standby: bool = False  # started without its kernel, and not yet given work or told to start it
    sent: float | None = None  # since when its next outcome is due, if warm then (its first waits for its kernel)
    stopping: bool = False  # told to stop


def _start_worker(ctx: Any, root: Path, kernel: str | None, timeout: int | None, standby: bool = False) -> _Worker:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_worker_main, args=(child, str(root), kernel, timeout, standby),
                          name="nianbao-worker", daemon=True)
    # Born deaf to SIGINT (an ignored signal stays ignored through exec, and Python then installs no handler for it):
    # a Ctrl-C sent to the terminal's whole process group while the worker still imports was a KeyboardInterrupt
    # traceback. Only the main thread may change a handler; a Ctrl-C in the few ms of the start is lost to this
    # process too (pressed again, it stops the batch).
    deaf = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if deaf else None
    try:
        process.start()
    finally:
        if deaf:
            signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    child.close()
    return _Worker(process, parent, standby=standby)


def _tell_stop(workers: Sequence[_Worker], graceful: bool) -> bool:
    """Tell `workers` to stop: an idle one politely when `graceful`, any other at once. Whether any was stopped so."""
    forced = False
    for w in workers:
        if w.stopping:
            continue
        w.stopping = True
        try:
            if w.standby:  # it has done nothing, and has nothing to shut down: no need to wait for its imports
                w.process.terminate()
            elif graceful and not w.tasks:
                w.conn.send(None)
            else:
                forced = True
                w.process.terminate()
        except (OSError, ValueError):
            pass
    return forced


def _stop(workers: Sequence[_Worker], graceful: bool) -> bool:
    """Stop `workers` and wait for them. Whether any had to be stopped at once (maybe in the middle of a write)."""
    forced = _tell_stop(workers, graceful)
    for w in workers:
        w.process.join(timeout=10)
        if w.process.is_alive():
            forced = True
            w.process.kill()
            w.process.join()
        w.conn.close()
    return forced


class _Feed:
    """Reads an iterable in a thread. `ready` is a file descriptor that is readable while items (or the end)
    wait to be taken, so the pool can wait for a worker and for the feed at once."""

    def __init__(self, source: Iterable[Task | Entry]) -> None:
        self._items: deque[Task | Entry] = deque()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._finished = False
        self.done = False  # the source is exhausted and every item was taken
        self.ready, self._wake = os.pipe()
        os.set_blocking(self.ready, False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(source,), name="nianbao-feed", daemon=True)
        self._thread.start()

    def _read(self, source: Iterable[Task | Entry]) -> None:
        try:
            for item in source:
                if self._stop.is_set():
                    return
                with self._lock:
                    self._items.append(item)
                self._signal()
        except BaseException as exc:  # raised again in the pool's thread
            self._error = exc
        finally:
            self._finished = True
            self._signal()
            os.close(self._wake)

    def _signal(self) -> None:
        try:
            os.write(self._wake, b".")
        except OSError:  # the pool closed its end: nobody is waiting
            pass

    def take(self) -> list[Task | Entry]:
        """What has arrived since the last call. Raises what the source raised."""
        try:  # drain first: whatever is appended after the drain signals again
            os.read(self.ready, 65536)
        except BlockingIOError:
            pass
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self.done = self._finished and not items
        if self._error is not None:
            raise self._error
        return items

    def close(self) -> None:
        """Stop reading the source (after the item it is on) and release the pipe."""
        self._stop.set()
        os.close(self.ready)


class WorkerPool:
    """N worker processes, each with a warm kernel. Start it early: the workers warm up (start a kernel,
    import nianbao in it) while the parent validates. A worker that dies fails the report it was running
    and is replaced.

    `most`: the pool may grow to this many workers while it runs, when the tasks waiting would keep each worker
    busy for longer than a new one takes to start (`WORKER_START`, judged from the tasks done so far). Each
    worker costs a process and a kernel (about two seconds of CPU): for a few reports one warm worker is done
    sooner, on a machine of a few cores, than two that must both start.

    `standby`: the workers start without their kernels, import what starting one takes and wait: each starts its
    kernel when given work or told to (`start_kernels`), and goes without one when there is none. A batch starts
    its pool so before it knows whether anything changed: a worker's start (a process, its imports) is then done
    by the time a change is found, and a run with nothing to do starts no kernel."""

    def __init__(self, project: Project, jobs: int, *, kernel: str | None = None, timeout: int | None = None,
                 most: int | None = None, standby: bool = False) -> None:
        # spawn, not fork: the parent imports great-expectations and its threads.
        self._ctx = multiprocessing.get_context("spawn")
        self._root = project.root
        self._options = (kernel, timeout)
        self._workers = [_start_worker(self._ctx, self._root, *self._options, standby) for _ in range(max(1, jobs))]
        self.most = max(len(self._workers), most or 0)
        self.started = len(self._workers)  # worker processes started, replacements included
        self._graceful = False
        self._added: deque[Any] = deque()  # tasks given by `add` while `run` runs: after the source's
        self._pending: deque[Any] = deque()  # tasks of `run`'s source not yet sent
        self._numbered = 0  # tasks sent so far: each goes with its number, and its outcome comes back with it
        # A worker died or was stopped at once: it may have left temporaries behind (`atomic.sweep` finds them).
        self.interrupted = False
        self.kernels = 0 if standby else len(self._workers)  # workers that start (or started) a kernel

    def start_kernels(self) -> None:
        """Have the workers on standby start their kernels now (see `standby`)."""
        for w in self._workers:
            self._wake(w)

    def _wake(self, w: _Worker, message: Any = START) -> None:
        """Send `message` to worker `w`; one on standby starts its kernel on it."""
        if w.standby:
            w.standby = False
            self.kernels += 1
        elif message == START:
            return
        try:
            w.conn.send(message)
        except OSError:
            pass  # the worker is dead: its sentinel says so, and its tasks fail

    @property
    def size(self) -> int:
        return len(self._workers)

    def grow(self, n: int) -> None:
        """Have at least `n` workers (at most `most`)."""
        while len(self._workers) < min(n, self.most):
            self._workers.append(_start_worker(self._ctx, self._root, *self._options))
            self.started += 1
            self.kernels += 1

    def _should_grow(self, pending: int, took: list[float]) -> bool:
        """Whether the waiting tasks, at the time the last one done took, would keep every worker busy for longer
        than twice a new worker's start: it takes its share only once started, and its first task is slower
        (a kernel's first overview imports its plotting). Judged after two tasks: a kernel's first of a kind
        is not the measure."""
        if len(self._workers) >= self.most or len(took) < 2 or not pending:
            return False
        return pending * took[-1] / len(self._workers) > 2 * WORKER_START

    def add(self, task: Any) -> None:
        """One more task for the `run` under way (called between the outcomes it yields): it goes to a worker when
        no task of `run`'s source waits (to an idle one at once, not when `run` resumes), and its outcome comes out
        of `run` as theirs do."""
        self._added.append(task)
        if not self._pending:
            self._dispatch()

    def _dispatch(self) -> None:
        """Send each idle worker a task, then each busy one its next (`AHEAD`): the source's first, then those given
        by `add`."""
        pending, added = self._pending, self._added
        for held in range(AHEAD):
            for w in self._workers:
                if len(w.tasks) == held and not w.stopping and (pending or added):
                    task = pending.popleft() if pending else added.popleft()
                    self._numbered += 1
                    w.tasks[self._numbered] = task
                    if not held:
                        w.sent = time.monotonic() if w.warm else None
                    self._wake(w, (self._numbered, task))

    def run(self, source: Iterable[Task | Entry]) -> Iterator[Entry]:
        """Run the tasks of `source` and yield each outcome as it arrives; an `Entry` in `source` is an outcome
        known without running, passed through. `source` may be slow (it loads and validates): a thread reads
        it, so the workers never wait for more than the next task."""
        feed = _Feed(source)
        # The feed thread is busy Python (validation); a worker's result waits for the GIL to be handed over,
        # every 5 ms by default, which left the workers idle a quarter of the time.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            yield from self._run(feed)
        finally:
            sys.setswitchinterval(interval)
            feed.close()

    def _run(self, feed: _Feed) -> Iterator[Entry]:
        pending = self._pending
        pending.clear()  # what an interrupted run left
        workers = self._workers
        took: list[float] = []  # seconds each task of this run took on a warm worker, from sending to its outcome
        added = self._added
        known: list[Entry] = []  # outcomes the source gave, to pass through

        def take() -> None:
            for item in feed.take():
                (known if isinstance(item, Entry) else pending).append(item)

        while True:
            take()
            yield from known
            known.clear()
            self._dispatch()
            busy = [w for w in workers if w.tasks]
            if not busy and not pending and not added and feed.done:
                break
            waiting_for = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            ready = set(wait(waiting_for if feed.done else [*waiting_for, feed.ready]))
            for i, w in enumerate(workers):
                if not w.tasks:
                    continue
                if w.conn in ready:
                    try:
                        number, entry = w.conn.recv()
                    except (EOFError, OSError):
                        entry = None
                    if entry is not None:
                        del w.tasks[number]
                        now = time.monotonic()
                        if w.sent is not None:  # from its sending, or the outcome before when it queued behind
                            took.append(now - w.sent)
                        w.warm = True
                        w.sent = now if w.tasks else None
                        if self._should_grow(len(pending) + len(added), took):
                            self.grow(len(workers) + 1)
                        # Its next task goes now, not once the caller has dealt with this outcome (recorded it,
                        # saved the manifest, worked out the overviews' digests after the last report): the
                        # source's first, those that arrived meanwhile included.
                        try:
                            take()
                        except BaseException:  # what the source raised: after this outcome is recorded
                            yield entry
                            raise
                        self._dispatch()
                        yield entry
                        continue
                if w.process.sentinel in ready or not w.process.is_alive():
                    w.process.join()
                    lost, w.tasks = list(w.tasks.values()), {}
                    self.interrupted = True
                    w.conn.close()
                    workers[i] = _start_worker(self._ctx, self._root, *self._options)
                    self.started += 1
                    self.kernels += 1
                    for task in lost:
                        yield Entry(task.office, task.year, FAILED, task.inputs, findings=task.findings,
                                    error=f"worker process died (exit code {w.process.exitcode}) while running "
                                          "this report")
        self._graceful = True

    def release(self) -> None:
        """Tell the idle workers to stop (each shuts its kernel down) without waiting for them: the parent
        finishes its own work meanwhile, then `close` waits."""
        _tell_stop([w for w in self._workers if not w.tasks], graceful=True)

    def close(self) -> None:
        """Stop the workers: politely after a complete run or when none is busy, at once after an
        interruption that caught them running reports (`interrupted` then)."""
        if _stop(self._workers, self._graceful or not any(w.tasks for w in self._workers)):
            self.interrupted = True
