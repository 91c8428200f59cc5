"""F2021: report years 2021 on (国办公开办函〔2021〕30号; FORMAT.md §3.2, §4)."""

from .common import HEADINGS, Col, table2, table3, table4
from .model import Format, Kind

_DECISIONS = [Col("decisions", "本年处理决定数量", span=3)]

F2021 = Format(
    id="F2021",
    first_year=2021,
    last_year=None,
    headings=HEADINGS,
    tables=(
        table2(
            (
                "第二十条第（一）项",
                [Col("issued", "本年制发件数"), Col("repealed", "本年废止件数"), Col("valid", "现行有效件数")],
                # Some F2021 reports still print F2019's "规范性文件" (FORMAT.md §11).
                [("rules", "规章"), ("normative", "行政规范性文件", ("规范性文件",))],
            ),
            ("第二十条第（五）项", _DECISIONS, [("license", "行政许可")]),
            ("第二十条第（六）项", _DECISIONS, [("penalty", "行政处罚"), ("coercion", "行政强制")]),
            (
                "第二十条第（八）项",
                [Col("amount", "本年收费金额（单位：万元）", Kind.AMOUNT, span=3)],
                [("fees", "行政事业性收费")],
            ),
        ),
        table3(
            (
                "（六）其他处理",
                [
                    # `，` for `、` circulates too, and which one the notice prints is not settled (FORMAT.md §9.3).
                    ("other_1", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
                     ("1.申请人无正当理由逾期不补正，行政机关不再处理其政府信息公开申请",)),
                    ("other_2", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
                     ("2.申请人逾期未按收费通知要求缴纳费用，行政机关不再处理其政府信息公开申请",)),
                    ("other_3", "3.其他"),
                ],
            )
        ),
        table4(),
    ),
)
