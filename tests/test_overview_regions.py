"""Pages of a region the registry no longer names (renamed, or its offices removed) go at the end of the batch,
with their kept charts, their manifest entries and their links; a current region's pages never do."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from conftest import settled_synth

from nianbao.batch import run_batch
from nianbao.data import read_registry
from nianbao.overview import (
    CACHE_DIR,
    CHARTS_DIR,
    KEPT_FORMAT,
    OUTPUT_DIR,
    REGION_FIGURES,
    drop_removed_offices,
    drop_removed_regions,
    overview_page,
    region_slug,
)
from nianbao.project import Project
from nianbao.synth import synth

HERE, OLD, NEW = "示例省示例市示例区", "示例省示例市乙区", "示例省示例市丙区"


def set_region(project: Project, office: str, region: str) -> None:
    rows = list(csv.reader(io.StringIO(project.offices_file.read_text(encoding="utf-8"))))
    col = rows[0].index("region")
    for row in rows[1:]:
        if row[0] == office:
            row[col] = region
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    project.offices_file.write_text(out.getvalue(), encoding="utf-8")


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_renamed_regions_pages_go_and_the_others_stay(tmp_path) -> None:
    synth(tmp_path / "p", 3, range(2023, 2025))
    project = Project(tmp_path / "p")
    set_region(project, "shili-0003", OLD)
    assert run_batch(project).exit_code == 0
    root = project.outputs / OUTPUT_DIR
    old = root / region_slug(OLD)
    assert {p.name for p in old.glob("*.html")} == {"2023.html", "2024.html"}
    assert (root / CHARTS_DIR / region_slug(OLD)).is_dir()
    here = files(root / region_slug(HERE))
    set_region(project, "shili-0003", NEW)  # renamed: its reports and its region's pages are made again
    result = run_batch(project)
    assert result.exit_code == 0 and result.built == 2
    assert not old.exists() and not (root / CHARTS_DIR / region_slug(OLD)).exists()
    assert not list(root.glob(".*removed*")) and not list((root / CHARTS_DIR).glob(".*removed*"))
    assert overview_page(project, 2024, NEW).is_file() and overview_page(project, 2023, NEW).is_file()
    assert files(root / region_slug(HERE)) == here  # a current region's pages untouched
    manifest = json.loads((project.outputs / "manifest.json").read_text(encoding="utf-8"))
    assert not [k for k in manifest["overviews"] if k.startswith(region_slug(OLD))]
    for year in (2023, 2024):
        listed = (root / f"{year}.html").read_text(encoding="utf-8")
        assert NEW in listed and HERE in listed and OLD not in listed and region_slug(OLD) not in listed


def _page(folder: Path, year: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{year}.html").write_text("<p>page</p>", encoding="utf-8")
    (folder / f"{year}.ipynb").write_text("{}", encoding="utf-8")


def test_only_folders_of_regions_no_office_names_are_removed(tmp_path) -> None:
    synth(tmp_path / "p", 2, range(2024, 2025))
    project = Project(tmp_path / "p")
    root = project.outputs / OUTPUT_DIR
    for region in (HERE, OLD):
        _page(root / region_slug(region), 2024)
        (root / CHARTS_DIR / region_slug(region)).mkdir(parents=True)
    _page(root / "not-a-region", 2024)  # not a slug: not ours to remove
    leftover = root / f".{region_slug(NEW)}.removed"  # a killed run's, half deleted
    _page(leftover, 2023)
    overviews = {f"{region_slug(OLD)}/2024": {"year": 2024, "region": OLD}, "2024": {"year": 2024}}
    # A row that cannot be read may be an office of any region: nothing goes.
    text = project.offices_file.read_text(encoding="utf-8")
    project.offices_file.write_text(text + "shili-0009,短行\n", encoding="utf-8")
    assert drop_removed_regions(project, overviews, read_registry(project)) == []
    assert (root / region_slug(OLD) / "2024.html").is_file() and f"{region_slug(OLD)}/2024" in overviews
    project.offices_file.write_text(text, encoding="utf-8")
    removed = drop_removed_regions(project, overviews, read_registry(project))
    assert removed == [root / region_slug(OLD), root / CHARTS_DIR / region_slug(OLD)]
    assert sorted(p.name for p in root.iterdir()) == sorted([CHARTS_DIR, region_slug(HERE), "not-a-region"])
    assert [p.name for p in (root / CHARTS_DIR).iterdir()] == [region_slug(HERE)]
    assert overviews == {"2024": {"year": 2024}}
    # No office names a region any more: every region's folder goes, the year's page stays.
    set_region(project, "shili-0001", "")
    set_region(project, "shili-0002", "")
    (root / "2024.html").write_text("<p>year</p>", encoding="utf-8")
    assert drop_removed_regions(project, overviews, read_registry(project)) == [root / region_slug(HERE),
                                                                                root / CHARTS_DIR / region_slug(HERE)]
    assert (root / "2024.html").read_text(encoding="utf-8") == "<p>year</p>"


def remove_office(project: Project, office: str) -> None:
    lines = project.offices_file.read_text(encoding="utf-8").splitlines(keepends=True)
    project.offices_file.write_text("".join(line for line in lines if not line.startswith(f"{office},")),
                                    encoding="utf-8")


def test_kept_figures_of_offices_removed_from_the_registry_go_when_every_office_is_built(tmp_path) -> None:
    # Settled files: an office's figures are kept only once their mtime has settled (`SETTLE_NS`).
    project = settled_synth(tmp_path / "p", 3, range(2023, 2025), 0)
    assert run_batch(project).exit_code == 0
    kept = project.outputs / OUTPUT_DIR / CACHE_DIR
    assert {p.name for p in kept.iterdir()} == {f"shili-000{i}.v{KEPT_FORMAT}.json" for i in (1, 2, 3)}
    (kept / "shili-0003.json").write_text("{}", encoding="utf-8")  # a copy of format 1
    (kept / "notes.txt").write_text("not ours", encoding="utf-8")
    remove_office(project, "shili-0003")
    # A selection does not see every office: nothing goes yet.
    run_batch(project, offices=["shili-0001"])
    assert (kept / f"shili-0003.v{KEPT_FORMAT}.json").is_file()
    # A row that cannot be read may be any office's: nothing goes either.
    text = project.offices_file.read_text(encoding="utf-8")
    project.offices_file.write_text(text + "shili-0009,短行\n", encoding="utf-8")
    run_batch(project)
    assert (kept / f"shili-0003.v{KEPT_FORMAT}.json").is_file()
    project.offices_file.write_text(text, encoding="utf-8")
    run_batch(project)
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt", *(f"shili-000{i}.v{KEPT_FORMAT}.json"
                                                                     for i in (1, 2))]
    assert drop_removed_offices(project, read_registry(project)) == []


def _charts(charts: Path) -> list[str]:
    """The kept charts under `.charts/`, without the regions' kept figures (`REGION_FIGURES`), which stay."""
    return sorted(str(p.relative_to(charts)) for p in charts.rglob("*.json") if p.name != REGION_FIGURES)


