"""Charts of the overview: matplotlib figures written as inline SVG.

The text stays text (`svg.fonttype: none`): the reader's browser draws the Chinese labels with its own fonts,
so the page needs no font from the machine that made it, and prints sharp. The SVG is a function of the
data: ids come from a fixed salt (`svg.hashsalt`), and no date or creator metadata is written.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Mapping, Sequence
from decimal import Decimal

FORMAT_CHANGE = 2021  # the first year of F2019's successor, F2021 (国办公开办函〔2021〕30号)
# Fonts the reader's browser tries, in order; matplotlib measures with the first one it finds.
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "SimHei", "WenQuanYi Micro Hei",
         "DejaVu Sans"]
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "nianbao",
    "font.family": "sans-serif",
    "font.sans-serif": FONTS,
    "font.size": 9,
    "axes.unicode_minus": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": "cycler(color=['#2f5d8a', '#e07b39', '#6a9f58', '#b0413e', '#8c6bb1', '#999999'])",
}
_HEAD = re.compile(r"\A.*?(?=<svg)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _METADATA.sub("", _HEAD.sub("", buffer.getvalue()), count=1)
    # Scale with the page: the viewBox keeps the proportions.
    return _SIZE.sub(r'<svg\1 class="nb-chart" role="img"', svg, count=1)


def _mark_format_change(ax, years: Sequence[int]) -> None:
    if years and years[0] < FORMAT_CHANGE <= years[-1]:
        ax.axvline(FORMAT_CHANGE - 0.5, color="#555555", linestyle="--", linewidth=0.8)
        ax.annotate("2021年起执行新格式", xy=(FORMAT_CHANGE - 0.5, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -2), textcoords="offset points", va="top", fontsize=8, color="#555555")


def trend_chart(title: str, years: Sequence[int], bars: Mapping[str, Mapping[int, Decimal]] | None = None,
                lines: Mapping[str, Mapping[int, Decimal]] | None = None, unit: str = "件") -> str:
    """One chart as an inline `<svg>` element: `bars` stacked per year, `lines` drawn over them (name → year →
    value; a year without a value is a gap), the 2021 format change marked."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    bars, lines = bars or {}, lines or {}
    with rc_context(STYLE), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph the measuring font lacks: the browser draws it anyway
        figure = Figure(figsize=(7.2, 3.0))
        ax = figure.add_subplot()
        bottom = [0.0] * len(years)
        for name, series in bars.items():
            heights = [float(series.get(y, 0)) for y in years]
            ax.bar(years, heights, bottom=bottom, label=name, width=0.6)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        for name, series in lines.items():
            shown = [y for y in years if y in series]
            style = "-" if len(shown) == len(years) else ":"
            ax.plot(shown, [float(series[y]) for y in shown], marker="o", markersize=3.5, linestyle=style,
                    label=name)
        ax.set_title(title, loc="left", fontsize=10.5, fontweight="bold")
        ax.set_ylabel(unit)
        ax.set_xticks(list(years), [str(y) for y in years])
        if years:
            ax.set_xlim(years[0] - 0.6, years[-1] + 0.6)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        _mark_format_change(ax, years)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
        figure.subplots_adjust(left=0.08, right=0.76, top=0.86, bottom=0.12)
        return _svg(figure)
