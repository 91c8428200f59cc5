"""Run the expectation suites on a set of reports, in one great-expectations pass, and return findings.

The frames are long: one row per data cell, per identity instance, per label, per office-year. So a
suite is a few dozen expectations whatever the number of reports, and the whole dataset is validated at
once (GX's cost is per expectation and per validation far more than per row). A few reports are checked
row by row in Python instead (`ROW_BY_ROW`): the same findings, without GX's import (about 3 s).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation, localcontext
from functools import cache
from typing import TYPE_CHECKING, Any

from .deferred import defer
from .exceptions import InputError, NianbaoError
from .expectations import (
    FRAME_COLUMNS,
    SEVERITIES,
    SUITES,
    build_suites,
    is_number,
    item_line,
    label_cell,
    load_suites,
)
from .findings import Cell, Finding, mark_suspects
from .formats import Kind, get_format
from .formats.rules import ProsePattern, Term, rule
from .project import Project
from .prose_figures import prose_contradictions
from .render.html import TABLE_NAMES
from .report import Report

if TYPE_CHECKING:
    import pandas as pd

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

# Each frame is built from rows (tuples in the order of its `FRAME_COLUMNS`), which the row-by-row check reads
# without pandas.


def cells_rows(reports: Sequence[Report]) -> list[tuple]:
    rows = []
    for r in reports:
        kinds = r.format.cell_kinds()
        for ref, value in r.values.items():
            table, row, column = ref.split(".")
            rows.append((r.office.id, r.year, r.format.id, table, row, column, kinds[ref].value, value,
                         r.sources.get(ref)))
    return rows


def frame_of(name: str, rows: list[tuple]) -> pd.DataFrame:
    """Suite `name`'s frame from its rows (`cells_rows`...): the cells' values stay text (object), the
    identities' residuals are floats (NaN where not assessable), the other columns as pandas reads them."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS[name]), dtype=object if name == "cells" else None)
    if name == "arithmetic":
        frame["value"] = frame["value"].astype("float64")
    return frame


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


# Sums of counts of any size are exact: Decimal's default context rounds to 28 digits (10**28 + 1 - 10**28 == 0).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def arithmetic_frame(reports: Sequence[Report], suite: dict) -> pd.DataFrame:
    return frame_of("arithmetic", arithmetic_rows(reports, suite))


_prepared: dict[tuple[str, int], tuple[Any, Any]] = {}


def _once(kind: str, source: Any, make: Any) -> Any:
    """`make(source)`, computed once per `source` object while it lives: suites are read once per process
    (`load_suites`), and a kernel verifies one report at a time with the same suite objects."""
    cached = _prepared.get((kind, id(source)))
    if cached is None or cached[0] is not source:
        if len(_prepared) > 512:
            _prepared.clear()
        cached = _prepared[(kind, id(source))] = (source, make(source))
    return cached[1]


def _decode(meta: dict) -> dict[str, list[tuple[dict, list[Term]]]]:
    """An identity's instances with their formulas decoded, per format."""
    return _once("terms", meta, lambda meta: {
        fmt: [(inst, [Term.decode(raw) for raw in inst["terms"]]) for inst in instances]
        for fmt, instances in meta["instances"].items()})


def arithmetic_rows(reports: Sequence[Report], suite: dict) -> list[tuple]:
    with localcontext(_EXACT):
        return _arithmetic_rows(reports, suite)


def _arithmetic_rows(reports: Sequence[Report], suite: dict) -> list[tuple]:
    rows = []
    for exp in suite["expectations"]:
        meta = exp["meta"]
        same_format = meta.get("same_format_prev", False)
        decoded = _decode(meta)
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
    return rows


def prose_rows(reports: Sequence[Report]) -> list[tuple]:
    rows = []
    for r in reports:
        h = r.format.headings
        row = {"office": r.office.id, "year": r.year, "format": r.format.id, "source": r.narrative.file,
               "headings": "\n".join(r.narrative.headings),
               "text": "\n".join([r.narrative.preamble, *(s.body for s in r.narrative.sections)])}
        row |= {f"sec{i + 1}": r.narrative.body(heading) for i, heading in enumerate(h)}
        row |= {f"reported_{t.key}": sum(r.values.get(f"{t.key}.{d.row}.{d.column}") is not None
                                         for d in t.data_cells()) for t in r.format.tables}
        rows.append(tuple(row.get(c) for c in FRAME_COLUMNS["prose"]))
    return rows


