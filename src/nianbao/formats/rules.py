"""The consistency rules of FORMAT.md §7, as data.

Each rule has its id, the versions it applies to, its status tag, its Chinese message, and one check.
A check is one of four shapes, each of which becomes great-expectations expectations
(`nianbao.expectations` writes them; `nianbao.validate` runs them):

- `CellPattern`: every data cell of some tables and kinds matches a pattern (or is present);
- `Identity`: a linear combination of cells, per instance, is == 0 or >= 0; the instances are derived
  from the format definitions, so a new version gets its instances without new code;
- `ProsePattern`: a field of the narrative matches a pattern, holds no match of a forbidden one, or equals the
  official headings;
- `TableFilled`: a table holds at least one reported cell;
- `LabelsExact`: every label cell reads as the format prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .model import Format, Kind


class Severity(StrEnum):
    """great-expectations' own severity names."""

    CRITICAL = "critical"
    WARNING = "warning"


COUNT_RE = r"^(?:0|[1-9][0-9]*)$"
SIGNED_RE = r"^-?(?:0|[1-9][0-9]*)$"
AMOUNT_RE = r"^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$"
# Fails only a well-formed amount with 5+ decimals: a malformed one is T2-AMT's business.
AMOUNT_DEC_RE = r"^(?!(?:0|[1-9][0-9]*)\.[0-9]{5,}$)"


@dataclass(frozen=True)
class Term:
    """One term of an identity: coef × cell, the cell read this year or the previous year."""

    coef: int
    ref: str  # "t3.new.natural"
    prev: bool = False
    is_zero: bool = False  # use 1 if the value is 0 else 0 (for 一为0一不为0 checks)

    def encode(self) -> list[int | str]:
        ref = f"prev:{self.ref}" if self.prev else self.ref
        return [self.coef, f"is_zero({ref})" if self.is_zero else ref]

    @classmethod
    def decode(cls, raw: list[int | str]) -> Term:
        coef, ref = int(raw[0]), str(raw[1])
        is_zero = ref.startswith("is_zero(")
        if is_zero:
            ref = ref[len("is_zero(") : -1]
        prev = ref.startswith("prev:")
        return cls(coef, ref.removeprefix("prev:"), prev, is_zero)


@dataclass(frozen=True)
class Instance:
    """Where an identity is checked, for messages and findings, and its terms."""

    table: str
    row: str | None
    column: str | None
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class CellPattern:
    tables: tuple[str, ...]
    kinds: tuple[Kind, ...] = tuple(Kind)
    regex: str | None = None  # None: the cell must be present


@dataclass(frozen=True)
class Identity:
    relation: str  # "==" or ">="
    instances: Callable[[Format], list[Instance]]
    same_format_prev: bool = False  # skip when last year's report used another version


@dataclass(frozen=True)
class ProsePattern:
    field: str  # "headings", "text" (preamble and every section), "sec1" ... "sec6"
    regex: str | None = None  # None (and no `forbid`): the field must equal the official headings
    forbid: str | None = None  # a pattern that must occur nowhere in the field (findings point at its line)

    @property
    def pattern(self) -> str | None:
        """The regex GX matches (`re.search`): `forbid` as a lookahead that fails wherever it occurs."""
        return rf"^(?![\s\S]*(?:{self.forbid}))" if self.forbid else self.regex


@dataclass(frozen=True)
class TableFilled:
    table: str  # at least one data cell of this table is reported (not blank)


@dataclass(frozen=True)
class LabelsExact:
    pass


@dataclass(frozen=True)
class ProseFigure:
    """A figure the prose states that a table holds: a phrase (a regex whose `{N}` is the number, written in
    ASCII, full-width or Chinese digits) and the cells whose sum it must equal. Compared in Python
    (`nianbao.prose_figures`), not by great-expectations: a frame of phrases per report would cost more than
    it checks."""

    what: str  # the figure in the table's words, for the message
    pattern: str
    refs: tuple[str, ...]


Check = CellPattern | Identity | ProsePattern | TableFilled | LabelsExact | ProseFigure


@dataclass(frozen=True)
class Rule:
    id: str
    versions: tuple[str, ...]
    status: str  # the FORMAT.md tag: N, L, P, N?
    message: str
    checks: tuple[Check, ...]
    soft: bool = False

    @property
    def severity(self) -> Severity:
        critical = self.status in ("N", "L") and not self.soft
        return Severity.CRITICAL if critical else Severity.WARNING

    def applies_to(self, fmt: Format) -> bool:
        return fmt.id in self.versions


