"""The kernel manager nianbao starts report kernels with, and the choice of kernel.

IPC sockets instead of TCP: no ports opened on the machine, and no "running over TCP without
encryption" warning from ipykernel on every report. The sockets live in Jupyter's runtime folder,
never in the project. Where that cannot work, the kernel still starts, as stock papermill's would:
- the runtime folder cannot be created or written (HOME read-only, a container's arbitrary user): the
  sockets go to a private temporary folder;
- the socket path would pass the Unix limit (sockaddr_un: 107 bytes on Linux, 103 on macOS; a long
  JUPYTER_RUNTIME_DIR or HOME, zeromq/libzmq#1176): a shorter folder, else TCP on 127.0.0.1.

Which kernel runs a notebook is `nianbao.kernelspecs`'s to say.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, BinaryIO

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir

from .kernelspecs import CURRENT_PYTHON

# The longest path a Unix socket may have (sun_path less its final NUL).
SOCKET_PATH_MAX = 103 if sys.platform == "darwin" else 107
PORT_SUFFIX = 3  # jupyter_client names each socket `<ip>-<port>`, ports 1 to 5 for IPC
# Set in the environment of the warm kernels of a batch (`engines`); see `batch_kernel`.
BATCH_KERNEL = "NIANBAO_BATCH_KERNEL"
# The modules the notebooks use, imported by a batch kernel as it starts, before it answers its worker: it boots
# while the worker imports papermill and nbconvert (a kernel without nianbao says so when a notebook imports it).
PRELOAD = ("nianbao.render", "nianbao.report", "nianbao.notebook", "nianbao.validate", "nianbao.overview",
           "nianbao.render.overview")
# Arguments every batch kernel starts with (IPython's traitlets configuration; ipykernel passes them on): no
# history (IPython wrote every cell to SQLite under HOME, about a quarter of a kernel's time), and `PRELOAD`
# run as IPython's `exec_lines`, which bind no name in the user namespace and count no execution. What the kernel
# has made by then lives as long as it does: frozen (`gc.freeze`), out of the sight of the collections that follow
# (the ~6·10⁴ objects of IPython and nianbao, walked again by the reset after the first notebook, and by every
# automatic collection of the oldest generation).
BATCH_ARGUMENTS = (
    "--HistoryManager.enabled=False",
    "--IPKernelApp.exec_lines=try:\n    " + "; ".join(f"__import__({m!r})" for m in PRELOAD)
    + "\nexcept Exception:\n    pass\n__import__('gc').freeze()",
)


@cache
def _private_folder() -> str:
    """A folder only this process uses, removed when it exits."""
    folder = tempfile.mkdtemp(prefix="nianbao-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _writable(folder: str) -> bool:
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _candidate_folders() -> Iterator[str]:
    yield jupyter_runtime_dir()
    try:
        yield _private_folder()
    except OSError:  # no writable temporary folder either
        pass


def socket_prefix(folders: Iterable[str] | None = None) -> str | None:
    """Where the kernel's IPC sockets go (`<prefix>-<port>`): in the first of `folders` (default: Jupyter's
    runtime folder, then a private temporary folder) that is writable and short enough for a Unix socket
    path; None when there is none (use TCP)."""
    for folder in _candidate_folders() if folders is None else folders:
        if not _writable(folder):
            continue
        prefix = os.path.join(folder, f"nianbao-{uuid.uuid4().hex[:12]}")
        if len(os.fsencode(prefix)) + PORT_SUFFIX <= SOCKET_PATH_MAX:
            return prefix
    return None


@cache
def _kernel_log() -> BinaryIO | None:
    """The file the kernels of this process write their stderr to, open for the life of the process."""
    try:
        return open(os.path.join(_private_folder(), "kernels.log"), "ab")
    except OSError:
        return None


_log_start = 0  # where the log of the kernel started last begins


def kernel_log_tail() -> str:
    """The last line the kernel started last by this process wrote to its stderr ("" when none): why a
    kernel that died or never started did so, when it said."""
    log = _kernel_log()
    if log is None:
        return ""
    try:
        with open(log.name, "rb") as f:
            f.seek(max(_log_start, os.fstat(f.fileno()).st_size - 4096))
            lines = [line for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def batch_kernel() -> bool:
    """Whether this process is a warm kernel of a batch: its inputs do not change while it runs (the batch
    digested them), and its executed notebooks go through a worker that finishes their outputs."""
    return os.environ.get(BATCH_KERNEL) == "1"


# ipykernel's own launcher (`python -m ipykernel_launcher`, what `ipykernel install` writes), without the debugger:
# importing debugpy is about a sixth of a kernel's start (65 ms of 0.40 s here, on the way to a one-change run's
# first page), and nothing debugs the notebooks nianbao executes. debugpy blocked is what ipykernel takes for
# debugpy not installed: a kernel that offers no debugger. The working folder leaves `sys.path` while ipykernel
# loads, as its launcher does; the kernel puts it back.
LAUNCHER = ("import sys\n"
            "if sys.path and sys.path[0] == '':\n    del sys.path[0]\n"
            "sys.modules['debugpy'] = None\n"
            "from ipykernel.kernelapp import launch_new_instance\n"
            "launch_new_instance()\n")


def without_debugger(argv: list[str]) -> list[str]:
    """A kernelspec's `argv` that starts ipykernel's launcher (`PYTHON [OPTIONS] -m ipykernel_launcher ARGS`, the
    interpreter's options such as `-Xfrozen_modules=off`, which `ipykernel install` writes, kept), as the same
    kernel without its debugger (`PYTHON [OPTIONS] -c LAUNCHER ARGS`); any other `argv` as it is."""
    for i in range(1, len(argv) - 1):
        if argv[i:i + 2] == ["-m", "ipykernel_launcher"]:
            return [*argv[:i], "-c", LAUNCHER, *argv[i + 2:]]
    return list(argv)


@cache
def current_python_spec() -> KernelSpec:
    """ipykernel on this interpreter (`sys.executable`), as `python -m ipykernel install` would write it."""
    return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                      display_name=f"Python {sys.version_info[0]} ({sys.executable})", language="python",
                      metadata={"debugger": True})


class IPCKernelManager(AsyncKernelManager):
    """jupyter_client's manager on IPC sockets (or TCP where they cannot be used), `CURRENT_PYTHON`, and ipykernel
    started without its debugger (`without_debugger`)."""

    def __init__(self, **kwargs: Any) -> None:
        if "transport" not in kwargs and "ip" not in kwargs:
            prefix = socket_prefix()
            kwargs.update(transport="ipc", ip=prefix) if prefix else kwargs.update(transport="tcp")
        super().__init__(**kwargs)

    async def start_kernel(self, **kw: Any) -> None:
        # The kernel process's own stderr holds only ipykernel's logging (a cell's output goes to the
        # notebook), such as tracebacks of its sockets closing when it is stopped mid-cell: kept in a log
        # file, where `kernel_log_tail` finds the last words of a kernel that died.
        # Every kernel started so is known from before its start to `kill_kernels`: a worker told to stop, and
        # any process as it exits, kill what still runs (nbclient starts `nianbao run`'s with this class too).
        global _log_start, _starting
        with _started_changes:
            if _stopping:
                raise RuntimeError("this process is stopping: no kernel starts")
            _starting += 1
            _started.add(self)
        try:
            log = _kernel_log()
            if log is not None:
                kw.setdefault("stderr", log)
                _log_start = log.tell()
            return await super().start_kernel(**kw)
        except BaseException:  # Ctrl-C as it starts (in the main thread, as `nianbao run`'s): no kernel left
            _kill(self)
            raise
        finally:
            with _started_changes:
                _starting -= 1
                _started_changes.notify_all()

    @property
    def kernel_spec(self) -> KernelSpec | None:
        spec = current_python_spec() if self.kernel_name == CURRENT_PYTHON else super().kernel_spec
        if spec is None or (argv := without_debugger(spec.argv)) == spec.argv:
            return spec
        return KernelSpec(**{**spec.to_dict(), "argv": argv, "resource_dir": spec.resource_dir})


# The kernels this process started, and how many starts are under way: a worker told to stop kills them all
# (`kill_kernels`), even one whose start had not returned yet (its process made, its manager not yet known to
# the caller), which the process's exit would leave running.
_started: weakref.WeakSet[Any] = weakref.WeakSet()
_starting = 0
_stopping = False  # set by `kill_kernels`: no kernel starts after it (the process is about to exit)
_started_changes = threading.Condition(threading.RLock())


def _kill(km: Any) -> None:
    """Kill the kernel process of manager `km` if it runs, and remove its connection and socket files (also those of
    one that died: removing them again after a shutdown does nothing)."""
    process = getattr(km.provisioner, "process", None) if km.provisioner is not None else None
    try:
        if process is not None and process.poll() is None:
            process.kill()
    except OSError:  # gone meanwhile
        pass
    try:
        km.cleanup_connection_file()
        km.cleanup_ipc_files()
    except OSError:
        pass


def kill_kernels(wait: float = 5.0) -> None:
    """Kill (SIGKILL) every kernel this process started (`IPCKernelManager`: a batch's, and the one nbclient starts
    for `nianbao run`) that still runs, after waiting up to `wait` seconds for the starts under way to return;
    remove their connection and socket files and this process's private folder (`_private_folder`, the kernels'
    log). From then on no kernel starts here (`RuntimeError`): an engine that finds its kernel dead would start
    another before the process exits. For a process about to exit (a worker's SIGTERM handler, the end of any
    process that imported this module): safe in a signal handler (no import, no event loop)."""
    global _stopping
    with _started_changes:
        _stopping = True
        _started_changes.wait_for(lambda: _starting == 0, timeout=wait)
        managers = list(_started)
    for km in managers:
        _kill(km)
    if _private_folder.cache_info().currsize:  # the kernels' log, which a worker's `os._exit` would leave behind
        shutil.rmtree(_private_folder(), ignore_errors=True)


# What a command interrupted while it starts its kernel, or any exit that skips the engine's shutdown, would leave
# running: a kernel whose parent poller never sees its parent go under a child subreaper (a container's init).
atexit.register(kill_kernels, 0.0)


def start_batch_kernel(kernel_name: str, cwd: str, extra_arguments: Iterable[str] = ()) -> tuple[Any, Any]:
    """Start a batch kernel (`IPCKernelManager`, `BATCH_ARGUMENTS` and `extra_arguments`, `BATCH_KERNEL` in its
    environment) in the folder `cwd` and connect a client to its channels, without waiting for it to be ready:
    it boots while the caller goes on. Returns the manager and the client; the caller waits
    (`engines.ready`) before its first request. Raises what jupyter_client raises when the kernel cannot be
    launched (`NoSuchKernel`, `OSError`); `RuntimeError` once this process is stopping (`kill_kernels`)."""
    from jupyter_core.utils import run_sync

    km = IPCKernelManager(kernel_name=kernel_name)
    run_sync(km.start_kernel)(cwd=cwd, extra_arguments=[*BATCH_ARGUMENTS, *extra_arguments],
                              env={**os.environ, BATCH_KERNEL: "1"})
    try:
        kc = km.client()
        # No heartbeat: whether the kernel lives is asked of its manager (its process), and stopping the channels of
        # a kernel that died waited a heartbeat's timeout (1 s) for the heartbeat's thread.
        kc.start_channels(hb=False)
    except BaseException:  # Ctrl-C between the start and the client: no kernel left
        _kill(km)
        raise
    return km, kc
