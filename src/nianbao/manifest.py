"""What produced each output: the digest of a report's inputs, and `outputs/manifest.json`.

A report's inputs are its figures rows of the year and of the previous year (the cross-year rules read
them), its prose, its params file, its office's row of the registry, and what every report shares: the
notebook, the page template, the expectation suites and nianbao's version. A batch skips a report whose
digest is the one its outputs were made from.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import write_files
from .data import Registry, read_figures, read_registry
from .digests import SETTLE_NS, DigestState
from .exceptions import InputError
from .project import Project
from .written import OutputStats, content_record, record_well_formed

if TYPE_CHECKING:
    from .run import RunResult

MANIFEST = "manifest.json"
# Where the reports begin in the manifest as `Manifest.save` writes it: after the overviews, on one line.
REPORTS_START = '\n"reports": {\n'


def reports_part(data: bytes) -> bytes:
    """The bytes of a manifest file (`data`) from its reports on, as `Manifest.save` writes it: equal for two files
    whose reports are equal, whatever their overviews. The whole of `data` when it is not laid out so."""
    start = data.find(REPORTS_START.encode())
    return data if start < 0 else data[start:]
STATS = ".nianbao-written.json"  # the reports' outputs' stats when last found intact (`nianbao.written`)
# A report's status, as the index shows it.
PUBLISHED = "published"
WARNINGS = "warnings"  # published with warnings
GATED = "gated"  # blocked by a critical finding
FAILED = "failed"  # bad input, a notebook that raised, a kernel or worker that died
TEMPLATES = Path(__file__).parent / "render" / "templates"


def _files_digest(h: hashlib._Hash, files: Iterable[Path], root: Path, state: DigestState) -> None:
    for path in files:
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(state.sha(path).encode())
        h.update(b"\0")


def _notebook_digest(path: Path) -> str:
    from .notebook import notebook_digest

    return notebook_digest(path)


# Shared digests this process made, by the stat of every shared file: the overviews of a batch ask again.
_SHARED: dict[tuple, str] = {}


def shared_digest(project: Project, state: DigestState | None = None) -> str:
    """The digest of what every report shares: nianbao's version, the notebook (its code, not its outputs or
    values), the page templates and the expectation suites. `state`: the digests recorded by earlier runs,
    used and updated (None: the files are read unless this process digested them already, unchanged)."""
    from . import __version__

    suites = sorted(project.expectations.glob("*.json"))
    # The pages' templates; the index's are not in any report or overview (the index is written apart).
    templates = sorted(p for p in TEMPLATES.rglob("*") if p.is_file() and p.parent.name != "index")
    stats = []
    for path in (project.notebook, *suites, *templates):
        try:
            st = os.stat(path)
            stats.append((str(path), st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((str(path), -1, 0))
    key = tuple(stats)
    if key in _SHARED:
        return _SHARED[key]
    state = state or DigestState(project.root, project.outputs, load=False)
    h = hashlib.sha256(f"nianbao {__version__}\0".encode())
    h.update(f"notebook {state.value(project.notebook, 'notebook', _notebook_digest)}\0".encode())
    _files_digest(h, suites, project.root, state)
    _files_digest(h, templates, TEMPLATES, state)
    digest = h.hexdigest()
    if all(mtime + SETTLE_NS < state.started_ns for _, _, mtime in stats):  # see nianbao.digests
        _SHARED[key] = digest
    return digest


def figures_digests(project: Project, office: str) -> dict[str, str] | None:
    """The digest of each year's rows of an office's figures file (year as text → hex), each over the cells'
    keys, values and lines (findings name the line); None when the file cannot be read (its reports fail and
    say why)."""
    try:
        years = read_figures(project, office)
    except InputError:
        return None
    return {str(year): hashlib.sha256(json.dumps(
        sorted((ref, value, figures.lines[ref]) for ref, value in figures.values.items()),
        ensure_ascii=False).encode()).hexdigest() for year, figures in years.items()}


def look_ahead(project: Project, state: DigestState) -> None:
    """Digest, before the reports are listed and the registry and the manifest read, what changes most: the files
    every report shares and every figures file that `state` recorded (a new office's is found by `input_digests`).
    Only files whose size or mtime changed are read, and `input_digests` uses what was found. For `state.on_change`,
    a batch's first sign of work: at a province's scale it comes ~0.2 s sooner so (listing 10⁴ reports and reading
    the registry and the manifest come after)."""
    shared_digest(project, state)
    figures = project.data / "figures"
    for rel in state.recorded("figures"):
        path = project.root / rel
        if path.parent == figures and path.suffix == ".csv":  # as `input_digests` records them
            state.value(path, "figures", lambda _, o=path.stem: figures_digests(project, o))


def input_digests(project: Project, pairs: Iterable[tuple[str, int]], *, registry: Registry | None = None,
                  state: DigestState | None = None) -> dict[tuple[str, int], str | None]:
    """The digest of each office-year's inputs; None when its inputs cannot be read (the run will say why).

    A report's digest is made of the digests of its parts: what every report shares (`shared_digest`), its
    office's row of the registry, its figures rows of the year and of the previous year, its prose file and
    its params file. A file whose size and mtime are those `state` recorded is not read again (see
    `nianbao.digests`); so a change to another year's rows of the same figures file, or to another office's
    row of the registry, leaves this digest as it was. `registry`: as the caller read it (read when None);
    `state`: the digest records to use and update (by default those in `outputs/`, not saved)."""
    state = state or DigestState(project.root, project.outputs)
    shared = shared_digest(project, state)
    if registry is None:
        try:
            registry = read_registry(project)
        except InputError:
            registry = Registry({})
    offices: dict[str, str | None] = {}
    figures: dict[str, dict[str, str] | None] = {}
    digests: dict[tuple[str, int], str | None] = {}
    root = str(project.root)
    pairs = list(pairs)
    # The figures files first, one per office: the files analysts edit most, so that a change there is found
    # (`DigestState.on_change`: the batch's worker starts its kernel) before the prose and params of every report
    # are looked at.
    for office in dict.fromkeys(office for office, _ in pairs):
        found = registry.offices.get(office)
        offices[office] = hashlib.sha256(repr(found).encode()).hexdigest() if found else None
        figures[office] = state.value(project.figures_file(office), "figures",
                                      lambda _, o=office: figures_digests(project, o)) if found else None
    for office, year in pairs:
        years = figures[office]
        if offices[office] is None or not isinstance(years, dict):
            digests[(office, year)] = None
            continue
        # Paths as text: a Path per file costs more than its stat. `office` is an id (pairs come checked).
        narrative, params = (f"{root}/data/narrative/{office}/{year}.md", f"{root}/params/{office}/{year}.yaml")
        parts = [shared, offices[office], years.get(str(year), ""), years.get(str(year - 1), ""),
                 state.sha(narrative), state.sha(params)]
        digests[(office, year)] = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return digests


@dataclass
class Entry:
    """One office-year as the last batch left it."""

    office: str
    year: int
    status: str  # published, warnings, gated, failed
    inputs: str | None  # the digest of the inputs the outputs were made from
    html: str | None = None  # relative to outputs/
    notebook: str | None = None
    findings: list[dict] = field(default_factory=list)
    error: str | None = None  # why it failed: a message, or the notebook's traceback
    # html's and notebook's size and digest as written (`nianbao.written`); None: not recorded (an older version)
    written: list | None = None

    @property
    def key(self) -> str:
        return f"{self.office}/{self.year}"

    def to_dict(self) -> dict:
        """The fields as the manifest records them (lists shared with the entry, not copied)."""
        return dict(self.__dict__)

    def stale_output(self, digest: str | None, stats: OutputStats) -> str | None:
        """Why this entry's outputs must be made again: "" when its inputs changed (or it failed), else the name
        of the output (relative to outputs/) that is missing or not the file written; None when they are fresh.
        `stats`: the outputs' stats when last found intact (an output whose stat is another is read)."""
        if digest is None or self.status == FAILED or self.inputs != digest or not (self.html and self.notebook):
            return ""
        names = (self.html, self.notebook)
        if self.written is None:  # recorded by an older version: trusted when they exist (`Manifest.fresh`)
            return next((n for n in names if not os.path.isfile(f"{stats.outputs}/{n}")), None)
        return stats.damaged(names, self.written)


def recover(project: Project, office: str, year: int, digest: str | None) -> Entry | None:
    """The entry of an office-year whose outputs were written from `digest` but never recorded (the batch was
    killed between the report and the next manifest save), read back from the executed notebook's
    provenance. None when there is no such output."""
    if digest is None:
        return None
    out = project.output_dir(office)
    for stem in (f"{year}", f"{year}.findings"):
        html, ipynb = out / f"{stem}.html", out / f"{stem}.ipynb"
        if not (html.is_file() and ipynb.is_file()):
            continue
        try:
            meta = json.loads(ipynb.read_text(encoding="utf-8"))["metadata"]
            provenance = meta["nianbao"]
            # The findings the run recorded (`nianbao run` validates before it executes, as a batch does);
            # notebooks of older versions have them as the batch's papermill parameter only.
            findings = provenance.get("findings", meta["papermill"]["parameters"].get("findings")) or []
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if provenance.get("inputs") != digest or provenance.get("status") not in (PUBLISHED, GATED):
            continue
        return _entry(project, office, year, provenance["status"], digest, html, ipynb, findings)
    return None


def _entry(project: Project, office: str, year: int, status: str, digest: str | None, html: Path, ipynb: Path,
           findings: list[dict]) -> Entry:
    status = GATED if status == GATED else WARNINGS if findings else PUBLISHED
    return Entry(office, year, status, digest, html=project.in_outputs(html), notebook=project.in_outputs(ipynb),
                 findings=findings)


def outcome_entry(project: Project, result: RunResult, findings: list[dict], digest: str | None) -> Entry:
    """The entry of a report just executed (`result`), with the findings it was validated with."""
    return _entry(project, result.office, result.year, result.status, digest, result.html, result.notebook,
                  findings)


class Manifest:
    """`outputs/manifest.json`: what produced each output. Written atomically, sorted, diffable: one line per
    report. Saved only when something changed; an entry that did not change is not encoded again."""

    def __init__(self, project: Project) -> None:
        self.path = project.outputs / MANIFEST
        self.outputs = project.outputs
        self.damaged: dict[tuple[str, int], str] = {}  # outputs found changed or missing (`fresh`)
        self.stats = OutputStats(project.outputs / STATS, project.outputs)
        self.entries: dict[str, Entry] = {}
        # "year" or "region slug/year" → the overview's outcome (nianbao.overview.OverviewEntry)
        self.overviews: dict[str, dict] = {}
        self._encoded: dict[str, str] = {}  # key → the entry's line as last encoded (`_lines`)
        # The text as read and the keys of its entries that have every field: their lines are taken from it when
        # first needed (a run that changes nothing never needs them).
        self._read: tuple[str, set[str]] | None = None
        # key → an overview's entry as last encoded (a copy) and its text: a save encodes only the overviews that
        # changed since (a province's are 0.8 MB of JSON, saved several times by a batch that changes one figure).
        self._overview_texts: dict[str, tuple[dict, str]] = {}
        self.changed = False
        self.changed_years: set[int] = set()  # years of the entries this object changed
        self.saved = time.monotonic()  # when it was read or last saved (`time.monotonic()`)
        # The file as read, and as last read or written here: the index's chunks say which manifest they show.
        self.loaded_stat = self.file_stat = _stat(self.path)
        try:
            text = self.path.read_text(encoding="utf-8")
            raw = json.loads(text)
            # An entry of the wrong shape (a hand edit, a damaged file) is dropped alone: its report is recovered
            # from its executed notebook or built again, as when it was never recorded.
            full = set()
            for key, data in raw.get("reports", {}).items():
                try:
                    entry = Entry(**data)
                except TypeError:  # not a mapping of Entry's fields
                    entry = None
                if entry is not None and _well_formed(entry):
                    self.entries[entry.key] = entry
                    if len(data) == len(FIELDS):  # every field (`Entry(**data)` took no other): today's line
                        full.add(key)
                else:
                    self.changed = True
            self.overviews = {str(k): dict(v) for k, v in raw.get("overviews", {}).items() if isinstance(v, dict)}
            self._read = (text, full)
        except (OSError, ValueError, TypeError, AttributeError):
            self.entries, self.overviews = {}, {}  # no manifest, or an unreadable one: everything is rebuilt
            self.changed = True
        self._saved_overviews = _snapshot(self.overviews)

    @property
    def _lines(self) -> dict[str, str]:
        """Each entry's line as last read or encoded (key → text): a save does not encode again what it read."""
        if self._read is not None:
            self._encoded.update(_lines(*self._read))
            self._read = None
        return self._encoded

    def get(self, office: str, year: int) -> Entry | None:
        return self.entries.get(f"{office}/{year}")

    def fresh(self, office: str, year: int, digest: str | None) -> bool:
        """Whether the office-year's outputs were made from `digest` and are the files written (`Entry.stale_output`).
        An output found missing or changed is kept in `damaged` ((office, year) → its name, relative to outputs/).
        An entry of an older version, without the record, gets it now (its outputs trusted once)."""
        entry = self.entries.get(f"{office}/{year}")
        if entry is None:
            return False
        stale = entry.stale_output(digest, self.stats)
        if stale:
            self.damaged[(office, year)] = stale
        elif stale is None and entry.written is None:
            names = (str(entry.html), str(entry.notebook))
            entry.written = content_record(self.outputs, names)
            self.stats.noted(names)
            self._lines.pop(entry.key, None)
            self.changed = True
        return stale is None

    def put(self, entry: Entry) -> None:
        """Record an office-year's outcome; its outputs, just written, are recorded as they are (`nianbao.written`)."""
        if entry.written is None and entry.status != FAILED and entry.html and entry.notebook:
            entry = replace(entry, written=content_record(self.outputs, (entry.html, entry.notebook)))
            self.stats.noted((entry.html, entry.notebook))
        if self.entries.get(entry.key) != entry:
            self.entries[entry.key] = entry
            self._lines.pop(entry.key, None)
            self.changed = True
            self.changed_years.add(entry.year)

    def put_overview(self, outcome: dict | Entry) -> None:
        """Record an overview (a year's, or a region's year); a worker that died while making it comes as a failed
        `Entry` whose office is `overview:<region>`."""
        from .overview import overview_key, overview_written

        if isinstance(outcome, Entry):
            outcome = {"year": outcome.year, "status": FAILED, "inputs": outcome.inputs, "error": outcome.error,
                       "region": outcome.office.partition(":")[2]}
        if outcome.get("status") != FAILED and outcome.get("html") and outcome.get("notebook") \
                and "written" not in outcome:
            outcome = {**outcome, "written": overview_written(self.outputs, (outcome["html"], outcome["notebook"]))}
        key = overview_key(outcome["year"], outcome.get("region"))
        if self.overviews.get(key) != outcome:
            self.overviews[key] = outcome
            self.changed = True

    def as_dicts(self) -> dict[str, dict]:
        """Every entry as a dict ("office/year" → fields); the dicts share their lists with the entries."""
        return {k: e.to_dict() for k, e in self.entries.items()}

    def save(self) -> None:
        """Write the manifest when something changed since it was read or last saved, and the outputs' stats."""
        self.saved = time.monotonic()
        if self.stats.changed:
            self.stats.keep_only({n for e in self.entries.values() for n in (e.html, e.notebook) if n})
            self.stats.save()
        # Overviews may be recorded straight into `overviews` (a year's page of regions): compare them with what
        # was last saved (by value: encoding them, 0.8 MB for a province, cost more than the rest of a no-op save).
        if not self.changed and self.overviews == self._saved_overviews:
            return
        overviews = self._overviews_text()
        lines = []
        for key in sorted(self.entries):
            if key not in self._lines:
                self._lines[key] = _line(key, self.entries[key].to_dict())
            lines.append(self._lines[key])
        text = (f'{{"overviews": {overviews},{REPORTS_START}' + ",\n".join(lines)
                + '\n},\n"version": 1}\n')
        write_files({self.path: text})
        self.changed = False
        self._saved_overviews = _snapshot(self.overviews)
        self.file_stat = _stat(self.path)

    def _overviews_text(self) -> str:
        """`json.dumps(self.overviews, ensure_ascii=False, sort_keys=True)`, each entry encoded again only when it
        changed (by value, as `_snapshot` compares them)."""
        parts = []
        for key in sorted(self.overviews):
            value = self.overviews[key]
            kept = self._overview_texts.get(key)
            if kept is None or kept[0] != value:
                kept = self._overview_texts[key] = (dict(value), json.dumps(value, ensure_ascii=False, sort_keys=True))
            parts.append(f"{json.dumps(key, ensure_ascii=False)}: {kept[1]}")
        return "{" + ", ".join(parts) + "}"


def _snapshot(overviews: dict[str, dict]) -> dict[str, dict]:
    """A copy of `overviews` to compare with later: each entry's own dict is copied (an older version's entry gets
    its `written` record in place, `nianbao.overview`), its values are shared (they are replaced, never changed in
    place), so comparing an unchanged entry costs an identity check per field."""
    return {k: dict(v) for k, v in overviews.items()}


def _stat(path: Path) -> list[int] | None:
    """What tells one version of a file from another without reading it: inode (each atomic write makes a new
    file), size, mtime and ctime."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


FIELDS = sorted(Entry.__dataclass_fields__)
STATUSES = (PUBLISHED, WARNINGS, GATED, FAILED)
FINDING_KEYS = {"office", "year", "rule", "severity", "table", "row", "column", "message"}  # `Finding`'s own


def _well_formed(entry: Entry) -> bool:
    """Whether an entry read from the manifest has the types `Entry` says and its findings the fields a `Finding`
    needs (a manifest of 10^5 entries is read by every batch: plain type checks)."""
    text = (str, type(None))
    return (type(entry.office) is str and type(entry.year) is int and entry.status in STATUSES
            and type(entry.inputs) in text and type(entry.html) in text and type(entry.notebook) in text
            and type(entry.error) in text and type(entry.findings) is list and record_well_formed(entry.written)
            and all(type(f) is dict and FINDING_KEYS <= f.keys() for f in entry.findings))


def _lines(text: str, full: set[str]) -> dict[str, str]:
    """The line of each entry as the manifest's text has it (one per report, as `Manifest.save` writes them), for
    the entries of `full`, whose fields are today's."""
    lines = {}
    for line in text.split("\n"):
        if not line.startswith('"') or '\\' in line[:line.find('":')]:
            continue
        key = line[1:line.find('"', 1)]
        if key in full and line.startswith(f'"{key}": {{'):
            lines[key] = line.removesuffix(",")
    return lines


def _line(key: str, data: dict) -> str:
    return json.dumps(key, ensure_ascii=False) + ": " + json.dumps(data, ensure_ascii=False, sort_keys=True)
