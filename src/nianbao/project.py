"""Where a nianbao project keeps its files, and how to find it from the current directory."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .exceptions import InputError, NianbaoError

OFFICE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


def check_office_id(office: str, *, file: object = None, line: int | None = None) -> str:
    """Office ids are ASCII slugs; they become path components, so nothing else may pass."""
    if not isinstance(office, str) or not OFFICE_ID.fullmatch(office):
        raise InputError(f"invalid office id {office!r}: use lower-case ASCII letters, digits and '-'",
                         file=file, line=line, field="office")
    return office


def check_year(year: object, *, file: object = None, office: str | None = None) -> int:
    if isinstance(year, bool) or not isinstance(year, (int, str)) or not str(year).isdigit() or len(str(year)) != 4:
        raise InputError(f"invalid year {year!r}: expected a four-digit year", file=file, office=office,
                         field="year")
    return int(year)


@dataclass(frozen=True)
class Project:
    """A project folder: data/, params/, expectations/, notebooks/ and outputs/ under one root."""

    root: Path

    @classmethod
    def find(cls, start: str | Path | None = None) -> Project:
        """The project that holds `start` (default: the current directory), found by its data/offices.csv."""
        here = Path(start or ".").resolve()
        for folder in (here, *here.parents):
            if (folder / "data" / "offices.csv").is_file():
                return cls(folder)
        raise NianbaoError(f"no nianbao project at or above {here} (looked for data/offices.csv)")

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def offices_file(self) -> Path:
        return self.data / "offices.csv"

    def figures_file(self, office: str) -> Path:
        return self.data / "figures" / f"{check_office_id(office)}.csv"

    def narrative_file(self, office: str, year: int) -> Path:
        return self.data / "narrative" / check_office_id(office) / f"{year}.md"

    def params_file(self, office: str, year: int) -> Path:
        return self.root / "params" / check_office_id(office) / f"{year}.yaml"

    @property
    def expectations(self) -> Path:
        return self.root / "expectations"

    @property
    def notebook(self) -> Path:
        return self.root / "notebooks" / "report.ipynb"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    def output_dir(self, office: str) -> Path:
        return self.outputs / check_office_id(office)

    def in_outputs(self, path: Path) -> str:
        """A path under `outputs/` as the manifest and the index record it: relative, with `/`."""
        return path.relative_to(self.outputs).as_posix()

    def relative(self, path: Path) -> str:
        """A path as the analyst knows it: relative to the project root when inside it."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)
