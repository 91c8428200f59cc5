"""The reviewers' overview (`notebooks/overview.ipynb`): summed tables, what looks wrong, charts, the index's
headline figures, and the batch's overview job (real kernels, papermill, nbconvert; incremental, deterministic)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import ROOT, copy_project, index_text, set_figure

from nianbao.batch import run_batch
from nianbao.data import read_offices
from nianbao.formats import format_for
from nianbao.overview import (
    KINDS,
    NOT_SUBMITTED,
    _counted,
    anomalies,
    execute_overview,
    load_overview,
    overview_page,
    region_slug,
    region_tables,
)
from nianbao.params import list_reports
from nianbao.project import Project
from nianbao.synth import ANOMALIES, SKIPS_A_YEAR, synth

YEARS = range(2019, 2025)
KIND_OF = {"jump": "jump", "drop": "jump", "copied": "copied", "zero": "zero", "share": "share"}  # synth → overview


def make(folder: Path, seed: int, offices: int = 12, years: range = YEARS) -> tuple[Project, dict]:
    synth(folder, offices, years, seed, anomalies=True)
    return Project(folder), json.loads((folder / "synth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Project:
    """The repository's demo project, built once by `nianbao batch` (reports, then each year's overview)."""
    project = copy_project(tmp_path_factory.mktemp("demo") / "proj")
    result = run_batch(project)
    assert result.exit_code == 0, [o.get("error") for o in result.overviews]
    # Each year of the district's; 太和街道 (昆明市官渡区, one office) from its first report, 2020.
    assert sorted((o["region"], o["year"]) for o in result.overviews) == sorted(
        [(DEMO_REGION, y) for y in YEARS] + [(DEMO_OTHER, y) for y in YEARS if y >= 2020])
    return project


DEMO_REGION, DEMO_OTHER = "示例省示例市示例区", "云南省昆明市官渡区"
SYNTH_REGION = "示例省示例市示例区"  # every office `synth` makes


def page(project: Project, year: int, region: str = DEMO_REGION) -> str:
    """A region's overview of `year`, as the batch published it."""
    return overview_page(project, year, region).read_text(encoding="utf-8")


def page_of_year(project: Project, year: int) -> str:
    return (project.outputs / "overview" / f"{year}.html").read_text(encoding="utf-8")


# -- the region's tables ------------------------------------------------------------------------------

def expected_sums(project: Project, offices: list[str], year: int) -> tuple[dict[str, Decimal], dict[str, int]]:
    """Straight from the CSV files: each cell's sum over the offices that wrote a number, and how many did."""
    sums: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    for office in offices:
        with project.figures_file(office).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if int(row["year"]) != year:
                    continue
                ref = f"{row['table']}.{row['row']}.{row['column']}"
                try:
                    value = Decimal(row["value"])
                except ArithmeticError:
                    continue
                sums[ref] = sums.get(ref, Decimal(0)) + value
                counts[ref] = counts.get(ref, 0) + 1
    return sums, counts


@pytest.mark.parametrize("year", [2020, 2024])
def test_summed_tables_are_the_sum_of_the_offices_figures_and_blanks_are_not_zeros(tmp_path, year) -> None:
    project, _ = make(tmp_path / "p", seed=5)
    set_figure(project, "shili-0001", year, "t3.new.natural", "")  # blank: not reported
    set_figure(project, "shili-0002", year, "t3.new.natural", "")
    set_figure(project, "shili-0003", year, "t4.review.upheld", "x")  # not a number: not counted
    amount = "t2.procurement.amount" if year < 2021 else "t2.fees.amount"
    set_figure(project, "shili-0004", year, amount, "12.3456")
    offices = [o for o, y in list_reports(project) if y == year]
    sums, counts = region_tables(load_overview(project, year))
    want, want_counts = expected_sums(project, offices, year)
    assert set(sums) == set(format_for(year).cell_kinds())
    for ref in sums:
        assert counts[ref] == want_counts.get(ref, 0), ref
        assert (None if sums[ref] is None else Decimal(sums[ref])) == want.get(ref), ref
    assert counts["t3.new.natural"] == len(offices) - 2 and counts["t3.new.total"] == len(offices)
    assert counts["t4.review.upheld"] == len(offices) - 1
    assert sums[amount] == str(want[amount]) and len(sums[amount].split(".")[1]) == 4  # decimals kept (万元)


