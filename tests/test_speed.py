"""What keeps a batch report cheap, each guarded against coming back: verification without pandas, inputs
read once per office in a batch kernel, inline styles added by the worker (the kernel ships the page once),
and the same executed notebook and page whichever way a report ran."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import papermill  # noqa: F401  first: papermill loads its engines, ours among them, as it initialises
import pytest
from conftest import set_figure

from nianbao import engines, report
from nianbao.kernel import BATCH_KERNEL
from nianbao.render.inline import LATER
from nianbao.run import execute_report


@pytest.fixture(autouse=True)
def fresh_engine():
    engines.shutdown()
    yield
    engines.shutdown()


def test_verify_imports_neither_pandas_nor_great_expectations(repo) -> None:
    code = ("import sys, nianbao\nfrom nianbao.validate import verify\np = nianbao.Project.find(sys.argv[1])\n"
            "r = nianbao.load_report('guandu-taihe', 2020, p)\nassert verify(r, p) == []\n"
            "print(sorted(m for m in ('pandas', 'great_expectations') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(repo.root)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_batch_kernel_reads_an_office_once_while_its_files_are_unchanged(project, monkeypatch) -> None:
    reads = []
    real = report.read_figures
    monkeypatch.setattr(report, "read_figures", lambda p, o: reads.append(o) or real(p, o))
    monkeypatch.setenv(BATCH_KERNEL, "1")
    for year in (2019, 2020, 2021):
        report.load_report("example-shifan", year, project)
    assert reads == ["example-shifan"]
    set_figure(project, "example-shifan", 2021, "t3.new.natural", "123456")  # changed: read again
    assert report.load_report("example-shifan", 2021, project).values["t3.new.natural"] == "123456"
    assert reads == ["example-shifan"] * 2
    monkeypatch.delenv(BATCH_KERNEL)  # JupyterLab, `nianbao run`: every load reads
    report.load_report("example-shifan", 2021, project)
    assert reads == ["example-shifan"] * 3


def outputs(path) -> list:
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.get("execution_count"), c.get("outputs"), c.metadata) for c in nb.cells]


def test_warm_and_fresh_runs_make_the_same_notebook_and_page(project) -> None:
    """The warm engine (one request for the code cells, styles added by the worker) and a fresh kernel
    (papermill's own, cell by cell, styles added in the kernel) give the same executed notebook and page,
    for a published report with warnings shown to the analyst and for a gated one."""
    set_figure(project, "example-shifan", 2022, "t3.new.natural", "x")  # critical: gated
    for office, year in (("example-shifan", 2021), ("example-shifan", 2022), ("guandu-taihe", 2020)):
        warm = execute_report(project, office, year, engine="nianbao")
        warm_pages = warm.html.read_bytes(), outputs(warm.notebook)
        fresh = execute_report(project, office, year)
        assert (fresh.html.read_bytes(), outputs(fresh.notebook)) == warm_pages
        assert fresh.status == warm.status
        styled = [o for _, _, _, outs, _ in warm_pages[1] for o in outs or () if o.get("metadata", {}).get("nianbao")]
        assert styled and all(' style="' in o["data"]["text/html"] for o in styled)  # JupyterLab shows them
        assert not any(LATER in o.get("metadata", {}) for _, _, _, outs, _ in warm_pages[1] for o in outs or ())
        assert b' style="' not in warm_pages[0]  # the page has its stylesheet


def test_a_failing_report_step_names_its_cell(project) -> None:
    """A step that raises in the warm engine's one request is reported as its own cell, as cell by cell."""
    from nianbao.exceptions import ExecutionFailed
    from nianbao.pool import ANSI

    nb = nbformat.read(project.notebook, as_version=4)
    check = next(c for c in nb.cells if "check_report" in c.source)
    check.source = "raise RuntimeError('step 校验 failed')\n" + check.source
    nbformat.write(nb, project.notebook)
    failures = []
    for engine in ("nianbao", None):
        with pytest.raises(ExecutionFailed) as caught:
            execute_report(project, "guandu-taihe", 2020, engine=engine)
        tb = ANSI.sub("", "\n".join(caught.value.traceback))
        failures.append((caught.value.ename, caught.value.evalue, "raise RuntimeError('step 校验 failed')" in tb,
                         "Cell In[4], line 1" in tb))
    assert failures[0] == failures[1] == ("RuntimeError", "step 校验 failed", True, True)
