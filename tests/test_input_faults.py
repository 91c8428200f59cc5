"""Bad input, by kind (issue 11): one bad input fails only what it belongs to; messages say where (file and
line, office, year, field, in Chinese), whatever the encoding; values mean what was written (years of ASCII
digits, office ids as text, counts of any size exact). The property tests generate malformed figures files,
registries, prose and params and assert the contract: a clear error naming the place, exit 2, no traceback,
nothing written, earlier outputs untouched.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import files_under, index_text
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nianbao.cli import main
from nianbao.data import read_figures, read_registry
from nianbao.exceptions import InputError
from nianbao.params import list_reports, params_text, read_params
from nianbao.project import OFFICE_ID, Project, check_year
from nianbao.report import iter_reports, load_report
from nianbao.synth import synth
from nianbao.textfile import decode

A, B = "shili-0001", "shili-0002"  # office A gets the bad input; office B must not notice
YEAR = 2021
FIGURES = f"data/figures/{A}.csv"
PROSE = f"data/narrative/{A}/{YEAR}.md"
PARAMS = f"params/{A}/{YEAR}.yaml"
REGISTRY = "data/offices.csv"
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template") / "p"
    synth(root, 2, range(2020, 2022), seed=3)
    return root


@pytest.fixture
def proj(template: Path, tmp_path: Path) -> Project:
    """Two offices × 2020–2021, with earlier outputs (stand-ins for published pages) that must stay untouched."""
    root = tmp_path / "p"
    shutil.copytree(template, root)
    for office in (A, B):
        for name in (f"{YEAR}.html", f"{YEAR}.ipynb"):
            path = root / "outputs" / office / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"earlier {office} {name}\n", encoding="utf-8")
    return Project(root)


def cli(project: Project, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [args[0], "--project", str(project.root), *args[1:]])
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in out and not isinstance(result.exception, (ValueError, TypeError, KeyError)), out
    return result.exit_code, out


def refused(project: Project, *args: str, expect: list[str]) -> str:
    """The command exits 2 with one `error:` line holding every text of `expect`, and writes nothing."""
    before = files_under(project.outputs)
    code, out = cli(project, *args)
    assert code == 2, out
    assert any(line.startswith("error:") and all(t in line for t in expect) for line in out.split("\n")), out
    assert files_under(project.outputs) == before
    return out


def loaded(project: Project) -> dict[tuple[str, int], object]:
    """What the batch and `check` load for every report with a params file: a Report or the InputError."""
    problems: list[InputError] = []
    pairs = list_reports(project, problems=problems)
    found = {(o, y): r for o, y, r in iter_reports(project, pairs)}
    for p in problems:
        found[("problem", len(found))] = p
    return found


def rewrite(project: Project, rel: str, edit) -> None:
    path = project.root / rel
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")


def append_line(project: Project, rel: str, line: str) -> int:
    """Append a line; return its line number."""
    path = project.root / rel
    text = path.read_text(encoding="utf-8")
    path.write_text(text + line + "\n", encoding="utf-8")
    return text.count("\n") + 1


# -- kind 1: one bad input fails only what it belongs to ----------------------------------------------

def _registry_row(project: Project, office: str) -> str:
    return next(line for line in (project.root / REGISTRY).read_text(encoding="utf-8").splitlines()
                if line.startswith(office + ","))


FAULTS = {
    # name: (edit the project, texts the error of A's reports holds, years of A that fail)
    "figures row of 1999": (lambda p: append_line(p, FIGURES, "1999,t3,new,natural,0"),
                            [FIGURES + ":", "年份 1999", "字段 year"], (2020, 2021)),
    "figures row of ²⁰²¹": (lambda p: append_line(p, FIGURES, "²⁰²¹,t3,new,natural,0"),
                            [FIGURES + ":", "四位半角数字"], (2020, 2021)),
    "figures row of ２０２１": (lambda p: append_line(p, FIGURES, "２０２１,t3,new,natural,0"),
                              [FIGURES + ":", "四位半角数字"], (2020, 2021)),
    "figures row with 4 fields": (lambda p: append_line(p, FIGURES, "2021,t3,new,natural"),
                                  [FIGURES + ":", "年度 2021", "字段 t3.new.natural", "应有 5 个字段"], (2020, 2021)),
    "figures row with 6 fields": (lambda p: append_line(p, FIGURES, "2021,t3,new,natural,1,1"),
                                  [FIGURES + ":", "实有 6 个"], (2020, 2021)),
    "unknown cell": (lambda p: append_line(p, FIGURES, "2021,t3,new,aliens,0"),
                     [FIGURES + ":", "字段 t3.new.aliens", "F2021"], (2020, 2021)),
    "duplicate cell": (lambda p: append_line(p, FIGURES, "2020,t3,new,natural,0"),
                       [FIGURES + ":", "重复填写", "年度 2020"], (2020, 2021)),
    "figures header with ;": (lambda p: rewrite(p, FIGURES, lambda t: t.replace(",", ";", 4)),
                              [FIGURES + ":1", "分隔符"], (2020, 2021)),
    "figures in GBK": (lambda p: (p.root / FIGURES).write_bytes(
        (p.root / FIGURES).read_text(encoding="utf-8").replace(",0\n", ",0件\n", 1).encode("gbk")),
        [FIGURES + ":", "GBK", "CSV UTF-8"], (2020, 2021)),
    "figures file missing": (lambda p: (p.root / FIGURES).unlink(), [FIGURES, "不存在"], (2020, 2021)),
    "params in GBK": (lambda p: (p.root / PARAMS).write_bytes(f"office: {A} # 中文\nyear: {YEAR}\n".encode("gbk")),
                      [PARAMS + ":1", "GBK", "UTF-8"], (2021,)),
    "params malformed": (lambda p: (p.root / PARAMS).write_text("office: [x\nyear: 2021\n", encoding="utf-8"),
                         [PARAMS + ":", "YAML"], (2021,)),
    "params of another office": (lambda p: (p.root / PARAMS).write_text(f"office: {B}\nyear: {YEAR}\n"),
                                 [PARAMS + ":1", "字段 office"], (2021,)),
    "params year 2020a": (lambda p: (p.root / PARAMS).write_text(f"office: {A}\nyear: 2020a\n"),
                          [PARAMS + ":2", "字段 year", "2020a"], (2021,)),
    "params unknown key": (lambda p: (p.root / PARAMS).write_text(f"office: {A}\nyear: {YEAR}\nfoo: 1\n"),
                           [PARAMS + ":3", "字段 foo"], (2021,)),
    "params python tag": (lambda p: (p.root / PARAMS).write_text('!!python/object/apply:os.system ["true"]\n'),
                          [PARAMS + ":1", "YAML"], (2021,)),
    "params empty": (lambda p: (p.root / PARAMS).write_text(""), [PARAMS, "映射"], (2021,)),
    "prose in UTF-16": (lambda p: (p.root / PROSE).write_bytes((p.root / PROSE).read_text().encode("utf-16")),
                        [PROSE, "UTF-16", "UTF-8"], (2021,)),
    "prose missing": (lambda p: (p.root / PROSE).unlink(), [PROSE, "不存在"], (2021,)),
    "registry row twice": (lambda p: append_line(p, REGISTRY, _registry_row(p, A)),
                           [REGISTRY + ":", "重复登记", "字段 id"], (2020, 2021)),
    "registry row without name": (lambda p: rewrite(p, REGISTRY, lambda t: t.replace(
        _registry_row(p, A), A + ",," + ",".join(_registry_row(p, A).split(",")[2:]))),
        [REGISTRY + ":", "机关 " + A], (2020, 2021)),
    "registry row short": (lambda p: rewrite(p, REGISTRY, lambda t: t.replace(_registry_row(p, A), A + ",某办")),
                           [REGISTRY + ":", "应有"], (2020, 2021)),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_one_bad_input_fails_only_its_reports(proj: Project, fault: str) -> None:
    """The loader the batch and `check` share: A's affected reports come as the error naming the place; every
    other report loads."""
    edit, expect, years = FAULTS[fault]
    edit(proj)
    found = loaded(proj)
    for (office, year), result in found.items():
        bad = office == A and year in years
        assert isinstance(result, InputError) == bad, (office, year, result)
        if bad:
            message = str(result)
            assert all(t in message for t in expect), message
            assert f"机关 {A}" in message and str(proj.root) not in message


@pytest.mark.parametrize("fault", ["params in GBK", "figures row of 1999", "registry row twice", "params python tag"])
def test_check_reads_what_the_batch_reads(proj: Project, fault: str) -> None:
    edit, expect, _ = FAULTS[fault]
    edit(proj)
    out = refused(proj, "check", expect=expect)
    assert "输入错误" in out
    assert f"机关 {B}" not in out


def test_every_faulty_row_of_a_figures_file_is_listed_by_check(proj: Project) -> None:
    lines = [append_line(proj, FIGURES, row) for row in ("1999,t3,new,natural,0", "2021,t3,new,aliens,0",
                                                         "2021,t3,new", "2020,t3,new,natural,0")]
    with pytest.raises(InputError, match="另有 3 处问题") as raised:
        read_figures(proj, A)
    assert str(raised.value).startswith(f"{FIGURES}:{lines[0]}，")
    out = refused(proj, "check", expect=[f"{FIGURES}:{lines[0]}，"])
    for line in lines:
        assert f"error: {FIGURES}:{line}，机关 {A}" in out
    assert "输入错误4项" in out
    refused(proj, "run", A, str(YEAR), expect=[f"{FIGURES}:{lines[0]}，", "另有 3 处问题"])


@pytest.mark.parametrize("name", ["1999.yaml", "２０２２.yaml", "²⁰²¹.yaml", "20x1.yaml"])
def test_params_file_named_no_year_is_reported_and_the_rest_loads(proj: Project, name: str) -> None:
    (proj.root / "params" / A / name).write_text(f"office: {A}\nyear: 2022\n", encoding="utf-8")
    found = loaded(proj)
    problems = [r for k, r in found.items() if k[0] == "problem"]
    assert len(problems) == 1 and f"params/{A}/{name}" in str(problems[0]) and "字段 year" in str(problems[0])
    assert all(not isinstance(r, InputError) for k, r in found.items() if k[0] != "problem")
    refused(proj, "check", expect=[f"params/{A}/{name}"])


@pytest.mark.parametrize("folder", ["Shili-0003", "太和", "a b", "-x"])
def test_params_folder_named_no_office_is_reported_and_the_rest_loads(proj: Project, folder: str) -> None:
    (proj.root / "params" / folder).mkdir()
    (proj.root / "params" / folder / "2021.yaml").write_text(f"office: {folder}\nyear: 2021\n", encoding="utf-8")
    found = loaded(proj)
    problems = [r for k, r in found.items() if k[0] == "problem"]
    assert len(problems) == 1 and f"params/{folder}" in str(problems[0]) and "无效的机关标识" in str(problems[0])
    assert sum(not isinstance(r, InputError) for r in found.values()) == 4


def test_registry_row_with_a_bad_id_is_reported_and_the_rest_loads(proj: Project) -> None:
    line = append_line(proj, REGISTRY, "Bad Id,某办事处,,,,,")
    registry = read_registry(proj)
    assert {A, B} <= set(registry.offices)
    assert [f"{REGISTRY}:{line}" in str(e) for e in registry.unplaced] == [True]
    refused(proj, "check", expect=[f"{REGISTRY}:{line}", "无效的机关标识"])


@pytest.mark.parametrize("column", ["label.t9.x.y", "label.t3.new.total", "label.", "label.T2.procurement.amount"])
def test_a_label_column_of_no_configurable_label_is_reported_and_the_rest_checks(proj: Project, column: str) -> None:
    """A mistyped `label.*` column would leave every office's own wording unused without a word."""
    def add_column(text: str) -> str:
        lines = text.split("\n")
        return "\n".join([f"{lines[0]},{column}", *(f"{line},采购金额" for line in lines[1:] if line), ""])

    rewrite(proj, REGISTRY, add_column)
    registry = read_registry(proj)
    assert {A, B} <= set(registry.offices) and all(not o.labels for o in registry.offices.values())
    (problem,) = registry.unplaced
    assert problem.file == REGISTRY and problem.field == column and "label.t2.procurement.amount" in str(problem)
    out = refused(proj, "check", expect=[REGISTRY, f"字段 {column}", "没有这个可配置的表头"])
    assert "已校验" in out  # every report was still checked


