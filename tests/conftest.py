"""Shared fixtures: the repository's own project, and throw-away copies of it to break."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from nianbao.project import Project

# CI runs the same examples every time (a red CI must be reproducible); elsewhere hypothesis explores.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
# The seed report (a published text copy), kept as a fixture; ../shared/reports/ holds the original.
SEED = FIXTURES / "seed-guandu-taihe-2020.txt"
SHARED_SEED = ROOT.parent / "shared" / "reports" / "000_615f46f6ee2b9b5d.txt"


@pytest.fixture(scope="session")
def repo() -> Project:
    return Project(ROOT)


def copy_project(dest: Path) -> Project:
    for name in ("data", "params", "expectations", "notebooks"):
        shutil.copytree(ROOT / name, dest / name)
    (dest / "outputs").mkdir()
    return Project(dest)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A private copy of the repository's project, safe to edit."""
    return copy_project(tmp_path / "proj")


def set_figure(project: Project, office: str, year: int, ref: str, value: str) -> None:
    """Change one cell of an office's figures file in place."""
    path = project.figures_file(office)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    table, row, column = ref.split(".")
    hits = [r for r in rows[1:] if r[:4] == [str(year), table, row, column]]
    assert len(hits) == 1, ref
    hits[0][4] = value
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` but hidden ones: the lock file of outputs/ (it stays, empty of meaning, between
    runs) and the batch's caches (the input digests, what the index's chunks were made from, the overviews'
    figures), which say how a run went, not what it made."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def index_text(outputs: Path) -> str:
    """`outputs/index.html` with the rows its script loads from `index/<year>.js` put in its table, every year:
    the page as a browser shows it with all rows on one page."""
    import json

    rows = []
    for chunk in sorted((outputs / "index").glob("*.js")):
        text = chunk.read_text(encoding="utf-8")
        data = json.loads(text[text.index(",") + 1:text.rindex(")")])
        rows += [row[1] for row in data]
    page = (outputs / "index.html").read_text(encoding="utf-8")
    return page.replace("<tbody>\n</tbody>", "<tbody>\n" + "\n".join(rows) + "\n</tbody>")


def settled_synth(root: Path, offices: int, years: range, seed: int) -> Project:
    """A synthetic project (`nianbao synth`) whose files are dated a minute back, as files saved a while ago: their
    digests are settled (`nianbao.digests.SETTLE_NS`)."""
    import time

    from nianbao.synth import synth

    synth(root, offices, years, seed)
    then = time.time_ns() - 60 * 10**9
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(then, then))
    return Project(root)


def batch_command(project: Project, *args: str):
    """`nianbao batch --project …` run as the command, in its own process."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "nianbao", "batch", "--project", str(project.root), *args],
                          capture_output=True, text=True, timeout=600)
