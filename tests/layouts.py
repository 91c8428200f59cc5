"""Layouts real offices print, made from our own rendered pages: each function takes a report page (HTML
from `nianbao.render.report_html`) and returns it laid out as some office does."""

from __future__ import annotations

import re

from nianbao.formats.common import T4_COLUMNS, T4_GROUPS

NUMERALS = "一二三四五六七"


def _table(html: str, name: str) -> re.Match[str]:
    m = re.search(rf'<table class="nb-table nb-{name}">.*?</table>', html, re.S)
    assert m, name
    return m


def heading_misnumbered(html: str) -> str:
    """One heading with the wrong number: `三、主动公开政府信息情况` where 二 belongs."""
    out = html.replace("<h2>二、主动公开", "<h2>三、主动公开")
    assert out != html
    return out


def headings_shifted(html: str) -> str:
    """All six parts after 一 numbered one too high (一、三、四、五、六、七)."""
    def shift(m: re.Match[str]) -> str:
        n = NUMERALS.index(m.group(1))
        return f"<h2>{NUMERALS[n + 1] if n else m.group(1)}、"
    return re.sub(r"<h2>([一二三四五六])、", shift, html)


def headings_own_scheme(html: str) -> str:
    """An office's own numbering: `第二部分 主动公开政府信息情况`."""
    return re.sub(r"<h2>([一二三四五六])、", lambda m: f"<h2>第{m.group(1)}部分　", html)


METADATA = ('<table class="meta"><tr><td>索引号</td><td>000014349/2024-00012</td><td>发布机构</td>'
            '<td>示例区人民政府办公室</td></tr><tr><td>生成日期</td><td>2025-01-20</td><td>公开方式</td>'
            '<td>主动公开</td></tr></table>')


def metadata_table(html: str) -> str:
    """A site's metadata table (索引号, 发布机构, …) above the report, and again before table 二."""
    html = html.replace("</h1>", "</h1>" + METADATA, 1)
    return html.replace('<table class="nb-table nb-t2">', METADATA + '<table class="nb-table nb-t2">', 1)


def _rows(table_html: str) -> list[str]:
    return re.findall(r"<tr>.*?</tr>", table_html, re.S)


def table3_split_by_group(html: str) -> str:
    """Table 三 as one table per group of outcomes, each with the header rows again."""
    m = _table(html, "t3")
    rows = _rows(m.group())
    head, body = rows[:3], rows[3:]
    pieces, current = [], []
    for row in body:
        if re.search(r">（[一二三四五六七]）|>四、结转", row) and current:
            pieces.append(current)
            current = []
        current.append(row)
    pieces.append(current)
    tables = "".join(f'<table class="nb-table">{"".join(head + p)}</table>' for p in pieces)
    return html[:m.start()] + tables + html[m.end():]


def table4_as_three(html: str, values: dict[str, str | None]) -> str:
    """Table 四 as three 5-column tables, each with its own header rows."""
    m = _table(html, "t4")
    tables = []
    for group, label in T4_GROUPS.items():
        head = "" if group == "review" else '<tr><th colspan="5">行政诉讼</th></tr>'
        head += f'<tr><th colspan="5">{label}</th></tr>'
        labels = "".join(f"<th>{t}</th>" for t in T4_COLUMNS.values())
        cells = "".join(f'<td>{values[f"t4.{group}.{c}"] or ""}</td>' for c in T4_COLUMNS)
        tables.append(f"<table>{head}<tr>{labels}</tr><tr>{cells}</tr></table>")
    return html[:m.start()] + "".join(tables) + html[m.end():]


def group_label_split_by_page_break(html: str) -> str:
    """Table 三 broken inside the （四） group: `（四）无` above the break, `法提供` in the next table's first row."""
    m = _table(html, "t3")
    rows = _rows(m.group())
    at = next(i for i, r in enumerate(rows) if "（四）无法提供" in r)
    first = rows[:at + 1]
    first[-1] = first[-1].replace("（四）无法提供", "（四）无")
    rest = rows[at + 1:]
    rest[0] = rest[0].replace("<tr>", '<tr><th class="row"></th><th class="row">法提供</th>', 1)
    return (html[:m.start()] + f'<table class="nb-table">{"".join(first)}</table>'
            f'<p>- 4 -</p><table class="nb-table">{"".join(rest)}</table>' + html[m.end():])


def sub_rows_numbered_with_dun(html: str) -> str:
    """Sub-rows numbered `1、` instead of `1.`."""
    return re.sub(r'(<th class="row" scope="row">)(\d)\.', r"\1\2、", html)


def stray_spaces(html: str) -> str:
    """Spaces inside labels, as PDF exports and Word pages leave them."""
    out = html.replace("第二十条第（一）项", "第二十条 第（一）项").replace(">结果维持<", ">结 果维持<")
    return out.replace("只计这一情形", "只计这一情 形")


def label_slips(html: str) -> str:
    """A slip in a row label (OCR or typing): `其他法律行政止公开`."""
    out = html.replace("2.其他法律行政法规禁止公开", "2.其他法律行政止公开")
    assert out != html
    return out


def single_other_row(html: str, values: dict[str, str | None]) -> str:
    """An F2021 report printing F2019's single row `（六）其他处理` instead of its three sub-rows, with the
    sub-rows' sums."""
    m = _table(html, "t3")
    rows = _rows(m.group())
    at = [i for i, r in enumerate(rows) if "行政机关不再处理" in r or ">3.其他<" in r]
    assert len(at) == 3
    columns = ("natural", "business", "research", "public_interest", "legal_services", "other_org", "total")
    sums = [str(sum(int(values[f"t3.other_{n}.{c}"] or 0) for n in (1, 2, 3))) for c in columns]
    row = ('<tr><th class="row" scope="row" colspan="2">（六）其他处理</th>'
           + "".join(f'<td class="num">{v}</td>' for v in sums) + "</tr>")
    rows = [*rows[:at[0]], row, *rows[at[-1] + 1:]]
    table = re.sub(r'rowspan="(\d+)">三、本年度办理结果',
                   lambda x: f'rowspan="{int(x.group(1)) - 2}">三、本年度办理结果', "".join(rows))
    return html[:m.start()] + f'<table class="nb-table nb-t3">{table}</table>' + html[m.end():]