def test_the_label_columns_of_configurable_labels_are_accepted(proj: Project) -> None:
    from nianbao.data import label_keys

    assert label_keys() == {"t2.procurement.amount"}  # FORMAT.md: 表二's 采购总金额 may be worded by the office
    assert "label.t2.procurement.amount" in (proj.root / REGISTRY).read_text(encoding="utf-8").split("\n")[0]
    assert read_registry(proj).unplaced == []


@pytest.mark.parametrize(("edit", "expect"), [
    (lambda t: t.replace("id,", "code,", 1), [f"{REGISTRY}:1", "缺少 id"]),
    (lambda t: t.replace(",name", ",title", 1), [f"{REGISTRY}:1", "缺少 name"]),
    (lambda t: "", [f"{REGISTRY}:1", "空文件"]),
    (lambda t: '"' + t, [f"{REGISTRY}:1", "引号未闭合"]),  # a quote opened in the header, never closed
    (lambda t: t.replace("name", '"na"me', 1), [f"{REGISTRY}:1", "引号使用有误"]),  # text after a closing quote
])
def test_an_unreadable_registry_stops_everything_with_exit_2(proj: Project, edit, expect: list[str]) -> None:
    rewrite(proj, REGISTRY, edit)
    refused(proj, "check", expect=expect)
    refused(proj, "batch", expect=expect)


