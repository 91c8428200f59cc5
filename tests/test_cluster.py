"""`nianbao batch --scheduler`: the batch on a real Dask cluster (`dask scheduler` and two `dask worker`
processes on localhost, started in folders without the project), compared byte for byte with the local
process pool; a worker killed mid-batch; a kernel that dies; `--scheduler local`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import distributed
import nbformat
import pytest
from click.testing import CliRunner
from conftest import files_under, set_figure
from dask_cluster import START_TIMEOUT, free_port, real_cluster

import nianbao
from nianbao import cluster
from nianbao.atomic import TEMP_GLOB
from nianbao.batch import run_batch
from nianbao.cli import main
from nianbao.manifest import FAILED, GATED, PUBLISHED, WARNINGS, Manifest
from nianbao.overview import CACHE_DIR
from nianbao.project import Project
from nianbao.synth import synth


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory) -> Iterator[str]:
    """The address of a real Dask scheduler with two workers (nannies restart a killed one)."""
    with real_cluster(tmp_path_factory.mktemp, 2) as address:
        yield address


def _two_workers(address: str) -> distributed.Client:
    client = distributed.Client(address, timeout=START_TIMEOUT)
    client.wait_for_workers(2, timeout=START_TIMEOUT)
    return client


def _make(tmp_path: Path, name: str, offices: int, years: range, faults: float = 0.0, cell: str = "") -> Project:
    synth(tmp_path / name, offices, years, 3, faults)
    project = Project(tmp_path / name)
    if cell:
        nb = nbformat.read(project.notebook, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(cell))
        nbformat.write(nb, project.notebook)
    return project


def _summary(output: str) -> list[str]:
    """The batch's progress and summary lines without timings, sorted (reports finish in any order)."""
    import re

    lines = (re.sub(r"^\[\d+/\d+\] | \([\d.]+ (?:reports/s|s/report)\)$", "", line) for line in output.splitlines())
    return sorted(re.sub(r"built (\d+) in [\d.]+ s(, [\d.]+ (?:reports/s|s/report))?", r"built \1", line)
                  for line in lines)


def test_cluster_batch_equals_the_local_pool_byte_for_byte(tmp_path, scheduler) -> None:
    """Same project both ways (gated, failed and published reports, overviews): the same exit code and summary,
    every output file and the manifest the same bytes. DASK_SCHEDULER_ADDRESS selects the cluster."""
    local = _make(tmp_path, "local", 4, range(2019, 2022), faults=0.3,
                  cell="if (office, year) == ('shili-0002', 2020):\n    raise RuntimeError('boom')\n")
    shutil.copytree(local.root, tmp_path / "dask")
    remote = Project(tmp_path / "dask")
    runner = CliRunner()
    a = runner.invoke(main, ["batch", "--project", str(local.root)], env={cluster.ENV: ""})
    b = runner.invoke(main, ["batch", "--project", str(remote.root)], env={cluster.ENV: scheduler})
    assert a.exit_code == b.exit_code == 2, (a.output, b.output)
    statuses = {e.status for e in Manifest(remote).entries.values()}
    assert {PUBLISHED, GATED, FAILED} <= statuses | {WARNINGS}, b.output
    assert "failed: shili-0002 2020: RuntimeError: boom" in b.output
    assert _summary(a.output) == _summary(b.output)
    # Every output, but the overview's cache of figures (keyed by the figures files' mtimes, which a worker's
    # copies do not share): the workers keep theirs.
    kept = f"overview/{CACHE_DIR}/"
    pool_outputs = {k: v for k, v in files_under(local.outputs).items() if not k.startswith(kept)}
    assert pool_outputs == files_under(remote.outputs)
    assert (remote.outputs / "overview" / "2021.html").is_file()
    # Incremental as the local pool: only the failed report is built again.
    again = runner.invoke(main, ["batch", "--project", str(remote.root), "--scheduler", scheduler])
    assert again.exit_code == 2 and "built 1 in" in again.output, again.output


