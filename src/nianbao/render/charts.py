"""Charts of the overview: matplotlib figures written as inline SVG.

The text stays text (`svg.fonttype: none`): the reader's browser draws the Chinese labels with its own fonts,
so the page needs no font from the machine that made it, and prints sharp. The SVG is a function of the
data: ids come from a fixed salt (`svg.hashsalt`), and no date or creator metadata is written. So a chart is
kept by the digest of what it draws (`KeptCharts`) and drawn again only when that changes: matplotlib takes
0.1–0.3 s a chart, and a figure changed in one year changes few of the later years' charts.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

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


@cache
def _matplotlib() -> tuple[Any, Any]:
    """matplotlib's `rc_context` and `Figure`, imported on the first chart. In a batch kernel its ~2·10⁵ objects
    are then frozen (`gc.freeze`): they live as long as the kernel, and the reset after each notebook walked
    them all again (~0.2 s after the first page that draws). The page's objects made so far are frozen with them,
    which only exempts them from collection: they go when nothing refers to them, as the page's data does."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    from ..kernel import batch_kernel

    if batch_kernel():
        import gc

        gc.freeze()
    return rc_context, Figure


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
    rc_context, Figure = _matplotlib()
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


KEPT_CHARTS = 1  # the layout of a kept charts file


@cache
def _drawer() -> str:
    """What draws a chart, besides its data: this module's code (`STYLE` and `trend_chart` included) and
    matplotlib's version."""
    try:
        matplotlib = version("matplotlib")
    except PackageNotFoundError:
        matplotlib = ""
    return hashlib.sha256(Path(__file__).read_bytes() + f"\0{matplotlib}".encode()).hexdigest()


def chart_digest(title: str, years: Sequence[int], bars: Mapping[str, Mapping[int, Decimal]] | None = None,
                 lines: Mapping[str, Mapping[int, Decimal]] | None = None, unit: str = "件") -> str:
    """The digest of what `trend_chart` draws with these arguments: the numbers as it plots them (floats; a
    bar's missing year as 0, a line's as a gap), the names in their order, the titles, and `_drawer()`."""
    drawn = [title, list(years), unit,
             [(name, [float(series.get(y, 0)) for y in years]) for name, series in (bars or {}).items()],
             [(name, [(y, float(series[y])) for y in years if y in series]) for name, series in (lines or {}).items()]]
    text = json.dumps([KEPT_CHARTS, _drawer(), drawn], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class KeptCharts:
    """The charts of one page as last drawn, by `chart_digest`, in a JSON file (`path`; None: kept nowhere), and
    the other parts of the page that its maker keeps by the digest of what they show (`part`). `chart()` draws
    only a chart whose digest is not there; `save()` then keeps what the page drew and made, and only that. A
    file that is missing, unreadable or of another layout means drawing and making again; a read-only folder
    means not keeping."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.kept: dict[str, str] = {}
        self.used: dict[str, str] = {}
        self.kept_parts: dict[str, list] = {}  # name → [digest, value]
        self.used_parts: dict[str, list] = {}
        self.drawn = 0  # how many `chart()` had to draw
        self.made = 0  # how many `part()` had to make
        self.saved = False  # `save()` was called
        try:
            found = json.loads(path.read_text(encoding="utf-8")) if path else {}
            if found.get("layout") == KEPT_CHARTS and isinstance(found.get("charts"), dict):
                self.kept = {k: v for k, v in found["charts"].items() if isinstance(v, str)}
                parts = found.get("parts")
                if isinstance(parts, dict):
                    self.kept_parts = {k: v for k, v in parts.items() if isinstance(v, list) and len(v) == 2
                                       and isinstance(v[0], str)}
        except (OSError, ValueError, AttributeError):
            pass
        self._held = (self.kept, self.kept_parts)  # what the file holds

    def part(self, name: str, digest: str, make: Callable[[], Any]) -> Any:
        """`make()` (a JSON value: what its JSON gives back is what it gave), or the value kept under `name` when
        it was made for the same `digest` (the digest of all it depends on, the code that makes it included)."""
        found = self.used_parts.get(name) or self.kept_parts.get(name)
        if found is not None and found[0] == digest:
            value = found[1]
        else:
            value = make()
            self.made += 1
        self.used_parts[name] = [digest, value]
        if self.saved:  # asked for after the page was kept: keep it too
            self.save()
        return value

    def chart(self, title: str, years: Sequence[int], bars: Mapping[str, Mapping[int, Decimal]] | None = None,
              lines: Mapping[str, Mapping[int, Decimal]] | None = None, unit: str = "件") -> str:
        """`trend_chart(title, years, bars, lines, unit)`, as kept when its digest is."""
        digest = chart_digest(title, years, bars, lines, unit)
        svg = self.kept.get(digest)
        if svg is None:
            svg = trend_chart(title, years, bars, lines, unit)
            self.drawn += 1
        self.used[digest] = svg
        return svg

    def save(self) -> None:
        self.saved = True
        if self.path is None or (self.used, self.used_parts) == self._held:
            return
        from ..atomic import write_files

        try:
            write_files({self.path: json.dumps({"layout": KEPT_CHARTS, "charts": self.used, "parts": self.used_parts},
                                               ensure_ascii=False)})
            self._held = (dict(self.used), dict(self.used_parts))
        except OSError:
            pass  # a read-only outputs/: drawn again next time
