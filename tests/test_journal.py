"""The batch's caches (`nianbao.journal`): a large one takes its changes as lines of a journal, compacted now and
then, and a kill at any moment leaves the state as last saved or as being saved, never a mix or a torn one. And the
manifest, compared with what was read rather than encoded again, is written when (and only when) it changed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nianbao import journal
from nianbao.digests import STATE, DigestState
from nianbao.journal import RecordFile
from nianbao.written import OutputStats

PAD = "x" * 2000  # a record that makes the file large enough for a journal of a few lines


@pytest.fixture
def small_threshold(monkeypatch) -> None:
    monkeypatch.setattr(journal, "JOURNAL_FROM", 0)


def saved(path: Path, records: dict, changed: set[str], version: int = 1) -> RecordFile:
    """`records` saved (the changes of `changed`) by a file object that loaded `path` first."""
    file = RecordFile(path, version)
    file.load()
    file.save(records, changed)
    return file


def test_a_small_change_is_appended_and_read_back(tmp_path, small_threshold) -> None:
    path = tmp_path / "state.json"
    records = {"pad": PAD, "a": [1], "b": [2]}
    saved(path, records, set(records))
    whole = path.read_bytes()
    assert not path.with_suffix(".log").exists()

    records = {"pad": PAD, "a": [10], "c": [3]}  # a changed, b removed, c added
    saved(path, records, {"a", "b", "c"})
    assert path.read_bytes() == whole  # the change went to the journal
    log = path.with_suffix(".log").read_text(encoding="utf-8").splitlines()
    assert len(log) == 2 and json.loads(log[1]) == {"files": {"a": [10], "b": None, "c": [3]}}
    assert RecordFile(path, 1).load() == records
    assert RecordFile(path, 2).load() == {}  # another version's file: nothing


def test_the_journal_is_compacted_once_it_passes_its_share_of_the_file(tmp_path, small_threshold) -> None:
    path = tmp_path / "state.json"
    records: dict = {"pad": PAD}
    saved(path, records, {"pad"})
    sizes = []
    for i in range(60):
        records[f"k{i}"] = [i] * 5
        saved(path, records, {f"k{i}"})
        log = path.with_suffix(".log")
        sizes.append(log.stat().st_size if log.exists() else 0)
        assert RecordFile(path, 1).load() == records
    assert 0 in sizes[5:]  # compacted on the way
    assert max(sizes) <= path.stat().st_size // journal.JOURNAL_SHARE + 200


def test_a_small_file_is_written_whole(tmp_path) -> None:
    path = tmp_path / "state.json"
    saved(path, {"a": [1]}, {"a"})
    saved(path, {"a": [2]}, {"a"})
    assert json.loads(path.read_text(encoding="utf-8"))["files"] == {"a": [2]}
    assert not path.with_suffix(".log").exists()


def test_an_append_cut_at_any_byte_leaves_the_old_state(tmp_path, small_threshold) -> None:
    path, log = tmp_path / "state.json", tmp_path / "state.log"
    old = {"pad": PAD, "a": [1], "b": [2]}
    saved(path, old, set(old))
    saved(path, {**old, "a": [5]}, {"a"})  # the journal is started
    before = log.read_bytes()
    old = {**old, "a": [5]}
    new = {"pad": PAD, "a": [6], "c": "三"}
    saved(path, new, {"a", "b", "c"})
    after = log.read_bytes()
    assert after.startswith(before) and len(after) > len(before) + 10
    for cut in range(len(before), len(after) + 1):
        log.write_bytes(after[:cut])
        assert RecordFile(path, 1).load() == (new if cut == len(after) else old), cut


def test_a_journal_cut_short_is_compacted_away_not_appended_to(tmp_path, small_threshold) -> None:
    path, log = tmp_path / "state.json", tmp_path / "state.log"
    records = {"pad": PAD, "a": [1]}
    saved(path, records, set(records))
    saved(path, {**records, "a": [2]}, {"a"})
    log.write_bytes(log.read_bytes() + b'{"files":{"a":[3')  # a kill in the middle of a save
    file = RecordFile(path, 1)
    assert file.load() == {**records, "a": [2]}
    file.save({**records, "a": [2], "b": [4]}, {"b"})
    assert not log.exists()  # compacted: nothing follows a torn line
    assert RecordFile(path, 1).load() == {**records, "a": [2], "b": [4]}


def test_a_damaged_line_stops_the_reading_and_the_next_save_writes_everything(tmp_path, small_threshold) -> None:
    path, log = tmp_path / "state.json", tmp_path / "state.log"
    records = {"pad": PAD, "a": [1]}
    saved(path, records, set(records))
    saved(path, {**records, "a": [2]}, {"a"})
    saved(path, {**records, "a": [3]}, {"a"})
    lines = log.read_bytes().split(b"\n")
    log.write_bytes(b"\n".join([lines[0], b'{"files": 5}', *lines[2:]]))
    file = RecordFile(path, 1)
    assert file.load() == records  # neither the damaged line nor the one after it
    file.save({**records, "b": [1]}, {"b"})
    assert not log.exists() and RecordFile(path, 1).load() == {**records, "b": [1]}


def test_a_kill_between_compacting_and_removing_the_journal_leaves_the_new_state(tmp_path, small_threshold) -> None:
    path, log = tmp_path / "state.json", tmp_path / "state.log"
    records: dict = {"pad": PAD, "a": [1]}
    saved(path, records, set(records))
    saved(path, {**records, "a": [2]}, {"a"})
    stale = log.read_bytes()
    file = RecordFile(path, 1)
    file.load()
    file._compact({**records, "a": [7]})
    log.write_bytes(stale)  # as if killed before the journal went: it names the file's old token
    file = RecordFile(path, 1)
    assert file.load() == {**records, "a": [7]}
    file.save({**records, "a": [8]}, {"a"})  # the stale journal is replaced, not appended to
    assert RecordFile(path, 1).load() == {**records, "a": [8]}


def test_a_journal_another_process_compacted_away_means_writing_the_whole_file(tmp_path, small_threshold) -> None:
    path = tmp_path / "state.json"
    records = {"pad": PAD, "a": [1]}
    saved(path, records, set(records))
    saved(path, {**records, "a": [2]}, {"a"})
    mine, theirs = RecordFile(path, 1), RecordFile(path, 1)
    mine.load()
    theirs.load()
    theirs._compact({**records, "a": [3]})  # the journal goes
    mine.save({**records, "a": [2], "b": [5]}, {"b"})
    assert RecordFile(path, 1).load() == {**records, "a": [2], "b": [5]}  # the last save wins whole, as before


WRITER = """
import sys
from pathlib import Path
from nianbao import journal
from nianbao.journal import RecordFile
journal.JOURNAL_FROM = 0
path = Path(sys.argv[1])
file = RecordFile(path, 1)
records = file.load()
i = records.get("n", 0)
while True:
    i += 1
    records["n"] = i
    records[f"x{i % 7}"] = [i, "年报" * (i % 5)]
    file.save(records, {"n", f"x{i % 7}"})
    print(i, flush=True)
