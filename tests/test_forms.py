"""Reports in every form offices publish: PDF and Word files read into the same blocks as web pages and
text copies. A real PDF read cell by cell; our own pages printed to PDF by Chromium and written as .docx,
over random valid data of both formats, read back to the same figures; files that are no report."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
from forms import CHROMIUM, NO_CHROMIUM, print_pdf, synthetic_project, write_docx
from test_published import PUBLISHED_DIR, expected_values, write

from nianbao.audit import audit
from nianbao.exceptions import InputError
from nianbao.ingest import report_files
from nianbao.params import list_reports
from nianbao.published.reader import read_published
from nianbao.render import report_html
from nianbao.report import load_report


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_project(tmp_path_factory, seed=12)


def random_report(project, seed: int):
    """A random office-year of `project`, with up to 12 cells left blank, as real reports leave them."""
    rng = random.Random(seed)
    office, year = rng.choice(list_reports(project))
    report = load_report(office, year, project)
    blanks = set(rng.sample(sorted(report.values), rng.randint(0, 12)))
    return dataclasses.replace(report, values={k: None if k in blanks else v for k, v in report.values.items()}), blanks


def assert_reads_back(pub, report, blanks) -> None:
    assert (pub.office, pub.year, pub.format.id) == (report.office.name, report.year, report.format.id)
    assert pub.values == report.values
    assert set(pub.not_reported) == blanks
    assert not pub.problems
    assert pub.headings == list(report.format.headings)
    assert pub.sections[0] == report.narrative.body(report.format.headings[0]).split("\n\n")


def test_real_pdf_reads_as_read_by_hand() -> None:
    """A WPS export: captions with a space, table 三 broken inside the （四） group across pages, `1、` sub-rows."""
    name = "19_jiangsu_huaian_city_2024"
    data = json.loads((PUBLISHED_DIR / f"{name}.json").read_text(encoding="utf-8"))
    pub = read_published(PUBLISHED_DIR / f"{name}.pdf")
    assert (pub.office, pub.year, pub.format.id) == (data["office"], data["year"], data["format"])
    assert pub.values == expected_values(data)
    assert not pub.problems
    # Lines wrapped at the margin are joined into paragraphs; page numbers are not prose.
    assert len(pub.preamble) == 1 and pub.preamble[0].endswith("hazwgkc@163.com）。")
    (closing,) = pub.sections[5]
    assert closing == "2024年，市政府严格落实《政府信息公开信息处理费管理办法》，全年收取政府信息公开信息处理费3940元。"
    assert not any(p.startswith("-") for s in pub.sections for p in s)


@pytest.mark.parametrize("seed", range(8))
def test_word_files_of_our_pages_read_back(synthetic, tmp_path, seed: int) -> None:
    report, blanks = random_report(synthetic, seed)
    path = write_docx(report_html(report), tmp_path / "report.docx", one_char_paragraphs=bool(seed % 2))
    assert_reads_back(read_published(path), report, blanks)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("seed", range(4))
def test_pdf_prints_of_our_pages_read_back(synthetic, tmp_path, seed: int) -> None:
    report, blanks = random_report(synthetic, 100 + seed)
    path = print_pdf(report_html(report), tmp_path / "report.pdf")
    assert_reads_back(read_published(path), report, blanks)


def test_a_scanned_pdf_is_an_error_that_says_so(tmp_path) -> None:
    from PIL import Image  # pdfplumber's dependency

    path = tmp_path / "scan.pdf"
    Image.new("RGB", (595, 842), "white").save(path)
    with pytest.raises(InputError, match="扫描版 PDF，没有文字层") as exc:
        read_published(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("name", ["broken.pdf", "broken.docx"])
def test_a_broken_pdf_or_word_file_is_an_error(tmp_path, name: str) -> None:
    path = write(tmp_path, name, b"%PDF-1.4\nnot really" if name.endswith("pdf") else b"PK\x03\x04garbage")
    with pytest.raises(InputError, match="不是可读取的") as exc:
        read_published(path)
    assert name in str(exc.value)


def test_a_folder_of_every_form_is_read(synthetic, tmp_path) -> None:
    """ingest and audit read .html, .htm, .txt, .pdf and .docx from a folder; other files are left alone."""
    from htmltext import flatten

    folder = tmp_path / "reports"
    folder.mkdir()
    forms = {}
    for (office, year), suffix in zip(list_reports(synthetic)[:5], (".html", ".htm", ".txt", ".docx", ".pdf"),
                                      strict=True):
        html = report_html(load_report(office, year, synthetic))
        path = folder / f"{office}-{year}{suffix}"
        if suffix == ".txt":
            path.write_text(flatten(html), encoding="utf-8")
        elif suffix == ".docx":
            write_docx(html, path)
        elif suffix == ".pdf":
            if CHROMIUM is None:
                continue
            print_pdf(html, path)
        else:
            path.write_text(html, encoding="utf-8")
        forms[path.name] = (office, year)
    (folder / "notes.md").write_text("# not a report", encoding="utf-8")
    files = list(report_files([folder]))
    assert sorted(p.name for p in files) == sorted(forms)
    result = audit(files)
    assert not result.errors
    assert {Path(a.report.file).name for a in result.audited} == set(forms)
    assert all(a.report.reported == len(a.report.values) for a in result.audited)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("seed", range(2))
def test_pdf_tables_without_ruling_lines_read_by_word_positions(synthetic, tmp_path, seed: int) -> None:
    """A PDF whose tables have no drawn grid: the rows are read from the words' positions on each line."""
    report, blanks = random_report(synthetic, 200 + seed)
    html = report_html(report).replace("</head>", "<style>table,td,th{border:none !important}</style></head>")
    pub = read_published(print_pdf(html, tmp_path / "report.pdf"))
    wrong = {r: (pub.values[r], v) for r, v in report.values.items() if pub.values[r] not in (None, v)}
    assert not wrong
    # A blank cell leaves no word: its row is named unreadable unless the row is blank.
    assert set(pub.not_reported) <= blanks
    assert pub.reported >= (len(report.values) - len(blanks)) * 0.9
