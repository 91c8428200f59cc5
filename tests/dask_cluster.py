"""A real Dask cluster on localhost for the tests and the benchmarks: a `dask scheduler` and single-threaded
`dask worker` processes, each in its own session and an empty folder (the workers get what a report needs from
the client). Used by tests/test_cluster.py and benchmarks/batch.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import distributed

BIN = Path(sys.executable).parent
START_TIMEOUT = 90  # seconds for the scheduler and the workers to come up on a loaded machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to each process's session, SIGKILL to those still there after 20 s."""
    for p in processes:  # each in its own session: the nanny, its worker and the kernels go together
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in processes:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


@contextmanager
def real_cluster(make_folder: Callable[[str], Path], workers: int, *worker_options: str) -> Iterator[str]:
    """A real `dask scheduler` and `workers` single-threaded `dask worker` processes on localhost, each in an
    empty folder (the workers get what a report needs from the client); yields the scheduler's address."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    common = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    processes = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], cwd=make_folder("scheduler"), **common)]
    try:
        for i in range(workers):
            folder = make_folder(f"worker{i}")
            processes.append(subprocess.Popen(
                [BIN / "dask", "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}",
                 "--local-directory", str(folder), *worker_options], cwd=folder, **common))
        with distributed.Client(address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT)
        yield address
    finally:
        stop(processes)
