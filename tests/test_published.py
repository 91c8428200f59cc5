"""Reading published reports: the seed and two real web pages ingested cell by cell, our own pages
flattened to text in the ways people do it and read back, audits, and input that is not a report."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from pathlib import Path

import opencc
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, SEED, files_under
from htmltext import flatten

from nianbao.audit import audit
from nianbao.cli import main
from nianbao.exceptions import InputError
from nianbao.ingest import ingest_file
from nianbao.params import list_reports
from nianbao.published.reader import read_published
from nianbao.render import report_html
from nianbao.report import load_report
from nianbao.run import PUBLISHED, run_report
from nianbao.scaffold import init_project
from nianbao.synth import synth
from nianbao.validate import validate

PUBLISHED_DIR = FIXTURES / "published"
T3_COLUMNS = ("natural", "business", "research", "public_interest", "legal_services", "other_org", "total")
T4 = [(g, c) for g in ("review", "direct", "after_review")
      for c in ("upheld", "corrected", "other", "pending", "total")]


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# -- the seed -----------------------------------------------------------------------------------------

def seed_prose() -> tuple[list[str], list[list[str]]]:
    """The seed's preamble and the prose lines of its six parts (table lines left out)."""
    lines = SEED.read_text(encoding="utf-8").splitlines()[1:]
    preamble, sections, current = [], [[] for _ in range(6)], None
    headings = ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
                "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]
    for line in lines:
        if line in headings:
            current = headings.index(line)
        elif "|" in line or line.startswith("(本列") or not line.strip():
            continue
        elif current is None:
            preamble.append(line)
        else:
            sections[current].append(line)
    return preamble, sections


def test_seed_every_figure_lands_in_its_cell() -> None:
    pub = read_published(SEED)
    assert (pub.office, pub.year, pub.format.id) == ("太和街道办事处", 2020, "F2019")
    v = pub.values
    # 表二: every cell printed, all 0 but 政府集中采购.
    t2 = {ref: value for ref, value in v.items() if ref.startswith("t2.")}
    assert t2.pop("t2.procurement.count") == "2" and t2.pop("t2.procurement.amount") == "7.4890"
    assert set(t2.values()) == {"0"} and len(t2) == 20
    # 表三: one figure per row (自然人), the six other columns blank: not reported, never 0.
    rows = {ref.split(".")[1] for ref in v if ref.startswith("t3.")}
    assert len(rows) == 23
    for row in rows:
        assert v[f"t3.{row}.natural"] == "0"
        assert all(v[f"t3.{row}.{c}"] is None for c in T3_COLUMNS[1:])
    # 表四: three figures, then blanks.
    assert [v[f"t4.{g}.{c}"] for g, c in T4] == ["0", "0", "0"] + [None] * 12
    assert pub.reported == 48 and len(pub.not_reported) == 150 and not pub.problems


def test_seed_prose_matches() -> None:
    pub = read_published(SEED)
    preamble, sections = seed_prose()
    assert pub.preamble == preamble and pub.sections == sections
    assert pub.headings == list(pub.format.headings)


def test_seed_round_trip_through_ingest_and_run(tmp_path) -> None:
    project = init_project(tmp_path / "proj")
    done = ingest_file(project, SEED, office="guandu-taihe")
    assert done.new_office and list_reports(project) == [("guandu-taihe", 2020)]
    result = run_report(project, "guandu-taihe", 2020)
    assert result.status == PUBLISHED  # blanks are warnings (CELL-FILLED), not a gate
    assert {f.rule for f in validate([load_report("guandu-taihe", 2020, project)], project)} == {"CELL-FILLED"}
    back = read_published(result.html)
    seed = read_published(SEED)
    assert back.values == seed.values
    assert (back.office, back.year) == (seed.office, seed.year)
    preamble, sections = seed_prose()
    assert back.preamble == preamble and back.sections == sections


# -- real web pages -----------------------------------------------------------------------------------

