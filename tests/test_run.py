"""`nianbao run` through the real stack: the gate, failures, atomic outputs, and the stock CLIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from conftest import ROOT, files_under, set_figure
from htmltext import read

from nianbao.cli import main
from nianbao.exceptions import ExecutionFailed
from nianbao.run import GATED, PUBLISHED, run_report

BIN = Path(sys.executable).parent


def test_gate_blocks_and_keeps_the_earlier_report(project) -> None:
    first = run_report(project, "guandu-taihe", 2020)
    assert first.status == PUBLISHED
    published = files_under(project.outputs)

    set_figure(project, "guandu-taihe", 2020, "t3.new.natural", "-1")
    result = CliRunner().invoke(main, ["run", "guandu-taihe", "2020", "--project", str(project.root)])
    assert result.exit_code == 1
    assert "T3-INT" in result.output and "2020.findings.html" in result.output

    out = project.output_dir("guandu-taihe")
    # The published report is untouched; the findings page sits beside it.
    for name in ("2020.html", "2020.ipynb"):
        assert (out / name).read_bytes() == published[f"guandu-taihe/{name}"]
    html = (out / "2020.findings.html").read_text(encoding="utf-8")
    page = read(html)
    assert "未通过数据校验" in page.blocks[0][1]
    # Table 三 comes first with the cell marked, then the list of findings.
    marked = [c for row in page.tables[0] for c in row if c.attrs.get("data-rule")]
    assert [(c.attrs["data-rule"], c.text) for c in marked] == [("T3-INT", "-11")]  # value, note 1
    cells = [c.text for row in page.tables[-1] for c in row]
    assert "T3-INT" in cells and "表三数据须为非负整数" in cells and "严重" in cells
    assert any("表三 · 一、本年新收政府信息公开申请数量 · 自然人：填报-1" in c and "data/figures/guandu-taihe.csv:" in c
               for c in cells)
    # No English block, no traceback: the notebook ends with the findings and one Chinese line.
    assert not any(tag == "pre" for tag, _ in page.blocks) and "GateFailed" not in html
    nb = nbformat.read(out / "2020.findings.ipynb", as_version=4)
    (error,) = [o for c in nb.cells for o in c.get("outputs", ()) if o.output_type == "error"]
    assert error.ename == "GateFailed" and error.traceback == ["guandu-taihe 2020年：严重问题1项，报告不予发布"
                                                               "（见上方问题清单，改正数据后重新运行）"]

    # Fixed data publishes again and clears the stale findings.
    set_figure(project, "guandu-taihe", 2020, "t3.new.natural", "0")
    assert run_report(project, "guandu-taihe", 2020).status == PUBLISHED
    assert sorted(p.name for p in out.iterdir()) == ["2020.html", "2020.ipynb"]


def test_failing_notebook_writes_nothing(project) -> None:
    nb = nbformat.read(project.notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('boom')"))
    nbformat.write(nb, project.notebook)
    with pytest.raises(ExecutionFailed, match="RuntimeError: boom"):
        run_report(project, "guandu-taihe", 2020)
    assert files_under(project.outputs) == {}


def test_gated_status_via_library(project) -> None:
    set_figure(project, "example-shifan", 2021, "t4.review.total", "9")
    result = run_report(project, "example-shifan", 2021)
    assert result.status == GATED
    assert [f.rule for f in result.findings if f.critical] == ["T4-GROUPSUM"]
    assert not (project.output_dir("example-shifan") / "2021.html").exists()


def test_stock_papermill_and_nbconvert(project, tmp_path) -> None:
    """`papermill notebooks/report.ipynb out.ipynb -f params/...` and `jupyter nbconvert --to nianbao`."""
    executed = tmp_path / "out.ipynb"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(BIN / "papermill"), "notebooks/report.ipynb", str(executed), "-f",
                    "params/example-shifan/2021.yaml", "--no-progress-bar"], cwd=project.root, check=True, env=env,
                   capture_output=True)
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "nianbao", str(executed)], check=True, env=env,
                   capture_output=True)
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    page = read(html)
    assert page.blocks[0] == ("h1", "示例区示范街道办事处2021年政府信息公开工作年度报告")
    # Placeholders in the prose took the figures from the data.
    with (project.figures_file("example-shifan")).open(encoding="utf-8") as f:
        new_total = next(line.rsplit(",", 1)[1].strip() for line in f if line.startswith("2021,t3,new,total,"))
    assert any(f"全年新收政府信息公开申请{new_total}件" in text for _, text in page.blocks)
    assert len(page.tables) == 3


def test_exporter_entry_point_is_registered() -> None:
    from nbconvert.exporters import get_exporter

    from nianbao.render.exporter import ReportExporter

    assert get_exporter("nianbao") is ReportExporter


def test_demo_outputs_are_not_committed() -> None:
    tracked = subprocess.run(["git", "ls-files", "outputs"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert tracked in ([], ["outputs/.gitkeep"])


def test_executed_notebook_keeps_its_parameters(project) -> None:
    result = run_report(project, "guandu-taihe", 2020)
    nb = json.loads(result.notebook.read_text(encoding="utf-8"))
    # `run` validates before it executes and passes the findings, as the batch does (same notebook, same page).
    assert nb["metadata"]["papermill"]["parameters"] == {"office": "guandu-taihe", "year": 2020, "findings": []}
    assert nb["metadata"]["nianbao"]["findings"] == []