def test_a_killed_worker_and_a_dead_kernel_fail_or_retry_only_their_reports(tmp_path, scheduler) -> None:
    """SIGKILL to a worker process while it runs a chunk: Dask runs that chunk again on another worker and
    the batch completes; a kernel that kills itself fails its report only. Nothing partial is written."""
    project = _make(tmp_path, "kill", 4, range(2019, 2023), cell=(
        "import os, signal, time\n"
        "time.sleep(0.2)\n"
        "if (office, year) == ('shili-0003', 2021):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"))
    client = _two_workers(scheduler)
    killed: list[int] = []

    def kill_a_busy_worker(entry) -> None:
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    try:
        result = run_batch(project, scheduler=scheduler, on_entry=kill_a_busy_worker)
    finally:
        client.close()
    assert killed, "no worker was busy after the first report"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    assert len(result.entries) == 16
    for e in result.entries:
        if e.status == FAILED:
            assert e.error and not list(project.output_dir(e.office).glob(f"{e.year}.*"))
        else:
            assert e.status == PUBLISHED and (project.outputs / e.html).is_file()
    dead = Manifest(project).get("shili-0003", 2021)
    assert dead.status == FAILED and "kernel died" in dead.error
    assert [e.key for e in result.entries if e.status == FAILED] == ["shili-0003/2021"]
    assert result.exit_code == 2 and not list(project.outputs.rglob(TEMP_GLOB))


def test_local_cluster_and_an_unreachable_scheduler(tmp_path, monkeypatch) -> None:
    """`--scheduler local` starts a LocalCluster of --jobs workers and stops it; a scheduler that cannot be
    reached is one line and exit 2."""
    project = _make(tmp_path, "lc", 1, range(2020, 2022))
    runner = CliRunner()
    started = time.perf_counter()
    done = runner.invoke(main, ["batch", "--project", str(project.root), "--scheduler", "local", "--jobs", "1"])
    assert done.exit_code == 0, done.output
    assert "2 report(s): 2 published" in done.output and time.perf_counter() - started < 120
    assert (project.outputs / "shili-0001" / "2021.html").is_file()
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)
    refused = runner.invoke(main, ["batch", "--project", str(project.root), "--force",
                                   "--scheduler", f"tcp://127.0.0.1:{free_port()}"])
    assert refused.exit_code == 2 and "cannot reach the Dask scheduler" in refused.output
    assert "Traceback" not in refused.output


def test_what_travels_to_the_workers(tmp_path) -> None:
    """Shared once: notebooks, suites, registry (no figures or prose); per chunk: each office's figures file
    once, the prose and params of its office-years, and a missing file as absent (the worker deletes its copy)."""
    project = _make(tmp_path, "wire", 2, range(2019, 2022))
    shared = cluster.shared_bundle(project)
    assert {"notebooks/report.ipynb", "data/offices.csv", "expectations/cells.json"} <= set(shared.files)
    assert not any(name.startswith(("data/figures", "data/narrative", "params")) for name in shared.files)
    assert shared.digest == cluster.shared_bundle(project).digest and len(shared.shared) == 64
    project.narrative_file("shili-0002", 2020).unlink()
    files = cluster.report_files(project, [("shili-0001", 2019), ("shili-0001", 2020), ("shili-0002", 2020)])
    assert sorted(files) == ["data/figures/shili-0001.csv", "data/figures/shili-0002.csv",
                             "data/narrative/shili-0001/2019.md", "data/narrative/shili-0001/2020.md",
                             "data/narrative/shili-0002/2020.md", "params/shili-0001/2019.yaml",
                             "params/shili-0001/2020.yaml", "params/shili-0002/2020.yaml"]
    assert files["data/narrative/shili-0002/2020.md"] is None
    assert files["data/figures/shili-0001.csv"] == project.figures_file("shili-0001").read_bytes()


def _plugins(client: distributed.Client) -> dict[str, tuple[int, str, int | None]]:
    """Each worker's nianbao plugin: its object id, its folder and its warm kernel's process id."""
    def describe(dask_worker) -> tuple[int, str, int | None]:
        from nianbao import engines

        plugin, warm = dask_worker.plugins[cluster.PLUGIN], engines._warm
        return id(plugin), str(plugin.root), warm.km.provisioner.pid if warm else None

    return client.run(describe)


