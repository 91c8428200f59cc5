"""The warm-kernel papermill engine: one kernel serves many notebooks, none sees another's variables, a
dead kernel is replaced, and a report's HTML is the same as from a fresh kernel."""

from __future__ import annotations

import nbformat
import papermill
import pytest
from papermill.engines import papermill_engines

from nianbao import engines
from nianbao.engines import WarmKernelEngine
from nianbao.run import render_page, run_report


def notebook(tmp_path, name: str, *sources: str):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def execute(path, tmp_path, **kw):
    out = tmp_path / f"{path.stem}.out.ipynb"
    papermill.execute_notebook(str(path), str(out), engine_name="nianbao", progress_bar=False, cwd=str(tmp_path), **kw)
    return nbformat.read(out, as_version=4)


def stdout(nb) -> list[str]:
    text = "".join(o["text"] for c in nb.cells for o in c.get("outputs", ()) if o.get("name") == "stdout")
    return text.split()


@pytest.fixture(autouse=True)
def fresh_engine():
    engines.shutdown()
    yield
    engines.shutdown()


def test_registered_as_a_papermill_engine() -> None:
    assert papermill_engines.get_engine("nianbao") is WarmKernelEngine


def test_a_report_never_sees_the_previous_ones_variables(tmp_path) -> None:
    a = notebook(tmp_path, "a", "import os\nleak = 42\nprint(os.getpid())")
    b = notebook(tmp_path, "b", "import os\nprint(os.getpid())\nprint('leak' in dir())")
    (pid_a,) = stdout(execute(a, tmp_path))
    pid_b, leaked = stdout(execute(b, tmp_path))
    assert pid_a == pid_b  # the same warm kernel
    assert leaked == "False"


def test_a_killed_kernel_fails_that_notebook_only(tmp_path) -> None:
    b = notebook(tmp_path, "b", "import os\nprint(os.getpid())")
    (first,) = stdout(execute(b, tmp_path))
    kill = notebook(tmp_path, "kill", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    with pytest.raises(Exception, match=r"(?i)dead|died|kernel"):
        execute(kill, tmp_path)
    (after,) = stdout(execute(b, tmp_path))
    assert after != first  # a fresh kernel took over


def test_warm_html_equals_fresh_kernel_html(project, tmp_path) -> None:
    fresh = run_report(project, "guandu-taihe", 2020).html.read_bytes()
    for office, year in (("example-shifan", 2023), ("guandu-taihe", 2020)):  # warm: another report ran first
        out = tmp_path / f"{office}-{year}.ipynb"
        papermill.execute_notebook(str(project.notebook), str(out), parameters={"office": office, "year": year},
                                   engine_name="nianbao", progress_bar=False, cwd=str(project.root))
    warm = render_page(nbformat.read(tmp_path / "guandu-taihe-2020.ipynb", as_version=4)).encode()
    assert warm == fresh
