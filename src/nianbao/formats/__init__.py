"""Format versions of the annual report, as data. `format_for(year)` picks the version of a report year.

Adding a version means adding a module that defines a `Format` and listing it in `FORMATS`.
"""

from __future__ import annotations

from ..exceptions import NianbaoError
from .f2019 import F2019
from .f2021 import F2021
from .model import Cell, Data, Format, Kind, Label, Role, Table
from .rules import RULES, Rule, Severity

FORMATS: tuple[Format, ...] = (F2019, F2021)


def format_for(year: int) -> Format:
    """The format version that governs reports of `year`."""
    for fmt in FORMATS:
        if fmt.covers(year):
            return fmt
    first = min(f.first_year for f in FORMATS)
    raise NianbaoError(f"no report format for year {year}: nianbao covers report years {first} and later")


def get_format(format_id: str) -> Format:
    for fmt in FORMATS:
        if fmt.id == format_id:
            return fmt
    raise NianbaoError(f"unknown format {format_id!r}; known: {', '.join(f.id for f in FORMATS)}")


__all__ = [
    "FORMATS", "RULES", "Cell", "Data", "Format", "Kind", "Label", "Role", "Rule", "Severity", "Table",
    "format_for", "get_format",
]