def labels_rows(reports: Sequence[Report], offices_file: str = "data/offices.csv") -> list[tuple]:
    rows = []
    for r in reports:
        for table in r.format.tables:
            for pos, label in table.labels():
                overridden = label.key is not None and label.key in r.office.labels
                position, text = f"{r.format.id}/{pos}", r.label(label, pos)
                source = r.narrative.file if r.printed and pos in r.printed else offices_file if overridden else None
                rows.append((r.office.id, r.year, r.format.id, position, text, label_cell(position, text), source))
    return rows


# -- great-expectations -------------------------------------------------------------------------------

# What great-expectations imports for expectations the suites do not use (`nianbao.deferred`).
DEFERRED = ("scipy.stats", "altair")


def import_gx() -> None:
    """Import great-expectations, without what `DEFERRED` names until something uses it."""
    if "great_expectations" not in sys.modules:
        defer(*DEFERRED)
    import great_expectations  # noqa: F401


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import_gx()
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
_probes = itertools.count()  # names of the one-expectation suites that find the expectation GX refuses


class SuiteError(NianbaoError):
    """An expectation great-expectations cannot run, drops, or fails without naming a row: `index` is its place
    in its suite's list when known."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def _gx_suite(name: str, suite: dict) -> Any:
    """A GX suite object for `suite`, registered once per distinct content. Raises `SuiteError` for an expectation
    GX refuses or would drop (it only logs an unknown type, and the suite would seem to pass)."""
    import great_expectations as gx

    digest = hashlib.sha256(json.dumps(suite, sort_keys=True).encode()).hexdigest()[:16]
    key = f"{name}-{digest}"
    if key not in _suites:
        # The identities' formulas (meta "instances") are for the frame builder; GX serialises an expectation's
        # configuration many times per run, so it gets the expectations without them.
        expectations = [{**e, "meta": {k: v for k, v in e["meta"].items() if k != "instances"}}
                        for e in suite["expectations"]]
        registered, _ = _registered(gx, key, expectations, suite.get("meta"))
        if registered is None:
            for i, e in enumerate(expectations):
                if (probe := _registered(gx, f"{key}-probe-{next(_probes)}", [e]))[0] is None:
                    raise SuiteError(f"great-expectations 不接受此校验规则：{probe[1]}", i)
            raise SuiteError("great-expectations 不接受此校验规则文件")
        _suites[key] = registered
    return _suites[key]


def _registered(gx: Any, name: str, expectations: list[dict], meta: dict | None = None) -> tuple[Any, str]:
    """A GX suite of `expectations` added to the context, or None and why: GX refuses an expectation, drops one (it
    only logs an unknown type: silenced here) or cannot store the suite (a NaN in a row condition)."""
    log = logging.getLogger("great_expectations")
    level, log.level = log.level, logging.CRITICAL + 1
    try:
        built = gx.ExpectationSuite(name=name, expectations=expectations, meta=meta)
        if len(built.expectations) != len(expectations):
            return None, "不认识的校验类型（type）"
        return _context().suites.add(built), ""
    except Exception as exc:  # GX's own checks of an expectation's arguments: pydantic, TypeError...
        return None, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    finally:
        log.setLevel(level)


def _labels(fmt_id: str, table: str | None, row: str | None, column: str | None) -> dict[str, str]:
    try:
        t = get_format(fmt_id).table(table) if table else None
    except (NianbaoError, KeyError):
        t = None
    row_label, col_label = t.labels_of(row, column) if t else (row or "", column or "")
    part = ""
    if not table and row and row.startswith("sec"):  # a prose part, `sec5`
        part = get_format(fmt_id).headings[int(row[3:]) - 1]
    return {"列": col_label, "行": row_label, "组": row_label, "表": TABLE_NAMES.get(table or "", table or ""),
            "部分": part}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _fill(message: str, labels: dict[str, str]) -> str:
    for name, text in labels.items():
        message = message.replace("{" + name + "}", text)
    return message


# Reports validated at once up to which a suite is first run for its verdict alone: GX's cost is per expectation
# far more than per row, and the complete result (every failing row's index) costs about as much again, so a
# few reports that pass, as after a fix, are validated in half the time; a suite that fails is run again for
# its complete result (the same findings).
VERDICT_FIRST = 20


def run_suite(name: str, suite: dict, frame: pd.DataFrame, verdict_first: bool = False) -> list[Finding]:
    """The findings of one suite on its frame (`name`: cells, arithmetic, prose or labels). `verdict_first`: run
    the suite for its success alone first, and for every failing row only when it fails."""
    if frame.empty or not suite["expectations"]:
        return []
    index = suite.get("meta", {}).get("index") or SUITES[name]
    batch = _batch_definition(name).get_batch(batch_parameters={"dataframe": frame})
    if verdict_first and batch.validate(_gx_suite(name, suite), result_format="BOOLEAN_ONLY").success:
        return []
    result = batch.validate(_gx_suite(name, suite), result_format={
        "result_format": "COMPLETE", "unexpected_index_column_names": index, "partial_unexpected_count": 0,
    })
    findings = []
    for res in result.results:
        config = res.expectation_config
        problem = _exception(res.exception_info)
        if problem is not None:
            raise SuiteError(f"great-expectations 运行此校验规则时出错：{problem}", _place(suite, config))
        if res.success:
            continue
        rows = res.result.get("unexpected_index_list")
        if not rows:  # an aggregate expectation (a mean, a row count): no finding could say where
            raise SuiteError("校验未通过，但没有指出哪一行：nianbao 只能使用逐行检查的校验类型", _place(suite, config))
        severity = getattr(config.severity, "value", config.severity) or "critical"
        findings += [_finding(name, config.meta, str(severity), dict(config.kwargs), raw) for raw in rows]
    return findings


def _place(suite: dict, config: Any) -> int | None:
    """The place in `suite`'s list of the expectation GX ran as `config` (the first of its type and rule)."""
    return next((i for i, e in enumerate(suite["expectations"])
                 if e["type"] == config.type and e["meta"].get("rule") == config.meta.get("rule")), None)


