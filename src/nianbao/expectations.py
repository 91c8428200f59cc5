"""great-expectations suites made from the rules of `formats.rules`, kept as JSON in `expectations/`.

Four suites, each run on one data frame that `nianbao.validate` builds:

| suite      | frame: one row per ...              | rules                                   |
|------------|-------------------------------------|-----------------------------------------|
| cells      | data cell of each office-year       | CELL-FILLED, T2-INT, T2-AMT(-DEC), T3-INT, T4-INT |
| arithmetic | instance of an identity             | T2-DELTA-FLOOR ... T4-GROUPSUM          |
| prose      | office-year                         | SEC-*, TABLE-BLANK, PLACEHOLDER-MALFORMED |
| labels     | label cell of each office-year      | LABEL-EXACT                             |

Every expectation carries its rule id, status tag and Chinese message in `meta`, and its severity in GX's
own `severity`. Identities carry their instances (the terms of each formula) in `meta`, so the suites
hold the whole rule; the JSON files are generated (`nianbao expectations`) and checked by the tests.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from .exceptions import InputError
from .filememo import FileMemo
from .formats import FORMATS, RULES, Format, Rule
from .formats.rules import CellPattern, Identity, LabelsExact, ProsePattern, TableFilled

SUITES: dict[str, list[str]] = {
    # suite name → the columns that identify a failing row (GX `unexpected_index_column_names`)
    "cells": ["office", "year", "format", "table", "row", "column", "source"],
    "arithmetic": ["office", "year", "format", "table", "row", "column", "source"],
    "prose": ["office", "year", "format", "source"],
    "labels": ["office", "year", "format", "position", "label", "source"],
}


def label_cell(position: str, label: str) -> str:
    """The labels frame's checked value: where a label stands ("F2019/t2/r0c0") and its text."""
    return f"{position}={label}"


def where(**columns: list[str]) -> dict:
    """A GX row condition (its JSON form): each column's value is one of the given values."""
    conditions = [{"type": "comparison", "column": {"name": name}, "operator": "IN", "parameter": values}
                  for name, values in columns.items()]
    return conditions[0] if len(conditions) == 1 else {"type": "and", "conditions": conditions}


def _expectation(rule: Rule, kind: str, kwargs: dict[str, Any], condition: dict | None, **meta: Any) -> dict:
    if condition:
        kwargs = {**kwargs, "row_condition": condition}
    return {
        "type": kind,
        "kwargs": kwargs,
        "severity": rule.severity.value,
        "meta": {"rule": rule.id, "status": rule.status, "soft": rule.soft, "message": rule.message, **meta},
    }


def _formats(rule: Rule) -> list[Format]:
    return [f for f in FORMATS if rule.applies_to(f)]


def build_suites() -> dict[str, dict]:
    """The four suites, as GX suite JSON, from the rule and format definitions."""
    suites: dict[str, list[dict]] = {name: [] for name in SUITES}
    for rule in RULES:
        versions = [f.id for f in _formats(rule)]
        for check in rule.checks:
            if isinstance(check, CellPattern):
                cond = where(format=versions, table=list(check.tables), kind=[k.value for k in check.kinds])
                if check.regex is None:
                    suites["cells"].append(_expectation(
                        rule, "expect_column_values_to_not_be_null", {"column": "value"}, cond))
                else:
                    suites["cells"].append(_expectation(
                        rule, "expect_column_values_to_match_regex", {"column": "value", "regex": check.regex}, cond))
            elif isinstance(check, Identity):
                bounds = {"min_value": 0, "max_value": 0 if check.relation == "==" else None}
                instances = {
                    f.id: [{"table": i.table, "row": i.row, "column": i.column, "terms": [t.encode() for t in i.terms]}
                           for i in check.instances(f)]
                    for f in _formats(rule)
                }
                suites["arithmetic"].append(_expectation(
                    rule, "expect_column_values_to_be_between", {"column": "value", **bounds},
                    where(rule=[rule.id]), relation=check.relation,
                    same_format_prev=check.same_format_prev, instances=instances))
            elif isinstance(check, TableFilled):
                suites["prose"].append(_expectation(
                    rule, "expect_column_values_to_be_between", {"column": f"reported_{check.table}", "min_value": 1},
                    where(format=versions), table=check.table))
            elif isinstance(check, ProsePattern):
                if check.pattern is None:
                    for f in _formats(rule):
                        official = {"column": check.field, "value_set": ["\n".join(f.headings)]}
                        suites["prose"].append(_expectation(
                            rule, "expect_column_values_to_be_in_set", official, where(format=[f.id])))
                else:
                    suites["prose"].append(_expectation(
                        rule, "expect_column_values_to_match_regex", {"column": check.field, "regex": check.pattern},
                        where(format=versions), **({"forbid": check.forbid} if check.forbid else {})))
            elif isinstance(check, LabelsExact):
                # One column "position=label" and a set: GX checks a pair of columns row by row (iterrows),
                # seconds for a thousand reports; a set membership is vectorised.
                accepted = [label_cell(f"{f.id}/{pos}", text) for f in _formats(rule) for t in f.tables
                            for pos, label in t.labels() for text in label.accepted]
                suites["labels"].append(_expectation(
                    rule, "expect_column_values_to_be_in_set", {"column": "cell", "value_set": accepted}, None))
    return {
        name: {"name": f"nianbao-{name}", "expectations": exps, "meta": {"frame": name, "index": SUITES[name]}}
        for name, exps in suites.items()
    }