"""


def expected(i: int) -> dict:
    """The state after save `i` of WRITER (from a file holding the padding only)."""
    records: dict = {"pad": PAD}
    for j in range(1, i + 1):
        records["n"] = j
        records[f"x{j % 7}"] = [j, "年报" * (j % 5)]
    return records


def test_a_process_killed_while_saving_leaves_a_whole_state(tmp_path, small_threshold) -> None:
    """Real kills (SIGKILL) of a process that saves in a loop, appending and compacting: the state read back is
    the last one it reported saved, or the one it was saving."""
    path = tmp_path / "state.json"
    saved(path, {"pad": PAD}, {"pad"})
    rng = random.Random(14)
    for _ in range(12):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        start = RecordFile(path, 1).load().get("n", 0)
        assert writer.stdout is not None
        last = int(writer.stdout.readline())  # started saving
        time.sleep(rng.uniform(0, 0.05))
        os.kill(writer.pid, signal.SIGKILL)
        out, _ = writer.communicate()
        last = max([last, *(int(n) for n in out.split())])
        state = RecordFile(path, 1).load()
        assert state["n"] in (last, last + 1) and state["n"] > start
        assert state == expected(state["n"])
    # Saves of ~60 bytes against a journal of at most ~530: the writers compacted several times between appends.
    assert RecordFile(path, 1).load()["n"] > 40


def test_digest_records_and_output_stats_round_trip_through_the_journal(tmp_path, small_threshold) -> None:
    root, outputs = tmp_path / "p", tmp_path / "p" / "outputs"
    (root / "data").mkdir(parents=True)
    outputs.mkdir()
    files = [root / "data" / f"f{i}.txt" for i in range(40)]
    then = time.time_ns() - 10**10
    for i, f in enumerate(files):
        f.write_text(f"{i}" * 50, encoding="utf-8")
        os.utime(f, ns=(then, then))
    state = DigestState(root, outputs)
    first = [state.sha(f) for f in files]
    state.save()
    files[3].write_text("changed", encoding="utf-8")
    os.utime(files[3], ns=(then + 1, then + 1))
    files[5].unlink()
    state = DigestState(root, outputs)
    second = [state.sha(f) for f in files]
    state.forget_untouched(("data" + os.sep,))
    state.save()
    assert (outputs / STATE).with_suffix(".log").exists()  # saved as a change
    again = DigestState(root, outputs)
    assert [again.sha(f) for f in files] == second != first and again.computed == 0
    assert "data/f5.txt" not in again.records

    # A malformed record in the journal is dropped alone: that file is digested again.
    log = (outputs / STATE).with_suffix(".log")
    lines = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join([*lines, json.dumps({"files": {"data/f7.txt": ["sha", "x"]}})]) + "\n", encoding="utf-8")
    again = DigestState(root, outputs)
    assert [again.sha(f) for f in files] == second and again.computed == 1

    out = outputs / "r"
    out.mkdir()
    for i in range(30):
        (out / f"{i}.html").write_text(str(i) * 100, encoding="utf-8")
    stats = OutputStats(outputs / ".stats.json", outputs)
    stats.noted([f"r/{i}.html" for i in range(30)])
    stats.save()
    (out / "4.html").write_text("other", encoding="utf-8")
    stats = OutputStats(outputs / ".stats.json", outputs)
    stats.noted(["r/4.html"])
    stats.keep_only({f"r/{i}.html" for i in range(29)})
    stats.save()
    assert (outputs / ".stats.log").exists()
    st = (out / "4.html").stat()
    kept = OutputStats(outputs / ".stats.json", outputs).stats
    assert kept["r/4.html"] == [st.st_size, st.st_mtime_ns, st.st_ctime_ns] and "r/29.html" not in kept


def test_the_manifest_is_written_when_an_overview_changes_in_place_and_not_otherwise(tmp_path) -> None:
    from nianbao.manifest import MANIFEST, Entry, Manifest
    from nianbao.project import Project

    project = Project(tmp_path)
    project.outputs.mkdir(parents=True)
    manifest = Manifest(project)
    manifest.put(Entry("shili-0001", 2020, "failed", None, error="x"))
    manifest.overviews["2020"] = {"year": 2020, "status": "published", "regions": ["a/2020"]}
    manifest.save()
    path = project.outputs / MANIFEST
    text, stat = path.read_text(encoding="utf-8"), path.stat()

    again = Manifest(project)
    again.save()  # nothing changed: not written
    assert path.stat().st_ino == stat.st_ino and path.read_text(encoding="utf-8") == text
    again.overviews["2020"]["written"] = [[1, "ab"]]  # an older entry's record, added in place
    again.save()
    assert json.loads(path.read_text(encoding="utf-8"))["overviews"]["2020"]["written"] == [[1, "ab"]]
    again.overviews["2021"] = {"year": 2021, "status": "published", "regions": []}  # a year's page, recorded
    again.save()
    assert set(json.loads(path.read_text(encoding="utf-8"))["overviews"]) == {"2020", "2021"}
    del again.overviews["2021"]
    again.save()
    assert set(json.loads(path.read_text(encoding="utf-8"))["overviews"]) == {"2020"}


def test_the_overviews_text_is_the_whole_encoding_whatever_changed(tmp_path) -> None:
    from nianbao.manifest import Manifest
    from nianbao.project import Project

    project = Project(tmp_path)
    project.outputs.mkdir(parents=True)
    manifest = Manifest(project)
    assert manifest._overviews_text() == json.dumps({}) == "{}"
    manifest.overviews.update({"2020": {"year": 2020, "regions": ["r-a/2020"], "title": "概览"},
                               "r-a/2020": {"year": 2020, "headlines": {"b": [1, 2], "a": None}, "z": "\u2028"}})
    whole = lambda: json.dumps(manifest.overviews, ensure_ascii=False, sort_keys=True)  # noqa: E731
    assert manifest._overviews_text() == whole()
    manifest.overviews["r-a/2020"]["written"] = [[3, "cd"]]  # changed in place at its first level
    manifest.overviews["2019"] = {"year": 2019}
    assert manifest._overviews_text() == whole()
    manifest.overviews["2020"] = {"year": 2020, "regions": []}
    del manifest.overviews["2019"]
    assert manifest._overviews_text() == whole()
