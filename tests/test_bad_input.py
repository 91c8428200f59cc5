"""Bad input gets a clear message naming the file, office, year and field, and nothing is written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import files_under, set_figure

from nianbao.cli import main
from nianbao.exceptions import InputError
from nianbao.report import load_report


def run_cli(project, *args: str):
    result = CliRunner().invoke(main, [*args, "--project", str(project.root)])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def assert_refused(project, *args: str, expect: list[str]) -> None:
    before = files_under(project.outputs)
    code, out = run_cli(project, *args)
    assert code == 2, out
    for text in expect:
        assert text in out, out
    assert files_under(project.outputs) == before


def test_malformed_figures_header(project) -> None:
    path = project.figures_file("guandu-taihe")
    path.write_text("year;table;row;column;value\n" + path.read_text().split("\n", 1)[1], encoding="utf-8")
    assert_refused(project, "run", "guandu-taihe", "2020",
                   expect=["data/figures/guandu-taihe.csv:1", "表头", "分隔符应为英文逗号"])


def test_figures_row_with_missing_field(project) -> None:
    path = project.figures_file("guandu-taihe")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[5] = "2020,t2,rules"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_refused(project, "run", "guandu-taihe", "2020",
                   expect=["guandu-taihe.csv:6", "应有 5 个字段", "实有 3 个", "年度 2020"])


def test_unknown_cell_names_the_field(project) -> None:
    path = project.figures_file("guandu-taihe")
    path.write_text(path.read_text(encoding="utf-8") + "2020,t3,new,aliens,0\n", encoding="utf-8")
    assert_refused(project, "run", "guandu-taihe", "2020",
                   expect=["guandu-taihe.csv:", "机关 guandu-taihe", "年度 2020", "字段 t3.new.aliens"])


def test_duplicate_cell(project) -> None:
    path = project.figures_file("guandu-taihe")
    path.write_text(path.read_text(encoding="utf-8") + "2020,t2,rules,made,1\n", encoding="utf-8")
    assert_refused(project, "run", "guandu-taihe", "2020", expect=["重复填写", "字段 t2.rules.made"])


def test_malformed_params_yaml(project) -> None:
    project.params_file("guandu-taihe", 2020).write_text("office: [guandu-taihe\nyear: 2020\n", encoding="utf-8")
    assert_refused(project, "run", "guandu-taihe", "2020",
                   expect=["params/guandu-taihe/2020.yaml:2", "YAML 格式有误", "年度 2020"])


def test_params_naming_another_office(project) -> None:
    project.params_file("guandu-taihe", 2020).write_text("office: example-shifan\nyear: 2020\n", encoding="utf-8")
    assert_refused(project, "run", "guandu-taihe", "2020", expect=["params/guandu-taihe/2020.yaml:1", "字段 office"])


def test_unknown_office(project) -> None:
    assert_refused(project, "run", "nowhere", "2020", expect=["nowhere"])
    with pytest.raises(InputError, match="未登记的机关 'nowhere'"):
        load_report("nowhere", 2020, project)


@pytest.mark.parametrize("office", ["../guandu-taihe", "a/b", "..", "Guandu", "太和"])
def test_office_id_must_be_a_slug(project, office: str) -> None:
    assert_refused(project, "run", office, "2020", expect=["无效的机关标识"])
    assert_refused(project, "check", office, expect=["无效的机关标识"])


def test_malformed_offices_csv(project) -> None:
    project.offices_file.write_text('id,name\n"guandu-taihe,太和\n', encoding="utf-8")
    assert_refused(project, "check", "guandu-taihe", expect=["data/offices.csv"])


@pytest.mark.parametrize("kind", ["folder", "dangling link"])
@pytest.mark.parametrize("command", [["check"], ["batch"], ["run", "guandu-taihe", "2020"]])
def test_an_offices_csv_that_is_no_file_is_named_not_taken_for_no_project(project, kind: str,
                                                                           command: list[str]) -> None:
    """The project is found by its data/offices.csv, whatever is there: what is wrong with it is said when it is
    read, rather than "no nianbao project" sending the analyst to look for another folder."""
    project.offices_file.unlink()
    if kind == "folder":
        project.offices_file.mkdir()
    else:
        project.offices_file.symlink_to(project.root / "gone.csv")
    code, out = run_cli(project, *command)
    assert code == 2 and "offices.csv" in out and "no nianbao project" not in out, out



@pytest.mark.parametrize("which", ["figures", "narrative", "params"])
def test_an_input_that_is_a_folder_fails_its_reports_only_and_says_so_in_chinese(project, which: str) -> None:
    """A folder (or a loop of links) where an office's file should be: its reports fail naming the file, the other
    offices' are built; the message is the analyst's, not the operating system's "Is a directory"."""
    path = {"figures": project.figures_file("example-shifan"),
            "narrative": project.narrative_file("example-shifan", 2021),
            "params": project.root / "params" / "example-shifan" / "2021.yaml"}[which]
    path.unlink()
    path.mkdir()
    code, out = run_cli(project, "batch")
    assert code == 2, out
    rel = project.relative(path)
    failed = [line for line in out.splitlines() if line.startswith("failed:")]
    assert failed and all("example-shifan" in line and rel in line and "这里是一个文件夹" in line for line in failed)
    assert "Is a directory" not in out
    assert (project.outputs / "guandu-taihe" / "2020.html").is_file()

def test_script_in_prose(project) -> None:
    path = project.narrative_file("guandu-taihe", 2020)
    text = path.read_text(encoding="utf-8").replace("无。", "无。\n\n<script>alert(1)</script>")
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("<script>alert(1)</script>") + 1
    assert_refused(project, "run", "guandu-taihe", "2020",
                   expect=[f"data/narrative/guandu-taihe/2020.md:{line}", "HTML 标签", "字段 六、其他需要报告的事项"])


def test_unknown_placeholder(project) -> None:
    path = project.narrative_file("guandu-taihe", 2020)
    path.write_text(path.read_text(encoding="utf-8").replace("无。", "共{{ t3.new.everyone }}件。"),
                    encoding="utf-8")
    assert_refused(project, "run", "guandu-taihe", "2020", expect=["{{ t3.new.everyone }}", "2020.md:"])


@pytest.mark.parametrize(("ref", "value", "rule"), [
    ("t3.new.natural", "-2", "T3-INT"), ("t4.review.total", "three", "T4-INT"), ("t2.rules.made", "1.5", "T2-INT"),
])
def test_bad_counts_are_critical_findings(project, ref: str, value: str, rule: str) -> None:
    """A negative or non-numeric count is caught by its rule: `check` names the place and exits 1."""
    set_figure(project, "guandu-taihe", 2020, ref, value)
    code, out = run_cli(project, "check", "guandu-taihe", "2020")
    assert code == 1, out
    critical = [line for line in out.splitlines() if "[严重]" in line]
    assert len(critical) == 1, out  # the sums that need the cell are not assessable, not failed
    line = critical[0]
    assert rule in line and f"填报{value}（data/figures/guandu-taihe.csv:" in line
    assert "data/figures/guandu-taihe.csv:" in line