def expected_values(data: dict) -> dict[str, str]:
    """The hand-read figures of a `.json` beside a page, under nianbao's keys."""
    t2, out = data["tables"]["t2"], {}
    if data["format"] == "F2019":
        for src, row, cols in (("rules_regs", "rules", ("made", "published", "public_total")),
                               ("normative_docs", "normative", ("made", "published", "public_total")),
                               ("admin_license", "license", ("prev_items", "delta", "decisions")),
                               ("other_mgmt_services", "other_services", ("prev_items", "delta", "decisions")),
                               ("admin_penalty", "penalty", ("prev_items", "delta", "decisions")),
                               ("admin_coercion", "coercion", ("prev_items", "delta", "decisions")),
                               ("admin_fees", "fees", ("prev_items", "delta"))):
            out |= {f"t2.{row}.{c}": str(n) for c, n in zip(cols, t2[src], strict=True)}
        out["t2.procurement.count"] = str(t2["gov_procurement"]["count"])
        out["t2.procurement.amount"] = str(t2["gov_procurement"]["amount_wanyuan"])
    else:
        for src, row, cols in (("rules_regs", "rules", ("issued", "repealed", "valid")),
                               ("normative_docs", "normative", ("issued", "repealed", "valid")),
                               ("admin_license", "license", ("decisions",)),
                               ("admin_penalty", "penalty", ("decisions",)),
                               ("admin_coercion", "coercion", ("decisions",))):
            out |= {f"t2.{row}.{c}": str(n) for c, n in zip(cols, t2[src], strict=True)}
        out["t2.fees.amount"] = t2["admin_fees_wanyuan"]
    for row, values in data["tables"]["t3"]["rows"].items():
        out |= {f"t3.{row}.{c}": str(n) for c, n in zip(T3_COLUMNS, values, strict=True)}
    out |= {f"t4.{g}.{c}": str(n) for (g, c), n in zip(T4, data["tables"]["t4"], strict=True)}
    return out


@pytest.mark.parametrize("name", ["09_pingtan_czj_2019", "10_pingtan_jjf_2024"])
def test_real_pages_read_as_read_by_hand(name: str) -> None:
    data = json.loads((PUBLISHED_DIR / f"{name}.json").read_text(encoding="utf-8"))
    pub = read_published(PUBLISHED_DIR / f"{name}.html")
    assert (pub.office, pub.year, pub.format.id) == (data["office"], data["year"], data["format"])
    assert pub.values == expected_values(data)
    assert not pub.problems
    # The site around the report is not prose; the report ends with its signature and date.
    assert pub.sections[5][-1].endswith("日") and not any("扫一扫" in p for s in pub.sections for p in s)
    assert all(pub.sections[i] for i in (0, 4, 5)) and pub.preamble


def test_real_pages_audit_finds_the_rules_they_break() -> None:
    result = audit(sorted(PUBLISHED_DIR.glob("*.html")))
    assert not result.errors and result.exit_code == 1
    for a in result.audited:
        data = json.loads(Path(a.report.file).with_suffix(".json").read_text(encoding="utf-8"))
        figure_rules = {f.rule for f in a.findings if f.critical and f.table and f.rule != "LABEL-EXACT"}
        assert figure_rules == set(data["violations"]), a.report.file
        assert not a.not_assessable  # every cell of these pages is filled


def test_yuan_amounts_become_wan_yuan_and_the_label_is_kept(tmp_path) -> None:
    project = init_project(tmp_path / "proj")
    done = ingest_file(project, PUBLISHED_DIR / "09_pingtan_czj_2019.html")
    assert done.office == "pingtan-czj"
    assert done.report.originals == {"t2.procurement.amount": "832995元"}
    registry = project.offices_file.read_text(encoding="utf-8")
    assert "pingtan-czj,平潭综合实验区财政金融局" in registry and registry.rstrip().endswith(",采购总金额")
    figures = project.figures_file("pingtan-czj").read_text(encoding="utf-8")
    assert "2019,t2,procurement,amount,83.2995\n" in figures


