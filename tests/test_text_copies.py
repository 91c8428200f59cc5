"""Text copies that lost the table's separators, made from our own pages over random valid data of both
formats: one cell per line (numbers broken over two lines), each row run together, the whole report on
one line. Every cell is read right or named unreadable with the text seen; none is read wrong. And the
inputs of real failures (`fixtures/ingest/`, each with its figures read by hand)."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from click.testing import CliRunner
from forms import glued_rows, one_cell_per_line, one_line, synthetic_project
from htmltext import flatten
from test_published import FIXTURES, expected_values, write

from nianbao.cli import main
from nianbao.formats import Data, Kind
from nianbao.params import list_reports
from nianbao.published.glued import ways
from nianbao.published.reader import read_published
from nianbao.render import report_html
from nianbao.report import load_report

CASES = FIXTURES / "ingest"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_project(tmp_path_factory, seed=21)


def dashed_report(project, seed: int):
    """A random office-year with some cells printed as `—` (a cell left blank vanishes from a copy without
    separators, so offices' dashes are what such copies keep)."""
    rng = random.Random(seed)
    office, year = rng.choice(list_reports(project))
    report = load_report(office, year, project)
    dashes = set(rng.sample(sorted(report.values), rng.randint(0, 6)))
    printed = dataclasses.replace(report, values={k: "—" if k in dashes else v for k, v in report.values.items()})
    expected = {k: None if k in dashes else v for k, v in report.values.items()}
    return printed, expected, rng


def assert_right_or_named(pub, expected: dict) -> None:
    wrong = {ref: (pub.values[ref], v) for ref, v in expected.items()
             if pub.values[ref] is not None and pub.values[ref] != v}
    assert not wrong, wrong
    missing = {ref for ref, v in expected.items() if v is not None and pub.values[ref] is None}
    assert missing <= set(pub.unreadable)  # an unreadable row's dashed cells are unreadable too
    assert all(pub.values[ref] is None for ref in pub.unreadable)
    for ref in pub.unreadable:  # each one named, with the text seen
        assert any(pub.unreadable[ref].replace("\x1f", " ") in p for p in pub.problems)


@pytest.mark.parametrize("seed", range(6))
def test_one_cell_per_line_reads_every_cell(synthetic, tmp_path, seed: int) -> None:
    printed, expected, _ = dashed_report(synthetic, seed)
    text = one_cell_per_line(flatten(report_html(printed)))
    pub = read_published(write(tmp_path, "copy.txt", text))
    assert (pub.office, pub.year) == (printed.office.name, printed.year)
    assert pub.values == expected and not pub.problems
    assert pub.headings == list(printed.format.headings)


@pytest.mark.parametrize("seed", range(6))
def test_numbers_broken_over_two_lines_are_joined_or_named(synthetic, tmp_path, seed: int) -> None:
    printed, expected, rng = dashed_report(synthetic, 10 + seed)
    text = one_cell_per_line(flatten(report_html(printed)), rng)
    pub = read_published(write(tmp_path, "copy.txt", text))
    assert_right_or_named(pub, expected)
    assert pub.reported >= len(expected) * 0.7


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("layout", ["rows", "one_line"])
def test_cells_run_together_are_cut_only_where_one_way_fits(synthetic, tmp_path, seed: int, layout: str) -> None:
    printed, expected, _ = dashed_report(synthetic, 20 + seed)
    text = flatten(report_html(printed))
    text = glued_rows(text) if layout == "rows" else one_line(text)
    pub = read_published(write(tmp_path, "copy.txt", text))
    assert (pub.office, pub.year, pub.format.id) == (printed.office.name, printed.year, printed.format.id)
    assert_right_or_named(pub, expected)
    # Tables 三 and 四 carry identities that pin most rows down.
    t34 = [r for r in expected if r.startswith(("t3.", "t4.")) and expected[r] is not None]
    assert sum(pub.values[r] is not None for r in t34) >= len(t34) * 0.6


def test_ways_of_cutting_figures() -> None:
    counts = (Data("r", "a"), Data("r", "b"), Data("r", "c"))
    assert list(ways("000", counts)) == [["0", "0", "0"]]
    assert len(list(ways("12345", counts))) == 6
    signed = (Data("r", "a"), Data("r", "b", Kind.SIGNED), Data("r", "c"))
    assert list(ways("2-13", signed)) == [["2", "-", "13"], ["2", "-1", "3"]]  # a dash may be a blank cell
    assert list(ways("712.5", (Data("r", "a"), Data("r", "b", Kind.AMOUNT)))) == [["7", "12.5"], ["71", "2.5"]]
    assert list(ways("1\x1f62\x1f5", (Data("r", "a"), Data("r", "b")))) == [["1", "625"], ["162", "5"]]
    assert list(ways("1\x1f5", counts)) == []  # a cell missing: not read


@pytest.mark.parametrize("name", ["00_control_pipe", "01_one_line_crawler_text", "02_glued_tables_multiline",
                                  "03_glued_rows_one_per_line"])
def test_real_failures_read_right_or_named(name: str) -> None:
    data = json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))
    pub = read_published(CASES / f"{name}.txt")
    assert (pub.office, pub.year, pub.format.id) == (data["office"], data["year"], data["format"])
    assert_right_or_named(pub, expected_values(data))
    # `行政规范性文件12345` may be 1|2|345, 12|3|45, …: named, never guessed; every other cell read.
    expected_unread = set() if name.startswith("00") else {"t2.normative.issued", "t2.normative.repealed",
                                                             "t2.normative.valid"}
    assert set(pub.unreadable) == expected_unread


