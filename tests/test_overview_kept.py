"""What the overviews keep between pages and batches (`outputs/overview/.figures/`, `.charts/`) and in a warm
kernel's memory: a page made from kept summaries is byte-identical to one made from the figures as read, and
no kept thing outlives the file or the data it was made from."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import set_figure
from test_contract import mount

from nianbao import overview as ov
from nianbao.batch import run_batch
from nianbao.data import read_figures
from nianbao.params import list_reports
from nianbao.project import Project
from nianbao.render import charts
from nianbao.render.charts import KeptCharts, trend_chart
from nianbao.render.overview import overview_html
from nianbao.synth import synth

REGION = "示例省示例市示例区"  # every office `synth` makes
# Texts a figures file may hold that a sum must treat as today's Decimal code does: exponents, signs, padding,
# leading zeros, decimals (万元), more digits than a kept integer has, blanks and words.
ODD = {
    ("shili-0001", "t3.new.natural"): "1E+3", ("shili-0002", "t3.new.natural"): "-0",
    ("shili-0003", "t3.new.natural"): " 5", ("shili-0004", "t3.new.natural"): "007",
    ("shili-0001", "t2.license.decisions"): "12345678901234567890123", ("shili-0002", "t2.fees.amount"): "2.50",
    ("shili-0003", "t2.fees.amount"): "1.5", ("shili-0005", "t4.review.upheld"): "abc",
    ("shili-0006", "t4.review.upheld"): "", ("shili-0004", "t3.open.total"): "-3",
}


def make(folder: Path, offices: int = 9, years: range = range(2021, 2025)) -> Project:
    synth(folder, offices, years, 11, anomalies=offices >= 7 and len(years) >= 3)
    return Project(folder)


def settle(project: Project, ago: float = 30, office: str = "*") -> None:
    """The figures files' mtime `ago` seconds in the past, as files not edited during the run are."""
    for path in (project.data / "figures").glob(f"{office}.csv"):
        past = time.time_ns() - int(ago * 1e9)
        os.utime(path, ns=(past, past))


def forget() -> None:
    """What this process keeps in memory (a new warm kernel)."""
    ov._READ.clear()


def plain(project: Project, year: int) -> ov.Overview:
    """The overview the way issue 13's code read it: each office's cells as `read_figures` gives them (dicts),
    every office's prose, charts drawn each time."""
    kept = ov.load_overview(project, year, REGION)
    figures = {}
    for office, years in kept.figures.items():
        found = read_figures(project, office)
        figures[office] = {y: dict(found[y].values) for y in years}
    prose = {o: project.narrative_file(o, year).read_text(encoding="utf-8-sig") for o in figures
             if project.narrative_file(o, year).is_file()}
    return ov.Overview(year, REGION, kept.offices, figures, prose, kept.status, kept.errors)


def page(overview: ov.Overview) -> tuple[str, dict, dict, list]:
    found = ov.anomalies(overview)
    return overview_html(overview, found), ov.index_headlines(overview), ov.summary(overview, found), found


def decimal_sums(project: Project, year: int) -> dict[str, str]:
    """Each cell's sum as issue 13's code made it: Decimals added from Decimal(0), as text."""
    sums: dict[str, list[Decimal]] = {}
    for office, y in list_reports(project):
        if y == year:
            for ref, text in read_figures(project, office)[year].values.items():
                if (n := ov.number(text)) is not None:
                    sums.setdefault(ref, []).append(n)
    return {ref: str(sum(found, Decimal(0))) for ref, found in sums.items()}


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> Project:
    project = make(tmp_path_factory.mktemp("odd") / "p")
    for (office, ref), text in ODD.items():
        set_figure(project, office, 2022, ref, text)
    settle(project)
    return project


