"""F2019: report years 2019–2020 (国办公开办函〔2019〕60号; FORMAT.md §3.1, §4)."""

from .common import HEADINGS, Col, table2, table3, table4
from .model import Format, Kind

_ITEMS = [Col("prev_items", "上一年项目数量"), Col("delta", "本年增/减", Kind.SIGNED), Col("decisions", "处理决定数量")]

F2019 = Format(
    id="F2019",
    first_year=2019,
    last_year=2020,
    headings=HEADINGS,
    tables=(
        table2(
            (
                "第二十条第（一）项",
                [Col("made", "本年新制作数量"), Col("published", "本年新公开数量"),
                 Col("public_total", "对外公开总数量")],
                [("rules", "规章"), ("normative", "规范性文件")],
            ),
            ("第二十条第（五）项", _ITEMS, [("license", "行政许可"), ("other_services", "其他对外管理服务事项")]),
            ("第二十条第（六）项", _ITEMS, [("penalty", "行政处罚"), ("coercion", "行政强制")]),
            (
                "第二十条第（八）项",
                [Col("prev_items", "上一年项目数量"), Col("delta", "本年增/减", Kind.SIGNED, span=2)],
                [("fees", "行政事业性收费")],
            ),
            (
                "第二十条第（九）项",
                [
                    Col("count", "采购项目数量"),
                    # The national label is uncertain (FORMAT.md §9.2); the seed's locality prints the unit.
                    Col("amount", "采购总金额（单位：万元）", Kind.AMOUNT, span=2,
                        label_key="t2.procurement.amount", variants=("采购总金额",)),
                ],
                [("procurement", "政府集中采购")],
            ),
        ),
        table3(("（六）其他处理", [("other", "")])),
        table4(),
    ),
)
