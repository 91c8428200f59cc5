"""The golden test: `guandu-taihe` 2020, run through papermill and nbconvert for real, shows the seed
report: title, preamble, headings, every prose paragraph, every table label and figure, in order."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from conftest import SEED, SHARED_SEED
from htmltext import read

from nianbao.formats import format_for
from nianbao.run import PUBLISHED, run_report

HALF_TO_FULL = str.maketrans({"(": "（", ")": "）", ":": "：", ",": "，"})
NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def norm(token: str) -> str:
    """The seed is a text copy with half-width punctuation and stray spaces; the format is full-width."""
    return token.translate(HALF_TO_FULL).replace(" ", "")


def seed_parts() -> tuple[list[str], dict[int, list[str]]]:
    """The seed's prose lines, and the cell tokens of its tables by section index (1, 2, 3)."""
    headings = format_for(2020).headings
    prose, tables, section = [], {1: [], 2: [], 3: []}, -1
    for line in SEED.read_text(encoding="utf-8").splitlines()[1:]:
        if line in headings:
            section = headings.index(line)
            continue
        if section in tables and ("|" in line or line.startswith("（本列") or line.startswith("(本列")):
            tables[section] += [norm(t) for t in line.split("|") if t.strip()]
        elif section in tables and not line.strip():
            continue
        else:
            prose.append(line)
    return prose, tables


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("golden"))
    result = run_report(project, "guandu-taihe", 2020)
    assert result.status == PUBLISHED
    return read(result.html.read_text(encoding="utf-8"))


def test_seed_fixture_is_the_shared_seed() -> None:
    if not SHARED_SEED.is_file():
        pytest.skip("../shared/reports/ is not beside this checkout")
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_title_and_headings(page) -> None:
    seed = SEED.read_text(encoding="utf-8").splitlines()
    assert page.blocks[0] == ("h1", seed[0])
    assert [text for tag, text in page.blocks if tag == "h2"] == list(format_for(2020).headings)


def test_every_prose_paragraph_in_order(page) -> None:
    prose, _ = seed_parts()
    ours = [text for tag, text in page.blocks if tag == "p"]
    assert ours == prose


def test_every_table_label_and_figure(page) -> None:
    _, seed_tables = seed_parts()
    assert len(page.tables) == 3
    for section, table in zip((1, 2, 3), page.tables, strict=True):
        ours = [cell.text for row in table for cell in row]
        seed = seed_tables[section]
        # Labels: the same ones, as many times (the copy moved some header cells of table 四 around).
        labels = Counter(t for t in ours if not NUMBER.fullmatch(t))
        assert labels == Counter(t for t in seed if not NUMBER.fullmatch(t))
        # Row labels in the same order.
        row_labels = [c.text for row in table for c in row if c.cls == "row"]
        assert [t for t in seed if t in row_labels] == row_labels
        # Figures: the seed's, in order; the cells the seed left blank are explicit zeros.
        figures = [t for t in ours if NUMBER.fullmatch(t)]
        it = iter(figures)
        assert all(any(f == s for f in it) for s in (t for t in seed if NUMBER.fullmatch(t)))
        assert Counter(figures) - Counter(t for t in seed if NUMBER.fullmatch(t)) <= Counter({"0": len(figures)})
    assert ["2", "7.4890"] == [c.text for c in page.tables[0][-1] if c.tag == "td"]


def test_no_code_prompts_or_scripts(page) -> None:
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