# -- our own pages, flattened in every way, read back (property-style over random valid data) ----------

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic") / "p"
    synth(root, 3, range(2019, 2023), seed=11)
    return init_project(root)


@pytest.mark.parametrize("seed", range(6))
def test_flattened_pages_read_back_to_the_same_figures(synthetic, tmp_path, seed: int) -> None:
    rng = random.Random(seed)
    office, year = rng.choice(list_reports(synthetic))
    report = load_report(office, year, synthetic)
    # Some cells blank, as real reports leave them.
    blanks = set(rng.sample(sorted(report.values), rng.randint(0, 12)))
    report = dataclasses.replace(report, values={k: None if k in blanks else v for k, v in report.values.items()})
    html = report_html(report)
    s2t = opencc.OpenCC("s2t")
    for spans, half_width, split, traditional in itertools.product((False, True), repeat=4):
        text = flatten(html, spans=spans, half_width=half_width, split_headers=split)
        if traditional:
            text = s2t.convert(text)
        pub = read_published(write(tmp_path, "copy.txt", text))
        variant = dict(spans=spans, half_width=half_width, split=split, traditional=traditional)
        assert pub.traditional == traditional, variant
        assert (pub.office, pub.year, pub.format.id) == (report.office.name, year, report.format.id), variant
        assert pub.values == report.values, variant
        assert set(pub.not_reported) == blanks, variant
        assert not pub.problems, variant


# -- audit --------------------------------------------------------------------------------------------

def text_copy(project, office: str, year: int, **changes: str | None) -> str:
    report = load_report(office, year, project)
    report = dataclasses.replace(report, values={**report.values, **changes})
    return flatten(report_html(report))


def test_audit_flags_an_arithmetic_error_with_its_rule(synthetic, tmp_path) -> None:
    report = load_report("shili-0001", 2021, synthetic)
    wrong = str(int(report.values["t3.total.natural"]) + 1)
    path = write(tmp_path, "wrong.txt", text_copy(synthetic, "shili-0001", 2021, **{"t3.total.natural": wrong}))
    result = audit([path])
    (a,) = result.audited
    critical = {(f.rule, f.column) for f in a.findings if f.critical}
    assert ("T3-BALANCE", "natural") in critical and ("T3-OUTCOME-SUM", "natural") in critical
    assert result.exit_code == 1


def test_audit_blank_cells_are_not_assessable_not_failed(synthetic, tmp_path) -> None:
    path = write(tmp_path, "blank.txt", text_copy(synthetic, "shili-0002", 2022, **{"t3.new.business": None}))
    (a,) = audit([path]).audited
    assert not any(f.critical for f in a.findings)
    assert ("T3-BALANCE", "t3", None, "business") in a.not_assessable
    assert ("T3-ROWSUM", "t3", "new", "total") in a.not_assessable
    assert [f.rule for f in a.findings] == ["CELL-FILLED"]


def test_audit_cross_year_rules_across_files(synthetic, tmp_path) -> None:
    last = load_report("shili-0003", 2021, synthetic).values["t3.carry_out.natural"]
    this = write(tmp_path, "2022.txt", text_copy(synthetic, "shili-0003", 2022))
    before = write(tmp_path, "2021.txt", text_copy(synthetic, "shili-0003", 2021,
                                                   **{"t3.carry_out.natural": str(int(last) + 2),
                                                      "t3.total.natural": None}))
    by_year = {a.report.year: a for a in audit([before, this]).audited}
    assert "T3-XYEAR" in {f.rule for f in by_year[2022].findings}


