"""Run the expectation suites on a set of reports, in one great-expectations pass, and return findings.

The frames are long: one row per data cell, per identity instance, per label, per office-year. So a
suite is a few dozen expectations whatever the number of reports, and the whole dataset is validated at
once (GX's cost is per expectation and per validation far more than per row).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import pandas as pd

from .exceptions import NianbaoError
from .expectations import SUITES, build_suites, label_cell, load_suites
from .findings import Cell, Finding, mark_suspects
from .formats import Kind, get_format
from .formats.rules import Term
from .project import Project
from .report import Report

_NUMBERS = {
    Kind.COUNT: re.compile(r"[0-9]+"),
    Kind.SIGNED: re.compile(r"-?[0-9]+"),
    Kind.AMOUNT: re.compile(r"[0-9]+(?:\.[0-9]+)?"),
}


def number(text: str | None, kind: Kind = Kind.AMOUNT) -> Decimal | None:
    """The value of a cell for arithmetic, or None when it is blank or not a number of its kind (then the
    rules that need it are not assessable, and the cell's own rule reports it)."""
    pattern = _NUMBERS[kind]
    if text is None or not pattern.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


# -- frames ------------------------------------------------------------------------------------------

def cells_frame(reports: Sequence[Report]) -> pd.DataFrame:
    rows = []
    for r in reports:
        kinds = r.format.cell_kinds()
        for ref, value in r.values.items():
            table, row, column = ref.split(".")
            rows.append((r.office.id, r.year, r.format.id, table, row, column, kinds[ref].value, value,
                         r.sources.get(ref)))
    return pd.DataFrame(rows, columns=["office", "year", "format", "table", "row", "column", "kind", "value",
                                       "source"], dtype=object)


def _term_value(term: Term, report: Report) -> Decimal | None:
    values, fmt = (report.previous, report.previous_format) if term.prev else (report.values, report.format)
    if values is None or fmt is None:
        return None
    kind = fmt.cell_kinds().get(term.ref)
    if kind is None:
        return None
    v = number(values.get(term.ref), kind)
    if v is None:
        return None
    return Decimal(v == 0) if term.is_zero else v


def arithmetic_frame(reports: Sequence[Report], suite: dict) -> pd.DataFrame:
    rows = []
    for exp in suite["expectations"]:
        meta = exp["meta"]
        same_format = meta.get("same_format_prev", False)
        # Decode each formula once, not once per report.
        decoded = {fmt: [(inst, [Term.decode(raw) for raw in inst["terms"]]) for inst in instances]
                   for fmt, instances in meta["instances"].items()}
        for r in reports:
            instances = decoded.get(r.format.id)
            if not instances:
                continue
            if same_format and r.previous_format is not None and r.previous_format.id != r.format.id:
                continue
            for inst, terms in instances:
                total: Decimal | None = Decimal(0)
                for term in terms:
                    v = _term_value(term, r)
                    if v is None:  # not assessable: blank cell, or no report last year
                        total = None
                        break
                    total += term.coef * v
                source = r.sources.get(terms[0].ref)
                rows.append((r.office.id, r.year, r.format.id, meta["rule"], inst["table"], inst["row"],
                             inst["column"], None if total is None else float(total),
                             source.rsplit(":", 1)[0] if source else None))
    frame = pd.DataFrame(rows, columns=["office", "year", "format", "rule", "table", "row", "column", "value",
                                        "source"])
    frame["value"] = frame["value"].astype("float64")
    return frame


def prose_frame(reports: Sequence[Report]) -> pd.DataFrame:
    rows = []
    for r in reports:
        h = r.format.headings
        rows.append({
            "office": r.office.id, "year": r.year, "format": r.format.id, "source": r.narrative.file,
            "headings": "\n".join(r.narrative.headings),
            "sec1": r.narrative.body(h[0]), "sec5": r.narrative.body(h[4]), "sec6": r.narrative.body(h[5]),
        })
    return pd.DataFrame(rows, columns=["office", "year", "format", "source", "headings", "sec1", "sec5", "sec6"])


def labels_frame(reports: Sequence[Report], offices_file: str = "data/offices.csv") -> pd.DataFrame:
    rows = []
    for r in reports:
        for table in r.format.tables:
            for pos, label in table.labels():
                overridden = label.key is not None and label.key in r.office.labels
                position, text = f"{r.format.id}/{pos}", r.label(label, pos)
                source = r.narrative.file if r.printed and pos in r.printed else offices_file if overridden else None
                rows.append((r.office.id, r.year, r.format.id, position, text, label_cell(position, text), source))
    return pd.DataFrame(rows, columns=["office", "year", "format", "position", "label", "cell", "source"])


# -- great-expectations -------------------------------------------------------------------------------

@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def _batch_definition(frame: str) -> Any:
    source = _context().data_sources.add_pandas(f"nianbao-{frame}")
    return source.add_dataframe_asset(frame).add_batch_definition_whole_dataframe(frame)


_suites: dict[str, Any] = {}


def _gx_suite(name: str, suite: dict) -> Any:
    """A GX suite object for `suite`, registered once per distinct content."""
    import great_expectations as gx

    digest = hashlib.sha256(json.dumps(suite, sort_keys=True).encode()).hexdigest()[:16]
    key = f"{name}-{digest}"
    if key not in _suites:
        # The identities' formulas (meta "instances") are for the frame builder; GX serialises an expectation's
        # configuration many times per run, so it gets the expectations without them.
        expectations = [{**e, "meta": {k: v for k, v in e["meta"].items() if k != "instances"}}
                        for e in suite["expectations"]]
        gx_suite = gx.ExpectationSuite(name=key, expectations=expectations, meta=suite.get("meta"))
        _suites[key] = _context().suites.add(gx_suite)
    return _suites[key]


def _labels(fmt_id: str, table: str | None, row: str | None, column: str | None) -> dict[str, str]:
    try:
        t = get_format(fmt_id).table(table) if table else None
    except (NianbaoError, KeyError):
        t = None
    row_label, col_label = t.labels_of(row, column) if t else (row or "", column or "")
    return {"列": col_label, "行": row_label, "组": row_label}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _fill(message: str, labels: dict[str, str]) -> str:
    for name, text in labels.items():
        message = message.replace("{" + name + "}", text)
    return message


def run_suite(name: str, suite: dict, frame: pd.DataFrame) -> list[Finding]:
    if frame.empty or not suite["expectations"]:
        return []
    index = suite.get("meta", {}).get("index") or SUITES[name]
    batch = _batch_definition(name).get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(_gx_suite(name, suite), result_format={
        "result_format": "COMPLETE", "unexpected_index_column_names": index, "partial_unexpected_count": 0,
    })
    findings = []
    for res in result.results:
        config = res.expectation_config
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise NianbaoError(f"expectation {config.type} ({config.meta.get('rule')}) of suite {name} failed to run: "
                               f"{res.exception_info.get('exception_message')}")
        if res.success:
            continue
        meta = config.meta
        severity = getattr(config.severity, "value", config.severity) or "critical"
        for raw in res.result.get("unexpected_index_list") or ():
            hit = {k: (None if _missing(v) else v) for k, v in raw.items()}
            table, row, column = hit.get("table"), hit.get("row"), hit.get("column")
            if name == "labels":
                table = str(hit["position"]).split("/")[1]
                value: Any = hit.get("label")
            elif name == "prose":
                value = hit.get(config.kwargs.get("column")) if meta["rule"] == "SEC-HEADINGS" else None
            else:
                value = hit.get("value")
            if isinstance(value, float):
                value = f"{value:g}"
            findings.append(Finding(
                office=str(hit["office"]), year=int(hit["year"]), rule=meta["rule"], severity=str(severity),
                table=table, row=row, column=column,
                message=_fill(meta["message"], _labels(str(hit["format"]), table, row, column)),
                value=None if value is None else str(value),
                source=hit.get("source") or None,
            ))
    return findings


def validate(reports: Iterable[Report], project: Project | None) -> list[Finding]:
    """Findings of every rule on `reports` (cross-year rules use each report's previous year).

    The suites are the project's `expectations/`; without a project (auditing published reports), the ones
    nianbao generates from its rule definitions.
    """
    reports = list(reports)
    if not reports:
        return []
    suites = load_suites(project.expectations) if project else build_suites()
    frames = {
        "cells": cells_frame(reports),
        "arithmetic": arithmetic_frame(reports, suites["arithmetic"]),
        "prose": prose_frame(reports),
        "labels": labels_frame(reports, project.relative(project.offices_file) if project else "offices"),
    }
    findings: list[Finding] = []
    for name, suite in suites.items():
        findings += run_suite(name, suite, frames[name])
    findings = involve(findings, reports, suites["arithmetic"])
    return sorted(set(findings), key=_order)


def _plain(v: Decimal) -> str:
    """A computed value as an analyst writes it: `4`, `7.489`, never `4.0000` or `4E+1`."""
    v = v.normalize()
    return f"{v:f}"


def involved_cells(terms: Sequence[Term], relation: str, report: Report) -> tuple[Cell, ...]:
    """The cells of one identity instance, each with its value, source and, for an equality, the value that
    would satisfy it were the other cells right (`value - residual / coef`)."""
    total: Decimal | None = Decimal(0)
    for term in terms:
        v = _term_value(term, report)
        total = None if v is None or total is None else total + term.coef * v
    cells = []
    for term in terms:
        values, sources = ((report.previous, report.previous_sources) if term.prev
                           else (report.values, report.sources))
        value = (values or {}).get(term.ref)
        expected = None
        if relation == "==" and total is not None and not term.is_zero and abs(term.coef) == 1:
            v = _term_value(term, report)
            mended = None if v is None else v - total / term.coef
            kind = (report.previous_format if term.prev else report.format).cell_kinds().get(term.ref)  # type: ignore[union-attr]
            if mended is not None and (mended >= 0 or kind is Kind.SIGNED):  # a count cannot mend by going negative
                expected = _plain(mended)
        ref = f"prev:{term.ref}" if term.prev else term.ref
        cells.append(Cell(ref, value, expected, (sources or {}).get(term.ref)))
    return tuple(dict.fromkeys(cells))  # a cell may stand in two terms (is_zero checks): once


def involve(findings: list[Finding], reports: Sequence[Report], suite: dict) -> list[Finding]:
    """Findings with the cells they involve: a cell rule's own cell, every cell of a broken identity; then the
    likely wrong cell where several identities share one (`findings.mark_suspects`)."""
    by_key = {(r.office.id, r.year): r for r in reports}
    formulas: dict[tuple[str, str, str | None, str | None, str | None], tuple[str, list[Term]]] = {}
    for exp in suite["expectations"]:
        meta = exp["meta"]
        for fmt, instances in meta["instances"].items():
            for inst in instances:
                formulas[(meta["rule"], fmt, inst["table"], inst["row"], inst["column"])] = (
                    meta.get("relation", "=="), [Term.decode(t) for t in inst["terms"]])
    out = []
    for f in findings:
        r = by_key.get((f.office, f.year))
        if r is not None and f.table:
            formula = formulas.get((f.rule, r.format.id, f.table, f.row, f.column))
            if formula:
                f = replace(f, cells=involved_cells(formula[1], formula[0], r), value=None,
                            source=None)
            elif f.where in r.format.cell_kinds():
                f = replace(f, cells=(Cell(f.where, r.values.get(f.where), None, r.sources.get(f.where)),))
        out.append(f)
    return mark_suspects(out)


def _order(f: Finding) -> tuple:
    return (f.office, f.year, f.severity != "critical", f.rule, f.table or "", f.row or "", f.column or "")


def not_assessable(reports: Sequence[Report]) -> list[tuple[str, int, str, str, str | None, str | None]]:
    """The identity instances that cannot be checked because a cell they need is not reported (blank, or not
    a number): (office, year, rule, table, row, column). They are neither passed nor failed."""
    suite = build_suites()["arithmetic"]
    cross_year = {e["meta"]["rule"] for e in suite["expectations"]
                  if any(Term.decode(t).prev for insts in e["meta"]["instances"].values() for i in insts
                         for t in i["terms"])}
    without_previous = {(r.office.id, r.year) for r in reports if r.previous is None}
    frame = arithmetic_frame(reports, suite)
    missing = frame[frame["value"].isna()]
    return [(o, int(y), r, t, None if _missing(row) else row, None if _missing(c) else c) for o, y, r, t, row, c in
            missing[["office", "year", "rule", "table", "row", "column"]].itertuples(index=False)
            if not (r in cross_year and (o, int(y)) in without_previous)]  # skipped, as the rules say
