"""What a batch wrote: each output's size, mtime, ctime and content digest, kept in the manifest's entries.

A report whose inputs did not change is still built again when one of its outputs is no longer the file that
was written: deleted, truncated, edited or replaced (by a copy of another page, even one given the old mtime:
the change time (ctime) is recorded too, as `nianbao.digests` does for the inputs). A run that changed
nothing costs one `stat` per output. Only a file whose size is the recorded one but whose mtime or ctime is
not (a copied or restored project: `cp -a`, a CI cache, `touch`) is read, and kept when its bytes are the ones
written (the record then takes its new times).

A file edited again within the kernel's timestamp tick of the batch writing it, keeping its size, is not seen
(the batch holds outputs/ locked while it writes; unlike inputs, outputs are not edited as part of the work).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

# Hex digits of the SHA-256 kept: damage is what is detected, not a forgery.
DIGEST_CHARS = 32


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:DIGEST_CHARS]


def outputs_record(outputs: str, names: Sequence[str]) -> list[list] | None:
    """The record of the outputs `names` (relative to `outputs`) as they are now: for each,
    [size (bytes), mtime_ns, ctime_ns, sha256 (hex, first `DIGEST_CHARS`)]. None when one cannot be read."""
    found = []
    try:
        for name in names:
            path = f"{outputs}/{name}"
            st = os.stat(path)
            found.append([st.st_size, st.st_mtime_ns, st.st_ctime_ns, _sha(path)])
    except OSError:
        return None
    return found


def record_well_formed(value: object) -> bool:
    """Whether a record read from the manifest has the shape `outputs_record` gives it (a hand edit is dropped)."""
    return value is None or (type(value) is list and all(
        type(r) is list and len(r) == 4 and all(type(x) is int for x in r[:3]) and type(r[3]) is str
        for r in value))


def damaged_output(outputs: str, names: Sequence[str], written: list[list]) -> str | None:
    """The first of `names` that is not the file `written` records (missing, or other bytes), None when all are.
    A file whose bytes are the recorded ones under new times gets them in `written` (changed in place)."""
    if len(written) != len(names):
        return names[0] if names else None
    for name, rec in zip(names, written, strict=True):
        path = f"{outputs}/{name}"
        try:
            st = os.stat(path)
            if st.st_size != rec[0]:
                return name
            if st.st_mtime_ns == rec[1] and st.st_ctime_ns == rec[2]:
                continue
            if _sha(path) != rec[3]:
                return name
        except OSError:
            return name
        rec[1], rec[2] = st.st_mtime_ns, st.st_ctime_ns
    return None
