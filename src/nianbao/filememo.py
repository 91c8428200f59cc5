"""What a process read from files, kept while the files are unchanged, and never more than a few entries.

A warm kernel or a batch worker reads the same files again and again (the registry, an office's figures,
the expectation suites): reading them once per report cost a quarter of a report's time. Keeping every file
it ever read makes its memory grow with the project instead (a province: thousands of offices), so a
`FileMemo` holds at most `size` entries and forgets the least recently used first.

An entry is keyed by the path, size, mtime and ctime (ns) of each file it was read from: any change and it is
read again (ctime: a file replaced by another of the same size and mtime, as `cp -p` or `touch -r` leave it).
With `settle=True` a file whose mtime is younger than `nianbao.digests.SETTLE_NS` is read but not kept: a
second edit of the same size within the file system's timestamp tick keeps both size and mtime (the batch's
digests follow the same rule).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

from .digests import SETTLE_NS

T = TypeVar("T")


class FileMemo(Generic[T]):
    """At most `size` values, each kept with the stats of the files it was read from (least recently used
    forgotten first). Callers must not modify what they get: it is shared with the next caller."""

    def __init__(self, size: int, *, settle: bool = False) -> None:
        if size < 1:
            raise ValueError("a FileMemo keeps at least one entry")
        self.size, self.settle = size, settle
        self._kept: OrderedDict[tuple, T] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        self._kept.clear()

    def get(self, files: Path | Iterable[Path], read: Callable[[], T], *, name: str = "") -> T:
        """`read()`, or what it returned before for the same files while each has kept its size and mtime.
        `files`: one path or several (a value read from many files); `name` tells apart values read in
        different ways from the same files. A file that cannot be stat'ed is read (the reader says why) and
        nothing is kept. Raises what `read` raises (and keeps nothing)."""
        paths = (files,) if isinstance(files, (str, os.PathLike)) else tuple(files)
        try:
            stats = tuple((str(p), (st := os.stat(p)).st_size, st.st_mtime_ns, st.st_ctime_ns) for p in paths)
        except OSError:
            return read()
        key = (name, stats)
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        value = read()
        if self.settle and any(mtime + SETTLE_NS >= time.time_ns() for _, _, mtime, _ in stats):
            return value
        # An older entry for the same files is stale now: drop it before the size bound drops a good one.
        for old in [k for k in self._kept if k[0] == name and tuple(s[0] for s in k[1]) == tuple(s[0] for s in stats)]:
            del self._kept[old]
        self._kept[key] = value
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return value