def test_batch_builds_the_others_and_records_the_failures(tmp_path: Path) -> None:
    """Case 01 end to end, with real kernels: a stray 1999 row and a GBK params file of office A, a change in
    office B. B is rebuilt and published; A's reports fail with their messages in the manifest and the index;
    A's earlier outputs are untouched; the batch exits 2."""
    from nianbao.batch import run_batch
    from nianbao.manifest import FAILED, PUBLISHED, WARNINGS

    root = tmp_path / "p"
    synth(root, 2, range(2020, 2022), seed=5)
    project = Project(root)
    assert run_batch(project).exit_code in (0, 1)
    earlier = files_under(project.output_dir(A))
    append_line(project, FIGURES, "1999,t3,new,natural,0")
    rewrite(project, f"data/narrative/{B}/{YEAR}.md", lambda t: t + "\n补充。\n")
    result = run_batch(project)
    status = {(e.office, e.year): e for e in result.entries}
    assert result.exit_code == 2 and result.built == 3
    assert {status[(A, y)].status for y in (2020, 2021)} == {FAILED}
    assert f"{FIGURES}:" in status[(A, 2021)].error and "年份 1999" in status[(A, 2021)].error
    assert status[(B, YEAR)].status in (PUBLISHED, WARNINGS)
    assert "补充。" in (project.outputs / status[(B, YEAR)].html).read_text(encoding="utf-8")
    assert files_under(project.output_dir(A)) == earlier
    assert "年份 1999" in index_text(project.outputs)

    rewrite(project, FIGURES, lambda t: t.replace("1999,t3,new,natural,0\n", ""))
    (root / PARAMS).write_bytes(f"office: {A} # 中文\nyear: {YEAR}\n".encode("gbk"))
    code, out = cli(project, "batch")
    assert code == 2 and f"failed: {A} {YEAR}: {PARAMS}:1" in out and "GBK" in out, out
    status = {(e.office, e.year): e.status for e in run_batch(project).entries}
    assert status[(A, 2020)] != FAILED and status[(A, YEAR)] == FAILED


