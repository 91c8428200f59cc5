"""The analyst's notebook: a JupyterLab run-and-save leaves the batch's digest alone, the report displays as
published even under JupyterLab's table styles in an untrusted notebook, and last year's figures are
compared for the analyst only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import set_figure
from test_print import CHROMIUM, chromium

from nianbao.manifest import shared_digest
from nianbao.notebook import notebook_digest, year_changes
from nianbao.render.html import report_html
from nianbao.render.inline import inline_styles, strip_inline
from nianbao.report import load_report


def test_a_lab_run_and_save_keeps_the_notebook_digest(project) -> None:
    from nbclient import NotebookClient

    before, shared = notebook_digest(project.notebook), shared_digest(project)
    nb = nbformat.read(project.notebook, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", ()))
    params.source = params.source.replace('office = "guandu-taihe"', 'office = "example-shifan"').replace(
        "year = 2020", "year = 2022")
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(project.root)}}).execute()  # a real kernel, as Lab runs it
    assert any(c.get("outputs") for c in nb.cells)
    nb.metadata["widgets"] = {}  # Lab adds metadata of its own
    nbformat.write(nb, project.notebook)
    assert notebook_digest(project.notebook) == before and shared_digest(project) == shared
    # A changed line of code is a changed notebook; so is a new parameter.
    nb.cells[-1].source += "\nprint('x')"
    nbformat.write(nb, project.notebook)
    assert notebook_digest(project.notebook) != before
    nb.cells[-1].source = nb.cells[-1].source.removesuffix("\nprint('x')")
    params.source += '\nextra = "x"'
    nbformat.write(nb, project.notebook)
    assert notebook_digest(project.notebook) != before


def test_the_shipped_notebook_speaks_chinese_to_the_analyst(repo) -> None:
    nb = nbformat.read(repo.notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            prose = re.sub(r"`[^`]*`|\([^)]*\)|\*\*", "", cell.source)
            assert re.search(r"[\u4e00-\u9fff]", prose) and not re.search(r"\b(the|and|of|report)\b", prose), prose


# JupyterLab's own table styles (rendermime): right-aligned cells without borders, zebra rows, fixed layout.
LAB_CSS = """
.jp-RenderedHTMLCommon table { border-collapse: collapse; border: none; table-layout: fixed; font-size: 12px; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { text-align: right; border: none; padding: 0.5em;
  vertical-align: middle; }
.jp-RenderedHTMLCommon th { font-weight: bold; }
.jp-RenderedHTMLCommon tbody tr:nth-child(odd) { background: #f5f5f5; }
.jp-RenderedHTMLCommon h1 { font-size: 1.6em; text-align: left; font-family: sans-serif; }
"""
PROBE = """<script>
addEventListener("load", () => {
  const s = (el) => getComputedStyle(el);
  const th = document.querySelector("table.nb-t3 th.header"), td = document.querySelector("table.nb-t3 tbody td");
  const h1 = document.querySelector("h1");
  const out = {th_align: s(th).textAlign, th_weight: s(th).fontWeight, td_align: s(td).textAlign,
               td_border: s(td).borderTopWidth + " " + s(td).borderTopStyle, td_bg: s(td).backgroundColor,
               h1_align: s(h1).textAlign, h1_size: s(h1).fontSize};
  const pre = document.createElement("pre"); pre.id = "nb-result"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it with apt-get)")
def test_the_report_shows_as_published_under_lab_styles_untrusted(repo, tmp_path: Path) -> None:
    html = inline_styles(report_html(load_report("guandu-taihe", 2020, repo)))
    untrusted = re.sub(r"<style>.*?</style>", "", html, flags=re.S)  # what JupyterLab keeps of an untrusted output
    page = tmp_path / "lab.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{LAB_CSS}</style></head><body>'
                    f'<div class="jp-RenderedHTMLCommon">{untrusted}</div>{PROBE}</body></html>', encoding="utf-8")
    dom = chromium(tmp_path, "--window-size=1280,900", "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    got = json.loads(re.search(r'<pre id="nb-result">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    assert got["th_align"] == "center" and got["th_weight"] == "400" and got["td_align"] == "center"
    assert got["td_border"] == "1px solid" and got["td_bg"] == "rgb(255, 255, 255)"
    assert got["h1_align"] == "center" and float(got["h1_size"].removesuffix("px")) > 26  # 22pt


def test_the_published_page_carries_no_inline_styles(repo) -> None:
    html = report_html(load_report("guandu-taihe", 2020, repo))
    assert 'style="' not in html and strip_inline(inline_styles(html)) == html


def test_year_changes_flag_a_fivefold_figure_and_a_copied_table(project) -> None:
    report = load_report("example-shifan", 2023, project)
    rows, unchanged = year_changes(report)
    assert rows and unchanged == []
    before = report.previous["t3.new.natural"]
    set_figure(project, "example-shifan", 2023, "t3.new.natural", str(int(before) * 5))
    for ref, value in report.previous.items():
        if ref.startswith("t4.") and value is not None:
            set_figure(project, "example-shifan", 2023, ref, value)
    rows, unchanged = year_changes(load_report("example-shifan", 2023, project))
    flagged = {ref: note for ref, _, _, note in rows if note}
    assert flagged.get("t3.new.natural") == "是上年的5.0倍"
    assert "t4" in unchanged
    assert year_changes(load_report("example-shifan", 2019, project)) == ([], [])  # no report last year