def dump(suite: dict) -> str:
    return json.dumps(suite, ensure_ascii=False, indent=1) + "\n"


def write_suites(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, suite in build_suites().items():
        path = folder / f"{name}.json"
        path.write_text(dump(suite), encoding="utf-8")
        written.append(path)
    return written


def stale_suites(folder: Path) -> list[str]:
    """Names of the suites in `folder` that differ from what the definitions generate."""
    stale = []
    for name, suite in build_suites().items():
        path = folder / f"{name}.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != dump(suite):
            stale.append(name)
    return stale


_LOADED: FileMemo[dict[str, dict]] = FileMemo(1)  # a warm kernel verifies every report: one project's suites


def load_suites(folder: Path) -> dict[str, dict]:
    """The suites of a project, by frame name (shared: callers must not modify them). Read again only when a
    file changed (size, mtime). A missing or malformed file is an input error."""
    return _LOADED.get([folder / f"{name}.json" for name in SUITES], lambda: _read_suites(folder))


def _read_suites(folder: Path) -> dict[str, dict]:
    suites = {}
    for name in SUITES:
        path = folder / f"{name}.json"
        shown = Path(folder.name, path.name)  # as the project's files are named in messages: expectations/cells.json
        try:
            suite = json.loads(path.read_text(encoding="utf-8-sig"),  # as the CSV files: a BOM is no fault
                               object_pairs_hook=_no_repeated_keys)
        except UnicodeDecodeError:
            raise InputError("不是 UTF-8 编码的文件", file=shown) from None
        except FileNotFoundError:
            raise InputError("找不到校验规则文件（expectation suite），请运行 nianbao expectations 生成",
                             file=shown) from None
        except json.JSONDecodeError as exc:
            raise InputError(f"JSON 格式有误：{exc.msg}", file=shown, line=exc.lineno) from None
        except _RepeatedKey as exc:
            raise InputError(f"同一对象中键“{exc}”出现了两次（只有后一个会生效）", file=shown) from None
        if not isinstance(suite, dict) or not isinstance(suite.get("meta"), dict) \
                or suite["meta"].get("frame") != name:
            raise InputError(f"不是 nianbao 的“{name}”校验规则文件", file=shown)
        _check_expectations(name, suite, path, shown)
        suites[name] = suite
    return suites


# The columns of each suite's frame (`nianbao.validate` builds them): what an expectation may read.
FRAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "cells": ("office", "year", "format", "table", "row", "column", "kind", "value", "source"),
    "arithmetic": ("office", "year", "format", "rule", "table", "row", "column", "value", "source"),
    "prose": ("office", "year", "format", "source", "headings", "text", *(f"sec{i}" for i in range(1, 7)),
              *(f"reported_{t}" for t in ("t2", "t3", "t4"))),
    "labels": ("office", "year", "format", "position", "label", "cell", "source"),
}
# What an expectation of a suite may hold besides its type, arguments and meta (GX refuses anything else).
OPTIONAL_KEYS = frozenset({"severity", "id", "notes", "description"})
SEVERITIES = ("critical", "warning", "info")  # GX's


def _check_expectations(name: str, suite: dict, path: Path, shown: Path) -> None:
    """Raise `InputError` (file and line of the expectation, its rule) for an expectation of a suite edited by
    hand that validation cannot run, or that great-expectations would drop or fail on while the suite seemed to
    pass: what `validate` reads besides GX (type, column, rule id and Chinese message, each identity's
    instances, the frame's index) and what GX would otherwise only log (an unknown key or severity) or raise
    mid-run (a bad regex, bounds the wrong way round, a column the frame does not have)."""
    expectations = suite.get("expectations")
    if not isinstance(expectations, list):
        raise InputError("校验规则文件缺少 expectations 列表", file=shown)
    index = suite["meta"].get("index", SUITES[name])
    if not isinstance(index, list) or not {"office", "year", "format"} <= set(index) \
            or not set(index) <= set(FRAME_COLUMNS[name]):
        raise InputError(f"meta 中的 index 应为{name}数据表的列名列表，且包含 office、year、format", file=shown)
    for i, exp in enumerate(expectations):
        problem = _problem(name, exp)
        if problem:
            meta = exp.get("meta") if isinstance(exp, dict) else None
            rule = f"（{meta['rule']}）" if isinstance(meta, dict) and isinstance(meta.get("rule"), str) else ""
            raise InputError(f"第{i + 1}条校验规则{rule}：{problem}", file=shown, line=item_line(path, i))
    # The national format's rules gate every report: a project may add expectations, not change or drop these (a
    # severity lowered, `mostly`, a regex or row condition that lets everything through would open the gate).
    present = {_canonical(e) for e in expectations}
    for generated in _generated(name):
        if generated not in present:
            rule = json.loads(generated)["meta"]["rule"]
            at = next((i for i, e in enumerate(expectations) if e["meta"]["rule"] == rule), None)
            raise InputError(f"国家格式规定的校验规则 {rule} 被删除或改动：nianbao 生成的校验规则只可增加，不可修改"
                             "（运行 nianbao expectations 重新生成；自己的规则请另加一条）", file=shown,
                             line=None if at is None else item_line(path, at))


