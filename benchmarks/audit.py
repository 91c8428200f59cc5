"""Benchmark of `nianbao audit` on a folder of about 1000 published PDF reports (issue 12's figure). Not a test:
it prints figures.

    python benchmarks/audit.py [--reports 1000] [--pdfs DIR] [--chunk 100] [--jobs 1,2]

1. writes a synthetic project of about `--reports` office-years (`nianbao synth`, 2019-2025) and prints each
   report's page to its own PDF with Chromium headless (`published.make_pdfs`, `--chunk` reports per browser
   print); with `--pdfs DIR` the PDFs are kept there, and a DIR that already holds PDFs is audited as it is;
2. runs the command a supervising office runs, `nianbao audit DIR --json`, in its own process, and prints
   its wall and CPU time, files per second and peak memory (the process's maximum resident set, from
   wait4: the process and the reading processes it started), and how many reports it read, found unreadable or
   critical; with `--jobs 1,2`, once per value of its --jobs, in turn (default: its own default).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

NIANBAO = Path(sys.executable).with_name("nianbao")


def pdfs(folder: Path, reports: int, chunk: int, work: Path) -> list[Path]:
    """The PDFs of `folder`, made first when it holds none."""
    found = sorted(folder.glob("*.pdf"))
    if found:
        return found
    from published import CHROMIUM, make_pdfs

    from nianbao.scaffold import init_project
    from nianbao.synth import synth

    if CHROMIUM is None or shutil.which("pdftotext") is None:
        sys.exit("needs Chromium and poppler-utils (pdftotext) to make the PDFs")
    synth(work / "project", max(1, round(reports / 7)), range(2019, 2026), seed=1)
    t = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    make_pdfs(init_project(work / "project"), folder, work, chunk)
    print(f"made {len(list(folder.glob('*.pdf')))} PDFs in {time.perf_counter() - t:.0f} s")
    return sorted(folder.glob("*.pdf"))


def run_audit(folder: Path, out: Path, jobs: str = "") -> tuple[float, float, float, int]:
    """`nianbao audit FOLDER --json [--jobs JOBS]` in its own process: (wall s, CPU s, peak RSS MiB, exit code)."""
    with out.open("wb") as stdout, open(out.with_suffix(".err"), "wb") as stderr:
        t = time.perf_counter()
        process = subprocess.Popen([str(NIANBAO), "audit", str(folder), "--json", *(["--jobs", jobs] if jobs else [])],
                                   stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - t
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=1000, help="office-years to print (about; 7 a office)")
    parser.add_argument("--pdfs", type=Path, help="keep the PDFs here (a folder with PDFs is audited as it is)")
    parser.add_argument("--chunk", type=int, default=100, help="reports per Chromium print")
    parser.add_argument("--jobs", default="", help="comma-separated values of the command's --jobs to run in turn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = pdfs(args.pdfs or work / "pdf", args.reports, args.chunk, work)
        size = sum(f.stat().st_size for f in files) / 2**20
        print(f"{len(files)} PDF files, {size:.1f} MiB, in {files[0].parent}")
        for jobs in args.jobs.split(",") if args.jobs else [""]:
            wall, cpu, peak, code = run_audit(files[0].parent, work / "audit.json", jobs)
            audited = json.loads((work / "audit.json").read_text(encoding="utf-8") or "[]")
            errors = [line for line in (work / "audit.err").read_text(encoding="utf-8").splitlines()
                      if line.startswith("error:")]
            critical = sum(any(f["severity"] == "critical" for f in a["findings"]) for a in audited)
            unreadable = sum(len(a["unreadable"]) for a in audited)
            print(f"nianbao audit{f' --jobs {jobs}' if jobs else ''}: {wall:.1f} s wall, "
                  f"{len(files) / wall:.2f} files/s ({wall / len(files):.2f} s/file), "
                  f"CPU {cpu:.1f} s ({cpu / len(files):.2f} s/file), peak {peak:.0f} MiB; exit {code}")
            print(f"  {len(audited)} reports audited, {len(errors)} files unreadable, {unreadable} cells unreadable, "
                  f"{critical} reports with critical findings")

if __name__ == "__main__":
    main()
