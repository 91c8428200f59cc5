"""A small change costs little: few workers for few reports (the pool grows only when the work outlasts a
worker's start), no great-expectations import when nothing is stale."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import set_figure
from test_incremental import age_inputs, make

from nianbao import pool
from nianbao.batch import REPORTS_PER_WORKER, run_batch, workers_for
from nianbao.project import Project


def test_workers_for_few_reports_is_one_and_grows_with_the_work() -> None:
    assert workers_for(1, 2) == workers_for(2, 2) == workers_for(REPORTS_PER_WORKER, 8) == 1
    assert workers_for(REPORTS_PER_WORKER + 1, 8) == 2
    assert workers_for(10_000, 2) == 2  # never more than --jobs
    assert workers_for(0, 4) == 1


class Pools:
    """Every WorkerPool the batch makes, as made (the real class, recorded)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[pool.WorkerPool] = []
        made, original = self.made, pool.WorkerPool.__init__

        def init(self: pool.WorkerPool, *args, **kwargs) -> None:
            original(self, *args, **kwargs)
            made.append(self)

        monkeypatch.setattr(pool.WorkerPool, "__init__", init)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make(tmp_path_factory.mktemp("small"), offices=3, years=range(2019, 2023))
    run_batch(project, jobs=2)
    age_inputs(project)
    run_batch(project, jobs=2)  # records the aged stats: the next run reads only what changes
    return project


def test_one_changed_figure_starts_one_worker_for_its_reports_and_overviews(built: Project, monkeypatch) -> None:
    pools = Pools(monkeypatch)
    monkeypatch.setattr(pool, "WORKER_START", 1e9)  # however slow this machine is now, the work never outlasts it
    set_figure(built, "shili-0002", 2020, "t2.license.decisions", "78")
    done: list[tuple[str, int]] = []
    result = run_batch(built, jobs=2, on_entry=lambda e: done.append((e.office, e.year)))
    assert sorted(done) == [("shili-0002", 2020), ("shili-0002", 2021)]
    assert result.exit_code == 0 and result.overviews  # the overviews of 2020 on were rebuilt, on that worker
    assert [(p.started, p.size, p.most) for p in pools.made] == [(1, 1, 2)]


def test_the_kernel_starts_at_the_first_changed_input_and_not_for_a_file_that_digests_the_same(
        built: Project, monkeypatch) -> None:
    """A worker starts on standby as the batch starts, and its kernel as soon as an input digests to something new,
    while the others are digested; a file saved again unchanged (a new mtime, the same bytes) starts no kernel, and
    the worker goes without having started one."""
    from nianbao import batch

    pools = Pools(monkeypatch)
    during: list[int] = []  # kernels asked for by the time the digests were known
    original = batch.input_digests

    def digests(*args, **kwargs):
        found = original(*args, **kwargs)
        during.append(sum(p.kernels for p in pools.made))
        return found

    monkeypatch.setattr(batch, "input_digests", digests)
    run_batch(built, jobs=2)  # whatever the tests before left to do
    age_inputs(built)
    run_batch(built, jobs=2)
    pools.made.clear()
    during.clear()
    path = built.figures_file("shili-0003")
    path.write_bytes(path.read_bytes())  # saved again, unchanged
    assert run_batch(built, jobs=2).built == 0
    assert during == [0] and [(p.started, p.kernels) for p in pools.made] == [(1, 0)]
    # stopped on standby, by the signal or its handler, whichever it had reached
    assert all(w.process.exitcode in (-signal.SIGTERM, 128 + signal.SIGTERM) for p in pools.made for w in p._workers)
    pools.made.clear()
    set_figure(built, "shili-0003", 2022, "t2.license.decisions", "77")
    result = run_batch(built, jobs=2)
    assert result.built == 1 and result.exit_code == 0
    assert during == [0, 1] and [(p.started, p.size, p.kernels) for p in pools.made] == [(1, 1, 1)]



