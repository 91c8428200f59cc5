"""Who filled each office-year's form: `data/contacts.csv`, one row per office and year.

The workbook's cover asks for 填表人, 联系电话 and 填报日期 (`workbook.layout.CONTACT_FIELDS`); `nianbao ingest`
keeps what an office wrote there, so the analyst knows whom to call about a figure, and `nianbao workbook`
writes it back on the cover of a form issued again. Columns: `office,year,filled_by,phone,date` (the date as
`YYYY-MM-DD` when the cell held a date). Nothing of it goes into a report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from .data import csv_rows, wrong_field_count
from .exceptions import InputError
from .project import Project, check_office_id, check_year

FILE = "contacts.csv"
FIELDS = ("office", "year", "filled_by", "phone", "date")
# The cover's labels (workbook.layout.CONTACT_FIELDS) → this file's columns.
COLUMNS = {"填表人": "filled_by", "联系电话": "phone", "填报日期": "date"}

Contacts = dict[tuple[str, int], dict[str, str]]  # (office, year) → cover label → text


def contacts_file(project: Project) -> Path:
    return project.data / FILE


def read_contacts(project: Project) -> Contacts:
    """Every office-year's contact fields, by cover label (填表人 → text); {} when the file does not exist.
    Raises `InputError` naming the file and line of a bad row."""
    path = contacts_file(project)
    if not path.is_file():
        return {}
    rel = project.relative(path)
    out: Contacts = {}
    for line, cells, header in csv_rows(path, rel, FIELDS, exact=True):
        if problem := wrong_field_count(cells, header):
            raise InputError(problem, file=rel, line=line)
        office = check_office_id(cells[0], file=rel, line=line)
        year = check_year(cells[1], file=rel, line=line, office=office)
        if (office, year) in out:
            raise InputError(f"机关 {office} {year}年的联系人重复出现", file=rel, line=line, office=office, year=year)
        out[office, year] = {label: cells[2 + i] for i, label in enumerate(COLUMNS) if cells[2 + i]}
    return out


def contacts_text(contacts: Contacts) -> str:
    """The file's text: a header, then one row per office-year with any field, sorted by office and year."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for (office, year), fields in sorted(contacts.items()):
        if any(fields.values()):
            writer.writerow([office, year, *(fields.get(label, "") for label in COLUMNS)])
    return out.getvalue()


def with_contact(project: Project, office: str, year: int, fields: Mapping[str, str]) -> str | None:
    """The file's new text with this office-year's fields replaced by `fields` (cover label → text), or None
    when nothing changes (no field filled keeps an earlier row: an empty cover loses nothing)."""
    fields = {label: text for label, text in fields.items() if label in COLUMNS and text}
    contacts = read_contacts(project)
    if not fields or contacts.get((office, year)) == fields:
        return None
    contacts[office, year] = fields
    return contacts_text(contacts)