def _exception(info: dict | None) -> str | None:
    """The message of the exception an expectation raised, if it raised one. GX gives it flat
    (`raised_exception`, `exception_message`) or, for a metric that failed to compute, per metric."""
    if not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "?") if info["raised_exception"] else None
    return next((m for m in map(_exception, (v for v in info.values() if isinstance(v, dict))) if m), None)


def _finding(name: str, meta: dict, severity: str, kwargs: dict, raw: dict) -> Finding:
    """The finding of one failing row of suite `name`'s frame (`raw`: its index columns)."""
    hit = {k: (None if _missing(v) else v) for k, v in raw.items()}
    table, row, column = hit.get("table"), hit.get("row"), hit.get("column")
    if name == "labels":
        table = str(hit["position"]).split("/")[1]
        value: Any = hit.get("label")
    elif name == "prose":
        value = hit.get(kwargs.get("column")) if meta["rule"] == "SEC-HEADINGS" else None
        table = meta.get("table")
        if table is None and str(kwargs.get("column", "")).startswith("sec"):
            row = kwargs["column"]  # the part it is about: `sec5`
    else:
        value = hit.get("value")
    if isinstance(value, float):
        value = f"{value:g}"
    return Finding(
        office=str(hit["office"]), year=int(hit["year"]), rule=meta["rule"], severity=severity,
        table=table, row=row, column=column,
        message=_fill(meta["message"], _labels(str(hit["format"]), table, row, column)),
        value=None if value is None else str(value),
        source=hit.get("source") or None,
    )


# -- row by row ----------------------------------------------------------------------------------------

# What `_breaks` decides exactly as great-expectations does: each expectation type with the arguments it reads.
ROW_CHECKS = {
    "expect_column_values_to_not_be_null": frozenset(),
    "expect_column_values_to_match_regex": frozenset({"regex"}),
    "expect_column_values_to_be_in_set": frozenset({"value_set"}),
    "expect_column_values_to_be_between": frozenset({"min_value", "max_value"}),
}
# Reports up to which `validate` evaluates the suites row by row in Python rather than with great-expectations:
# importing GX alone takes about 3 s, the row-by-row check a few milliseconds a report. A batch after a small
# change, `nianbao validate` on one report and a notebook run on its own are this size; a first build is not.
ROW_BY_ROW = 20


class _NotRowCheckable(Exception):
    """A value a row-by-row check cannot decide as GX would (a `between` on a text): GX decides."""


