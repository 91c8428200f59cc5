"""What produced each output: the digest of a report's inputs, and `outputs/manifest.json`.

A report's inputs are its figures rows of the year and of the previous year (the cross-year rules read
them), its prose, its params file, its office's row of the registry, and what every report shares: the
notebook, the page template, the expectation suites and nianbao's version. A batch skips a report whose
digest is the one its outputs were made from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import write_files
from .data import Figures, read_figures, read_offices
from .exceptions import InputError
from .project import Project

if TYPE_CHECKING:
    from .run import RunResult

MANIFEST = "manifest.json"
# A report's status, as the index shows it.
PUBLISHED = "published"
WARNINGS = "warnings"  # published with warnings
GATED = "gated"  # blocked by a critical finding
FAILED = "failed"  # bad input, a notebook that raised, a kernel or worker that died
TEMPLATES = Path(__file__).parent / "render" / "templates"


def _files_digest(h: hashlib._Hash, files: Iterable[Path], root: Path) -> None:
    for path in sorted(files):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"(missing)")
        h.update(b"\0")


def shared_digest(project: Project) -> str:
    """The digest of what every report shares: nianbao's version, the notebook, templates, suites."""
    from . import __version__
    from .notebook import notebook_digest

    h = hashlib.sha256(f"nianbao {__version__}\0".encode())
    h.update(f"notebook {notebook_digest(project.notebook)}\0".encode())  # its code, not its outputs or values
    _files_digest(h, [*project.expectations.glob("*.json")], project.root)
    _files_digest(h, (p for p in TEMPLATES.rglob("*") if p.is_file()), TEMPLATES)
    return h.hexdigest()


def _figures_part(figures: Figures | None) -> list:
    if figures is None:
        return []
    return sorted((ref, value, figures.lines[ref]) for ref, value in figures.values.items())


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"(missing)"


def input_digests(project: Project, pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str | None]:
    """The digest of each office-year's inputs; None when its inputs cannot be read (the run will say why)."""
    shared = shared_digest(project)
    try:
        offices = read_offices(project)
    except InputError:
        offices = {}
    current: tuple[str, dict[int, Figures] | None] | None = None  # one office's figures at a time: flat memory
    digests: dict[tuple[str, int], str | None] = {}
    for office, year in pairs:
        if current is None or current[0] != office:
            try:
                current = (office, read_figures(project, office) if office in offices else None)
            except InputError:
                current = (office, None)
        years = current[1]
        if years is None:
            digests[(office, year)] = None
            continue
        h = hashlib.sha256(shared.encode())
        h.update(json.dumps([repr(offices[office]), _figures_part(years.get(year)),
                             _figures_part(years.get(year - 1))], ensure_ascii=False).encode())
        for path in (project.narrative_file(office, year), project.params_file(office, year)):
            h.update(b"\0" + _file_bytes(path))
        digests[(office, year)] = h.hexdigest()
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

    @property
    def key(self) -> str:
        return f"{self.office}/{self.year}"

    def is_fresh(self, digest: str | None, outputs: Path) -> bool:
        """True when the outputs exist and were made from exactly these inputs."""
        if digest is None or self.status == FAILED or self.inputs != digest:
            return False
        return all(name and (outputs / name).is_file() for name in (self.html, self.notebook))


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
    """`outputs/manifest.json`: what produced each output. Written atomically, sorted, diffable."""

    def __init__(self, project: Project) -> None:
        self.path = project.outputs / MANIFEST
        self.entries: dict[str, Entry] = {}
        # "year" or "region slug/year" → the overview's outcome (nianbao.overview.OverviewEntry)
        self.overviews: dict[str, dict] = {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            for data in raw.get("reports", {}).values():
                entry = Entry(**data)
                self.entries[entry.key] = entry
            self.overviews = {str(k): dict(v) for k, v in raw.get("overviews", {}).items()}
        except (OSError, ValueError, TypeError, AttributeError):
            self.entries, self.overviews = {}, {}  # no manifest, or an unreadable one: everything is rebuilt

    def get(self, office: str, year: int) -> Entry | None:
        return self.entries.get(f"{office}/{year}")

    def put(self, entry: Entry) -> None:
        self.entries[entry.key] = entry

    def put_overview(self, outcome: dict | Entry) -> None:
        """Record an overview (a year's, or a region's year); a worker that died while making it comes as a failed
        `Entry` whose office is `overview:<region>`."""
        from .overview import overview_key

        if isinstance(outcome, Entry):
            outcome = {"year": outcome.year, "status": FAILED, "inputs": outcome.inputs, "error": outcome.error,
                       "region": outcome.office.partition(":")[2]}
        self.overviews[overview_key(outcome["year"], outcome.get("region"))] = outcome

    def as_dicts(self) -> dict[str, dict]:
        return {k: asdict(e) for k, e in self.entries.items()}

    def save(self) -> None:
        reports = {k: asdict(e) for k, e in sorted(self.entries.items())}
        data = {"version": 1, "reports": reports, **({"overviews": self.overviews} if self.overviews else {})}
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
        write_files({self.path: text + "\n"})
