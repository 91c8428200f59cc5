"""The papermill parameter files: `params/<office>/<year>.yaml`, one per report to produce."""

from __future__ import annotations

import os
import re
from contextlib import nullcontext
from typing import Any

import yaml

from .exceptions import InputError
from .project import YEAR, Project, check_office_id, check_year, first_year
from .textfile import read_text

KNOWN = {"office", "year"}
_KINDS = {"int": "整数", "float": "小数", "bool": "真假值", "date": "日期", "datetime": "日期时间", "list": "列表",
          "dict": "映射"}


def read_params(project: Project, office: str, year: int) -> dict[str, Any]:
    """The parameters of one report, checked: a mapping of `office` (text, the folder's name) and `year` (the file's
    name), nothing else. Raises `InputError` naming the file, line, office, year and field."""
    path = project.params_file(office, year)
    rel = project.relative(path)
    try:
        text = read_text(path, file=rel, office=office, year=year)
        params = yaml.safe_load(text)
    except FileNotFoundError:
        raise InputError(f"参数文件不存在：请新建，内容为 office: '{office}' 和 year: {year}（或运行 nianbao new）",
                         file=rel, office=office, year=year) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"YAML 格式有误：{yaml_problem(exc)}", file=rel,
                         line=mark.line + 1 if mark else None, office=office, year=year) from None
    if not isinstance(params, dict):
        raise InputError("参数文件应为“参数名: 值”的映射（office 和 year）", file=rel, office=office, year=year)
    lines = _LazyLines(text)
    for name in KNOWN:
        twice = [i for i, line in enumerate(text.splitlines(), start=1) if re.match(rf"{name}\s*:", line)]
        if len(twice) > 1:  # YAML keeps the last one silently
            raise InputError(f"参数 {name} 写了{len(twice)}次（第{'、'.join(map(str, twice))}行）：只保留一行",
                             file=rel, line=twice[1], office=office, year=year, field=name)
    unknown = sorted(map(str, set(params) - KNOWN))
    if unknown:
        raise InputError(f"未知参数 {', '.join(unknown)}；可用参数：{', '.join(sorted(KNOWN))}",
                         file=rel, line=lines.get(unknown[0]), office=office, year=year, field=unknown[0])
    where = {"file": rel, "office": office, "year": year}
    for name, value in (("office", f"'{office}'"), ("year", year)):
        if name not in params:
            raise InputError(f"缺少参数 {name}：请加一行 {name}: {value}", **where, field=name)
    if params.get("office") != office:
        value = params.get("office")
        if value is not None and not isinstance(value, str):  # YAML read `530111` as a number, `0123` as 83
            raise InputError(f"office 被 YAML 读成了{_KINDS.get(type(value).__name__, '非文字')} {value!r}：请加引号，"
                             f"写作 office: '{office}'", **where, line=lines.get("office"), field="office")
        raise InputError(f"office 为 {value!r}，但此文件属于机关 {office!r}", **where, line=lines.get("office"),
                         field="office")
    try:
        found = check_year(params.get("year"))
    except InputError as exc:
        raise InputError(exc.problem, **where, line=lines.get("year"), field="year") from None
    if found != year:
        raise InputError(f"year 为 {params.get('year')!r}，但此文件属于 {year} 年度", **where, line=lines.get("year"),
                         field="year")
    return params


# PyYAML's problems as an analyst can act on them (what PyYAML says is in English, and about its parser).
_YAML_PROBLEMS = (
    ("another document", "文件中有“---”分隔的第二部分：参数文件只能有一份 office 和 year"),
    ("mapping values are not allowed", "此处不应有冒号：每行一个“参数名: 值”，顶格书写；值中有冒号请加引号"),
    ("expected <block end>", "缩进不一致：每行一个“参数名: 值”，顶格书写"),
    ("end of stream", "引号或括号没有成对"),
    ("expected ','", "括号没有成对"),
    ("undefined alias", "以“*”开头的值在 YAML 中是别名：请给值加引号"),
    ("cannot start any token", "值以 YAML 保留的符号（如 @、`、%）开头：请给值加引号"),
)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong with a YAML text, in Chinese, for `exc` from PyYAML (its column when it gives one)."""
    problem = str(getattr(exc, "problem", None) or exc)
    mark = getattr(exc, "problem_mark", None)
    column = f"（第{mark.column + 1}列）" if mark else ""
    if isinstance(exc, yaml.constructor.ConstructorError):
        return f"不允许 YAML 标签（如 !!python），参数只能是文字和数字{column}"
    if "'\\t'" in problem:  # found character '\t' that cannot start any token
        return f"YAML 不能用 Tab 键缩进或对齐，请改用空格{column}"
    said = next((chinese for english, chinese in _YAML_PROBLEMS if english in problem), "不是有效的 YAML")
    return f"{said}{column}"


class _LazyLines:
    """Line numbers of the keys, parsed only when a message needs one (a good file is parsed once)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def get(self, key: str) -> int | None:
        return _key_lines(self.text).get(key)


def _key_lines(text: str) -> dict[str, int]:
    """The 1-based line of each top-level key of a YAML mapping (for messages)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}


def params_text(office: str, year: int) -> str:
    """The parameter file of one report, as `nianbao new` and `nianbao synth` write it. The office id is quoted
    when YAML would read it as something else than text (`530111`, `0123`, `no`), so that nianbao and stock
    `papermill -f` both read the id as written."""
    return yaml.safe_dump({"office": office, "year": year}, sort_keys=False, allow_unicode=True)


def list_reports(project: Project, offices: list[str] | None = None, years: list[int] | None = None,
                 problems: list[InputError] | None = None) -> list[tuple[str, int]]:
    """Every (office, year) that has a parameter file, optionally filtered, in a stable order.

    A folder or file whose name is not an office id or a year (`Guandu/`, `２０２２.yaml`, `1999.yaml`) raises
    `InputError`; given a `problems` list, it is appended there instead and the others are listed."""
    root = project.root / "params"
    found = []
    with os.scandir(root) if root.is_dir() else nullcontext(()) as entries:
        folders = sorted(e.name for e in entries if e.is_dir())
    for name in folders:
        if offices and name not in offices:
            continue
        folder = root / name
        try:
            check_office_id(name, file=project.relative(folder))
        except InputError as exc:
            if problems is None:
                raise
            problems.append(exc)
            continue
        with os.scandir(folder) as entries:
            stems = sorted(e.name[:-5] for e in entries if e.name.endswith(".yaml"))
        for stem in stems:
            if not (YEAR.fullmatch(stem) and int(stem) >= first_year()):  # the message is made only when needed
                try:
                    check_year(stem, file=project.relative(folder / f"{stem}.yaml"), office=name)
                except InputError as exc:
                    if problems is None:
                        raise
                    if not years:  # a bad name is no year of a --years selection
                        problems.append(exc)
                continue
            year = int(stem)
            if not years or year in years:
                found.append((name, year))
    return found
