"""The warm-kernel papermill engine: one kernel serves many notebooks, none sees another's variables, a
dead kernel is replaced, and a report's HTML is the same as from a fresh kernel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

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


def test_batch_kernels_keep_no_history_on_disk(tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("IPYTHONDIR", str(home / ".ipython"))
    nb = execute(notebook(tmp_path, "h", "x = 1", "print(get_ipython().history_manager.enabled)"), tmp_path)
    execute(notebook(tmp_path, "h2", "y = 2", "print(y)"), tmp_path)  # a reset between the two
    assert stdout(nb) == ["False"]
    assert not [p for p in home.rglob("*.sqlite*")]  # IPython's history.sqlite was written here before


def test_code_cells_go_in_one_request_each_output_in_its_own_cell(tmp_path) -> None:
    path = notebook(tmp_path, "g", "print('a', get_ipython().parent_header['msg_id'])",
                    "from IPython.display import display, HTML\ndisplay(HTML('<b>b</b>'))",
                    "print('c', get_ipython().parent_header['msg_id'])\n6 * 7")
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("# between"))
    nbformat.write(nb, path)
    nb = execute(path, tmp_path)
    first, _, second, third = nb.cells
    (a, msg_a), (c, msg_c) = first.outputs[0]["text"].split(), third.outputs[0]["text"].split()
    assert (a, c) == ("a", "c") and msg_a == msg_c  # one execute request ran both cells
    assert [o["output_type"] for o in second.outputs] == ["display_data"]
    assert second.outputs[0]["data"]["text/html"] == "<b>b</b>"
    assert third.outputs[1]["data"]["text/plain"] == "42"
    assert [c.execution_count for c in nb.cells if c.cell_type == "code"] == [1, 2, 3]
    assert all(c.metadata.papermill["status"] == "completed" for c in nb.cells)
    assert not any(engines.MARKER in o.get("data", {}) for c in nb.cells for o in c.get("outputs", ()))


def test_a_raising_cell_of_a_group_is_named_and_stops_the_rest(tmp_path) -> None:
    from papermill.exceptions import PapermillExecutionError

    path = notebook(tmp_path, "r", "x = 1", "print('before')\nraise ValueError('bad figure')", "print('never')")
    with pytest.raises(PapermillExecutionError) as caught:
        execute(path, tmp_path)
    assert caught.value.exec_count == 2 and caught.value.ename == "ValueError"
    from nianbao.pool import ANSI

    assert "bad figure" in caught.value.evalue
    assert "Cell In[2], line 2" in ANSI.sub("", "\n".join(caught.value.traceback))
    nb = nbformat.read(tmp_path / "r.out.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.metadata.papermill["status"] for c in code] == ["completed", "failed", "pending"]
    assert code[1].outputs[0]["text"] == "before\n" and code[1].outputs[1]["output_type"] == "error"
    assert not code[2].outputs
    (after,) = stdout(execute(notebook(tmp_path, "ok", "print('fine')"), tmp_path))  # the engine goes on
    assert after == "fine"


def test_the_timeout_holds_per_cell_in_a_group(tmp_path) -> None:
    from nbclient.exceptions import CellTimeoutError

    slow_cells = notebook(tmp_path, "s", *["import time; time.sleep(1.2)"] * 3)
    execute(slow_cells, tmp_path, execution_timeout=2)  # 3.6 s in all, no cell over 2 s
    hung = notebook(tmp_path, "t", "x = 1", "import time; time.sleep(60)")
    with pytest.raises(CellTimeoutError):
        execute(hung, tmp_path, execution_timeout=2)


def test_a_batch_kernel_imports_nianbao_as_it_starts_leaving_the_namespace_and_the_count_untouched(tmp_path) -> None:
    """The modules the notebooks use are imported while the kernel boots (`kernel.PRELOAD`, IPython's exec_lines):
    the first notebook finds them loaded, yet sees no name it did not bind and starts at execution count 1."""
    from nianbao.kernel import PRELOAD

    probe = ("import sys\nprint(sorted(n for n in globals() if not n.startswith('_') and n not in "
             "('In', 'Out', 'exit', 'quit', 'get_ipython', 'open', 'sys')))\n"
             f"print(all(m in sys.modules for m in {PRELOAD!r}))\n"
             "print(__import__('gc').get_freeze_count() > 10 ** 4)")  # what it made booting: not to be collected
    nb = execute(notebook(tmp_path, "first", probe), tmp_path)
    assert stdout(nb) == ["[]", "True", "True"]
    assert nb.cells[0].execution_count == 1


def test_a_batch_kernel_starts_without_the_debugger_and_imports_from_the_working_folder(tmp_path) -> None:
    """ipykernel's launcher without debugpy (`kernel.without_debugger`, a sixth of the kernel's start): blocked, as if
    not installed; the working folder is on `sys.path` as with ipykernel's own launcher."""
    from nianbao.kernel import LAUNCHER, IPCKernelManager, without_debugger

    assert IPCKernelManager(kernel_name="python3").kernel_spec.argv[1] == "-c"
    # as `ipykernel install` writes it: the interpreter's options kept
    assert without_debugger(["py", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]) \
        == ["py", "-Xfrozen_modules=off", "-c", LAUNCHER, "-f", "{connection_file}"]
    assert without_debugger(["py", "-m", "other_kernel", "-f", "x"]) == ["py", "-m", "other_kernel", "-f", "x"]
    (tmp_path / "beside.py").write_text("VALUE = 7\n", encoding="utf-8")
    probe = "import sys\nprint(sys.modules.get('debugpy', 'absent'))\nimport beside\nprint(beside.VALUE)"
    assert stdout(execute(notebook(tmp_path, "probe", probe), tmp_path)) == ["None", "7"]


