"""The reviewers' index in a real browser (Chromium headless, from file://): its rows come from one script per
year beside the page, a page of rows at a time; filter, status, year, sort and paging work on all of them,
and the links lead to the files. Written only where it changed."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from index_probe import CHROMIUM, probe

from nianbao.index_files import write_index
from nianbao.manifest import FAILED, GATED, PUBLISHED, WARNINGS, Entry, Manifest
from nianbao.params import params_text
from nianbao.project import Project
from nianbao.render import index as index_module

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it with apt-get)")
YEARS = range(2019, 2024)
STATUSES = [PUBLISHED] * 6 + [WARNINGS, GATED, FAILED]


def fake_project(root: Path, offices: int, seed: int = 3) -> tuple[Project, dict[str, Entry]]:
    """A project with params for `offices` × YEARS and a manifest as a batch leaves it (statuses, findings,
    headline figures from the overviews, outputs on disk), without running one: the index is what is tested."""
    rng = random.Random(seed)
    project = Project(root)
    (root / "data").mkdir(parents=True)
    names = [f"示例区第{i:04d}{rng.choice('甲乙丙丁')}办事处" for i in range(offices)]
    rows = ["id,name,region"] + [f"office-{i:04d},{names[i]},示例区" for i in range(offices)]
    project.offices_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    manifest = Manifest(project)
    entries = {}
    for i in range(offices):
        office = f"office-{i:04d}"
        for year in YEARS:
            project.params_file(office, year).parent.mkdir(parents=True, exist_ok=True)
            project.params_file(office, year).write_text(params_text(office, year), encoding="utf-8")
            status = rng.choice(STATUSES)
            stem = f"{year}.findings" if status == GATED else str(year)
            findings = [{"rule": "T3-BALANCE", "severity": "critical" if status == GATED else "warning",
                         "message": "结转下年度应等于…", "office": office, "year": year, "table": "t3",
                         "row": "carry", "column": "total"}] if status in (WARNINGS, GATED) else []
            entry = Entry(office, year, status, "x", findings=findings,
                          error="boom: <b>不</b>" if status == FAILED else None,
                          **({} if status == FAILED else {"html": f"{office}/{stem}.html",
                                                          "notebook": f"{office}/{stem}.ipynb"}))
            if entry.html:
                for name in (entry.html, entry.notebook):
                    (project.outputs / name).parent.mkdir(parents=True, exist_ok=True)
                    (project.outputs / name).write_text("x", encoding="utf-8")
            manifest.put(entry)
            entries[entry.key] = entry
    for year in YEARS:
        manifest.put_overview({"year": year, "status": PUBLISHED, "html": f"overview/{year}.html",
                               "headlines": {f"office-{i:04d}": {"new": [str(rng.randint(0, 900)), "3"]}
                                             for i in range(offices) if rng.random() < 0.9}})
    manifest.save()
    return project, entries


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> tuple[Project, dict[str, Entry]]:
    project, entries = fake_project(tmp_path_factory.mktemp("index") / "p", 300)  # 1 500 rows, 8 pages
    write_index(project, Manifest(project))
    return project, entries


def _keys(rows: list[dict]) -> list[str]:
    return [f"{r['search'].split()[0]}/{r['search'].split()[2]}" for r in rows]


def test_the_page_opens_on_every_row_a_page_at_a_time_and_links_to_the_files(index, tmp_path) -> None:
    project, entries = index
    opened, second = probe(project.outputs / "index.html", [{"op": "next"}], profile=tmp_path / "c")
    assert opened["shown"] == len(entries) == 1500
    assert second["page"] == "第 2 / 8 页" and len(second["rows"]) == index_module.PAGE
    ordered = sorted(entries, key=lambda k: (k.split("/")[0], int(k.split("/")[1])))
    assert _keys(second["rows"]) == ordered[index_module.PAGE:2 * index_module.PAGE]  # as the batch lists them
    for row in second["rows"]:
        entry = entries[_keys([row])[0]]
        assert row["status"] == entry.status
        targets = [Path(link.removeprefix("file://")) for link in row["links"]]
        assert all(t.is_file() for t in targets) and len(targets) == (0 if entry.status == FAILED else 2)
        assert (entry.status == GATED) == ("校验结果" in row["cells"][-1])
        if entry.status == FAILED:
            assert "boom: <b>不</b>" in row["cells"][-1]  # the error as text, not markup


def test_filter_status_year_and_sort_apply_to_every_row(index, tmp_path) -> None:
    project, entries = index
    steps = [{"op": "filter", "value": "office-0007"}, {"op": "filter", "value": ""},
             {"op": "status", "value": GATED}, {"op": "year", "value": "2021"},
             {"op": "sort", "column": 3}, {"op": "sort", "column": 3}, {"op": "status", "value": ""},
             {"op": "sort", "column": 0}]
    _, one, _, gated, gated_2021, ascending, descending, _, by_name = probe(
        project.outputs / "index.html", steps, profile=tmp_path / "c")
    assert _keys(one["rows"]) == [f"office-0007/{y}" for y in YEARS]
    count = Counter((e.status, e.year) for e in entries.values())
    assert gated["shown"] == sum(n for (s, _), n in count.items() if s == GATED)
    assert {r["status"] for r in gated["rows"]} == {GATED}
    assert gated_2021["shown"] == count[(GATED, 2021)]
    assert all(k.endswith("/2021") for k in _keys(gated_2021["rows"]))
    # 新收申请 (column 3), blanks first: every gated report of 2021 sorted up, then down.
    values = [int(r["cells"][3].split()[0]) if r["cells"][3].strip() else -1 for r in ascending["rows"]]
    assert values == sorted(values) and len(values) == count[(GATED, 2021)]
    down = [int(r["cells"][3].split()[0]) if r["cells"][3].strip() else -1 for r in descending["rows"]]
    assert down == sorted(values, reverse=True)
    # By 机关: all of 2021, by name in Chinese collation (here: the numbers in the names).
    assert by_name["shown"] == 300
    names = [r["cells"][0] for r in by_name["rows"]]
    assert names == sorted(names, key=lambda n: n[4:8])


def test_a_province_opens_on_its_latest_year_and_loads_the_others_when_asked(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(index_module, "ALL_YEARS_MAX", 100)
    project, _ = fake_project(tmp_path / "p", 40)  # 200 rows: more than 100
    write_index(project, Manifest(project))
    opened, everything = probe(project.outputs / "index.html", [{"op": "year", "value": ""}],
                               profile=tmp_path / "c")
    assert opened["shown"] == 40  # 2023 only
    assert everything["shown"] == 200


def test_only_the_chunks_of_changed_years_are_written(tmp_path) -> None:
    project, entries = fake_project(tmp_path / "p", 20)
    write_index(project, Manifest(project))
    chunks = sorted((project.outputs / "index").glob("*.js"))
    stamps = {p: _stamp(p) for p in [*chunks, project.outputs / "index.html"]}
    write_index(project, Manifest(project))
    assert {p: _stamp(p) for p in stamps} == stamps  # nothing changed: nothing written
    manifest = Manifest(project)
    entry = entries["office-0003/2021"]
    manifest.put(Entry(entry.office, 2021, FAILED, "y", error="kernel died"))
    manifest.save()
    write_index(project, manifest)
    changed = {p.name for p in stamps if _stamp(p) != stamps[p]}
    assert changed == {"2021.js", "index.html"}  # the page: its counts and the chunk's version
    assert "kernel died" in (project.outputs / "index" / "2021.js").read_text(encoding="utf-8")
    # A manifest written by someone else (not the one the index was made from): every chunk again.
    other = Manifest(project)
    other.put(Entry(entry.office, 2020, FAILED, "z", error="x"))
    other.save()
    write_index(project, Manifest(project))
    assert all(_stamp(p) != stamps[p] for p in chunks)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()  # each write is a new file (atomic rename): a new inode even within one mtime tick
    return st.st_ino, st.st_mtime_ns
