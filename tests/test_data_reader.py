"""data.py's reader of the project's hand-edited CSV files (`csv_rows`, `wrong_field_count`), which the registry,
the figures and `data/contacts.csv` share."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nianbao
from nianbao.data import csv_rows, wrong_field_count
from nianbao.exceptions import InputError

FIELDS = ("office", "year", "value")


def test_rows_come_with_their_editor_line_and_stripped_cells(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    # Excel's BOM, a formatted empty column after the header, a row of empty cells, a row one field short.
    path.write_text("\ufeffoffice, year ,value,\n a ,2024, 3 ,\n,,,\n\"b\nc\",2023,4\nd,2022\n", encoding="utf-8")
    rows = list(csv_rows(path, "data/x.csv", FIELDS, exact=True))
    assert rows == [(2, ["a", "2024", "3"], list(FIELDS)), (5, ["b\nc", "2023", "4"], list(FIELDS)),
                    (6, ["d", "2022"], list(FIELDS))]
    assert [wrong_field_count(cells, header) for _, cells, header in rows] == [
        None, None, "应有 3 个字段（office,year,value），实有 2 个；"
                    "没有内容的字段也须保留逗号（如最后一列 value 留空时，行尾应有一个“,”）"]


def test_the_header_is_checked_exactly_or_for_the_names_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("value,office,year,extra\n1,a,2024,z\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^data/x\.csv:1，机关 a：表头 .*有误：应为 'office,year,value'$"):
        list(csv_rows(path, "data/x.csv", FIELDS, exact=True, office="a"))
    assert list(csv_rows(path, "data/x.csv", FIELDS, exact=False)) == [
        (2, ["1", "a", "2024", "z"], ["value", "office", "year", "extra"])]
    path.write_text("office;year;value\n", encoding="utf-8")
    with pytest.raises(InputError, match="分隔符应为英文逗号"):
        list(csv_rows(path, "data/x.csv", FIELDS, exact=False))


@pytest.mark.parametrize("text, problem", [
    ("", "data/x.csv:1：空文件"),
    ("office,year,value\n\"a,2024,1\n", "data/x.csv"),
])
def test_an_unreadable_file_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        list(csv_rows(path, "data/x.csv", FIELDS, exact=True))
    assert str(raised.value).startswith(problem), raised.value
    with pytest.raises(InputError, match=r"^data/gone\.csv：文件不存在$"):
        list(csv_rows(tmp_path / "gone.csv", "data/gone.csv", FIELDS, exact=True))


def test_no_module_imports_data_py_private_names() -> None:
    """contacts.py read its CSV through data.py's private helpers; the public reader serves every module."""
    private = []
    for path in Path(nianbao.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("data") and node.level:
                private += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert not private, private
