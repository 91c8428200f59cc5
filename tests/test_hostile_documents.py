"""Hostile documents and project files, as offices and supervising offices produce them: the published page
itself (not the bare report) saved as PDF from a browser, whose white page box is no ruling line."""

from __future__ import annotations

import pytest
from forms import CHROMIUM, NO_CHROMIUM, print_pdf, synthetic_project
from test_forms import assert_reads_back, random_report
from test_render import exported

from nianbao.published.reader import read_published
from nianbao.render import report_html


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_project(tmp_path_factory, seed=31)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("seed", range(2))
def test_the_published_page_saved_as_pdf_reads_back(synthetic, tmp_path, seed: int) -> None:
    """The page `nianbao run` publishes sets its report on a white box (`main`): printed, the box is a filled
    rectangle around every table, which pdfplumber would take for the outer border of one table holding the
    headings, the tables and the prose between them."""
    report, blanks = random_report(synthetic, 200 + seed)
    page = exported(report_html(report))
    assert "<main>" in page
    path = print_pdf(page, tmp_path / "page.pdf")
    assert_reads_back(read_published(path), report, blanks)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("seed", range(2))
def test_a_table_continued_on_a_new_page_without_its_header_reads_back(synthetic, tmp_path, seed: int) -> None:
    """A page whose tables have no `<thead>` (an office's own page, an editor's export) printed by a browser: the
    first row on the new page has no top border (collapsed into the row before it, on the previous page), only
    its column borders: it is still a row of the table, not prose."""
    report, blanks = random_report(synthetic, 300 + seed)
    page = exported(report_html(report)).replace("<thead>", "").replace("</thead>", "")
    path = print_pdf(page, tmp_path / "page.pdf")
    assert_reads_back(read_published(path), report, blanks)
