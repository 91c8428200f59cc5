"""great-expectations is imported without scipy.stats and altair (`nianbao.deferred`): validation never reads
them, and an expectation that does gets the real modules."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

VALIDATE = """
import json, sys
from pathlib import Path
from nianbao.project import Project
from nianbao.report import load_report
from nianbao import validate
from nianbao.deferred import is_deferred
project = Project(Path(sys.argv[1]))
reports = [load_report("example-shifan", year, project) for year in (2022, 2023)]
found = validate.validate(reports, project, by_rows=False)  # with great-expectations
print(json.dumps({"findings": [f.to_dict() for f in found],
                  "deferred": [name for name in validate.DEFERRED if is_deferred(name)],
                  "loaded": sorted(m for m in sys.modules if m.startswith(("scipy.stats.", "altair.")))}))
"""


def _validated(project, *prelude: str) -> dict:
    code = "\n".join([*prelude, VALIDATE])
    out = subprocess.run([sys.executable, "-c", code, str(project.root)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize(("ref", "value"), [("t3.new.natural", "NaN"), ("t4.review.total", "9"),
                                            ("t2.rules.issued", "-1"), ("t3.new.research", "")])
def test_validation_needs_neither_scipy_stats_nor_altair_and_finds_the_same(project, ref: str, value: str) -> None:
    from conftest import set_figure

    set_figure(project, "example-shifan", 2023, ref, value)
    deferred = _validated(project)
    assert deferred["findings"]  # the broken cell is found
    assert deferred["deferred"] == ["scipy.stats", "altair"] and deferred["loaded"] == []
    # great-expectations imported whole first (as a Dask worker's preload does): nothing deferred, same findings
    whole = _validated(project, "import great_expectations")
    assert whole["deferred"] == [] and whole["loaded"]
    assert whole["findings"] == deferred["findings"]


def test_a_deferred_module_is_imported_on_first_use() -> None:
    code = """
import sys
from nianbao import validate
from nianbao.deferred import is_deferred
validate.import_gx()
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
assert is_deferred("scipy.stats") and is_deferred("altair") and "scipy.stats._stats_py" not in sys.modules
print(round(kl.stats.entropy([0.5, 0.5], [0.9, 0.1]), 6), kl.alt.Chart.__name__)
from scipy import stats
import altair
assert not is_deferred("scipy.stats") and not is_deferred("altair")
assert sys.modules["scipy.stats"].entropy is stats.entropy is kl.stats.entropy and altair.Chart is kl.alt.Chart
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0.510826", "Chart"]


def test_defer_skips_what_is_imported_or_missing() -> None:
    import json as imported

    from nianbao.deferred import Deferred, defer

    assert defer("json", "nianbao_no_such_module") == []
    assert sys.modules["json"] is imported and not isinstance(imported, Deferred)
    assert "nianbao_no_such_module" not in sys.modules
