"""Hostile inputs around the overviews: input that belongs to no report does not fail a region's pages, and an
overview that fails is summed up in one line that says what failed, naming region and year apart."""

from __future__ import annotations

import json

from conftest import batch_command

from nianbao.manifest import Manifest
from nianbao.project import Project
from nianbao.synth import synth


def test_a_params_file_of_no_report_is_reported_and_the_overviews_are_made(tmp_path) -> None:
    project = Project(tmp_path / "p")
    synth(project.root, 1, range(2021, 2022), 3)
    (project.root / "params" / "shili-0001" / "２０２２.yaml").write_text("office: shili-0001\nyear: 2022\n",
                                                                        encoding="utf-8")
    result = batch_command(project)
    assert result.returncode == 2
    assert "error: params/shili-0001/２０２２.yaml，机关 shili-0001，字段 year：无效的年份 '２０２２'" in result.stderr
    assert "failed: overview" not in result.stderr and "Traceback" not in result.stderr
    overviews = Manifest(project).overviews
    assert overviews and all(o["status"] == "published" for o in overviews.values()), overviews


def test_a_failed_overview_is_summed_up_by_what_raised(tmp_path) -> None:
    project = Project(tmp_path / "p")
    synth(project.root, 1, range(2021, 2022), 3)
    path = project.root / "notebooks" / "overview.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "boom", "metadata": {}, "outputs": [],
                        "source": "raise ValueError('总数对不上')"})
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    result = batch_command(project)
    assert result.returncode == 2
    region = next(o["region"] for o in Manifest(project).overviews.values() if o.get("region"))
    assert f"failed: overview {region} 2021: ValueError: 总数对不上\n" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
