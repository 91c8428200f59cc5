"""Overviews made early: before the reports they show are rebuilt, on the local pool and on a Dask cluster alike.

The figures an overview shows come from the project's files, which a batch does not change; of the reports of its
year it shows only what `overview.report_status` gives (status, findings, page link), which a rebuilt report
usually keeps: it was published before and is published again with the same findings. So a batch may make an
overview from the manifest as it found it, while its workers would otherwise wait (for their first reports to be
validated, or for a kernel), and keep it when the reports of its year come out as it showed them; else the
overview is made again. One rule decides which overviews may start early (`may_start_early`), and one whether
an early overview stands for the one made after the reports (`same_reports`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .manifest import FAILED

T = TypeVar("T")


def may_start_early(statuses: Iterable[str | None]) -> bool:
    """Whether an overview may be made before the reports it shows are rebuilt, given their recorded statuses
    (None: not recorded): each of them must have been built before and not have failed. A report never built (a
    first build) has nothing to show yet, and one that failed is likely to come out otherwise."""
    return all(status not in (None, FAILED) for status in statuses)


def same_reports(before: Mapping[str, T], after: Mapping[str, T], shown: Callable[[T], Any]) -> bool:
    """Whether an overview made when the reports of its year were recorded as `before` ("office/year" → entry, in
    whatever form the caller keeps them) shows them as they are recorded in `after`: the same reports, each equal or
    with the same `shown(entry)` (`overview.report_status` of it; None when it cannot be read, never the same).

    Every entry a batch records replaces the one it found, once: a manifest saved between the two holds each report
    as in `before` or as in `after`, so whichever of them an early overview's kernel read, it showed the same."""
    if before.keys() != after.keys():
        return False
    return all(entry == before[key] or ((seen := shown(entry)) is not None and seen == shown(before[key]))
               for key, entry in after.items())
