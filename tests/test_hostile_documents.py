"""Hostile documents and project files, as offices and supervising offices produce them: the published page
itself (not the bare report) saved as PDF from a browser, whose white page box is no ruling line, and a table
continued on a new page without its header rows; prose whose part headings are repeated, missing, reworded or
swapped, named at the heading's line with what is wrong; output read by `head`, which closes the pipe; a
revised copy of a report already ingested, refused naming the cells it would change; a form whose cover's
机关代码 was typed over with one that is no office id, named at its cell; part headings as CommonMark reads them
(`#  一、…`, ` # 一、…`, `#\t一、…`, a closing `#`) and `#　一、…` with a full-width space, refused at its line;
params files whose YAML is broken, told in Chinese (PyYAML's English left out), or with a key written twice;
tables pasted as pictures (a Word file, a page, a PDF), said to be pictures rather than only missing; data cells
printed with words around the figure (`约38`, `三十八`, `38件次`, `12.5万`): read, or judged as printed, never blank."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, files_under
from forms import CHROMIUM, NO_CHROMIUM, print_pdf, synthetic_project, write_docx
from openpyxl import load_workbook
from test_forms import assert_reads_back, random_report
from test_render import exported

from nianbao.cli import main
from nianbao.data import read_offices
from nianbao.project import Project
from nianbao.published.reader import read_published
from nianbao.render import report_html
from nianbao.synth import synth
from nianbao.workbook import layout
from nianbao.workbook.write import file_name


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_project(tmp_path_factory, seed=31)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("seed", range(2))
def test_the_published_page_saved_as_pdf_reads_back(synthetic, tmp_path, seed: int) -> None:
    """The page `nianbao run` publishes sets its report on a white box (`main`): printed, the box is a filled
    rectangle around every table, which pdfplumber would take for the outer border of one table holding the
    headings, the tables and the prose between them."""
    report, blanks = random_report(synthetic, 200 + seed)
    page = exported(report_html(report))
    assert "<main>" in page
    path = print_pdf(page, tmp_path / "page.pdf")
    assert_reads_back(read_published(path), report, blanks)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("seed", range(2))
def test_a_table_continued_on_a_new_page_without_its_header_reads_back(synthetic, tmp_path, seed: int) -> None:
    """A page whose tables have no `<thead>` (an office's own page, an editor's export) printed by a browser: the
    first row on the new page has no top border (collapsed into the row before it, on the previous page), only
    its column borders: it is still a row of the table, not prose."""
    report, blanks = random_report(synthetic, 300 + seed)
    page = exported(report_html(report)).replace("<thead>", "").replace("</thead>", "")
    path = print_pdf(page, tmp_path / "page.pdf")
    assert_reads_back(read_published(path), report, blanks)


OFFICIAL = ("一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
            "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项")


def _headings_finding(project, edit) -> tuple[dict, list[str]]:
    path = project.root / "data" / "narrative" / "guandu-taihe" / "2020.md"
    lines = edit(path.read_text(encoding="utf-8").split("\n"))
    path.write_text("\n".join(lines), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "guandu-taihe", "2020", "--json", "--project", str(project.root)])
    assert result.exit_code == 1, result.output
    (finding,) = [f for f in json.loads(result.output) if f["rule"] == "SEC-HEADINGS"]
    return finding, lines


def _at(lines: list[str], heading: str, nth: int = 1) -> int:
    return [i + 1 for i, line in enumerate(lines) if line == f"# {heading}"][nth - 1]


def _heading(name: str):
    return lambda lines: lines.index(f"# {name}")


def test_a_repeated_heading_is_named_at_its_second_line(project) -> None:
    def repeat(lines):
        at = _heading(OFFICIAL[4])(lines)
        return [*lines[:at + 1], "", "正文。", "", lines[at], *lines[at + 1:]]
    finding, lines = _headings_finding(project, repeat)
    assert finding["value"].endswith(f"“{OFFICIAL[4]}”出现了两次（第6个标题）")
    assert finding["source"] == f"data/narrative/guandu-taihe/2020.md:{_at(lines, OFFICIAL[4], 2)}"
    assert "\n" not in finding["value"] and finding["value"].count(" / ") == 6
    assert finding["message"] == "报告须依次包含“一、总体情况”至“六、其他需要报告的事项”六部分，标题缺失或顺序有误"


def test_a_missing_heading_is_named_where_it_belongs(project) -> None:
    def drop(lines):
        at = _heading(OFFICIAL[3])(lines)
        return [*lines[:at], *lines[at + 2:]]
    finding, lines = _headings_finding(project, drop)
    assert finding["value"].endswith(f"缺少“{OFFICIAL[3]}”")
    assert finding["source"] == f"data/narrative/guandu-taihe/2020.md:{_at(lines, OFFICIAL[4])}"


def test_a_reworded_heading_says_what_it_should_be(project) -> None:
    wrong = "四、行政复议、行政诉讼情况"
    finding, lines = _headings_finding(project, lambda ls: [f"# {wrong}" if x == f"# {OFFICIAL[3]}" else x for x in ls])
    assert finding["value"].endswith(f"第4个标题“{wrong}”不是规定的标题，此处应为“{OFFICIAL[3]}”")
    assert finding["source"] == f"data/narrative/guandu-taihe/2020.md:{_at(lines, wrong)}"


def test_swapped_headings_say_which_comes_first(project) -> None:
    def swap(lines):
        a, b = _heading(OFFICIAL[1])(lines), _heading(OFFICIAL[2])(lines)
        lines[a], lines[b] = lines[b], lines[a]
        return lines
    finding, lines = _headings_finding(project, swap)
    assert finding["value"].endswith(f"“{OFFICIAL[1]}”应在“{OFFICIAL[2]}”之前")
    assert finding["source"] == f"data/narrative/guandu-taihe/2020.md:{_at(lines, OFFICIAL[1])}"


@pytest.mark.parametrize("args", [["cells", "2020"], ["check"]])
def test_output_read_by_head_ends_quietly(repo, args: list[str]) -> None:
    """`nianbao check | head -1`: the reader closes the pipe before the command has written. No `error: Broken
    pipe`, no traceback: the status a process ended by SIGPIPE has (141), as `head`'s pipelines expect."""
    proc = subprocess.Popen([sys.executable, "-m", "nianbao", *args, *(["--project", str(repo.root)]
                             if args[0] == "check" else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the command has imported what it needs, let alone written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert err == ""


@pytest.mark.parametrize(("edit", "said"), [
    (lambda r: r.replace("行政处罚 | 38 |", "行政处罚 | 39 |"),
     "1个单元格不同：表二 · 行政处罚 · 本年处理决定数量：已有38，此文件为39（"),
    (lambda r: r.replace("行政处罚 | 38 |", "行政处罚 | 39 |").replace("行政许可 | 217 |", "行政许可 | 218 |")
     .replace("行政处罚 | 39 |", "行政处罚 | - |"), "表二 · 行政处罚 · 本年处理决定数量：已有38，此文件为空白"),
])
def test_a_revised_copy_of_an_ingested_report_names_what_it_would_change(tmp_path, edit, said: str) -> None:
    """A supervising office's folder with a report and its revised copy (one figure corrected): the second is
    refused, as before, but saying which cells differ, so the analyst knows which copy to keep."""
    report = (FIXTURES / "ingest" / "00_control_pipe.txt").read_text(encoding="utf-8")
    project = tmp_path / "p"
    (tmp_path / "first.txt").write_text(report, encoding="utf-8")
    (tmp_path / "revised.txt").write_text(edit(report), encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", "--project", str(project), str(tmp_path / "first.txt")])
    assert result.exit_code == 0, result.output
    before = files_under(project / "data")
    result = CliRunner().invoke(main, ["ingest", "--project", str(project), str(tmp_path / "revised.txt")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert said in result.output and "（确需替换请加 --force）" in result.output
    assert "字段 t2.penalty.decisions" in result.output or "字段 t2.license.decisions" in result.output
    assert files_under(project / "data") == before


def test_a_revised_copy_with_other_prose_names_the_prose_file(tmp_path) -> None:
    report = (FIXTURES / "ingest" / "00_control_pipe.txt").read_text(encoding="utf-8")
    project = tmp_path / "p"
    revised = report.replace("主动公开政府信息62条。", "主动公开政府信息63条。")
    assert revised != report
    for name, text in (("first.txt", report), ("revised.txt", revised)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert CliRunner().invoke(main, ["ingest", "--project", str(project), str(tmp_path / "first.txt")]).exit_code == 0
    result = CliRunner().invoke(main, ["ingest", "--project", str(project), str(tmp_path / "revised.txt")])
    assert result.exit_code == 2, result.output
    assert "正文与已有的 data/narrative/" in result.output and "单元格" not in result.output, result.output


@pytest.mark.parametrize("typed", ["My-Office", "示例局", "shili 0001", "shili_0001"])
def test_a_cover_code_typed_over_with_no_office_id_names_its_cell(tmp_path, typed: str) -> None:
    """An office types its own code over the cover's 机关代码 (upper case, Chinese, a space): refused naming the
    sheet and cell, saying what to do, not only that the id is invalid; `--office` still says whose it is."""
    project = Project(tmp_path / "p")
    synth(project.root, 1, range(2024, 2025), 5, 0.0)
    office = next(iter(read_offices(project)))
    result = CliRunner().invoke(main, ["workbook", office, "2024", "--project", str(project.root),
                                       "--out", str(tmp_path / "forms")])
    assert result.exit_code == 0, result.output
    path = tmp_path / "forms" / file_name(read_offices(project)[office], 2024)
    wb = load_workbook(path)
    ws = wb[layout.COVER]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == layout.FIELD_ID)
    ws.cell(row, 2).value = typed
    wb.save(path)
    before = files_under(project.data)
    result = CliRunner().invoke(main, ["ingest", "--project", str(project.root), str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"{path.name} 封面!B{row}：封面的“机关代码”是“{typed}”，不是有效的机关代码" in result.output
    assert "字段 机关代码" in result.output and "年度 2024" in result.output and "--office" in result.output
    assert files_under(project.data) == before
    result = CliRunner().invoke(main, ["ingest", "--project", str(project.root), str(path), "--office", office])
    assert result.exit_code == 0, result.output


def _with_heading(project, typed: str) -> tuple[int, int, str]:
    """The prose of guandu-taihe 2020 with its first part's heading typed as `typed`: (status, its line, output)."""
    path = project.root / "data" / "narrative" / "guandu-taihe" / "2020.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    at = lines.index(f"# {OFFICIAL[0]}")
    lines[at] = typed
    path.write_text("\n".join(lines), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "guandu-taihe", "2020", "--project", str(project.root)])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, at + 1, result.output


@pytest.mark.parametrize("typed", [f"#  {OFFICIAL[0]}", f" # {OFFICIAL[0]}", f"   # {OFFICIAL[0]}",
                                   f"#\t{OFFICIAL[0]}", f"# {OFFICIAL[0]} #", f"# {OFFICIAL[0]}  "])
def test_part_headings_as_markdown_reads_them_are_part_headings(project, typed: str) -> None:
    """Markdown (CommonMark) reads each of these as the heading `一、总体情况`; so does nianbao, rather than leave
    part 一 empty and its prose in the preamble."""
    code, _, out = _with_heading(project, typed)
    assert code == 0 and "严重问题0项" in out, out


@pytest.mark.parametrize("typed", [f"#\u3000{OFFICIAL[0]}", f"# \u3000{OFFICIAL[0]}"])
def test_a_part_heading_after_a_full_width_space_names_the_line(project, typed: str) -> None:
    code, line, out = _with_heading(project, typed)
    assert code == 2, out
    where = f"data/narrative/guandu-taihe/2020.md:{line}，机关 guandu-taihe，年度 2020"
    assert f"{where}：“{typed}”像是部分标题，但“#”后是全角空格：标题应写作“# {OFFICIAL[0]}”" in out, out


@pytest.mark.parametrize(("text", "line", "said"), [
    ("office: guandu-taihe\nyear: 2020\n---\noffice: x\n", 3, "文件中有“---”分隔的第二部分"),
    ("office: guandu-taihe\n  year: 2020\n", 2, "此处不应有冒号"),
    ("office: 'guandu-taihe\nyear: 2020\n", 3, "引号或括号没有成对"),
    ("office: [guandu-taihe\nyear: 2020\n", 2, "括号没有成对"),
    ("office: !!python/object:os.system x\nyear: 2020\n", 1,
     "不允许 YAML 标签（如 !!python），参数只能是文字和数字（第9列）"),
    ("office: @guandu-taihe\nyear: 2020\n", 1, "值以 YAML 保留的符号（如 @、`、%）开头：请给值加引号"),
    ("office: *guandu\nyear: 2020\n", 1, "以“*”开头的值在 YAML 中是别名：请给值加引号"),
])
def test_broken_params_yaml_is_told_in_chinese(project, text: str, line: int, said: str) -> None:
    (project.root / "params" / "guandu-taihe" / "2020.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "guandu-taihe", "2020", "--project", str(project.root)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    where = f"params/guandu-taihe/2020.yaml:{line}，机关 guandu-taihe，年度 2020：YAML 格式有误："
    assert f"{where}{said}" in result.output, result.output
    error = next(x for x in result.output.splitlines() if x.startswith("error:"))
    assert not any(w in error for w in ("found", "expected", "while", "constructor", "document")), error


@pytest.mark.parametrize(("text", "field", "lines"), [
    ("office: guandu-taihe\noffice: guandu-taihe\nyear: 2020\n", "office", (1, 2)),
    ("year: 2021\noffice: guandu-taihe\nyear: 2020\n", "year", (1, 3)),
])
def test_a_params_key_written_twice_is_refused(project, text: str, field: str, lines: tuple[int, int]) -> None:
    """YAML keeps the last of two equal keys without a word: `year: 2021` then `year: 2020` reads as 2020."""
    (project.root / "params" / "guandu-taihe" / "2020.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "guandu-taihe", "2020", "--project", str(project.root)])
    assert result.exit_code == 2, result.output
    assert (f"params/guandu-taihe/2020.yaml:{lines[1]}，机关 guandu-taihe，年度 2020，字段 {field}："
            f"参数 {field} 写了2次（第{lines[0]}、{lines[1]}行）") in result.output, result.output


def _png() -> bytes:
    from PIL import Image  # pdfplumber's dependency

    out = io.BytesIO()
    Image.new("RGB", (300, 120), "white").save(out, "PNG")
    return out.getvalue()


def _pictures_for_tables(html: str, which: str) -> str:
    """The page with its tables (`which`: "t3" or "all") replaced by pictures, as offices paste a screenshot."""
    img = f'<p><img src="data:image/png;base64,{base64.b64encode(_png()).decode()}"></p>'
    tables = " nb-t3" if which == "t3" else '[^"]*'
    pattern = rf'<table class="nb-table{tables}">.*?</table>'
    return re.sub(pattern, img, html, flags=re.S)


def _docx_with_pictures(html: str, path, which: str):
    import docx
    from docx.shared import Cm

    write_docx(html, path)
    document = docx.Document(str(path))
    picture = path.with_suffix(".png")
    picture.write_bytes(_png())
    for i, table in enumerate(list(document.tables)):
        if which == "all" or i == 1:
            paragraph = document.add_paragraph()
            paragraph.add_run().add_picture(str(picture), width=Cm(5))
            table._tbl.addnext(paragraph._p)
            table._tbl.getparent().remove(table._tbl)
    document.save(str(path))
    return path


@pytest.mark.parametrize("form", ["html", "docx"])
def test_tables_pasted_as_pictures_are_said_to_be_pictures(synthetic, tmp_path, form: str) -> None:
    report, _ = random_report(synthetic, 400)
    page = exported(report_html(report))
    if form == "html":
        every, one = tmp_path / "every.html", tmp_path / "one.html"
        every.write_text(_pictures_for_tables(page, "all"), encoding="utf-8")
        one.write_text(_pictures_for_tables(page, "t3"), encoding="utf-8")
    else:
        every = _docx_with_pictures(page, tmp_path / "every.docx", "all")
        one = _docx_with_pictures(page, tmp_path / "one.docx", "t3")
    result = CliRunner().invoke(main, ["audit", str(every)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "没有读到表格数字（表二、表三、表四为空或缺失）；文件中有3张图片，表格可能是以图片插入的" in result.output
    assert f"机关 {report.office.name}，年度 {report.year}" in result.output
    result = CliRunner().invoke(main, ["audit", str(one)])
    assert "表三没有读到数字：文件中有1张图片，表格可能是以图片插入的" in result.output, result.output
    assert "表二没有读到数字" not in result.output and "表四没有读到数字" not in result.output


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_tables_printed_as_pictures_in_a_pdf_are_said_to_be_pictures(synthetic, tmp_path) -> None:
    report, _ = random_report(synthetic, 401)
    path = print_pdf(_pictures_for_tables(exported(report_html(report)), "all"), tmp_path / "every.pdf")
    result = CliRunner().invoke(main, ["audit", str(path)])
    assert result.exit_code == 2 and "表格可能是以图片插入的" in result.output, result.output


def test_a_report_with_no_tables_and_no_pictures_says_only_that(synthetic, tmp_path) -> None:
    report, _ = random_report(synthetic, 402)
    page = re.sub(r'<table class="nb-table[^"]*">.*?</table>', "", exported(report_html(report)), flags=re.S)
    (tmp_path / "none.html").write_text(page, encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", str(tmp_path / "none.html")])
    assert result.exit_code == 2 and "没有读到表格数字" in result.output and "图片" not in result.output


@pytest.mark.parametrize(("printed", "value"), [("38件次", "38"), ("38 件次", "38")])
def test_a_count_with_the_unit_jianci_is_read(tmp_path, printed: str, value: str) -> None:
    from nianbao.published.reader import read_published

    report = (FIXTURES / "ingest" / "00_control_pipe.txt").read_text(encoding="utf-8")
    path = tmp_path / "r.txt"
    path.write_text(report.replace("行政处罚 | 38 |", f"行政处罚 | {printed} |"), encoding="utf-8")
    assert read_published(path).values["t2.penalty.decisions"] == value


def test_an_amount_in_wan_without_yuan_is_read(tmp_path) -> None:
    from nianbao.published.reader import read_published

    report = (FIXTURES / "ingest" / "00_control_pipe.txt").read_text(encoding="utf-8")
    path = tmp_path / "r.txt"
    path.write_text(report.replace("行政事业性收费 | 12.5 |", "行政事业性收费 | 12.5万 |"), encoding="utf-8")
    assert read_published(path).values["t2.fees.amount"] == "12.5"


@pytest.mark.parametrize("printed", ["约38", "三十八", "38（件）", "大约三十八件"])
def test_a_figure_printed_with_words_is_judged_as_printed_not_blank(tmp_path, printed: str) -> None:
    """`行政处罚 | 约38 |` in a `|` copy: the cell is the row's figure as printed, and T2-INT says it is no count,
    quoting it; it was read as a blank cell (a CELL-FILLED warning), the printed text lost."""
    report = (FIXTURES / "ingest" / "00_control_pipe.txt").read_text(encoding="utf-8")
    path = tmp_path / "r.txt"
    path.write_text(report.replace("行政处罚 | 38 |", f"行政处罚 | {printed} |"), encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", str(path), "--json"])
    assert result.exit_code == 1, result.output
    (audited,) = json.loads(result.output)
    (finding,) = [f for f in audited["findings"] if f["rule"] == "T2-INT"]
    assert finding["cells"][0]["value"] == printed and finding["cells"][0]["ref"] == "t2.penalty.decisions", finding
    assert not any(f["rule"] == "CELL-FILLED" for f in audited["findings"]), audited["findings"]


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("whole", [False, True])
def test_a_cell_spanning_rows_is_one_label_in_a_printed_pdf(synthetic, tmp_path, seed: int, whole: bool) -> None:
    """A browser draws the sides of a cell spanning rows (表三's 三、本年度办理结果, its header's 勾稽关系 note) one
    segment a row: those segment ends are no open border, or the cell's label is cut in pieces that match no
    label of the format (LABEL-EXACT on the office's own, correct report)."""
    from nianbao.audit import audit

    report, blanks = random_report(synthetic, 400 + seed)
    html = report_html(report)
    path = print_pdf(exported(html) if whole else html, tmp_path / "report.pdf")
    assert_reads_back(read_published(path), report, blanks)
    (audited,) = audit([path]).audited
    assert not [f for f in audited.findings if f.rule.startswith("LABEL")], audited.findings
