"""One writer at a time on outputs/ (a lock: refuse naming the holder, or wait), and an index that tells the
truth about reports built by `nianbao run` and then adopted by the batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import copy_project, index_text, set_figure

from nianbao.batch import run_batch
from nianbao.lock import OutputsBusy, outputs_lock
from nianbao.manifest import GATED, PUBLISHED, WARNINGS, Manifest, recover
from nianbao.run import run_report

BIN = Path(sys.executable).parent

HOLD = """
import sys, time
from pathlib import Path
from nianbao.lock import outputs_lock
from nianbao.project import Project
with outputs_lock(Project(Path(sys.argv[1])), sys.argv[2]):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def hold(project, command: str = "nianbao batch", seconds: float = 60) -> subprocess.Popen:
    """Another process holding the lock on outputs/."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(project.root), command, str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def nianbao(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nianbao"), *args, "--project", str(project.root)], capture_output=True,
                          text=True, encoding="utf-8", timeout=600)


@pytest.fixture
def project(tmp_path):
    return copy_project(tmp_path / "proj")


@pytest.mark.parametrize("holder", ["nianbao batch", "nianbao run"])
@pytest.mark.parametrize("args", [["batch", "--offices", "guandu-taihe"], ["run", "guandu-taihe", "2020"],
                                  ["batch", "--force", "--offices", "example-shifan"]])
def test_a_second_writer_is_refused_naming_the_first(project, holder, args) -> None:
    other = hold(project, holder)
    try:
        out = nianbao(project, *args)
    finally:
        other.kill()
        other.wait()
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"outputs/ is being written by `{holder}` (pid {other.pid}, since " in out.stderr
    assert "--wait" in out.stderr
    assert not list(project.outputs.rglob("*.html"))


def test_wait_waits_for_the_first_writer(project) -> None:
    other = hold(project, "nianbao batch", seconds=20)  # longer than `run` takes to get to the lock
    out = nianbao(project, "run", "guandu-taihe", "2020", "--wait")
    assert out.returncode == 0, out.stderr
    assert f"waiting for `nianbao batch` (pid {other.pid}" in out.stderr
    assert other.poll() is not None  # it finished first


def test_the_lock_of_a_killed_writer_is_free(project) -> None:
    other = hold(project)
    other.send_signal(signal.SIGKILL)
    other.wait()
    with outputs_lock(project, "test"):  # the operating system released it: nothing stale to clean
        pass


def test_the_lock_is_refused_in_process_too(project) -> None:
    other = hold(project)
    try:
        with pytest.raises(OutputsBusy, match=f"pid {other.pid}"), outputs_lock(project, "test"):
            pass
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("made", ["dangling link", "link to a file", "folder", "named pipe"])
@pytest.mark.parametrize("args", [["batch", "--offices", "guandu-taihe"], ["run", "guandu-taihe", "2020"]])
def test_a_lock_file_that_is_not_a_file_is_named_with_what_to_do(project, tmp_path, made, args) -> None:
    lock = project.outputs / ".nianbao.lock"
    project.outputs.mkdir(exist_ok=True)
    if made == "folder":
        lock.mkdir()
    elif made == "named pipe":  # reading who holds it would block
        os.mkfifo(lock)
    else:
        target = tmp_path / "elsewhere.lock"
        if made == "link to a file":
            target.write_text("")
        lock.symlink_to(target)
    out = nianbao(project, *args)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    kind = {"folder": "a folder", "named pipe": "a named pipe"}.get(made, "a symbolic link")
    assert f"outputs/.nianbao.lock is {kind}" in out.stderr and "remove outputs/.nianbao.lock" in out.stderr
    assert "Too many levels" not in out.stderr
    assert not list(project.outputs.rglob("*.html"))


@pytest.mark.parametrize("made", ["dangling link", "file"])
def test_outputs_that_is_not_a_folder_is_named(project, tmp_path, made) -> None:
    """An unmounted share linked as outputs/ (a link to nowhere), or a file: said so, not "File exists"."""
    import shutil

    shutil.rmtree(project.outputs, ignore_errors=True)
    if made == "file":
        project.outputs.write_text("", encoding="utf-8")
    else:
        project.outputs.symlink_to(tmp_path / "unmounted")
    out = nianbao(project, "batch", "--offices", "guandu-taihe")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    what = "a symbolic link to a folder that does not exist" if made != "file" else "not a folder"
    assert f"outputs is {what}" in out.stderr and "File exists" not in out.stderr


def test_concurrent_batches_lose_no_entry(project) -> None:
    """The case that lost manifest entries: two batches on disjoint offices, the second started while the
    first runs. With --wait the second waits, and both are recorded."""
    first = subprocess.Popen([str(BIN / "nianbao"), "batch", "--offices", "example-shifan", "--project",
                              str(project.root)], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lock = project.outputs / ".nianbao.lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    second = nianbao(project, "batch", "--offices", "guandu-taihe", "--wait")
    first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "waiting for `nianbao batch`" in second.stderr
    reports = json.loads((project.outputs / "manifest.json").read_text())["reports"]
    assert len(reports) == 7
    assert index_text(project.outputs).count("guandu-taihe/2020.html") >= 1


# --- the index tells the truth ---------------------------------------------------------------------------

def with_warning(project) -> None:
    """example-shifan 2021 without the fee statement in part 六: a SEC6-FEE warning."""
    path = project.narrative_file("example-shifan", 2021)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("# 六、")] + "# 六、其他需要报告的事项\n\n无。\n", encoding="utf-8")


def gated(project) -> None:
    set_figure(project, "example-shifan", 2020, "t3.new.natural", "NaN")  # T3-INT critical


CASES = {
    "warning": (with_warning, 2021, WARNINGS, "SEC6-FEE"),
    "gated": (gated, 2020, GATED, "T3-INT"),
}


@pytest.mark.parametrize("manifest_kept", [True, False], ids=["manifest-kept", "manifest-lost"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_report_built_by_run_keeps_its_findings_in_the_batch(project, case, manifest_kept) -> None:
    make, year, status, rule = CASES[case]
    make(project)
    result = run_report(project, "example-shifan", year)
    assert result.status == (GATED if status == GATED else PUBLISHED)
    # `run` records it as the batch would.
    entry = Manifest(project).get("example-shifan", year)
    assert entry.status == status and [f["rule"] for f in entry.findings] == [rule]
    if not manifest_kept:  # the batch must adopt it from the executed notebook's provenance
        (project.outputs / "manifest.json").unlink()
    batch = run_batch(project, ["example-shifan"])
    entry = next(e for e in batch.entries if (e.office, e.year) == ("example-shifan", year))
    assert entry.status == status and [f["rule"] for f in entry.findings] == [rule]
    index = index_text(project.outputs)
    assert rule in index


def test_recover_reads_notebooks_of_earlier_versions(project) -> None:
    """A notebook made before the provenance carried findings: the batch's papermill parameter holds them."""
    with_warning(project)
    result = run_report(project, "example-shifan", 2021)
    nb = json.loads(result.notebook.read_text(encoding="utf-8"))
    findings = nb["metadata"]["nianbao"].pop("findings")
    nb["metadata"]["papermill"]["parameters"]["findings"] = findings
    result.notebook.write_text(json.dumps(nb), encoding="utf-8")
    digest = nb["metadata"]["nianbao"]["inputs"]
    entry = recover(project, "example-shifan", 2021, digest)
    assert entry.status == WARNINGS and [f["rule"] for f in entry.findings] == ["SEC6-FEE"]
    assert recover(project, "example-shifan", 2021, "another digest") is None


