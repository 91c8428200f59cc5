"""What a batch wrote: each output's size and content digest, and the stat it had when last found intact.

A report or overview whose inputs did not change is still built again when one of its outputs is no longer the
file that was written: deleted, truncated, edited or replaced. The manifest's entry records each output's size
and SHA-256 as written (`content_record`: the same bytes give the same record, so the manifest stays a
function of the outputs); a cache beside it (`OutputStats`, hidden: how a run went, not what it made) keeps the
size, mtime and ctime each output had when it was last found to hold those bytes. A run that changed nothing
costs one `stat` per output. An output whose stat is not the cached one (a copied or restored project: `cp -a`,
a CI cache, `touch`; a deleted or damaged cache) is read once, and kept when its bytes are the ones written; a
replacement given the old size and mtime still has a new ctime, which no program can set (as `nianbao.digests`
does for the inputs).

A file edited again within the kernel's timestamp tick of the batch writing it, keeping its size, is not seen
(the batch holds outputs/ locked while it writes; unlike inputs, outputs are not edited as part of the work).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .digests import file_sha
from .journal import RecordFile

# Hex digits of the SHA-256 kept: damage is what is detected, not a forgery.
DIGEST_CHARS = 16
VERSION = 1


def content_record(outputs: Path | str, names: Sequence[str]) -> list[list] | None:
    """Each output of `names` (relative to `outputs`) as it is now: [size (bytes), SHA-256 (hex, the first
    `DIGEST_CHARS`)]; None when one cannot be read."""
    try:
        return [[os.stat(f"{outputs}/{name}").st_size, file_sha(f"{outputs}/{name}")[:DIGEST_CHARS]] for name in names]
    except OSError:
        return None


def record_well_formed(value: object) -> bool:
    """Whether a record read from the manifest has the shape `content_record` gives it (a hand edit is dropped)."""
    return value is None or (type(value) is list and all(
        type(r) is list and len(r) == 2 and type(r[0]) is int and type(r[1]) is str for r in value))


class OutputStats:
    """The size, mtime and ctime (ns) of each output when it was last found to be the file written, by name
    relative to outputs/, kept in `path` (JSON). A missing or damaged file only means reading the outputs once.
    `save()` writes it when something changed."""

    def __init__(self, path: Path, outputs: Path) -> None:
        self.path = path
        self.outputs = str(outputs)
        self.file = RecordFile(path, VERSION, sort_keys=True)
        self.stats: dict[str, list[int]] = {k: v for k, v in self.file.load().items()
                                            if type(v) is list and len(v) == 3 and all(type(x) is int for x in v)}
        self.changed = False
        self.dirty: set[str] = set()  # the names whose stat changed or went since loaded or saved

    def noted(self, names: Iterable[str]) -> None:
        """Keep the stat of outputs just written (or just found intact)."""
        for name in names:
            try:
                st = os.stat(f"{self.outputs}/{name}")
            except OSError:
                continue
            stat = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
            if self.stats.get(name) != stat:
                self.stats[name] = stat
                self.changed = True
                self.dirty.add(name)

    def damaged(self, names: Sequence[str], written: list[list]) -> str | None:
        """The first of `names` that is not the file `written` (`content_record`) records: missing, or other bytes;
        None when all are. An output whose stat is not the kept one is read, and its stat kept when intact."""
        if len(written) != len(names):
            return names[0] if names else None
        for name, (size, digest) in zip(names, written, strict=True):
            path = f"{self.outputs}/{name}"
            try:
                st = os.stat(path)
                if st.st_size != size:
                    return name
                stat = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
                if self.stats.get(name) == stat:
                    continue
                if len(digest) < DIGEST_CHARS or file_sha(path)[:len(digest)] != digest:
                    return name
            except OSError:
                return name
            self.stats[name] = stat
            self.changed = True
            self.dirty.add(name)
        return None

    def keep_only(self, names: set[str]) -> None:
        """Forget the outputs not in `names` (reports and overviews no longer recorded)."""
        for name in [n for n in self.stats if n not in names]:
            del self.stats[name]
            self.changed = True
            self.dirty.add(name)

    def save(self) -> None:
        """Write the cache when it changed (the changed stats only, where it is large: `nianbao.journal`); where it
        cannot be written, the outputs are read again next time."""
        if not self.changed:
            return
        try:
            self.file.save(self.stats, self.dirty)
        except OSError:
            return
        self.changed = False
        self.dirty.clear()