def test_a_second_batch_on_an_existing_cluster_finds_warm_kernels(tmp_path, scheduler) -> None:
    """The plugin stays on the workers after a batch: a second batch of the same nianbao with the same options
    runs on the same plugins and kernels (no restart); other options (--timeout) register a new plugin."""
    project = _make(tmp_path, "warm", 2, range(2020, 2022))
    client = _two_workers(scheduler)
    try:
        assert run_batch(project, scheduler=scheduler).exit_code == 0
        first = _plugins(client)
        assert all(pid for _, _, pid in first.values()), first  # every worker has a running kernel
        again = run_batch(project, scheduler=scheduler, force=True)
        assert again.exit_code == 0 and again.built == 4
        assert _plugins(client) == first
        other = run_batch(project, scheduler=scheduler, force=True, timeout=300)
        assert other.exit_code == 0
        assert {i for i, _, _ in _plugins(client).values()}.isdisjoint({i for i, _, _ in first.values()})
    finally:
        client.close()


OTHER_VERSION = "0.0.0+other"


def test_a_worker_with_another_nianbao_version_refuses_the_work(tmp_path, tmp_path_factory) -> None:
    """A real worker whose nianbao says another version (`dask worker --preload` sets it) refuses every report and
    every region's overview: each fails with the reason README gives, the batch exits 2 without a traceback,
    and no report or overview page is written."""
    preload = tmp_path / "other_version.py"
    preload.write_text(f"import nianbao\nnianbao.__version__ = {OTHER_VERSION!r}\n")
    project = _make(tmp_path, "refused", 2, range(2020, 2022))
    with real_cluster(tmp_path_factory.mktemp, 1, "--preload", str(preload)) as address:
        result = CliRunner().invoke(main, ["batch", "--project", str(project.root), "--scheduler", address])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    reason = (f"the Dask worker's nianbao {OTHER_VERSION} (its version or page templates) is not the client's "
              f"{nianbao.__version__}: install the same nianbao version on every worker")
    manifest = Manifest(project)
    assert len(manifest.entries) == 4
    for entry in manifest.entries.values():
        assert entry.status == FAILED and reason in entry.error, entry.error
    assert f"failed: shili-0001 2020: the Dask cluster could not run this report: {reason}\n" in result.output
    regional = [o for o in manifest.overviews.values() if o.get("region")]  # the year's list is the client's
    assert len(regional) == 2 and all(o["status"] == FAILED and o["error"] == reason for o in regional), regional
    assert f"failed: overview 示例省示例市示例区 2021: {reason}\n" in result.output
    assert not list(project.outputs.glob("shili-*/*")) and not list(project.outputs.glob("overview/r-*/*"))


def _add_one(project: Project, office: str, year: int) -> None:
    """An analyst's edit: one more 行政许可 decision in `office`'s figures of `year` (as benchmarks/batch.py's)."""
    path = project.figures_file(office)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    prefix = f"{year},t2,license,decisions,"
    path.write_text("".join(f"{prefix}{int(line[len(prefix):]) + 1}\n" if line.startswith(prefix) else line
                            for line in lines), encoding="utf-8")


def _age(project: Project, seconds: float) -> None:
    """Every input file's mtime `seconds` in the past: a project whose files are older than a batch."""
    when = time.time() - seconds
    for folder in (project.data, project.root / "params", project.notebook.parent, project.expectations):
        for path in folder.rglob("*"):
            os.utime(path, (when, when))


