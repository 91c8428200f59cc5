"""What a batch's long-lived processes keep stays bounded as the project grows: the memos of files read
(`nianbao.filememo`), the batch kernel's loaded reports, and what a warm kernel keeps between notebooks."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import nbformat
import papermill
import pytest

from nianbao import engines, expectations, report
from nianbao.digests import SETTLE_NS
from nianbao.filememo import FileMemo
from nianbao.kernel import BATCH_KERNEL
from nianbao.project import Project
from nianbao.synth import synth


def settled(path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    old = time.time_ns() - 2 * SETTLE_NS
    os.utime(path, ns=(old, old))


def test_a_memo_reads_a_file_again_only_when_it_changed(tmp_path) -> None:
    memo: FileMemo[str] = FileMemo(4)
    path, reads = tmp_path / "a.csv", []
    settled(path, "one")

    def read() -> str:
        reads.append(1)
        return path.read_text(encoding="utf-8")

    assert [memo.get(path, read) for _ in range(3)] == ["one"] * 3
    assert len(reads) == 1
    settled(path, "two")  # another size
    assert memo.get(path, read) == "two"
    st = path.stat()
    path.write_text("six", encoding="utf-8")  # the same size ...
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # ... one tick later
    assert memo.get(path, read) == "six"
    assert len(reads) == 3
    assert len(memo) == 1  # the stale entries of the same file are gone, not left to the size bound


def test_a_memo_keeps_at_most_its_size_least_recently_used_forgotten(tmp_path) -> None:
    memo: FileMemo[int] = FileMemo(3)
    files = [tmp_path / f"{i}.txt" for i in range(50)]
    for i, path in enumerate(files):
        settled(path, str(i))
        memo.get(path, lambda i=i: i)
        memo.get(files[0], lambda: pytest.fail("the most used file was forgotten"))
        assert len(memo) <= 3
    reads = []
    assert memo.get(files[1], lambda: reads.append(1) or 1) == 1 and reads  # forgotten long ago: read again
    assert memo.get(files[49], lambda: pytest.fail("kept")) == 49


def test_a_memo_keeps_nothing_it_cannot_trust(tmp_path) -> None:
    memo: FileMemo[str] = FileMemo(2, settle=True)
    path = tmp_path / "fresh.csv"
    path.write_text("x", encoding="utf-8")  # written just now: a same-size edit could keep size and mtime
    memo.get(path, lambda: "x")
    assert len(memo) == 0
    with pytest.raises(KeyError):  # a reader that fails keeps nothing
        memo.get(tmp_path / "missing.csv", lambda: {}["x"])
    with pytest.raises(ValueError):
        memo.get([path, tmp_path / "x"], lambda: (_ for _ in ()).throw(ValueError("bad")))
    assert len(memo) == 0
    several = [tmp_path / "a", tmp_path / "b"]
    for p in several:
        settled(p, p.name)
    memo = FileMemo(2)
    assert memo.get(several, lambda: "ab") == "ab"
    settled(several[1], "bb")  # one of several files changed: read again
    assert memo.get(several, lambda: "ab2") == "ab2"


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Project:
    folder = tmp_path_factory.mktemp("province") / "p"
    synth(folder, offices=60, years=range(2023, 2025))
    return Project.find(folder)


def _retained(project: Project, offices: list[str]) -> int:
    """Bytes still allocated after a batch kernel loaded and verified every report of `offices`."""
    from nianbao.validate import verify

    report._REGISTRY.clear()
    report._FIGURES.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for office in offices:
        for year in (2023, 2024):
            verify(report.load_report(office, year, project), project)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before


def test_a_batch_kernel_keeps_what_one_report_needs_not_what_every_report_read(province, monkeypatch) -> None:
    monkeypatch.setenv(BATCH_KERNEL, "1")
    offices = sorted(p.name for p in (province.root / "params").iterdir())
    assert len(offices) == 60
    _retained(province, offices[:2])  # imports, caches of the formats: once
    small = _retained(province, offices[:10])
    large = _retained(province, offices)  # 6x the reports
    assert len(report._FIGURES) == 1 and len(report._REGISTRY) == 1 and len(expectations._LOADED) == 1
    # An office's figures are ~20 KB here: keeping every office's would add ~1 MB over the 50 more offices.
    assert large < small + 200_000, (small, large)


def notebook(folder, *sources: str):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "big.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_warm_kernel_keeps_nothing_of_the_notebooks_it_ran(tmp_path) -> None:
    """Each notebook leaves 40 MiB in the kernel's user namespace and in IPython's output cache (`Out`, `_`,
    `_3`: the value of a cell's last expression); the reset between notebooks must free both."""
    rss_now = "import os\nprint(int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE'))"
    path = notebook(tmp_path, rss_now,
                    "class Big:\n    def __init__(self):\n        self.data = b'x' * (40 * 2**20)\n"
                    "    def __repr__(self):\n        return 'Big'",
                    "Big()", "kept = Big()")
    engines.shutdown()
    try:
        rss = []
        for _ in range(5):
            out = tmp_path / "out.ipynb"
            papermill.execute_notebook(str(path), str(out), engine_name="nianbao", progress_bar=False,
                                       cwd=str(tmp_path))
            nb = nbformat.read(out, as_version=4)
            rss.append(int(nb.cells[0].outputs[0]["text"]))
    finally:
        engines.shutdown()
    # Kept, the five runs would hold 4 x 80 MiB more at the fifth run's start than at the second's.
    assert rss[-1] - rss[1] < 40 * 2**20, [r >> 20 for r in rss]

