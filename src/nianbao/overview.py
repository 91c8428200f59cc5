"""The reviewers' overview of a year (`notebooks/overview.ipynb`): who has published, the region's tables summed
over its offices, trends since 2019, each office's headline figures with the change from last year, and what
looks wrong.

`load_overview` reads what the page needs once (registry, figures, this year's prose, the manifest's statuses
and findings); the functions after it compute from that, without I/O. The batch builds the overviews beside
the reports (`OverviewTask`, run by the same warm-kernel workers, each once the reports its page shows are
recorded; `overview_plan`): one per year for all offices when
`data/offices.csv` names no region (`outputs/overview/<year>.html`), else one per region and year
(`outputs/overview/<region slug>/<year>.html`, see `region_slug`) and, as the year's page, a list of the
regions with their counts and links (`year_pages`). Each is rebuilt only when its own inputs change.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import os
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cache, partial
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import write_files
from .data import Office, Registry, read_figures, read_offices, read_registry
from .digests import SETTLE_NS
from .exceptions import ExecutionFailed, InputError
from .formats import Format, format_for
from .manifest import FAILED, MANIFEST, PUBLISHED, reports_part, shared_digest
from .params import list_reports
from .pool import failure_reason
from .project import RESERVED_IDS, Project, check_office_id
from .report import registry_of
from .written import DIGEST_CHARS, OutputStats, content_record, record_well_formed

OUTPUT_DIR = "overview"  # outputs/overview/<year>.html; an office id may not take this name (RESERVED_IDS)
assert OUTPUT_DIR in RESERVED_IDS
# Caches (no region slug or year starts with a dot): outputs/overview/.figures/<office>.v2.json, each office's
# figures as the overviews read them (`_read_figures`); .charts/[<region slug>/]<year>.json, each page's charts.
CACHE_DIR, CHARTS_DIR = ".figures", ".charts"
STATS = ".written.json"  # the overviews' outputs' stats when last found intact (`nianbao.written`)
SLUG_PREFIX = "r-"  # region folders: r-<12 hex digits>; a year page is <4 digits>.html, so they never meet
NO_REGION = "未注明地区"  # the group of offices with an empty region, in a project where others have one
FIRST_YEAR = 2019  # trends start with the first year of the national format (F2019)
NOT_SUBMITTED = "missing"  # no params file for the year: 未提交
NOT_BUILT = "unbuilt"  # a params file, but no batch has recorded the report yet: 尚未生成

# What looks wrong, in the order the page lists it (FORMAT.md gives no thresholds: these are a reviewer's).
KINDS = {
    "jump": "较上年变化5倍以上",
    "copied": "表格与上年完全相同",
    "zero": "表格全为0，正文却有申请或决定数字",
    "share": "办理结果构成与本地区相差悬殊",
}
JUMP_FACTOR = 5  # ×5 or ÷5 from last year
JUMP_MIN = 20  # ... when the larger of the two is at least this (2 → 10 is noise for a small office)
SHARE_GAP = Decimal("0.4")  # 40 percentage points from the rest of the region
SHARE_MIN = 30  # outcomes an office needs before its shares mean anything

# Outcome groups of table 三 (rows by key prefix), the same in F2019 and F2021.
OUTCOMES = {
    "open": "予以公开", "partial": "部分公开", "deny": "不予公开", "unable": "无法提供", "noproc": "不予处理",
    "other": "其他处理",
}
# Figures compared with last year: name → cells summed; the same cells in both formats.
COMPARED = {
    "新收申请": ("t3.new.total",),
    "予以公开": ("t3.open.total",),
    "部分公开": ("t3.partial.total",),
    "不予公开": tuple(f"t3.deny_{i}.total" for i in range(1, 9)),
    "办理结果总计": ("t3.total.total",),
    "行政复议": ("t4.review.total",),
    "行政诉讼": ("t4.direct.total", "t4.after_review.total"),
    "行政许可决定": ("t2.license.decisions",),
    "行政处罚决定": ("t2.penalty.decisions",),
    "行政强制决定": ("t2.coercion.decisions",),
}
# The per-office table and the index: (key, label, cells); `fees` exists from F2021 only.
HEADLINES = (
    ("new", "新收申请", ("t3.new.total",)),
    ("open", "予以公开", ("t3.open.total",)),
    ("deny", "不予公开", COMPARED["不予公开"]),
    ("review", "行政复议", ("t4.review.total",)),
    ("litigation", "行政诉讼", COMPARED["行政诉讼"]),
    ("fees", "收费（万元）", ("t2.fees.amount",)),
)
INDEX_HEADLINES = ("new", "open", "review")  # the three the index shows
# Prose that counts applications or decisions: a sentence with the word and a number of 件 (or 人次) > 0.
SENTENCE = re.compile(r"[^。；;！!\n]+")
COUNTED = re.compile(r"(\d+)\s*(?:件|人次|份)")
APPLICATION_WORDS = ("申请",)
DECISION_WORDS = ("决定", "许可", "处罚", "强制")


@cache  # a few distinct texts ("0", "1", ...) make up most cells
def number(text: str | None) -> Decimal | None:
    """A cell's value as a number; None when blank or not a number (blank is not 0)."""
    if text is None or not text.strip():
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def overview_notebook(project: Project) -> Path:
    return project.notebook.with_name("overview.ipynb")


def region_slug(region: str) -> str:
    """The folder name of a region's overviews: `r-` and the first 12 hex digits of the SHA-256 of the region's
    name (NFC, UTF-8). ASCII, the same on every machine and in every version, and safe in any file system,
    archive or URL, whatever the name holds (`示例省示例市示例区` → `r-…`); the page's title and the links
    give the name itself."""
    text = unicodedata.normalize("NFC", region.strip())
    return SLUG_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def overview_key(year: int, region: str | None = None) -> str:
    """The manifest's key of an overview: `2024` for a year's page, `r-…/2024` for a region's."""
    return f"{region_slug(region)}/{year}" if region else str(year)


def overview_page(project: Project, year: int, region: str | None = None) -> Path:
    return project.outputs / OUTPUT_DIR / f"{overview_key(year, region)}.html"


def regions(offices: Iterable[Office]) -> dict[str, list[Office]]:
    """Region → its offices, by `data/offices.csv`'s `region` (offices with none under `NO_REGION`), sorted by
    name; empty when no office names a region (then one overview per year covers every office)."""
    offices = list(offices)
    if not any(o.region for o in offices):
        return {}
    grouped: dict[str, list[Office]] = defaultdict(list)
    for office in offices:
        grouped[office.region or NO_REGION].append(office)
    return dict(sorted(grouped.items()))


def in_region(office: Office, region: str | None) -> bool:
    return not region or office.region == region or (region == NO_REGION and not office.region)


@dataclass
class Overview:
    """Everything one overview shows, as read from the project.

    `figures`: office → year → cell → text (None when blank; `load_overview` gives each year as an
    `OfficeYear`), for the years up to `year` that have a params file; `status`: office → what the page reads of
    this year's manifest entry (`report_status`), or `missing`.
    """

    year: int
    region: str | None
    offices: list[Office]
    figures: dict[str, dict[int, Mapping[str, str | None]]]
    prose: dict[str, str]  # office → this year's prose, as written (`load_overview`: where `anomalies` reads it)
    status: dict[str, dict]
    errors: dict[str, str] = field(default_factory=dict)  # office → why its figures could not be read
    found: list[Anomaly] | None = field(default=None, repr=False, compare=False)  # `anomalies`, once computed
    computed: dict = field(default_factory=dict, repr=False, compare=False)  # what `headlines` computed
    charts: Path | None = None  # where its charts and parts are kept (`render.charts.KeptCharts`); None: made each time
    kept: Any = field(default=None, repr=False, compare=False)  # that `KeptCharts`, once read (`kept_parts`)

    @property
    def title(self) -> str:
        return f"{self.region or '各机关'}{self.year}年政府信息公开工作年度报告概览"

    @property
    def to_outputs(self) -> str:
        """The way from this overview's page up to outputs/ (`outputs/overview/[<region slug>/]<year>.html`)."""
        return "../../" if self.region else "../"

    @property
    def format(self) -> Format:
        return format_for(self.year)

    def values(self, office: str, year: int | None = None) -> Mapping[str, str | None] | None:
        return self.figures.get(office, {}).get(self.year if year is None else year)


def kept_parts(overview: Overview) -> Any:
    """The `render.charts.KeptCharts` of the page (its charts, and the parts made by the digest of what they show:
    `part_digest`), read once; None when the overview keeps nothing (`charts` None)."""
    if overview.charts is None:
        return None
    if overview.kept is None:
        from .render.charts import KeptCharts

        overview.kept = KeptCharts(overview.charts)
    return overview.kept