# -- kind 2: messages that say where, whatever the encoding --------------------------------------------

ENCODINGS = [("gbk", "GBK"), ("gb18030", "GBK"), ("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"),
             ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")]
FILES = {  # the file, and a Chinese text the analyst could have put in it
    FIGURES: lambda t: t.replace(",0\n", ",0件\n", 1),
    PROSE: lambda t: t,
    PARAMS: lambda t: t + "# 备注：中文\n",
    REGISTRY: lambda t: t,
}


@pytest.mark.parametrize("rel", FILES)
@pytest.mark.parametrize(("codec", "name"), ENCODINGS)
def test_a_file_not_in_utf8_names_its_encoding(proj: Project, rel: str, codec: str, name: str) -> None:
    path = proj.root / rel
    text = FILES[rel](path.read_text(encoding="utf-8"))
    path.write_bytes(text.encode(codec))
    if rel == REGISTRY:
        with pytest.raises(InputError) as raised:
            read_registry(proj)
        errors = [raised.value]
    else:
        errors = [r for r in loaded(proj).values() if isinstance(r, InputError)]
    assert errors
    save_as = "请另存为 “CSV UTF-8”" if rel.endswith(".csv") else "请以 UTF-8 编码另存"
    for error in errors:
        message = str(error)
        assert message.startswith(rel) and f"文件为 {name} 编码，{save_as}" in message, message
        if name == "GBK":  # the line of the first character that is not UTF-8
            first = next(i for i, line in enumerate(text.splitlines(), 1) if not line.isascii())
            assert message.startswith((f"{rel}:{first}，", f"{rel}:{first}：")), message


@pytest.mark.parametrize("rel", FILES)
def test_utf8_with_a_bom_is_read(proj: Project, rel: str) -> None:
    path = proj.root / rel
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-8-sig"))
    assert not [r for r in loaded(proj).values() if isinstance(r, InputError)]


@pytest.mark.parametrize("rel", FILES)
def test_windows_line_ends_are_read(proj: Project, rel: str) -> None:
    before = loaded(proj)
    path = proj.root / rel
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    after = loaded(proj)
    assert all(not isinstance(r, InputError) for r in after.values())
    assert after[(A, YEAR)].values == before[(A, YEAR)].values


@pytest.mark.parametrize("rel", [FIGURES, REGISTRY])
def test_excel_empty_trailing_columns_are_skipped(proj: Project, rel: str) -> None:
    before = loaded(proj)
    path = proj.root / rel
    path.write_text("".join(line + ",,\n" for line in path.read_text(encoding="utf-8").splitlines()), encoding="utf-8")
    after = loaded(proj)
    assert all(not isinstance(r, InputError) for r in after.values())
    assert after[(A, YEAR)].values == before[(A, YEAR)].values
    if rel == FIGURES:  # a value in the unnamed column is an error
        append_line(proj, rel, _csv_line(["2021", "t3", "new", "natural", "0", "", "x"]))
        assert "实有 7 个" in str(loaded(proj)[(A, YEAR)])


@pytest.mark.parametrize("rel", [FIGURES, REGISTRY])
@pytest.mark.parametrize("blank", [",,,,", ",,,,,,", ",", " , , , , ", '"","","","",""'])
def test_excel_empty_rows_are_skipped(proj: Project, rel: str, blank: str) -> None:
    before = loaded(proj)
    for _ in range(3):
        append_line(proj, rel, blank)
    after = loaded(proj)
    assert after.keys() == before.keys()
    assert all(not isinstance(r, InputError) for r in after.values())
    assert after[(A, YEAR)].values == before[(A, YEAR)].values


def test_decode_reads_utf8_and_refuses_the_rest() -> None:
    text = "year,table,row,column,value\n2021,t3,new,natural,2件\n"
    assert decode(text.encode("utf-8"), file="x.csv") == text == decode(text.encode("utf-8-sig"), file="x.csv")
    with pytest.raises(InputError, match=r"^x\.csv：文件为 UTF-16 编码") as raised:
        decode(text.replace("件", "").encode("utf-16-le"), file="x.csv")  # ASCII only: valid UTF-8, with NULs
    assert raised.value.line is None
    with pytest.raises(InputError, match=r"无法识别|编码"):
        decode(bytes(range(128, 256)) * 4, file="x.md")


# -- kind 4: values mean what was written ----------------------------------------------------------------

BAD_YEARS = ["²⁰²¹", "２０２１", "٢٠٢١", "۲۰۲۱", "२०२१", "২০২১", "𝟐𝟎𝟐𝟏", "2０21", "二〇二一", "2021.0", "+2021",
             "-2021", "20 21", "2021a", "0x7e5", "1999", "2018", "0000", "12021", "202", ""]


@pytest.mark.parametrize("year", BAD_YEARS)
def test_years_are_four_ascii_digits_from_2019(proj: Project, year: str) -> None:
    with pytest.raises(InputError, match="年份"):
        check_year(year)
    if year:
        result = CliRunner().invoke(main, ["cells", "--", year])
        assert result.exit_code == 2 and "年份" in result.output and result.exception.__class__ is SystemExit

        refused(proj, "run", "--", A, year, expect=["年份", "字段 year"])
    line = append_line(proj, FIGURES, f"{year},t3,new,natural,0")
    with pytest.raises(InputError) as raised:
        read_figures(proj, A)
    assert str(raised.value).startswith(f"{FIGURES}:{line}，机关 {A}，字段 year：") or year == "", raised.value


@pytest.mark.parametrize("year", [True, None, 2021.0, [2021], "2021\n", 1999])
def test_year_values_of_other_types_are_errors(proj: Project, year: object) -> None:
    with pytest.raises(InputError):
        check_year(year)
    (proj.root / PARAMS).write_text(yaml.safe_dump({"office": A, "year": year}), encoding="utf-8")
    with pytest.raises(InputError, match="字段 year"):
        read_params(proj, A, YEAR)


@pytest.mark.parametrize("years", ["2021-2019", ",", ",,", "2019-", "-2021", "2019--2021", "abc", "²⁰²¹",
                                   "2019-2020-2021", "1999-2000", "2019-２０２１"])
def test_years_option_errors(proj: Project, years: str) -> None:
    before = files_under(proj.outputs)
    code, out = cli(proj, "batch", "--years", years)
    assert code == 2 and "--years" in out, out
    assert files_under(proj.outputs) == before


def test_offices_option_naming_no_office_is_an_error(proj: Project) -> None:
    code, out = cli(proj, "batch", "--offices", ",")
    assert code == 2 and "--offices" in out, out


IDS = ["530111", "0123", "007", "0", "no", "yes", "on", "off", "null", "true", "1e3", "0x1f", "0o17", "2020-01-01",
       "12-34", "1-2-3", "inf", "nan"]


@pytest.mark.parametrize("office", IDS)
def test_office_ids_stay_text_through_new_params_and_papermill(proj: Project, office: str) -> None:
    """`nianbao new` writes a params file that nianbao and papermill's own YAML loader read back as the id."""
    from papermill.iorw import read_yaml_file

    append_line(proj, REGISTRY, f"{office},示例区{office}办事处,示例省,示例路1号,100000,010-0,")
    code, out = cli(proj, "new", office, "2024")
    assert code == 0, out
    path = proj.params_file(office, 2024)
    assert read_params(proj, office, 2024) == {"office": office, "year": 2024}
    assert read_yaml_file(str(path)) == {"office": office, "year": 2024}
    report = load_report(**read_yaml_file(str(path)), project=proj)
    assert report.office.id == office and report.year == 2024


@pytest.mark.parametrize(("office", "written"), [("530111", "530111"), ("0123", "0123"), ("no", "no"),
                                                 ("2020-01-01", "2020-01-01")])
def test_an_unquoted_numeric_id_says_to_quote_it(proj: Project, office: str, written: str) -> None:
    append_line(proj, REGISTRY, f"{office},示例区办事处,示例省,示例路1号,100000,010-0,")
    assert cli(proj, "new", office, "2024")[0] == 0
    proj.params_file(office, 2024).write_text(f"office: {written}\nyear: 2024\n", encoding="utf-8")
    refused(proj, "run", office, "2024", expect=[f"params/{office}/2024.yaml:1", f"office: '{office}'", "引号"])
    with pytest.raises(InputError, match=r"加引号.*-r office"):
        load_report(yaml.safe_load(f"o: {written}")["o"], 2024, proj)


def test_stock_papermill_runs_a_numeric_office(proj: Project, tmp_path: Path) -> None:
    """The README's hand run (`papermill notebooks/report.ipynb out.ipynb -f params/0123/2024.yaml`), real kernel."""
    import nbformat

    append_line(proj, REGISTRY, "0123,示例区零壹贰叁办事处,示例省,示例路3号,100000,010-0,")
    assert cli(proj, "new", "0123", "2024")[0] == 0
    # The skeleton's hint text is gated (SEC-SKELETON): give the office prose, as an analyst would.
    prose = (proj.root / "data" / "narrative" / A / f"{YEAR}.md").read_text(encoding="utf-8")
    (proj.root / "data" / "narrative" / "0123" / "2024.md").write_text(prose, encoding="utf-8")
    out = tmp_path / "out.ipynb"
    done = subprocess.run([str(Path(sys.executable).parent / "papermill"), "notebooks/report.ipynb", str(out),
                           "-f", "params/0123/2024.yaml", "--no-progress-bar"], cwd=proj.root, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    html = "".join(o.get("data", {}).get("text/html", "") for c in nbformat.read(out, as_version=4).cells
                   for o in c.get("outputs", ()))
    assert "示例区零壹贰叁办事处2024年政府信息公开工作年度报告" in re.sub(r"<[^>]+>", "", html)  # the title breaks


def _arithmetic(report, **values: int) -> dict[tuple[str, str | None, str | None], float]:
    from nianbao.expectations import build_suites
    from nianbao.validate import arithmetic_frame

    report = replace(report, values={**report.values, **{k.replace("__", "."): str(v) for k, v in values.items()}})
    frame = arithmetic_frame([report], build_suites()["arithmetic"])
    return {(r.rule, r.row, r.column): r.value for r in frame.itertuples()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.integers(0, 10**60), min_size=6, max_size=6), off=st.integers(-3, 3))
def test_counts_of_any_size_add_up_exactly(proj: Project, parts: list[int], off: int) -> None:
    """T3's row sum over counts far beyond float and Decimal's default 28 digits: off by one is off by one."""
    columns = ["natural", "business", "research", "public_interest", "legal_services", "other_org"]
    values = {f"t3__new__{c}": v for c, v in zip(columns, parts, strict=True)}
    found = _arithmetic(load_report(A, YEAR, proj), **values, t3__new__total=sum(parts) + off)
    row_sum = [v for (rule, row, column), v in found.items() if rule == "T3-ROWSUM" and row == "new"]
    assert len(row_sum) == 1 and abs(row_sum[0]) == abs(off)


# -- property tests: generated malformed input, one contract -----------------------------------------

def _contract(project: Project, expect: list[str], *args: str) -> None:
    """A clear error naming the place, exit 2, no traceback, nothing written, earlier outputs untouched."""
    refused(project, *(args or ("run", A, str(YEAR))), expect=expect)


def _restoring(project: Project, *rels: str):
    saved = {rel: (project.root / rel).read_bytes() for rel in rels}

    def restore() -> None:
        for rel, data in saved.items():
            (project.root / rel).write_bytes(data)
    return restore


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00\x85\u2028\u2029"),
                max_size=12)