def test_the_page_shows_the_summed_grid_with_the_count_of_reporting_offices(demo) -> None:
    overview = load_overview(demo, 2024)
    sums, counts = region_tables(overview)
    html = page(demo, 2024)
    for ref in ("t3.new.total", "t3.open.natural", "t4.review.total", "t2.fees.amount"):
        assert f'>{sums[ref]}<span class="nb-count">{counts[ref]}</span></td>' in html, ref
    # The official grid, by the report renderer: the label cells of table 三 as the format prints them.
    assert "一、本年新收政府信息公开申请数量" in html and 'class="nb-table nb-t3"' in html


# -- what looks wrong ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 7])
def test_each_injected_anomaly_is_listed_with_its_office_and_no_clean_office_is(tmp_path, seed) -> None:
    project, listing = make(tmp_path / "p", seed)
    assert sorted(listing["anomalies"].values()) == sorted(ANOMALIES.values())
    found = anomalies(load_overview(project, 2024))
    listed = {(a.kind, a.office) for a in found}
    for key, kind in listing["anomalies"].items():
        assert (KIND_OF[kind], key.split("/")[0]) in listed, (key, kind, found)
    injected = {key.split("/")[0] for key in listing["anomalies"]}
    assert {a.office for a in found} <= injected
    for year in YEARS[:-1]:  # nothing injected before the last year: nothing listed
        assert anomalies(load_overview(project, year)) == [], year


def test_anomalies_say_which_figures_and_why(tmp_path) -> None:
    project, _ = make(tmp_path / "p", seed=2)
    found = anomalies(load_overview(project, 2024))
    by = {(a.kind, a.office): a for a in found}
    assert len(by) == len(found)  # one entry per office and kind
    assert "行政许可决定：上年" in by[("jump", "shili-0002")].figures and "×" in by[("jump", "shili-0002")].figures
    assert "÷" in by[("jump", "shili-0003")].figures
    assert "与2023年完全相同" in by[("copied", "shili-0004")].figures
    zero = by[("zero", "shili-0005")].figures
    assert "表三全部为0" in zero and "申请26件" in zero and "表二处理决定全部为0" in zero
    assert "予以公开0件" in by[("share", "shili-0006")].figures


@pytest.mark.parametrize(("prose", "counted"), [
    ("全年共受理政府信息公开申请26件，均已答复。", True),
    ("本年度共有3人次申请公开政府信息", True),
    ("全年新收政府信息公开申请0件，上年结转0件。", False),
    ("2024年，本机关未收到政府信息公开申请。", False),
    ("全年作出行政许可决定112件。", False),  # decisions are not applications
])
def test_prose_that_counts_applications(prose: str, counted: bool) -> None:
    assert bool(_counted(prose, ("申请",))) is counted


def test_a_copied_report_across_the_format_change_is_not_compared(tmp_path) -> None:
    project, _ = make(tmp_path / "p", seed=1, offices=7, years=range(2019, 2023))
    assert [a for a in anomalies(load_overview(project, 2021)) if a.kind == "copied"] == []


# -- the demo data ------------------------------------------------------------------------------------

def test_demo_has_a_region_of_ten_offices_over_2019_2024_with_every_kind_and_a_missing_year(repo) -> None:
    offices = read_offices(repo)
    region = [o.id for o in offices.values() if o.region == "示例省示例市示例区"]
    assert len(region) >= 10 and all("示例" in offices[o].name for o in region)
    reports = set(list_reports(repo))
    missing = [(o, y) for o in region for y in YEARS if (o, y) not in reports]
    assert missing == [(f"shili-{SKIPS_A_YEAR:04d}", 2022)]
    kinds = {a.kind for a in anomalies(load_overview(repo, 2024))}
    assert kinds == set(KINDS)


# -- the page, the batch, the index -------------------------------------------------------------------