@cache
def _parts_code() -> str:
    """The digest of the code that makes a page's parts from its figures: `_code()` and the page's renderers."""
    h = hashlib.sha256(_code().encode())
    for name in ("overview.py", "html.py", "charts.py"):
        h.update((Path(__file__).parent / "render" / name).read_bytes())
    return h.hexdigest()


def part_digest(overview: Overview, name: str, years: Iterable[int], extra: Any = None) -> str:
    """The digest of what a part of the page (`name`) shows: the code that makes it, the overview's year and
    region, `extra` (JSON), and each office (id, name) with its figures of `years` (each as kept, `OfficeYear.kept`;
    a year without figures as such). O(offices): a hash of the texts as read, ~1 MB at 1429 offices."""
    years = tuple(years)
    figures = overview.computed.get(("digest", years))
    if figures is None:  # the same for each part that reads these years: once a page
        h = hashlib.sha256()
        for office in overview.offices:
            h.update(f"\0{office.id}\0{office.name}".encode())
            for year in years:
                values = overview.values(office.id, year)
                if values is None:
                    h.update(b"\1-")
                else:
                    text = values.kept()[0] if isinstance(values, OfficeYear) else \
                        json.dumps(sorted(values.items()), ensure_ascii=False)
                    h.update(b"\1+" + text.encode())
        figures = overview.computed[("digest", years)] = h.hexdigest()
    return hashlib.sha256(json.dumps([_parts_code(), name, overview.year, overview.region, years, extra, figures],
                                     ensure_ascii=False).encode()).hexdigest()


# The manifest's reports as last read in this process, by the file's size, mtime, ctime and inode: each overview
# a warm kernel makes reads the same manifest (4 MB at 10 000 reports: parsing it costs ~0.1 s, reading and
# hashing it a tenth of that, a stat nothing). Saves replace the file (a new inode), and one within the same
# timestamp tick is caught by the settle rule of `nianbao.digests`: the bytes are hashed until the mtime settled.
_MANIFEST: tuple[list, bytes, dict[str, dict]] = ([], b"", {})


def _manifest_reports(project: Project) -> dict[str, dict]:
    """The manifest's entries of the reports ("office/year" → entry); empty when there is none or it cannot be
    read. Shared between the calls that read the same file: not to be changed."""
    global _MANIFEST
    try:
        with open(project.outputs / MANIFEST, "rb") as f:
            stat = os.fstat(f.fileno())
            key = [str(project.outputs), *_stat_key(stat)]
            if key == _MANIFEST[0] and stat.st_mtime_ns + SETTLE_NS < time.time_ns():
                return _MANIFEST[2]
            data = f.read()
    except OSError:
        return {}
    # Its overviews change with every page a batch publishes, its reports do not: parsed again only for the reports.
    digest = hashlib.sha256(reports_part(data)).digest()
    if _MANIFEST[1] != digest:
        try:
            reports = json.loads(data.decode("utf-8")).get("reports", {})
        except (ValueError, AttributeError):
            return {}
        _MANIFEST = (key, digest, reports if isinstance(reports, dict) else {})
    else:
        _MANIFEST = (key, digest, _MANIFEST[2])
    return _MANIFEST[2]


# The parameter files' listing (`list_reports`) as last made in this process, by the size, mtime and ctime of
# `params/` and of each office's folder in it: adding, removing or renaming a file changes its folder's mtime.
_LISTED: tuple[list, list[tuple[str, int]]] = ([], [])


def _listed_reports(project: Project) -> list[tuple[str, int]]:
    """`list_reports(project, problems=[])`, the office-years that have a params file (a name that belongs to no
    report is the batch's to report), remembered while no folder of `params/` changed: a region's page reads
    the listing of every office, 1429 folders (each one `stat` instead of a listing)."""
    global _LISTED
    root = f"{project.root}/params"
    try:
        with os.scandir(root) as entries:
            folders = sorted((e.name, e.stat()) for e in entries if e.is_dir())
        top = os.stat(root)
    except OSError:
        return list_reports(project, problems=[])
    settled = time.time_ns() - SETTLE_NS
    key = [root, _stat_key(top), *((name, _stat_key(st)) for name, st in folders)]
    if key == _LISTED[0]:
        return _LISTED[1]
    found = list_reports(project, problems=[])
    if top.st_mtime_ns < settled and all(st.st_mtime_ns < settled for _, st in folders):
        _LISTED = (key, found)
    return found


@contextmanager
def _no_pauses() -> Iterator[None]:
    """No garbage collection while a page is read and made: it makes ~10⁵ objects, most of which the kernel keeps
    (`_READ`) or drops without cycles, and each automatic collection on the way walked those made so far again
    (a fifth of a page's time). What cycles there are go at the next collection. In a batch kernel that is after
    the notebook (`engines.RESET` collects and collects again automatically from then on), while its worker
    renders the page: the first allocation once collecting again walked every object the page made (~40 ms)."""
    from .kernel import batch_kernel

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled and not batch_kernel():
            gc.enable()


# What an overview reads of a report's manifest entry. Nothing else of it may reach the page or the executed
# notebook: a batch on a cluster makes an overview from the manifest before its reports are rebuilt, and keeps it
# when these fields came out the same (`cluster._as_job`).
REPORT_FIELDS = ("status", "findings", "html")


def report_status(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a report's manifest entry (a dict) that an overview shows (`REPORT_FIELDS`), those it has."""
    return {name: entry[name] for name in REPORT_FIELDS if name in entry}


def load_overview(project: Project, year: int, region: str | None = None) -> Overview:
    """Read the offices of `region` (all offices when None or empty), their figures up to `year`, this year's
    prose and the statuses the last batch recorded. An office whose figures cannot be read is listed with
    the error; it adds nothing to the sums. Raises `InputError` when the registry cannot be read."""
    with _no_pauses():
        return _load_overview(project, year, region)


def _load_overview(project: Project, year: int, region: str | None) -> Overview:
    offices = [o for o in registry_of(project).offices.values() if in_region(o, region)]
    submitted = defaultdict(set)
    ids = {o.id for o in offices}
    # A params file that belongs to no report (`２０２２.yaml`) is the batch's to report: the page leaves it out.
    for office, y in _listed_reports(project):
        if y <= year and office in ids:
            submitted[office].add(y)
    reports = _manifest_reports(project)
    kept = RegionFigures(project, project.outputs / OUTPUT_DIR / CHARTS_DIR
                         / (f"{region_slug(region)}/{REGION_FIGURES}" if region else REGION_FIGURES))
    figures: dict[str, dict[int, dict[str, str | None]]] = {}
    prose: dict[str, str] = {}
    status: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for office in offices:
        entry = reports.get(f"{office.id}/{year}")
        status[office.id] = report_status(entry) if entry and isinstance(entry, dict) else \
            {"status": NOT_SUBMITTED if year not in submitted[office.id] else NOT_BUILT}
        if not submitted[office.id]:
            continue
        try:
            found = _read_figures(project, office.id, kept)
        except InputError as exc:
            errors[office.id] = str(exc)
            continue
        figures[office.id] = {y: found[y] for y in sorted(submitted[office.id]) if y in found}
        if (this := figures[office.id].get(year)) is None or not this.zero:
            continue  # `anomalies` reads an office's prose only where a table of this year's is all 0
        try:
            prose[office.id] = project.narrative_file(office.id, year).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            pass
    kept.save()
    return Overview(year, region or None, offices, figures, prose, status, errors,
                    charts=project.outputs / OUTPUT_DIR / CHARTS_DIR / f"{overview_key(year, region)}.json")


# Figures read in this process, by file, with the (size, mtime) they were read at: a batch worker's warm kernel
# makes several overviews in a row, each reading every office of its region.
_READ: dict[str, tuple[list[int], dict[int, OfficeYear]]] = {}
KEPT_FORMAT = 2  # of the kept copies, in their names: 1 (`<office>.json`) was each year's cells as a dict
_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,17}")  # a cell's text that a JSON integer gives back exactly


