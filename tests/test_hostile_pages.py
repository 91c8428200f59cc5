"""Published pages that fight back: markup nested a thousand levels deep fails its file only, a folder with no
report is an error, and several copies of one office-year are audited each on its own."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from nianbao.audit import audit
from nianbao.cli import main
from nianbao.render import report_html
from nianbao.report import load_report
from nianbao.scaffold import init_project
from nianbao.synth import synth


@dataclasses.dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def nianbao(*args: str) -> Done:
    """The command, in this process (great-expectations is imported once for all the tests)."""
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return Done(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "p"
    synth(root, 1, range(2022, 2025), seed=3)
    return init_project(root)


def page(project, year: int, **changes: str | None) -> str:
    report = load_report("shili-0001", year, project)
    return report_html(dataclasses.replace(report, values={**report.values, **changes}))


# --- deeply nested or unclosed markup ---------------------------------------------------------------------

DEEP = {  # markup put before the report, and whether the page can still be read
    "unclosed-p": ("<p>x" * 1200, False),
    "unclosed-font": ("<font size=3>" * 2000, False),
    "nested-div": ("<div>" * 1500 + "x" + "</div>" * 1500, False),
    "nested-span": ("<span>" * 5000 + "</span>" * 5000, False),
    "alternating-b-i": ("<b><i>" * 1500, False),
    "nested-tables": ("<table><tr><td>" * 400 + "x" + "</td></tr></table>" * 400, True),  # closed: read
}


@pytest.fixture
def folder(project, tmp_path):
    """a_ok.html, b_deep.html (filled in by the test), c_ok.html."""
    good = page(project, 2024)
    (tmp_path / "in").mkdir()
    for name in ("a_ok.html", "c_ok.html"):
        (tmp_path / "in" / name).write_text(good, encoding="utf-8")
    return tmp_path / "in"


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deep_markup_fails_only_its_file(project, folder, tmp_path, name) -> None:
    good = (folder / "a_ok.html").read_text(encoding="utf-8")
    deep = folder / "b_deep.html"
    markup, readable = DEEP[name]
    deep.write_text(good.replace("<style>", markup + "<style>", 1), encoding="utf-8")
    result = audit(sorted(folder.iterdir()))
    read = ["a_ok.html", "b_deep.html", "c_ok.html"] if readable else ["a_ok.html", "c_ok.html"]
    assert [Path(a.report.file).name for a in result.audited] == read
    if not readable:
        (error,) = result.errors
        assert error.file == str(deep) and "嵌套过深" in str(error)
    out = tmp_path / "audit.html"
    done = nianbao("audit", str(folder), "--html", str(out))
    assert done.returncode == (0 if readable else 2) and "Traceback" not in done.stderr
    assert (f"error: {deep}：无法读取的报告" in done.stderr) != readable
    assert f"共审核{len(read)}份报告" in done.stdout and out.is_file()
    done = nianbao("ingest", str(folder), "--project", str(tmp_path / "q"))
    assert done.returncode == (0 if readable else 2) and "Traceback" not in done.stderr
    assert ("嵌套过深" in done.stderr) != readable
    assert (tmp_path / "q" / "data" / "narrative" / "a-ok" / "2024.md").is_file()  # the good pages were read


# --- a folder holding no readable report ------------------------------------------------------------------

EMPTY = {
    "empty": {},
    "pictures": {"scan.png": b"\x89PNG\r\n\x1a\n", "logo.gif": b"GIF89a"},
    "archives-and-data": {"reports.zip": b"PK\x03\x04", "data.json": b"{}"},
    "nested-empty-folders": {"2023/": None, "2024/old/": None},
    "hidden-and-backup-files": {".DS_Store": b"\0", "report.html~": b"<html>"},
}


@pytest.mark.parametrize("command", ["audit", "ingest"])
@pytest.mark.parametrize("name", sorted(EMPTY))
def test_a_folder_without_reports_is_an_error(tmp_path, command, name) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for rel, data in EMPTY[name].items():
        if data is None:
            (folder / rel).mkdir(parents=True)
        else:
            (folder / rel).write_bytes(data)
    args = [command, str(folder)] + (["--project", str(tmp_path / "q")] if command == "ingest" else [])
    done = nianbao(*args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(f"error: {folder}：此文件夹中没有可读取的报告文件（可读取的文件类型：.html、")


def test_an_empty_folder_among_good_files_is_still_an_error(project, tmp_path) -> None:
    good = tmp_path / "good.html"
    good.write_text(page(project, 2024), encoding="utf-8")
    (tmp_path / "nothing").mkdir()
    done = nianbao("audit", str(good), str(tmp_path / "nothing"))
    assert done.returncode == 2 and "此文件夹中没有可读取的报告文件" in done.stderr


# --- several copies of one office-year ---------------------------------------------------------------------

def t4_broken(project, year: int) -> str:
    report = load_report("shili-0001", year, project)
    total = report.values["t4.after_review.total"]
    return page(project, year, **{"t4.after_review.total": str(int(total) + 1)})


def copies(tmp_path: Path, **pages: str) -> list[Path]:
    paths = []
    for name, text in pages.items():
        path = tmp_path / f"{name}.html"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def findings_by_file(result) -> dict[str, set[str]]:
    return {Path(a.report.file).stem: {f.rule for f in a.findings if f.critical} for a in result.audited}


def test_a_clean_copy_and_a_revised_copy(project, tmp_path) -> None:
    paths = copies(tmp_path, original=page(project, 2024), revised=t4_broken(project, 2024))
    result = audit(paths)
    assert findings_by_file(result) == {"original": set(), "revised": {"T4-GROUPSUM"}}
    assert result.exit_code == 1


def test_three_copies_two_of_them_clean(project, tmp_path) -> None:
    paths = copies(tmp_path, site_a=page(project, 2024), revised=t4_broken(project, 2024),
                   site_b=page(project, 2024))
    assert findings_by_file(audit(paths)) == {"site_a": set(), "revised": {"T4-GROUPSUM"}, "site_b": set()}


def test_a_file_named_twice_is_audited_once(project, tmp_path) -> None:
    (path,) = copies(tmp_path, only=t4_broken(project, 2024))
    result = audit([path, path])
    assert len(result.audited) == 1 and findings_by_file(result) == {"only": {"T4-GROUPSUM"}}


def test_copies_of_the_year_before(project, tmp_path) -> None:
    """Cross-year rules need one report of the year before: identical copies are one; copies that differ
    leave the cross-year checks undone, said so, rather than mixed."""
    carry = load_report("shili-0001", 2023, project).values["t3.carry_out.natural"]
    moved = page(project, 2023, **{"t3.carry_out.natural": str(int(carry) + 2), "t3.total.natural": None})
    this = page(project, 2024)
    result = audit(copies(tmp_path, y2023_a=moved, y2023_b=moved, y2024=this))
    by_file = {Path(a.report.file).stem: a for a in result.audited}
    assert "T3-XYEAR" in {f.rule for f in by_file["y2024"].findings}
    (tmp_path / "differ").mkdir()
    result = audit(copies(tmp_path / "differ", y2023_a=moved, y2023_b=page(project, 2023), y2024=this))
    by_file = {Path(a.report.file).stem: a for a in result.audited}
    assert "T3-XYEAR" not in {f.rule for f in by_file["y2024"].findings}
    assert any("2023年报告的2个内容不同的版本" in p for p in by_file["y2024"].report.problems)


def test_copies_stay_apart_in_json_and_html(project, tmp_path) -> None:
    paths = copies(tmp_path, original=page(project, 2024), revised=t4_broken(project, 2024))
    done = nianbao("audit", *map(str, paths), "--json")
    assert done.returncode == 1
    rules = {Path(r["file"]).stem: [f["rule"] for f in r["findings"] if f["severity"] == "critical"]
             for r in json.loads(done.stdout)}
    assert rules == {"original": [], "revised": ["T4-GROUPSUM"]}
    out = tmp_path / "audit.html"
    done = nianbao("audit", *map(str, paths), "--html", str(out))
    assert "共审核2份报告，其中1份有严重问题" in done.stdout
    html = out.read_text(encoding="utf-8")
    assert len(re.findall("T4-GROUPSUM", html)) >= 1