def test_a_kernel_started_ahead_is_the_one_the_first_notebook_runs_on(tmp_path) -> None:
    """A worker starts its kernel before it imports papermill (`pool.start_kernel`) and hands it to the engine
    (`engines.adopt`): the first notebook waits for that kernel and runs on it; a notebook for another kernel
    name does not."""
    from nianbao.pool import start_kernel

    name, km, kc = start_kernel(tmp_path, "python3")
    pid = km.provisioner.process.pid
    engines.adopt(name, str(tmp_path), km, kc)
    nb = execute(notebook(tmp_path, "pid", "import os\nprint(os.getpid())"), tmp_path)
    assert stdout(nb) == [str(pid)]
    assert nb.metadata["language_info"]["name"] == "python"
    assert start_kernel(tmp_path, "no-such-kernel") is None and start_kernel(tmp_path, None) is None
    # No heartbeat thread: liveness is the manager's (the process); stopping the channels of a kernel that died
    # waited for the heartbeat's 1 s timeout, a second per report when a kernel dies at start.
    assert kc._hb_channel is None


def test_a_kernel_started_ahead_that_died_is_replaced(tmp_path) -> None:
    from nianbao.pool import start_kernel

    name, km, kc = start_kernel(tmp_path, "python3")
    engines.adopt(name, str(tmp_path), km, kc)
    dead = km.provisioner.process
    dead.kill()
    dead.wait()
    (pid,) = stdout(execute(notebook(tmp_path, "pid", "import os\nprint(os.getpid())"), tmp_path))
    assert pid != str(dead.pid)



