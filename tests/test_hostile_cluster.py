"""Hostile situations for `nianbao batch --scheduler`: an address that is not a Dask scheduler's is one line and
exit 2, nothing written, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

pytest.importorskip("distributed")

from nianbao.synth import synth


def garbage_server() -> tuple[socket.socket, int]:
    """A TCP service on localhost that is not Dask: it answers every connection with bytes Dask cannot read."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"\xff" * 64)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


@pytest.mark.parametrize("kind", ["unknown scheme", "not a scheduler"])
def test_an_address_that_is_no_dask_scheduler_is_one_line_and_exit_2(tmp_path, kind) -> None:
    synth(tmp_path / "p", 1, range(2021, 2022), 3)
    server = None
    if kind == "unknown scheme":
        address = "nonsense://127.0.0.1:8786"
    else:
        server, port = garbage_server()
        address = f"tcp://127.0.0.1:{port}"
    try:
        result = subprocess.run([sys.executable, "-m", "nianbao", "batch", "--project", str(tmp_path / "p"),
                                 "--scheduler", address], capture_output=True, text=True, timeout=300)
    finally:
        if server:
            server.close()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: cannot use the Dask scheduler at {address}: ") \
        or result.stderr.strip().splitlines()[-1].startswith(f"error: cannot reach the Dask scheduler at {address}: ")
    assert not list((tmp_path / "p" / "outputs").glob("*/*.html"))
