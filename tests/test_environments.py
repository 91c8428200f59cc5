"""Works wherever papermill works: nbconvert's own templates missing, long or unwritable Jupyter runtime
folders, a kernelspec this machine lacks, `--kernel`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nianbao.render.exporter import TEMPLATES

OWN = Path(TEMPLATES) / "nianbao"

# Renders the executed notebook given as argv[1] with nbconvert finding none of its own templates, as after
# `pip install --user`, some conda, pyenv and Homebrew installs (jupyter/nbconvert#1478, #1579, #1975).
WITHOUT_SHARE = """
import os, sys, tempfile, jupyter_core.paths as paths
empty = tempfile.mkdtemp()
paths.jupyter_path = lambda *sub: [os.path.join(empty, *sub)]  # every Jupyter data folder is empty
import nbformat
from nianbao.render.exporter import ReportExporter
nb = nbformat.read(sys.argv[1], as_version=4)
sys.stdout.write(ReportExporter().from_notebook_node(nb)[0])
"""


def test_the_page_template_stands_alone() -> None:
    conf = json.loads((OWN / "conf.json").read_text(encoding="utf-8"))
    assert "base_template" not in conf
    for template in OWN.glob("*.j2"):
        text = template.read_text(encoding="utf-8")
        assert "{% extends" not in text and "{%- extends" not in text and "{% import" not in text


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    from conftest import copy_project

    from nianbao.run import run_report

    project = copy_project(tmp_path_factory.mktemp("env") / "proj")
    result = run_report(project, "guandu-taihe", 2020)
    return project, result


def test_renders_without_nbconvert_share_templates(executed) -> None:
    _, result = executed
    out = subprocess.run([sys.executable, "-c", WITHOUT_SHARE, str(result.notebook)], capture_output=True,
                         text=True, encoding="utf-8")
    assert out.returncode == 0, out.stderr
    assert out.stdout == result.html.read_text(encoding="utf-8")