BOTH = ("F2019", "F2021")
T3_INNER = ("new", "carry_in", "total", "carry_out")


def _t3_balance(fmt: Format) -> list[Instance]:
    return [
        Instance("t3", None, c, (Term(1, f"t3.new.{c}"), Term(1, f"t3.carry_in.{c}"),
                                 Term(-1, f"t3.total.{c}"), Term(-1, f"t3.carry_out.{c}")))
        for c in fmt.table("t3").columns
    ]


def _t3_outcome_sum(fmt: Format) -> list[Instance]:
    t3 = fmt.table("t3")
    leaves = [r for r in t3.rows if r not in T3_INNER]
    return [
        Instance("t3", "total", c, (Term(1, f"t3.total.{c}"), *(Term(-1, f"t3.{r}.{c}") for r in leaves)))
        for c in t3.columns
    ]


def _row_sum(table: str) -> Callable[[Format], list[Instance]]:
    """总计 of each row equals the sum of the row's other columns."""

    def instances(fmt: Format) -> list[Instance]:
        t = fmt.table(table)
        parts = [c for c in t.columns if c != "total"]
        return [
            Instance(table, r, "total", (Term(1, f"{table}.{r}.total"),
                                         *(Term(-1, f"{table}.{r}.{c}") for c in parts)))
            for r in t.rows
        ]

    return instances


def _t3_xyear(fmt: Format) -> list[Instance]:
    return [
        Instance("t3", "carry_in", c, (Term(1, f"t3.carry_in.{c}"), Term(-1, f"t3.carry_out.{c}", prev=True)))
        for c in fmt.table("t3").columns
    ]


def _t2_rows_with(fmt: Format, *columns: str) -> list[str]:
    """The table-二 rows that have every one of `columns` in this version."""
    keys = set(fmt.table("t2").cell_keys())
    return [r for r in fmt.table("t2").rows if all((r, c) in keys for c in columns)]


def _t2_delta_floor(fmt: Format) -> list[Instance]:
    return [
        Instance("t2", r, "delta", (Term(1, f"t2.{r}.prev_items"), Term(1, f"t2.{r}.delta")))
        for r in _t2_rows_with(fmt, "prev_items", "delta")
    ]


def _t2_proj_xyear(fmt: Format) -> list[Instance]:
    return [
        Instance("t2", r, "prev_items", (Term(1, f"t2.{r}.prev_items"), Term(-1, f"t2.{r}.prev_items", prev=True),
                                         Term(-1, f"t2.{r}.delta", prev=True)))
        for r in _t2_rows_with(fmt, "prev_items", "delta")
    ]


def _t2_pub_le_total(fmt: Format) -> list[Instance]:
    return [
        Instance("t2", r, "published", (Term(1, f"t2.{r}.public_total"), Term(-1, f"t2.{r}.published")))
        for r in _t2_rows_with(fmt, "published", "public_total")
    ]


def _t2_proc_zero(fmt: Format) -> list[Instance]:
    return [
        Instance("t2", r, "amount", (Term(1, f"t2.{r}.count", is_zero=True), Term(-1, f"t2.{r}.amount", is_zero=True)))
        for r in _t2_rows_with(fmt, "count", "amount")
    ]


def _t2_valid_xyear(fmt: Format) -> list[Instance]:
    return [
        Instance("t2", r, "valid", (Term(1, f"t2.{r}.valid"), Term(-1, f"t2.{r}.valid", prev=True),
                                    Term(-1, f"t2.{r}.issued"), Term(1, f"t2.{r}.repealed")))
        for r in _t2_rows_with(fmt, "issued", "repealed", "valid")
    ]


def _t2_repeal_le(fmt: Format) -> list[Instance]:
    return [
        Instance("t2", r, "repealed", (Term(1, f"t2.{r}.valid", prev=True), Term(1, f"t2.{r}.issued"),
                                       Term(-1, f"t2.{r}.repealed")))
        for r in _t2_rows_with(fmt, "issued", "repealed", "valid")
    ]


