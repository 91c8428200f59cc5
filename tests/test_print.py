"""The report page in a real browser (Chromium headless): printed on A4, table 四 stays on one page and a
table that continues on the next page starts there with its header rows; on a 1280 px screen no column
header breaks inside a word; on a phone, wide tables scroll sideways."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nianbao.run import run_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it with apt-get)"),
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"),
]


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / f"chromium-{len(list(tmp_path.glob('chromium-*')))}"
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def print_pdf(tmp_path: Path, page: Path) -> list[str]:
    """The page printed to PDF as a browser prints it; the text of each PDF page (pdftotext -layout)."""
    pdf = tmp_path / f"{page.stem}.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return [subprocess.run(["pdftotext", "-layout", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout for i in range(1, count + 1)]


@pytest.fixture(scope="module")
def seed_page(tmp_path_factory) -> Path:
    from conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("print") / "p")
    return run_report(project, "guandu-taihe", 2020).html


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_printed_seed_keeps_table_4_whole_and_repeats_header_rows(seed_page: Path, tmp_path: Path) -> None:
    pages = print_pdf(tmp_path, seed_page)
    # Table 四: its header and its only data row (15 figures) on one page, after its heading.
    (t4,) = [p for p in pages if "未经复议直接起诉" in p]
    assert "四、政府信息公开行政复议、行政诉讼情况" in t4
    assert any(re.fullmatch(r"\s*(?:\d+\s+){14}\d+\s*", line) for line in t4.splitlines()), t4
    # Table 二 fits on a page: printed whole, its first block and its last row together.
    (t2,) = [p for p in pages if "第二十条第（一）项" in p]
    assert "政府集中采购" in t2 and "二、主动公开政府信息情况" in t2
    # Table 三 is longer than a page: every page it continues on starts with its header rows.
    heading = "三、收到和处理政府信息公开申请情况"
    first = next(i for i, p in enumerate(pages) if heading in p)
    continued = [p for p in pages[first + 1:] if re.search(r"属于国家秘密|（七）总计|结转下年度继续办理", p)]
    assert continued, "table 三 fits on one page: nothing to check"
    for page in continued:
        head = " ".join(_lines(page)[:4])
        assert "申请人情况" in _lines(page)[0] and "法人或其他组织" in head and "自然人" in head, page[:300]


HEADER_BREAKS = """
<script>
addEventListener("load", () => {
  const out = {midword: [], scroll: {}};
  for (const th of document.querySelectorAll("th.nb-keep")) {
    for (const node of th.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE) continue;
      let top = null;
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i); range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        if (!rect) continue;
        if (top !== null && rect.top > top + 2) out.midword.push(th.textContent);
        top = rect.top;
      }
    }
  }
  for (const div of document.querySelectorAll(".nb-scroll")) {
    const table = div.querySelector("table");
    out.scroll[table.className] = [div.scrollWidth > div.clientWidth + 1, div.clientWidth];
  }
  const pre = document.createElement("pre"); pre.id = "nb-result"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _layout(tmp_path: Path, page: Path, width: int) -> dict:
    probe = tmp_path / f"probe-{width}.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", HEADER_BREAKS + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, f"--window-size={width},900", "--virtual-time-budget=3000", "--dump-dom", probe.as_uri())
    return json.loads(re.search(r'<pre id="nb-result">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))


def test_column_headers_never_break_inside_a_word_at_1280px(seed_page: Path, tmp_path: Path) -> None:
    layout = _layout(tmp_path, seed_page, 1280)
    assert layout["midword"] == []
    assert not any(scrolls for scrolls, _ in layout["scroll"].values())  # and nothing scrolls on a desktop


def test_wide_tables_scroll_sideways_on_a_phone(seed_page: Path, tmp_path: Path) -> None:
    layout = _layout(tmp_path, seed_page, 390)
    assert layout["midword"] == []
    assert layout["scroll"]["nb-table nb-t4"][0] and layout["scroll"]["nb-table nb-t3"][0]
