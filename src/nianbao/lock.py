"""One writer at a time on `outputs/`: `nianbao batch` and `nianbao run` hold a lock on it while they write.

Two batches (or a batch and a run) on one project would each save their own view of `outputs/manifest.json`,
and one would sweep the other's temporary files. The lock is `filelock`'s (an OS lock, `flock` on Unix: the
operating system releases it when its holder exits, even when killed, so it never goes stale); chosen over a
hand-made pid file for exactly that. The holder writes who it is into the lock file, so that the other
process can say whom it waits for, and empties it as it leaves: a record found there by the next holder is one a
killed process left (SIGKILL, a power cut), whose temporaries that holder sweeps (`Held.unfinished`); otherwise
no walk of a province's outputs/ (10⁴ folders) is needed to find them.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from .atomic import sweep
from .exceptions import NianbaoError
from .project import Project

LOCK = ".nianbao.lock"  # in outputs/


class OutputsBusy(NianbaoError):
    """Another nianbao process writes the project's outputs."""


def _lock_file_exists(project: Project, path: Path) -> bool:
    """Whether the lock file exists, which must be as a regular file: filelock refuses a symbolic link ("Too many
    levels of symbolic links") and a folder, and a named pipe would block whoever reads who holds it; none says
    what to do. Raises `NianbaoError` naming it."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else \
            "a named pipe" if stat.S_ISFIFO(mode) else "not a regular file"
        name = project.relative(path)
        raise NianbaoError(f"{name} is {kind}, not the regular file nianbao locks outputs/ with: "
                           f"remove {name} and run again")
    return True


def _make_outputs(project: Project) -> None:
    """outputs/, made if missing. Raises `NianbaoError` naming it when it is a file or a link to nowhere (an
    unmounted share) rather than a folder."""
    try:
        project.outputs.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        name = project.relative(project.outputs)
        what = "a symbolic link to a folder that does not exist" if project.outputs.is_symlink() else "not a folder"
        raise NianbaoError(f"{name} is {what}: outputs/ must be a folder (or a link to one) that nianbao can "
                           "write to") from None


def _holder(path: os.PathLike) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            who = json.load(f)
        since = time.strftime("%H:%M:%S UTC", time.gmtime(who["started"]))
        return f"`{who['command']}` (pid {who['pid']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another nianbao process"


@dataclass
class Held:
    """The lock, held. `unfinished`: whether a holder before may have left temporaries in outputs/ (it was killed:
    its record was still in the lock file, or the lock file was new); False once `sweep` has swept them all, else
    the next holder is told so too."""

    unfinished: bool

    def sweep(self, folder: Path) -> list[Path]:
        """`atomic.sweep(folder)`; with `folder` the whole outputs/, what was left unfinished is no more (until it
        is done, a kill leaves it so for the next holder)."""
        self.unfinished = True
        found = sweep(folder)
        self.unfinished = False
        return found


@contextmanager
def outputs_lock(project: Project, command: str, *, wait: bool = False,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[Held]:
    """Hold the lock on `project.outputs` (created if missing) for the block, which gets a `Held`.

    When another process holds it: with `wait`, call `on_wait(message)` once and wait for it; else raise
    `OutputsBusy` naming the holder (command, pid, since when). `OSError` when outputs/ cannot be written;
    `NianbaoError` when outputs/ is not a folder or the lock file not a regular file.
    """
    _make_outputs(project)
    path = project.outputs / LOCK
    held = Held(unfinished=not _lock_file_exists(project, path))
    me = json.dumps({"pid": os.getpid(), "command": command, "argv": sys.argv[1:], "started": time.time()})
    lock_fd: list[int] = []

    def record(fd: int) -> None:
        lock_fd.append(fd)
        try:
            held.unfinished = held.unfinished or bool(os.pread(fd, 1, 0))
        except OSError:
            held.unfinished = True
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, me.encode(), 0)
        except OSError:  # a full disk: the lock holds all the same, the other process says less about us
            pass

    lock = FileLock(path, on_acquired=record, preserve_lock_file=True, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _holder(path)
        if not wait:
            raise OutputsBusy(f"{project.relative(project.outputs)}/ is being written by {holder}; wait for it "
                              "to finish, or pass --wait") from None
        if on_wait:
            on_wait(f"waiting for {holder}, which is writing {project.relative(project.outputs)}/")
        lock.acquire(timeout=-1)
    try:
        yield held
    finally:
        if not held.unfinished and lock_fd:
            try:  # we leave no temporary behind, nor does any holder before: no record for the next to find
                os.ftruncate(lock_fd[0], 0)
            except OSError:
                pass
        lock.release()