def test_batch_writes_an_overview_per_year_linked_from_the_index_with_headline_figures(demo) -> None:
    manifest = json.loads((demo.outputs / "manifest.json").read_text(encoding="utf-8"))
    index = index_text(demo.outputs)
    for year in YEARS:
        recorded = manifest["overviews"][str(year)]  # the year's page: its regions, linked
        assert recorded["status"] == "published" and recorded["html"] == f"overview/{year}.html"
        region = manifest["overviews"][f"{region_slug(DEMO_REGION)}/{year}"]
        assert region["status"] == "published" and region["html"] == f"overview/{region_slug(DEMO_REGION)}/{year}.html"
        assert (demo.outputs / region["notebook"]).is_file()
        assert f'href="overview/{year}.html"' in index
        assert f'href="{region_slug(DEMO_REGION)}/{year}.html"' in page_of_year(demo, year)
    # shili-0002 2024: 新收申请 and its change from 2023, straight from the figures.
    with demo.figures_file("shili-0002").open(encoding="utf-8") as f:
        new = {int(r["year"]): int(r["value"]) for r in csv.DictReader(f)
               if r["row"] == "new" and r["column"] == "total"}
    change = new[2024] - new[2023]
    shown = "持平" if not change else f"+{change}" if change > 0 else f"−{-change}"
    row = re.search(r'<tr[^>]*data-search="shili-0002 [^"]* 2024 [^"]*".*?</tr>', index).group(0)
    assert f'data-key="{new[2024]}">{new[2024]} <span class="change">{shown}</span>' in row


def test_the_notebook_lists_what_looks_wrong_as_a_table_without_pandas(demo) -> None:
    """The overview notebook's own list of anomalies (a list of `Anomaly` a notebook shows as a table), each row
    with its kind's label and key, the office's name and id, the figures and why, left-aligned (notebooks set
    table cells right); pandas is not imported for it (~0.4 s of every kernel that makes an overview). The list is
    the analyst's to change: the page is not; a slice is still a table; none found says so."""
    from html import escape

    import nbformat

    from nianbao.overview import Anomalies, show_overview

    nb = nbformat.read(overview_page(demo, 2024, DEMO_REGION).with_suffix(".ipynb"), as_version=4)
    assert "pandas" not in "".join(c.source for c in nb.cells if c.cell_type == "code")
    (table,) = [o.data["text/html"] for c in nb.cells for o in c.get("outputs", ())
                if o.output_type == "execute_result"]
    overview = load_overview(demo, 2024, DEMO_REGION)
    found = anomalies(overview)
    names = {o.id: o.name for o in overview.offices}
    left = ' style="text-align:left"'
    assert found and table.count("<tr>") == len(found) + 1
    assert table.startswith(f"<table><thead><tr><th{left}>类型</th><th{left}>机关</th><th{left}>数字</th>")
    for a in found:
        assert (f"<td{left}>{escape(KINDS[a.kind])} <code>{a.kind}</code></td><td{left}>{escape(names[a.office])} "
                f"<code>{a.office}</code></td><td{left}>{escape(a.figures)}</td><td{left}>{escape(a.why)}</td>"
                ) in table
    assert isinstance(found, list) and isinstance(found[:2], Anomalies) and len(found[:2]) == 2
    found.clear()  # the analyst's own list: the page and the next call are not changed
    assert anomalies(overview) and len(anomalies(overview)) == table.count("<tr>") - 1
    show_overview(overview)
    assert Anomalies()._repr_html_() == "<p>未发现需要关注的情况。</p>"


def test_who_has_published_includes_the_offices_with_no_report(demo) -> None:
    overview = load_overview(demo, 2022)
    assert overview.status["shili-0007"]["status"] == NOT_SUBMITTED
    assert overview.status["guandu-taihe"]["status"] == NOT_SUBMITTED
    assert overview.status["shili-0001"]["status"] == "published"
    html = page(demo, 2022)
    assert re.search(r"shili-0007</span></td>.*?未提交", html)
    assert 'href="../../shili-0001/2022.html"' in html  # from outputs/overview/<region>/


def test_charts_are_inline_svg_whose_chinese_text_stays_text_and_nothing_is_fetched(demo) -> None:
    html = page(demo, 2024)
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 3
    texts = "".join(re.findall(r"<text[^>]*>([^<]*)</text>", "".join(svgs)))
    for label in ("新收申请", "予以公开", "行政复议", "行政许可决定", "2021年起执行新格式"):
        assert label in texts
    assert "<image" not in html and "@font-face" not in html and "url(" not in html.replace("url(#", "")
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    assert "dc:date" not in html and "<metadata>" not in html


def test_overview_is_byte_identical_from_run_to_run_and_to_the_batchs(demo) -> None:
    batch_page = overview_page(demo, 2023, DEMO_REGION).read_bytes()
    first = execute_overview(demo, 2023, DEMO_REGION)  # a fresh kernel each, not the batch's warm one
    one = (demo.outputs / first.html).read_bytes()
    execute_overview(demo, 2023, DEMO_REGION)
    assert (demo.outputs / first.html).read_bytes() == one == batch_page


