"""A run after one changed figure: the overviews run beside the reports, at once when the reports their page shows
were built before (kept if those come out as they showed them, made again if not), else as soon as those are
recorded, and are published with the same bytes as when they ran after every report; the `nianbao` command's
exit. Real kernels, papermill, nbconvert and great-expectations."""

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
REAL = batch.tasks


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
                       value: str, broken: bool = False) -> tuple[Project, Path]:
    """A synthetic project built once (overviews logged to the returned log, emptied), then one figure of `office`
    and `year` changed, older than the digests' settle time as an analyst's edit is by the time a batch runs.
    `broken`: the report of `office` and `year` fails in that first build (its params file cannot be read then)."""
    synth(folder, offices, YEARS, seed)
    project = Project(folder)
    log = folder.parent / "overviews.log"
    logging_overviews(project, log)
    params = folder / "params" / office / f"{year}.yaml"
    kept = params.read_bytes()
    if broken:
        params.write_bytes(kept + b"\n[")
    assert run_batch(project, jobs=1).exit_code == (2 if broken else 0)
    params.write_bytes(kept)
    log.unlink()
    set_figure(project, office, year, "t2.license.decisions", value)
    time.sleep(2.1)
    return project, log


def overviews_before_validation(monkeypatch, log: Path, years: set[int]) -> dict[str, bool]:
    """Hold back the validation of the batch's reports until the overviews of `years` have run (each noted in
    `log`): overviews that waited for the reports never would, and the batch would go on after the wait. The
    returned dict says, once the batch has run, whether they did."""
    real, seen = batch.tasks, {}

    def slow(*args, **kwargs):
        for item in real(*args, **kwargs):
            seen.setdefault("ran first", wait_for(log, years))
            yield item

    monkeypatch.setattr(batch, "tasks", slow)
    return seen


def overviews_made_again(project: Project, log: Path, monkeypatch) -> None:
    """Assert that the overviews, made again after every report by workers given their digests (their files removed,
    no report to build), are the same bytes and recorded alike."""
    pages = {y: overview_page(project, y, REGION) for y in YEARS}
    made = {p: p.read_bytes() for y in YEARS for p in (pages[y], pages[y].with_suffix(".ipynb"))}
    recorded = json.loads((project.outputs / "manifest.json").read_text(encoding="utf-8"))["overviews"]
    for path in made:
        path.unlink()
    monkeypatch.setattr(batch, "tasks", REAL)
    runs = len(logged(log))
    again = run_batch(project, jobs=1)
    assert again.built == 0 and sorted(logged(log)[runs:]) == list(YEARS)
    assert {p: p.read_bytes() for p in made} == made
    assert json.loads((project.outputs / "manifest.json").read_text(encoding="utf-8"))["overviews"] == recorded
    assert json.loads(made[pages[2024].with_suffix(".ipynb")])["metadata"]["nianbao"]["inputs"] \
        == recorded[f"{pages[2024].parent.name}/2024"]["inputs"]


def test_overviews_of_reports_built_before_run_at_once_and_are_kept_when_the_reports_come_out_the_same(
        tmp_path, monkeypatch) -> None:
    """One figure of 2022 changed: 2022's and 2023's reports are rebuilt, published as before. Every overview they
    concern (2022-2025) starts before any report is validated, from the manifest as the batch found it, and is
    published once, with the bytes of one made after every report."""
    project, log = built_then_changed(tmp_path / "p", 3, 5, "shili-0001", 2022, "31")
    seen = overviews_before_validation(monkeypatch, log, set(YEARS))
    at_entry = {}
    result = run_batch(project, jobs=1, on_entry=lambda e: at_entry.setdefault(e.year, logged(log)))
    assert result.exit_code == 0 and result.built == 2
    assert seen == {"ran first": True}
    assert set(at_entry[2022]) == set(YEARS)  # 2022's page ran before its report was recorded
    assert sorted(logged(log)) == list(YEARS)  # each once: none was made again
    assert [o["status"] for o in result.overviews] == ["published"] * 4
    overviews_made_again(project, log, monkeypatch)


def test_an_overview_made_early_is_made_again_when_a_report_of_its_year_comes_out_gated(tmp_path,
                                                                                     monkeypatch) -> None:
    """One figure of 2025 made negative (a critical finding): 2025's report, published before, is now gated. The
    overview of 2025 made at once showed it published: it is made again once the report is recorded, and its page
    shows the report gated, with the bytes of one made after every report."""
    project, log = built_then_changed(tmp_path / "p", 2, 8, "shili-0002", 2025, "-5")
    seen = overviews_before_validation(monkeypatch, log, {2025})
    result = run_batch(project, jobs=1)
    assert result.exit_code == 1 and result.built == 1
    assert [(e.office, e.year) for e in result.with_status("gated")] == [("shili-0002", 2025)]
    assert seen == {"ran first": True}
    assert logged(log) == [2025, 2025]  # early, then again
    assert [o["status"] for o in result.overviews] == ["published"] * 4
    page = overview_page(project, 2025, REGION)
    assert "其中1份报告未通过校验" in page.read_text(encoding="utf-8")  # the gated report, counted
    overviews_made_again(project, log, monkeypatch)


def test_the_overview_that_waited_for_the_last_report_runs_while_the_overviews_digests_are_worked_out(
        tmp_path, monkeypatch) -> None:
    """Once the last report is recorded, the overview that waited for it (its report had failed) goes to the idle
    worker at once: the digests of the overviews to publish (`overview_tasks`) are worked out while it runs, not
    before."""
    # The report failed in the first build: the overview that shows it cannot start before it is rebuilt.
    project, log = built_then_changed(tmp_path / "p", 2, 7, "shili-0002", 2025, "41", broken=True)
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


def test_a_worker_is_given_its_next_task_before_the_batch_deals_with_its_last_outcome(tmp_path, monkeypatch) -> None:
    """Every overview of a change to 2022 starts early: 2025's runs while the reports are validated, the others
    wait behind the reports on the one worker. When the last report's outcome comes back, the worker is sent the
    next overview at once, not once the batch has recorded the report and worked out the overviews' digests."""
    project, log = built_then_changed(tmp_path / "p", 2, 9, "shili-0001", 2022, "17")
    seen = overviews_before_validation(monkeypatch, log, {2025})
    real = batch.overview_tasks

    def waiting(*args, **kwargs):  # called once the last report is in
        ran, deadline = len(logged(log)), time.monotonic() + 60
        while ran == len(logged(log)) < len(YEARS) and time.monotonic() < deadline:
            time.sleep(0.1)
        # The worker was not left idle meanwhile: an overview ran during this wait, or every one had been handed
        # to it before (a worker holds two tasks, `pool.AHEAD`) and had run already.
        seen["not idle meanwhile"] = len(logged(log)) > ran or ran == len(YEARS)
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "overview_tasks", waiting)
    result = run_batch(project, jobs=1)
    assert result.exit_code == 0 and result.built == 2
    assert seen == {"ran first": True, "not idle meanwhile": True}
    assert logged(log)[0] == 2025 and sorted(logged(log)) == list(YEARS)
    assert [o["status"] for o in result.overviews] == ["published"] * 4


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
