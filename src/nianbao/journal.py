"""A cache of records kept between batches as a JSON file and, when that file is large, a journal of the changes.

`outputs/.nianbao-digests.json` holds a record per input file of a province (4 MB at 10^4 office-years) and
`outputs/.nianbao-written.json` one per output (1.4 MB); a run that changes one figure changes a handful of
them. Encoding and writing the whole file for that cost more than the change itself, so once the file is larger
than `JOURNAL_FROM`, a save appends the changed records (a deleted one as null) as one line to a journal beside
it (`<name>.log`), and writes the whole file again (compacts) only when the journal would pass a quarter of it.

Each state is whole, whatever moment a process is killed at:
- a save appends one line with one write and syncs it; a line cut short (no newline, or not JSON) is not read,
  and a journal that holds one is compacted away by the next save: nothing is ever appended after it;
- the file names its journal by a random token, which the journal's first line repeats. Compacting writes the
  file with a new token (atomically: `write_files`), then removes the journal: a journal left by a kill between
  the two names the old token and is not read. A journal is started (its first line and first change) atomically.
The records are a cache keyed by each file's stat: a record lost (a damaged file or journal) only means reading
that file again.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from .atomic import write_files

# Bytes of the file from which changes go to a journal: below it, writing the whole file costs next to nothing.
JOURNAL_FROM = 256 * 1024
# The journal is compacted into the file once it would pass this share of the file's size.
JOURNAL_SHARE = 4


class RecordFile:
    """`path`: {"version": `version`, "files": {name: record}, "journal": token} (JSON), with its journal
    `path.with_suffix(".log")`. `load()` gives the records, `save(records, changed)` writes those of `changed`.
    `sort_keys`: the file's records in name order (a diffable cache)."""

    def __init__(self, path: Path, version: int, *, sort_keys: bool = False) -> None:
        self.path = path
        self.log = path.with_suffix(".log")
        self.version = version
        self.sort_keys = sort_keys
        self.token: str | None = None  # the journal the file names (None: none; the next save writes the file)
        self.file_bytes = 0  # the file's size as read or last written
        self.log_bytes = 0  # the journal's size, 0 when there is none
        self.log_whole = False  # whether the journal may be appended to: it exists and every line of it was read

    def load(self) -> dict[str, Any]:
        """The records as last saved: the file's, with its journal's changes applied in order. {} when the file is
        missing, unreadable, not JSON or of another version. The records are as read: the caller checks each."""
        try:
            data = self.path.read_bytes()
            raw = json.loads(data.decode("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict) or raw.get("version") != self.version or not isinstance(raw.get("files"), dict):
            return {}
        files: dict[str, Any] = raw["files"]
        self.file_bytes = len(data)
        token = raw.get("journal")
        if type(token) is str and token:
            self.token = token
            self._replay(files)
        return files

    def _replay(self, files: dict[str, Any]) -> None:
        try:
            data = self.log.read_bytes()
        except FileNotFoundError:
            return  # none started since the file was written
        except OSError:
            self.token = None  # one that cannot be read is never appended to: the next save compacts
            return
        *lines, tail = data.split(b"\n")  # `tail`: what follows the last newline, a line cut short if any
        whole = tail == b""
        try:
            head = json.loads(lines[0]) if lines else None
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("journal") != self.token:
            # Another file's journal (a kill between compacting and removing it): not read, replaced next save.
            self.log_bytes, self.log_whole = len(data), False
            return
        for line in lines[1:]:
            try:
                change = json.loads(line)
                changed = change["files"]
                if not isinstance(changed, dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                whole = False  # a damaged line: those after it are not read either
                break
            for name, record in changed.items():
                if record is None:
                    files.pop(name, None)
                else:
                    files[name] = record
        self.log_bytes, self.log_whole = len(data), whole

    def save(self, records: Mapping[str, Any], changed: Collection[str]) -> None:
        """Write the records of `changed` (names; those not in `records` as deleted): appended to the journal, or
        the whole file when it is small, the journal would grow past its share, or is not whole. Raises `OSError`
        (the file or journal as it was: the records are then the ones saved before)."""
        if self.token is not None and self.file_bytes >= JOURNAL_FROM:
            line = (json.dumps({"files": {name: records.get(name) for name in changed}}, ensure_ascii=False,
                               separators=(",", ":")) + "\n").encode("utf-8")
            fits = self.log_bytes + len(line) <= self.file_bytes // JOURNAL_SHARE
            if fits and (self.log_whole or not self.log_bytes):
                try:
                    if self.log_bytes:
                        self._append(line)
                    else:
                        self._start_journal(line)
                    return
                except OSError:  # removed by another process's compaction, a full disk...: the whole file then
                    pass
        self._compact(records)

    def _start_journal(self, line: bytes) -> None:
        head = (json.dumps({"journal": self.token}) + "\n").encode("utf-8")
        write_files({self.log: head + line})
        self.log_bytes, self.log_whole = len(head) + len(line), True

    def _append(self, line: bytes) -> None:
        self.log_whole = False  # until the line is known to be whole: a failed write is never followed by another
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND)  # not created: one removed since means compacting
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        self.log_bytes += len(line)
        self.log_whole = True

    def _compact(self, records: Mapping[str, Any]) -> None:
        token = secrets.token_hex(8)
        text = json.dumps({"version": self.version, "files": records, "journal": token}, ensure_ascii=False,
                          separators=(",", ":"), sort_keys=self.sort_keys)
        write_files({self.path: text})
        self.token, self.file_bytes = token, len(text.encode("utf-8"))
        self.log_bytes, self.log_whole = 0, False
        try:
            self.log.unlink(missing_ok=True)  # it names the old token: never read again, whether removed or not
        except OSError:
            self.log_bytes = 1  # still there: replaced whole when the next save compacts