_bad_year = _text.filter(lambda s: not (s.strip().isascii() and s.strip().isdigit() and len(s.strip()) == 4
                                        and int(s.strip()) >= 2019))
_cell = st.sampled_from(["t3.new.natural", "t2.rules.issued", "t4.review.total"])


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@st.composite
def malformed_figures_line(draw) -> tuple[str, list[str]]:
    """A line that must make the figures file an error, and the texts the error names."""
    kind = draw(st.sampled_from(["fields", "year", "cell", "duplicate", "bytes"]))
    table, row, column = draw(_cell).split(".")
    if kind == "fields":
        n = draw(st.integers(2, 9).filter(lambda n: n != 5))
        cells = [str(YEAR), table, row, column, "1", "1", "1", "1", "1"][:n]
        return _csv_line(cells), ["应有 5 个字段", f"实有 {n} 个"]
    if kind == "year":
        return _csv_line([draw(_bad_year), table, row, column, "0"]), ["字段 year"]
    if kind == "cell":
        name = draw(_text.filter(lambda s: s.strip() and s.strip() not in ("natural", "total", "issued")))
        return _csv_line([str(YEAR), table, row, name, "0"]), [f"年度 {YEAR}", "F2021"]
    if kind == "duplicate":
        return _csv_line([str(YEAR), table, row, column, draw(st.sampled_from(["0", "7", ""]))]), ["重复填写"]
    text = draw(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=6)
                .filter(lambda t: not _is_utf8(t.encode("gbk"))))  # 一 in GBK (D2 BB) is valid UTF-8 (һ)
    return "\x00GBK\x00" + text, ["GBK", "CSV UTF-8"]  # marker: written in GBK below


