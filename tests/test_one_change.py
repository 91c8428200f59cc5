"""A run after one changed figure: the overviews run beside the reports, each as soon as the reports its page
shows are recorded, and are published with the same bytes as when they ran after every report; the `nianbao`
command's exit. Real kernels, papermill, nbconvert and great-expectations."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from conftest import set_figure

from nianbao import batch
from nianbao.batch import run_batch
from nianbao.overview import overview_notebook, overview_page
from nianbao.project import Project
from nianbao.synth import synth

BIN = Path(sys.executable).parent
REGION = "示例省示例市示例区"  # every office `synth` makes
YEARS = range(2022, 2026)


def logging_overviews(project: Project, log: Path) -> None:
    """Have the project's overview notebook note its year in `log` when it runs."""
    nb = nbformat.read(overview_notebook(project), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"with open({str(log)!r}, 'a') as f:\n    print(year, file=f)"))
    nbformat.write(nb, overview_notebook(project))


def logged(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.is_file() else []


def wait_for(log: Path, years: set[int], seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if years <= set(logged(log)):
            return True
        time.sleep(0.1)
    return False


def built_then_changed(folder: Path, offices: int, seed: int, office: str, year: int,
                       value: str) -> tuple[Project, Path]:
    """A synthetic project built once (overviews logged to the returned log, emptied), then one figure of `office`
    and `year` changed, older than the digests' settle time as an analyst's edit is by the time a batch runs."""
    synth(folder, offices, YEARS, seed)
    project = Project(folder)
    log = folder.parent / "overviews.log"
    logging_overviews(project, log)
    assert run_batch(project, jobs=1).exit_code == 0
    log.unlink()
    set_figure(project, office, year, "t2.license.decisions", value)
    time.sleep(2.1)
    return project, log


def test_an_overview_runs_once_the_reports_its_page_shows_are_recorded_not_after_every_report(tmp_path,
                                                                                              monkeypatch) -> None:
    project, log = built_then_changed(tmp_path / "p", 3, 5, "shili-0001", 2022, "31")

    # The validation of 2023's report is held back until the overviews that do not show it have run: with the
    # overviews made after every report, they never would, and the batch would go on after the wait.
    real, seen = batch.tasks, {}

    def slow(*args, **kwargs):
        for item in real(*args, **kwargs):
            if item.year == 2023:
                seen["before 2023"] = wait_for(log, {2022, 2024, 2025})
            yield item

    monkeypatch.setattr(batch, "tasks", slow)
    at_entry = {}
    result = run_batch(project, jobs=1, on_entry=lambda e: at_entry.setdefault(e.year, logged(log)))
    assert result.exit_code == 0 and result.built == 2
    assert seen == {"before 2023": True}
    assert 2022 not in at_entry[2022]  # 2022's page shows 2022's report: it ran after it was recorded
    assert {2022, 2024, 2025} <= set(at_entry[2023]) and 2023 not in at_entry[2023]
    assert sorted(logged(log)) == list(YEARS)  # each once: held ones are published, not run again
    assert [o["status"] for o in result.overviews] == ["published"] * 4

    # The same bytes as overviews made after every report, by a worker given their digests: remove them and
    # run again (no report to build; the overviews alone).
    pages = {y: overview_page(project, y, REGION) for y in YEARS}
    held = {p: p.read_bytes() for y in YEARS for p in (pages[y], pages[y].with_suffix(".ipynb"))}
    recorded = json.loads((project.outputs / "manifest.json").read_text(encoding="utf-8"))["overviews"]
    for path in held:
        path.unlink()
    monkeypatch.setattr(batch, "tasks", real)
    again = run_batch(project, jobs=1)
    assert again.built == 0 and sorted(logged(log)[4:]) == list(YEARS) and len(logged(log)) == 8
    assert {p: p.read_bytes() for p in held} == held
    assert json.loads((project.outputs / "manifest.json").read_text(encoding="utf-8"))["overviews"] == recorded
    assert json.loads(held[pages[2024].with_suffix(".ipynb")])["metadata"]["nianbao"]["inputs"] \
        == recorded[f"{pages[2024].parent.name}/2024"]["inputs"]


def test_the_overview_that_waited_for_the_last_report_runs_while_the_overviews_digests_are_worked_out(
        tmp_path, monkeypatch) -> None:
    """Once the last report is recorded, the overview that waited for it goes to the idle worker at once: the
    digests of the overviews to publish (`overview_tasks`) are worked out while it runs, not before."""
    project, log = built_then_changed(tmp_path / "p", 2, 7, "shili-0002", 2025, "41")
    real, seen = batch.overview_tasks, {}

    def waiting(*args, **kwargs):  # called once the last report (2025's) is in
        seen["2025 ran first"] = wait_for(log, {2025}, seconds=60)
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "overview_tasks", waiting)
    result = run_batch(project, jobs=1)
    assert result.exit_code == 0 and result.built == 1
    assert seen == {"2025 ran first": True} and logged(log) == [2025]
    assert [o["status"] for o in result.overviews] == ["published"] * 4
    entry = json.loads((project.outputs / "manifest.json").read_text(encoding="utf-8"))["overviews"]
    page = overview_page(project, 2025, REGION)
    assert json.loads(page.with_suffix(".ipynb").read_text(encoding="utf-8"))["metadata"]["nianbao"]["inputs"] \
        == entry[f"{page.parent.name}/2025"]["inputs"]


def test_a_change_that_leaves_an_overview_as_it_was_drops_what_ran_ahead(tmp_path) -> None:
    """A report rebuilt because its page was deleted: same digest, same entry, so no overview changes; those
    run ahead are not published (the pages keep their files)."""
    synth(tmp_path / "p", 2, YEARS, 6)
    project = Project(tmp_path / "p")
    assert run_batch(project, jobs=1).exit_code == 0
    pages = {y: overview_page(project, y, REGION) for y in YEARS}
    stamps = {y: p.stat().st_mtime_ns for y, p in pages.items()}
    page = project.outputs / "shili-0001" / "2023.html"
    page.unlink()
    result = run_batch(project, jobs=1)
    assert result.built == 1 and page.is_file()
    assert {y: p.stat().st_mtime_ns for y, p in pages.items()} == stamps


def test_the_nianbao_command_exits_with_the_batchs_status_and_its_whole_summary(tmp_path) -> None:
    """`nianbao` ends without Python's teardown (`cli.script_main`): the summary still comes out whole, and a
    gated report still exits 1."""
    synth(tmp_path / "p", 2, range(2024, 2025), 7)
    project = Project(tmp_path / "p")
    set_figure(project, "shili-0001", 2024, "t2.license.decisions", "-5")  # a negative count: critical
    for command in ([str(BIN / "nianbao")], [sys.executable, "-m", "nianbao"]):
        proc = subprocess.run([*command, "batch", "--project", str(project.root)], capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 1, proc.stderr
        assert "未通过校验，不予发布：shili-0001 2024年" in proc.stderr
        assert proc.stdout.startswith("2 report(s): ") and proc.stdout.endswith("\n")
