"""What a new year takes from last year's figures: 上年结转, the F2019 上一年项目数量, the F2021 现行有效件数.

The values come from the cross-year rules themselves (FORMAT.md §7: T3-XYEAR, T2-PROJ-XYEAR,
T2-VALID-XYEAR): each says `this year's cell = Σ last year's terms (+ this year's terms)`, so at the start
of a year, with nothing of this year reported yet, the cell is the sum of last year's terms. A rule that
does not apply across a format change (`same_format_prev`) carries nothing over.
"""

from __future__ import annotations

from collections.abc import Mapping

from .formats import Format, format_for
from .formats.rules import Identity, rule

CARRY_RULES = ("T3-XYEAR", "T2-PROJ-XYEAR", "T2-VALID-XYEAR")


def carry_overs(year: int, previous: Mapping[str, str | None] | None) -> dict[str, str]:
    """`table.row.column` → value (text, 件) of the cells of `year` that follow from last year's figures
    `previous` (`table.row.column` → text, None when blank). Cells whose terms are blank or not whole numbers
    are left out, as is everything when there is no previous year."""
    if not previous:
        return {}
    fmt: Format = format_for(year)
    same_format = format_for(year - 1).id == fmt.id
    carried: dict[str, str] = {}
    for rule_id in CARRY_RULES:
        r = rule(rule_id)
        if not r.applies_to(fmt):
            continue
        for check in r.checks:
            if not isinstance(check, Identity) or (check.same_format_prev and not same_format):
                continue
            for inst in check.instances(fmt):
                target, *terms = inst.terms
                total = 0
                for term in (t for t in terms if t.prev):
                    text = previous.get(term.ref)
                    if text is None or not text.lstrip("-").isdigit():
                        break
                    total -= term.coef * int(text)
                else:
                    carried.setdefault(target.ref, str(total))
    return carried