def test_a_changed_figures_file_starts_the_kernel_before_the_reports_are_listed_and_is_read_once(
        built: Project, monkeypatch) -> None:
    """The figures files the last run recorded are looked at first (`manifest.look_ahead`): a change there starts
    the kernel before params/ is listed and the registry and the manifest are read, and the file is parsed once
    (fresh, its record is not settled, but it was read this run). A selection (--offices) does not look ahead: a
    change to an office not selected starts no kernel."""
    from nianbao import batch, manifest

    pools = Pools(monkeypatch)
    at_listing: list[int] = []
    listed = batch.list_reports
    monkeypatch.setattr(batch, "list_reports", lambda *a, **k: at_listing.append(
        sum(p.kernels for p in pools.made)) or listed(*a, **k))
    parsed: list[str] = []
    digests = manifest.figures_digests
    monkeypatch.setattr(manifest, "figures_digests", lambda project, office: parsed.append(office) or digests(
        project, office))
    run_batch(built, jobs=2)  # whatever the tests before left to do
    at_listing.clear(), parsed.clear(), pools.made.clear()
    set_figure(built, "shili-0001", 2021, "t2.license.decisions", "76")
    result = run_batch(built, jobs=2)
    assert result.built == 2 and result.exit_code == 0
    assert at_listing == [1] and parsed.count("shili-0001") == 1  # (others edited just before may be read again)
    at_listing.clear(), parsed.clear(), pools.made.clear()
    set_figure(built, "shili-0002", 2021, "t2.license.decisions", "75")
    result = run_batch(built, jobs=2, offices=["shili-0003"])
    assert result.built == 0 and at_listing == [0] and "shili-0002" not in parsed
    assert [p.kernels for p in pools.made] == [0]
    assert run_batch(built, jobs=2).built == 2  # left as the tests after expect it: nothing to do

def test_the_pool_grows_when_the_waiting_work_outlasts_a_workers_start(built: Project, monkeypatch) -> None:
    pools = Pools(monkeypatch)
    monkeypatch.setattr(pool, "WORKER_START", 0.0)  # any waiting work outlasts it
    for office in ("shili-0001", "shili-0002", "shili-0003"):
        set_figure(built, office, 2019, "t2.license.decisions", "79")
    result = run_batch(built, jobs=2)
    assert result.built == 6 and result.exit_code == 0
    assert [(p.started, p.size) for p in pools.made] == [(2, 2)]  # started with one, grown to --jobs, no more


NO_OP = """
import json, sys
from pathlib import Path
from nianbao.batch import run_batch
from nianbao.project import Project
result = run_batch(Project(Path(sys.argv[1])))
print(json.dumps({"built": result.built, "modules": sorted(m for m in ("great_expectations", "pandas", "papermill")
                                                             if m in sys.modules)}))
"""


def test_a_no_op_imports_neither_great_expectations_nor_pandas_nor_papermill(built: Project) -> None:
    run_batch(built)  # whatever the tests before left to do
    out = subprocess.run([sys.executable, "-c", NO_OP, str(built.root)], capture_output=True, text=True, check=True,
                         cwd=Path(built.root))
    assert json.loads(out.stdout.splitlines()[-1]) == {"built": 0, "modules": []}


def test_no_collection_while_the_project_is_loaded_and_the_collector_is_left_as_found(built: Project,
                                                                                      monkeypatch) -> None:
    """The manifest, the digest records and the registry are ~10⁶ objects, none garbage: no automatic collection
    walks them while they are read (half of a no-op's time at 10⁴ office-years); the caller's setting is kept."""
    import gc

    from nianbao.digests import DigestState

    seen: list[bool] = []
    save = DigestState.save
    monkeypatch.setattr(DigestState, "save", lambda self: (seen.append(gc.isenabled()), save(self))[1])
    for enabled in (True, False):
        gc.enable() if enabled else gc.disable()
        try:
            run_batch(built)
        finally:
            after = gc.isenabled()
            gc.enable()
        assert after is enabled
    assert seen == [False, False]  # the digests are saved at the end of the loading


