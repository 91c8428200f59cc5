"""Layouts real offices print, made from our own pages over random valid data of both formats (render, then
transform): misnumbered headings, metadata tables, tables split into several with their own headers, a
group label split by a page break, `1、` sub-rows, stray spaces, slips in labels, and F2019's single （六）
row in an F2021 report. Each is read to the same figures (or, for the （六） row, to what it holds), and the
audit reports the layout where the format's rules do."""

from __future__ import annotations

import random

import layouts
import pytest
from forms import synthetic_project
from htmltext import flatten
from test_published import write

from nianbao.audit import audit
from nianbao.params import list_reports
from nianbao.published.reader import read_published
from nianbao.render import report_html
from nianbao.report import load_report

SAME_FIGURES = {  # layout → whether a `|` text copy of it keeps its three tables (flatten needs them)
    "heading_misnumbered": True, "headings_shifted": True, "headings_own_scheme": True, "metadata_table": False,
    "table3_split_by_group": False, "table4_as_three": False, "group_label_split_by_page_break": False,
    "sub_rows_numbered_with_dun": True, "stray_spaces": True, "label_slips": True,
}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_project(tmp_path_factory, seed=31)


def pick(project, seed: int, version: str):
    rng = random.Random(seed)
    office, year = rng.choice([r for r in list_reports(project) if (r[1] >= 2021) == (version == "F2021")])
    return load_report(office, year, project)


def laid_out(report, layout: str) -> str:
    transform = getattr(layouts, layout)
    html = report_html(report).replace("<wbr>", "")  # the transforms find labels by their text
    return transform(html, report.values) if layout in ("table4_as_three", "single_other_row") else transform(html)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("version", ["F2019", "F2021"])
@pytest.mark.parametrize("layout", sorted(SAME_FIGURES))
def test_layouts_read_to_the_same_figures(synthetic, tmp_path, layout: str, version: str, seed: int) -> None:
    report = pick(synthetic, seed, version)
    html = laid_out(report, layout)
    copies = {"page.html": html}
    if SAME_FIGURES[layout]:
        copies["copy.txt"] = flatten(html)
    for name, text in copies.items():
        pub = read_published(write(tmp_path, name, text))
        assert (pub.office, pub.year, pub.format.id) == (report.office.name, report.year, version), name
        assert pub.values == report.values, name
        assert all(pub.headings), name
        if layout == "label_slips":
            assert any("一行按最相近的" in p for p in pub.problems)
        else:
            assert not pub.problems, (name, pub.problems)
        if seed:
            continue  # the audit (a great-expectations run) once per layout and version
        (a,) = audit([tmp_path / name]).audited
        rules = {f.rule for f in a.findings if f.critical}
        assert ("SEC-HEADINGS" in rules) == layout.startswith("heading"), (name, rules)
        assert ("LABEL-EXACT" in rules) == (layout == "label_slips"), (name, rules)
        assert not [f for f in a.findings if f.rule == "CELL-FILLED"] and not a.not_assessable, name
        if layout == "label_slips":
            assert "2.其他法律行政止公开" in {f.value for f in a.findings if f.rule == "LABEL-EXACT"}


@pytest.mark.parametrize("seed", range(3))
def test_f2019_single_other_row_in_an_f2021_report(synthetic, tmp_path, seed: int) -> None:
    """Read as what it is: the three sub-rows not reported, the row's figures kept for the group's sums, a
    LABEL-EXACT finding for the layout; a wrong 总计 is still caught through the row's figures."""
    report = pick(synthetic, seed, "F2021")
    html = laid_out(report, "single_other_row")
    for name, text in {"page.html": html, "copy.txt": flatten(html)}.items():
        path = write(tmp_path, name, text)
        pub = read_published(path)
        others = {r for r in report.values if r.startswith("t3.other_")}
        assert pub.values == {r: None if r in others else v for r, v in report.values.items()}, name
        ((_, figures),) = pub.groups.values()
        assert figures["total"] == str(sum(int(report.values[f"t3.other_{n}.total"]) for n in (1, 2, 3)))
        (a,) = audit([path]).audited
        layout = [f for f in a.findings if f.rule == "LABEL-EXACT"]
        assert len(layout) == 1 and layout[0].critical and "（六）其他处理" in layout[0].message
        assert not {r for r, *_ in a.not_assessable} & {"T3-OUTCOME-SUM", "T3-BALANCE"}
        assert not [f for f in a.findings if f.rule.startswith("T3-")], name
        # The rules use the row's figures: a 总计 that is not the sum is caught.
        total = report.values["t3.total.natural"]
        wrong = text.replace(f">{total}</td>", f">{int(total) + 1}</td>") if name == "page.html" else None
        if wrong and wrong != text:
            (b,) = audit([write(tmp_path, "wrong.html", wrong)]).audited
            assert "T3-OUTCOME-SUM" in {f.rule for f in b.findings} or "T3-BALANCE" in {f.rule for f in b.findings}