def _params_gone(project: Project, year: int) -> None:
    for path in project.root.glob(f"params/*/{year}.yaml"):
        path.unlink()


def test_kept_charts_of_years_no_longer_listed_go_when_every_office_year_is_built(tmp_path) -> None:
    """A year whose params files are all removed: its overviews are no longer made, and their kept charts
    (`.charts/[r-…/]<year>.json`) go once a batch sees every office-year, with and without regions."""
    synth(tmp_path / "p", 3, range(2022, 2025))
    project = Project(tmp_path / "p")
    set_region(project, "shili-0003", OLD)
    assert run_batch(project).exit_code == 0
    charts = project.outputs / OUTPUT_DIR / CHARTS_DIR
    kept = _charts(charts)
    assert kept == sorted(f"{region_slug(r)}/{y}.json" for r in (HERE, OLD) for y in (2022, 2023, 2024))
    (charts / "2023.json").write_text("{}", encoding="utf-8")  # a year's charts of before there were regions
    (charts / "notes.json").write_text("{}", encoding="utf-8")  # not ours
    _params_gone(project, 2022)
    run_batch(project, offices=["shili-0001"])  # a selection does not see every office-year: nothing goes
    assert (charts / region_slug(HERE) / "2022.json").is_file()
    assert run_batch(project).exit_code == 0
    kept = _charts(charts)
    assert kept == sorted(["notes.json", *(f"{region_slug(r)}/{y}.json" for r in (HERE, OLD) for y in (2023, 2024))])
    # No regions: the year's own charts, and a removed year's go the same way.
    set_region(project, "shili-0003", HERE)
    set_region(project, "shili-0001", "")
    set_region(project, "shili-0002", "")
    set_region(project, "shili-0003", "")
    assert run_batch(project).exit_code == 0
    assert _charts(charts) == ["2023.json", "2024.json", "notes.json"]
    _params_gone(project, 2023)
    assert run_batch(project).exit_code == 0
    assert _charts(charts) == ["2024.json", "notes.json"]
