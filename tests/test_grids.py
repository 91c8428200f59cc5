"""The tables of both versions, rendered, expand (by rowspan/colspan) to the official grids of FORMAT.md
§3–§5. The expected grids are written out here by hand from FORMAT.md, independently of the definitions."""

from __future__ import annotations

from dataclasses import replace

import pytest
from htmltext import expand, read

from nianbao.formats import FORMATS, Data, format_for
from nianbao.render.html import table_html
from nianbao.report import load_report

CAP = "第二十条第（{}）项"
F2019_T2 = [
    [CAP.format("一")] * 4,
    ["信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量"],
    ["规章", "#", "#", "#"],
    ["规范性文件", "#", "#", "#"],
    [CAP.format("五")] * 4,
    ["信息内容", "上一年项目数量", "本年增/减", "处理决定数量"],
    ["行政许可", "#", "#", "#"],
    ["其他对外管理服务事项", "#", "#", "#"],
    [CAP.format("六")] * 4,
    ["信息内容", "上一年项目数量", "本年增/减", "处理决定数量"],
    ["行政处罚", "#", "#", "#"],
    ["行政强制", "#", "#", "#"],
    [CAP.format("八")] * 4,
    ["信息内容", "上一年项目数量", "本年增/减", "本年增/减"],
    ["行政事业性收费", "#", "#", "#"],
    [CAP.format("九")] * 4,
    ["信息内容", "采购项目数量", "采购总金额（单位：万元）", "采购总金额（单位：万元）"],
    ["政府集中采购", "#", "#", "#"],
]
F2021_T2 = [
    [CAP.format("一")] * 4,
    ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
    ["规章", "#", "#", "#"],
    ["行政规范性文件", "#", "#", "#"],
    [CAP.format("五")] * 4,
    ["信息内容"] + ["本年处理决定数量"] * 3,
    ["行政许可", "#", "#", "#"],
    [CAP.format("六")] * 4,
    ["信息内容"] + ["本年处理决定数量"] * 3,
    ["行政处罚", "#", "#", "#"],
    ["行政强制", "#", "#", "#"],
    [CAP.format("八")] * 4,
    ["信息内容"] + ["本年收费金额（单位：万元）"] * 3,
    ["行政事业性收费", "#", "#", "#"],
]
T4 = [
    ["行政复议"] * 5 + ["行政诉讼"] * 10,
    ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] + ["未经复议直接起诉"] * 5 + ["复议后起诉"] * 5,
    ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] * 3,
    ["#"] * 15,
]
CORNER = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
T3_HEAD = [
    [CORNER] * 3 + ["申请人情况"] * 7,
    [CORNER] * 3 + ["自然人"] + ["法人或其他组织"] * 5 + ["总计"],
    [CORNER] * 3 + ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"],
]
RESULTS = "三、本年度办理结果"
DENY = ["1.属于国家秘密", "2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”", "4.保护第三方合法权益",
        "5.属于三类内部事务信息", "6.属于四类过程性信息", "7.属于行政执法案卷", "8.属于行政查询事项"]
UNABLE = ["1.本机关不掌握相关政府信息", "2.没有现成信息需要另行制作", "3.补正后申请内容仍不明确"]
NOPROC = ["1.信访举报投诉类申请", "2.重复申请", "3.要求提供公开出版物", "4.无正当理由大量反复申请",
          "5.要求行政机关确认或重新出具已获取信息"]
OTHER_2021 = ["1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
              "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "3.其他"]


def t3_labels(other: list[str] | None) -> list[list[str]]:
    """The three label columns of table 三's body."""
    rows = [["一、本年新收政府信息公开申请数量"] * 3, ["二、上年结转政府信息公开申请数量"] * 3,
            [RESULTS, "（一）予以公开", "（一）予以公开"],
            [RESULTS] + ["（二）部分公开（区分处理的，只计这一情形，不计其他情形）"] * 2]
    rows += [[RESULTS, "（三）不予公开", x] for x in DENY]
    rows += [[RESULTS, "（四）无法提供", x] for x in UNABLE]
    rows += [[RESULTS, "（五）不予处理", x] for x in NOPROC]
    rows += [[RESULTS, "（六）其他处理", x] for x in other] if other else [[RESULTS] + ["（六）其他处理"] * 2]
    rows += [[RESULTS, "（七）总计", "（七）总计"], ["四、结转下年度继续办理"] * 3]
    return rows


def official(year: int, key: str) -> list[list[str]]:
    if key == "t2":
        return F2019_T2 if year <= 2020 else F2021_T2
    if key == "t4":
        return T4
    return T3_HEAD + [labels + ["#"] * 7 for labels in t3_labels(OTHER_2021 if year >= 2021 else None)]


def masked(grid: list[list[str]], fmt_id: str, key: str) -> list[list[str]]:
    """Data slots become '#': the grid compares layout and labels, not figures."""
    table = format_for(2019 if fmt_id == "F2019" else 2021).table(key)
    defined = table.expand()
    return [[("#" if isinstance(d, Data) else text) for d, text in zip(drow, row, strict=True)]
            for drow, row in zip(defined, grid, strict=True)]


@pytest.mark.parametrize(("office", "year"), [("guandu-taihe", 2020), ("example-shifan", 2022)])
@pytest.mark.parametrize("key", ["t2", "t3", "t4"])
def test_rendered_table_expands_to_official_grid(repo, office: str, year: int, key: str) -> None:
    report = load_report(office, year, repo)
    if office == "example-shifan":  # this office prints the plain (九) label; check the default here
        report = replace(report, office=replace(report.office, labels={}))
    (rows,) = read(table_html(report.format.table(key), report)).tables
    grid = masked(expand(rows), report.format.id, key)
    assert grid == official(year, key)


def test_spans_as_format_md_says() -> None:
    for fmt, rows in (("F2019", 20), ("F2021", 22)):
        t3 = next(f for f in FORMATS if f.id == fmt).table("t3")
        spans = {c.text: c.rowspan for line in t3.grid for c in line if not isinstance(c, Data)}
        assert spans[RESULTS] == rows
        assert spans["（三）不予公开"] == 8 and spans["（五）不予处理"] == 5
        assert t3.width == 10 and len(t3.expand()) == 3 + rows + 3
    f2019_t2 = format_for(2020).table("t2")
    amount = next(c for line in f2019_t2.grid for c in line if isinstance(c, Data) and c.column == "amount")
    assert amount.colspan == 2


def test_office_may_print_the_plain_procurement_label(repo) -> None:
    report = load_report("example-shifan", 2020, repo)
    (rows,) = read(table_html(report.format.table("t2"), report)).tables
    assert [c.text for c in rows[-2]][-1] == "采购总金额"


def test_data_keys_are_unique_and_ascii() -> None:
    for fmt in FORMATS:
        keys = list(fmt.cell_kinds())
        assert len(keys) == len(set(keys))
        assert all(k.isascii() for k in keys)
