"""Findings that lead to the fix: every involved cell with its value, expected value and source line, the
likely wrong cell when one cell breaks several identities, and a findings page that marks exactly those cells."""

from __future__ import annotations

import pytest
from conftest import set_figure
from htmltext import read

from nianbao.findings import Finding
from nianbao.render.html import findings_html
from nianbao.report import load_report
from nianbao.validate import validate

# (office, year, cell): a cell that three identities share; changing it breaks all three.
SHARED = [
    ("example-shifan", 2023, "t3.total.natural"),
    ("example-shifan", 2022, "t3.total.total"),
    ("example-shifan", 2021, "t3.new.natural"),
    ("guandu-taihe", 2020, "t3.carry_out.total"),
]


def _findings(project, office: str, year: int) -> tuple[list[Finding], object]:
    report = load_report(office, year, project)
    return [f for f in validate([report], project) if f.office == office and f.year == year], report


@pytest.mark.parametrize(("office", "year", "ref"), SHARED)
def test_a_forgotten_cell_is_named_as_the_likely_wrong_one(project, office: str, year: int, ref: str) -> None:
    before = load_report(office, year, project).values[ref]
    set_figure(project, office, year, ref, str(int(before) + 3))
    findings, report = _findings(project, office, year)
    broken = [f for f in findings if f.critical]
    assert len(broken) >= 2
    for f in broken:
        assert f.suspect == ref, f
        (cell,) = [c for c in f.cells if c.ref == ref]
        assert cell.value == str(int(before) + 3) and cell.expected == before
        assert cell.source.startswith(f"data/figures/{office}.csv:")
        line = int(cell.source.rsplit(":", 1)[1])
        text = project.figures_file(office).read_text(encoding="utf-8").splitlines()[line - 1]
        assert text == f"{year},{ref.replace('.', ',')},{int(before) + 3}"
        assert "最可能有误" in f.describe() and f"应为{before}" in f.describe()

    # The findings page: the marked cells are exactly the cells of the broken identities.
    page = read(findings_html(findings, "t", report))
    marked = {c.attrs["data-cell"]: set(c.attrs["data-rule"].split())
              for t in page.tables[:-1] for row in t for c in row if c.attrs.get("data-rule")}
    involved: dict[str, set[str]] = {}
    for f in findings:
        for c in f.cells:
            if not c.previous:
                involved.setdefault(c.ref, set()).add(f.rule)
    assert marked == involved
    suspects = [c for t in page.tables[:-1] for row in t for c in row if "nb-suspect" in c.cls]
    assert len(suspects) == 1


def test_one_broken_identity_has_no_suspect_but_every_cell(project) -> None:
    set_figure(project, "example-shifan", 2021, "t4.review.total", "9")
    findings, report = _findings(project, "example-shifan", 2021)
    (f,) = [f for f in findings if f.critical]
    assert f.rule == "T4-GROUPSUM" and f.suspect is None
    assert [c.ref for c in f.cells] == ["t4.review.total", "t4.review.upheld", "t4.review.corrected",
                                        "t4.review.other", "t4.review.pending"]
    assert f.cells[0].value == "9" and f.cells[0].expected is not None
    page = read(findings_html(findings, "t", report))
    marked = [c for t in page.tables[:-1] for row in t for c in row if c.attrs.get("data-rule")]
    assert len(marked) == 5 and all(c.attrs["data-rule"] == "T4-GROUPSUM" for c in marked)
    assert all(c.attrs["title"].startswith("1. T4-GROUPSUM：") for c in marked)


def test_findings_survive_json(project) -> None:
    set_figure(project, "guandu-taihe", 2020, "t3.carry_out.total", "7")
    findings, _ = _findings(project, "guandu-taihe", 2020)
    assert [Finding.from_dict(f.to_dict()) for f in findings] == findings
    assert len({*findings}) == len(findings)  # hashable with their cells
