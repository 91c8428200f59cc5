"""What each input file digested to, kept between batches: `outputs/.nianbao-digests.json`.

A batch needs the digest of every selected report's inputs to know what changed. Reading and parsing every
figures file, prose and params file of a province for that costs as much as the files weigh; a file whose
size and modification time (ns) are those recorded here is not read again, so a run that changed nothing
costs a `stat` per input file and the reading of this file.

A file modified within the timestamp granularity of the moment it was digested could change again without
its size or mtime changing (a second edit in the same tick; coarse file systems keep 1 s or 2 s). A record is
therefore trusted only when the file's mtime was at least `SETTLE_NS` older than the start of the run that
digested it; a fresher record is used by that run and digested again by the next one (git calls these
entries "racily clean"). The change time (ctime) is recorded too, as git does: a file replaced by another of
the same size and mtime (`cp -p`, `touch -r`, tar or unzip restoring an old copy) gets a new ctime, which no
program can set. The file is a cache: deleting it, an unreadable one or a malformed record only means
digesting again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .journal import RecordFile

STATE = ".nianbao-digests.json"
VERSION = 1
# How much older than the digesting run a file's mtime must be for its record to be trusted: FAT keeps mtimes
# to 2 s, and the kernel's file timestamps lag the clock by up to a tick.
SETTLE_NS = 2_000_000_000
MISSING = "(missing)"
UNREADABLE = "(unreadable)"  # a folder, a loop of links, no permission: the report that reads it says which


def file_sha(path: Path | str) -> str:
    """The SHA-256 of a file's bytes, hex. Raises `OSError`."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _well_formed(record: Any) -> bool:
    """A record as `DigestState` writes it (a hand-edited or damaged one is dropped, so its file is digested).
    Plain type checks: a province's file holds 10^5 records."""
    if type(record) is not list or not 5 <= len(record) <= 6:
        return False
    kind, size, mtime, settled, value = record[:5]
    if (type(kind) is not str or type(size) is not int or type(mtime) is not int or type(settled) is not bool
            or (len(record) == 6 and type(record[5]) is not int)):
        return False
    # a digest, a digest per year (a figures file), or None (a file that does not read)
    return value is None or type(value) is str or (
        type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items()))


class DigestState:
    """Per-file values (a content digest, or what a parser made of the file) keyed by the file's size and mtime.

    `value(path, kind, compute)` returns the recorded value when the file's stat is the recorded one and the
    record is settled, else `compute(path)` (recorded); a missing file is `MISSING`. Paths are recorded
    relative to `root`; one that cannot be read (a folder in its place) is `UNREADABLE`, not recorded. `save()`
    writes the file only when something was recorded. `on_change()` is called the first time a file's value is not
    the recorded one.
    """

    def __init__(self, root: Path, outputs: Path, *, load: bool = True,
                 on_change: Callable[[], None] | None = None) -> None:
        self.root = root
        # Called once, the first time a file digests to other than its record says (or has none): a batch starts
        # its workers then, while it digests the rest.
        self.on_change = on_change
        self.path = outputs / STATE
        self.file = RecordFile(self.path, VERSION)
        self._prefix = str(root) + os.sep
        self.started_ns = time.time_ns()
        # "data/x.csv" → [kind, size, mtime_ns, settled, value, ctime_ns] (records of older versions lack ctime_ns)
        self.records: dict[str, list] = {}
        self.touched: set[str] = set()
        self.computed = 0  # files read this run (for the benchmark and the tests)
        # The files read this run: a record of this run is used again in it, settled or not (a file looked at
        # twice, ahead of the rest and then with it, is read once).
        self.read_now: set[str] = set()
        self.changed = False
        self.dirty: set[str] = set()  # the records changed or dropped since loaded or saved (`RecordFile.save`)
        if load:  # none yet, or unreadable: everything is digested again; a malformed record: that file
            self.records = {rel: r for rel, r in self.file.load().items() if _well_formed(r)}

    def value(self, path: Path | str, kind: str, compute: Callable[[Any], Any]) -> Any:
        text = str(path)
        rel = text[len(self._prefix):] if text.startswith(self._prefix) else os.path.relpath(text, self.root)
        self.touched.add(rel)
        try:
            st = os.stat(path)
        except OSError:
            self._drop(rel)
            return MISSING
        record = self.records.get(rel)
        if (record and record[0] == kind and record[1] == st.st_size and record[2] == st.st_mtime_ns
                and (record[3] or rel in self.read_now)):
            if len(record) > 5 and record[5] == st.st_ctime_ns:
                return record[4]
            if len(record) == 5:  # an older version's record: trusted this once, its ctime kept from now on
                record.append(st.st_ctime_ns)
                self.changed = True
                self.dirty.add(rel)
                return record[4]
        try:
            value = compute(path)
        except FileNotFoundError:  # deleted between stat and read
            self._drop(rel)
            return MISSING
        except OSError:  # not recorded: looked at again by the next run
            self._drop(rel)
            return UNREADABLE
        self.computed += 1
        self.read_now.add(rel)
        if self.on_change is not None and (record is None or record[4] != value):
            on_change, self.on_change = self.on_change, None
            on_change()
        settled = st.st_mtime_ns + SETTLE_NS < self.started_ns
        new = [kind, st.st_size, st.st_mtime_ns, settled, value, st.st_ctime_ns]
        if new != record:
            self.records[rel] = new
            self.changed = True
            self.dirty.add(rel)
        return value

    def recorded(self, kind: str) -> list[str]:
        """The paths (relative to `root`) of the files recorded with values of `kind`, in the order recorded."""
        return [rel for rel, record in self.records.items() if record[0] == kind]

    def _drop(self, rel: str) -> None:
        if self.records.pop(rel, None) is not None:
            self.changed = True
            self.dirty.add(rel)

    def sha(self, path: Path | str) -> str:
        """The digest of a file's bytes, or `MISSING`."""
        return self.value(path, "sha", file_sha)

    def forget_untouched(self, under: tuple[str, ...]) -> None:
        """Drop the records of files under the folders `under` (relative) that this run did not look at: files
        deleted or renamed since. Call only after a run that looked at every input there."""
        for rel in [r for r in self.records if r.startswith(under) and r not in self.touched]:
            del self.records[rel]
            self.changed = True
            self.dirty.add(rel)

    def save(self) -> None:
        """Write the records when something changed: the changed ones only, where the file is large
        (`nianbao.journal`). Raises `OSError`."""
        if not self.changed:
            return
        self.file.save(self.records, self.dirty)
        self.changed = False
        self.dirty.clear()