def test_a_re_run_on_a_standing_cluster_sends_only_what_changed(tmp_path, scheduler, monkeypatch) -> None:
    """On a cluster kept running between batches: after one changed figure (2020), the second batch rebuilds
    that report and its next year only, sends the workers no overview input but the changed figures file and the
    manifest, makes every overview from 2020 on early and keeps them all (the rebuilt reports are published as
    before), and every output is the local pool's, byte for byte; a third batch finds nothing to do, the early
    overviews' digests included; after the workers restart, a batch sends them the project's files once. A change
    that gates its report: the overview of that year, made early from the manifest that said published, is made
    again, and the outputs are still the pool's."""
    pool = _make(tmp_path, "pool", 3, range(2019, 2024))
    _age(pool, 60)
    shutil.copytree(pool.root, tmp_path / "standing")
    remote = Project(tmp_path / "standing")
    assert run_batch(pool).exit_code == 0
    assert run_batch(remote, scheduler=scheduler).exit_code == 0
    sent: list[set[str]] = []
    mirror = cluster.DaskPool._mirror

    def recorded(self, listing=None, base=None):
        made = mirror(self, listing, base)
        sent.append(set(made[0].files))
        return made

    early: list[str] = []
    as_job = cluster._as_job

    def standing_for(result, job, read, final):
        done = as_job(result, job, read, final)
        if done is not None:
            early.append(f"{job.region}/{job.year}")
        return done

    monkeypatch.setattr(cluster.DaskPool, "_mirror", recorded)
    monkeypatch.setattr(cluster, "_as_job", standing_for)
    for project in (pool, remote):
        _add_one(project, "shili-0002", 2020)
    time.sleep(2.1)  # the edit is older than the digests' settle time, as an analyst's is when a batch runs
    built: list[str] = []
    assert run_batch(pool).built == 2
    second = run_batch(remote, scheduler=scheduler, on_entry=lambda e: built.append(e.key))
    assert second.exit_code == 0 and sorted(built) == ["shili-0002/2020", "shili-0002/2021"]
    assert sent and set().union(*sent) == {"data/figures/shili-0002.csv", "outputs/manifest.json"}, sent
    assert sorted(y for y in (e.rpartition("/")[2] for e in early)) == ["2020", "2021", "2022", "2023"], early
    kept = f"overview/{CACHE_DIR}/"
    assert {k: v for k, v in files_under(pool.outputs).items() if not k.startswith(kept)} \
        == files_under(remote.outputs)
    manifest = (remote.outputs / "manifest.json").read_bytes()
    third = run_batch(remote, scheduler=scheduler)
    assert third.built == 0 and (remote.outputs / "manifest.json").read_bytes() == manifest
    # Workers restarted (an upgrade, a crash): the next batch sends them the project once, and still makes what
    # the pool makes.
    client = _two_workers(scheduler)
    try:
        client.restart()
        client.wait_for_workers(2, timeout=START_TIMEOUT)
    finally:
        client.close()
    for project in (pool, remote):
        _add_one(project, "shili-0003", 2020)
    time.sleep(2.1)
    sent.clear()
    assert run_batch(pool).built == 2 and run_batch(remote, scheduler=scheduler).built == 2
    assert len(sent) == 1 and "data/offices.csv" in sent[0], sent  # every overview early: one mirror
    assert {k: v for k, v in files_under(pool.outputs).items() if not k.startswith(kept)} \
        == files_under(remote.outputs)
    for project in (pool, remote):
        set_figure(project, "shili-0001", 2021, "t2.license.decisions", "-5")  # a negative count: critical
    time.sleep(2.1)
    early.clear()
    assert run_batch(pool).exit_code == 1
    gated = run_batch(remote, scheduler=scheduler)
    assert gated.exit_code == 1 and [e.key for e in gated.with_status(GATED)] == ["shili-0001/2021"]
    assert "2021" not in {e.rpartition("/")[2] for e in early} and "示例省示例市示例区/2023" in early, early
    assert {k: v for k, v in files_under(pool.outputs).items() if not k.startswith(kept)} \
        == files_under(remote.outputs)


