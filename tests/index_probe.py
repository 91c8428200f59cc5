"""Drive `outputs/index.html` in real Chromium (headless): a copy of the page beside it, with a probe script
that performs actions (type a filter, pick a status or a year, click a column header, turn the page) the way
a reviewer does, and records what the page then shows. Used by tests/test_index.py and benchmarks/batch.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# Each step: an action, then (once the page has loaded what it needs) a record of the table as shown.
PROBE = r"""
<script>
(function () {
  var steps = %s, results = [], started = performance.now();
  function q(s) { return document.querySelector(s); }
  function record(step, ms) {
    var rows = Array.prototype.map.call(document.querySelectorAll("#reports tbody tr"), function (tr) {
      return {search: tr.getAttribute("data-search"), status: tr.getAttribute("data-status"),
              cells: Array.prototype.map.call(tr.cells, function (td) { return td.textContent; }),
              links: Array.prototype.map.call(tr.querySelectorAll("a"), function (a) { return a.href; })};
    });
    results.push({step: step, ms: ms, shown: Number(q("#shown").textContent), page: q("#page-at").textContent,
                  rows: rows, loading: !q("#loading").hidden, now: performance.now()});
  }
  function set(selector, value, event) {
    q(selector).value = value;
    q(selector).dispatchEvent(new Event(event));
  }
  function act(step) {
    if (step.op === "filter") { set("#filter-text", step.value, "input"); }
    if (step.op === "status") { set("#filter-status", step.value, "change"); }
    if (step.op === "year") { set("#filter-year", step.value, "change"); }
    if (step.op === "sort") { document.querySelectorAll("#reports thead th")[step.column].click(); }
    if (step.op === "next") { q("#page-next").click(); }
  }
  function run(i) {
    if (!q("#loading").hidden) { setTimeout(function () { run(i); }, 20); return; }
    if (i > 0) { document.body.offsetHeight; record(steps[i - 1], performance.now() - started); }
    if (i >= steps.length) { finish(); return; }
    started = performance.now();
    act(steps[i]);
    document.body.offsetHeight;  // the layout is part of the step's time
    run(i + 1);
  }
  function finish() {
    var pre = document.createElement("pre");
    pre.id = "probe-result";
    pre.textContent = JSON.stringify(results);
    document.body.appendChild(pre);
  }
  window.addEventListener("load", function () {
    document.body.offsetHeight;
    results.push({step: {op: "open"}, ms: performance.now(), shown: Number(q("#shown").textContent)});
    run(0);
  });
})();
</script>
"""


def probe(index: Path, steps: list[dict], *, profile: Path, budget_ms: int | None = 20000) -> list[dict]:
    """Open a copy of `index` (beside it, so its chunks load from file://) in headless Chromium, perform
    `steps` (`{"op": "filter"|"status"|"year", "value": ...}`, `{"op": "sort", "column": i}`, `{"op":
    "next"}`); return one record per step, after the first ("open", `ms` from navigation start to the load
    event, rows laid out): `shown`, `page`, `rows` (each row's data-search, status, cell texts, link URLs)."""
    page = index.with_name(f"probe-{profile.name}.html")
    page.write_text(index.read_text(encoding="utf-8").replace("</body>", PROBE % json.dumps(steps) + "</body>"),
                    encoding="utf-8")
    try:
        run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              f"--user-data-dir={profile}", "--window-size=1280,900",
                              *([f"--virtual-time-budget={budget_ms}"] if budget_ms else []), "--dump-dom",
                              page.as_uri()],
                             capture_output=True, text=True, timeout=180)
    finally:
        page.unlink(missing_ok=True)
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', run.stdout, re.S)
    assert found, f"no probe result (exit {run.returncode}): {run.stderr[-2000:]}"
    from html import unescape

    return json.loads(unescape(found.group(1)))


def open_time(index: Path, *, profile: Path, runs: int = 3) -> dict[str, float]:
    """Wall-clock figures of the page in Chromium without virtual time (median of `runs`): `open_ms`, from
    navigation start until the load event with the first page of rows laid out (the chunk scripts the page
    asks for delay the load event), and `sort_ms`, `filter_ms` for a sort by 机关 and a text filter on all
    the rows shown."""
    steps = [{"op": "sort", "column": 0}, {"op": "filter", "value": "0"}]
    found: dict[str, list[float]] = {"open_ms": [], "sort_ms": [], "filter_ms": [], "chromium_s": []}
    for i in range(runs):
        started = time.perf_counter()
        result = probe(index, steps, profile=profile.with_name(f"{profile.name}-{i}"), budget_ms=None)
        found["chromium_s"].append(time.perf_counter() - started)
        found["open_ms"].append(result[0]["ms"])
        found["sort_ms"].append(result[1]["ms"])
        found["filter_ms"].append(result[2]["ms"])
    return {k: sorted(v)[len(v) // 2] for k, v in found.items()}