def test_a_kernel_just_started_answers_and_its_first_notebook_loses_no_output(tmp_path) -> None:
    """`engines.ready` (not jupyter_client's `wait_for_ready`, which then waits for IOPub to be quiet for 0.2 s):
    the kernel's language_info once it answers and IOPub is connected, so that the first notebook's outputs,
    printed at once, all arrive; a kernel that died as it started is said to have died."""
    from jupyter_core.utils import run_sync

    from nianbao.kernel import start_batch_kernel

    for round in range(3):
        km, kc = start_batch_kernel("python3", str(tmp_path))
        engines.adopt("python3", str(tmp_path), km, kc)
        nb = execute(notebook(tmp_path, f"first{round}", "for i in range(5):\n    print(i, flush=True)",
                              "print('second')"), tmp_path)
        assert stdout(nb) == ["0", "1", "2", "3", "4", "second"]
        assert nb.metadata["language_info"]["name"] == "python"
        engines.shutdown()
    km, kc = start_batch_kernel("python3", str(tmp_path))
    km.provisioner.process.kill()
    try:
        with pytest.raises(RuntimeError, match="died"):
            run_sync(engines.ready)(km, kc, 60)
    finally:
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)

def test_an_overview_page_leaves_its_collection_to_the_reset_in_a_batch_kernel(project, tmp_path) -> None:
    """A page of 1429 offices makes ~10⁵ objects with the collector off; the first allocation once it is on again
    walked them all (~40 ms a page). In a batch kernel it stays off until the reset after the notebook, which
    collects while the worker renders; anywhere else the page turns it back on."""
    import gc

    from nianbao.overview import load_overview

    page = notebook(tmp_path, "page", "import gc\nfrom nianbao import overview as ov\nfrom nianbao.project import "
                    f"Project\nov.load_overview(Project.find({str(project.root)!r}), 2023)\nprint(gc.isenabled())")
    after = notebook(tmp_path, "after", "import gc\nprint(gc.isenabled())")
    assert stdout(execute(page, tmp_path)) == ["False"]
    assert stdout(execute(after, tmp_path)) == ["True"]
    assert load_overview(project, 2023).offices and gc.isenabled()


def test_notebooks_asked_for_from_two_threads_take_turns_on_the_one_kernel(tmp_path, monkeypatch) -> None:
    """A batch worker runs two tasks at a time (`pool.AHEAD`) on its one kernel, used from a thread of its own
    (`engines.use_thread`): whichever thread asks, the notebooks take their turns on that kernel, one after the
    other, each with its own outputs."""
    from concurrent.futures import ThreadPoolExecutor
    from itertools import pairwise

    monkeypatch.chdir(tmp_path)  # papermill changes the working folder during an execution: the same, as a worker's
    on_kernel = ThreadPoolExecutor(1)
    engines.use_thread(on_kernel)
    paths = [notebook(tmp_path, f"n{i}", "import os, time\nstart = time.time()\ntime.sleep(0.3)",
                      f"print({i}, os.getpid(), start, time.time())") for i in range(4)]
    try:
        with ThreadPoolExecutor(2) as callers:
            done = list(callers.map(lambda path: stdout(execute(path, tmp_path)), paths))
    finally:
        engines.use_thread(None)
        on_kernel.submit(engines.shutdown).result()
        on_kernel.shutdown()
    assert [int(d[0]) for d in done] == [0, 1, 2, 3]  # each notebook its own outputs
    assert len({d[1] for d in done}) == 1  # one kernel served them all
    spans = sorted((float(d[2]), float(d[3])) for d in done)
    assert all(end <= start for (_, end), (start, _) in pairwise(spans))  # one at a time