@pytest.mark.parametrize(("value", "status"), [("78", "published"), ("七十八", "gated")])
def test_a_small_change_is_validated_without_importing_great_expectations(built: Project, value: str,
                                                                           status: str) -> None:
    """The few reports a small change rebuilds are validated row by row (`validate.ROW_BY_ROW`): the batch's own
    process imports neither great-expectations nor pandas, and a broken figure is still gated."""
    run_batch(built)
    set_figure(built, "shili-0001", 2022, "t2.license.decisions", value)
    code = NO_OP.replace('"built": result.built,', '"built": result.built, "status": [e.status for e in '
                         'result.entries if (e.office, e.year) == ("shili-0001", 2022)],')
    out = subprocess.run([sys.executable, "-c", code, str(built.root)], capture_output=True, text=True,
                         cwd=Path(built.root))
    assert json.loads(out.stdout.splitlines()[-1]) == {"built": 1, "status": [status], "modules": []}, out.stderr
    set_figure(built, "shili-0001", 2022, "t2.license.decisions", "78")


@pytest.mark.parametrize(("ref", "value"), [("t3.new.natural", "NaN"), ("t4.review.total", "9"),
                                            ("t2.rules.issued", "-1"), ("t3.new.research", "")])
def test_a_suites_verdict_first_finds_what_its_complete_run_finds(project, monkeypatch, ref: str, value: str) -> None:
    """A few reports are validated for each suite's verdict first; a suite that fails is run again for every
    failing row: the findings are those of the complete run, and a suite that passes is not run again."""
    from nianbao import validate as v
    from nianbao.report import load_report

    set_figure(project, "example-shifan", 2023, ref, value)
    reports = [load_report("example-shifan", year, project) for year in (2022, 2023)]
    monkeypatch.setattr(v, "VERDICT_FIRST", 0)
    complete = v.validate(reports, project, by_rows=False)
    assert complete  # the broken cell is found
    from great_expectations.datasource.fluent.interfaces import Batch

    kinds: list[str] = []  # the result format of each GX run
    original = Batch.validate

    def spy(self, suite, *args, result_format=None, **kwargs):
        kinds.append(result_format if isinstance(result_format, str) else result_format["result_format"])
        return original(self, suite, *args, result_format=result_format, **kwargs)

    monkeypatch.setattr(Batch, "validate", spy)
    monkeypatch.setattr(v, "VERDICT_FIRST", 20)
    assert v.validate(reports, project, by_rows=False) == complete
    assert kinds.count("BOOLEAN_ONLY") == 4  # each suite's verdict (cells, arithmetic, prose, labels)
    assert 1 <= kinds.count("COMPLETE") < 4  # only the failing suites again


def test_a_manifest_save_keeps_the_lines_it_read_and_encodes_only_what_changed(built: Project) -> None:
    from dataclasses import replace

    from nianbao.manifest import MANIFEST, Manifest, _line

    run_batch(built)
    path = built.outputs / MANIFEST
    manifest = Manifest(built)
    assert manifest._lines and manifest._lines == {k: _line(k, e.to_dict()) for k, e in manifest.entries.items()}
    key = sorted(manifest.entries)[0]
    manifest.put(replace(manifest.entries[key], error="x"))
    manifest.save()
    fresh = Manifest(built)
    assert fresh.entries[key].error == "x"
    fresh._lines.clear()  # everything encoded again: the same text
    fresh.changed = True
    before = path.read_text(encoding="utf-8")
    fresh.save()
    assert path.read_text(encoding="utf-8") == before

    # A line of another version (a field it did not have) is encoded again, with today's fields.
    text = before.replace(f'"{key}": {{"error": "x", ', f'"{key}": {{', 1)
    assert text != before
    path.write_text(text, encoding="utf-8")
    older = Manifest(built)
    assert key not in older._lines and len(older._lines) == len(older.entries) - 1
    older.changed = True
    older.save()
    assert f'"{key}": {{"error": null, ' in path.read_text(encoding="utf-8")


