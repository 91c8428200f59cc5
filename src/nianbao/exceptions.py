"""nianbao's exceptions: one root, and subclasses that carry the fields a user needs to find the fault."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .findings import Finding


class NianbaoError(Exception):
    """Root of nianbao's errors. The message is meant for the analyst, as is."""


class InputError(NianbaoError):
    """Bad input: names the file (and line), office, year and field where known."""

    def __init__(self, problem: str, *, file: object = None, line: int | None = None, office: str | None = None,
                 year: int | None = None, field: str | None = None) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.line = line
        self.office = office
        self.year = year
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        # In Chinese, as every message about an office's data: file:line，机关 …，年度 …，字段 …：problem
        where = []
        if self.file:
            where.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.office:
            where.append(f"机关 {self.office}")
        if self.year is not None:
            where.append(f"年度 {self.year}")
        if self.field:
            where.append(f"字段 {self.field}")
        return f"{'，'.join(where)}：{self.problem}" if where else self.problem


class GateFailed(NianbaoError):
    """Critical findings: the report must not be published."""

    def __init__(self, office: str, year: int, findings: Sequence[Finding]) -> None:
        self.office = office
        self.year = year
        self.findings = list(findings)
        super().__init__(str(self))

    def __str__(self) -> str:
        critical = sum(f.critical for f in self.findings)
        return f"{self.office} {self.year}年：严重问题{critical}项，报告不予发布（见上方问题清单，改正数据后重新运行）"

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the analyst reads the findings above, then one line why.
        return [str(self)]


class ExecutionFailed(NianbaoError):
    """The report notebook raised, or its kernel died."""

    def __init__(self, office: str, year: int, ename: str, evalue: str, traceback: Sequence[str] = ()) -> None:
        self.office = office
        self.year = year
        self.ename = ename
        self.evalue = evalue
        self.traceback = list(traceback)  # the kernel's lines, with ANSI colours
        super().__init__(f"{office} {year}: notebook failed: {ename}: {evalue}")