def test_an_overview_executed_in_memory_is_the_one_papermill_executes(demo, tmp_path) -> None:
    """`execute_overview_to_memory` has papermill prepare the notebook and its engine execute it, but does not have
    papermill encode the executed notebook for nowhere: its notebook and page are those of papermill's own
    `execute_notebook` (writing its output file), normalized alike, on a fresh kernel and on the warm engine, and
    the batch's (the recorded digest for the placeholder)."""
    import nbformat
    import papermill

    from nianbao import engines
    from nianbao.overview import PENDING, _for_page, execute_overview_to_memory, overview_notebook
    from nianbao.run import normalize, render_page

    html = overview_page(demo, 2023, DEMO_REGION)
    ipynb = html.with_suffix(".ipynb")
    nb = papermill.execute_notebook(str(overview_notebook(demo)), str(tmp_path / "out.ipynb"),
                                    parameters={"year": 2023, "region": DEMO_REGION}, cwd=str(demo.root),
                                    progress_bar=False)
    normalize(nb, notebook=demo.relative(overview_notebook(demo)), output=demo.relative(ipynb),
              provenance={"status": "published", "inputs": PENDING})
    recorded = json.loads(ipynb.read_text(encoding="utf-8"))["metadata"]["nianbao"]["inputs"]
    try:
        for engine in (None, "nianbao", "nianbao"):  # the warm kernel's second overview too
            done = execute_overview_to_memory(demo, 2023, DEMO_REGION, engine=engine)
            assert done.files[ipynb] == nbformat.writes(nb)
            assert done.files[html] == render_page(_for_page(nb)) == html.read_text(encoding="utf-8")
            assert done.files[ipynb].replace(json.dumps(PENDING), json.dumps(recorded)) \
                == ipynb.read_text(encoding="utf-8")
    finally:
        engines.shutdown()
    assert not [p for p in demo.outputs.rglob("*") if ".tmp" in p.name]


def test_overview_is_rebuilt_when_one_figure_changes_and_only_the_years_that_read_it(tmp_path) -> None:
    project, _ = make(tmp_path / "p", seed=3, offices=7, years=range(2022, 2025))
    first = run_batch(project)
    assert first.exit_code == 0 and [o["status"] for o in first.overviews] == ["published"] * 3
    html = {y: overview_page(project, y, SYNTH_REGION) for y in range(2022, 2025)}
    before = {y: (p.stat().st_mtime_ns, p.read_bytes()) for y, p in html.items()}
    assert run_batch(project).built == 0
    assert {y: p.stat().st_mtime_ns for y, p in html.items()} == {y: b[0] for y, b in before.items()}
    set_figure(project, "shili-0001", 2023, "t2.license.decisions", "987654")
    again = run_batch(project)
    assert again.built == 2  # 2023 and 2024 (it reads last year's figures)
    changed = {y for y, p in html.items() if p.read_bytes() != before[y][1]}
    untouched = {y for y, p in html.items() if p.stat().st_mtime_ns == before[y][0]}
    assert changed == {2023, 2024} and untouched == {2022}
    assert "本年987654" in html[2023].read_text(encoding="utf-8")  # listed as a jump from last year


def test_readme_says_why_matplotlib() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "matplotlib" in readme and "svg.fonttype" in readme


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(not (CHROMIUM and shutil.which("pdftotext")),
                    reason="needs Chromium and pdftotext (poppler-utils); .ci/run installs them")
def test_printed_overview_keeps_the_charts_chinese_text_as_text(demo, tmp_path) -> None:
    """A real browser prints the page: the charts' labels come out as searchable text, drawn with the
    browser's fonts, and the summed grid is there too."""
    pdf = tmp_path / "overview.pdf"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                    overview_page(demo, 2024, DEMO_REGION).as_uri()],
                   check=True, capture_output=True, timeout=120)
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    for label in ("依申请公开：新收申请与办理结果", "2021年起执行新格式", "行政许可决定", "表格与上年完全相同",
                  "一、本年新收政府信息公开申请数量"):
        assert label in text, label


