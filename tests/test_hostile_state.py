"""Hostile situations for what a batch keeps between runs: a damaged digest cache, manifest, index record or
index chunk, and an outputs/ that cannot be written. Each is run with the real `nianbao batch` command: the
contract is exit 0 (or 2 with one line that names the file the user knows), no traceback, nothing good lost,
and the kept state whole again afterwards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from conftest import batch_command, settled_synth

from nianbao.atomic import write_files
from nianbao.digests import STATE
from nianbao.manifest import MANIFEST, Manifest
from nianbao.project import Project


def built_count(result: subprocess.CompletedProcess) -> int:
    line = next(line for line in result.stdout.splitlines() if " report(s): " in line)
    return int(line.split("built ")[1].split()[0])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Project:
    """Two offices × two years, built once; its inputs dated a minute back (their digests are settled)."""
    project = settled_synth(tmp_path_factory.mktemp("hostile") / "p", 2, range(2019, 2021), 3)
    result = batch_command(project)
    assert result.returncode == 0, result.stderr
    return project


@pytest.fixture
def copy(built, tmp_path) -> Project:
    shutil.copytree(built.root, tmp_path / "p")  # copy2: mtimes kept
    return Project(tmp_path / "p")


def test_damaged_digest_records_only_mean_digesting_those_files_again(copy) -> None:
    path = copy.outputs / STATE
    raw = json.loads(path.read_text(encoding="utf-8"))
    names = sorted(raw["files"])
    sha = next(n for n in names[4:] if raw["files"][n][0] == "sha")
    damaged = {names[0]: 5, names[1]: raw["files"][names[1]][:3], names[2]: ["sha", "12", 3, True, "x"],
               names[3]: None, sha: [*raw["files"][sha][:4], 12345, *raw["files"][sha][5:]]}
    raw["files"].update(damaged)
    path.write_text(json.dumps(raw), encoding="utf-8")
    result = batch_command(copy)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and built_count(result) == 0
    again = json.loads(path.read_text(encoding="utf-8"))["files"]
    assert all(isinstance(again[n], list) and len(again[n]) == 6 for n in damaged)


def test_manifest_entries_of_the_wrong_shape_are_dropped_alone_and_recovered(copy) -> None:
    path = copy.outputs / MANIFEST
    raw = json.loads(path.read_text(encoding="utf-8"))
    before = {k: dict(v) for k, v in raw["reports"].items()}
    a, b, c, d = sorted(raw["reports"])
    raw["reports"][a]["findings"] = 5
    raw["reports"][b]["findings"] = [{"rule": "T3-BALANCE"}]  # a finding without its message and place
    raw["reports"][c]["year"] = str(raw["reports"][c]["year"])
    raw["overviews"][sorted(raw["overviews"])[0]] = 7
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    assert set(Manifest(copy).entries) == {d}
    raw["reports"][d]["reviewed_by"] = "someone"  # a field no version wrote: that entry alone goes
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    assert Manifest(copy).entries == {} and Manifest(copy).overviews
    result = batch_command(copy)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert built_count(result) == 0  # their outputs were made from these inputs: recovered, not built again
    after = json.loads(path.read_text(encoding="utf-8"))
    assert after["reports"] == before
    assert all(isinstance(v, dict) and v["status"] == "published" for v in after["overviews"].values())


def test_a_damaged_index_chunk_is_written_again(copy) -> None:
    chunk = copy.outputs / "index" / "2019.js"
    good = chunk.read_bytes()
    st = chunk.stat()
    chunk.write_bytes(good[:100])
    result = batch_command(copy)
    assert result.returncode == 0, result.stderr
    assert chunk.read_bytes() == good
    # An edit that keeps the size (and the mtime it had): still not the chunk that was written
    chunk.write_bytes(good.replace(b"shili-0001", b"shili-000X"))
    os.utime(chunk, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert batch_command(copy).returncode == 0
    assert chunk.read_bytes() == good


def test_an_index_chunk_replaced_with_its_old_size_and_mtime_is_written_again(copy) -> None:
    assert batch_command(copy).returncode == 0  # the copy's chunks (new ctimes) written again, their stats kept
    chunk = copy.outputs / "index" / "2020.js"
    good = chunk.read_bytes()
    st = chunk.stat()
    chunk.write_bytes(good.replace(b"shili-0001", b"shili-000X"))
    os.utime(chunk, ns=(st.st_atime_ns, st.st_mtime_ns))  # only its ctime tells
    assert chunk.stat().st_size == st.st_size and chunk.stat().st_mtime_ns == st.st_mtime_ns
    assert batch_command(copy).returncode == 0
    assert chunk.read_bytes() == good


@pytest.mark.parametrize("damage", ["years a list", "a year not a record", "not json"])
def test_a_damaged_index_record_means_writing_the_chunks_again(copy, damage) -> None:
    record = copy.outputs / "index" / ".written.json"
    chunks = {p.name: p.read_bytes() for p in (copy.outputs / "index").glob("*.js")}
    raw = json.loads(record.read_text(encoding="utf-8"))
    if damage == "years a list":
        raw["years"] = [1]
    elif damage == "a year not a record":
        raw["years"]["2019"] = 5
    record.write_text("{" if damage == "not json" else json.dumps(raw), encoding="utf-8")
    result = batch_command(copy)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in (copy.outputs / "index").glob("*.js")} == chunks
    assert isinstance(json.loads(record.read_text(encoding="utf-8"))["years"]["2019"], dict)


def test_an_output_that_cannot_be_replaced_is_named_not_its_temporary(copy) -> None:
    manifest = copy.outputs / MANIFEST
    manifest.unlink()
    manifest.mkdir()  # what the batch must replace is a folder: no file can be renamed onto it
    result = batch_command(copy)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {manifest}: Is a directory"
    assert "Traceback" not in result.stderr and not list(copy.outputs.rglob(".*.tmp*"))


def test_write_files_names_the_target_when_its_folder_cannot_hold_it(tmp_path) -> None:
    blocker = tmp_path / "office"
    blocker.write_text("a file where a folder belongs")
    with pytest.raises(OSError) as raised:
        write_files({blocker / "2020.html": "page"})
    assert raised.value.filename == str(blocker / "2020.html")
    folder = tmp_path / "2021.html"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as raised:
        write_files({folder: "page"})
    assert raised.value.filename == str(folder)
    assert not list(tmp_path.glob(".*.tmp*"))