def test_audit_prose_that_contradicts_a_table(synthetic, tmp_path) -> None:
    text = text_copy(synthetic, "shili-0001", 2020)
    total = load_report("shili-0001", 2020, synthetic).values["t3.new.total"]
    text = text.replace(f"全年新收政府信息公开申请{total}件", f"全年新收政府信息公开申请{int(total) + 5}件")
    (a,) = audit([write(tmp_path, "prose.txt", text)]).audited
    (finding,) = [f for f in a.findings if f.rule == "PROSE-TABLE"]
    assert finding.severity == "warning" and finding.value == str(int(total) + 5)
    assert "正文所述数字与表格不一致" in finding.message and f"为{total}" in finding.message


def test_audit_cli_prints_and_renders(tmp_path) -> None:
    out = tmp_path / "audit.html"
    result = CliRunner().invoke(main, ["audit", str(PUBLISHED_DIR), "--html", str(out)])
    assert result.exit_code == 1, result.output
    assert "平潭综合实验区经济发展局 2024 (F2021)" in result.output and "T3-BALANCE" in result.output
    page = out.read_text(encoding="utf-8")
    assert "平潭综合实验区经济发展局2024年政府信息公开工作年度报告" in page and "T3-OUTCOME-SUM" in page
    assert "<script" not in page


# -- input that is not a report -------------------------------------------------------------------------

