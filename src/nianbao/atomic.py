"""Atomic file writes: a reader sees the old file or the new one, never a part of either."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path


def _temp_for(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from exc
    os.close(fd)
    return Path(name)


def _naming(exc: OSError, path: Path | None) -> OSError:
    """`exc` naming `path`, the file the user knows, rather than a temporary beside it (or no file at all: a full
    disk says so without naming one)."""
    if path is None or exc.filename == str(path):
        return exc
    return OSError(exc.errno, exc.strerror, str(path))


TEMP_GLOB = ".*.tmp*"  # what `_temp_for` names


def sweep(folder: Path) -> list[Path]:
    """Remove the temporaries a killed process left under `folder`; they are never finished outputs."""
    found = sorted(_temporaries(folder)) if folder.is_dir() else []
    for path in found:
        try:
            path.unlink(missing_ok=True)
        except OSError:  # a read-only folder: nothing can have been left there since it became so
            pass
    return found


def _temporaries(folder: Path) -> list[Path]:
    """The files under `folder` that `_temp_for` names (`TEMP_GLOB`), found with os.scandir: a province's
    outputs/ holds 10^5 files, and a walk costs a fraction of Path.rglob's."""
    found, stack = [], [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.name.startswith(".") and fnmatchcase(entry.name, TEMP_GLOB):
                        found.append(Path(entry.path))
        except OSError:  # a folder that went away or cannot be read: nothing of ours to remove there
            continue
    return found


def temp_path(path: Path) -> Path:
    """A fresh temporary file beside `path` (same file system, so a rename is atomic)."""
    return _temp_for(path)


def write_files(contents: Mapping[Path, str | bytes]) -> None:
    """Write every file to a temporary sibling first, then rename them all into place.

    If anything fails before the renames, no target is touched and the temporaries are removed.
    """
    temps: dict[Path, Path] = {}
    path = None
    try:
        for path, data in contents.items():
            temp = temps[path] = _temp_for(path)
            with open(temp, "wb") as handle:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
        for path, temp in temps.items():
            os.replace(temp, path)
    except OSError as exc:
        raise _naming(exc, path) from exc
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)
