"""Pieces shared by every format version: the headings, table 三 and table 四 (FORMAT.md §2, §4, §5),
and the block builder of table 二 (§3)."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Cell, Data, Kind, Label, Role, Table

HEADINGS: tuple[str, ...] = (
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
)


@dataclass(frozen=True)
class Col:
    """A data column of a table-二 block: key, header label, kind, and how many grid columns it spans."""

    key: str
    label: str
    kind: Kind = Kind.COUNT
    span: int = 1
    label_key: str | None = None
    variants: tuple[str, ...] = ()


# A row of a table-二 block: key, label, and optionally spellings read as that label (`Label.read_as`).
Row = tuple[str, str] | tuple[str, str, tuple[str, ...]]


def t2_block(caption: str, cols: list[Col], rows: list[Row]) -> list[tuple[Cell, ...]]:
    """A caption row, a header row and one line per data row; the data columns always span 3."""
    assert sum(c.span for c in cols) == 3, caption
    lines: list[tuple[Cell, ...]] = [
        (Label(caption, Role.CAPTION, colspan=4),),
        (
            Label("信息内容"),
            *(Label(c.label, colspan=c.span, key=c.label_key, variants=c.variants) for c in cols),
        ),
    ]
    for key, label, *read_as in rows:
        lines.append((Label(label, Role.ROW, read_as=read_as[0] if read_as else ()),
                      *(Data(key, c.key, c.kind, colspan=c.span) for c in cols)))
    return lines


def table2(*blocks: tuple[str, list[Col], list[Row]]) -> Table:
    grid: list[tuple[Cell, ...]] = []
    rows: dict[str, str] = {}
    columns: dict[str, str] = {}
    for caption, cols, block_rows in blocks:
        grid += t2_block(caption, cols, block_rows)
        rows.update((key, label) for key, label, *_ in block_rows)
        for c in cols:
            columns.setdefault(c.key, c.label)
    return Table("t2", section=1, width=4, rows=rows, columns=columns, grid=tuple(grid))


# -- table 三 -------------------------------------------------------------------------------------

T3_COLUMNS: dict[str, str] = {
    "natural": "自然人",
    "business": "商业企业",
    "research": "科研机构",
    "public_interest": "社会公益组织",
    "legal_services": "法律服务机构",
    "other_org": "其他",
    "total": "总计",
}
T3_CORNER = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"

# (group label, [(row key, leaf label)]); a group of one leaf with no label of its own spans 2 columns.
# Known local typos (FORMAT.md §4), read as the label they misspell, never accepted as it.
T3_TYPOS: dict[str, tuple[str, ...]] = {
    "（二）部分公开（区分处理的，只计这一情形，不计其他情形）":
        ("（二）部分公开（区分处理的，只计这一情况，不计其他情形）",),
    "5.属于三类内部事务信息": ("5.属于三类内容事务信息",),
}
# A leaf may carry other accepted spellings (`Label.variants`) as a third element.
Group = tuple[str, list[tuple[str, str] | tuple[str, str, tuple[str, ...]]]]

T3_OUTCOMES_HEAD: list[Group] = [
    ("（一）予以公开", [("open", "")]),
    ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", [("partial", "")]),
    (
        "（三）不予公开",
        [
            ("deny_1", "1.属于国家秘密"),
            ("deny_2", "2.其他法律行政法规禁止公开"),
            ("deny_3", "3.危及“三安全一稳定”"),
            ("deny_4", "4.保护第三方合法权益"),
            ("deny_5", "5.属于三类内部事务信息"),
            ("deny_6", "6.属于四类过程性信息"),
            ("deny_7", "7.属于行政执法案卷"),
            ("deny_8", "8.属于行政查询事项"),
        ],
    ),
    (
        "（四）无法提供",
        [
            ("unable_1", "1.本机关不掌握相关政府信息"),
            ("unable_2", "2.没有现成信息需要另行制作"),
            ("unable_3", "3.补正后申请内容仍不明确"),
        ],
    ),
    (
        "（五）不予处理",
        [
            ("noproc_1", "1.信访举报投诉类申请"),
            ("noproc_2", "2.重复申请"),
            ("noproc_3", "3.要求提供公开出版物"),
            ("noproc_4", "4.无正当理由大量反复申请"),
            ("noproc_5", "5.要求行政机关确认或重新出具已获取信息"),
        ],
    ),
]


def _t3_values(row: str) -> tuple[Data, ...]:
    return tuple(Data(row, c) for c in T3_COLUMNS)


def table3(other: Group) -> Table:
    """Table 三 with the version's （六） group; everything else is the same in every version."""
    outcomes = [*T3_OUTCOMES_HEAD, other, ("（七）总计", [("total", "")])]
    result_rows = sum(len(leaves) for _, leaves in outcomes)
    grid: list[tuple[Cell, ...]] = [
        (Label(T3_CORNER, Role.CORNER, rowspan=3, colspan=3), Label("申请人情况", colspan=7)),
        (Label("自然人", rowspan=2), Label("法人或其他组织", colspan=5), Label("总计", rowspan=2)),
        tuple(Label(T3_COLUMNS[c]) for c in ("business", "research", "public_interest", "legal_services",
                                             "other_org")),
        (Label("一、本年新收政府信息公开申请数量", Role.ROW, colspan=3), *_t3_values("new")),
        (Label("二、上年结转政府信息公开申请数量", Role.ROW, colspan=3), *_t3_values("carry_in")),
    ]
    rows = {"new": "一、本年新收政府信息公开申请数量", "carry_in": "二、上年结转政府信息公开申请数量"}
    first = True
    for group, leaves in outcomes:
        for i, (key, leaf, *variants) in enumerate(leaves):
            line: list[Cell] = []
            if first:
                line.append(Label("三、本年度办理结果", Role.ROW, rowspan=result_rows))
                first = False
            if not leaf:
                line.append(Label(group, Role.ROW, colspan=2, read_as=T3_TYPOS.get(group, ())))
                rows[key] = group
            else:
                if i == 0:
                    line.append(Label(group, Role.ROW, rowspan=len(leaves)))
                line.append(Label(leaf, Role.ROW, variants=variants[0] if variants else (),
                                  read_as=T3_TYPOS.get(leaf, ())))
                rows[key] = f"{group}{leaf}"
            grid.append((*line, *_t3_values(key)))
    grid.append((Label("四、结转下年度继续办理", Role.ROW, colspan=3), *_t3_values("carry_out")))
    rows["carry_out"] = "四、结转下年度继续办理"
    return Table("t3", section=2, width=10, rows=rows, columns=dict(T3_COLUMNS), grid=tuple(grid))


# -- table 四 -------------------------------------------------------------------------------------

T4_GROUPS = {"review": "行政复议", "direct": "未经复议直接起诉", "after_review": "复议后起诉"}
T4_COLUMNS = {"upheld": "结果维持", "corrected": "结果纠正", "other": "其他结果", "pending": "尚未审结",
              "total": "总计"}


def table4() -> Table:
    outcome_labels = [Label(text) for text in T4_COLUMNS.values()]
    grid: tuple[tuple[Cell, ...], ...] = (
        (Label("行政复议", colspan=5), Label("行政诉讼", colspan=10)),
        (
            *(Label(text, rowspan=2) for text in T4_COLUMNS.values()),
            Label("未经复议直接起诉", colspan=5),
            Label("复议后起诉", colspan=5),
        ),
        (*outcome_labels, *outcome_labels),
        tuple(Data(group, col) for group in T4_GROUPS for col in T4_COLUMNS),
    )
    return Table("t4", section=3, width=15, rows=dict(T4_GROUPS), columns=dict(T4_COLUMNS), grid=grid)
