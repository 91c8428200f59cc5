"""Progress of a batch: a bar on a terminal, one plain line per report elsewhere (CI logs)."""

from __future__ import annotations

import time
from typing import IO, Any

from .manifest import FAILED, GATED, Entry

PER_SECOND, PER_REPORT = "reports/s", "s/report"


def rate(count: int, seconds: float, unit: str | None = None) -> str:
    """How fast `count` reports were built in `seconds`, as a reader can use it: "12.3 reports/s" from one a
    second up, "4.2 s/report" below (where reports/s would read 0.0); "" when nothing can be said (no report,
    no time measured). `unit` (`PER_SECOND` or `PER_REPORT`) fixes the unit whatever the rate, as a progress
    line keeps the one it started with; below 1 the figure then has two significant digits (`0.035 s/report`,
    `0.42 reports/s`), never 0.0."""
    if count <= 0 or seconds <= 0:
        return ""
    per_second = count / seconds
    unit = unit or (PER_SECOND if per_second >= 1 else PER_REPORT)
    figure = per_second if unit == PER_SECOND else seconds / count
    return f"{figure:.1f} {unit}" if figure >= 1 else f"{float(f'{figure:.2g}')} {unit}"


class Progress:
    """Call `start` once the work is known, `update` per report, `close` at the end."""

    def __init__(self, stream: IO[str], tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.total = 0
        self.done = 0
        self.started = time.perf_counter()
        self._bar: Any = None
        self._unit: str | None = None  # reports/s or s/report, fixed by the first rate shown

    def start(self, total: int, skipped: int) -> None:
        self.total, self.started, self._unit = total, time.perf_counter(), None
        if skipped:
            self._line(f"{skipped} report(s) unchanged since their last build: skipped")
        if total and self.tty:
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=self.stream, unit="report", dynamic_ncols=True, smoothing=0.1)
        elif total:
            self._line(f"building {total} report(s)")

    def update(self, entry: Entry) -> None:
        self.done += 1
        what = f"{entry.office} {entry.year}"
        if self._bar is not None:
            self._bar.set_postfix_str(what, refresh=False)
            self._bar.update()
            if entry.status in (GATED, FAILED):
                self._bar.write(f"{entry.status}: {what}", file=self.stream)
            return
        speed = rate(self.done, time.perf_counter() - self.started, self._unit)
        if speed and self._unit is None:  # one unit for the whole run: the first one shown
            self._unit = speed.split(" ")[1]
        self._line(f"[{self.done}/{self.total}] {entry.status:<9} {what}" + (f" ({speed})" if speed else ""))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