def test_a_failing_overview_fails_alone_and_is_retried_next_time(tmp_path) -> None:
    synth(tmp_path / "p", 1, range(2024, 2025))
    project = Project(tmp_path / "p")
    path = project.notebook.with_name("overview.ipynb")
    good = path.read_text(encoding="utf-8")
    nb = json.loads(good)
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "boom", "metadata": {}, "outputs": [],
                        "source": "raise RuntimeError('boom in the overview')"})
    path.write_text(json.dumps(nb), encoding="utf-8")
    result = run_batch(project, jobs=1)
    assert result.exit_code == 2 and {e.status for e in result.entries} == {"published"}
    (failed,) = result.overviews
    assert failed["status"] == "failed" and "boom in the overview" in failed["error"]
    # Worded as a failed report is: the exception first (the batch's summary shows that line), then the traceback.
    assert failed["error"].startswith("RuntimeError: boom in the overview\n\n"), failed["error"][:200]
    assert not overview_page(project, 2024, SYNTH_REGION).exists()
    assert "生成失败：" in page_of_year(project, 2024)  # the year's page says so
    path.write_text(good, encoding="utf-8")  # fixed: the next batch builds the overview, not the report
    again = run_batch(project, jobs=1)
    assert again.exit_code == 0 and again.built == 0 and again.overviews[0]["status"] == "published"


# -- regions --------------------------------------------------------------------------------------------

REGION_A, REGION_B = "甲省甲市甲区", "乙省乙市乙区"


def split_regions(project: Project, in_a: set[int]) -> dict[str, list[str]]:
    """Put the synth offices numbered `in_a` in REGION_A and the others in REGION_B; region → office ids."""
    path = project.offices_file
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    column = rows[0].index("region")
    members: dict[str, list[str]] = {REGION_A: [], REGION_B: []}
    for row in rows[1:]:
        row[column] = REGION_A if int(row[0].removeprefix("shili-")) in in_a else REGION_B
        members[row[column]].append(row[0])
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return members


def test_region_slugs_are_ascii_stable_and_distinct() -> None:
    names = ["示例省示例市示例区", "云南省昆明市官渡区", "甲/乙 区", "a\\b:c*?", "..", "区" * 300, "e\u0301区", "é区"]
    slugs = [region_slug(n) for n in names]
    assert all(re.fullmatch(r"r-[0-9a-f]{12}", s) for s in slugs)
    assert len(set(slugs)) == len(names) - 1  # NFC: e + combining acute is é
    assert region_slug(" 示例省示例市示例区 ") == slugs[0] == "r-b318c4a5dbef"  # the same in every version


@pytest.mark.parametrize("seed", [0, 3])
def test_each_region_sums_its_own_offices_and_lists_its_own_anomalies(tmp_path, seed) -> None:
    project, listing = make(tmp_path / "p", seed)
    members = split_regions(project, {1, 2, 3, 4, 8, 9})  # jump, drop, copied in A; zero, share, a gap in B
    injected = {key.split("/")[0]: kind for key, kind in listing["anomalies"].items()}
    for region, offices in members.items():
        for year in (2020, 2023, 2024):
            overview = load_overview(project, year, region)
            assert [o.id for o in overview.offices] == offices
            sums, counts = region_tables(overview)
            want_sums, want_counts = expected_sums(project, offices, year)
            assert {r: Decimal(v) for r, v in sums.items() if v is not None} == want_sums
            assert {r: n for r, n in counts.items() if n} == want_counts
        found = anomalies(load_overview(project, 2024, region))
        listed = {(a.kind, a.office) for a in found}
        mine = {o: k for o, k in injected.items() if o in offices}
        assert mine and all((KIND_OF[k], o) in listed for o, k in mine.items()), (region, found)
        assert {a.office for a in found} <= set(mine)  # no clean office, no office of the other region


