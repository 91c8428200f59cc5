"""The reviewers' overview of a year (`notebooks/overview.ipynb`): who has published, the region's tables summed
over its offices, trends since 2019, each office's headline figures with the change from last year, and what
looks wrong.

`load_overview` reads what the page needs once (registry, figures, this year's prose, the manifest's statuses
and findings); the functions after it compute from that, without I/O. The batch builds one overview per
year after that year's reports (`OverviewTask`, run by the same warm-kernel workers).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from .atomic import temp_path, write_files
from .data import Office, read_figures, read_offices
from .exceptions import ExecutionFailed, InputError
from .formats import Format, format_for
from .kernel import IPCKernelManager
from .manifest import FAILED, MANIFEST, PUBLISHED, shared_digest
from .params import list_reports
from .pool import ANSI
from .project import Project

OUTPUT_DIR = "overview"  # outputs/overview/<year>.html
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


def overview_page(project: Project, year: int) -> Path:
    return project.outputs / OUTPUT_DIR / f"{year}.html"


@dataclass
class Overview:
    """Everything one overview shows, as read from the project.

    `figures`: office → year → cell → text (None when blank), for the years up to `year` that have a params
    file; `status`: office → this year's manifest entry (status, findings, html), or `missing`.
    """

    year: int
    region: str | None
    offices: list[Office]
    figures: dict[str, dict[int, dict[str, str | None]]]
    prose: dict[str, str]  # office → this year's prose, as written
    status: dict[str, dict]
    errors: dict[str, str] = field(default_factory=dict)  # office → why its figures could not be read

    @property
    def title(self) -> str:
        return f"{self.region or '各机关'}{self.year}年政府信息公开工作年度报告概览"

    @property
    def format(self) -> Format:
        return format_for(self.year)

    def values(self, office: str, year: int | None = None) -> dict[str, str | None] | None:
        return self.figures.get(office, {}).get(self.year if year is None else year)


def _manifest_reports(project: Project) -> dict[str, dict]:
    try:
        return json.loads((project.outputs / MANIFEST).read_text(encoding="utf-8")).get("reports", {})
    except (OSError, ValueError, AttributeError):
        return {}


def load_overview(project: Project, year: int, region: str | None = None) -> Overview:
    """Read the offices of `region` (all offices when None or empty), their figures up to `year`, this year's
    prose and the statuses the last batch recorded. An office whose figures cannot be read is listed with
    the error; it adds nothing to the sums. Raises `InputError` when the registry cannot be read."""
    offices = [o for o in read_offices(project).values() if not region or o.region == region]
    submitted = defaultdict(set)
    for office, y in list_reports(project, [o.id for o in offices] or None):
        if y <= year:
            submitted[office].add(y)
    reports = _manifest_reports(project)
    figures: dict[str, dict[int, dict[str, str | None]]] = {}
    prose: dict[str, str] = {}
    status: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for office in offices:
        entry = reports.get(f"{office.id}/{year}")
        status[office.id] = entry or {"status": NOT_SUBMITTED if year not in submitted[office.id] else NOT_BUILT}
        if not submitted[office.id]:
            continue
        try:
            found = _read_figures(project, office.id)
        except InputError as exc:
            errors[office.id] = str(exc)
            continue
        figures[office.id] = {y: dict(found[y].values) for y in sorted(submitted[office.id]) if y in found}
        try:
            prose[office.id] = project.narrative_file(office.id, year).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            pass
    return Overview(year, region or None, offices, figures, prose, status, errors)


# Figures files read in this process, by path, with the (size, mtime) they were read at: a batch worker's warm
# kernel makes several overviews in a row, each reading every office's file.
_READ: dict[Path, tuple[tuple[int, int], dict]] = {}


def _read_figures(project: Project, office: str) -> dict:
    path = project.figures_file(office)
    try:
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        return read_figures(project, office)  # says why, with the file
    if path not in _READ or _READ[path][0] != key:
        _READ[path] = (key, read_figures(project, office))
    return _READ[path][1]


def overview_digest(project: Project, year: int, reports: Mapping[str, dict] | None = None,
                    region: str | None = None) -> str:
    """The digest of an overview's inputs: what every page shares, the overview notebook, the registry, and
    the digest, status and findings of each report up to `year` (a report's digest covers its figures and
    prose). `reports`: the manifest's entries ("office/year" → entry as a dict), read when None."""
    reports = _manifest_reports(project) if reports is None else reports
    h = hashlib.sha256(f"{shared_digest(project)}\0{year}\0{region or ''}\0".encode())
    for path in (overview_notebook(project), project.offices_file):
        h.update(path.read_bytes() if path.is_file() else b"(missing)")
        h.update(b"\0")
    listed = [f"{o}/{y}" for o, y in list_reports(project) if y <= year]
    h.update(json.dumps([(k, *(reports.get(k, {}).get(f) for f in ("inputs", "status", "findings", "html")))
                         for k in listed], ensure_ascii=False, sort_keys=True).encode())
    return h.hexdigest()


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
    for ref in format_for(year).cell_kinds():
        found = [n for v in rows if (n := number(v.get(ref))) is not None]
        counts[ref] = len(found)
        sums[ref] = str(sum(found, Decimal(0))) if found else None
    return sums, counts