@PROPERTY
@given(fault=malformed_figures_line(), at=st.integers(1, 400))
def test_property_malformed_figures(proj: Project, fault: tuple[str, list[str]], at: int) -> None:
    line, expect = fault
    restore = _restoring(proj, FIGURES)
    try:
        path = proj.root / FIGURES
        lines = path.read_text(encoding="utf-8").splitlines()
        at = min(at, len(lines))  # after the header
        if "\x00GBK\x00" in line:
            raw = [x.encode() for x in lines]
            raw.insert(at, f"{YEAR},t3,new,natural,{line.removeprefix(chr(0) + 'GBK' + chr(0))}".encode("gbk"))
            path.write_bytes(b"\n".join(raw) + b"\n")
        else:
            lines.insert(at, line)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # a duplicate is reported where the second copy is; the others where they are
        number = at + 1 if "重复填写" not in expect else None
        _contract(proj, [f"{FIGURES}:{number}，" if number else f"{FIGURES}:", f"机关 {A}", *expect])
    finally:
        restore()


@PROPERTY
@given(kind=st.sampled_from(["duplicate", "short", "long", "no name", "header", "bad id"]),
       junk=_text, at=st.integers(1, 3))
def test_property_malformed_registry(proj: Project, kind: str, junk: str, at: int) -> None:
    restore = _restoring(proj, REGISTRY)
    try:
        path = proj.root / REGISTRY
        lines = path.read_text(encoding="utf-8").splitlines()
        mine = next(i for i, line in enumerate(lines) if line.startswith(A + ","))
        cells = next(csv.reader([lines[mine]]))
        if kind == "header":
            header = next(csv.reader([lines[0]]))
            header[header.index(("id", "name")[at % 2])] = junk.strip() + "x"
            lines[0], where = _csv_line(header), f"{REGISTRY}:1："
        elif kind == "duplicate":
            lines.insert(min(at + mine, len(lines)), lines[mine])
            where = f"{REGISTRY}:"
        elif kind == "bad id":
            bad = junk if not OFFICE_ID.fullmatch(junk.strip()) else junk + "/"
            lines.insert(at, _csv_line([bad, "某办", "", "", "", "", ""]))
            where = f"{REGISTRY}:{at + 1}，"
        else:
            cells = cells[:2] if kind == "short" else [*cells, junk, "x"] if kind == "long" else [A, " ", *cells[2:]]
            lines[mine], where = _csv_line(cells), f"{REGISTRY}:{mine + 1}，"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if kind in ("header", "bad id"):
            _contract(proj, [where], "check")
        else:
            _contract(proj, [where, f"机关 {A}"])
            assert load_report(B, YEAR, proj).office.id == B  # the other office does not notice
    finally:
        restore()


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