_APPLICATIONS = r"(?:各类|群众|公民)?(?:政府信息公开|依申请公开)?申请"
_TOTAL = r"(?:共计|合计|总计|共|为)?"
# Figures that reports' prose commonly states (part 一 or 三), as the third-party checkers compare them. Only
# figures a table holds: "主动公开政府信息N条" counts all information, table 二 only documents.
PROSE_FIGURES: tuple[ProseFigure, ...] = (
    ProseFigure("本年新收申请", rf"(?:新收|收到|受理){_APPLICATIONS}{_TOTAL}{{N}}(?:件|条|个|份|宗)",
                ("t3.new.total",)),
    ProseFigure("上年结转申请", rf"上年结转(?:政府信息公开申请|申请)?{_TOTAL}{{N}}件", ("t3.carry_in.total",)),
    ProseFigure("结转下年度继续办理", rf"结转下年度(?:继续办理)?{_TOTAL}{{N}}件", ("t3.carry_out.total",)),
    ProseFigure("办理结果（七）总计", rf"(?:办结|答复|办理完毕|办理结果总计)(?:政府信息公开申请|申请)?{_TOTAL}{{N}}件",
                ("t3.total.total",)),
    ProseFigure("予以公开", rf"予以公开{_TOTAL}{{N}}件", ("t3.open.total",)),
    ProseFigure("行政复议总计", rf"(?:行政复议|复议申请)(?:案件)?{_TOTAL}{{N}}(?:件|起)", ("t4.review.total",)),
    ProseFigure("行政诉讼总计（直接起诉与复议后起诉）", rf"行政诉讼(?:案件)?{_TOTAL}{{N}}(?:件|起)",
                ("t4.direct.total", "t4.after_review.total")),
    ProseFigure("本年收费金额", rf"(?:行政事业性收费|收费金额)(?:金额)?{_TOTAL}{{N}}万元", ("t2.fees.amount",)),
)

# What `nianbao new` writes into the prose sections for the analyst to replace (scaffold.NARRATIVE_HINT).
SKELETON_MARK = "请在此填写"
# Braces left after the placeholders were filled: an unbalanced `{{ t3.new.total }`, a nested `{{ {{ year }} }}`;
# full-width braces `｛｛ t3.new.total ｝｝` (typed with a Chinese input method) and a template tag `{% … %}`, which
# are no placeholders either and would be printed as typed.
MALFORMED_PLACEHOLDER = r"\{\{|\}\}|｛｛|｝｝|\{%|%\}"

