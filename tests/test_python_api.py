"""nianbao from Python: a script calling `run_batch` needs a main guard (the workers import it again) and is told
so without one; the commands put back the caller's SIGTERM handler when they return."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from nianbao.batch import UNGUARDED
from nianbao.cli import main
from nianbao.synth import synth

SCRIPT = """
from pathlib import Path
from nianbao.batch import run_batch
from nianbao.project import Project
{guard}    result = run_batch(Project(Path({root!r})), jobs=1)
{guard}    print("exit", result.exit_code, sorted({{e.status for e in result.entries}}))
"""


def _script(tmp_path: Path, root: Path, guarded: bool) -> subprocess.CompletedProcess:
    guard = "if __name__ == '__main__':\n" if guarded else "if True:\n"
    path = tmp_path / ("guarded.py" if guarded else "unguarded.py")
    path.write_text(SCRIPT.format(guard=guard, root=str(root)), encoding="utf-8")
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=600, cwd=tmp_path)


def test_a_script_without_a_main_guard_is_told_to_add_one(tmp_path) -> None:
    synth(tmp_path / "p", 1, range(2024, 2025))
    unguarded = _script(tmp_path, tmp_path / "p", guarded=False)
    # Each worker says why it stops (not a second batch's "outputs/ is being written" from the lock).
    assert UNGUARDED in unguarded.stderr and "is being written" not in unguarded.stderr, unguarded.stderr[-2000:]
    assert "exit 2 ['failed']" in unguarded.stdout, unguarded.stdout
    guarded = _script(tmp_path, tmp_path / "p", guarded=True)
    assert "exit 0 ['published']" in guarded.stdout and UNGUARDED not in guarded.stderr, guarded.stderr[-2000:]


def _mine(signum, frame) -> None:  # the calling program's own handler
    pass


def test_the_commands_put_back_the_callers_sigterm_handler(tmp_path) -> None:
    synth(tmp_path / "p", 1, range(2024, 2025))
    root = str(tmp_path / "p")
    before = signal.signal(signal.SIGTERM, _mine)
    try:
        built = CliRunner().invoke(main, ["batch", "--project", root, "--jobs", "1"])
        assert built.exit_code == 0, built.output
        assert signal.getsignal(signal.SIGTERM) is _mine
        failed = CliRunner().invoke(main, ["run", "shili-0001", "2019", "--project", root])  # no such report
        assert failed.exit_code == 2 and signal.getsignal(signal.SIGTERM) is _mine, failed.output
        ran = CliRunner().invoke(main, ["run", "shili-0001", "2024", "--project", root])
        assert ran.exit_code == 0 and signal.getsignal(signal.SIGTERM) is _mine, ran.output
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        CliRunner().invoke(main, ["batch", "--project", root, "--jobs", "1"])
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)


POOL_SCRIPT = """
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from nianbao.batch import run_batch
from nianbao.project import Project


def job(root):
    result = run_batch(Project(Path(root)), jobs=1)
    return result.exit_code, sorted({{e.status for e in result.entries}})


if __name__ == "__main__":
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        print("exit", *pool.submit(job, {root!r}).result())
"""


def test_a_guarded_scripts_function_may_run_a_batch_in_a_child_process(tmp_path) -> None:
    """Only the import of an unguarded script in a worker is refused: a job of the script that a process pool
    runs (its module is `__mp_main__` there too) builds its batch."""
    synth(tmp_path / "p", 1, range(2024, 2025))
    path = tmp_path / "pooled.py"
    path.write_text(POOL_SCRIPT.format(root=str(tmp_path / "p")), encoding="utf-8")
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert "exit 0 ['published']" in done.stdout and UNGUARDED not in done.stderr, done.stderr[-2000:]