def test_a_kernel_parses_the_manifest_again_only_when_its_reports_changed(built: Project, monkeypatch) -> None:
    """A region's pages read the reports' statuses from the manifest, which the batch saves again after each page
    with that page's entry: the reports part (`manifest.reports_part`) is what decides whether to parse it (4 MB
    at 10⁴ office-years, 40 ms a page)."""
    from dataclasses import replace

    from nianbao import overview
    from nianbao.manifest import MANIFEST, Manifest, reports_part

    run_batch(built)
    from types import SimpleNamespace

    parsed: list[int] = []
    real = overview.json  # overview's own name for it: the test's reads are not counted
    monkeypatch.setattr(overview, "json", SimpleNamespace(dumps=real.dumps,
                                                          loads=lambda text: (parsed.append(1), real.loads(text))[1]))
    monkeypatch.setattr(overview, "SETTLE_NS", -10**18)  # the stat shortcut off: every read looks at the bytes
    monkeypatch.setattr(overview, "_MANIFEST", ([], b"", {}))
    first = overview._manifest_reports(built)
    assert first and len(parsed) == 1
    path = built.outputs / MANIFEST
    before = path.read_bytes()
    manifest = Manifest(built)
    key = sorted(manifest.overviews)[0]
    manifest.put_overview({**manifest.overviews[key], "headlines": {"x": 1}})  # a page published
    manifest.save()
    assert path.read_bytes() != before and reports_part(path.read_bytes()) == reports_part(before)
    assert overview._manifest_reports(built) == first and len(parsed) == 1  # not parsed again
    report = sorted(manifest.entries)[0]
    manifest.put(replace(manifest.entries[report], error="x"))  # a report recorded
    manifest.save()
    assert overview._manifest_reports(built)[report]["error"] == "x" and len(parsed) == 2
    assert reports_part(b'{"reports": {}}') == b'{"reports": {}}'  # not laid out by `save`: all of it


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_a_worker_told_to_stop_shuts_its_kernel_down_and_exits_cleanly(built: Project) -> None:
    """A worker ends without Python's teardown (the batch waits for it): its kernel is shut down first, and it
    exits 0."""
    workers = pool.WorkerPool(built, 1)
    process = workers._workers[0].process
    deadline = time.monotonic() + 120
    while not (kernels := _children(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)  # the worker starts its kernel as it warms up
    assert kernels, "the worker started no kernel"
    workers.release()
    workers.close()
    assert process.exitcode == 0
    time.sleep(0.5)
    assert [pid for pid in kernels if Path(f"/proc/{pid}").exists()] == []


def test_a_worker_executes_its_next_report_while_the_last_is_rendered_and_written(tmp_path: Path) -> None:
    """A worker holds two tasks (`pool.AHEAD`): its kernel executes the next while the last one's notebook and
    page are encoded, rendered, written and sent (~0.1 s of a 1429-office overview page). Each report here prints
    a million lines, about a second of the worker's encoding: the next report starts on the kernel before the
    outcome of the one before it reaches the batch."""
    from itertools import pairwise

    import nbformat

    project = make(tmp_path, offices=1, years=range(2019, 2022))
    log = tmp_path / "started.log"
    nb = nbformat.read(project.notebook, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(
        f"import time\nwith open({str(log)!r}, 'a') as f:\n    print(year, time.time(), file=f)"))
    nb.cells.append(nbformat.v4.new_code_cell('print("\\n".join(["x"] * 1_000_000))'))
    nbformat.write(nb, project.notebook)
    came: dict[int, float] = {}
    result = run_batch(project, jobs=1, on_entry=lambda e: came.setdefault(e.year, time.time()))
    assert result.exit_code == 0 and result.built == 3
    started = sorted((float(t), int(y)) for y, t in (line.split() for line in log.read_text().splitlines()))
    ahead = [came[last] - start for (_, last), (start, _) in pairwise(started)]
    assert max(ahead) > 0.2, ahead  # seconds the next report was under way before the last one's outcome came