class OfficeYear(Mapping[str, "str | None"]):
    """One office-year's figures as the overviews read them: a read-only mapping cell → text (None when blank)
    of the cells its file gives, with what the overviews compute from them worked out once, when the file was
    read (`_read_figures`): `numbers` (each of the format's cells, in `cell_kinds` order: an `int`, a
    `Decimal`, or None when blank, absent or not a number), `totals` (as `totals()` computes them), `same`
    (the cells equal the file's previous year's) and `zero` (a `ZERO_CHECKS` group is all 0, so `anomalies`
    reads the prose).

    Kept as JSON (`kept()`): texts that a JSON integer gives back exactly as integers, others as strings; the
    cells as a JSON text of their own, decoded when a page first reads them (a page reads every year's
    totals but only its own year's cells). `reread`: where to get the file's figures (year → `OfficeYear`) should that
    text not decode."""

    __slots__ = ("_added", "_cells", "_numbers", "_sums", "_text", "_totals", "_values", "reread", "same", "year",
                 "zero")

    def __init__(self, year: int, cells: str | tuple[list, list[int]], sums: list, same: bool, zero: bool,
                 reread: Callable[[], Mapping[int, OfficeYear]] | None = None) -> None:
        self.year, self._cells, self._sums, self.same, self.zero, self.reread = \
            year, cells, sums, same, zero, reread
        self._text = cells if isinstance(cells, str) else None  # the cells as kept, once made: kept again as is
        self._values: dict[str, str | None] | None = None
        self._numbers: list[int | Decimal | None] | None = None
        self._totals: dict[str, Decimal | None] | None = None
        self._added: list[int | Decimal | None] | None = None

    @classmethod
    def of(cls, year: int, values: Mapping[str, str | None], previous: Mapping[str, str | None] | None) \
            -> OfficeYear:
        """From one year's cells as `read_figures` gives them; `previous`: the file's year before, if any."""
        cells = _cells(year)
        sums = [_compact(t) for t in _plain_totals(values, year).values()]
        zero = any(_all_zero(values, year, part) for _, part, _, _ in ZERO_CHECKS)
        given = ([_compact(values.get(ref)) for ref in cells], [i for i, ref in enumerate(cells) if ref not in values])
        return cls(year, given, sums, previous is not None and dict(values) == dict(previous), zero)

    def kept(self) -> list:
        if self._text is None:
            self._text = json.dumps(self._cells, separators=(",", ":"), ensure_ascii=False)
        return [self._text, self._sums, self.same, self.zero]

    def _given(self) -> tuple[list, list[int]]:
        """The cells, as kept (in `cell_kinds` order), and which of them the file does not give."""
        if isinstance(self._cells, str):
            try:
                given, absent = json.loads(self._cells)
                if len(given) != len(_cells(self.year)):
                    raise ValueError(self._cells)
                self._cells = (given, absent)
            except (ValueError, TypeError):
                if self.reread is None:
                    raise
                self._cells = self.reread()[self.year]._given()  # a kept copy spoilt inside: read the file again
                self._text = None
        return self._cells

    def as_dict(self) -> dict[str, str | None]:
        """The cells the file gives, cell → text (None when blank), in `cell_kinds` order."""
        if self._values is None:
            given, absent = self._given()
            skip = set(absent)
            self._values = {ref: _as_text(v) for i, (ref, v) in enumerate(zip(_cells(self.year), given, strict=True))
                            if i not in skip}
        return self._values

    def __getitem__(self, ref: str) -> str | None:
        return self.as_dict()[ref]

    def __iter__(self):
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    @property
    def numbers(self) -> list[int | Decimal | None]:
        if self._numbers is None:
            self._numbers = [v if type(v) is int else number(v) for v in self._given()[0]]
        return self._numbers

    @property
    def sums(self) -> list[int | Decimal | None]:
        """`totals`' values in `_measures(year)` order, integers as `int` (they add faster)."""
        if self._added is None:
            self._added = [v if type(v) is int or v is None else Decimal(v) for v in self._sums]
        return self._added

    @property
    def totals(self) -> dict[str, Decimal | None]:
        if self._totals is None:
            self._totals = {name: None if v is None else Decimal(v)
                            for name, v in zip(_measures(self.year), self._sums, strict=True)}
        return self._totals


@cache
def _cells(year: int) -> tuple[str, ...]:
    return tuple(format_for(year).cell_kinds())


def _compact(value: str | Decimal | None) -> int | str | None:
    """A text or a sum as kept: an `int` where that gives it back exactly (`str`, `Decimal`), else its text."""
    if value is None:
        return None
    text = str(value)
    return int(text) if _INTEGER.fullmatch(text) else text


def _as_text(value: int | str | None) -> str | None:
    return str(value) if type(value) is int else value  # type: ignore[return-value]


def _read_figures(project: Project, office: str, region: RegionFigures | None = None) -> dict[int, OfficeYear]:
    """One office's figures, year → `OfficeYear`, as `read_figures` reads them (raises its `InputError`).

    A file read once is kept, in this process and in `outputs/overview/.figures/<office>.v2.json` with the file's
    size, mtime and ctime: a region's overview reads every office's figures of every year, and checking each row
    again (`read_figures`) cost 15 s for 10 000 office-years where reading the kept copies costs 0.15 s. As
    with the batch's digests (`nianbao.digests`), only a file whose mtime had settled when it was read is
    kept: a second edit within the same timestamp tick keeps size and mtime. `region`: the kept copies of the
    page's region in one file, looked in first (`RegionFigures`)."""
    region = region or RegionFigures(project, None)
    path = f"{region.figures}/{check_office_id(office)}.csv"  # text, not `Path`: 1429 offices a page
    try:
        stat = os.stat(path)
        # ctime too: a file replaced by another of the same size and mtime (`cp -p`, `touch -r`) gets a new one
        key = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
    except OSError:
        return _office_years(project, office)  # says why, with the file
    if stat.st_mtime_ns + SETTLE_NS >= time.time_ns():
        return _office_years(project, office)
    memo = _READ.get(path)
    if memo is not None and memo[0] == key:
        region.read[office] = key
        return memo[1]
    reread = partial(_office_years, project, office)
    years = region.years(office, key, reread)
    if years is None:
        kept = Path(f"{region.kept}/{office}.v{KEPT_FORMAT}.json")
        years = _kept_figures(kept, key, reread)
        if years is None:
            years = _office_years(project, office)
            try:
                text = json.dumps({"code": _code(), "format": KEPT_FORMAT, "key": key,
                                   "years": {y: o.kept() for y, o in years.items()}},
                                  ensure_ascii=False, separators=(",", ":"))
                write_files({kept: text})
                kept.with_name(f"{office}.json").unlink(missing_ok=True)  # the copy of format 1, if any
            except OSError:
                pass  # a read-only outputs/: read the file again next time
    _READ[path] = (key, years)
    region.read[office] = key
    return years


@cache
def _code() -> str:
    """The digest of the code that makes an `OfficeYear` (this module and the format definitions): a kept copy
    made by other code is made again."""
    h = hashlib.sha256(__version__.encode())
    for path in [Path(__file__), *sorted((Path(__file__).parent / "formats").glob("*.py"))]:
        h.update(path.read_bytes())
    return h.hexdigest()


def _office_years(project: Project, office: str) -> dict[int, OfficeYear]:
    found = {y: f.values for y, f in read_figures(project, office).items()}
    return {y: OfficeYear.of(y, values, found.get(y - 1)) for y, values in found.items()}


def _kept_years(years: Mapping[str, list], reread: Callable[[], Mapping[int, OfficeYear]]) \
        -> dict[int, OfficeYear] | None:
    """An office's years as kept (`OfficeYear.kept`), None when they are not as this code keeps them."""
    found = {int(y): OfficeYear(int(y), cells, sums, bool(same), bool(zero), reread)
             for y, (cells, sums, same, zero) in years.items()}
    if any(not isinstance(o._cells, str) or len(o._sums) != len(_measures(y)) for y, o in found.items()):
        return None
    return found


def _kept_figures(path: Path, key: list[int], reread: Callable[[], dict[int, OfficeYear]]) \
        -> dict[int, OfficeYear] | None:
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept["code"] != _code() or kept["format"] != KEPT_FORMAT or kept["key"] != key:
            return None
        return _kept_years(kept["years"], reread)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


REGION_FIGURES = "figures.json"  # outputs/overview/.charts/[<region slug>/]figures.json (`RegionFigures`)
REGION_STALE = 16  # offices whose entry may be stale or missing before the region's file is written again
# What this process last read or wrote of each region's file: its path → (its size, mtime and ctime; office → the
# key of the figures file its entry was made from).
_REGION_KEYS: dict[str, tuple[list[int], dict[str, list[int]]]] = {}