def trends(overview: Overview) -> dict[str, dict[int, Decimal]]:
    """Region totals per year since 2019: name → year → value (件), for the charts. A year's value sums the
    offices that gave the figure in that year."""
    series: dict[str, dict[int, Decimal]] = defaultdict(dict)
    names = {**{f"outcome.{k}": v for k, v in OUTCOMES.items()}, **{n: n for n in COMPARED},
             "行政事业性收费（万元）": "t2.fees.amount", "其他管理服务事项（至2020年）": "t2.other_services.decisions"}
    for year in range(FIRST_YEAR, overview.year + 1):
        kinds = format_for(year).cell_kinds()
        rows = [v for o in overview.offices if (v := overview.values(o.id, year)) is not None]
        if not rows:
            continue
        for name, what in names.items():
            if name.startswith("outcome."):
                cells = _outcome_cells(year, name.removeprefix("outcome."))
            else:
                cells = COMPARED.get(name, (what,))
            if not all(c in kinds for c in cells):
                continue  # not in this year's format
            found = [t for v in rows if (t := _total(cells, v)) is not None]
            if found:
                series[name][year] = sum(found, Decimal(0))
    return dict(series)


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
    all outcomes (办理结果总计), as a fraction."""
    year = overview.year if year is None else year
    this, last = overview.values(office, year), overview.values(office, year - 1)
    kinds = format_for(year).cell_kinds()
    last_kinds = format_for(year - 1).cell_kinds() if year > FIRST_YEAR else {}
    out = {}
    for key, _, cells in HEADLINES:
        out[key] = Headline(_total(cells, this) if all(c in kinds for c in cells) else None,
                            _total(cells, last) if all(c in last_kinds for c in cells) else None)
    out["share"] = Headline(_share(this, "t3.open.total"), _share(last, "t3.open.total"))
    return out


def _share(values: Mapping[str, str | None] | None, cell: str) -> Decimal | None:
    part, whole = _total((cell,), values), _total(("t3.total.total",), values)
    return part / whole if part is not None and whole else None


def index_headlines(overview: Overview) -> dict[str, dict[str, list]]:
    """For the index: office → the three `INDEX_HEADLINES` as [value, change] (numbers as text, None when
    unknown), for the offices with figures this year."""
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


def anomalies(overview: Overview) -> list[Anomaly]:
    """What looks wrong in the overview's year, by kind (`KINDS`) then office. Nothing is compared across
    cells that the two formats define differently."""
    found: list[Anomaly] = []
    year = overview.year
    for office in overview.offices:
        this, last = overview.values(office.id), overview.values(office.id, year - 1)
        if this is None:
            continue
        if last is not None:
            found += _jumps(office.id, this, last)
            found += _copied(office.id, this, last, year)
        found += _zero(office.id, this, overview.prose.get(office.id, ""))
    found += _shares(overview)
    order = list(KINDS)
    return sorted(found, key=lambda a: (order.index(a.kind), a.office))


def _jumps(office: str, this: Mapping, last: Mapping) -> list[Anomaly]:
    """One entry per office: every compared figure ×5 or ÷5 from last year (the larger at least JUMP_MIN)."""
    moved = []
    for name, cells in COMPARED.items():
        now, before = _total(cells, this), _total(cells, last)
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


def _zero(office: str, this: Mapping, prose: str) -> list[Anomaly]:
    figures, why = [], []
    checks = (("表三", "t3.", APPLICATION_WORDS, "申请"), ("表二处理决定", ".decisions", DECISION_WORDS, "决定"))
    for table, part, words, what in checks:
        cells = [v for ref, v in this.items() if (ref.startswith(part) if part.endswith(".") else ref.endswith(part))]
        if not cells or any(number(v) for v in cells):
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
    groups = {g: _total(_outcome_cells(overview.year, g), values) for g in OUTCOMES}
    if any(v is None for v in groups.values()):
        return None
    return groups, sum(groups.values(), Decimal(0))  # type: ignore[arg-type]


def _shares(overview: Overview) -> list[Anomaly]:
    """Offices whose outcomes (办理结果) are spread far from the rest of the region's."""
    per_office = {o.id: got for o in overview.offices
                  if (v := overview.values(o.id)) is not None and (got := _outcomes(overview, v))}
    found = []
    for office, (groups, total) in per_office.items():
        if total < SHARE_MIN:
            continue
        rest = [g for o, g in per_office.items() if o != office]
        rest_total = sum((t for _, t in rest), Decimal(0))
        if rest_total < SHARE_MIN:
            continue
        figures, why = [], []
        for g, label in OUTCOMES.items():
            mine, theirs = groups[g] / total, sum((r[g] for r, _ in rest), Decimal(0)) / rest_total
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
    """One year's overview for a batch worker. `office`, `findings` let the pool report a dead worker as it
    does for a report."""

    year: int
    inputs: str
    region: str = ""
    office: str = OUTPUT_DIR
    findings: tuple = ()

    def execute(self, project: Project, engine: str | None = "nianbao", *, kernel: str | None = None,
                timeout: int | None = None) -> dict:
        """Execute and publish; the outcome as the manifest records it (`status` failed with `error`).
        `kernel`, `timeout`: as for the reports (`--kernel`, `--timeout`)."""
        import traceback

        try:
            return asdict(execute_overview(project, self.year, self.region or None, engine=engine,
                                           inputs=self.inputs, kernel=kernel, timeout=timeout))
        except ExecutionFailed as exc:
            error = "\n".join(exc.traceback or [f"{exc.ename}: {exc.evalue}"])
        except Exception as exc:  # the overview fails, the batch goes on
            error = "".join(traceback.format_exception_only(exc)).strip() or type(exc).__name__
        return asdict(OverviewEntry(self.year, FAILED, self.inputs, error=ANSI.sub("", error)))


