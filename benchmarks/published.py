"""Benchmark of reading published reports: `nianbao audit` on a folder of PDF reports. Not a test: it prints
figures.

    python benchmarks/published.py [--reports 1000] [--keep DIR]

1. writes a synthetic project of about `--reports` office-years (`nianbao synth`, 2019-2025) and renders
   each report's page;
2. prints them to PDF with Chromium headless: all pages in one print (a browser start costs about 2 s, so
   one per report would take longer than the audit), then cut into one PDF per report at the page where
   its title stands (found with poppler's `pdftotext`; pages copied with pypdfium2);
3. times the audit of the folder (reading every PDF with pdfplumber, then one great-expectations validation
   run) and checks that every cell was read as the data holds it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from forms import CHROMIUM, print_pdf

from nianbao.audit import audit
from nianbao.ingest import report_files
from nianbao.params import list_reports
from nianbao.published.pdf import unradical
from nianbao.render import report_html
from nianbao.report import load_report
from nianbao.scaffold import init_project
from nianbao.synth import synth


def make_pdfs(project, folder: Path, work: Path, chunk: int = 0) -> dict[Path, object]:
    """One PDF per report of `project` in `folder`; returns file → the report it was made from. `chunk`:
    reports per browser print (0: all in one)."""
    reports = [load_report(o, y, project) for o, y in list_reports(project)]
    made = {}
    for start in range(0, len(reports), chunk or len(reports) or 1):
        made |= _print_reports(reports[start:start + (chunk or len(reports))], folder, work)
    return made


def _print_reports(reports: list, folder: Path, work: Path) -> dict[Path, object]:
    pages = [report_html(r) for r in reports]
    style = re.search(r"<style>.*?</style>", pages[0], re.S).group()
    bodies = [re.search(r"<article.*?</article>", p, re.S).group() for p in pages]
    html = (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>{style}"
            "<style>article{break-before:page}</style></head><body>" + "".join(bodies) + "</body></html>")
    t = time.perf_counter()
    big = print_pdf(html, work / "all.pdf")
    print(f"printed {len(reports)} reports in one PDF: {time.perf_counter() - t:.1f} s")
    texts = subprocess.run(["pdftotext", "-enc", "UTF-8", str(big), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    # The title may be broken over two lines (its large type): look at the first words without line breaks.
    starts = [i + 1 for i, text in enumerate(texts)
              if "年政府信息公开工作年度报告" in re.sub(r"\s", "", unradical(text.strip()[:80]))]
    assert len(starts) == len(reports), (len(starts), len(reports))
    ends = [s - 1 for s in starts[1:]] + [len([t for t in texts if t.strip()])]
    import pypdfium2  # pdfplumber's dependency: cuts pages out with their fonts shared, as one print has them

    made = {}
    whole = pypdfium2.PdfDocument(str(big))
    for report, first, last in zip(reports, starts, ends, strict=True):
        out = folder / f"{report.office.id}-{report.year}.pdf"
        part = pypdfium2.PdfDocument.new()
        part.import_pages(whole, list(range(first - 1, last)))
        part.save(str(out))
        made[out] = report
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="keep the PDFs in this folder")
    args = parser.parse_args()
    if CHROMIUM is None or shutil.which("pdftotext") is None:
        sys.exit("needs Chromium and poppler-utils (pdftotext)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        offices = max(1, round(args.reports / 7))
        synth(work / "project", offices, range(2019, 2026), seed=1)
        project = init_project(work / "project")
        folder = args.keep or work / "pdf"
        folder.mkdir(parents=True, exist_ok=True)
        made = make_pdfs(project, folder, work)
        files = list(report_files([folder]))
        print(f"{len(files)} PDF files, {sum(f.stat().st_size for f in files) / 2**20:.1f} MiB")

        t = time.perf_counter()
        result = audit(files)
        audit_s = time.perf_counter() - t
        cells = sum(a.report.reported for a in result.audited)
        wrong = sum(a.report.values[k] != v for a in result.audited
                    for k, v in made[Path(a.report.file)].values.items())
        print(f"audit of the folder (read with pdfplumber + one validation run): {audit_s:.1f} s for "
              f"{len(result.audited)} reports, {audit_s / max(1, len(result.audited)):.2f} s/report; "
              f"{len(result.errors)} unreadable, {sum(a.critical for a in result.audited)} with critical findings")
        print(f"{cells} cells read, {wrong} differ from the data")


if __name__ == "__main__":
    main()