RULES: tuple[Rule, ...] = (
    Rule("SEC-HEADINGS", BOTH, "N",
         "报告须依次包含“一、总体情况”至“六、其他需要报告的事项”六部分，标题缺失或顺序有误",
         (ProsePattern("headings"),)),
    Rule("SEC1-SCOPE", ("F2021",), "N",
         "总体情况应涵盖主动公开、依申请公开、政府信息管理、平台建设、监督保障五个方面",
         (ProsePattern("sec1", r"(?s)^(?=.*主动公开)(?=.*依申请公开)(?=.*信息管理)(?=.*平台)(?=.*监督保障)"),),
         soft=True),
    Rule("SEC5-PREV", ("F2021",), "N?", "第五部分应说明上一年度报告所列问题的整改情况",
         (ProsePattern("sec5", r"(?s)(?:整改|上一年度|上年度)"),), soft=True),
    Rule("SEC6-FEE", ("F2021",), "N?", "第六部分应说明信息处理费收取情况（发出收费通知件数和金额、实际收取金额）",
         (ProsePattern("sec6", r"(?s)(?:信息处理费|收费)"),), soft=True),
    # Critical [N]: FORMAT.md §2 has the notice require each part's content, and its responsibility clause
    # （四）明确责任 punishes 发布内容不准确不全面; a hint to the analyst printed as the office's report is both.
    Rule("SEC-SKELETON", BOTH, "N", f"正文仍留有模板提示文字（“{SKELETON_MARK}……”），须替换为本机关的实际情况",
         (ProsePattern("text", forbid=SKELETON_MARK),)),
    # Critical [N]: §2 makes 一、五、六 prose parts (一 is the 综述 the notice asks for, 五 and 六 state what the
    # notice lists); an empty part is a report that does not say what the notice requires.
    Rule("SEC-EMPTY", BOTH, "N", "“{部分}”须有正文，不得留空（无事项可报告的，写明“无。”）",
         tuple(ProsePattern(f"sec{i}", r"\S") for i in (1, 5, 6))),
    # Critical [L]: §3–§5 print tables 二、三、四 as part of every report; a table with no figure at all is a
    # missing table, not a table of zeros (§6: the generator writes an explicit 0, never a blank).
    Rule("TABLE-BLANK", BOTH, "L", "{表}全部单元格为空，未填报数据（无数据应填写0）",
         tuple(TableFilled(t) for t in ("t2", "t3", "t4"))),
    # Critical [N]: a malformed placeholder is printed as braces in the published text, content that is not
    # accurate (§2, （四）明确责任), and the figure it meant to state is missing.
    Rule("PLACEHOLDER-MALFORMED", BOTH, "N", "正文中的占位符格式有误（花括号不成对或嵌套、用了全角花括号｛｛ ｝｝"
         "或 {% %}），会原样印出；应写作 {{ t3.new.total }} 这样的形式（半角花括号）",
         (ProsePattern("text", forbid=MALFORMED_PLACEHOLDER),)),
    # Warning [P]: the prose restating a table's figure is practice; "Figures in a report come from data" makes
    # a contradiction a sign of prose typed twice (or kept from last year), for the analyst to check.
    Rule("PROSE-TABLE", BOTH, "P", "正文所述数字与表格不一致：{说明}", PROSE_FIGURES),
    Rule("CELL-FILLED", BOTH, "P", "表格数据单元格不得留空或填“-”，无数据应填写0",
         (CellPattern(("t2", "t3", "t4")),)),
    Rule("LABEL-EXACT", BOTH, "L", "表格栏目名称须与国办规定格式一致（如“行政规范性文件”“本年制发件数”）",
         (LabelsExact(),)),
    Rule("T2-INT", BOTH, "L", "表二数量须为非负整数（“本年增/减”可为负整数）",
         (CellPattern(("t2",), (Kind.COUNT,), COUNT_RE), CellPattern(("t2",), (Kind.SIGNED,), SIGNED_RE))),
    Rule("T2-AMT", BOTH, "L", "金额须为非负数，单位为万元", (CellPattern(("t2",), (Kind.AMOUNT,), AMOUNT_RE),)),
    Rule("T2-AMT-DEC", BOTH, "P", "金额建议最多保留4位小数（精确到元）",
         (CellPattern(("t2",), (Kind.AMOUNT,), AMOUNT_DEC_RE),)),
    Rule("T2-DELTA-FLOOR", ("F2019",), "P", "上一年项目数量加本年增减后为负数，数据有误",
         (Identity(">=", _t2_delta_floor),)),
    Rule("T2-PROJ-XYEAR", ("F2019",), "P", "本年“上一年项目数量”与上年报告“上一年项目数量+本年增/减”不一致",
         (Identity("==", _t2_proj_xyear, same_format_prev=True),), soft=True),
    Rule("T2-PUB-LE-TOTAL", ("F2019",), "P", "本年新公开数量不应大于对外公开总数量",
         (Identity(">=", _t2_pub_le_total),)),
    Rule("T2-PROC-ZERO", ("F2019",), "P", "政府集中采购项目数量与采购总金额不匹配（一为0一不为0）",
         (Identity("==", _t2_proc_zero),)),
    Rule("T2-VALID-XYEAR", ("F2021",), "P", "现行有效件数与“上年现行有效件数+本年制发−本年废止”不一致，请核实",
         (Identity("==", _t2_valid_xyear, same_format_prev=True),), soft=True),
    Rule("T2-REPEAL-LE", ("F2021",), "P", "本年废止件数超过上年现行有效件数与本年制发件数之和",
         (Identity(">=", _t2_repeal_le, same_format_prev=True),), soft=True),
    Rule("T3-INT", BOTH, "L", "表三数据须为非负整数", (CellPattern(("t3",), (Kind.COUNT,), COUNT_RE),)),
    Rule("T3-BALANCE", BOTH, "N", "表三{列}不满足勾稽关系：本年新收+上年结转≠办理结果总计+结转下年度",
         (Identity("==", _t3_balance),)),
    Rule("T3-OUTCOME-SUM", BOTH, "L", "表三{列}“（七）总计”不等于各项办理结果之和",
         (Identity("==", _t3_outcome_sum),)),
    Rule("T3-ROWSUM", BOTH, "L", "表三“{行}”总计列不等于自然人与各类法人或其他组织之和",
         (Identity("==", _row_sum("t3")),)),
    Rule("T3-XYEAR", BOTH, "P", "本年“上年结转”与上年报告“结转下年度继续办理”不一致（{列}）",
         (Identity("==", _t3_xyear),)),
    Rule("T4-INT", BOTH, "L", "表四数据须为非负整数", (CellPattern(("t4",), (Kind.COUNT,), COUNT_RE),)),
    Rule("T4-GROUPSUM", BOTH, "L", "表四“{组}”总计不等于结果维持、结果纠正、其他结果、尚未审结之和",
         (Identity("==", _row_sum("t4")),)),
)


def rule(rule_id: str) -> Rule:
    for r in RULES:
        if r.id == rule_id:
            return r
    raise KeyError(rule_id)