def test_early_overviews_are_the_years_from_the_first_changed_one_kept_when_their_reports_show_the_same(
        tmp_path) -> None:
    """Which overviews start before the reports are built: per region, every year from the first changed one whose
    changed reports are recorded, not as failed (and none for an office of no region, or without an overview
    notebook); an early overview stands for its job only when its year's reports are recorded as it showed them:
    the same reports, each with the same status, findings and page (`overview.report_status`), whatever else of
    their entries changed (their digest, their notebook)."""

    def line(key: str, **fields: object) -> bytes:
        entry = {"findings": [], "html": f"{key}.html", "inputs": "a" * 64, "notebook": f"{key}.ipynb",
                 "status": PUBLISHED, **fields}
        return f'"{key}": {json.dumps(entry, sort_keys=True)}'.encode()

    def manifest(*lines: bytes) -> bytes:
        return b'{"overviews": {},\n"reports": {\n' + b",\n".join(lines) + b'\n},\n"version": 1}\n'

    project = _make(tmp_path, "plan", 2, range(2019, 2025))
    listing = cluster.project_listing(project)
    assert "params/shili-0001/2019.yaml" in listing and "outputs/manifest.json" not in listing
    changed = [("shili-0001", 2021), ("shili-0001", 2022), ("shili-0002", 2023)]
    recorded = [line("shili-0001/2021"), line("shili-0001/2022"), line("shili-0002/2023", status=GATED)]
    plan = cluster.early_overviews(project, changed, listing, manifest(*recorded))
    assert [(t.year, t.inputs) for t in plan] == [(y, cluster.EARLY) for y in (2024, 2023, 2022, 2021)]
    assert {t.region for t in plan} == {"示例省示例市示例区"}
    # A year whose changed report failed last time, or was never built (a first build), waits for its reports.
    recorded[1] = line("shili-0001/2022", status=FAILED)
    assert [t.year for t in cluster.early_overviews(project, changed, listing, manifest(*recorded))] \
        == [2024, 2023, 2021]
    assert [t.year for t in cluster.early_overviews(project, changed, listing)] == [2024]
    assert [t.year for t in cluster.early_overviews(project, [("shili-0001", 2024)], listing,
                                                    manifest(line("shili-0001/2024")))] == [2024]
    assert cluster.early_overviews(project, [("nobody", 2019)], listing, manifest(line("nobody/2019"))) == []

    read = manifest(line("a/2023"), line("b/2023"), line("a/2024"))
    job = type("Job", (), {"year": 2023, "inputs": "d" * 64})()
    outcome = ({"year": 2023, "status": PUBLISHED, "inputs": cluster.EARLY},
               {"overview/2023.ipynb": f'{{"inputs": "{cluster.EARLY}"}}'.encode(), "overview/2023.html": b"<p>"})
    made = ({"year": 2023, "status": PUBLISHED, "inputs": "d" * 64},
            {"overview/2023.ipynb": ('{"inputs": "' + "d" * 64 + '"}').encode(), "overview/2023.html": b"<p>"})
    assert cluster._as_job(outcome, job, read, read) == made
    # Rebuilt with another digest, or another year's report changed: the page is the same.
    assert cluster._as_job(outcome, job, read, manifest(line("a/2023", inputs="b" * 64), line("b/2023"),
                                                        line("a/2024", status=GATED))) == made
    finding = {"office": "a", "year": 2023, "rule": "R", "severity": "warning", "table": "t3", "row": "new",
               "column": "total", "message": "m"}
    for changed in (line("a/2023", status=GATED), line("a/2023", status=FAILED, html=None),
                    line("a/2023", findings=[finding]), line("a/2023", html="a/2023.findings.html"), b'"a/2023": ['):
        assert cluster._as_job(outcome, job, read, manifest(changed, line("b/2023"), line("a/2024"))) is None
    assert cluster._as_job(outcome, job, read, manifest(line("a/2023"), line("a/2024"))) is None  # one less
    assert cluster._as_job(outcome, job, read, manifest(line("a/2023"), line("b/2023"), line("c/2023"))) is None
    assert cluster._as_job(["data/offices.csv"], job, read, read) is None
    assert cluster._as_job(({**outcome[0], "status": FAILED}, {}), job, read, read) is None
    project.notebook.with_name("overview.ipynb").unlink()
    assert cluster.early_overviews(project, [("shili-0001", 2020)], listing, manifest(line("shili-0001/2020"))) == []
