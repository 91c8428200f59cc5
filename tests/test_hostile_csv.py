"""Hostile CSV files as hand editors leave them: a quote never closed (the message names the line where the
field began, not the end of the file), a quote in the middle of a field, a stray NUL byte in UTF-8 (named as
such, not as GBK); params files missing a key or indented with tabs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nianbao.data import csv_rows
from nianbao.exceptions import InputError

FIELDS = ("year", "table", "row", "column", "value")


def rows_of(tmp_path: Path, body: bytes) -> list:
    path = tmp_path / "x.csv"
    path.write_bytes(b"year,table,row,column,value\n" + body)
    return list(csv_rows(path, "data/figures/x.csv", FIELDS, exact=True, office="x"))


def error_of(tmp_path: Path, body: bytes) -> InputError:
    with pytest.raises(InputError) as info:
        rows_of(tmp_path, body)
    return info.value


def test_a_quote_never_closed_names_the_line_it_opened(tmp_path) -> None:
    body = b"2024,t3,new,natural,1\n2024,t3,new,business,\"12\n" + b"2024,t3,open,natural,0\n" * 50
    exc = error_of(tmp_path, body)
    assert exc.line == 3 and "引号未闭合" in exc.problem, exc
    assert str(exc).startswith("data/figures/x.csv:3，机关 x：")


def test_a_quote_inside_a_field_is_worded_in_chinese_with_its_line(tmp_path) -> None:
    exc = error_of(tmp_path, b"2024,t3,new,natural,1\n2024,t3,new,\"natural\"x,1\n")
    assert exc.line == 3 and "引号使用有误" in exc.problem and "两个（\"\"）" in exc.problem, exc


def test_a_field_quoted_over_two_lines_keeps_the_lines_after_it(tmp_path) -> None:
    rows = rows_of(tmp_path, b"2024,t3,new,natural,\"1\n2\"\n2024,t3,open,natural,0\n")
    assert [line for line, _, _ in rows] == [3, 4]


def test_a_nul_byte_in_utf8_is_named_as_such(tmp_path) -> None:
    exc = error_of(tmp_path, b"2024,t3,new,natural,1\n2024,t3,new,business\x00,2\n")
    assert exc.line == 3 and "空字符（NUL" in exc.problem and "GBK" not in exc.problem, exc


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_utf16_is_still_named_utf16(tmp_path, codec: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("year,table,row,column,value\n2024,t3,new,natural,1\n".encode(codec))
    with pytest.raises(InputError) as info:
        list(csv_rows(path, "data/figures/x.csv", FIELDS, exact=True))
    assert f"文件为 {codec.upper()} 编码" in info.value.problem


@pytest.mark.parametrize(("text", "expected"), [
    ("office: shili-0001 # 东湖镇\n", "字段 year：缺少参数 year：请加一行 year: 2024"),
    ("year: 2024\n", "字段 office：缺少参数 office：请加一行 office: 'shili-0001'"),
    ("\toffice: shili-0001\nyear: 2024\n", "params/shili-0001/2024.yaml:1，机关 shili-0001，年度 2024：YAML 格式有误："
                                           "YAML 不能用 Tab 键缩进或对齐，请改用空格"),
])
def test_params_missing_a_key_or_indented_with_tabs(tmp_path, text: str, expected: str) -> None:
    from nianbao.params import read_params
    from nianbao.project import Project

    project = Project(tmp_path)
    path = project.params_file("shili-0001", 2024)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_params(project, "shili-0001", 2024)
    assert expected in str(info.value), str(info.value)
