"""`nianbao audit --jobs N` reads the files in N processes: its output, JSON and exit status are those of the serial
run, in the same order, errors included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, SEED

from nianbao.audit import read_report_files
from nianbao.exceptions import InputError

PUBLISHED_DIR = FIXTURES / "published"


def files(tmp_path: Path) -> Path:
    """The real published reports (a PDF, web pages, text copies), a previous year's copy of one office for the
    cross-year rules, and files that do not read."""
    folder = tmp_path / "reports"
    folder.mkdir()
    for path in [*PUBLISHED_DIR.glob("*.*"), SEED]:
        if path.suffix != ".json":
            shutil.copy(path, folder / path.name)
    (folder / "00_empty.pdf").write_bytes(b"")
    (folder / "50_not_a_report.html").write_text("<html><body><p>今日天气</p></body></html>", encoding="utf-8")
    (folder / "60_binary.txt").write_bytes(bytes(range(256)) * 4)
    return folder


def nianbao(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nianbao", *args], capture_output=True, text=True, timeout=600)


def test_audit_in_two_processes_says_what_one_says(tmp_path) -> None:
    folder = files(tmp_path)
    for extra in ([], ["--json"]):
        one, two = nianbao("audit", str(folder), "--jobs", "1", *extra), nianbao("audit", str(folder), "--jobs", "2",
                                                                                *extra)
        assert one.returncode == two.returncode == 1, one.stderr  # a critical finding (before unreadable files)
        assert one.stdout == two.stdout and one.stdout
        assert [line for line in two.stderr.splitlines() if not line.startswith("note:")] == one.stderr.splitlines()
        assert one.stderr.count("error: ") == 3 and "00_empty.pdf" in one.stderr
    assert "共审核5份报告" in nianbao("audit", str(folder)).stdout  # the default: processes as the files warrant


def test_the_readers_results_come_back_in_order_with_their_errors_whole(tmp_path) -> None:
    folder = files(tmp_path)
    paths = sorted(folder.iterdir())
    serial, pooled = read_report_files(paths, jobs=1), read_report_files(paths, jobs=2)
    assert [type(r) for r in serial] == [type(r) for r in pooled]
    for a, b in zip(serial, pooled, strict=True):
        if isinstance(a, InputError):
            assert (str(a), a.file, a.problem) == (str(b), b.file, b.problem)
        else:
            assert (a.file, a.office, a.year, a.values, a.problems) == (b.file, b.office, b.year, b.values, b.problems)
            assert a.format is b.format  # the format objects themselves, not copies