GARBAGE = {
    "unrelated.html": ("<html><head><title>天气预报</title></head><body><p>明天晴。</p></body></html>",
                       "找不到报告的各部分标题"),
    "truncated.txt": (None, "报告不完整"),
    "picture.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "二进制"),
    "empty.txt": ("", "文件是空的"),
    "no-title.txt": ("一、总体情况\n正文。\n二、主动公开政府信息情况\n三、收到和处理政府信息公开申请情况\n"
                     "四、政府信息公开行政复议、行政诉讼情况\n五、存在的主要问题及改进情况\n六、其他需要报告的事项\n无。\n",
                     "找不到报告标题"),
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_gets_a_clear_error_and_writes_nothing(tmp_path, name: str) -> None:
    content, expected = GARBAGE[name]
    if content is None:  # the seed, cut after its table 二
        lines = SEED.read_text(encoding="utf-8").splitlines()
        content = "\n".join(lines[: lines.index("三、收到和处理政府信息公开申请情况")]) + "\n"
    path = write(tmp_path, name, content)
    project = init_project(tmp_path / "proj")
    before = files_under(project.root)
    with pytest.raises(InputError, match=expected) as error:
        ingest_file(project, path)
    assert name in str(error.value)
    result = CliRunner().invoke(main, ["ingest", str(path), "--project", str(project.root)])
    assert result.exit_code == 2 and name in result.output and expected in result.output
    assert files_under(project.root) == before


def test_ingest_refuses_to_replace_an_office_year_without_force(tmp_path) -> None:
    project = init_project(tmp_path / "proj")
    ingest_file(project, SEED, office="taihe")
    before = files_under(project.root)
    assert ingest_file(project, SEED, office="taihe").written == []  # the same report again: nothing to do
    edited = write(tmp_path, "edited.txt", SEED.read_text(encoding="utf-8").replace("| 2 | 7.4890 |", "| 3 | 7.4890 |"))
    with pytest.raises(InputError, match="已有2020年的其他数据"):
        ingest_file(project, edited, office="taihe")
    assert files_under(project.root) == before
    again = ingest_file(project, edited, office="taihe", force=True)
    assert again.written == [project.figures_file("taihe")]
    assert "2020,t2,procurement,count,3\n" in project.figures_file("taihe").read_text(encoding="utf-8")


def test_ingest_cli_reports_the_cells_not_reported(tmp_path) -> None:
    result = CliRunner().invoke(main, ["ingest", str(SEED), "--office", "taihe", "--project", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "太和街道办事处 2020年（F2019）→ taihe（新登记机关）：读到48/198个单元格" in result.output
    assert "未填报（150个，写为空白）：表三 · 一、本年新收政府信息公开申请数量 · 商业企业" in result.output


def test_spellings_real_reports_use_are_read(synthetic, tmp_path) -> None:
    """F2021: `，` in the （六） sub-rows, F2019's `规范性文件`, the typos of FORMAT.md §4, units, full-width
    minus, amounts with trailing zeros. F2019: the (九) label without its unit, kept as the office's."""
    text = text_copy(synthetic, "shili-0001", 2022, **{"t2.fees.amount": "5.50"})
    for official, local in (("、行政机关不再处理", "，行政机关不再处理"), ("行政规范性文件", "规范性文件"),
                            ("只计这一情形", "只计这一情况"), ("三类内部事务信息", "三类内容事务信息")):
        assert official in text
        text = text.replace(official, local)
    pub = read_published(write(tmp_path, "2022.txt", text))
    assert pub.values == load_report("shili-0001", 2022, synthetic).values | {"t2.fees.amount": "5.50"}
    assert not pub.problems

    old = text_copy(synthetic, "shili-0001", 2020, **{"t2.license.delta": "-2", "t2.procurement.count": "3"})
    old = old.replace("| -2 |", "| －2 |").replace("政府集中采购 | 3 |", "政府集中采购 | 3笔 |")
    old = old.replace("采购总金额（单位：万元）", "采购总金额")
    pub = read_published(write(tmp_path, "2020.txt", old))
    assert pub.values["t2.license.delta"] == "-2" and pub.values["t2.procurement.count"] == "3"
    assert pub.labels == {"t2.procurement.amount": "采购总金额"}


def test_ingested_years_feed_the_cross_year_rules(synthetic, tmp_path) -> None:
    """History: last year's report, ingested, is what this year's carry-over is checked against."""
    project = init_project(tmp_path / "district")
    carry = load_report("shili-0002", 2021, synthetic).values["t3.carry_out.natural"]
    files = [write(tmp_path, "2021.txt", text_copy(synthetic, "shili-0002", 2021)),
             write(tmp_path, "2022.txt", text_copy(synthetic, "shili-0002", 2022))]
    for path in files:
        ingest_file(project, path, office="west")
    assert list_reports(project) == [("west", 2021), ("west", 2022)]
    reports = [load_report("west", y, project) for y in (2021, 2022)]
    assert reports[1].previous["t3.carry_out.natural"] == carry
    assert validate(reports, project) == []  # consistent across years, as synthesised
    # Break last year's carry-over: this year's 上年结转 no longer matches it.
    figures = project.figures_file("west")
    figures.write_text(figures.read_text(encoding="utf-8").replace(
        f"2021,t3,carry_out,natural,{carry}\n", f"2021,t3,carry_out,natural,{int(carry) + 1}\n"), encoding="utf-8")
    rules = {f.rule for f in validate([load_report("west", 2022, project)], project)}
    assert "T3-XYEAR" in rules


def test_pages_in_a_site_with_word_markup_read_back(synthetic, tmp_path) -> None:
    """Our page inside a site (menus, links to other years' reports, footer), upper-case tags, cells padded
    with &nbsp;, header labels broken with <br/>, in traditional script: the same figures and prose."""
    report = load_report("shili-0003", 2022, synthetic)
    html = report_html(report)
    html = html.replace('<td class="num">', "<TD class=num>&nbsp;").replace("</td>", "&nbsp;</TD>")
    html = html.replace(">自然人<", ">自<br/>然<br/>人<").replace(">商业企业<", "><p>商业</p><p>企业</p><")
    html = html.replace("</article>", "<P>示例区青石1乡人民政府</P><P>2023年1月20日</P></article>")  # the signature
    page = f"""<HTML><HEAD><TITLE>{report.title}_政府信息公开年报_示例区人民政府</TITLE></HEAD><BODY>
<DIV class=nav><A href="/">首页</A> <A href="/2021">示例区青石1乡人民政府2021年政府信息公开工作年度报告</A></DIV>
<DIV class=article>{html}<P>相关附件：无</P></DIV>
<DIV class=footer><P>扫一扫在手机上查看当前页面</P><P>版权所有：示例区人民政府</P></DIV></BODY></HTML>"""
    for traditional in (False, True):
        text = opencc.OpenCC("s2t").convert(page) if traditional else page
        pub = read_published(write(tmp_path, "page.html", text))
        assert (pub.office, pub.year, pub.traditional) == (report.office.name, 2022, traditional)
        assert pub.values == report.values and not pub.problems
        assert pub.sections[0] == [p for p in report.narrative.body(report.format.headings[0]).split("\n\n")]
        assert pub.sections[5][-2:] == ["示例区青石1乡人民政府", "2023年1月20日"]
        assert not any("扫一扫" in line or "版权" in line for s in pub.sections for line in s)


def test_a_preamble_that_names_the_report_is_not_its_title(tmp_path) -> None:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "现将太和街道办事处2020年政府信息公开工作年度报告公布如下：")
    lines.insert(3, "2019年度政府信息公开工作年度报告")  # a heading-like line naming no office
    pub = read_published(write(tmp_path, "seed.txt", "\n".join(lines)))
    assert (pub.office, pub.year) == ("太和街道办事处", 2020)
    assert pub.preamble[1:] == lines[2:4]


def test_audit_compares_labels_as_printed(synthetic, tmp_path) -> None:
    """LABEL-EXACT on published labels: F2019 wording in an F2021 report and a misspelt label are findings;
    what copying a page does (half-width brackets, broken lines) and the `，` variant of （六） are not."""
    text = text_copy(synthetic, "shili-0002", 2022).replace("行政规范性文件", "规范性文件")
    text = text.replace("、行政机关不再处理", "，行政机关不再处理")
    flat = flatten(report_html(load_report("shili-0002", 2021, synthetic)), half_width=True, split_headers=True)
    reports = [write(tmp_path, "2022.txt", text), write(tmp_path, "2021.txt", flat)]
    by_year = {a.report.year: a for a in audit(reports).audited}
    (label,) = [f for f in by_year[2022].findings if f.rule == "LABEL-EXACT"]
    assert (label.severity, label.value, label.table) == ("critical", "规范性文件", "t2")
    assert label.source == str(reports[0])
    assert not [f for f in by_year[2021].findings if f.rule == "LABEL-EXACT"]
    (page,) = [a for a in audit([PUBLISHED_DIR / "09_pingtan_czj_2019.html"]).audited]
    assert [f.value for f in page.findings if f.rule == "LABEL-EXACT"] == ["三三、本年度办理结果"]


def test_cells_that_run_together_are_read_when_one_way_fits_else_reported(tmp_path) -> None:
    text = SEED.read_text(encoding="utf-8").replace("行政许可 | 0 | 0 | 0 |", "行政许可000 |")
    text = text.replace("规章 | 0 | 0 | 0 |", "规章12345 |")
    pub = read_published(write(tmp_path, "glued.txt", text))
    assert [pub.values[f"t2.license.{c}"] for c in ("prev_items", "delta", "decisions")] == ["0", "0", "0"]
    assert [pub.values[f"t2.rules.{c}"] for c in ("made", "published", "public_total")] == [None, None, None]
    assert set(pub.unreadable) == {"t2.rules.made", "t2.rules.published", "t2.rules.public_total"}
    assert not {"t2.rules.made"} & set(pub.not_reported)
    (problem,) = pub.problems
    assert "表二" in problem and "“12345”" in problem and "表二 · 规章 · 本年新制作数量" in problem


def test_audit_json_is_machine_readable() -> None:
    result = CliRunner().invoke(main, ["audit", "--json", str(PUBLISHED_DIR / "10_pingtan_jjf_2024.html")])
    assert result.exit_code == 1
    (report,) = json.loads(result.output)
    assert (report["office"], report["year"], report["format"]) == ("平潭综合实验区经济发展局", 2024, "F2021")
    assert {"T3-BALANCE", "T3-OUTCOME-SUM"} <= {f["rule"] for f in report["findings"]}
    assert report["not_reported"] == [] and report["not_assessable"] == []