_tags = st.sampled_from(["<script>alert(1)</script>", "<b>粗体</b>", "<div>", "<img src=x onerror=alert(1)>",
                         "<!-- 注释 -->", "<iframe src=//x>"])
_placeholders = st.from_regex(r"\{\{ ?t[5-9]\.[a-z]{1,6}\.[a-z]{1,6} ?\}\}", fullmatch=True)


@PROPERTY
@given(kind=st.sampled_from(["html", "placeholder", "gbk"]), tag=_tags, placeholder=_placeholders,
       words=st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=8),
       at=st.integers(0, 60))
def test_property_malformed_prose(proj: Project, kind: str, tag: str, placeholder: str, words: str,
                                  at: int) -> None:
    restore = _restoring(proj, PROSE)
    try:
        path = proj.root / PROSE
        lines = path.read_text(encoding="utf-8").splitlines()
        at = max(1, min(at, len(lines)))  # after the first heading line's position 0
        if lines[at - 1].startswith("#") or (at < len(lines) and lines[at].startswith("#")):
            lines.insert(at, "")  # keep the inserted paragraph a paragraph of its own
            at += 1
        lines[at:at] = ["", "@@", ""]
        number = at + 2
        if kind == "gbk":  # a pasted GBK phrase in a UTF-8 file: not one encoding, so none is named
            assume(not _is_utf8(words.encode("gbk")))  # 一 in GBK is D2 BB, which is valid UTF-8 (һ)
            data = "\n".join(lines).encode().replace(b"@@", words.encode("gbk"))
            path.write_bytes(data + b"\n")
            expect = [f"{PROSE}:{number}，", "不是 UTF-8 编码", "请以 UTF-8 编码另存"]
        else:
            lines[at + 1] = f"{words}{tag if kind == 'html' else placeholder}"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            expect = [f"{PROSE}:{number}，", f"年度 {YEAR}"]
        _contract(proj, [f"机关 {A}", *expect])
    finally:
        restore()


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _text, st.dates())


