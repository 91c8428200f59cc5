"""A finding: one rule broken at one place of one office-year's report."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True, order=True)
class Finding:
    office: str
    year: int
    rule: str
    severity: str  # "critical" or "warning"
    table: str | None
    row: str | None
    column: str | None
    message: str  # the Chinese message of FORMAT.md §7, placeholders filled
    value: str | None = None  # what was found, where it helps (a cell's text, a label)
    source: str | None = None  # file[:line] the finding comes from

    @property
    def critical(self) -> bool:
        return self.severity == "critical"

    @property
    def where(self) -> str:
        return ".".join(p for p in (self.table, self.row, self.column) if p)

    def describe(self) -> str:
        parts = [f"[{self.severity}] {self.rule}"]
        if self.where:
            parts.append(self.where)
        parts.append(self.message)
        if self.value is not None:
            parts.append(f"(值: {self.value})")
        if self.source:
            parts.append(f"— {self.source}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Finding:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})  # type: ignore[arg-type]


def dumps(findings: Iterable[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=1, sort_keys=True)


def loads(text: str) -> list[Finding]:
    return [Finding.from_dict(d) for d in json.loads(text)]


def has_critical(findings: Iterable[Finding]) -> bool:
    return any(f.critical for f in findings)
