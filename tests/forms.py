"""Our rendered pages in the other forms offices publish: PDF (printed by Chromium headless) and Word
(.docx written with python-docx, merged cells as Word merges them)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from htmltext import Cell, read

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
NO_CHROMIUM = "Chromium is not installed (.ci/run installs it with apt-get): PDFs are printed from our pages by it"


def print_pdf(html: str, out: Path) -> Path:
    """`html` printed to `out` by Chromium headless, as a browser's “save as PDF” does."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer", f"--print-to-pdf={out}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)
    return out


def _placed(rows: list[list[Cell]]) -> list[tuple[int, int, Cell]]:
    """Each cell with the grid row and column of its top-left slot."""
    taken: set[tuple[int, int]] = set()
    out = []
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while (r, c) in taken:
                c += 1
            out.append((r, c, cell))
            taken |= {(r + dr, c + dc) for dr in range(cell.rowspan) for dc in range(cell.colspan)}
            c += cell.colspan
    return out


def write_docx(html: str, out: Path, *, one_char_paragraphs: bool = False) -> Path:
    """A .docx of a report page: title, headings, paragraphs and the three tables with their merged cells.
    `one_char_paragraphs`: two- to four-character header cells written one character per paragraph."""
    import docx

    page = read(html)
    document = docx.Document()
    tables = iter(page.tables)
    headings = [i for i, (tag, _) in enumerate(page.blocks) if tag == "h2"]
    table_before = set(headings[2:5])
    for i, (tag, text) in enumerate([*page.blocks, ("end", "")]):
        if i in table_before:
            rows = next(tables)
            placed = _placed(rows)
            height = max(r + c.rowspan for r, _, c in placed)
            width = max(col + c.colspan for _, col, c in placed)
            table = document.add_table(rows=height, cols=width)
            table.style = "Table Grid"
            for r, col, cell in placed:
                target = table.cell(r, col)
                if cell.rowspan > 1 or cell.colspan > 1:
                    target = target.merge(table.cell(r + cell.rowspan - 1, col + cell.colspan - 1))
                if one_char_paragraphs and cell.tag == "th" and 2 <= len(cell.text) <= 4:
                    target.text = cell.text[0]
                    for ch in cell.text[1:]:
                        target.add_paragraph(ch)
                else:
                    target.text = cell.text
        if tag in ("h1", "h2"):
            document.add_heading(text, level=1 if tag == "h1" else 2)
        elif tag == "p":
            document.add_paragraph(text)
    document.save(str(out))
    return out


# -- text copies that lost the table's separators (from a `|` copy, `htmltext.flatten`) ---------------------

def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("|") if c.strip()]


def one_cell_per_line(text: str, rng=None) -> str:
    """A crawler's copy: every table cell on its own line; with `rng`, some numbers of three or more digits
    broken over two lines (`162` → `1` / `62`)."""
    out = []
    for line in text.splitlines():
        if "|" not in line:
            out.append(line)
            continue
        for cell in _cells(line):
            if rng is not None and cell.isdigit() and len(cell) >= 3 and rng.random() < 0.5:
                cut = rng.randint(1, len(cell) - 1)
                out += [cell[:cut], cell[cut:]]
            else:
                out.append(cell)
    return "\n".join(out) + "\n"


def glued_rows(text: str) -> str:
    """Each table row one line, its cells run together: `规章000`."""
    return "\n".join("".join(_cells(line)) if "|" in line else line for line in text.splitlines()) + "\n"


def one_line(text: str) -> str:
    """The whole report on one line, blocks apart only by spaces, table rows run together."""
    return " ".join(line for line in glued_rows(text).splitlines() if line.strip())
