"""Every command has help and is documented in the README."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import ROOT

from nianbao.cli import main


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_has_help_and_is_documented(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0 and len(result.output) > 80
    assert f"nianbao {name}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_check_demo_data_is_clean(repo) -> None:
    """No critical finding; the only warnings are the cross-year ones of the two demo offices whose last report
    was made to look wrong for the overview (tables copied from last year, all-zero tables, whose prose still
    states 26 applications: PROSE-TABLE)."""
    result = CliRunner().invoke(main, ["check", "--project", str(repo.root)])
    assert result.exit_code == 0, result.output
    assert "已校验78份报告：严重问题0项，警告11项" in result.output
    warned = {tuple(line.split()[:2]) for line in result.output.splitlines() if "[警告]" in line}
    assert warned == {("shili-0004", "2024"), ("shili-0005", "2024")}


def test_rules_lists_every_rule() -> None:
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0 and "T3-BALANCE" in result.output and "表三" in result.output


def test_new_scaffolds_an_office_year_that_runs_to_findings(project) -> None:
    args = ["--project", str(project.root)]
    result = CliRunner().invoke(main, ["new", "guandu-taihe", "2021", *args])
    assert result.exit_code == 0, result.output
    assert "data/narrative/guandu-taihe/2021.md" in result.output
    assert "已写入：params/guandu-taihe/2021.yaml" in result.output and "wrote" not in result.output
    before = project.figures_file("guandu-taihe").read_text(encoding="utf-8")
    # A second call leaves everything as it is.
    again = CliRunner().invoke(main, ["new", "guandu-taihe", "2021", *args])
    assert "未改动：guandu-taihe 2021年的数据、正文和参数文件都已存在" in again.output
    assert "已写入" not in again.output and "nothing to do" not in again.output
    assert project.figures_file("guandu-taihe").read_text(encoding="utf-8") == before
    # The skeleton's figures validate (zeros balance, headings are official, 2020's carry-out matches 2021's
    # carry-in), but its hint text is not a report: gated until the prose is written.
    check = CliRunner().invoke(main, ["check", "guandu-taihe", "2021", *args])
    assert check.exit_code == 1, check.output
    assert "严重问题1项" in check.output and "SEC-SKELETON" in check.output and "SEC6-FEE" in check.output


def test_new_refuses_an_unknown_office(project) -> None:
    result = CliRunner().invoke(main, ["new", "nowhere", "2021", "--project", str(project.root)])
    assert result.exit_code == 2 and "请先在 data/offices.csv 中添加" in result.output


SCRIPT = """
import atexit, sys
from nianbao import cli

class Noisy:
    def __del__(self):
        print("torn down", flush=True)

cli.kept = Noisy()  # freed only by the interpreter's teardown
command = cli.main.commands["rules"]
original = command.callback

def rules(**kwargs):
    atexit.register(print, "handler of the run ran", flush=True)  # as a kernel's shutdown or a scratch folder's
    original(**kwargs)
    if "--fail" in sys.argv[0]:
        sys.exit(3)

command.callback = rules
sys.argv = [sys.argv[0], "rules"]
cli.script_main()
"""


@pytest.mark.parametrize("status", [0, 3])
def test_the_command_ends_with_its_status_after_the_runs_exit_handlers_without_teardown(tmp_path, status) -> None:
    import subprocess
    import sys

    script = tmp_path / ("with--fail.py" if status else "ok.py")
    script.write_text(SCRIPT, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == status, proc.stderr
    assert "SEC-HEADINGS" in proc.stdout and proc.stdout.rstrip().endswith("handler of the run ran")
    assert "torn down" not in proc.stdout


def test_an_uncaught_exception_exits_as_python_does(tmp_path) -> None:
    import subprocess
    import sys

    script = tmp_path / "raises.py"
    script.write_text(SCRIPT.replace("original(**kwargs)", "raise RuntimeError('boom')"), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "RuntimeError: boom" in proc.stderr
    assert "torn down" in proc.stdout  # Python's own exit, teardown and all


# Ctrl-C as the command is imported, at each module it imports of its own (a KeyboardInterrupt raised there, as the
# signal raises it wherever it falls), then the command run.
INTERRUPTED_IMPORT = """
import importlib.abc, sys

interrupted = sys.argv[1]

class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == interrupted:
            raise KeyboardInterrupt

sys.meta_path.insert(0, Interrupt())
sys.argv = ["nianbao", "rules"]
from nianbao.__main__ import main
main()
"""


@pytest.mark.parametrize("module", ["click", "nianbao.cli", "nianbao.project", "nianbao.formats"])
def test_ctrl_c_while_the_command_is_imported_ends_it_with_130_and_no_traceback(module: str) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT, module], capture_output=True, text=True,
                          timeout=120)
    assert (proc.returncode, proc.stderr.strip()) == (130, "interrupted")


# SIGTERM as the command is imported (a CI job cancelled as it starts): before `cli.script_main` installs its handler.
TERMINATED_IMPORT = INTERRUPTED_IMPORT.replace("raise KeyboardInterrupt", """import os, signal, time
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)""")


@pytest.mark.parametrize("module", ["click", "nianbao.cli", "nianbao.formats"])
def test_sigterm_while_the_command_is_imported_ends_it_with_130_and_no_traceback(module: str) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", TERMINATED_IMPORT, module], capture_output=True, text=True,
                          timeout=120)
    assert (proc.returncode, proc.stderr.strip()) == (130, "interrupted")


def test_version_names_the_command_also_when_run_as_a_module() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nianbao", "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("nianbao, version "), proc.stdout


@pytest.mark.parametrize("raised", ["KeyboardInterrupt", "click.Abort"])
def test_ctrl_c_that_no_command_handles_is_status_130_not_clicks_aborted(tmp_path, raised: str) -> None:
    """Status 1 means gated reports: click's own "Aborted!" and status 1 would say so of a Ctrl-C."""
    import subprocess
    import sys

    script = tmp_path / "interrupted.py"
    script.write_text(SCRIPT.replace("original(**kwargs)", f"import click; raise {raised}()"), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr.strip()) == (130, "interrupted")


@pytest.mark.parametrize(("args", "status", "said"), [
    (["--version"], 0, "version"), (["rules", "--help"], 0, "Usage:"), (["no-such-command"], 2, "No such command"),
    (["batch", "--jobs", "x"], 2, "Invalid value"), ([], 2, "Usage:"),
])
def test_the_command_keeps_clicks_statuses_and_messages(args: list[str], status: int, said: str) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "nianbao", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == status and said in proc.stdout + proc.stderr, (proc.returncode, proc.stdout, proc.stderr)


def test_sigterm_to_any_command_ends_it_as_ctrl_c_does(tmp_path) -> None:
    """Not only `batch` and `run`: a command stopped by SIGTERM (a cancelled CI job) says so and ends with 130, not
    killed silently with 143."""
    import subprocess
    import sys

    script = tmp_path / "terminated.py"
    script.write_text(SCRIPT.replace("original(**kwargs)", "import os, signal, time\n"
                                     "    os.kill(os.getpid(), signal.SIGTERM)\n    time.sleep(30)"), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr.strip()) == (130, "interrupted")