@pytest.mark.parametrize("year", [2022, 2023, 2024])
def test_a_page_from_kept_summaries_is_the_page_from_the_figures_as_read(odd, year) -> None:
    """Read from the files, from this process's memory, and from the kept copies on disk: the same page, index
    figures, counts and anomalies as the dicts-of-texts path, and the same sums as adding Decimals."""
    forget()
    shutil.rmtree(odd.outputs / ov.OUTPUT_DIR, ignore_errors=True)
    want = page(plain(odd, year))
    if year == 2024:  # synth's anomalies: every kind, in the last year
        assert {a.kind for a in want[3]} == set(ov.KINDS)
    first = ov.load_overview(odd, year, REGION)  # read from the files, kept on disk
    assert isinstance(first.values("shili-0001"), ov.OfficeYear)
    assert page(first) == want
    again = ov.load_overview(odd, year, REGION)  # from memory
    assert again.values("shili-0001") is first.values("shili-0001") and page(again) == want
    forget()
    from_disk = ov.load_overview(odd, year, REGION)  # from the kept copies
    assert from_disk.values("shili-0001") is not first.values("shili-0001")
    assert page(from_disk) == want
    sums, _ = ov.region_tables(from_disk)
    assert {ref: s for ref, s in sums.items() if s is not None} == decimal_sums(odd, year)
    if year == 2022:
        big = sums["t2.license.decisions"]
        assert big.startswith("12345678901234567890") and len(big) == 23  # no rounding, no exponent


def test_kept_cells_read_back_as_they_were_written(odd) -> None:
    """The mapping of an office-year, kept and read back: the same cells, texts, blanks and absent cells."""
    forget()
    fresh = ov._read_figures(odd, "shili-0002")
    forget()
    back = ov._read_figures(odd, "shili-0002")
    for year, values in read_figures(odd, "shili-0002").items():
        assert dict(fresh[year]) == dict(back[year]) == values.values
        assert back[year].totals == ov.totals(dict(values.values), year)


def test_prose_is_read_only_where_a_table_is_all_zero(odd) -> None:
    overview = ov.load_overview(odd, 2024, REGION)
    zero = {o for o, years in overview.figures.items() if 2024 in years and years[2024].zero}
    assert zero and set(overview.prose) == zero
    assert any(a.kind == "zero" for a in ov.anomalies(overview))


# -- the kept figures: stale, same-size edits, spoilt copies, read-only outputs ------------------------------

def kept_file(project: Project, office: str) -> Path:
    return project.outputs / ov.OUTPUT_DIR / ov.CACHE_DIR / f"{office}.v{ov.KEPT_FORMAT}.json"


def test_an_edited_file_is_read_again_and_its_sums_follow(tmp_path) -> None:
    project = make(tmp_path / "p", offices=4, years=range(2022, 2024))
    settle(project)
    forget()
    before = ov.load_overview(project, 2023, REGION)
    assert kept_file(project, "shili-0001").is_file()
    old = before.values("shili-0001").totals["新收申请"]
    set_figure(project, "shili-0001", 2023, "t3.new.total", str(old + 41))
    settle(project, ago=10, office="shili-0001")  # another mtime: the copies in memory and on disk are stale
    after = ov.load_overview(project, 2023, REGION)
    assert after.values("shili-0001").totals["新收申请"] == old + 41
    assert ov.headlines(after, "shili-0001")["new"].value == old + 41
    forget()
    assert ov.load_overview(project, 2023, REGION).values("shili-0001").totals["新收申请"] == old + 41


def test_a_same_size_edit_in_the_files_tick_is_not_taken_from_a_kept_copy(tmp_path) -> None:
    """Sums included: a file younger than the settling time is read each time and not kept; an edit that keeps
    size and mtime is seen."""
    project = make(tmp_path / "p", offices=3, years=range(2022, 2024))
    settle(project)
    path = project.figures_file("shili-0001")
    set_figure(project, "shili-0001", 2023, "t3.new.total", "11")
    forget()
    assert ov.load_overview(project, 2023, REGION).values("shili-0001").totals["新收申请"] == 11
    assert not kept_file(project, "shili-0001").exists() and path not in ov._READ
    st = path.stat()
    set_figure(project, "shili-0001", 2023, "t3.new.total", "77")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    assert ov.load_overview(project, 2023, REGION).values("shili-0001").totals["新收申请"] == 77


@pytest.mark.parametrize("spoil", ["truncated", "not json", "old format", "other code", "cells spoilt",
                                   "sums short"])