@dataclass
class OverviewEntry:
    """One year's overview as the manifest records it, with the index's headline figures."""

    year: int
    status: str
    inputs: str | None
    html: str | None = None
    notebook: str | None = None
    headlines: dict = field(default_factory=dict)
    error: str | None = None


def execute_overview(project: Project, year: int, region: str | None = None, *, engine: str | None = None,
                     inputs: str | None = None, timeout: int | None = None,
                     kernel: str | None = None) -> OverviewEntry:
    """Execute `notebooks/overview.ipynb` for `year` with papermill and publish `outputs/overview/<year>.ipynb`
    and `.html` atomically, rendered by the `nianbao` exporter as the reports are. `engine`: a papermill
    engine name (None: a fresh kernel). Raises `ExecutionFailed` when the notebook fails; writes nothing then."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from .run import normalize, render_page

    out = project.outputs / OUTPUT_DIR
    html, ipynb = out / f"{year}.html", out / f"{year}.ipynb"
    scratch = temp_path(ipynb)
    try:
        nb = papermill.execute_notebook(
            str(overview_notebook(project)), str(scratch), parameters={"year": year, "region": region or ""},
            engine_name=engine, cwd=str(project.root), progress_bar=False, request_save_on_cell_execute=False,
            kernel_manager_class=IPCKernelManager, execution_timeout=timeout, kernel_name=kernel,
        )
    except PapermillExecutionError as exc:
        raise ExecutionFailed(OUTPUT_DIR, year, exc.ename, exc.evalue, exc.traceback) from None
    finally:
        scratch.unlink(missing_ok=True)
    normalize(nb, notebook=project.relative(overview_notebook(project)), output=project.relative(ipynb),
              provenance={"status": PUBLISHED, "inputs": inputs})
    write_files({ipynb: nbformat.writes(nb), html: render_page(nb)})
    found = {}
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            found = output.get("metadata", {}).get("nianbao", {}).get("headlines") or found
    return OverviewEntry(year, PUBLISHED, inputs, html=project.in_outputs(html), notebook=project.in_outputs(ipynb),
                         headlines=dict(found))


def show_overview(overview: Overview) -> None:
    """Display the overview page in the notebook, marked as page content for the exporter, with the index's
    headline figures in the output's metadata."""
    from IPython.display import display

    from .render.overview import overview_html

    display({"text/html": overview_html(overview)}, raw=True, metadata={"nianbao": {
        "role": "overview", "title": overview.title, "headlines": index_headlines(overview)}})


def _is_fresh(entry: Mapping | None, digest: str, outputs: Path) -> bool:
    if not entry or entry.get("status") == FAILED or entry.get("inputs") != digest:
        return False
    return all(name and (outputs / name).is_file() for name in (entry.get("html"), entry.get("notebook")))


def overview_tasks(project: Project, years: Iterable[int], overviews: Mapping[str, dict],
                   reports: Mapping[str, dict], force: bool = False) -> list[OverviewTask]:
    """The overviews of `years` whose inputs changed since the recorded `overviews` (all with `force`); none
    when the project has no overview notebook."""
    if not overview_notebook(project).is_file():
        return []
    tasks = []
    for year in sorted(set(years)):
        digest = overview_digest(project, year, reports)
        if force or not _is_fresh(overviews.get(str(year)), digest, project.outputs):
            tasks.append(OverviewTask(year, digest))
    return tasks