@PROPERTY
@given(params=st.dictionaries(st.sampled_from(["office", "year", "Office", "findings", "project_dir", "年份"]),
                              _scalars, max_size=4),
       raw=st.one_of(st.none(), st.binary(max_size=40)))
def test_property_malformed_params(proj: Project, params: dict, raw: bytes | None) -> None:
    if raw is None and params == {"office": A, "year": YEAR}:
        return
    if raw is not None and raw.decode("utf-8", "replace").strip() in ("", f"office: {A}\nyear: {YEAR}"):
        raw = b"\xff" + raw
    restore = _restoring(proj, PARAMS)
    try:
        data = raw if raw is not None else yaml.safe_dump(params, allow_unicode=True).encode()
        (proj.root / PARAMS).write_bytes(data)
        _contract(proj, [PARAMS, f"机关 {A}", f"年度 {YEAR}"])
    finally:
        restore()


@settings(max_examples=200, deadline=None)
@given(office=st.from_regex(OFFICE_ID, fullmatch=True).filter(lambda s: len(s) < 40))
def test_property_params_text_reads_back_the_id(office: str) -> None:
    from papermill.iorw import NoDatesSafeLoader

    text = params_text(office, YEAR)
    assert yaml.safe_load(text) == {"office": office, "year": YEAR}
    assert yaml.load(text, Loader=NoDatesSafeLoader) == {"office": office, "year": YEAR}
