"""Hostile situations for the incremental batch: a file replaced by another of the same size and mtime (`cp -p`,
`touch -r`, tar or unzip restoring an old copy) is not the file that was digested, kept or remembered."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from conftest import batch_command, set_figure, settled_synth

from nianbao import overview as ov
from nianbao.filememo import FileMemo
from nianbao.project import Project
from nianbao.synth import synth


def replace_keeping_size_and_mtime(path: Path, edit) -> None:
    """Edit `path` in place, then give it back the mtime it had: only its ctime tells."""
    st = path.stat()
    edit()
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def figure(project: Project, office: str, year: int, key: str) -> str:
    table, row, column = key.split(".")
    lines = project.figures_file(office).read_text(encoding="utf-8").splitlines()
    return next(line.split(",")[4] for line in lines if line.startswith(f"{year},{table},{row},{column},"))


def same_width(value: str) -> str:
    return str((int(value) + 1) % 10 ** len(value)).zfill(len(value)) if value != "0" else "1"


def test_a_figures_file_replaced_with_the_same_size_and_mtime_is_built_again(tmp_path) -> None:
    project = settled_synth(tmp_path / "p", 2, range(2019, 2021), 5)

    def batch() -> subprocess.CompletedProcess:
        return batch_command(project)

    assert batch().returncode == 0
    time.sleep(2.1)  # the files' ctimes (the synth's writes) settle
    assert batch().returncode == 0  # nothing to build: the digests are kept with settled records
    key = "t2.license.decisions"
    old = figure(project, "shili-0001", 2020, key)
    new = same_width(old)
    path = project.figures_file("shili-0001")
    replace_keeping_size_and_mtime(path, lambda: set_figure(project, "shili-0001", 2020, key, new))
    result = batch()
    assert result.returncode == 0, result.stderr
    assert "built 1 " in result.stdout, result.stdout  # shili-0001 2020 (2019's rows did not change)
    page = (project.outputs / "shili-0001" / "2020.html").read_text(encoding="utf-8")
    assert f">{new}<" in page


def test_kept_overview_figures_are_not_taken_for_a_replaced_file(tmp_path) -> None:
    project = Project(tmp_path / "p")
    synth(project.root, 2, range(2022, 2024), 7)
    path = project.figures_file("shili-0001")
    past = time.time_ns() - 30 * 10**9
    os.utime(path, ns=(past, past))
    ov._READ.clear()
    ov._read_figures(project, "shili-0001")
    assert (project.outputs / ov.OUTPUT_DIR / ov.CACHE_DIR / f"shili-0001.v{ov.KEPT_FORMAT}.json").is_file()
    new = same_width(figure(project, "shili-0001", 2023, "t3.new.total"))
    replace_keeping_size_and_mtime(path, lambda: set_figure(project, "shili-0001", 2023, "t3.new.total", new))
    ov._READ.clear()  # a new kernel: only the copy kept on disk is left
    assert ov._read_figures(project, "shili-0001")[2023].totals["新收申请"] == int(new)


def test_a_file_memo_does_not_serve_a_replaced_file(tmp_path) -> None:
    path = tmp_path / "offices.csv"
    path.write_text("id,name\nx,甲\n", encoding="utf-8")
    memo: FileMemo[str] = FileMemo(2)
    assert memo.get(path, lambda: path.read_text(encoding="utf-8")) == "id,name\nx,甲\n"
    replace_keeping_size_and_mtime(path, lambda: path.write_text("id,name\ny,乙\n", encoding="utf-8"))
    assert memo.get(path, lambda: path.read_text(encoding="utf-8")) == "id,name\ny,乙\n"


def test_a_copied_project_is_digested_once_and_builds_nothing(tmp_path) -> None:
    """`cp -a` keeps mtimes but gives every file a new ctime: the copy's first run reads its inputs again (and
    builds nothing), the next one reads none."""
    from nianbao.batch import run_batch
    from nianbao.digests import DigestState

    run_batch(settled_synth(tmp_path / "p", 2, range(2020, 2022), 9), jobs=1)
    shutil.copytree(tmp_path / "p", tmp_path / "copy")
    copy = Project(tmp_path / "copy")
    time.sleep(2.1)
    assert run_batch(copy, jobs=1).built == 0
    state = DigestState(copy.root, copy.outputs)
    from nianbao.manifest import input_digests
    from nianbao.params import list_reports

    input_digests(copy, list_reports(copy, problems=[]), state=state)
    assert state.computed == 0