class RegionFigures:
    """The kept figures (`OfficeYear.kept`) of every office of a region, in one file (`path`; None: none): a
    page reads each office's, and one file costs a fraction of one per office (the first page of a new kernel:
    one open and parse instead of 1429). An office's entry is trusted as its own kept copy is, by its figures
    file's size, mtime and ctime, and only when made by this code (`_code`); what is not there is read as before
    (`_read_figures`). Read when a page first misses this process's memory; `save()` writes the file again when
    an office's entry changed (a batch's first page after an edit), keeping what this page read (`read`)."""

    def __init__(self, project: Project, path: Path | None) -> None:
        self.figures = f"{project.data}/figures"
        self.kept = f"{project.outputs}/{OUTPUT_DIR}/{CACHE_DIR}"
        self.path = path
        self.read: dict[str, list[int]] = {}  # office → the key of the figures it was read at (settled ones)
        self._entries: dict[str, list] | None = None  # office → [key, years as kept], once read

    def years(self, office: str, key: list[int], reread: Callable[[], Mapping[int, OfficeYear]]) \
            -> dict[int, OfficeYear] | None:
        """The office's figures as this file keeps them for `key`; None when it does not."""
        if self.path is None:
            return None
        if self._entries is None:
            self._entries = self._load()
        entry = self._entries.get(office)
        if entry is None or entry[0] != key:
            return None
        try:
            return _kept_years(entry[1], reread)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def _load(self) -> dict[str, list]:
        try:
            with open(self.path, "rb") as f:  # type: ignore[arg-type]
                stat = os.fstat(f.fileno())
                kept = json.loads(f.read())
            if kept["code"] != _code() or kept["format"] != KEPT_FORMAT or not isinstance(kept["offices"], dict):
                return {}
            entries = {o: e for o, e in kept["offices"].items()
                       if isinstance(e, list) and len(e) == 2 and isinstance(e[1], dict)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}
        _REGION_KEYS[str(self.path)] = (_stat_key(stat), {o: e[0] for o, e in entries.items()})
        return entries

    def save(self) -> None:
        """Keep the figures this page read (`read`), unless the file holds them as they are but for a few
        offices (`REGION_STALE`): those are read from their own kept copies meanwhile (writing the file costs as
        much as reading it, ~0.04 s at 1429 offices, and one changed office is the usual run)."""
        if self.path is None:
            return
        name = str(self.path)
        try:
            now = _stat_key(os.stat(name))
        except OSError:
            now = None
        known = _REGION_KEYS.get(name)
        if now is not None and (known is None or known[0] != now):  # written by another process since
            self._entries = self._load()
            known = _REGION_KEYS.get(name)
        if known is not None and known[0] == now:
            stale = sum(known[1].get(office) != key for office, key in self.read.items()) \
                + len(known[1].keys() - self.read.keys())
            if stale <= REGION_STALE:
                return
        offices = {}
        for office, key in self.read.items():
            memo = _READ.get(f"{self.figures}/{office}.csv")
            if memo is not None and memo[0] == key:
                offices[office] = [key, {y: o.kept() for y, o in memo[1].items()}]
        try:
            write_files({self.path: json.dumps({"code": _code(), "format": KEPT_FORMAT, "offices": offices},
                                               ensure_ascii=False, separators=(",", ":"))})
            _REGION_KEYS[name] = (_stat_key(os.stat(name)), {o: e[0] for o, e in offices.items()})
        except OSError:
            pass  # a read-only outputs/: the offices' own kept copies are read next time


