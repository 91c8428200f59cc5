"""Benchmark of the collection loop: writing the forms and ingesting them back. Not a test: it prints figures.

    python benchmarks/workbook.py [--offices 143] [--lo-sample 50] [--keep DIR]

1. writes a synthetic project (`nianbao synth`, 2019-2025: 143 offices give 1001 office-years);
2. times `nianbao workbook` for every office-year (one .xlsx each);
3. times `nianbao ingest` of the untouched forms (no cached values: every 总计 formula is computed), and
   checks that data/ is unchanged;
4. saves a sample with LibreOffice (`soffice --convert-to xlsx`: formulas recalculated and cached, as Excel
   does on save) and times the ingest of those (cached values read).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(a) for a in args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offices", type=int, default=143)
    parser.add_argument("--lo-sample", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="nianbao-wb-"))
    project, forms = work / "project", work / "forms"
    nianbao = BIN / "nianbao"
    run(nianbao, "synth", "--offices", args.offices, "--years", "2019-2025", "--out", project)
    before = snapshot(project / "data")

    write = run(nianbao, "workbook", "--project", project, "--out", forms)
    files = sorted(forms.glob("*.xlsx"))
    size = sum(p.stat().st_size for p in files) / len(files) / 1024
    print(f"nianbao workbook: {len(files)} forms in {write:.1f} s ({len(files) / write:.1f} forms/s, "
          f"{size:.0f} KB each)")

    ingest = run(nianbao, "ingest", "--project", project, forms)
    same = snapshot(project / "data") == before
    print(f"nianbao ingest, untouched forms (formulas computed): {len(files)} in {ingest:.1f} s "
          f"({len(files) / ingest:.1f} forms/s); data/ unchanged: {same}")

    soffice = shutil.which("soffice")
    if soffice and args.lo_sample:
        sample, saved = work / "sample", work / "saved"
        sample.mkdir(exist_ok=True)
        for p in files[: args.lo_sample]:
            shutil.copy(p, sample / p.name)
        convert = run(soffice, f"-env:UserInstallation=file://{work}/lo-profile", "--headless", "--calc",
                      "--convert-to", "xlsx", "--outdir", saved, *sorted(sample.glob("*.xlsx")))
        n = len(list(saved.glob("*.xlsx")))
        print(f"LibreOffice open and save: {n} forms in {convert:.1f} s ({convert / n:.2f} s/form)")
        ingest = run(nianbao, "ingest", "--project", project, saved)
        print(f"nianbao ingest, LibreOffice-saved forms (cached values): {n} in {ingest:.1f} s "
              f"({n / ingest:.1f} forms/s); data/ unchanged: {snapshot(project / 'data') == before}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