def _condition_pairs(condition: dict | None) -> tuple[tuple[str, frozenset], ...] | None:
    """A GX row condition (as `expectations.where` writes it: one `IN` test, or an `and` of them) as
    (column, allowed values) pairs, all of which a selected row meets; None for any other form."""
    if condition is None:
        return ()
    if not isinstance(condition, dict):
        return None
    if condition.get("type") == "and" and set(condition) == {"type", "conditions"}:
        parts = [_condition_pairs(c) for c in condition["conditions"]]
        return None if any(p is None for p in parts) or not parts else tuple(pair for p in parts for pair in p)
    column = condition.get("column")
    if (set(condition) == {"type", "column", "operator", "parameter"} and condition["type"] == "comparison"
            and condition["operator"] == "IN" and isinstance(column, dict) and set(column) == {"name"}
            and isinstance(condition["parameter"], list) and all(_scalar(v) for v in condition["parameter"])):
        return ((column["name"], frozenset(condition["parameter"])),)
    return None


def _scalar(value: Any) -> bool:
    return isinstance(value, str) or is_number(value)


def _row_check(exp: dict) -> tuple[dict, tuple[tuple[str, frozenset], ...]] | None:
    """One expectation ready to check row by row (its value set a frozenset, its row condition as
    `_condition_pairs`), or None when GX alone can decide it: another type, another argument (`mostly`,
    `strict_min`...), another form of row condition."""
    kwargs = exp.get("kwargs")
    reads = ROW_CHECKS.get(exp.get("type"))
    if reads is None or not isinstance(kwargs, dict) or not isinstance(kwargs.get("column"), str):
        return None
    if set(kwargs) - reads - {"column", "row_condition"} or exp.get("severity", "critical") not in SEVERITIES:
        return None
    if "regex" in reads and not isinstance(kwargs.get("regex"), str):
        return None
    if "value_set" in reads:
        if not isinstance(kwargs.get("value_set"), list) or not all(_scalar(v) for v in kwargs["value_set"]):
            return None
        exp = {**exp, "kwargs": {**kwargs, "value_set": frozenset(kwargs["value_set"])}}
    if "min_value" in reads:
        bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
        if all(b is None for b in bounds) or not all(b is None or is_number(b) for b in bounds):
            return None
        if None not in bounds and bounds[0] > bounds[1]:  # GX raises
            return None
    conditions = _condition_pairs(kwargs.get("row_condition"))
    return None if conditions is None else (exp, conditions)


def _row_checks(suite: dict) -> list[tuple[dict, tuple[tuple[str, frozenset], ...]]] | None:
    """Every expectation of `suite` ready to check row by row (`_row_check`), or None when one is not."""
    checks = [_row_check(exp) for exp in suite["expectations"]]
    return None if any(c is None for c in checks) else checks  # type: ignore[return-value]


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _breaks(expectation: dict, row: dict) -> bool:
    """Whether one row breaks one expectation, as GX decides it on a pandas frame: a null (None, NaN) passes every
    check but not-null; a regex is searched in the value as text; `between` is inclusive at both ends.

    Raises `_NotRowCheckable` for a value GX would treat otherwise (a text checked as a number)."""
    kw = expectation["kwargs"]
    value = row[kw["column"]]
    kind = expectation["type"]
    if kind == "expect_column_values_to_not_be_null":
        return _missing(value)
    if _missing(value):
        return False
    if kind == "expect_column_values_to_match_regex":
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise _NotRowCheckable(kind)
        return not _regex(kw["regex"]).search(str(value))
    if kind == "expect_column_values_to_be_in_set":
        return value not in kw["value_set"]  # a frozenset: `_row_check` prepares it
    if kind == "expect_column_values_to_be_between":
        if not is_number(value):
            raise _NotRowCheckable(kind)
        low, high = kw.get("min_value"), kw.get("max_value")
        return (low is not None and value < low) or (high is not None and value > high)
    raise _NotRowCheckable(kind)


def _tables(reports: Sequence[Report], suites: dict[str, dict], offices_file: str) -> dict[str, list[tuple]]:
    """Each suite's rows (tuples in the order of its `FRAME_COLUMNS`): what GX gets as frames (`frame_of`), what the
    row-by-row check reads as dicts (`_rows`)."""
    return {"cells": cells_rows(reports), "arithmetic": arithmetic_rows(reports, suites["arithmetic"]),
            "prose": prose_rows(reports), "labels": labels_rows(reports, offices_file)}