def test_a_crawler_copy_with_one_text_node_per_line_reads_as_read_by_hand() -> None:
    name = "25_fujian_sanming_city_2019"
    data = json.loads((FIXTURES / "published" / f"{name}.json").read_text(encoding="utf-8"))
    pub = read_published(FIXTURES / "published" / f"{name}.txt")
    assert (pub.office, pub.year, pub.format.id) == ("三明市", 2019, "F2019")
    assert pub.values == expected_values(data) and not pub.problems
    assert pub.originals["t2.procurement.amount"] == "481714587.29元"
    # Its text nodes, one per line, are joined into paragraphs again.
    assert any("现公布三明市2019年政府信息公开工作年度报告。本报告由总体情况、主动公开" in p for p in pub.preamble)
    assert "2019年，为贯彻落实《国务院办公厅关于印发2019年政务公开工作要点的通知》" in pub.sections[0][1]
    assert pub.sections[5] == ["无。", "三明市政务公开工作领导小组", "2020年3月6日"]


def untitled_copy() -> str:
    """A `|` copy with no title whose prose names no office and whose preamble states no year."""
    text = (CASES / "05_pipe_copy_no_title.txt").read_text(encoding="utf-8")
    return text.replace("本报告由青岚县示例档案局编制。", "")


def test_office_and_year_given_are_enough_without_a_title(tmp_path) -> None:
    project = tmp_path / "p"
    text = untitled_copy()
    path = write(tmp_path, "no_title.txt", text)
    result = CliRunner().invoke(main, ["ingest", str(path), "--project", str(project)])
    assert result.exit_code == 2 and "--office、--year" in result.output
    result = CliRunner().invoke(main, ["ingest", str(path), "--project", str(project), "--office", "qinglan",
                                       "--year", "2023"])
    assert result.exit_code == 0, result.output
    assert "→ qinglan（新登记机关）：读到200/200个单元格" in result.output
    # The year from the preamble's 统计期限 sentence when the report states it.
    dated = text.replace("编制本报告。", "编制本报告。所列数据的统计期限为2023年1月1日至2023年12月31日。", 1)
    pub = read_published(write(tmp_path, "dated.txt", dated), office="青岚县示例档案局")
    assert (pub.office, pub.year) == ("青岚县示例档案局", 2023)


def test_a_slip_in_the_office_name_finds_the_registered_office(tmp_path) -> None:
    from nianbao.ingest import ingest_file
    from nianbao.scaffold import init_project

    project = init_project(tmp_path / "p")
    text = (CASES / "00_control_pipe.txt").read_text(encoding="utf-8")
    ingest_file(project, write(tmp_path, "2023.txt", text), office="qinglan")
    slipped = text.replace("青岚县示例档案局2023年", "青岚县示列档案局2023年", 1)
    done = ingest_file(project, write(tmp_path, "again.txt", slipped), force=True)
    assert done.office == "qinglan" and done.report.office == "青岚县示例档案局"
    assert any("笔误" in p for p in done.report.problems)


@pytest.mark.parametrize("name", ["01_one_line_crawler_text", "03_glued_rows_one_per_line"])
def test_a_slip_in_a_run_together_row_label_is_read_as_the_row_it_resembles(tmp_path, name: str) -> None:
    data = json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))
    text = (CASES / f"{name}.txt").read_text(encoding="utf-8")
    slipped = text.replace("2.其他法律行政法规禁止公开", "2.其他法律行政止公开")
    assert slipped != text
    pub = read_published(write(tmp_path, "slip.txt", slipped))
    assert_right_or_named(pub, expected_values(data))
    assert pub.values["t3.deny_2.total"] == str(data["tables"]["t3"]["rows"]["deny_2"][6])
    assert any("“2.其他法律行政止公开”一行按最相近的" in p for p in pub.problems)


def test_audit_takes_the_office_and_year_of_a_report_without_a_title(tmp_path) -> None:
    path = write(tmp_path, "no_title.txt", untitled_copy())
    assert CliRunner().invoke(main, ["audit", str(path)]).exit_code == 2
    result = CliRunner().invoke(main, ["audit", str(path), "--office", "青岚县示例档案局", "--year", "2023"])
    assert result.exit_code == 0, result.output
    assert "青岚县示例档案局 2023 (F2021)：严重问题0项" in result.output
