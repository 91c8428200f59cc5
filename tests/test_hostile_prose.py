"""Hostile prose: placeholders as analysts mistype them. Full-width braces (a Chinese input method) and template
tags are malformed placeholders, a critical finding naming the line (they would be printed as typed); a name
that does not exist says which one it resembles; a placeholder of a blank cell says the cell is blank."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from nianbao.cli import main
from nianbao.project import Project
from nianbao.synth import synth

OFFICE, YEAR = "shili-0001", 2024


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Project:
    project = Project(tmp_path_factory.mktemp("prose") / "p")
    synth(project.root, 1, range(2023, 2025), 5, 0.0)
    return project


@pytest.fixture
def project(base, tmp_path) -> Project:
    shutil.copytree(base.root, tmp_path / "p")
    return Project(tmp_path / "p")


def with_line(project: Project, line: str) -> int:
    """Put `line` into the prose after its first heading; the line number it is on."""
    path = project.narrative_file(OFFICE, YEAR)
    lines = path.read_text(encoding="utf-8").split("\n")
    at = next(i for i, x in enumerate(lines) if x.startswith("# ")) + 1
    lines.insert(at, line)
    path.write_text("\n".join(lines), encoding="utf-8")
    return at + 1


def check(project: Project) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", OFFICE, str(YEAR), "--project", str(project.root)])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("text", ["全年新收申请｛｛ t3.new.total ｝｝件。", "全年新收申请｛｛t3.new.total｝｝件。",
                                  "{% if t3.new.total %}全年有申请{% endif %}。", "共{{ t3.new.total }件。"])
def test_malformed_placeholders_are_critical_naming_the_line(project, text: str) -> None:
    line = with_line(project, text)
    code, out = check(project)
    assert code == 1, out
    finding = next(x for x in out.splitlines() if "PLACEHOLDER-MALFORMED" in x)
    assert "[严重]" in finding and f"data/narrative/{OFFICE}/{YEAR}.md:{line}" in finding, finding


@pytest.mark.parametrize(("name", "near"), [("t3.new.totl", "t3.new.total"), ("T3.NEW.TOTAL", "t3.new.total"),
                                            ("ｔ３.new.total", "t3.new.total"), ("yaer", "year"),
                                            ("office.nmae", "office.name")])
def test_an_unknown_name_says_which_one_it_resembles(project, name: str, near: str) -> None:
    line = with_line(project, f"共{{{{ {name} }}}}件。")
    code, out = check(project)
    assert code == 2, out
    assert f"data/narrative/{OFFICE}/{YEAR}.md:{line}，机关 {OFFICE}，年度 {YEAR}" in out, out
    assert f"占位符 {{{{ {name} }}}} 的名称不存在（是否应为 {{{{ {near} }}}}？" in out, out


def test_an_unknown_name_like_no_other_lists_where_names_are(project) -> None:
    with_line(project, "{{ 新收申请数 }}")
    code, out = check(project)
    assert code == 2 and "的名称不存在（可用 year、office.name 等，表格单元格见 `nianbao cells 2024`）" in out, out


def test_a_placeholder_of_a_blank_cell_says_the_cell_is_blank(project) -> None:
    path = project.figures_file(OFFICE)
    text = path.read_text(encoding="utf-8")
    start = text.index(f"{YEAR},t3,new,natural,")
    end = text.index("\n", start)
    path.write_text(text[:start] + f"{YEAR},t3,new,natural," + text[end:], encoding="utf-8")
    with_line(project, "自然人申请{{ t3.new.natural }}件。")
    code, out = check(project)
    assert code == 2 and "占位符 {{ t3.new.natural }} 引用的单元格未填报（空白）" in out, out


@pytest.mark.parametrize(("heading", "why"), [
    ("## 一、总体情况", "以“##”开头"), ("＃ 一、总体情况", "以“＃”开头"), ("#一、总体情况", "“#”后缺少空格"),
    ("###二、主动公开政府信息情况", "以“###”开头")])
def test_a_part_heading_written_without_its_marker_names_the_line(project, heading: str, why: str) -> None:
    path = project.narrative_file(OFFICE, YEAR)
    lines = path.read_text(encoding="utf-8").split("\n")
    number = heading.lstrip("#＃ ")[0]
    at = next(i for i, x in enumerate(lines) if x.startswith(f"# {number}、"))
    lines[at] = heading
    path.write_text("\n".join(lines), encoding="utf-8")
    code, out = check(project)
    assert code == 2, out
    where = f"data/narrative/{OFFICE}/{YEAR}.md:{at + 1}，机关 {OFFICE}，年度 {YEAR}"
    assert f"{where}：“{heading}”像是部分标题，但{why}" in out, out
    assert "标题应写作“# " in out


def test_headings_without_any_marker_are_named(project) -> None:
    path = project.narrative_file(OFFICE, YEAR)
    text = path.read_text(encoding="utf-8")
    path.write_text("\n".join(x[2:] if x.startswith("# ") else x for x in text.split("\n")), encoding="utf-8")
    code, out = check(project)
    assert code == 2 and "像是部分标题，但没有“# ”" in out, out


@pytest.mark.parametrize("line", ["## 一、加强组织领导", "一、加强组织领导，压实工作责任。", "### 三、下一步工作计划"])
def test_numbered_sub_headings_and_items_inside_a_part_are_prose(project, line: str) -> None:
    with_line(project, line)
    code, out = check(project)
    assert code in (0, 1) and "像是部分标题" not in out, out
