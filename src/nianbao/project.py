"""Where a nianbao project keeps its files, and how to find it from the current directory."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .exceptions import InputError, NianbaoError

OFFICE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
# Names under outputs/ that nianbao writes itself: an office id (its folder outputs/<id>/) may not take them.
RESERVED_IDS = {"overview": "outputs/overview/ 存放各年度、各地区的概览"}


YEAR = re.compile(r"[0-9]{4}")  # ASCII digits only: str.isdigit() also passes ²⁰²¹ and ２０２２


def check_office_id(office: object, *, file: object = None, line: int | None = None) -> str:
    """Office ids are ASCII slugs; they become path components, so nothing else may pass. Raises `InputError`
    (in Chinese, naming `file` and `line`) for anything else, including an id YAML read as a number, and for the
    names nianbao writes under outputs/ itself (`RESERVED_IDS`: `overview`)."""
    if isinstance(office, str) and OFFICE_ID.fullmatch(office):
        if office in RESERVED_IDS:
            raise InputError(f"机关标识 {office!r} 为保留名称（{RESERVED_IDS[office]}，与此机关的报告文件夹冲突）："
                             f"请换一个标识，如 {office}-1", file=file, line=line, field="office")
        return office
    if office is not None and not isinstance(office, str):
        problem = (f"机关标识 {office!r} 被读成了 {type(office).__name__} 而不是文字：参数文件中 office 的值请加引号、"
                   "照原样写（如 office: '0123'）；papermill 命令行请用 -r office <机关标识>")
    else:
        problem = f"无效的机关标识 {office!r}：只能用小写英文字母、数字和“-”（如 guandu-taihe 或 530111）"
    raise InputError(problem, file=file, line=line, field="office")


@cache
def first_year() -> int:
    """The first report year any format version covers (2019: F2019)."""
    from .formats import FORMATS

    return min(f.first_year for f in FORMATS)


def check_year(year: object, *, file: object = None, line: int | None = None, office: str | None = None) -> int:
    """A report year: four ASCII digits (or an int), not before the first format version (2019). Full-width,
    superscript or other non-ASCII digits, `2020a`, `True` are errors, never converted. Raises `InputError`."""
    text = str(year) if isinstance(year, int) and not isinstance(year, bool) else year
    if not isinstance(text, str) or not YEAR.fullmatch(text):
        raise InputError(f"无效的年份 {year!r}：年份须为四位半角数字，如 2021", file=file, line=line, office=office,
                         field="year")
    if int(text) < first_year():
        raise InputError(f"年份 {text} 没有对应的报告格式：nianbao 支持 {first_year()} 年及以后的年度报告",
                         file=file, line=line, office=office, field="year")
    return int(text)


@dataclass(frozen=True)
class Project:
    """A project folder: data/, params/, expectations/, notebooks/ and outputs/ under one root."""

    root: Path

    @classmethod
    def find(cls, start: str | Path | None = None) -> Project:
        """The project that holds `start` (default: the current directory), found by its data/offices.csv."""
        here = Path(start or ".").resolve()
        for folder in (here, *here.parents):
            if os.path.lexists(folder / "data" / "offices.csv"):  # a folder or a dangling link there: said when read
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
        if ".." not in path.parts:
            try:  # a path made from the root, as most are: no file system call (listing 10 000 params files)
                return str(path.relative_to(self.root))
            except ValueError:
                pass
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)