class _RepeatedKey(ValueError):
    pass


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict:
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(key)
        found[key] = value
    return found


def _canonical(expectation: Any) -> str:
    return json.dumps(expectation, ensure_ascii=False, sort_keys=True)


@cache
def _generated(name: str) -> tuple[str, ...]:
    """The expectations nianbao generates for suite `name`, as `_canonical` writes them (read back from JSON, as
    a suite file holds them)."""
    return tuple(_canonical(e) for e in json.loads(dump(build_suites()[name]))["expectations"])


def _problem(name: str, exp: Any) -> str | None:
    """What is wrong with one expectation of suite `name`, in Chinese, or None."""
    if not isinstance(exp, dict):
        return "不是一个对象"
    kwargs, meta = exp.get("kwargs"), exp.get("meta")
    if not isinstance(exp.get("type"), str):
        return "缺少校验类型（type）"
    if not isinstance(kwargs, dict) or not isinstance(kwargs.get("column"), str):
        return "缺少参数（kwargs）或参数中没有列名（column）"
    if not isinstance(meta, dict) or not isinstance(meta.get("rule"), str) or not isinstance(meta.get("message"), str) \
            or not meta["rule"].strip() or not meta["message"].strip():
        return "meta 中缺少规则编号（rule）或提示（message）"
    if name == "arithmetic" and not _instances_ok(meta):
        return "meta 中缺少勾稽关系的各项（instances）"
    if unknown := sorted(set(exp) - {"type", "kwargs", "meta"} - OPTIONAL_KEYS):
        return f"有不认识的键：{'、'.join(unknown)}"
    if wrong := [k for k in ("id", "description", "notes") if k in exp and not isinstance(exp[k], (str, type(None)))
                 and not (k == "notes" and isinstance(exp[k], list) and all(isinstance(n, str) for n in exp[k]))]:
        return f"“{wrong[0]}”应为文字"
    if exp.get("severity", "critical") not in SEVERITIES:
        return f"严重程度（severity）应为 {'、'.join(SEVERITIES)} 之一，而不是“{exp.get('severity')}”"
    columns = [kwargs["column"], *_condition_columns(kwargs.get("row_condition"))]
    if missing := [c for c in columns if c not in FRAME_COLUMNS[name]]:
        return f"所用的列“{missing[0]}”不在{name}数据表中（可用：{'、'.join(FRAME_COLUMNS[name])}）"
    if "regex" in kwargs:
        try:
            re.compile(kwargs["regex"])
        except (re.error, TypeError) as exc:
            return f"正则表达式（regex）有误：{exc}"
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if is_number(low) and is_number(high) and low > high:
        return f"下限（min_value {low}）大于上限（max_value {high}）"
    return None


def is_number(value: Any) -> bool:
    """Whether `value` is a number as an expectation's bound or a frame's value (not a bool, not NaN: GX refuses
    NaN as a bound and treats it as a null in a frame)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _condition_columns(condition: Any) -> list[str]:
    """The columns a row condition in JSON form reads (`where` writes them; a string condition: none found)."""
    if not isinstance(condition, dict):
        return []
    if isinstance(condition.get("conditions"), list):
        return [c for part in condition["conditions"] for c in _condition_columns(part)]
    column = condition.get("column")
    return [column["name"]] if isinstance(column, dict) and isinstance(column.get("name"), str) else []


def _instances_ok(meta: dict) -> bool:
    instances = meta.get("instances")
    return isinstance(instances, dict) and all(
        isinstance(group, list) and all(isinstance(inst, dict) and isinstance(inst.get("terms"), list)
                                        and {"table", "row", "column"} <= set(inst) for inst in group)
        for group in instances.values())


def item_line(path: Path, index: int) -> int | None:
    """The line where item `index` of the suite's `expectations` list starts (None when it cannot be found)."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    at = text.find("[", text.find('"expectations"'))
    try:
        for _ in range(index + 1):
            at = len(text) - len(text[at + 1:].lstrip(" \t\r\n,"))
            start = at
            _, at = decoder.raw_decode(text, at)
            at -= 1
    except ValueError:
        return None
    return text.count("\n", 0, start) + 1