def _rows(tables: dict[str, list[tuple]]) -> dict[str, list[dict]]:
    """Each suite's rows (`_tables`) as dicts, column → value."""
    return {name: [dict(zip(FRAME_COLUMNS[name], row, strict=True)) for row in rows] for name, rows in tables.items()}


def _row_findings(suites: dict[str, dict], rows: dict[str, list[dict]],
                  checks: dict[str, list[tuple[dict, tuple[tuple[str, frozenset], ...]]]]) -> list[Finding]:
    """The findings of `checks` (per suite, as `_row_check` prepares them) on each suite's `rows` (`_rows`)."""
    found = []
    for name, suite in suites.items():
        index = suite.get("meta", {}).get("index") or SUITES[name]
        for exp, conditions in checks[name]:
            severity = str(exp.get("severity") or "critical")
            if not {exp["kwargs"]["column"], *(c for c, _ in conditions)} <= set(FRAME_COLUMNS[name]):
                raise _NotRowCheckable(f"a column not in the {name} frame")  # GX raises
            # GX names a failing row by its index columns and the column checked
            keys = [*index, exp["kwargs"]["column"]]
            found += [_finding(name, exp["meta"], severity, exp["kwargs"], {k: row[k] for k in keys})
                      for row in rows[name] if all(row[c] in allowed for c, allowed in conditions)
                      and _breaks(exp, row)]
    return found


def verify(report: Report, project: Project) -> list[Finding]:
    """The critical findings of `report`, from the project's suites evaluated row by row on exactly the figures
    and prose that will be rendered: a cross-check, in milliseconds, of findings handed in from outside (a
    batch validated with great-expectations already; a papermill user may hand anything).

    Raises NianbaoError when a critical expectation is of a kind only GX can decide."""
    suites = load_suites(project.expectations)
    checks = {}
    for name, suite in suites.items():
        checks[name] = _once("critical", suite, lambda s: [_row_check(e) for e in s["expectations"]
                                                           if e.get("severity", "critical") == "critical"])
        if any(c is None for c in checks[name]):
            raise NianbaoError(f"cannot verify an expectation of suite {name} row by row")
    rows = _rows(_tables([report], suites, project.relative(project.offices_file)))
    try:
        return _row_findings(suites, rows, checks)
    except _NotRowCheckable as e:
        raise NianbaoError(f"cannot verify expectation type {e} row by row") from None


def validate(reports: Iterable[Report], project: Project | None, by_rows: bool | None = None) -> list[Finding]:
    """Findings of every rule on `reports` (cross-year rules use each report's previous year), sorted.

    The suites are the project's `expectations/`; without a project (auditing published reports), the ones
    nianbao generates from its rule definitions. They run in great-expectations, or, for up to `ROW_BY_ROW`
    reports (`by_rows` None) or when `by_rows` is true, row by row in Python when every expectation is of a kind
    that decides the same (`ROW_CHECKS`; the tests compare the two): the same findings, without importing GX.
    """
    reports = list(reports)
    if not reports:
        return []
    suites = load_suites(project.expectations) if project else build_suites()
    tables = _tables(reports, suites, project.relative(project.offices_file) if project else "offices")
    findings: list[Finding] | None = None
    if by_rows or (by_rows is None and len(reports) <= ROW_BY_ROW):
        checks = {name: _once("rows", suite, _row_checks) for name, suite in suites.items()}
        if all(c is not None for c in checks.values()):
            try:
                findings = _row_findings(suites, _rows(tables), checks)  # type: ignore[arg-type]
            except _NotRowCheckable:
                findings = None
    if findings is None:
        findings = []
        for name, suite in suites.items():
            try:
                findings += run_suite(name, suite, frame_of(name, tables[name]),
                                      verdict_first=len(reports) <= VERDICT_FIRST)
            except SuiteError as exc:
                if project is None:
                    raise
                path = project.expectations / f"{name}.json"
                at = exc.index
                rule = f"（{suite['expectations'][at]['meta']['rule']}）" if at is not None else ""
                raise InputError(f"第{at + 1}条校验规则{rule}：{exc}" if at is not None else str(exc),
                                 file=project.relative(path), line=item_line(path, at) if at is not None else None) \
                    from None
    findings = involve(findings, reports, suites["arithmetic"])
    findings += [f for r in reports for f in prose_contradictions(r)]
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


