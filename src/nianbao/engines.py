"""A papermill engine with warm kernels: `papermill --engine nianbao ...` or `engine_name="nianbao"`.

papermill starts a fresh kernel and client for every notebook (~1 s here). This engine keeps one started
kernel and one connected client per process and resets the user namespace between notebooks, so a report
never sees what ran before it. A kernel that died, or that served `MAX_REPORTS` notebooks (a reset does not
undo changes to imported modules), is replaced by a fresh one.

Closer to the kernel's floor, for a batch of small notebooks:
- batch kernels keep no history: IPython's history manager wrote every cell to SQLite under HOME (a
  synchronous commit per session reset), about a quarter of a kernel's time (`--HistoryManager.enabled=False`);
- the code cells of a notebook go to the kernel in one execute request (`GROUP`), which runs them one by
  one as cells (`InteractiveShell.run_cell`: each its own execution count, traceback `Cell In[n]` and
  display hook) and announces each with a marker output, so that every output lands in its own cell and
  papermill's per-cell bookkeeping (status, the cell that raised) is what it is cell by cell. A round trip
  costs more than these notebooks' cells compute. `--timeout` still holds per cell;
- the reset after a notebook is sent without waiting for its reply: the kernel resets while the worker
  renders and writes the page, and the next notebook waits for that reply first;
- a batch worker has its next notebook ready as the last one ends (`use_thread`: two tasks at a time, the kernel
  used from one thread), not once that one's page is rendered, written and sent;
- a kernel imports the modules the notebooks use as it starts (`kernel.PRELOAD`), and a worker starts it
  before importing papermill and nbconvert (`adopt`): the first notebook waits for whichever is later;
- the kernel knows it is a batch kernel (`BATCH_KERNEL` in its environment): it reuses what it read while
  the files are unchanged, and leaves the inline styles of its displays to the worker (`render.inline`).

Import papermill before this module when importing it directly: papermill imports the engines named by its
entry point, this one among them, as it initialises, and would otherwise find this module half-made.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine
from papermill.utils import merge_kwargs, remove_args

from .kernel import start_batch_kernel

MAX_REPORTS = 1000  # a kernel start costs ~1 s, which recycling after 200 reports added as 5 ms to each

# The code of one execute request that runs a notebook's code cells in turn. Each cell's own output begins
# with a display of MARKER (which cell, its execution count); a cell that fails stops the rest, as papermill
# stops at a failing cell. Names are kept out of the user namespace (the cells see exactly what they would).
MARKER = "application/vnd.nianbao.cell+json"
GROUP = """def __nianbao_cells(sources):
    from IPython import get_ipython
    from IPython.display import publish_display_data
    shell = get_ipython()
    for index, source in sources:
        publish_display_data({{{marker!r}: {{"cell": index, "execution_count": shell.execution_count}}}})
        if not shell.run_cell(source, store_history=True).success:
            return