def test_run_rewrites_an_existing_index(project) -> None:
    assert run_batch(project, ["example-shifan"]).exit_code == 0
    with_warning(project)
    run_report(project, "example-shifan", 2021)
    assert "SEC6-FEE" in index_text(project.outputs)
    assert os.path.getsize(project.outputs / "manifest.json") > 0


# --- what a killed writer leaves --------------------------------------------------------------------------

def killed_holder(project) -> None:
    """A writer killed (SIGKILL) while it held the lock, its record left in the lock file."""
    other = hold(project)
    other.send_signal(signal.SIGKILL)
    other.wait()


def test_a_writer_that_ends_leaves_no_record_and_a_killed_one_does(project) -> None:
    lock = project.outputs / ".nianbao.lock"
    with outputs_lock(project, "test") as held:
        assert held.unfinished  # no lock file before: no telling what was left
        assert json.loads(lock.read_text())["command"] == "test"
        held.unfinished = False  # swept
    assert lock.read_text() == ""
    with outputs_lock(project, "test") as held:
        assert not held.unfinished
    killed_holder(project)
    assert json.loads(lock.read_text())["pid"]
    with outputs_lock(project, "test") as held:
        assert held.unfinished
    assert lock.read_text(), "not swept: the next holder is told too"
    with outputs_lock(project, "test") as held:
        assert held.unfinished
        held.unfinished = False
    assert lock.read_text() == ""


def test_the_batch_walks_outputs_for_temporaries_only_after_a_killed_writer(project, monkeypatch) -> None:
    from nianbao import lock

    walks: list[Path] = []
    real = lock.sweep
    monkeypatch.setattr(lock, "sweep", lambda folder: walks.append(folder) or real(folder))
    run_batch(project, offices=["guandu-taihe"])
    assert walks == [project.outputs]  # a new outputs/: who knows
    walks.clear()
    run_batch(project, offices=["guandu-taihe"])
    assert walks == []
    stray = project.output_dir("example-shifan") / ".2021.abcd1234.tmp.html"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"<html")  # as a batch killed while it wrote leaves it
    killed_holder(project)
    result = run_batch(project, offices=["guandu-taihe"])
    assert walks == [project.outputs] and result.swept == [stray] and not stray.exists()
    assert (project.outputs / ".nianbao.lock").read_text() == ""
    walks.clear()
    run_batch(project, offices=["guandu-taihe"])
    assert walks == []


def test_a_run_after_a_killed_writer_sweeps_every_folder(project) -> None:
    stray = project.output_dir("example-shifan") / ".2021.abcd1234.tmp.ipynb"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"{")
    killed_holder(project)
    out = nianbao(project, "run", "guandu-taihe", "2020")
    assert out.returncode == 0, out.stderr
    assert not stray.exists() and (project.outputs / ".nianbao.lock").read_text() == ""
