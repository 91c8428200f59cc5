"""nianbao (年报): annual government information disclosure reports, from data to a published page.

The public API: load a report, validate reports, render; and the pieces the report notebook calls.
"""

from .exceptions import ExecutionFailed, GateFailed, InputError, NianbaoError
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
