"""`nianbao batch` through the real stack: warm kernels in worker processes, the gate, failures, the
incremental manifest, the reviewers' index, interruption, and the synthetic projects it is measured on."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from conftest import ROOT, index_text, set_figure

from nianbao.atomic import TEMP_GLOB
from nianbao.batch import run_batch
from nianbao.cli import main
from nianbao.manifest import FAILED, GATED, PUBLISHED, WARNINGS, Manifest
from nianbao.project import Project
from nianbao.run import run_report
from nianbao.synth import FAULTS, synth

BIN = Path(sys.executable).parent


def make(tmp_path: Path, offices: int = 2, years: range = range(2019, 2022), faults: float = 0.0,
         seed: int = 1) -> Project:
    synth(tmp_path / "synth", offices, years, seed, faults)
    return Project(tmp_path / "synth")


def built(project: Project, **kw) -> tuple[list[tuple[str, int]], object]:
    """Run a batch; return the office-years it built, in order, and its result."""
    done: list[tuple[str, int]] = []
    result = run_batch(project, on_entry=lambda e: done.append((e.office, e.year)), **kw)
    return sorted(done), result


# The demo's first two offices (7 reports): the tests of the batch's mechanics build these, not the whole
# demo region the overview is shown on.
FIRST_DEMO = ["example-shifan", "guandu-taihe"]


def temporaries(folder: Path) -> list[Path]:
    return list(folder.rglob(TEMP_GLOB))


# -- the demo project ---------------------------------------------------------------------------------

def test_batch_html_is_the_fresh_kernel_html_byte_for_byte(project) -> None:
    """One worker runs all seven reports in one kernel; each page equals a fresh `nianbao run`, and a
    second batch with two workers gives the same bytes again."""
    _, result = built(project, jobs=1, offices=FIRST_DEMO)
    assert result.exit_code == 0 and {e.status for e in result.entries} == {PUBLISHED}
    pages = {e.key: (project.outputs / e.html).read_bytes() for e in result.entries}
    assert len(pages) == 7
    # guandu-taihe 2020 ran last, after six others in the same kernel; example-shifan 2019 ran first.
    for office, year in (("guandu-taihe", 2020), ("example-shifan", 2019)):
        fresh = run_report(project, office, year).html.read_bytes()
        assert fresh == pages[f"{office}/{year}"]
    _, again = built(project, jobs=2, force=True, offices=FIRST_DEMO)
    assert {e.key: (project.outputs / e.html).read_bytes() for e in again.entries} == pages


def test_executed_notebook_keeps_its_provenance(project) -> None:
    _, result = built(project, offices=["guandu-taihe"])
    (entry,) = result.entries
    nb = nbformat.read(project.outputs / entry.notebook, as_version=4)
    meta = nb.metadata
    assert meta.papermill.parameters.office == "guandu-taihe" and meta.papermill.parameters.year == 2020
    assert meta.nianbao.inputs == entry.inputs and len(entry.inputs) == 64
    assert meta.nianbao.versions.nianbao and meta.nianbao.versions.papermill
    assert "start_time" not in meta.papermill and all("execution" not in c.metadata for c in nb.cells)


def test_a_raising_notebook_and_a_killed_kernel_fail_only_their_reports(project) -> None:
    """One worker, so the reports after the kill run on the kernel that replaced the dead one."""
    nb = nbformat.read(project.notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os, signal\n"
        "if (office, year) == ('example-shifan', 2020):\n"
        "    raise RuntimeError('boom in the notebook')\n"
        "if (office, year) == ('example-shifan', 2022):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"))
    nbformat.write(nb, project.notebook)
    result = CliRunner().invoke(main, ["batch", "--jobs", "1", "--offices", ",".join(FIRST_DEMO),
                                       "--project", str(project.root)])
    assert result.exit_code == 2, result.output
    manifest = Manifest(project)
    status = {k: e.status for k, e in manifest.entries.items()}
    assert status == {
        "example-shifan/2019": PUBLISHED, "example-shifan/2020": FAILED, "example-shifan/2021": PUBLISHED,
        "example-shifan/2022": FAILED, "example-shifan/2023": PUBLISHED, "example-shifan/2024": PUBLISHED,
        "guandu-taihe/2020": PUBLISHED,
    }
    raised = manifest.get("example-shifan", 2020).error
    assert "RuntimeError: boom in the notebook" in raised and "raise RuntimeError" in raised  # the traceback
    assert re.search(r"(?i)kernel died|dead", manifest.get("example-shifan", 2022).error)
    # The summary says which and why; the failed reports have no outputs; nothing partial is left.
    assert "failed: example-shifan 2020: RuntimeError: boom in the notebook" in result.output
    assert "failed: example-shifan 2022" in result.output
    out = project.output_dir("example-shifan")
    assert not list(out.glob("2020*")) and not list(out.glob("2022*"))
    assert (out / "2023.html").is_file() and not temporaries(project.outputs)
    # The index shows the traceback.
    index = index_text(project.outputs)
    assert "boom in the notebook" in index and "生成失败" in index


def test_bad_input_fails_its_report_and_the_batch_goes_on(project) -> None:
    (project.root / "params" / "example-shifan" / "2021.yaml").write_text("office: [unclosed\n", encoding="utf-8")
    set_figure(project, "example-shifan", 2022, "t3.new.natural", "-4")
    _, result = built(project, offices=FIRST_DEMO)
    assert result.exit_code == 2
    by_key = {e.key: e for e in result.entries}
    assert by_key["example-shifan/2021"].status == FAILED
    # nianbao's own message as it is (the pool words it as Dask does), not prefixed by the exception's class.
    assert by_key["example-shifan/2021"].error.startswith("params/example-shifan/2021.yaml")
    assert by_key["example-shifan/2022"].status == GATED
    assert (project.output_dir("example-shifan") / "2022.findings.html").is_file()
    assert sum(e.status == PUBLISHED for e in result.entries) == 5


# -- incremental --------------------------------------------------------------------------------------

def test_only_changed_reports_and_the_years_that_read_them_are_rebuilt(tmp_path) -> None:
    project = make(tmp_path)
    everything, first = built(project)
    assert len(everything) == 6 and first.exit_code == 0
    stamps = {p: p.stat().st_mtime_ns for p in project.outputs.rglob("*.html") if p.name != "index.html"}

    assert built(project)[0] == []  # nothing changed: nothing runs

    # A figure of 2020 is read by 2020's report and by 2021's cross-year rules.
    set_figure(project, "shili-0001", 2020, "t2.license.decisions", "77")
    assert built(project)[0] == [("shili-0001", 2020), ("shili-0001", 2021)]
    # Prose is read by its own year only.
    prose = project.narrative_file("shili-0002", 2019)
    prose.write_text(prose.read_text(encoding="utf-8") + "\n补充说明。\n", encoding="utf-8")
    assert built(project)[0] == [("shili-0002", 2019)]
    untouched = [p for p in stamps if "shili-0002/2020" in p.as_posix() or "shili-0001/2019" in p.as_posix()]
    assert untouched and all(p.stat().st_mtime_ns == stamps[p] for p in untouched)

    # What every report shares: the notebook.
    nb = nbformat.read(project.notebook, as_version=4)
    nb.cells[0].source += "\n"
    nbformat.write(nb, project.notebook)
    assert built(project)[0] == everything
    # --force rebuilds what has not changed; a deleted output is rebuilt on its own.
    assert built(project, force=True)[0] == everything
    (project.output_dir("shili-0002") / "2021.html").unlink()
    assert built(project)[0] == [("shili-0002", 2021)]


def test_an_interrupted_batch_leaves_no_partial_file_and_resumes(tmp_path) -> None:
    # Each report takes at least 0.2 s (a cell of the project's notebook sleeps): however fast the batch and however
    # loaded the machine (a test's loop may not run for seconds), it is still under way once three pages are in place.
    project = make(tmp_path, offices=12, years=range(2019, 2024))
    nb = nbformat.read(project.notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(0.2)"))
    nbformat.write(nb, project.notebook)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    # Ctrl-C as a terminal sends it: to a process that handles it, even when this one was started in the
    # background by a shell without job control, which starts it with SIGINT ignored (inherited, Python would
    # then install no handler and the batch would finish: CI run as `bash .ci/run &`).
    proc = subprocess.Popen([str(BIN / "nianbao"), "batch", "--jobs", "1", "--project", str(project.root)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    def finished() -> int:  # pages in place (a temporary being written, `.2020.….tmp.html`, is not one)
        return sum(not p.name.startswith(".") for p in project.outputs.rglob("*.html"))

    while finished() < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not temporaries(project.outputs)
    pages = [p for p in project.outputs.rglob("*.html") if p.name != "index.html"]
    assert 3 <= len(pages) < 60
    assert all(p.read_text(encoding="utf-8").rstrip().endswith("</html>") for p in pages)

    rebuilt, result = built(project)
    assert len(rebuilt) == 60 - len(pages)  # only what was missing
    assert result.exit_code == 0 and len(result.entries) == 60


# -- the index, with faults of every kind --------------------------------------------------------------

class _IndexRows(HTMLParser):
    """The rows of outputs/index.html: "office/year" → status, cell texts, links."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict] = {}
        self._row: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-status" in a:
            self._row = {"status": a["data-status"], "cells": [], "links": []}
        elif self._row is not None and tag == "td":
            self._row["cells"].append("")
        elif self._row is not None and tag == "a":
            self._row["links"].append(a["href"])

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._row["cells"]:
            self._row["cells"][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            cells = self._row["cells"]
            office = cells[0].split()[-1]
            self._row["text"] = " ".join(cells)
            self.rows[f"{office}/{cells[1]}"] = self._row
            self._row = None


def test_index_lists_every_report_with_its_status_for_injected_faults(tmp_path) -> None:
    project = make(tmp_path, offices=8, years=range(2019, 2023), faults=0.7, seed=5)
    expected = json.loads((project.root / "synth.json").read_text(encoding="utf-8"))["reports"]
    injected = {f for e in expected.values() for f in e["faults"]}
    assert injected == set(FAULTS), injected  # this seed injects every kind
    _, result = built(project)
    assert result.exit_code == 2

    parser = _IndexRows()
    parser.feed(index_text(project.outputs))
    assert set(parser.rows) == set(expected)
    for key, want in expected.items():
        row = parser.rows[key]
        assert row["status"] == want["status"], (key, want)
        for rule in want["rules"] if want["status"] != FAILED else ():
            assert rule in row["text"], (key, rule)
        if want["status"] in (PUBLISHED, WARNINGS):
            assert f"{key}.html" in row["links"]
        elif want["status"] == GATED:
            assert f"{key}.findings.html" in row["links"]
        else:
            assert row["links"] == [] and "HTML 标签" in row["text"]
        if not want["faults"]:
            assert row["status"] == PUBLISHED and "CELL-FILLED" not in row["text"]


def test_batch_cli_summary_and_exit_status(tmp_path) -> None:
    project = make(tmp_path, offices=3, years=range(2020, 2022), faults=0.6, seed=2)
    expected = json.loads((project.root / "synth.json").read_text(encoding="utf-8"))["reports"]
    result = CliRunner().invoke(main, ["batch", "--project", str(project.root)])
    statuses = [e["status"] for e in expected.values()]
    assert result.exit_code == (2 if FAILED in statuses else 1 if GATED in statuses else 0)
    for key, want in expected.items():
        office, year = key.split("/")
        if want["status"] == GATED:  # the summary speaks Chinese about data, English about failures
            assert f"未通过校验，不予发布：{office} {year}年" in result.output
        elif want["status"] == FAILED:
            assert f"failed: {office} {year}" in result.output
    assert f"{len(expected)} report(s)" in result.output and "index: outputs/index.html" in result.output
    # Selecting: one office, one year.
    again = CliRunner().invoke(main, ["batch", "--offices", "shili-0001", "--years", "2021", "--force",
                                      "--project", str(project.root)])
    assert "1 report(s)" in again.output


# -- the synthetic projects ---------------------------------------------------------------------------

def test_synth_without_faults_is_clean_across_years_and_formats(tmp_path) -> None:
    project = make(tmp_path, offices=5, years=range(2019, 2026), seed=7)
    result = CliRunner().invoke(main, ["check", "--project", str(project.root)])
    assert result.exit_code == 0 and "已校验35份报告：严重问题0项，警告0项" in result.output


def test_synth_refuses_a_folder_that_holds_a_project(tmp_path) -> None:
    make(tmp_path)
    result = CliRunner().invoke(main, ["synth", "--out", str(tmp_path / "synth"), "--offices", "1"])
    assert result.exit_code == 2 and "already holds a project" in result.output


def test_synth_ships_the_projects_notebooks() -> None:
    from importlib.resources import files

    for name in ("report.ipynb", "overview.ipynb"):
        shipped = files("nianbao").joinpath(f"project_files/{name}").read_bytes()
        assert shipped == (ROOT / "notebooks" / name).read_bytes(), name


def test_outputs_a_killed_batch_did_not_record_are_not_rebuilt(tmp_path) -> None:
    """A kill between a report and the next manifest save loses the record, not the report: its executed
    notebook says which inputs made it."""
    project = make(tmp_path, offices=4, years=range(2020, 2022), faults=0.5, seed=4)
    _, first = built(project)
    statuses = {e.key: (e.status, e.findings, e.html) for e in first.entries}
    assert {s for s, _, _ in statuses.values()} >= {WARNINGS, GATED}
    (project.outputs / "manifest.json").unlink()
    rebuilt, again = built(project)
    failed = [k for k, (s, _, _) in statuses.items() if s == FAILED]  # failures leave no output: run again
    assert [f"{o}/{y}" for o, y in rebuilt] == failed
    assert {e.key: (e.status, e.findings, e.html) for e in again.entries} == statuses


def test_progress_is_a_bar_on_a_terminal_and_lines_in_ci() -> None:
    import io

    from nianbao.manifest import Entry
    from nianbao.progress import Progress

    def shown(tty: bool, skipped: int) -> str:
        stream = io.StringIO()
        progress = Progress(stream, tty=tty)
        progress.start(3, skipped)
        for e in (Entry("a", 2020, PUBLISHED, None), Entry("b", 2021, GATED, None), Entry("c", 2022, FAILED, None)):
            progress.update(e)
        progress.close()
        return stream.getvalue()

    lines = shown(tty=False, skipped=2).splitlines()
    assert lines[0] == "2 report(s) unchanged since their last build: skipped" and lines[1] == "building 3 report(s)"
    assert re.fullmatch(r"\[2/3\] gated +b 2021 \(\d+\.\d (?:reports/s|s/report)\)", lines[3])
    bar = shown(tty=True, skipped=0)
    assert "3/3" in bar and "c 2022" in bar and "gated: b 2021" in bar and "failed: c 2022" in bar


@pytest.mark.parametrize("count, seconds, shown", [
    (10, 2.0, "5.0 reports/s"), (1, 1.0, "1.0 reports/s"), (1, 95.0, "95.0 s/report"), (3, 30.0, "10.0 s/report"),
    (0, 5.0, ""), (4, 0.0, ""),
])
def test_a_rate_is_said_only_where_it_means_something(count, seconds, shown) -> None:
    from nianbao.progress import rate

    assert rate(count, seconds) == shown


def test_a_slow_report_is_shown_in_seconds_per_report_not_zero_reports_per_second(monkeypatch) -> None:
    import io

    from nianbao.manifest import Entry
    from nianbao.progress import Progress

    clock = iter([0.0, 0.0, 125.0])
    monkeypatch.setattr("nianbao.progress.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = Progress(stream, tty=False)
    progress.start(2, 0)
    progress.update(Entry("a", 2020, PUBLISHED, None))
    assert stream.getvalue().splitlines()[-1] == "[1/2] published a 2020 (125.0 s/report)"
    assert "0.0 reports/s" not in stream.getvalue()


@pytest.mark.parametrize(("times", "unit"), [
    ([1.5, 2.0, 2.5, 3.0, 3.3], "s/report"),  # a slow first report (workers starting), then faster: 1.5 → 0.66
    ([0.5, 1.0, 4.0, 12.0, 30.0], "reports/s"),  # fast first, then slower than one a second: 2.0 → 0.17
])
def test_the_progress_line_keeps_the_unit_it_started_with(monkeypatch, times: list[float], unit: str) -> None:
    """One run, one unit: `1.5 s/report` then `1.2 reports/s` would read as if the batch had slowed down."""
    import io

    from nianbao.manifest import Entry
    from nianbao.progress import Progress

    clock = iter([0.0, 0.0, *times])
    monkeypatch.setattr("nianbao.progress.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = Progress(stream, tty=False)
    progress.start(len(times), 0)
    for year in range(2020, 2020 + len(times)):
        progress.update(Entry("a", year, PUBLISHED, None))
    speeds = [re.search(r"\(([\d.]+) (\S+)\)$", line).groups() for line in stream.getvalue().splitlines()[1:]]
    assert {u for _, u in speeds} == {unit}, speeds
    assert all(float(n) > 0 for n, _ in speeds), speeds  # never 0.0 of a unit kept below its range
    assert float(speeds[0][0]) != float(speeds[-1][0])