def _stat_key(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def _shared(project: Project) -> hashlib._Hash:
    h = hashlib.sha256(f"{shared_digest(project)}\0".encode())
    path = overview_notebook(project)
    h.update(_file_bytes(path))
    return h


def _digests(project: Project, years: Iterable[int], region: str | None, members: list[Office] | None,
             listed: Mapping[int, list[str]], reports: Mapping[str, dict], shared: hashlib._Hash) -> dict[int, str]:
    """The digest of each of `years`' overviews of `region` (None: every office): what every page shares, the
    overview notebook, the registry rows of its offices (`members`; None: the registry file), and the digest,
    status, findings and page of each of its reports up to that year (`listed`: year → "office/year"; a
    report's digest covers its figures and prose). One pass over the years: O(reports)."""
    h = shared.copy()
    h.update(f"\0{region or ''}\0".encode())
    if members is None:
        h.update(_file_bytes(project.offices_file))
    else:
        h.update(json.dumps([repr(o) for o in members], ensure_ascii=False).encode())
    wanted, out = set(years), {}
    for year in range(FIRST_YEAR, max(wanted, default=FIRST_YEAR - 1) + 1):
        keys = listed.get(year, [])
        h.update(json.dumps([(k, *(reports.get(k, {}).get(f) for f in ("inputs", "status", "findings", "html")))
                             for k in keys], ensure_ascii=False, sort_keys=True).encode())
        if year in wanted:
            out[year] = hashlib.sha256(f"{h.hexdigest()}\0{year}".encode()).hexdigest()
    return out


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"(missing)"


def overview_digest(project: Project, year: int, reports: Mapping[str, dict] | None = None,
                    region: str | None = None) -> str:
    """The digest of one overview's inputs (see `_digests`). `reports`: the manifest's entries ("office/year" →
    entry as a dict), read when None."""
    reports = _manifest_reports(project) if reports is None else reports
    members, ids = None, None
    if region:
        members = [o for o in read_offices(project).values() if in_region(o, region)]
        ids = {o.id for o in members}
    listed: dict[int, list[str]] = defaultdict(list)
    for o, y in list_reports(project, problems=[]):
        if ids is None or o in ids:
            listed[y].append(f"{o}/{y}")
    return _digests(project, [year], region, members, listed, reports, _shared(project))[year]


# -- sums ---------------------------------------------------------------------------------------------

def _total(cells: Iterable[str], values: Mapping[str, str | None] | None) -> Decimal | None:
    """The sum of `cells` of one office-year; None when any is blank or not a number (or no figures)."""
    if values is None:
        return None
    parts = [number(values.get(ref)) for ref in cells]
    return None if any(p is None for p in parts) else sum(parts, Decimal(0))


def region_tables(overview: Overview, year: int | None = None) -> tuple[dict[str, str | None], dict[str, int]]:
    """The region's tables of `year` (default: the overview's): each cell summed over the offices that gave it
    a number, and how many did. A blank or non-numeric value is not counted (a blank is not 0); a cell no
    office gave is None. Amounts keep their decimals (万元)."""
    year = overview.year if year is None else year
    sums: dict[str, str | None] = {}
    counts: dict[str, int] = {}
    rows = [v for o in overview.offices if (v := overview.values(o.id, year)) is not None]
    cells = _cells(year)
    # Column by column over each office's numbers (as kept: integers as `int`). Adding from int 0 gives what
    # adding Decimals from Decimal(0) gives, text included: integers are exact either way (kept ones have at
    # most 18 digits) and a Decimal among them makes the sum a Decimal of the same exponent.
    numbers = [v.numbers if isinstance(v, OfficeYear) else [number(v.get(ref)) for ref in cells] for v in rows]
    columns = zip(*numbers, strict=True) if numbers else ((),) * len(cells)
    for ref, column in zip(cells, columns, strict=True):
        found = [n for n in column if n is not None]
        counts[ref] = len(found)
        sums[ref] = str(sum(found)) if found else None
    return sums, counts


# Figures summed from several cells, by name: what the charts, the headline figures and the checks read.
TREND_ONLY = {"行政事业性收费（万元）": ("t2.fees.amount",),
              "其他管理服务事项（至2020年）": ("t2.other_services.decisions",)}


@cache
def _measures(year: int) -> dict[str, tuple[str, ...]]:
    """Name → cells of every summed figure that `year`'s format has: `outcome.<group>`, the `COMPARED` names,
    `TREND_ONLY`, `headline.<key>`."""
    kinds = format_for(year).cell_kinds()
    found = {f"outcome.{g}": _outcome_cells(year, g) for g in OUTCOMES} | dict(COMPARED) | TREND_ONLY
    found |= {f"headline.{key}": cells for key, _, cells in HEADLINES}
    return {name: cells for name, cells in found.items() if all(c in kinds for c in cells)}


# An office-year's summed figures, computed once per values (the same dict while its file is unchanged): each
# year's overview reads every earlier year's for its charts.
_TOTALS: dict[int, tuple[Mapping, dict[str, Decimal | None]]] = {}


def totals(values: Mapping[str, str | None] | None, year: int) -> dict[str, Decimal | None]:
    """The summed figures (`_measures`) of one office-year's `values`; a name missing: not in `year`'s format;
    None: a cell blank or not a number."""
    if values is None:
        return {}
    if isinstance(values, OfficeYear):
        return values.totals
    memo = _TOTALS.get(id(values))
    if memo is None or memo[0] is not values:
        memo = (values, _plain_totals(values, year))
        _TOTALS[id(values)] = memo
    return memo[1]


def _plain_totals(values: Mapping[str, str | None], year: int) -> dict[str, Decimal | None]:
    return {name: _total(cells, values) for name, cells in _measures(year).items()}


def trends(overview: Overview) -> dict[str, dict[int, Decimal]]:
    """Region totals per year since 2019: name → year → value (件), for the charts. A year's value sums the
    offices that gave the figure in that year."""
    series: dict[str, dict[int, Decimal]] = defaultdict(dict)
    names = [*(f"outcome.{k}" for k in OUTCOMES), *COMPARED, *TREND_ONLY]
    for year in range(FIRST_YEAR, overview.year + 1):
        rows = [v.sums if isinstance(v, OfficeYear) else list(totals(v, year).values())
                for o in overview.offices if (v := overview.values(o.id, year)) is not None]
        if not rows:
            continue
        at = {name: i for i, name in enumerate(_measures(year))}
        for name in names:
            if name not in at:
                continue  # not in this year's format
            found = [t for r in rows if (t := r[at[name]]) is not None]
            if found:  # from int 0, as `region_tables` adds: the same Decimal as from Decimal(0)
                series[name][year] = Decimal(sum(found))
    return dict(series)


@cache
def _outcome_cells(year: int, group: str) -> tuple[str, ...]:
    rows = format_for(year).table("t3").rows
    return tuple(f"t3.{r}.total" for r in rows if r == group or r.startswith(f"{group}_"))


# -- headline figures ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Headline:
    """One headline figure of an office-year and last year's (None: not given, or not in that format)."""

    value: Decimal | None
    previous: Decimal | None

    @property
    def change(self) -> Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def headlines(overview: Overview, office: str, year: int | None = None) -> dict[str, Headline]:
    """The headline figures (`HEADLINES`) of one office-year with last year's, plus `share`: 予以公开 among
    all outcomes (办理结果总计), as a fraction. Computed once per office-year and overview (the page and the
    index read them)."""
    year = overview.year if year is None else year
    found = overview.computed.get(("headlines", office, year))
    if found is None:
        found = overview.computed[("headlines", office, year)] = _headlines(overview, office, year)
    return found


def _headlines(overview: Overview, office: str, year: int) -> dict[str, Headline]:
    this = totals(overview.values(office, year), year)
    last = totals(overview.values(office, year - 1), year - 1) if year > FIRST_YEAR else {}
    out = {key: Headline(this.get(f"headline.{key}"), last.get(f"headline.{key}")) for key, _, _ in HEADLINES}
    out["share"] = Headline(_share(this), _share(last))
    return out


def _share(found: Mapping[str, Decimal | None]) -> Decimal | None:
    """予以公开 among all outcomes (办理结果总计) of an office-year's `totals`."""
    part, whole = found.get("予以公开"), found.get("办理结果总计")
    return part / whole if part is not None and whole else None


def index_headlines(overview: Overview) -> dict[str, dict[str, list]]:
    """For the index: office → the three `INDEX_HEADLINES` as [value, change] (numbers as text, None when
    unknown), for the offices with figures this year. Kept with the page's parts (`kept_parts`)."""
    kept = kept_parts(overview)
    if kept is None:
        return _index_headlines(overview)
    with _no_pauses():
        return kept.part("index", part_digest(overview, "index", (overview.year - 1, overview.year)),
                         lambda: _index_headlines(overview))


def _index_headlines(overview: Overview) -> dict[str, dict[str, list]]:
    out = {}
    for office in overview.offices:
        if overview.values(office.id) is None:
            continue
        found = headlines(overview, office.id)
        out[office.id] = {k: [_text(found[k].value), _text(found[k].change)] for k in INDEX_HEADLINES}
    return out


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# -- what looks wrong ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Anomaly:
    kind: str  # a key of KINDS
    office: str
    figures: str  # the figures, in Chinese
    why: str


class Anomalies(list):
    """A list of `Anomaly` that a notebook shows as a table, as the page lists them: the kind's label (and its key
    in `KINDS`), the office's name and id (`names`: id → name), the figures and why. A slice is one too."""

    def __init__(self, found: Iterable[Anomaly] = (), names: Mapping[str, str] | None = None) -> None:
        super().__init__(found)
        self.names = dict(names or {})

    def __getitem__(self, index: Any) -> Any:
        got = super().__getitem__(index)
        return Anomalies(got, self.names) if isinstance(index, slice) else got

    def _repr_html_(self) -> str:
        from html import escape

        if not self:
            return "<p>未发现需要关注的情况。</p>"
        left = ' style="text-align:left"'  # notebooks' own style sets table cells right, for numbers
        rows = "".join(
            "<tr>" + "".join(f"<td{left}>{v}</td>" for v in (
                f"{escape(KINDS.get(a.kind, a.kind))} <code>{escape(a.kind)}</code>",
                f"{escape(self.names.get(a.office, ''))} <code>{escape(a.office)}</code>", escape(a.figures),
                escape(a.why))) + "</tr>" for a in self)
        head = "".join(f"<th{left}>{h}</th>" for h in ("类型", "机关", "数字", "说明"))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def anomalies(overview: Overview) -> Anomalies:
    """What looks wrong in the overview's year, by kind (`KINDS`) then office: a new list of `Anomaly` each call
    (a table in a notebook; changing it changes nothing else). Nothing is compared across cells that the two
    formats define differently."""
    if overview.found is None:
        with _no_pauses():
            kept = kept_parts(overview)
            if kept is None:
                overview.found = _anomalies(overview)
            else:  # kept by what they are found in: this year's and last year's figures, the prose read
                prose = sorted(overview.prose.items())
                found = kept.part("anomalies", part_digest(overview, "anomalies", (overview.year - 1, overview.year),
                                                           prose),
                                  lambda: [[a.kind, a.office, a.figures, a.why] for a in _anomalies(overview)])
                overview.found = [Anomaly(*a) for a in found]
    return Anomalies(overview.found, {o.id: o.name for o in overview.offices})


def _anomalies(overview: Overview) -> list[Anomaly]:
    found: list[Anomaly] = []
    year = overview.year
    for office in overview.offices:
        this, last = overview.values(office.id), overview.values(office.id, year - 1)
        if this is None:
            continue
        kept = isinstance(this, OfficeYear)  # what `_copied` and `_zero` look for, found when it was read
        if last is not None:
            found += _jumps(office.id, totals(this, year), totals(last, year - 1))
            if not kept or this.same:
                found += _copied(office.id, this, last, year)
        if not kept or this.zero:
            found += _zero(office.id, this, overview.prose.get(office.id, ""), year)
    found += _shares(overview)
    order = list(KINDS)
    return sorted(found, key=lambda a: (order.index(a.kind), a.office))


def _jumps(office: str, this: Mapping, last: Mapping) -> list[Anomaly]:
    """One entry per office: every compared figure ×5 or ÷5 from last year (the larger at least JUMP_MIN).
    `this`, `last`: the two years' `totals`."""
    moved = []
    for name in COMPARED:
        now, before = this.get(name), last.get(name)
        if now is None or before is None or max(now, before) < JUMP_MIN:
            continue
        low, high = min(now, before), max(now, before)
        if low == 0 or high >= JUMP_FACTOR * low:
            factor = "" if low == 0 else f"，{'×' if now > before else '÷'}{high / low:.1f}"
            moved.append((name, f"{name}：上年{before}，本年{now}{factor}"))
    if not moved:
        return []
    return [Anomaly("jump", office, "；".join(text for _, text in moved),
                    f"{'、'.join(name for name, _ in moved)}较上年变化5倍以上，请核实是否填错单位、位数或栏目")]


def _copied(office: str, this: Mapping, last: Mapping, year: int) -> list[Anomaly]:
    if format_for(year).id != format_for(year - 1).id:
        return []
    given = [v for v in this.values() if v is not None]
    if this != last or not any(number(v) for v in given):
        return []
    return [Anomaly("copied", office, f"{len(given)}个数字与{year - 1}年完全相同",
                    "表二、表三、表四的每个数字都与上年相同，可能沿用了上年报告")]


ZERO_CHECKS = (("表三", "t3.", APPLICATION_WORDS, "申请"), ("表二处理决定", ".decisions", DECISION_WORDS, "决定"))


@cache
def _zero_cells(year: int, part: str) -> tuple[str, ...]:
    """The cells of `year`'s format a `ZERO_CHECKS` entry reads: keys starting (`t3.`) or ending with `part`."""
    return tuple(ref for ref in format_for(year).cell_kinds()
                 if (ref.startswith(part) if part.endswith(".") else ref.endswith(part)))


def _all_zero(this: Mapping[str, str | None], year: int, part: str) -> bool:
    """The cells of a `ZERO_CHECKS` group that `this` gives are all 0 (or blank), and there is one at least."""
    cells = [this[ref] for ref in _zero_cells(year, part) if ref in this]
    return bool(cells) and not any(number(v) for v in cells)


def _zero(office: str, this: Mapping, prose: str, year: int) -> list[Anomaly]:
    figures, why = [], []
    for table, part, words, what in ZERO_CHECKS:
        if not _all_zero(this, year, part):
            continue
        said = _counted(prose, words)
        if said:
            figures.append(f"{table}全部为0；正文：“{said}”")
            why.append(f"{table}全部为0，正文却写有{what}数字")
    return [Anomaly("zero", office, "；".join(figures), "；".join(why) + "，表格可能漏填")] if figures else []


def _counted(prose: str, words: tuple[str, ...]) -> str | None:
    """The first sentence of `prose` that has one of `words` and a count (件, 人次, 份) above 0."""
    for sentence in SENTENCE.findall(prose):
        if any(w in sentence for w in words) and any(int(n) > 0 for n in COUNTED.findall(sentence)):
            return sentence.strip()
    return None


def _outcomes(overview: Overview, values: Mapping) -> tuple[dict[str, Decimal], Decimal] | None:
    found = totals(values, overview.year)
    groups = {g: found.get(f"outcome.{g}") for g in OUTCOMES}
    if any(v is None for v in groups.values()):
        return None
    return groups, sum(groups.values(), Decimal(0))  # type: ignore[arg-type]


def _shares(overview: Overview) -> list[Anomaly]:
    """Offices whose outcomes (办理结果) are spread far from the rest of the region's."""
    per_office = {o.id: got for o in overview.offices
                  if (v := overview.values(o.id)) is not None and (got := _outcomes(overview, v))}
    found = []
    # The region's sums once; the rest of the region is the sum less the office (was a sum per office: n²).
    region = {g: sum((groups[g] for groups, _ in per_office.values()), Decimal(0)) for g in OUTCOMES}
    region_total = sum((t for _, t in per_office.values()), Decimal(0))
    for office, (groups, total) in per_office.items():
        if total < SHARE_MIN:
            continue
        rest_total = region_total - total
        if rest_total < SHARE_MIN:
            continue
        figures, why = [], []
        for g, label in OUTCOMES.items():
            mine, theirs = groups[g] / total, (region[g] - groups[g]) / rest_total
            if abs(mine - theirs) >= SHARE_GAP:
                figures.append(f"{label}{groups[g]}件，占办理结果{percent(mine)}，本地区其他机关{percent(theirs)}")
                why.append(f"{label}相差{percent(abs(mine - theirs))}")
        if figures:
            found.append(Anomaly("share", office, "；".join(figures),
                                 f"办理结果构成与本地区其他机关相差悬殊（{'，'.join(why)}）"))
    return found


def percent(fraction: Decimal) -> str:
    return f"{fraction * 100:.0f}%"


# -- the batch's job ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OverviewTask:
    """One overview (a year, or a region's year) for a batch worker. `office`, `findings` let the pool report a
    dead worker as it does for a report (`Manifest.put_overview` reads the region back from `office`).

    `hold`: execute and render only, and hand the result back (`ExecutedOverview`) for the batch to publish
    once it knows the overview's digest (`inputs`, unused then): a batch runs an overview as soon as the reports
    its page shows are recorded, while reports of earlier years, which only its digest covers, still run."""

    year: int
    inputs: str | None
    region: str = ""
    findings: tuple = ()
    hold: bool = False

    @property
    def office(self) -> str:
        return f"{OUTPUT_DIR}:{self.region}" if self.region else OUTPUT_DIR

    @property
    def key(self) -> str:
        return overview_key(self.year, self.region or None)

    def execute(self, project: Project, engine: str | None = "nianbao", *, kernel: str | None = None,
                timeout: int | None = None) -> dict | ExecutedOverview:
        """Execute and publish; the outcome as the manifest records it (`status` failed with `error`).
        `kernel`, `timeout`: as for the reports (`--kernel`, `--timeout`). With `hold`: execute, render and return
        the `ExecutedOverview`, writing nothing. A failure is worded as a report's."""
        try:
            done = execute_overview_to_memory(project, self.year, self.region or None, engine=engine,
                                              kernel=kernel, timeout=timeout)
            return done if self.hold else done.publish(project, self.inputs)
        except Exception as exc:  # the overview fails, the batch goes on
            error = failure_reason(exc)
        failed = OverviewEntry(self.year, FAILED, self.inputs, error=error, region=self.region)
        return ExecutedOverview(failed) if self.hold else asdict(failed)


@dataclass
class OverviewEntry:
    """One overview as the manifest records it, with the index's headline figures and, for the year's page,
    the counts its notebook reported (`summary`)."""

    year: int
    status: str
    inputs: str | None
    html: str | None = None
    notebook: str | None = None
    headlines: dict = field(default_factory=dict)
    error: str | None = None
    region: str = ""  # empty: every office of the project
    summary: dict = field(default_factory=dict)


# What an executed overview records as its digest until the batch knows it (`ExecutedOverview.publish`).
PENDING = "nianbao-overview-inputs-pending"


@dataclass
class ExecutedOverview:
    """An overview executed and rendered, not yet written: `entry` as the manifest will record it, less its digest
    (`inputs`); `files`: its notebook (recording `PENDING` as its digest) and its page, path → text. A failed
    execution has no files."""

    entry: OverviewEntry
    files: dict[Path, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return overview_key(self.entry.year, self.entry.region or None)

    def publish(self, project: Project, inputs: str | None) -> dict:
        """Write the files atomically with `inputs` as the recorded digest; the entry as the manifest records it.
        Raises `OSError` when outputs/ cannot be written (nothing partial is left)."""
        pending, digest = json.dumps(PENDING), json.dumps(inputs)
        files = {}
        for path, text in self.files.items():
            if path.suffix == ".ipynb":
                if text.count(pending) != 1:
                    raise ValueError(f"{path}: the executed overview does not record its digest once")
                text = text.replace(pending, digest)
            files[path] = text
        if files:
            write_files(files)
        # Its fields as they are, not `asdict`'s deep copy: the headlines of 1429 offices took 0.1 s a page to copy.
        return dict(vars(replace(self.entry, inputs=inputs)))


def execute_overview(project: Project, year: int, region: str | None = None, *, engine: str | None = None,
                     inputs: str | None = None, timeout: int | None = None,
                     kernel: str | None = None) -> OverviewEntry:
    """Execute `notebooks/overview.ipynb` for `year` (and `region`) with papermill and publish
    `outputs/overview/<year>.ipynb` and `.html` (`outputs/overview/<region slug>/<year>.*` for a region)
    atomically, rendered by the `nianbao` exporter as the reports are. `engine`: a papermill engine name (None:
    a fresh kernel). Raises `ExecutionFailed` when the notebook fails; writes nothing then."""
    done = execute_overview_to_memory(project, year, region, engine=engine, timeout=timeout, kernel=kernel)
    return OverviewEntry(**done.publish(project, inputs))


def execute_overview_to_memory(project: Project, year: int, region: str | None = None, *,
                               engine: str | None = None, timeout: int | None = None,
                               kernel: str | None = None) -> ExecutedOverview:
    """Execute and render an overview as `execute_overview` does, writing nothing. Raises `ExecutionFailed` when
    the notebook fails."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    from .run import normalize, render_page

    html = overview_page(project, year, region)
    ipynb = html.with_suffix(".ipynb")
    try:
        nb = _papermill_in_memory(overview_notebook(project), {"year": year, "region": region or ""}, engine=engine,
                                  cwd=project.root, kernel=kernel, timeout=timeout)
    except PapermillExecutionError as exc:
        raise ExecutionFailed(OUTPUT_DIR, year, exc.ename, exc.evalue, exc.traceback) from None
    normalize(nb, notebook=project.relative(overview_notebook(project)), output=project.relative(ipynb),
              provenance={"status": PUBLISHED, "inputs": PENDING})
    files = {ipynb: nbformat.writes(nb), html: render_page(_for_page(nb))}
    found: dict = {}
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            found = output.get("metadata", {}).get("nianbao", {}) if "nianbao" in output.get("metadata", {}) else found
    return ExecutedOverview(OverviewEntry(year, PUBLISHED, None, html=project.in_outputs(html),
                                          notebook=project.in_outputs(ipynb),
                                          headlines=dict(found.get("headlines") or {}), region=region or "",
                                          summary=dict(found.get("summary") or {})), files)


def _papermill_in_memory(notebook: Path, parameters: dict[str, Any], *, engine: str | None, cwd: Path,
                         kernel: str | None, timeout: int | None) -> Any:
    """`papermill.execute_notebook(notebook, None, parameters, ...)` without its last step: papermill prepares the
    notebook (`prepare_only`: the parameters injected, its metadata) and its engine executes it, as
    `execute_notebook` does, but the executed notebook is not encoded to be written nowhere (an overview's is
    2 MB of JSON at 1429 offices: ~40 ms of a worker's time, and the caller encodes it once more anyway). Raises
    `PapermillExecutionError` when a cell raised, as papermill does."""
    import papermill
    from papermill.engines import papermill_engines
    from papermill.execute import raise_for_execution_errors
    from papermill.utils import chdir

    from .kernel import IPCKernelManager

    nb = papermill.execute_notebook(str(notebook), None, parameters=parameters, engine_name=engine,
                                    kernel_name=kernel, prepare_only=True, progress_bar=False)
    kernel = papermill_engines.nb_kernel_name(engine_name=engine, nb=nb, name=kernel)
    with chdir(str(cwd)):
        nb = papermill_engines.execute_notebook_with_engine(
            engine, nb, input_path=str(notebook), output_path=None, kernel_name=kernel, progress_bar=False,
            log_output=False, start_timeout=60, stdout_file=None, stderr_file=None,
            kernel_manager_class=IPCKernelManager, execution_timeout=timeout)
    raise_for_execution_errors(nb, None)
    return nb


def _for_page(nb: Any) -> Any:
    """`nb` as the page's exporter reads it: the overview's output without the index's headline figures and the
    year page's counts in its metadata, which the page does not show and nbconvert would copy (thousands of
    small dicts for a region of a thousand offices). A shallow copy: `nb` is unchanged."""
    page = copy.copy(nb)
    page.cells = []
    for cell in nb.cells:
        outputs = cell.get("outputs")
        if outputs and any("headlines" in o.get("metadata", {}).get("nianbao", {}) for o in outputs):
            cell = copy.copy(cell)
            cell.outputs = [_without_figures(o) for o in outputs]
        page.cells.append(cell)
    return page


def _without_figures(output: Any) -> Any:
    meta = output.get("metadata", {}).get("nianbao")
    if not meta:
        return output
    output = copy.copy(output)
    output.metadata = {**output.metadata, "nianbao": {k: v for k, v in meta.items() if k not in ("headlines",
                                                                                               "summary")}}
    return output


def summary(overview: Overview, found: list[Anomaly] | None = None) -> dict[str, int]:
    """The counts a year's page lists for a region: offices, offices per status, anomalies, findings."""
    counts = {"offices": len(overview.offices)}
    for office in overview.offices:
        status = overview.status[office.id].get("status", FAILED)
        counts[status] = counts.get(status, 0) + 1
    counts["anomalies"] = len(anomalies(overview) if found is None else found)
    counts["findings"] = sum(len(e.get("findings", ())) for e in overview.status.values())
    return counts


def show_overview(overview: Overview) -> None:
    """Display the overview page in the notebook, marked as page content for the exporter, with the index's
    headline figures and the year page's counts in the output's metadata."""
    from IPython.display import display

    from .render.overview import overview_html

    with _no_pauses():
        found = anomalies(overview)
        meta = {"nianbao": {"role": "overview", "title": overview.title, "headlines": index_headlines(overview),
                            "summary": summary(overview, found)}}
        page = overview_html(overview, found)  # last: it keeps the page's parts, those above included
    display({"text/html": page}, raw=True, metadata=meta)


def _is_fresh(entry: dict | None, digest: str, stats: OutputStats, damaged: dict[str, str] | None = None,
              key: str = "") -> bool:
    """Whether an overview's outputs were made from `digest` and are the files written (`nianbao.written`); an
    entry of an older version, without that record, is trusted when they exist, and gets it (in place). An
    output found changed or deleted is noted in `damaged` (`key` → its name, relative to outputs/)."""
    if not entry or entry.get("status") == FAILED or entry.get("inputs") != digest:
        return False
    names = (entry.get("html"), entry.get("notebook"))
    if not all(type(name) is str for name in names):
        return False
    written = entry.get("written")
    if written is None or not record_well_formed(written):
        if not all(os.path.isfile(f"{stats.outputs}/{name}") for name in names):
            return False
        entry["written"] = content_record(stats.outputs, names)
        stats.noted(names)
        return True
    found = stats.damaged(names, written)
    if found is not None and damaged is not None:
        damaged[key] = found
    return found is None


def _stats(outputs: Path) -> OutputStats:
    return OutputStats(outputs / OUTPUT_DIR / STATS, outputs)


def overview_written(outputs: Path, names: tuple[str, str]) -> list[list] | None:
    """The record of an overview's outputs just written (`nianbao.written.content_record`); their stats are kept
    in `outputs/overview/.written.json`."""
    stats = _stats(outputs)
    stats.noted(names)
    stats.save()
    return content_record(outputs, names)


def _offices(project: Project, registry: Registry | None) -> dict[str, Office]:
    """The registry's offices: `registry`'s, as the caller read it (a batch reads it once), else read now; none
    when it cannot be read (each overview says why, as the reports do)."""
    if registry is not None:
        return registry.offices
    try:
        return read_offices(project)
    except InputError:
        return {}


def _wanted(project: Project, pairs: Iterable[tuple[str, int]], every: Iterable[tuple[str, int]] | None = None,
            registry: Registry | None = None) \
        -> tuple[dict[str, list[Office]], dict[str, str], dict[str | None, dict[int, list[str]]],
                 dict[str | None, set[int]]]:
    """What `overview_tasks` and `overview_plan` share: the regions (`regions`), each office's region, the
    reports listed per region (None: no regions) and year ("office/year"), and the years of each region whose
    overview the selected office-years (`pairs`) concern. `every`: every office-year with a params file, if the
    caller listed them (`list_reports`)."""
    offices = _offices(project, registry)
    grouped = regions(offices.values())
    region_of = {o.id: region for region, members in grouped.items() for o in members}
    listed: dict[str | None, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for office, year in list_reports(project, problems=[]) if every is None else every:
        region = region_of.get(office) if grouped else None
        if region or not grouped:
            listed[region][year].append(f"{office}/{year}")
    # Each selected year's overview of the selected offices' regions, from the first year one of its offices
    # reported: who has not published is news from then on.
    pairs = list(pairs)
    years = {y for _, y in pairs}
    chosen = {region_of.get(o) if grouped else None for o, _ in pairs}
    wanted = {region: {y for y in years if y >= min(found)} for region, found in listed.items()
              if found and region in chosen}
    return grouped, region_of, listed, wanted


def overview_tasks(project: Project, pairs: Iterable[tuple[str, int]], overviews: Mapping[str, dict],
                   reports: Mapping[str, dict], force: bool = False,
                   every: Iterable[tuple[str, int]] | None = None,
                   damaged: dict[str, str] | None = None, registry: Registry | None = None) -> list[OverviewTask]:
    """The overviews of the selected office-years (`pairs`) whose inputs changed since the recorded `overviews`
    (all with `force`): each year's overview of every office, or, when offices.csv names regions, each year's
    overview of the regions of the selected offices. None when the project has no overview notebook.
    `reports`: the manifest's entries, as dicts; `every`: every office-year with a params file, if the caller
    listed them; `damaged`, when given, gets the overviews to build again because a page or notebook of theirs
    was changed or deleted since it was written (overview key → that output, relative to outputs/); `registry`:
    offices.csv as the caller read it (None: read now)."""
    if not overview_notebook(project).is_file():
        return []
    grouped, _, listed, wanted = _wanted(project, pairs, every, registry)
    shared = _shared(project)
    stats = _stats(project.outputs)
    tasks = []
    for region, built in sorted(wanted.items(), key=lambda kv: kv[0] or ""):
        digests = _digests(project, built, region, grouped.get(region) if region else None, listed[region],
                           reports, shared)
        for year in sorted(built):
            key = overview_key(year, region)
            if force or not _is_fresh(overviews.get(key), digests[year], stats, damaged, key):
                tasks.append(OverviewTask(year, digests[year], region or ""))
    if stats.changed:
        stats.keep_only({n for o in overviews.values() for n in (o.get("html"), o.get("notebook"))
                         if type(n) is str})
        stats.save()
    # The latest year first: it is the one reviewers open, and its overview reads the most.
    return sorted(tasks, key=lambda t: (-t.year, t.region))


def overview_plan(project: Project, pairs: Iterable[tuple[str, int]],
                  changing: Iterable[tuple[str, int]], every: Iterable[tuple[str, int]] | None = None,
                  registry: Registry | None = None) -> dict[OverviewTask, set[tuple[str, int]]]:
    """The overviews that a batch rebuilding the reports `changing` (of the selected `pairs`) will make again,
    as `hold` tasks, each with the reports of `changing` its page shows (its region's of its year): it may run
    once those are recorded. An overview's digest covers its region's reports of earlier years as well, so the
    batch publishes it once every report is done (`ExecutedOverview.publish`); `overview_tasks` then says which
    were needed. Empty when the project has no overview notebook. The latest year first. `every`, `registry`: as
    for `overview_tasks`."""
    if not overview_notebook(project).is_file():
        return {}
    grouped, region_of, _, wanted = _wanted(project, pairs, every, registry)
    changed: dict[str | None, dict[int, set[tuple[str, int]]]] = defaultdict(lambda: defaultdict(set))
    for office, year in changing:
        region = region_of.get(office) if grouped else None
        if region or not grouped:
            changed[region][year].add((office, year))
    plan = {}
    for region, years in wanted.items():
        first = min(changed[region], default=None)
        for year in years:
            if first is not None and year >= first:
                plan[OverviewTask(year, None, region or "", hold=True)] = set(changed[region].get(year, ()))
    return dict(sorted(plan.items(), key=lambda kv: (-kv[0].year, kv[0].region)))


def year_pages(project: Project, overviews: dict[str, dict], years: Iterable[int],
               damaged: dict[str, str] | None = None, registry: Registry | None = None) -> list[Path]:
    """Where offices.csv names regions: write `outputs/overview/<year>.html` for each of `years`, the list of
    that year's regions with their counts (from each region's overview as recorded in `overviews`) and links,
    and record it in `overviews` under the year, with its size and digest as written (`written`). A page whose
    text is unchanged is not written again; one changed or deleted since it was written is, and is noted in
    `damaged` (the year → the page, relative to outputs/). `registry`: offices.csv as the caller read it (None:
    read now). Returns the pages written."""
    from .render.overview import year_page_html

    if registry is None:
        try:
            registry = read_registry(project)
        except InputError:
            return []
    grouped = regions(registry.offices.values())
    written = []
    for year in sorted(set(years)):
        rows = [(region, overviews[overview_key(year, region)]) for region in grouped
                if overview_key(year, region) in overviews]
        # A region whose overview failed this time keeps its earlier page (writes are atomic): link it.
        rows = [(region, {**entry, "earlier": project.in_outputs(page)})
                if entry.get("status") == FAILED and (page := overview_page(project, year, region)).is_file()
                else (region, entry) for region, entry in rows]
        if not rows:
            continue
        current = {overview_key(year, region) for region in grouped}
        for key in [k for k, o in overviews.items() if "/" in k and o.get("year") == year and k not in current]:
            del overviews[key]  # a region no office names any more: its page is not linked, its figures not indexed
        path = overview_page(project, year)
        text = year_page_html(year, rows)
        data = text.encode("utf-8")
        try:
            before: bytes | None = path.read_bytes()
        except OSError:
            before = None
        if before != data:
            recorded = overviews.get(str(year), {}).get("written")
            if damaged is not None and recorded and (before is None or recorded != [_content(before)]):
                damaged[str(year)] = project.in_outputs(path)  # not the page last written: changed or deleted
            write_files({path: text})
            written.append(path)
        overviews[str(year)] = {"year": year, "status": PUBLISHED, "html": project.in_outputs(path),
                                "regions": [overview_key(year, r) for r, _ in rows], "written": [_content(data)]}
    return written


def _content(data: bytes) -> list:
    """A page's bytes as `written.content_record` records a file: [size, SHA-256 (hex, its first characters)]."""
    import hashlib

    return [len(data), hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]]


def drop_removed_regions(project: Project, overviews: dict[str, dict], registry: Registry) -> list[Path]:
    """Remove the pages of regions `data/offices.csv` no longer names (renamed, or their offices removed):
    each such `outputs/overview/r-…/` folder with its kept charts (`.charts/r-…/`), and their entries from
    `overviews`; the year's list pages that linked them are written again (`year_pages`). A folder goes by one
    rename out of sight, then is deleted, so no page of it is seen half gone; a leftover of a killed run goes
    next time. Nothing is removed while the registry has a row it cannot read (that row's region may be a
    current one). `registry`: `data/offices.csv` as the batch read it. Returns the folders removed."""
    import shutil

    if registry.problems or registry.unplaced or not registry.offices:
        return []
    current = {region_slug(region) for region in regions(registry.offices.values())}
    root = project.outputs / OUTPUT_DIR
    slug = re.compile(re.escape(SLUG_PREFIX) + "[0-9a-f]{12}")
    stale = [d for parent in (root, root / CHARTS_DIR) if parent.is_dir() for d in sorted(parent.iterdir())
             if d.is_dir() and slug.fullmatch(d.name) and d.name not in current]
    keys = [k for k in overviews if "/" in k and k.partition("/")[0] not in current]
    years = {overviews.pop(k).get("year") for k in keys} | {int(p.stem) for d in stale for p in d.glob("*.html")
                                                           if p.stem.isdigit()}
    if current:  # the year's list of regions, without the removed ones
        year_pages(project, overviews, {y for y in years if isinstance(y, int)}, registry=registry)
    for folder in stale:
        gone = folder.with_name(f".{folder.name}.removed")
        shutil.rmtree(gone, ignore_errors=True)
        folder.rename(gone)
    for parent in (root, root / CHARTS_DIR):
        for gone in parent.glob(f".{SLUG_PREFIX}*.removed"):
            shutil.rmtree(gone, ignore_errors=True)
    return stale


# A kept copy of an office's figures: `<office>.v<format>.json` (format 1: `<office>.json`).
_KEPT_NAME = re.compile(r"(?P<office>[a-z0-9][a-z0-9-]*)(?:\.v[0-9]+)?\.json")


def drop_removed_offices(project: Project, registry: Registry) -> list[Path]:
    """Remove the kept figures (`outputs/overview/.figures/<office>.v2.json`, of any format) of the offices
    `data/offices.csv` no longer names: no overview reads them again. Nothing is removed while the registry has
    a row it cannot read (that row's office may be a current one). Call when the batch saw every office.
    `registry`: `data/offices.csv` as the batch read it. Returns the files removed."""
    if registry.problems or registry.unplaced or not registry.offices:
        return []
    folder = project.outputs / OUTPUT_DIR / CACHE_DIR
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    removed = []
    for name in names:
        if (m := _KEPT_NAME.fullmatch(name)) and m["office"] not in registry.offices:
            (folder / name).unlink(missing_ok=True)
            removed.append(folder / name)
    return removed


_CHART_NAME = re.compile(r"(?:" + re.escape(SLUG_PREFIX) + r"[0-9a-f]{12}/)?[0-9]{4}\.json")


def drop_removed_years(project: Project, every: Iterable[tuple[str, int]], registry: Registry) -> list[Path]:
    """Remove the kept charts (`outputs/overview/.charts/[r-…/]<year>.json`) of overviews that no office-year
    calls for any more: a year whose params files are all gone, a region's year before its first report, a
    year's charts of before there were regions. Call when the batch saw every office-year (`every`: all of
    them, as `list_reports` gives them). Nothing is removed while the registry has a row it cannot read (that
    row's office may be of any region). `registry`: `data/offices.csv` as the batch read it. Returns the files
    removed."""
    if registry.problems or registry.unplaced or not registry.offices:
        return []
    every = list(every)
    _, _, _, wanted = _wanted(project, every, every, registry)
    current = {f"{overview_key(year, region)}.json" for region, years in wanted.items() for year in years}
    root = project.outputs / OUTPUT_DIR / CHARTS_DIR
    found = []
    try:
        for name in sorted(os.listdir(root)):
            found.append(name)
            if (root / name).is_dir():
                found += [f"{name}/{inner}" for inner in sorted(os.listdir(root / name))]
    except OSError:
        return []
    removed = []
    for name in found:
        if _CHART_NAME.fullmatch(name) and name not in current:
            (root / name).unlink(missing_ok=True)
            removed.append(root / name)
    return removed


def index_overviews(overviews: Mapping[str, dict]) -> dict[str, dict]:
    """What the index reads of the overviews, as `render.index.index_html(..., overviews)` takes it: year →
    {"html": the year's page (relative to outputs/), "headlines": office → the three headline figures as
    {"new": [value, change], ...}, "regions": [(region, its overview's page or None when it failed)]}, the
    regions' headlines merged into their year's."""
    out: dict[str, dict] = {}
    for key, entry in sorted(overviews.items()):
        year = str(entry.get("year", key.rpartition("/")[2]))
        merged = out.setdefault(year, {"html": None, "headlines": {}, "regions": []})
        if "/" not in key:
            merged["html"] = entry.get("html")
        else:
            merged["regions"].append((entry.get("region", ""), entry.get("html")))
        merged["headlines"].update(entry.get("headlines") or {})
    for merged in out.values():
        merged["regions"].sort(key=lambda r: r[0])
    return out
