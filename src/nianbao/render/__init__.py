"""Rendering: the report and findings as HTML fragments (`html`), and the nbconvert exporter that turns an
executed report notebook into a self-contained page (`exporter`)."""

from .html import findings_html, report_html

__all__ = ["findings_html", "report_html"]
