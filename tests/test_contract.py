"""Exit codes and limits are one contract: 0 fine, 1 gated, 2 bad input or a failed run, for `run` and `batch`,
with one line saying why and no traceback; --timeout; --jobs within the CPUs this process may use; a full
disk, a read-only outputs/ or SIGTERM leave no partial file and no temporary."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import copy_project, files_under, set_figure

from nianbao import atomic, pool
from nianbao.atomic import TEMP_GLOB, write_files
from nianbao.batch import run_batch
from nianbao.manifest import FAILED, Manifest
from nianbao.pool import usable_cpus

BIN = Path(sys.executable).parent
DEMO = "guandu-taihe,example-shifan"  # the two offices of the demo data with real prose: 7 reports


def nianbao(project, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nianbao"), *args, "--project", str(project.root)], capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout)


def add_cell(project, source: str, after: str = "load_report") -> None:
    """A cell right after the one that loads the report."""
    nb = nbformat.read(project.notebook, as_version=4)
    i = next(i for i, c in enumerate(nb.cells) if after in c.source)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, project.notebook)


def no_temporaries(project) -> bool:
    return not list(project.outputs.rglob(TEMP_GLOB))


# Notebook faults `run` must report as a failed run: exit 2, one line, nothing written.
NOTEBOOK_FAULTS = {
    "cell-raises": ("raise RuntimeError('boom')", "RuntimeError: boom"),
    "kernel-dies": ("import os\nos._exit(1)", "kernel died"),
    "kernel-killed": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "kernel died"),
    "cell-times-out": ("import time\ntime.sleep(600)", "timed out: a cell ran longer than 3 s"),
    "system-exit": ("raise SystemExit(3)", "SystemExit"),
}


@pytest.mark.parametrize("fault", sorted(NOTEBOOK_FAULTS))
def test_run_fails_with_exit_2_and_one_line(tmp_path, fault) -> None:
    project = copy_project(tmp_path / "proj")
    source, reason = NOTEBOOK_FAULTS[fault]
    add_cell(project, source)
    started = time.monotonic()
    out = nianbao(project, "run", "guandu-taihe", "2020", "--timeout", "3")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and reason in lines[0] and "guandu-taihe 2020" in lines[0], out.stderr
    assert files_under(project.outputs) == {}
    assert time.monotonic() - started < 120


@pytest.mark.parametrize("args, code, says", [
    (["run", "guandu-taihe", "2020"], 0, "published"),
    (["run", "no-such-office", "2020"], 2, "error:"),
    (["run", "guandu-taihe", "1999"], 2, "error:"),
    (["run", "guandu-taihe", "2020", "--timeout", "0"], 2, "--timeout"),
    (["batch", "--jobs", "0"], 2, "--jobs"),
    (["batch", "--offices", "nobody"], 2, "no reports selected"),
])
def test_exit_status_of_the_commands(project, args, code, says) -> None:
    out = nianbao(project, *args)
    assert out.returncode == code, out.stderr
    assert says in out.stdout + out.stderr
    assert "Traceback" not in out.stderr


def test_gated_run_exits_1(project) -> None:
    set_figure(project, "guandu-taihe", 2020, "t3.new.natural", "-1")
    out = nianbao(project, "run", "guandu-taihe", "2020")
    assert out.returncode == 1 and out.stderr.startswith("未通过校验，不予发布：guandu-taihe 2020年")


def test_batch_timeout_is_configurable_and_named_in_the_summary(tmp_path) -> None:
    project = copy_project(tmp_path / "proj")
    add_cell(project, "import time\nif year == 2020 and office == 'guandu-taihe':\n    time.sleep(600)")
    out = nianbao(project, "batch", "--timeout", "4", "--years", "2019-2020", "--offices", DEMO)
    assert out.returncode == 2, out.stderr
    assert "failed: guandu-taihe 2020: timed out: a cell ran longer than 4 s (--timeout)" in out.stderr
    entry = Manifest(project).get("guandu-taihe", 2020)
    assert entry.status == FAILED and entry.error.startswith("timed out")
    # The other reports, on the same worker after the timed-out kernel was replaced, are built.
    assert "3 report(s): 2 published, 0 warnings, 0 gated, 1 failed" in out.stdout
    assert no_temporaries(project)


# --- --jobs and the CPUs this process may use -----------------------------------------------------------

def cgroup(tmp_path: Path, proc: str, files: dict[str, str]) -> Path:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(proc)
    for name, text in files.items():
        path = tmp_path / "sys/fs/cgroup" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


CGROUPS = {  # name: (/proc/self/cgroup, files under /sys/fs/cgroup, CPUs allowed)
    "v2-quota-1.5": ("0::/ci/job\n", {"ci/job/cpu.max": "150000 100000\n"}, 2),
    "v2-quota-0.5": ("0::/ci/job\n", {"ci/job/cpu.max": "50000 100000\n"}, 1),
    "v2-unlimited": ("0::/ci/job\n", {"ci/job/cpu.max": "max 100000\n"}, None),
    "v2-ancestor-limits": ("0::/ci/job\n", {"ci/job/cpu.max": "max 100000\n", "ci/cpu.max": "100000 100000\n"}, 1),
    "v1-cfs-quota": ("4:cpu,cpuacct:/docker/abc\n", {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "100000\n",
                                                    "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"}, 1),
    "v1-unlimited": ("4:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    "malformed": ("0::/x\n", {"x/cpu.max": "lots\n"}, None),
    "no-cgroup-file": (None, {}, None),
}


@pytest.mark.parametrize("name", sorted(CGROUPS))
def test_usable_cpus_follows_cgroup_quotas(tmp_path, name) -> None:
    proc, files, allowed = CGROUPS[name]
    root = cgroup(tmp_path, proc, files) if proc is not None else tmp_path
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(root) == (min(affinity, allowed) if allowed else affinity)


def test_usable_cpus_follows_the_affinity_mask() -> None:
    code = "from nianbao.pool import usable_cpus; print(usable_cpus())"
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "1"


def test_jobs_are_capped_with_a_note(tmp_path, monkeypatch) -> None:
    project = copy_project(tmp_path / "proj")
    started = []
    real = pool.WorkerPool.__init__

    def spy(self, project, jobs, **kw):
        started.append(jobs)
        real(self, project, jobs, **kw)

    monkeypatch.setattr(pool.WorkerPool, "__init__", spy)
    notes: list[str] = []
    result = run_batch(project, ["guandu-taihe", "example-shifan"], jobs=64, on_note=notes.append)
    usable = usable_cpus()
    assert result.exit_code == 0 and len(result.entries) == 7
    assert notes == [f"note: --jobs 64 capped at {usable}, the CPUs this process may use"]
    assert started and max(started) <= usable


# --- full disk, read-only outputs/, SIGTERM --------------------------------------------------------------

def test_write_files_leaves_nothing_when_the_disk_fills(tmp_path, monkeypatch) -> None:
    """ENOSPC at the rename (a fault a test cannot cause reliably otherwise): no temporary, no target, and
    the error names the file."""
    (tmp_path / "kept.html").write_text("old")

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(OSError) as info:
        write_files({tmp_path / "kept.html": "new", tmp_path / "other.html": "new"})
    assert info.value.errno == errno.ENOSPC and info.value.filename.endswith(".html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.html"]
    assert (tmp_path / "kept.html").read_text() == "old"


def mount(*args: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only or a small file system on outputs/")
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


@pytest.fixture
def built(tmp_path):
    """A project whose reports were built once; one input changed since."""
    project = copy_project(tmp_path / "proj")
    assert run_batch(project, DEMO.split(",")).exit_code == 0
    path = project.narrative_file("guandu-taihe", 2020)
    path.write_text(path.read_text(encoding="utf-8") + "\n改。\n", encoding="utf-8")
    yield project
    subprocess.run(["umount", str(project.outputs)], capture_output=True)


def one_line_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr
    return errors[0]


def test_read_only_outputs(built) -> None:
    before = files_under(built.outputs)
    mount("--bind", str(built.outputs), str(built.outputs))
    mount("-o", "remount,bind,ro", str(built.outputs))
    for args in (["batch", "--offices", DEMO], ["run", "guandu-taihe", "2020"],
                 ["batch", "--force", "--offices", "example-shifan"]):
        assert "Read-only file system" in one_line_error(nianbao(built, *args))
    assert files_under(built.outputs) == before


@pytest.mark.parametrize("free_kib", [0, 8, 24, 64])
def test_full_disk(built, tmp_path, free_kib) -> None:
    """outputs/ on a small tmpfs filled to `free_kib`: exit 2 with the reason, no traceback, no temporary;
    every report is the earlier one or a complete new one, never a part."""
    saved = tmp_path / "saved"
    subprocess.run(["cp", "-a", str(built.outputs), str(saved)], check=True)
    mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(built.outputs))
    subprocess.run(["cp", "-a", f"{saved}/.", str(built.outputs)], check=True)
    before = files_under(built.outputs)
    stat = os.statvfs(built.outputs)
    fill = stat.f_bavail * stat.f_frsize - free_kib * 1024
    with open(built.outputs / "filler", "wb") as f:
        try:
            f.write(b"\0" * max(fill, 0))
        except OSError:
            pass
    out = nianbao(built, "batch", "--force", "--offices", DEMO)
    assert "Traceback" not in out.stderr
    if free_kib <= 8:
        assert out.returncode == 2 and "No space left on device" in out.stderr, out.stderr
    else:  # enough room for some reports (a rebuilt report replaces its earlier self)
        assert out.returncode in (0, 2) and ("No space left on device" in out.stderr) == (out.returncode == 2)
    assert no_temporaries(built)
    after = files_under(built.outputs)
    for name, data in before.items():
        if "/" not in name or name.startswith("index/"):
            continue  # the manifest and the index (and its chunks) say what this batch did
        if re.fullmatch(r"overview/\d{4}\.html", name):  # so does a year's list of regions, written whole
            assert after[name].rstrip().endswith(b"</html>"), name
            continue
        if name.startswith("guandu-taihe/2020."):  # its prose changed: the new report, whole, or the old one
            assert after[name] == data or after[name].rstrip().endswith((b"</html>", b"}")), name
        else:
            assert after[name] == data, name  # rebuilt from the same inputs: the same bytes, or untouched


def test_sigterm_to_run_leaves_no_temporary_and_no_kernel(tmp_path) -> None:
    project = copy_project(tmp_path / "proj")
    add_cell(project, "import os, time\nopen('kernel.pid', 'w').write(str(os.getpid()))\ntime.sleep(600)")
    proc = subprocess.Popen([str(BIN / "nianbao"), "run", "guandu-taihe", "2020", "--project", str(project.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_file = project.root / "kernel.pid"
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(project.outputs.rglob(TEMP_GLOB)), "the run writes to a temporary while it executes"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert no_temporaries(project) and files_under(project.outputs) == {}
    kernel = int(pid_file.read_text())
    time.sleep(1)
    with pytest.raises(ProcessLookupError):
        os.kill(kernel, 0)


def test_a_killed_run_leaves_a_temporary_the_next_run_sweeps(tmp_path) -> None:
    project = copy_project(tmp_path / "proj")
    stray = project.output_dir("guandu-taihe") / ".2020.abcd1234.tmp.ipynb"  # as SIGKILL leaves it
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"")
    out = nianbao(project, "run", "guandu-taihe", "2020")
    assert out.returncode == 0, out.stderr
    assert not stray.exists()
    assert json.loads((project.outputs / "manifest.json").read_text())["reports"]["guandu-taihe/2020"]


# Bad input to every command: exit 2, one `error:` line (click's usage errors are exit 2 too), no traceback.
BAD_INPUT = {
    "cells-year": ["cells", "20x1"],
    "run-year": ["run", "guandu-taihe", "twenty"],
    "run-office": ["run", "Not_An_Id", "2020"],
    "check-office": ["check", "nobody"],
    "new-office": ["new", "bad id", "2021"],
    "batch-offices": ["batch", "--offices", "nobody"],
    "batch-kernel": ["batch", "--kernel", "no-such-kernel"],
    "synth-years": ["synth", "--years", "2019,2021", "--out", "{tmp}/s"],
    "audit-empty-folder": ["audit", "{tmp}/empty"],
    "ingest-empty-folder": ["ingest", "{tmp}/empty"],
    "expectations-project": ["expectations", "--project", "{tmp}/empty"],
}


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
def test_every_command_keeps_the_contract(project, tmp_path, monkeypatch, name) -> None:
    from click.testing import CliRunner

    from nianbao.cli import main

    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(project.root)
    args = [a.replace("{tmp}", str(tmp_path)) for a in BAD_INPUT[name]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
