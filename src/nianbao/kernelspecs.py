"""Which kernel runs a notebook: the one its metadata names (`metadata.kernelspec.name`), where installed.

A notebook saved by JupyterLab names the kernel it was last run with (`conda-env-x-py`, a kernel installed
with `ipykernel install --name`); where that kernel is not installed, the report runs on the Python that
runs nianbao (`CURRENT_PYTHON`), with a note, unless `--kernel NAME` picks one. jupyter_client is imported only
when the kernel's folder is not found in Jupyter's data path: the batch's own process starts no kernel.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from .exceptions import InputError, NianbaoError

# The kernel name that means "ipykernel on the interpreter running nianbao", whatever kernelspecs exist.
CURRENT_PYTHON = "nianbao-current-python"
# What jupyter_client takes for a kernelspec's name (its `_kernel_name_pat`), in any case: it lowercases names.
KERNEL_NAME = re.compile(r"[a-z0-9._\-]+", re.IGNORECASE)


def installed_kernels() -> dict[str, str]:
    """Kernel name → its folder, for every kernelspec Jupyter finds here."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        return KernelSpecManager().find_kernel_specs()
    except OSError:
        return {}


def _has_folder(name: str) -> bool:
    """Whether a kernelspec folder of that name is in Jupyter's data path, as jupyter_client finds it (a name of
    letters, digits, `.`, `_` and `-`; a folder of that name in any case, holding `kernel.json`), without importing
    jupyter_client (0.1 s of every run of a process that starts no kernel itself)."""
    from jupyter_core.paths import jupyter_path

    if not KERNEL_NAME.fullmatch(name):
        return False
    for folder in jupyter_path("kernels"):
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        if any(e.lower() == name.lower() and os.path.isfile(os.path.join(folder, e, "kernel.json")) for e in entries):
            return True
    return False


def notebook_kernel(notebook: Path) -> str | None:
    """The kernel name the notebook's metadata names (`metadata.kernelspec.name`), if any.

    Read as plain JSON: nbformat (and the jsonschema it pulls in, ~0.1 s) is left to the processes that
    execute the notebook. Raises `InputError` naming the file when it is missing or unreadable, not UTF-8, not
    JSON, or not a notebook's object with `metadata.kernelspec` an object and its `name` a string."""
    import json

    def bad(problem: str) -> InputError:
        return InputError(f"报告笔记本无法读取：{problem}", file=notebook)

    try:
        nb = json.loads(notebook.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise bad("文件不存在") from None
    except OSError as exc:
        raise bad(exc.strerror or str(exc)) from None
    except UnicodeDecodeError as exc:
        raise bad(f"不是 UTF-8 编码（第 {exc.start + 1} 个字节）") from None
    except ValueError as exc:
        raise bad(f"不是 JSON 格式（{exc}）") from None
    meta = nb.get("metadata", {}) if isinstance(nb, dict) else None
    spec = meta.get("kernelspec", {}) if isinstance(meta, dict) else None
    if not isinstance(spec, dict):
        raise bad("不是 Jupyter 笔记本（应为含 metadata.kernelspec 对象的 JSON 对象）")
    name = spec.get("name")
    if name is not None and not isinstance(name, str):
        raise bad(f"metadata.kernelspec.name 应为文本，读到 {json.dumps(name, ensure_ascii=False)}")
    return name or None


def choose_kernel(notebook: Path, requested: str | None = None) -> tuple[str, str | None]:
    """The kernel to run `notebook` with, and a note for the user when it is not the notebook's own.

    `requested` (`--kernel NAME`) wins and must be installed (raises `NianbaoError` listing those that are);
    else the notebook's kernel when installed; else `CURRENT_PYTHON`.
    """
    if requested:
        if requested == CURRENT_PYTHON or _has_folder(requested):
            return requested, None
        kernels = installed_kernels()
        if requested.lower() not in kernels:
            names = ", ".join(sorted(kernels)) or "none"
            raise NianbaoError(f"--kernel {requested}: no Jupyter kernel of that name is installed "
                               f"(installed: {names}; `jupyter kernelspec list` shows them)")
        return requested, None
    named = notebook_kernel(notebook)
    if named is None or named == CURRENT_PYTHON or _has_folder(named) or named.lower() in installed_kernels():
        return named or CURRENT_PYTHON, None
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:  # a kernel provider may know names that are not folders
        KernelSpecManager().get_kernel_spec(named)
        return named, None
    except (NoSuchKernel, OSError):
        pass
    return CURRENT_PYTHON, (f"note: the notebook's kernel {named!r} is not installed here; running it with "
                            f"this environment's Python ({sys.executable}); --kernel NAME picks another")
