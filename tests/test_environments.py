"""Works wherever papermill works: nbconvert's own templates missing, long or unwritable Jupyter runtime
folders, a kernelspec this machine lacks, `--kernel`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nianbao import kernel, kernelspecs
from nianbao.render.exporter import TEMPLATES

BIN = Path(sys.executable).parent

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


# --- kernels: the Unix socket path limit, an unwritable HOME or runtime folder -----------------------------

def under_a_file(tmp_path: Path) -> str:
    """A folder that cannot be created: its parent is a regular file (works as root, unlike chmod)."""
    (tmp_path / "a-file").write_text("x")
    return str(tmp_path / "a-file" / "runtime")


def long_folder(tmp_path: Path, length: int) -> str:
    base = str(tmp_path)
    return base + "/" + "r" * (length - len(base) - 1)


# The prefix is `<folder>/nianbao-<12 hex>` and sockets add `-<port>`: a folder of up to
# SOCKET_PATH_MAX - 24 characters fits.
FITS = kernel.SOCKET_PATH_MAX - len("/nianbao-") - 12 - kernel.PORT_SUFFIX


@pytest.mark.parametrize("situation", ["short", "at-the-limit", "one-over", "far-over", "cannot-create",
                                       "first-unusable-second-fine", "none-usable"])
def test_socket_prefix_picks_a_usable_folder(tmp_path, situation) -> None:
    short = str(tmp_path / "s")
    folders = {
        "short": [short],
        "at-the-limit": [long_folder(tmp_path, FITS)],
        "one-over": [long_folder(tmp_path, FITS + 1), short],
        "far-over": [long_folder(tmp_path, 300), short],
        "cannot-create": [under_a_file(tmp_path), short],
        "first-unusable-second-fine": [under_a_file(tmp_path), long_folder(tmp_path, 200), short],
        "none-usable": [under_a_file(tmp_path), long_folder(tmp_path, 200)],
    }[situation]
    prefix = kernel.socket_prefix(folders)
    if situation == "none-usable":
        assert prefix is None  # TCP
        return
    expected = folders[0] if situation in ("short", "at-the-limit") else short
    assert os.path.dirname(prefix) == expected
    assert len(os.fsencode(prefix)) + kernel.PORT_SUFFIX <= kernel.SOCKET_PATH_MAX
    assert os.path.isdir(expected)


def test_a_manager_falls_back_to_tcp_when_no_folder_fits(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(kernel, "_candidate_folders", lambda: iter([long_folder(tmp_path, 200)]))
    km = kernel.IPCKernelManager(kernel_name="python3")
    assert km.transport == "tcp" and km.ip == "127.0.0.1"
    monkeypatch.setattr(kernel, "_candidate_folders", lambda: iter([str(tmp_path)]))
    km = kernel.IPCKernelManager(kernel_name="python3")
    assert km.transport == "ipc" and km.ip.startswith(str(tmp_path))


@pytest.fixture
def fresh(tmp_path):
    from conftest import copy_project

    return copy_project(tmp_path / "proj")


ENVIRONMENTS = ["long-runtime-dir", "runtime-dir-cannot-be-created", "home-cannot-be-created", "tcp-only"]


@pytest.mark.parametrize("situation", ENVIRONMENTS)
def test_reports_run_where_stock_papermill_runs(fresh, executed, monkeypatch, tmp_path, situation) -> None:
    """A real kernel in each situation; the page is the same bytes as in a plain environment."""
    from nianbao.run import run_report

    if situation == "long-runtime-dir":
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", long_folder(tmp_path, 110))
    elif situation == "runtime-dir-cannot-be-created":
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", under_a_file(tmp_path))
    elif situation == "home-cannot-be-created":
        monkeypatch.delenv("JUPYTER_RUNTIME_DIR", raising=False)
        monkeypatch.delenv("JUPYTER_DATA_DIR", raising=False)
        monkeypatch.setenv("HOME", "/proc/self/nohome")  # as a container's arbitrary user, or a read-only home
    else:
        monkeypatch.setattr(kernel, "_candidate_folders", lambda: iter([long_folder(tmp_path, 200)]))
    result = run_report(fresh, "guandu-taihe", 2020)
    assert result.html.read_bytes() == executed[1].html.read_bytes()


# --- the kernel a notebook names: missing here, or chosen with --kernel -----------------------------------

def set_kernelspec(path: Path, spec: dict | None) -> None:
    nb = nbformat.read(path, as_version=4)
    if spec is None:
        nb.metadata.pop("kernelspec", None)
    else:
        nb.metadata["kernelspec"] = spec
    nbformat.write(nb, path)


MISSING = [
    {"name": "conda-env-nianbao-py", "display_name": "Python [conda env:nianbao]", "language": "python"},
    {"name": "python3-venv-old", "display_name": "Python (old venv)", "language": "python"},
    {"name": "ir", "display_name": "R", "language": "R"},
]


@pytest.mark.parametrize("spec", [*MISSING, None, {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}],
                         ids=["conda-env", "old-venv", "another-language", "no-kernelspec", "installed"])
def test_choose_kernel(tmp_path, spec) -> None:
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    set_kernelspec(path, spec)
    name, note = kernelspecs.choose_kernel(path)
    if spec is not None and spec["name"] == "python3":
        assert (name, note) == ("python3", None)
    elif spec is None:
        assert (name, note) == (kernelspecs.CURRENT_PYTHON, None)
    else:
        assert name == kernelspecs.CURRENT_PYTHON
        assert spec["name"] in note and sys.executable in note and "--kernel" in note
    assert kernelspecs.choose_kernel(path, "python3") == ("python3", None)  # --kernel wins


def test_an_installed_kernel_is_chosen_without_importing_jupyter_client(tmp_path) -> None:
    """The batch's own process starts no kernel: a kernel whose folder is in Jupyter's data path (JUPYTER_PATH
    here) is chosen without jupyter_client (0.1 s of every run); one that is not is looked up by jupyter_client's
    KernelSpecManager as before, and is not installed."""
    spec = tmp_path / "data" / "kernels" / "nianbao-test-k"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                           "{connection_file}"], "display_name": "k",
                                                  "language": "python"}), encoding="utf-8")
    code = ("import json, sys\nfrom pathlib import Path\nfrom nianbao.kernelspecs import choose_kernel\n"
            "chosen = choose_kernel(Path(sys.argv[1]), sys.argv[2] or None)\n"
            "print(json.dumps([chosen, 'jupyter_client' in sys.modules]))")
    for name, requested, expected in [("nianbao-test-k", "", [["nianbao-test-k", None], False]),
                                      ("python3", "nianbao-test-k", [["nianbao-test-k", None], False]),
                                      ("NIANBAO-Test-K", "", [["NIANBAO-Test-K", None], False]),  # any case
                                      ("python3", "Nianbao-TEST-k", [["Nianbao-TEST-k", None], False]),
                                      ("not-installed-k", "", [kernelspecs.CURRENT_PYTHON, True])]:
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), path)
        set_kernelspec(path, {"name": name, "display_name": name, "language": "python"})
        out = subprocess.run([sys.executable, "-c", code, str(path), requested], check=True, capture_output=True,
                             text=True, env={**os.environ, "JUPYTER_PATH": str(tmp_path / "data")}).stdout
        (chosen, note), imported = json.loads(out)
        if name == "not-installed-k":
            assert chosen == expected[0] and "not-installed-k" in note and imported is expected[1]
        else:
            assert [[chosen, note], imported] == expected


@pytest.mark.parametrize("name", ["python3/", "./python3", "../kernels/python3", "{data}/kernels/python3", ".."])
def test_a_kernel_name_that_is_a_path_is_no_installed_kernel(tmp_path, name: str) -> None:
    """A kernelspec's name is letters, digits, `.`, `_` and `-` (jupyter_client's rule): a name that reaches a
    kernel.json as a path is not looked for as one. In a notebook it runs on this Python with a note; given with
    --kernel it is refused at once, as before the quick look-up."""
    from nianbao.exceptions import NianbaoError

    data = Path(sys.prefix) / "share" / "jupyter"
    name = name.format(data=data)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    set_kernelspec(path, {"name": name, "display_name": name, "language": "python"})
    chosen, note = kernelspecs.choose_kernel(path)
    assert chosen == kernelspecs.CURRENT_PYTHON and repr(name) in note
    with pytest.raises(NianbaoError, match="no Jupyter kernel of that name is installed"):
        kernelspecs.choose_kernel(path, name)


# (file bytes, what the refusal says): files nbformat could not read either.
BAD_NOTEBOOKS = [
    (b"not json", "不是 JSON 格式"),
    (b"\xff\xfe{}", "不是 UTF-8 编码（第 1 个字节）"),
    (b"[1, 2]", "不是 Jupyter 笔记本"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": [], "cells": []}', "不是 Jupyter 笔记本"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": "python3"}, "cells": []}',
     "不是 Jupyter 笔记本"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": 5}}, "cells": []}',
     "metadata.kernelspec.name 应为文本，读到 5"),
]


@pytest.mark.parametrize("data, problem", BAD_NOTEBOOKS)
def test_a_bad_notebook_file_is_refused_naming_it(tmp_path, data: bytes, problem: str) -> None:
    from nianbao.exceptions import InputError

    path = tmp_path / "report.ipynb"
    path.write_bytes(data)
    with pytest.raises(InputError) as raised:
        kernelspecs.choose_kernel(path)
    assert str(raised.value).startswith(f"{path}：报告笔记本无法读取：") and problem in str(raised.value)
    with pytest.raises(InputError, match="文件不存在"):
        kernelspecs.notebook_kernel(tmp_path / "gone.ipynb")


def test_the_notebooks_kernel_is_read_without_nbformat(tmp_path) -> None:
    """The parent of a batch reads the kernel's name as nbformat does, without importing nbformat (and its
    jsonschema) in the parent."""
    paths = []
    for i, spec in enumerate([{"name": "conda-env-x-py", "display_name": "x", "language": "python"}, None,
                              {"display_name": "no name", "language": "python"}, {"name": ""}]):
        path = tmp_path / f"{i}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), path)
        set_kernelspec(path, spec)
        paths.append(path)
    old = tmp_path / "v3.ipynb"  # a version-3 notebook keeps its kernelspec in the same place
    old.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [],
                               "metadata": {"kernelspec": {"name": "old-kernel"}}}), encoding="utf-8")
    paths.append(old)
    code = ("import json, sys\nfrom pathlib import Path\nfrom nianbao.kernelspecs import notebook_kernel\n"
            "names = [notebook_kernel(Path(p)) for p in sys.argv[1:]]\n"
            "print(json.dumps([names, [m for m in ('nbformat', 'jsonschema') if m in sys.modules]]))")
    out = subprocess.run([sys.executable, "-c", code, *map(str, paths)], check=True, capture_output=True,
                         text=True).stdout
    names, imported = json.loads(out)
    expected = [nbformat.read(p, as_version=4).metadata.get("kernelspec", {}).get("name") or None for p in paths]
    assert names == expected == ["conda-env-x-py", None, None, None, "old-kernel"]
    assert imported == []


def test_batch_with_a_bad_notebook_exits_2_without_a_traceback(tmp_path) -> None:
    from click.testing import CliRunner

    from nianbao.cli import main
    from nianbao.synth import synth

    synth(tmp_path / "p", 1, range(2024, 2025))
    notebook = tmp_path / "p" / "notebooks" / "report.ipynb"
    notebook.write_text("{\"cells\": [", encoding="utf-8")  # cut short by a full disk
    for args in (["batch"], ["run", "shili-0001", "2024"]):
        result = CliRunner().invoke(main, [*args, "--project", str(tmp_path / "p")])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert f"{notebook}：报告笔记本无法读取：不是 JSON 格式" in result.output
    assert not (tmp_path / "p" / "outputs").exists() or not list((tmp_path / "p" / "outputs").rglob("*.html"))


def run_cli(project, *args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nianbao"), *args, "--project", str(project.root)], capture_output=True,
                          text=True, encoding="utf-8", env={**os.environ, **(env or {})}, timeout=timeout)


def test_run_with_a_missing_kernelspec_uses_this_python(fresh, executed) -> None:
    set_kernelspec(fresh.notebook, MISSING[0])
    out = run_cli(fresh, "run", "guandu-taihe", "2020")
    assert out.returncode == 0, out.stderr
    assert "conda-env-nianbao-py" in out.stderr and "is not installed here" in out.stderr
    page = fresh.output_dir("guandu-taihe") / "2020.html"
    assert page.read_bytes() == executed[1].html.read_bytes()
    # The executed notebook keeps the kernelspec it was saved with: JupyterLab opens it as before.
    assert nbformat.read(page.with_suffix(".ipynb"), as_version=4).metadata.kernelspec.name == "conda-env-nianbao-py"


@pytest.mark.parametrize("command", ["run", "batch"])
def test_kernel_option_names_an_installed_kernel(fresh, command) -> None:
    args = ["run", "guandu-taihe", "2020"] if command == "run" else ["batch", "--offices", "guandu-taihe"]
    out = run_cli(fresh, *args, "--kernel", "no-such-kernel")
    assert out.returncode == 2
    assert out.stderr.startswith("error: --kernel no-such-kernel: no Jupyter kernel") and "python3" in out.stderr
    assert "Traceback" not in out.stderr
    assert not list(fresh.outputs.rglob("*.html"))


def test_batch_in_a_hostile_environment(fresh, executed, tmp_path) -> None:
    """Everything at once, through the CLI and the worker processes: a long runtime folder, a HOME that
    cannot be made, the notebook saved with a kernel this machine lacks; and --kernel on the batch."""
    set_kernelspec(fresh.notebook, MISSING[0])
    env = {"JUPYTER_RUNTIME_DIR": long_folder(tmp_path, 120), "HOME": "/proc/self/nohome"}
    out = run_cli(fresh, "batch", "--offices", "guandu-taihe", env=env)
    assert out.returncode == 0, out.stderr
    assert "is not installed here" in out.stderr
    page = fresh.output_dir("guandu-taihe") / "2020.html"
    assert page.read_bytes() == executed[1].html.read_bytes()
    out = run_cli(fresh, "batch", "--offices", "guandu-taihe", "--force", "--kernel", "python3", env=env)
    assert out.returncode == 0, out.stderr
    assert "is not installed here" not in out.stderr
