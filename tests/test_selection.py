"""`nianbao workbook` selects office-years as `nianbao batch` does: --offices/--years (or --office/--year), an
unknown office or a reversed range refused with a message naming it, OFFICE alone for one office's years."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nianbao.cli import main
from nianbao.params import list_reports


def workbook(project, tmp_path, *args: str):
    out = tmp_path / "forms"
    result = CliRunner().invoke(main, ["workbook", "--project", str(project.root), "--out", str(out), *args])
    return result, sorted(p.name for p in out.glob("*.xlsx"))


@pytest.mark.parametrize("args, office, years", [
    (["--years", "2023"], None, [2023]),
    (["--year", "2022-2023"], None, [2022, 2023]),
    (["--offices", "example-shifan", "--years", "2021,2023"], "example-shifan", [2021, 2023]),
    (["--office", "example-shifan"], "example-shifan", None),
    (["example-shifan"], "example-shifan", None),
    (["example-shifan", "--years", "2020-2021"], "example-shifan", [2020, 2021]),
])
def test_workbook_writes_the_forms_of_the_selection_and_no_other(project, tmp_path, args, office, years) -> None:
    result, written = workbook(project, tmp_path, *args)
    assert result.exit_code == 0, result.output
    wanted = list_reports(project, [office] if office else None, years)
    assert len(written) == len(wanted) > 0, (written, wanted)
    assert f"已生成{len(wanted)}份报表" in result.output
    if years:
        assert all(any(n.endswith(f"{y}.xlsx") for y in years) for n in written), written
    if office:
        assert len({n[:-9] for n in written}) == 1, written  # one office's name, its years


@pytest.mark.parametrize("command", ["workbook", "batch"])
@pytest.mark.parametrize("args, says", [
    (["--years", "2023-2021"], "2021-2023"),
    (["--offices", "example-shifan,nobody"], "no params folder for nobody"),
    (["--offices", "nobody,ghost", "--years", "2023"], "no params folder for nobody, ghost"),
    (["--offices", ","], "--offices"),
])
def test_workbook_and_batch_refuse_the_same_selections_naming_what(project, tmp_path, command, args, says) -> None:
    extra = ["--out", str(tmp_path / "forms")] if command == "workbook" else []
    result = CliRunner().invoke(main, [command, "--project", str(project.root), *extra, *args])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert not (tmp_path / "forms").exists() and not (project.outputs / "manifest.json").exists()


def test_workbook_office_year_is_one_form_and_not_mixed_with_a_selection(project, tmp_path) -> None:
    result, written = workbook(project, tmp_path, "example-shifan", "2023")
    assert result.exit_code == 0 and len(written) == 1 and written[0].endswith("2023.xlsx"), result.output
    result = CliRunner().invoke(main, ["workbook", "--project", str(project.root), "example-shifan", "2023",
                                       "--years", "2022"])
    assert result.exit_code == 2 and "not both" in result.output