def test_a_change_in_one_region_rebuilds_that_regions_overview_only(tmp_path) -> None:
    project, _ = make(tmp_path / "p", seed=2, offices=8, years=range(2022, 2025))
    split_regions(project, {1, 2, 3, 4})
    first = run_batch(project)
    assert first.exit_code == 0
    assert sorted((o["region"], o["year"]) for o in first.overviews) == [
        (r, y) for r in sorted((REGION_A, REGION_B)) for y in (2022, 2023, 2024)]
    pages = {(r, y): overview_page(project, y, r) for r in (REGION_A, REGION_B) for y in (2022, 2023, 2024)}
    years = {y: overview_page(project, y) for y in (2022, 2023, 2024)}

    def stamps() -> dict:
        return {k: p.stat().st_mtime_ns for k, p in {**pages, **years}.items()}

    before = stamps()
    # The year's page links each region's overview by its folder; the index links the year's page.
    for y, path in years.items():
        text = path.read_text(encoding="utf-8")
        assert all(f'href="{region_slug(r)}/{y}.html"' in text for r in (REGION_A, REGION_B))
        assert REGION_A in text and REGION_B in text
        assert f'href="overview/{y}.html"' in (project.outputs / "index.html").read_text(encoding="utf-8")
    # A region's page lists its offices only, and its anomalies (shili-0002's jump is in A).
    a, b = (pages[(r, 2024)].read_text(encoding="utf-8") for r in (REGION_A, REGION_B))
    assert "shili-0001" in a and "shili-0005" not in a and "shili-0005" in b and "shili-0001" not in b
    assert re.search(r'id="kind-jump".*?shili-0002', a, re.S)

    again = run_batch(project)  # no-op: no overview, no year page is written
    assert again.built == 0 and stamps() == before
    set_figure(project, "shili-0003", 2024, "t2.penalty.decisions", "765432")  # region A, 2024
    after = run_batch(project)
    assert after.built == 1 and [(o["region"], o["year"]) for o in after.overviews if o["inputs"] != next(
        p["inputs"] for p in first.overviews if (p["region"], p["year"]) == (o["region"], o["year"]))] == [
        (REGION_A, 2024)]
    changed = {k for k, t in stamps().items() if t != before[k]}
    assert changed <= {(REGION_A, 2024), 2024} and (REGION_A, 2024) in changed
    assert "本年765432" in pages[(REGION_A, 2024)].read_text(encoding="utf-8")


# -- the office id `overview` -------------------------------------------------------------------------

def test_the_office_id_overview_is_refused_where_it_is_written(project, tmp_path) -> None:
    from nianbao.data import read_registry

    with project.offices_file.open("a", encoding="utf-8") as f:
        f.write("overview,示例区概览办公室,示例省示例市示例区,,,,\n")
    line = len(project.offices_file.read_text(encoding="utf-8").splitlines())
    registry = read_registry(project)
    (problem,) = registry.unplaced
    assert "overview" not in registry.offices and "guandu-taihe" in registry.offices  # the others stay
    text = str(problem)
    assert text.startswith(f"data/offices.csv:{line}") and "保留名称" in text and "outputs/overview/" in text
    # A params folder of that name is named as bad input too, and the other reports are listed.
    (project.root / "params" / "overview").mkdir()
    (project.root / "params" / "overview" / "2024.yaml").write_text("office: overview\nyear: 2024\n", encoding="utf-8")
    problems: list = []
    listed = list_reports(project, problems=problems)
    assert ("guandu-taihe", 2020) in listed and all(o != "overview" for o, _ in listed)
    assert len(problems) == 1 and "params/overview" in str(problems[0]) and "保留名称" in str(problems[0])
    # `nianbao new overview 2024`: exit 2, one line, no traceback, nothing written.
    run = subprocess.run([str(Path(sys.executable).parent / "nianbao"), "new", "overview", "2024",
                          "--project", str(project.root)], capture_output=True, text=True)
    assert run.returncode == 2 and "保留名称" in run.stderr and "Traceback" not in run.stderr
    assert not (project.data / "narrative" / "overview").exists()


def test_kept_figures_are_not_trusted_for_a_file_edited_in_its_timestamp_tick(project: Project) -> None:
    """The overviews' copy of an office's figures, keyed by size and mtime, follows the batch's digests'
    rule (`nianbao.digests.SETTLE_NS`): a file read within the settling time of its mtime is read again, so a
    second edit of the same size in the same tick is seen; a settled file is read from the copy."""
    import os

    from nianbao import overview

    path = project.figures_file("shili-0001")
    text = path.read_text(encoding="utf-8")
    assert "2019,t2,rules,made,1\n" in text
    path.write_text(text, encoding="utf-8")  # just saved by the analyst: its mtime is now
    overview._READ.clear()
    assert overview._read_figures(project, "shili-0001")[2019]["t2.rules.made"] == "1"
    st = path.stat()
    path.write_text(text.replace("2019,t2,rules,made,1\n", "2019,t2,rules,made,7\n"), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only the bytes differ
    assert overview._read_figures(project, "shili-0001")[2019]["t2.rules.made"] == "7"
    # Settled (mtime well in the past): kept in this process and in outputs/overview/.figures/.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 10 * 10**9))
    overview._read_figures(project, "shili-0001")
    kept = project.outputs / overview.OUTPUT_DIR / overview.CACHE_DIR / f"shili-0001.v{overview.KEPT_FORMAT}.json"
    assert kept.is_file() and str(path) in overview._READ
