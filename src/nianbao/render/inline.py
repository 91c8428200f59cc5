"""Inline styles for the report's HTML, so that it shows as published wherever it is displayed.

JupyterLab styles tables of its own (right-aligned cells, zebra rows, no borders) with selectors that a
report's `<style>` must out-rank, and it drops `<style>` altogether from an untrusted notebook (one opened
after it was executed elsewhere). A `style` attribute wins over any selector and survives JupyterLab's
sanitizer as long as each declaration is one it allows (plain lengths, hex colours, quoted font names, no
`!important`, no CSS variables). The stylesheet (report.css) keeps what inline styles cannot say: print,
phone widths, hover.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

SERIF = "'FangSong','仿宋','STFangsong','Noto Serif CJK SC','Source Han Serif SC','Songti SC','SimSun',serif"
SONG = ("'FZXiaoBiaoSong-B05S','方正小标宋简体','STZhongsong','华文中宋','Noto Serif CJK SC','Source Han Serif SC',"
        "'Songti SC','SimSun',serif")
SANS = "'SimHei','黑体','Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
CELL = ("border:1px solid #333333;padding:4px 5px;vertical-align:middle;background-color:#ffffff;color:#111111;"
        "line-height:1.4")

# (tag, class the element must have or None, declarations); every matching rule applies, in order.
RULES: tuple[tuple[str, str | None, str], ...] = (
    ("article", "nianbao-report", f"font-family:{SERIF};font-size:12pt;line-height:1.75;color:#111111;"
                                  "text-align:left"),
    ("h1", None, f"font-family:{SONG};font-size:22pt;font-weight:bold;text-align:center;line-height:1.45;"
                 "margin:0 0 1.2em 0;word-break:keep-all"),
    ("h2", None, f"font-family:{SANS};font-size:14pt;font-weight:bold;margin:1.6em 0 0.6em 0"),
    ("p", None, "text-indent:2em;margin:0.4em 0;text-align:left"),
    ("table", None, "border-collapse:collapse;width:100%;font-size:10.5pt;table-layout:auto;margin:0"),
    ("table", "nb-t4", "font-size:10pt"),
    ("th", None, f"{CELL};font-weight:normal;text-align:center"),
    ("th", "caption", "font-weight:bold;background-color:#f2f2f2"),
    ("th", "row", "text-align:left"),
    ("th", "nb-keep", "word-break:keep-all"),
    ("th", "corner", "font-size:9pt"),
    ("td", None, f"{CELL};text-align:center"),
    ("td", "num", "white-space:nowrap"),
    ("td", "txt", "text-align:left;font-size:9.5pt"),
    ("td", "warning", "background-color:#fff4d6"),
    ("td", "critical", "background-color:#fde0e0;color:#8a0000;font-weight:bold"),
    ("td", "nb-suspect", "outline:3px solid #cc0000"),
    ("sup", "nb-note", "font-size:7pt;font-weight:normal;color:#aa0000"),
    ("div", "nb-scroll", "overflow-x:auto"),
)
_OPEN = re.compile(r"<(article|h1|h2|p|table|th|td|sup|div)\b([^>]*)>")
_CLASS = re.compile(r'\bclass="([^"]*)"')


@lru_cache(maxsize=1024)
def _styled_tag(tag: str, attrs: str) -> str:
    """One opening tag with its declarations inline. A report repeats a few dozen distinct tags (`<td
    class="num">`) hundreds of times: each is worked out once."""
    found = _CLASS.search(attrs)
    classes = set(found.group(1).split()) if found else set()
    style = ";".join(css for t, cls, css in RULES if t == tag and (cls is None or cls in classes))
    return f'<{tag}{attrs} style="{style}">' if style else f"<{tag}{attrs}>"


def inline_styles(html: str) -> str:
    """`html` (nianbao's own markup, no `style` attributes yet) with each element's declarations inline."""
    return _OPEN.sub(lambda m: _styled_tag(m.group(1), m.group(2)), html)


_STYLE_ATTR = re.compile(r' style="[^"]*"')


def strip_inline(html: str) -> str:
    """`html` without the inline styles `inline_styles` added: the published page has its stylesheet, and
    stays small (nianbao's markup has no other `style` attribute: prose is Markdown with HTML escaped)."""
    return _STYLE_ATTR.sub("", html)


# Output metadata of a display whose inline styles are still to be added (a batch kernel leaves them to the
# worker that runs it: the page is rendered without them, and the kernel ships a third of the bytes).
LATER = "nianbao-inline-later"


def inline_later(nb: Any) -> None:
    """Add the inline styles that a batch kernel left out to `nb`'s outputs (in place), so that its executed
    notebook is the one `nianbao run` or JupyterLab makes."""
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            meta = output.get("metadata")
            if meta and meta.pop(LATER, False) and "text/html" in output.get("data", {}):
                output["data"]["text/html"] = inline_styles(output["data"]["text/html"])
