"""`ReportExporter`: nbconvert's way to render an executed report notebook as a report page.

Registered as the `nianbao` exporter (entry point group `nbconvert.exporters`), so the stock CLI works:
`jupyter nbconvert --to nianbao executed.ipynb`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbconvert.exporters import TemplateExporter
from traitlets import default

TEMPLATES = str(Path(__file__).parent / "templates")


def report_title(nb: Any) -> str:
    """The title the notebook's report (or findings) output carries."""
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            title = output.get("metadata", {}).get("nianbao", {}).get("title")
            if title:
                return str(title)
    return "政府信息公开工作年度报告"


class ReportExporter(TemplateExporter):
    """A small, self-contained HTML page holding the report and nothing of the notebook machinery."""

    export_from_notebook = "nianbao report"
    output_mimetype = "text/html"

    @default("file_extension")
    def _file_extension_default(self) -> str:
        return ".html"

    @default("template_name")
    def _template_name_default(self) -> str:
        return "nianbao"

    @default("default_preprocessors")
    def _default_preprocessors_default(self) -> list:
        # The page shows outputs only; none of the stock preprocessors (all disabled by default) applies, and
        # nbconvert validates the notebook after each one, even a disabled one: ~3 ms a report for nothing.
        # A user's `--Exporter.preprocessors` still run.
        return []

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self) -> list[str]:
        return [TEMPLATES]

    def from_notebook_node(self, nb: Any, resources: dict | None = None, **kw: Any) -> tuple[str, dict]:
        resources = self._init_resources(resources)
        resources["nianbao"] = {"title": report_title(nb)}
        return super().from_notebook_node(_without_inline_styles(nb), resources, **kw)


def _without_inline_styles(nb: Any) -> Any:
    """A copy of `nb` whose report outputs lose the inline styles meant for JupyterLab (the page has its
    stylesheet; inline, the page would be twice the size)."""
    from copy import deepcopy

    from .inline import strip_inline

    styled = ' style="'
    if not any(styled in o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", ())
               if _inline_styled(o)):
        return nb  # a batch kernel's outputs: styles not added yet (render.inline.LATER)
    nb = deepcopy(nb)
    for cell in nb.cells:
        for output in cell.get("outputs", ()):
            if _inline_styled(output) and "text/html" in output.get("data", {}):
                output["data"]["text/html"] = strip_inline(output["data"]["text/html"])
    return nb


def _inline_styled(output: Any) -> bool:
    """A page output that `nianbao.notebook` styled inline: not the overview (its charts' SVG has style
    attributes of its own, and its page a stylesheet)."""
    meta = output.get("metadata", {}).get("nianbao")
    return bool(meta) and meta.get("role") != "overview"
