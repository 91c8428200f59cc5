"""A papermill engine with warm kernels: `papermill --engine nianbao ...` or `engine_name="nianbao"`.

papermill starts a fresh kernel and client for every notebook (~1 s here). This engine keeps one started
kernel and one connected client per process and resets the user namespace between notebooks, so a report
never sees what ran before it. A kernel that died, or that served `MAX_REPORTS` notebooks (a reset does not
undo changes to imported modules), is replaced by a fresh one.

Import papermill before this module when importing it directly: papermill imports the engines named by its
entry point, this one among them, as it initialises, and would otherwise find this module half-made.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine
from papermill.utils import merge_kwargs, remove_args

from .kernel import IPCKernelManager

MAX_REPORTS = 1000  # a kernel start costs ~1 s, which recycling after 200 reports added as 5 ms to each

# Run after each notebook: forget the user namespace, go back to the start folder, and freeze what
# survives so the next reset's garbage collection has nothing old to walk (~20 ms with pandas loaded).
RESET = """\
get_ipython().reset(new_session=True, aggressive=False)
import gc as __gc, os as __os
__os.chdir({cwd!r})
__gc.collect()
__gc.freeze()
del __gc, __os
"""


@dataclass
class WarmKernel:
    kernel_name: str
    cwd: str
    km: Any
    kc: Any
    language_info: dict
    served: int = 0


_warm: WarmKernel | None = None


def _alive(warm: WarmKernel) -> bool:
    from jupyter_core.utils import run_sync

    return bool(run_sync(warm.km.is_alive)())


def shutdown() -> None:
    """Stop this process's warm kernel, if any."""
    global _warm
    if _warm is not None:
        from jupyter_core.utils import run_sync

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
            self.papermill_execute_cells()
            self.nb.metadata["language_info"] = warm.language_info
            warm.served += 1
            self.wait_for_reply(self.kc.execute(RESET.format(cwd=cwd), silent=True, store_history=False))
        except BaseException:
            shutdown()  # a kernel in an unknown state serves no other report
            raise
        if not _alive(warm):
            shutdown()
        return self.nb

    def _start(self, cwd: str) -> WarmKernel:
        from jupyter_core.utils import run_sync

        atexit.register(shutdown)
        km = IPCKernelManager(kernel_name=self.kernel_name)
        run_sync(km.start_kernel)(cwd=cwd, extra_arguments=self.extra_arguments)
        kc = km.client()
        kc.start_channels()
        run_sync(kc.wait_for_ready)(timeout=self.startup_timeout)
        self.km, self.kc = km, kc
        info = self.wait_for_reply(kc.kernel_info())
        return WarmKernel(self.kernel_name, cwd, km, kc, info["content"]["language_info"])


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
        return WarmClient(nb_man, **final).execute(cwd=cwd)
