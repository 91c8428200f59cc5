"""A report or overview page changed or deleted after the batch wrote it is built again by the next batch, without
--force, and the summary names it; a copied project, or a manifest of an older version, is not rebuilt."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import batch_command, settled_synth

from nianbao import written
from nianbao.batch import run_batch
from nianbao.manifest import MANIFEST, STATS
from nianbao.project import Project


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Project:
    """A synthetic project of 2 offices × 2019–2020, built once; tests copy it."""
    project = settled_synth(tmp_path_factory.mktemp("damaged") / "p", 2, range(2019, 2021), 3)
    assert run_batch(project).exit_code == 0
    return project


def copy(project: Project, dest: Path) -> Project:
    shutil.copytree(project.root, dest, symlinks=True)  # copy2: sizes and mtimes kept, ctimes new
    return Project(dest)


def rebuilt(project: Project) -> tuple[list[tuple[str, int]], list[str]]:
    done: list[tuple[str, int]] = []
    result = run_batch(project, on_entry=lambda e: done.append((e.office, e.year)))
    assert result.exit_code == 0
    return sorted(done), result.damaged


def test_truncated_edited_replaced_or_deleted_outputs_are_built_again(built, tmp_path) -> None:
    project = copy(built, tmp_path / "p")
    assert rebuilt(project) == ([], [])  # a copy: its outputs are read once, not built
    out = project.outputs
    pages = {p: p.read_bytes() for p in out.glob("shili-*/*.*")}
    manifest = (out / MANIFEST).read_bytes()
    # truncated; one byte changed (same size); replaced by another's bytes with the old times put back (same size
    # and mtime: only its ctime tells); deleted
    truncated, edited, replaced, deleted = (out / "shili-0001/2019.html", out / "shili-0001/2020.ipynb",
                                            out / "shili-0002/2019.html", out / "shili-0002/2020.ipynb")
    truncated.write_bytes(pages[truncated][:1000])
    text = pages[edited].decode()
    edited.write_text(text.replace("shili-0001", "shili-0009", 1), encoding="utf-8")
    st = replaced.stat()
    other = bytearray(pages[out / "shili-0001/2019.html"][:st.st_size].ljust(st.st_size, b" "))
    replaced.write_bytes(bytes(other))
    os.utime(replaced, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert replaced.stat().st_size == st.st_size and replaced.stat().st_mtime_ns == st.st_mtime_ns
    deleted.unlink()

    done, damaged = rebuilt(project)
    assert done == [("shili-0001", 2019), ("shili-0001", 2020), ("shili-0002", 2019), ("shili-0002", 2020)]
    assert damaged == sorted(project.in_outputs(p) for p in (truncated, edited, replaced, deleted))
    assert {p: p.read_bytes() for p in out.glob("shili-*/*.*")} == pages  # the same bytes as first written
    assert (out / MANIFEST).read_bytes() == manifest  # it records sizes and digests, not times
    assert rebuilt(project) == ([], [])


def test_a_touched_or_copied_output_is_read_once_not_built(built, tmp_path, monkeypatch) -> None:
    project = copy(built, tmp_path / "p")
    page = project.outputs / "shili-0002/2020.html"
    os.utime(page)  # new mtime, same bytes
    assert rebuilt(project) == ([], [])
    kept = json.loads((project.outputs / STATS).read_text(encoding="utf-8"))["files"]
    st = page.stat()
    assert kept["shili-0002/2020.html"] == [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    # Now every output's times are recorded: a no-op reads none of them.
    monkeypatch.setattr(written, "file_sha", lambda path: pytest.fail(f"{path} read on a no-op"))
    assert rebuilt(project) == ([], [])


def test_entries_of_an_older_version_are_trusted_once_then_checked(built, tmp_path) -> None:
    project = copy(built, tmp_path / "p")
    path = project.outputs / MANIFEST
    raw = json.loads(path.read_text(encoding="utf-8"))
    for entry in raw["reports"].values():
        del entry["written"]
    for entry in raw["overviews"].values():
        entry.pop("written", None)
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    assert rebuilt(project) == ([], [])
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert all(written.record_well_formed(e["written"]) and e["written"] for e in raw["reports"].values())
    page = project.outputs / "shili-0001/2020.html"
    page.write_text("<html>改过</html>", encoding="utf-8")
    assert rebuilt(project) == ([("shili-0001", 2020)], ["shili-0001/2020.html"])


def test_a_hand_edited_record_is_dropped_with_its_entry_and_the_report_recovered(built, tmp_path) -> None:
    project = copy(built, tmp_path / "p")
    path = project.outputs / MANIFEST
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["reports"]["shili-0001/2019"]["written"] = [["12", 0, 0, "x"]]
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    assert rebuilt(project) == ([], [])  # recovered from its executed notebook, as an entry never recorded
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert written.record_well_formed(raw["reports"]["shili-0001/2019"]["written"])


def test_a_damaged_overview_page_is_built_again(built, tmp_path) -> None:
    project = copy(built, tmp_path / "p")
    overview = project.outputs / "overview" / "2020.html"
    assert overview.is_file()
    before = overview.read_bytes()
    overview.write_bytes(before[: len(before) // 2])
    region = next(p for p in (project.outputs / "overview").iterdir() if p.is_dir() and p.name.startswith("r-"))
    (region / "2019.ipynb").unlink()  # a region's overview; overview/2020.html is the year's list of regions
    first = rebuilt(project)
    assert overview.read_bytes() == before and (region / "2019.ipynb").is_file()
    assert first == ([], ["overview/2020.html", f"overview/{region.name}/2019.ipynb"])  # named, as reports are
    assert rebuilt(project) == ([], [])
    (project.outputs / "overview" / "2019.html").unlink()
    assert rebuilt(project) == ([], ["overview/2019.html"])


def test_the_summary_names_the_page_built_again(built, tmp_path) -> None:
    project = copy(built, tmp_path / "p")
    assert batch_command(project).returncode == 0  # the copy's outputs are read once
    (project.outputs / "shili-0002/2019.html").unlink()
    done = batch_command(project)
    assert done.returncode == 0, done.stderr
    assert "已重新生成：outputs/shili-0002/2019.html 在上次生成后被改动或删除" in done.stderr
    assert "built 1 in" in done.stdout
    (project.outputs / "overview" / "2020.html").write_text("edited", encoding="utf-8")
    done = batch_command(project)
    assert done.returncode == 0, done.stderr
    assert "已重新生成：outputs/overview/2020.html 在上次生成后被改动或删除" in done.stderr
    assert "shili-0002/2019.html" not in done.stderr


@pytest.mark.parametrize("damage", ["deleted", "not json", "a record not a stat"])
def test_a_deleted_or_damaged_stats_cache_only_means_reading_the_outputs_once(built, tmp_path, damage) -> None:
    project = copy(built, tmp_path / "p")
    assert rebuilt(project) == ([], [])
    cache = project.outputs / STATS
    if damage == "deleted":
        cache.unlink()
    elif damage == "not json":
        cache.write_text("{", encoding="utf-8")
    else:
        raw = json.loads(cache.read_text(encoding="utf-8"))
        raw["files"] = {name: "x" for name in raw["files"]}
        cache.write_text(json.dumps(raw), encoding="utf-8")
    read: list[str] = []
    original = written.file_sha
    written.file_sha = lambda path: read.append(path) or original(path)
    try:
        assert rebuilt(project) == ([], [])
    finally:
        written.file_sha = original
    assert len(read) == 8  # 4 reports' page and notebook, once
    assert len(json.loads(cache.read_text(encoding="utf-8"))["files"]) == 8