def test_a_spoilt_or_old_kept_copy_is_not_trusted(tmp_path, spoil) -> None:
    project = make(tmp_path / "p", offices=3, years=range(2022, 2024))
    settle(project)
    forget()
    want = page(ov.load_overview(project, 2023, REGION))
    path = kept_file(project, "shili-0002")
    text = path.read_text(encoding="utf-8")
    kept = json.loads(text)
    if spoil == "truncated":
        path.write_text(text[: len(text) // 2], encoding="utf-8")
    elif spoil == "not json":
        path.write_bytes(b"\xff\xfe\0garbage")
    elif spoil == "old format":  # issue 13's copy: each year's cells as a dict, its own name
        path.unlink()
        old = path.with_name("shili-0002.json")
        old.write_text(json.dumps({"nianbao": "0.1.0", "key": kept["key"], "years": {
            y: {"t3.new.total": "999999"} for y in kept["years"]}}), encoding="utf-8")
    elif spoil == "other code":
        kept["code"] = "0" * 64
        path.write_text(json.dumps(kept), encoding="utf-8")
    elif spoil == "cells spoilt":  # the outer file reads, a year's cells do not
        kept["years"]["2023"][0] = "[[1,2"
        path.write_text(json.dumps(kept), encoding="utf-8")
    else:
        kept["years"]["2023"][1] = kept["years"]["2023"][1][:-1]
        path.write_text(json.dumps(kept), encoding="utf-8")
    region_file(project).unlink()  # else the office's figures come from there
    forget()
    assert page(ov.load_overview(project, 2023, REGION)) == want
    if spoil == "old format":
        assert not path.with_name("shili-0002.json").exists() and path.is_file()  # replaced by the new copy


def region_file(project: Project) -> Path:
    return project.outputs / ov.OUTPUT_DIR / ov.CHARTS_DIR / ov.region_slug(REGION) / ov.REGION_FIGURES


@pytest.mark.parametrize("spoil", ["truncated", "not json", "other code", "other format", "not a dict", "other key",
                                   "cells spoilt", "sums short", "entry not a pair"])
def test_a_spoilt_or_stale_region_file_is_not_trusted(tmp_path, spoil) -> None:
    """The region's kept figures in one file (`RegionFigures`): whatever spoils it, or an office's entry, the page
    is the page from the figures as read, and the file is written again right."""
    project = make(tmp_path / "p", offices=3, years=range(2022, 2024))
    settle(project)
    forget()
    want = page(ov.load_overview(project, 2023, REGION))
    path = region_file(project)
    text = path.read_text(encoding="utf-8")
    kept = json.loads(text)
    assert sorted(kept["offices"]) == ["shili-0001", "shili-0002", "shili-0003"] and kept["code"] == ov._code()
    entry = kept["offices"]["shili-0002"]
    if spoil == "truncated":
        text = text[: len(text) // 2]
    elif spoil == "not json":
        text = "\ufeffgarbage"
    elif spoil in ("other code", "other format"):
        kept["code" if spoil == "other code" else "format"] = 0
    elif spoil == "not a dict":
        kept["offices"] = [entry]
    elif spoil == "other key":  # made from other bytes of the figures file than it has now
        entry[0] = [entry[0][0], entry[0][1] - 1, entry[0][2]]
        entry[1]["2023"][1][0] = 999999
    elif spoil == "cells spoilt":
        entry[1]["2023"][0] = "[[1,2"
    elif spoil == "sums short":
        entry[1]["2023"][1] = entry[1]["2023"][1][:-1]
    else:
        kept["offices"]["shili-0002"] = entry[1]
    if not spoil.startswith(("truncated", "not json")):
        text = json.dumps(kept, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    for _ in range(2):  # a new kernel: the page as it was; the file is made again, and read the next time
        forget()
        assert page(ov.load_overview(project, 2023, REGION)) == want
        again = json.loads(path.read_text(encoding="utf-8"))
        assert sorted(again["offices"]) == ["shili-0001", "shili-0002", "shili-0003"]


def test_the_region_file_is_written_again_only_when_more_than_a_few_offices_changed(tmp_path, monkeypatch) -> None:
    project = make(tmp_path / "p", offices=3, years=range(2022, 2024))
    settle(project)
    forget()
    want = page(ov.load_overview(project, 2023, REGION))
    path = region_file(project)
    stamp = path.stat().st_mtime_ns
    forget()
    assert page(ov.load_overview(project, 2022, REGION))[2] and path.stat().st_mtime_ns == stamp
    assert page(ov.load_overview(project, 2023, REGION)) == want and path.stat().st_mtime_ns == stamp
    set_figure(project, "shili-0003", 2023, "t3.new.natural", "77")
    settle(project, ago=5, office="shili-0003")
    changed = page(ov.load_overview(project, 2023, REGION))
    assert changed != want and path.stat().st_mtime_ns == stamp  # one office: read from its own kept copy
    forget()
    assert page(ov.load_overview(project, 2023, REGION)) == changed and path.stat().st_mtime_ns == stamp
    monkeypatch.setattr(ov, "REGION_STALE", 0)
    forget()
    assert page(ov.load_overview(project, 2023, REGION)) == changed and path.stat().st_mtime_ns != stamp
    entry = json.loads(path.read_text(encoding="utf-8"))["offices"]["shili-0003"]
    assert entry[0][:2] == [(f := project.figures_file("shili-0003").stat()).st_size, f.st_mtime_ns]
    (kept_file(project, "shili-0003")).unlink()  # what a new kernel reads of it is in the region's file now
    forget()
    assert page(ov.load_overview(project, 2023, REGION)) == changed
    assert not kept_file(project, "shili-0003").exists()
def test_a_read_only_outputs_folder_keeps_nothing_and_the_page_is_the_same(tmp_path) -> None:
    project = make(tmp_path / "p", offices=3, years=range(2022, 2024))
    settle(project)
    forget()
    want = page(plain(project, 2023))
    shutil.rmtree(project.outputs / ov.OUTPUT_DIR, ignore_errors=True)
    (project.outputs / ov.OUTPUT_DIR).mkdir(parents=True)
    mount("--bind", str(project.outputs), str(project.outputs))
    try:
        mount("-o", "remount,bind,ro", str(project.outputs))
        forget()
        assert page(ov.load_overview(project, 2023, REGION)) == want
        assert page(ov.load_overview(project, 2023, REGION)) == want  # kept in memory only
        assert list((project.outputs / ov.OUTPUT_DIR).iterdir()) == []
    finally:
        subprocess.run(["umount", str(project.outputs)], capture_output=True)


# -- the kept charts -----------------------------------------------------------------------------------

SERIES = {"新收申请": {2021: Decimal(10), 2022: Decimal(12), 2023: Decimal("13.5")}}


def test_a_chart_is_drawn_again_only_when_what_it_draws_changes(tmp_path, monkeypatch) -> None:
    drawn = []
    real = charts.trend_chart
    monkeypatch.setattr(charts, "trend_chart", lambda *a, **k: drawn.append(a[0]) or real(*a, **k))
    path = tmp_path / "kept" / "2023.json"
    years = [2021, 2022, 2023]
    other = {"行政复议": {2021: Decimal(1), 2022: Decimal(2), 2023: Decimal(3)}}
    first = KeptCharts(path)
    one, two = first.chart("甲", years, lines=SERIES), first.chart("乙", years, lines=other)
    first.save()
    assert drawn == ["甲", "乙"] and one == trend_chart("甲", years, lines=SERIES)
    # The same numbers (2021's 10 as 10.0, a Decimal's other exponent): nothing drawn, the same SVG.
    again = KeptCharts(path)
    same = {"新收申请": {2021: Decimal("10.0"), 2022: Decimal(12), 2023: Decimal("13.50")}}
    assert (again.chart("甲", years, lines=same), again.chart("乙", years, lines=other)) == (one, two)
    assert drawn == ["甲", "乙"] and again.drawn == 0
    # One series changed: that chart only, as drawn afresh.
    changed = {"行政复议": {2021: Decimal(1), 2022: Decimal(2), 2023: Decimal(4)}}
    third = KeptCharts(path)
    assert third.chart("甲", years, lines=SERIES) == one
    assert third.chart("乙", years, lines=changed) == real("乙", years, lines=changed) != two
    assert drawn == ["甲", "乙", "乙"] and third.drawn == 1
    third.save()
    assert len(json.loads(path.read_text(encoding="utf-8"))["charts"]) == 2  # what the page drew, and only that
    # A year more, a title, the order of the series: each is another chart.
    digest = charts.chart_digest
    digests = {digest("甲", years, lines=SERIES), digest("甲", [*years, 2024], lines=SERIES),
               digest("丙", years, lines=SERIES), digest("甲", years, bars=SERIES),
               digest("甲", years, lines={**other, **SERIES}), digest("甲", years, lines={**SERIES, **other})}
    assert len(digests) == 6


@pytest.mark.parametrize("spoil", ["truncated", "other layout", "not a dict"])
def test_a_spoilt_charts_file_means_drawing_again(tmp_path, spoil) -> None:
    path = tmp_path / "2023.json"
    kept = KeptCharts(path)
    svg = kept.chart("甲", [2022, 2023], lines=SERIES)
    kept.save()
    text = path.read_text(encoding="utf-8")
    path.write_text({"truncated": text[:100], "other layout": text.replace('"layout": 1', '"layout": 0'),
                     "not a dict": "[1, 2]"}[spoil], encoding="utf-8")
    again = KeptCharts(path)
    assert again.chart("甲", [2022, 2023], lines=SERIES) == svg and again.drawn == 1
    again.save()
    assert KeptCharts(path).kept == again.used


def test_charts_in_a_read_only_folder_are_drawn_and_not_kept(tmp_path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    mount("--bind", str(folder), str(folder))
    try:
        mount("-o", "remount,bind,ro", str(folder))
        kept = KeptCharts(folder / "2023.json")
        assert kept.chart("甲", [2022, 2023], lines=SERIES) == trend_chart("甲", [2022, 2023], lines=SERIES)
        kept.save()
        assert list(folder.iterdir()) == []
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


# -- the batch ----------------------------------------------------------------------------------------

def test_pages_after_one_change_are_those_made_with_nothing_kept(tmp_path) -> None:
    """The batch's warm kernels, after a change: each rebuilt page equals the page made afresh (no kept
    figures, no kept charts, a new kernel); the charts whose numbers did not change were kept as they were."""
    project = make(tmp_path / "p", offices=6, years=range(2021, 2025))
    settle(project)
    assert run_batch(project).exit_code == 0
    folder = project.outputs / ov.OUTPUT_DIR / ov.CHARTS_DIR
    kept_charts = {p: p.read_text(encoding="utf-8") for p in folder.rglob("*.json") if p.name != ov.REGION_FIGURES}
    assert len(kept_charts) == 4 and (folder / ov.region_slug(REGION) / ov.REGION_FIGURES).is_file()
    set_figure(project, "shili-0002", 2022, "t2.license.decisions", "4321")
    settle(project, ago=5, office="shili-0002")
    again = run_batch(project)
    assert again.exit_code == 0 and sorted(o["year"] for o in again.overviews) == [2021, 2022, 2023, 2024]
    built = [o for o in again.overviews if o["year"] >= 2022]
    pages = {o["year"]: (project.outputs / o["html"]).read_bytes() for o in built}
    assert len(pages) == 3
    for path, text in kept_charts.items():
        now = json.loads(path.read_text(encoding="utf-8"))["charts"]
        before = json.loads(text)["charts"]
        if path.stem == "2021":
            assert now == before  # not rebuilt
        else:  # 行政许可决定 moved: the third chart only
            assert len(set(now) & set(before)) == 2 and len(now) == 3
    # The published page shows the charts as drawn: their SVG keeps its style attributes (fills, strokes),
    # which the exporter strips from report outputs only (without them every chart was a black rectangle).
    for o in built:
        nb = json.loads((project.outputs / o["notebook"]).read_text(encoding="utf-8"))
        drawn = next("".join(out["data"]["text/html"]) for cell in nb["cells"] for out in cell.get("outputs", ())
                     if out.get("metadata", {}).get("nianbao", {}).get("role") == "overview")
        svgs = re.findall(r"<svg.*?</svg>", drawn, re.S)
        assert len(svgs) == 3 and all('style="fill' in svg for svg in svgs)
        assert all(svg in pages[o["year"]].decode("utf-8") for svg in svgs)
    shutil.rmtree(project.outputs / ov.OUTPUT_DIR / ov.CACHE_DIR)
    shutil.rmtree(project.outputs / ov.OUTPUT_DIR / ov.CHARTS_DIR)
    for year, want in pages.items():
        fresh = ov.execute_overview(project, year, REGION)  # a fresh kernel
        assert (project.outputs / fresh.html).read_bytes() == want, year


def test_every_overview_after_changes_is_byte_for_byte_a_forced_build_from_scratch(tmp_path) -> None:
    """Build, change one figure, run the batch; change another (an amount with decimals, a later year), run it
    again: every overview page and notebook is, byte for byte, what `--force` makes of a copy of the project's
    inputs with no outputs at all (nothing kept: no figures, charts or sums, a new kernel)."""
    project = make(tmp_path / "p", offices=7, years=range(2021, 2025))
    settle(project)
    assert run_batch(project).exit_code == 0
    for office, year, ref, value in (("shili-0002", 2022, "t2.license.decisions", "4321"),
                                     ("shili-0005", 2023, "t2.fees.amount", "2.50")):
        set_figure(project, office, year, ref, value)
        settle(project, ago=5, office=office)
        again = run_batch(project)
        assert again.exit_code == 0 and again.built == (2 if year < 2024 else 1)
    copy = Project(shutil.copytree(project.root, tmp_path / "copy", ignore=shutil.ignore_patterns("outputs")))
    settle(copy)
    assert run_batch(copy, force=True).exit_code == 0

    def pages(root: Path) -> dict[str, bytes]:
        folder = root / ov.OUTPUT_DIR
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
                if p.suffix in (".html", ".ipynb") and not any(part.startswith(".") for part in
                                                                p.relative_to(folder).parts)}

    made, fresh = pages(project.outputs), pages(copy.outputs)
    assert len(made) == 4 * 2 + 4 and sorted(made) == sorted(fresh)  # a region's pages and notebooks, year pages
    assert [name for name in made if made[name] != fresh[name]] == []


def test_a_page_whose_own_figures_did_not_change_makes_again_only_its_changed_chart(tmp_path, monkeypatch) -> None:
    """The page's parts kept by the digest of what they show: after a change of 2022, the page of 2024 (its
    trends changed) takes its headline table, index figures, anomalies and summed tables as kept, 2023's its
    summed tables (the others compare with 2022), 2022's none; each page is the one made with nothing kept."""
    from nianbao.render import overview as render

    project = make(tmp_path / "p", offices=7, years=range(2021, 2025))
    settle(project)
    for year in (2022, 2023, 2024):
        page(ov.load_overview(project, year, REGION))
    set_figure(project, "shili-0004", 2022, "t3.new.natural", "321")
    settle(project, ago=5, office="shili-0004")
    made: list[str] = []

    def counting(name, real):
        return lambda *args: made.append(name) or real(*args)

    for name, module in (("_headline_section", render), ("_tables_section", render), ("_anomalies", ov),
                         ("_index_headlines", ov)):
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    for year, again in ((2024, []), (2023, ["_anomalies", "_index_headlines", "_headline_section"]),
                        (2022, ["_anomalies", "_index_headlines", "_headline_section", "_tables_section"])):
        forget()
        made.clear()
        overview = ov.load_overview(project, year, REGION)
        shown = page(overview)
        ov.index_headlines(overview)
        assert sorted(made) == sorted(again), year  # each made once at most
        assert shown == page(plain(project, year)), year


def test_a_batch_kernel_freezes_matplotlib_once_it_is_imported(monkeypatch) -> None:
    """matplotlib's ~2·10⁵ objects live as long as a batch kernel: frozen on its first chart (`charts._matplotlib`),
    so that the reset after each notebook does not walk them all again; elsewhere nothing is frozen."""
    import gc

    from nianbao.kernel import BATCH_KERNEL

    series = {2020: Decimal(1), 2021: Decimal(2)}
    charts._matplotlib.cache_clear()
    frozen = gc.get_freeze_count()
    trend_chart("图", [2020, 2021], lines={"件": series})
    assert gc.get_freeze_count() == frozen
    charts._matplotlib.cache_clear()
    monkeypatch.setenv(BATCH_KERNEL, "1")
    try:
        trend_chart("图", [2020, 2021], lines={"件": series})
        assert gc.get_freeze_count() > frozen + 10 ** 5
    finally:
        gc.unfreeze()
        charts._matplotlib.cache_clear()
