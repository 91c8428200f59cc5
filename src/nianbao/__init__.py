"""nianbao (年报): annual government information disclosure reports, from data to a published page.

The public API: load a report, validate reports, render; and the pieces the report notebook calls.

The names are imported when first used (PEP 562): a command that does not need the notebook's pieces, such as a
batch that finds nothing changed, does not pay for importing them (the page renderer and its Markdown parser).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .exceptions import ExecutionFailed, GateFailed, InputError, NianbaoError

if TYPE_CHECKING:
    from .findings import Finding
    from .formats import FORMATS, RULES, format_for
    from .notebook import check_report, compare_years, gate, show_report
    from .project import Project
    from .report import Report, load_report

__version__ = "0.1.0"

__all__ = [
    "FORMATS", "RULES", "ExecutionFailed", "Finding", "GateFailed", "InputError", "NianbaoError", "Project",
    "Report", "__version__", "check_report", "compare_years", "format_for", "gate", "load_report", "show_report",
]

_MODULE_OF = {
    "Finding": "findings", "FORMATS": "formats", "RULES": "formats", "format_for": "formats",
    "check_report": "notebook", "compare_years": "notebook", "gate": "notebook", "show_report": "notebook",
    "Project": "project", "Report": "report", "load_report": "report",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