def heading_problem(found: Sequence[str], official: Sequence[str]) -> tuple[int, str]:
    """What is wrong with the part headings `found` (in the order written) against the format's `official` six:
    (the index in `found` of the first heading at fault, or of the one a missing heading belongs before, and
    the fault in Chinese). FORMAT.md §2: the six parts, in order, under their official headings."""
    for i, heading in enumerate(found):
        if heading in found[:i]:
            return i, f"“{heading}”出现了两次（第{i + 1}个标题）"
        if heading not in official:
            should = f"，此处应为“{official[i]}”" if i < len(official) and official[i] not in found else ""
            return i, f"第{i + 1}个标题“{heading}”不是规定的标题{should}"
    places = [official.index(h) for h in found]
    for i in range(1, len(places)):
        if places[i] < places[i - 1]:
            return i, f"“{found[i]}”应在“{found[i - 1]}”之前"
    missing = [h for h in official if h not in found]
    if not missing:
        return 0, "标题有误"
    first = official.index(missing[0])
    at = next((i for i, p in enumerate(places) if p > first), len(found))
    return at, "缺少" + "、".join(f"“{h}”" for h in missing)


def _locate_prose(f: Finding, report: Report) -> Finding:
    """A prose finding with the line it is about: the first forbidden text (and a snippet of it), or the
    heading of the part left empty."""
    narrative = report.narrative
    line = lambda n: f"{narrative.file}:{n}" if n else narrative.file  # noqa: E731 (published copies: no lines)
    if f.rule == "SEC-HEADINGS":
        at, problem = heading_problem(narrative.headings, report.format.headings)
        lines = [s.line for s in narrative.sections]
        # The rule's message stays FORMAT.md's; what is wrong follows the headings as written.
        return replace(f, value=f"{' / '.join(narrative.headings)}；{problem}",
                       source=line(lines[min(at, len(lines) - 1)] if lines else 0))
    if f.row and f.row.startswith("sec"):
        heading = report.format.headings[int(f.row[3:]) - 1]
        found = next((s for s in narrative.sections if s.heading == heading), None)
        return replace(f, row=None, source=line(found.line if found else 0))
    try:
        checks = rule(f.rule).checks
    except KeyError:  # a rule a project's own suite adds: no forbidden text to point at
        checks = ()
    forbid = next((c.forbid for c in checks if isinstance(c, ProsePattern) and c.forbid), None)
    if not forbid:
        return f
    parts = [(narrative.preamble, narrative.preamble_line), *((s.body, s.body_line) for s in narrative.sections)]
    for part, (text, first) in enumerate(parts):
        m = re.search(forbid, text)
        if m:
            # Quoted as the analyst typed it (placeholders, not the figures they were filled with).
            start, end = max(0, m.start() - 12), m.end() + 12
            snippet = narrative.as_typed(part, text, start, end).replace("\n", " ")
            return replace(f, value=snippet, source=line(first and first + text.count("\n", 0, m.start())))
    return f


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
        if r is not None and f.table is None and f.source == r.narrative.file:
            f = _locate_prose(f, r)
        elif r is not None and f.rule == "TABLE-BLANK":  # about the figures, not the prose
            files = {src.rsplit(":", 1)[0] for src in r.sources.values()}
            f = replace(f, source=files.pop() if len(files) == 1 else None)
        elif r is not None and f.table:
            formula = formulas.get((f.rule, r.format.id, f.table, f.row, f.column))
            if formula:
                f = replace(f, cells=involved_cells(formula[1], formula[0], r), value=None,
                            source=None)
            elif f.where in r.format.cell_kinds():
                f = replace(f, cells=(Cell(f.where, r.values.get(f.where), None, r.sources.get(f.where)),))
        out.append(f)
    return mark_suspects(out)


def _order(f: Finding) -> tuple:
    """Findings of a report, critical first, by rule and place; the rest of the key makes the order total, so
    that the same findings come out in the same order whatever order they were found in."""
    def text(value: str | None) -> tuple[bool, str]:  # a blank ("") and no value (None) are not the same finding
        return value is not None, value or ""

    cells = tuple((c.ref, text(c.value), text(c.expected), text(c.source)) for c in f.cells)
    return (f.office, f.year, f.severity != "critical", f.rule, f.table or "", f.row or "", f.column or "",
            f.message, text(f.value), text(f.source), cells, text(f.suspect))


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
