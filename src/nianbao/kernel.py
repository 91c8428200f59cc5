"""The kernel manager nianbao starts report kernels with.

IPC sockets instead of TCP: no ports opened on the machine, and no "running over TCP without
encryption" warning from ipykernel on every report. The sockets live in Jupyter's runtime folder,
never in the project.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir


class IPCKernelManager(AsyncKernelManager):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("transport", "ipc")
        if "ip" not in kwargs:
            runtime = jupyter_runtime_dir()
            os.makedirs(runtime, exist_ok=True)
            kwargs["ip"] = os.path.join(runtime, f"nianbao-{uuid.uuid4().hex[:12]}")
        super().__init__(**kwargs)