# A worker whose kernel's start has made the kernel's process but not returned (held there for a second, a window
# otherwise a few milliseconds wide); its kernel's pid printed.
SLOW_START = """
import sys, time
from multiprocessing import Pipe
from nianbao import kernel, pool

real = kernel.IPCKernelManager.start_kernel

async def start_kernel(self, **kw):
    await real(self, **kw)
    print(self.provisioner.process.pid, flush=True)
    time.sleep(1)

kernel.IPCKernelManager.start_kernel = start_kernel
parent, child = Pipe()
pool._worker_main(child, sys.argv[1], "python3", None)
"""
# A child subreaper (as a container's init or a service manager is) starts that worker, stops it with SIGTERM, and
# says the worker's exit status and whether the kernel lives 3 s later. An orphaned kernel is the subreaper's child,
# not init's: ipykernel's parent poller, which stops a kernel whose parent became init, does not see it.
SUBREAPER = """
import ctypes, signal, subprocess, sys, time
import psutil

assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE)
kernel = psutil.Process(int(worker.stdout.readline()))
worker.send_signal(signal.SIGTERM)
status = worker.wait(timeout=30)
time.sleep(3)
alive = kernel.is_running() and kernel.status() != psutil.STATUS_ZOMBIE
if alive:
    kernel.kill()
kernel.wait(timeout=10)  # reaped, by us
print(status, alive)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreapers are Linux's (prctl)")
def test_a_worker_stopped_while_its_kernel_starts_leaves_no_kernel(project) -> None:
    """SIGTERM to a worker whose kernel's process exists but whose start has not returned: the worker kills that
    kernel too (it knew none until the start returned, and left it running), and leaves no file of it behind."""
    temporary, runtime = project.root.parent / "tmp", project.root.parent / "runtime"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary), "JUPYTER_RUNTIME_DIR": str(runtime)}
    out = subprocess.run([sys.executable, "-c", SUBREAPER, SLOW_START, str(project.root)], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(128 + signal.SIGTERM), "False"], out.stdout
    # nor its connection file, its sockets or the worker's private folder (the kernels' log)
    assert [p.name for p in temporary.iterdir()] == [] and [p.name for p in runtime.iterdir()] == []


# A kernel whose start is interrupted (Ctrl-C) once its process exists, inside the manager's start, in the main
# thread as `nianbao run`'s is (nbclient starts it with `IPCKernelManager`): prints the kernel's pid and whether it
# still runs at once; then whether a kernel may start once this process is told to stop ("refused" or "started").
INTERRUPTED_START = """
import sys
from jupyter_core.utils import run_sync
from nianbao import kernel

real = kernel.IPCKernelManager._async_post_start_kernel

async def post_start_kernel(self, **kw):
    await real(self, **kw)
    print(self.provisioner.process.pid, flush=True)
    raise KeyboardInterrupt

kernel.IPCKernelManager._async_post_start_kernel = post_start_kernel
km = kernel.IPCKernelManager(kernel_name="python3")
try:
    run_sync(km.start_kernel)(cwd=sys.argv[1])
except KeyboardInterrupt:
    pass
try:
    km.provisioner.process.wait(timeout=10)
    print("killed", flush=True)
except Exception:
    print("runs", flush=True)
kernel.IPCKernelManager._async_post_start_kernel = real
kernel.kill_kernels()
try:
    kernel.start_batch_kernel("python3", sys.argv[1])
    print("started", flush=True)
except RuntimeError:
    print("refused", flush=True)
"""


def test_a_kernel_start_interrupted_leaves_no_kernel_and_none_starts_once_stopping(tmp_path) -> None:
    """Ctrl-C inside `start_batch_kernel` (its process made): that kernel is killed, not left to a subreaper. Once
    `kill_kernels` ran (a worker's SIGTERM handler), no kernel starts: an engine finding its kernel dead
    started another in the moment before the worker exited."""
    import psutil

    out = subprocess.run([sys.executable, "-c", INTERRUPTED_START, str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    pid, then, said = out.stdout.split()
    assert (then, said) == ("killed", "refused")
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE


def test_a_worker_is_born_deaf_to_ctrl_c(tmp_path) -> None:
    """A Ctrl-C sent to the terminal's process group reaches the workers too; one still importing printed a
    KeyboardInterrupt traceback and died. Born with SIGINT blocked, it drops it when it ignores SIGINT."""
    import multiprocessing
    import time

    from nianbao import pool

    worker = pool._start_worker(multiprocessing.get_context("spawn"), tmp_path, None, None, standby=True)
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # from its first moments until it waits for work
            os.kill(worker.process.pid, signal.SIGINT)
            time.sleep(0.01)
        assert worker.process.is_alive() and worker.process.exitcode is None
    finally:
        worker.conn.send(None)
        worker.process.join(30)
    assert worker.process.exitcode == 0
