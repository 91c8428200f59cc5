"""Work proportional to change: per-file digests kept in `outputs/.nianbao-digests.json` by size and mtime, a
report's digest made from its parts' digests, a manifest and an index written only where they changed."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest
from conftest import set_figure

from nianbao.batch import run_batch
from nianbao.digests import SETTLE_NS, STATE, DigestState
from nianbao.manifest import Manifest, input_digests
from nianbao.params import list_reports
from nianbao.project import Project
from nianbao.synth import synth


def make(tmp_path: Path, offices: int = 3, years: range = range(2019, 2023)) -> Project:
    synth(tmp_path / "synth", offices, years, 1)
    project = Project(tmp_path / "synth")
    age_inputs(project)
    return project


def age_inputs(project: Project, seconds: float = 60) -> None:
    """Date every input file `seconds` back, as files an analyst saved a while ago: their digests are settled."""
    then = time.time_ns() - int(seconds * 1e9)
    for folder in ("data", "params", "expectations", "notebooks"):
        for path in (project.root / folder).rglob("*"):
            if path.is_file():
                os.utime(path, ns=(then, then))


def digests(project: Project, state: DigestState | None = None) -> dict[tuple[str, int], str | None]:
    state = state or DigestState(project.root, project.outputs)
    found = input_digests(project, list_reports(project), state=state)
    state.save()
    return found


def built(project: Project) -> list[tuple[str, int]]:
    done: list[tuple[str, int]] = []
    run_batch(project, on_entry=lambda e: done.append((e.office, e.year)))
    return sorted(done)


class Opened:
    """Every file under the project's data/ and params/ that the process opens while in effect."""

    def __init__(self, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        self.project = project
        original = io.open

        def spy(file, *args, **kwargs):
            rel = os.path.relpath(os.fspath(file), project.root) if isinstance(file, (str, os.PathLike)) else ""
            if rel.startswith(("data" + os.sep, "params" + os.sep)):
                self.paths.append(rel)
            return original(file, *args, **kwargs)

        monkeypatch.setattr(io, "open", spy)
        monkeypatch.setattr("builtins.open", spy)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_a_no_op_reads_no_input_and_a_change_rebuilds_only_what_reads_it(tmp_path, monkeypatch) -> None:
    project = make(tmp_path)
    everything = built(project)
    assert len(everything) == 12
    written = {p: _stamp(p) for p in (project.outputs / "manifest.json", project.outputs / "index.html",
                                      *(project.outputs / "index").glob("*"), project.outputs / STATE)}

    # Nothing changed: nothing is built, no input file but the registry is opened, no figures file is parsed,
    # and the manifest, the index, its chunks and the digests' file are not written again.
    registry = os.path.join("data", "offices.csv")
    opened = Opened(project, monkeypatch)
    monkeypatch.setattr("nianbao.data.read_figures", lambda *a, **k: pytest.fail("read_figures on a no-op"))
    monkeypatch.setattr("nianbao.manifest.read_figures", lambda *a, **k: pytest.fail("read_figures on a no-op"))
    assert built(project) == []
    assert set(opened.paths) == {registry}
    assert {p: _stamp(p) for p in written} == written
    monkeypatch.undo()

    # One figure of 2020: that report and 2021's (its cross-year rules read 2020) are rebuilt; the inputs read
    # are that office's (to digest and to validate the two), and of the index only the chunks of those years
    # are written again.
    set_figure(project, "shili-0002", 2020, "t2.license.decisions", "77")
    opened = Opened(project, monkeypatch)
    assert built(project) == [("shili-0002", 2020), ("shili-0002", 2021)]
    assert os.path.join("data", "figures", "shili-0002.csv") in opened.paths
    assert {p for p in opened.paths if p != registry and "shili-0002" not in p} == set()
    assert not any(p.endswith(("2019.md", "2019.yaml", "2022.md", "2022.yaml")) for p in opened.paths)
    monkeypatch.undo()
    chunks = {p.name: _stamp(p) for p in (project.outputs / "index").glob("*.js")}
    assert {n for n in chunks if chunks[n] != written[project.outputs / "index" / n]} == {"2020.js", "2021.js"}
    assert "77" in (project.outputs / "shili-0002" / "2020.ipynb").read_text(encoding="utf-8")

    # Touched, not changed: read again (its stat changed), nothing built.
    age_inputs(project)
    built(project)  # records the aged stats
    os.utime(project.figures_file("shili-0001"))
    assert built(project) == []


def test_only_the_parts_a_report_reads_change_its_digest(tmp_path) -> None:
    project = make(tmp_path)
    before = digests(project)
    # Another office's row of the registry; another office's prose.
    offices = project.offices_file
    offices.write_text(offices.read_text(encoding="utf-8").replace("示例区", "示例县", 1), encoding="utf-8")
    changed_row = next(line.split(",")[0] for line in offices.read_text(encoding="utf-8").splitlines()
                       if "示例县" in line)
    # A row of 2019 in shili-0003's figures, same line: read by 2019 and 2020, not by 2021 or 2022.
    set_figure(project, "shili-0003", 2019, "t2.license.decisions", "99")
    after = digests(project)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {(changed_row, y) for y in range(2019, 2023)} | {("shili-0003", 2019), ("shili-0003", 2020)}
    # The shared parts change every report: the suites.
    suite = next(project.expectations.glob("*.json"))
    suite.write_text(suite.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert all(after[k] != v for k, v in digests(project).items())


def test_a_same_size_same_mtime_edit_is_seen_when_it_falls_in_the_digesting_runs_tick(tmp_path) -> None:
    project = make(tmp_path)
    prose = project.narrative_file("shili-0001", 2021)
    text = prose.read_text(encoding="utf-8")
    assert "。" in text
    # Saved just now (within the timestamp granularity of the run that digests it) ...
    now = time.time_ns()
    os.utime(prose, ns=(now, now))
    first = digests(project)
    record = json.loads((project.outputs / STATE).read_text(encoding="utf-8"))["files"]
    assert record[os.path.relpath(prose, project.root)][3] is False  # not settled
    # ... and edited again in the same tick: same size, same mtime.
    prose.write_text(text.replace("。", "！", 1), encoding="utf-8")
    assert len(prose.read_bytes()) == len(text.encode())
    os.utime(prose, ns=(now, now))
    second = digests(project)
    assert second[("shili-0001", 2021)] != first[("shili-0001", 2021)]
    assert {k for k in first if first[k] != second[k]} == {("shili-0001", 2021)}
    # Once older than SETTLE_NS when digested, the record is trusted: the next run reads nothing.
    then = time.time_ns() - 2 * SETTLE_NS
    os.utime(prose, ns=(then, then))
    digests(project)
    state = DigestState(project.root, project.outputs)
    assert digests(project, state) == second and state.computed == 0



def test_a_fresh_file_looked_at_twice_in_a_run_is_read_once_and_again_by_the_next_run(tmp_path) -> None:
    """A batch looks at the figures files ahead of the rest (`manifest.look_ahead`), then with them: a file saved
    just now is read once in that run, and read again by the next (its record is not settled)."""
    from nianbao.manifest import look_ahead

    project = make(tmp_path, offices=2, years=range(2020, 2022))
    first = digests(project)
    set_figure(project, "shili-0001", 2021, "t2.license.decisions", "71")
    now = time.time_ns()
    os.utime(project.figures_file("shili-0001"), ns=(now, now))
    state = DigestState(project.root, project.outputs)
    look_ahead(project, state)
    assert state.computed == 1
    second = digests(project, state)
    assert state.computed == 1 and second[("shili-0001", 2021)] != first[("shili-0001", 2021)]
    state.save()
    state = DigestState(project.root, project.outputs)
    look_ahead(project, state)
    assert state.computed == 1 and digests(project, state) == second and state.computed == 1

def test_a_deleted_or_broken_state_file_only_means_digesting_again(tmp_path) -> None:
    project = make(tmp_path, offices=2, years=range(2020, 2022))
    first = digests(project)
    files = 2 + 2 * 2 * 2  # figures, prose and params (the shared files' digest is kept by this process)
    state = DigestState(project.root, project.outputs)
    assert digests(project, state) == first and state.computed == 0
    for damage in (lambda p: p.unlink(), lambda p: p.write_text("{not json", encoding="utf-8"),
                   lambda p: p.write_text('{"version": 0, "files": {}}', encoding="utf-8")):
        damage(project.outputs / STATE)
        state = DigestState(project.root, project.outputs)
        assert digests(project, state) == first
        assert state.computed == files


def test_a_deleted_input_is_forgotten_and_a_missing_one_digests_as_missing(tmp_path) -> None:
    project = make(tmp_path, offices=2, years=range(2020, 2022))
    digests(project)
    prose = project.narrative_file("shili-0001", 2021)
    prose.unlink()
    state = DigestState(project.root, project.outputs)
    found = input_digests(project, list_reports(project), state=state)
    assert found[("shili-0001", 2021)] is not None  # the run says why it fails; the digest is of "(missing)"
    state.forget_untouched(("data" + os.sep,))
    assert os.path.relpath(prose, project.root) not in state.records


# A finding as the manifest records one (`Finding.to_dict`): an entry whose findings lack these is not trusted.
FINDING = {"office": "shili-0001", "year": 2020, "rule": "X", "severity": "warning", "table": None, "row": None,
           "column": None, "message": "引号\"与</script>"}


def test_the_manifest_is_written_only_when_it_changed_and_reads_back(tmp_path) -> None:
    project = make(tmp_path, offices=1, years=range(2020, 2022))
    from nianbao.manifest import PUBLISHED, Entry

    manifest = Manifest(project)
    manifest.put(Entry("shili-0001", 2020, PUBLISHED, "abc", html="shili-0001/2020.html",
                       findings=[FINDING]))
    manifest.save()
    stamp = _stamp(manifest.path)
    again = Manifest(project)
    assert again.entries == manifest.entries
    again.put(Entry("shili-0001", 2020, PUBLISHED, "abc", html="shili-0001/2020.html",
                    findings=[FINDING]))
    again.save()
    assert _stamp(manifest.path) == stamp and not again.changed_years
    json.loads(manifest.path.read_text(encoding="utf-8"))  # valid JSON, one line per report
    lines = manifest.path.read_text(encoding="utf-8").splitlines()
    assert [line[:20] for line in lines if "shili-0001/2020" in line] == ['"shili-0001/2020": {']


def test_an_overview_recorded_straight_into_the_manifest_is_saved(tmp_path) -> None:
    project = make(tmp_path, offices=1, years=range(2020, 2021))
    manifest = Manifest(project)
    manifest.save()
    stamp = _stamp(manifest.path)
    # As overview.year_pages records a year's page of regions: into the dict, not through put_overview.
    manifest.overviews["2020"] = {"year": 2020, "status": "published", "html": "overview/2020.html"}
    manifest.save()
    assert _stamp(manifest.path) != stamp
    again = Manifest(project)
    assert again.overviews["2020"]["html"] == "overview/2020.html"
    stamp = _stamp(again.path)
    again.save()
    assert _stamp(again.path) == stamp