__nianbao_cells({sources!r})
del __nianbao_cells
"""
ALIVE_EVERY = 1.0  # seconds between checks that the kernel lives while a cell runs (as nbclient does)

# Run after each notebook: forget the user namespace, go back to the start folder, and freeze what
# survives so the next reset's garbage collection has nothing old to walk (~20 ms with pandas loaded).
RESET = """\
get_ipython().reset(new_session=True, aggressive=False)
import gc as __gc, os as __os
__os.chdir({cwd!r})
__gc.collect()
__gc.freeze()
__gc.enable()
del __gc, __os
"""


@dataclass
class WarmKernel:
    kernel_name: str
    cwd: str
    km: Any
    kc: Any
    language_info: dict | None  # None until the kernel has answered: it may still be starting
    served: int = 0
    reset: str | None = None  # the msg_id of the reset sent after the last notebook, its reply not yet read


_warm: WarmKernel | None = None
_thread: Executor | None = None  # where this process's warm kernel is used from (`use_thread`); None: the caller's
_queued = threading.local()  # `callback`: what the calling thread's next notebook calls once it waits for the kernel


def when_queued(callback: Callable[[], None]) -> None:
    """Have the calling thread's next notebook call `callback()` once it is queued for the kernel (`use_thread`):
    a batch worker gives the kernel its tasks in the order they came, each thread waiting for the one before."""
    _queued.callback = callback


def use_thread(thread: Executor | None) -> None:
    """Use this process's warm kernel from `thread` (an executor of one thread; None: the caller's) alone from now
    on, whichever thread executes a notebook: each notebook's turn on the kernel waits for the one before, and its
    client's sockets serve one event loop. A batch worker runs two tasks at a time so, the kernel executing one
    while the other is rendered and written (~0.1 s of a 1429-office overview page)."""
    global _thread
    _thread = thread


async def ready(km: Any, kc: Any, timeout: float) -> dict:
    """Wait for a kernel just started (manager `km`, connected client `kc`) to answer, and return its
    `language_info`, within `timeout` seconds. What jupyter_client's `wait_for_ready` checks, without what it
    adds: a kernel_info reply on the shell channel, and a message on IOPub (the kernel's welcome to a subscriber,
    or its status), which tells that IOPub is connected; jupyter_client then waits until IOPub has been quiet for
    0.2 s (a batch's one-change run waited so for its only kernel), and its caller asked for kernel_info once
    more. Messages left on IOPub are not ours to read: requests read only the replies to their own. Raises
    `RuntimeError` when the kernel dies or does not answer in time, as `wait_for_ready` does."""
    from queue import Empty
    from time import monotonic

    deadline = monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        while True:  # its reply, or a second without one: ask again (a request sent before the kernel listened)
            try:
                reply = await kc.shell_channel.get_msg(timeout=max(0.0, min(1.0, deadline - monotonic())))
            except Empty:
                break
            if reply["parent_header"].get("msg_id") == msg_id:
                try:
                    await kc.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    break  # IOPub not connected yet: outputs would be lost
                return reply["content"]["language_info"]
        if not await km.is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")


def _alive(warm: WarmKernel) -> bool:
    return bool(run_sync(warm.km.is_alive)())


def adopt(kernel_name: str, cwd: str, km: Any, kc: Any) -> None:
    """Make a kernel started by `kernel.start_batch_kernel(kernel_name, cwd)` (its manager and connected client)
    this process's warm kernel, replacing any: the first notebook for that kernel name and folder runs on it,
    once it is ready. A worker starts its kernel so before it imports papermill and nbconvert."""
    global _warm
    shutdown()
    atexit.register(shutdown)
    _warm = WarmKernel(kernel_name, os.path.abspath(cwd), km, kc, None)


def shutdown() -> None:
    """Stop this process's warm kernel, if any."""
    global _warm
    if _warm is not None:
        warm, _warm = _warm, None
        try:
            warm.kc.stop_channels()
            run_sync(warm.km.shutdown_kernel)(now=True)
        except Exception:
            pass


class WarmClient(PapermillNotebookClient):
    """papermill's client, on this process's warm kernel instead of a new one."""

    def execute(self, **kwargs: Any) -> Any:
        global _warm
        self.reset_execution_trackers()
        cwd = os.path.abspath(kwargs.get("cwd") or os.getcwd())
        warm = _warm
        if warm is None or warm.kernel_name != self.kernel_name or warm.cwd != cwd or warm.served >= MAX_REPORTS \
                or not _alive(warm):
            shutdown()
            warm = _warm = self._start(cwd)
        self.km, self.kc = warm.km, warm.kc
        try:
            if warm.language_info is None:  # just started: it may still be booting
                warm.language_info = run_sync(ready)(warm.km, warm.kc, self.startup_timeout)
            if warm.reset is not None:
                reply = self.wait_for_reply(warm.reset)
                warm.reset = None
                if reply is None or reply["content"]["status"] != "ok":
                    raise RuntimeError("the kernel failed to reset after the previous notebook")
            self.papermill_execute_cells()
            self.nb.metadata["language_info"] = warm.language_info
            warm.served += 1
            warm.reset = self.kc.execute(RESET.format(cwd=cwd), silent=True, store_history=False)
        except BaseException:
            shutdown()  # a kernel in an unknown state serves no other report
            raise
        if not _alive(warm):
            shutdown()
        return self.nb

    def papermill_execute_cells(self) -> None:
        """papermill's loop over the cells, with the code cells sent as one request (`GROUP`) where they
        allow it: no cell may raise and go on (`allow_errors`, tag `raises-exception`), none awaits at top
        level (a cell run inside a running cell cannot), none is skipped by tag."""
        cells = self.nb.cells
        code = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.source.strip()]
        tags = {t for i in code for t in cells[i].metadata.get("tags", ())}
        if len(code) < 2 or self.allow_errors or "raises-exception" in tags or self.skip_cells_with_tag in tags \
                or any("await" in cells[i].source for i in code):
            return super().papermill_execute_cells()
        run_sync(self._execute_group)(code)

    async def _execute_group(self, code: list[int]) -> None:
        from queue import Empty
        from time import monotonic

        from nbclient.exceptions import CellControlSignal, CellExecutionError, CellTimeoutError
        from nbclient.util import ensure_async

        cells, nb_man = self.nb.cells, self.nb_man
        # Cells that do not run (markdown, empty) are only marked done, unless papermill logs, saves or counts.
        quiet = not (nb_man.log_output or nb_man.output_path or getattr(nb_man, "pbar", None))
        started = 0  # cells before this one are started and completed
        current: int | None = None

        def advance(to: int) -> None:  # papermill's bookkeeping for every cell up to `to` (excluded)
            nonlocal started, current
            if current is not None:
                nb_man.cell_complete(cells[current], cell_index=current)
            for i in range(started, to):
                if i == current:
                    continue
                if quiet:  # what cell_start and cell_complete record, without parsing the time back (dateutil)
                    now = nb_man.now().isoformat()
                    cells[i].metadata.papermill.update(start_time=now, end_time=now, duration=0.0,
                                                       status=nb_man.COMPLETED, exception=False)
                else:
                    nb_man.cell_start(cells[i], i)
                    nb_man.cell_complete(cells[i], cell_index=i)
            started, current = to + 1, None

        sources = [(i, cells[i].source) for i in code]
        msg_id = await ensure_async(self.kc.execute(GROUP.format(marker=MARKER, sources=sources),
                                                    store_history=False, stop_on_error=True))
        timeout = self._get_timeout(None)
        deadline = None
        while True:
            wait = ALIVE_EVERY if deadline is None else max(0.0, min(ALIVE_EVERY, deadline - monotonic()))
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=wait))
            except Empty:
                await self._async_check_alive()  # raises DeadKernelError
                if deadline is not None and monotonic() >= deadline:
                    raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout,
                                                                       cells[current]) from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            content, kind = msg["content"], msg["msg_type"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "display_data" and MARKER in content.get("data", {}):
                mark = content["data"][MARKER]
                advance(mark["cell"])
                current = mark["cell"]
                nb_man.cell_start(cells[current], current)
                cells[current].outputs = []
                cells[current].execution_count = mark["execution_count"]
                self.clear_before_next_output = False
                deadline = None if timeout is None else monotonic() + timeout
                continue
            if current is not None and kind != "status":
                try:
                    self.process_message(msg, cells[current], current)
                except CellControlSignal:
                    pass
        reply = None
        while reply is None:  # the outer request's own reply: its failures are ours, not a cell's
            try:
                got = await ensure_async(self.kc.shell_channel.get_msg(timeout=ALIVE_EVERY))
            except Empty:
                await self._async_check_alive()
                continue
            if got["parent_header"].get("msg_id") == msg_id:
                reply = got
        if reply["content"]["status"] != "ok":
            raise CellExecutionError.from_cell_and_msg(cells[current if current is not None else code[0]],
                                                       reply["content"])
        failed = current is not None and any(o.get("output_type") == "error" for o in cells[current].outputs)
        if failed:
            error = next(o for o in cells[current].outputs if o.get("output_type") == "error")
            nb_man.cell_exception(cells[current], cell_index=current,
                                  exception=CellExecutionError.from_cell_and_msg(cells[current], error))
            nb_man.cell_complete(cells[current], cell_index=current)
            return
        advance(len(cells))

    def _start(self, cwd: str) -> WarmKernel:
        atexit.register(shutdown)
        km, kc = start_batch_kernel(self.kernel_name, cwd, self.extra_arguments)
        return WarmKernel(self.kernel_name, cwd, km, kc, None)


class WarmKernelEngine(Engine):
    """papermill engine `nianbao`: warm kernels, otherwise papermill's own execution and bookkeeping."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                 execution_timeout: int | None = None, **kwargs: Any) -> Any:
        cwd = kwargs.get("cwd")
        kwargs = remove_args(["input_path", "timeout", "startup_timeout", "cwd"], **kwargs)
        final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                             kernel_name=kernel_name, log_output=log_output, stdout_file=stdout_file,
                             stderr_file=stderr_file)
        client = WarmClient(nb_man, **final)
        if _thread is None:
            return client.execute(cwd=cwd)
        turn = _thread.submit(client.execute, cwd=cwd)
        callback, _queued.callback = getattr(_queued, "callback", None), None
        if callback is not None:
            callback()
        return turn.result()
