"""Writing the reviewers' index: `outputs/index.html` and a chunk of rows per year, `outputs/index/<year>.js`.

Only what changed is written: a year's chunk when one of its entries, its overview's headline figures, the
set of its reports, an office name or the index's own code changed; the page when its text changed. What
the chunks were made from is kept in `outputs/index/.written.json`, with the stat of the manifest they
reflect: a process that finds the manifest as it was left knows that only the entries it changed itself
are new (a manifest written by anyone else makes every chunk be written again).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from .atomic import write_files
from .data import Registry, read_registry
from .exceptions import InputError
from .manifest import Manifest
from .params import list_reports
from .project import Project

INDEX_DIR = "index"
RECORD = ".written.json"  # hidden: a cache, not an output


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    # ctime too: a chunk replaced by another of the same size and mtime (`cp -p`, `touch -r`) gets a new one
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _unchanged(path: Path, stat: list[int] | None) -> bool:
    """Whether the chunk at `path` is the one written (`stat`: its size, mtime and ctime then, an older version's
    without ctime (written again once); None from a version that kept no stat: then whether it exists)."""
    return path.is_file() if stat is None else _stat(path) == stat


def write_index(project: Project, manifest: Manifest, registry: Registry | None = None,
                pairs: Iterable[tuple[str, int]] | None = None) -> Path:
    """Write `outputs/index.html` and the chunks whose rows changed; every office-year that has params and an
    entry in `manifest` is listed. `registry`: as the caller read it (read when None; offices unnamed when it
    cannot be read); `pairs`: every office-year that has params, as the caller listed them (listed when None).
    Returns the page's path."""
    from .overview import index_overviews
    from .render.index import assets_digest, chunk_rows, chunk_script, index_html

    if registry is None:
        try:
            registry = read_registry(project)
        except InputError:
            registry = Registry({})
    names = {o.id: o.name for o in registry.offices.values()}
    by_year: dict[int, list] = defaultdict(list)
    for office, year in list_reports(project, problems=[]) if pairs is None else pairs:
        if entry := manifest.get(office, year):
            by_year[year].append((office, entry))
    folder = project.outputs / INDEX_DIR
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        years_written = {str(y): r for y, r in record["years"].items() if isinstance(r, dict)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none, or damaged: every chunk is written
        record, years_written = {}, {}
    common = {"assets": assets_digest(),
              "names": _digest(sorted((o, names.get(o, "")) for o in {o for es in by_year.values() for o, _ in es}))}
    overviews = index_overviews(manifest.overviews)
    fresh = record.get("manifest") == manifest.loaded_stat and all(record.get(k) == v for k, v in common.items())
    files: dict[Path, str] = {}
    chunks, years = [], {}
    for year in sorted(by_year):
        items = by_year[year]
        headlines = overviews.get(str(year), {}).get("headlines", {})
        made_of = {"keys": _digest([o for o, _ in items]), "headlines": _digest(headlines)}
        before = years_written.get(str(year), {})
        path = folder / f"{year}.js"
        if (fresh and year not in manifest.changed_years and {k: before.get(k) for k in made_of} == made_of
                and before.get("version") and _unchanged(path, before.get("stat"))):
            years[str(year)] = before
        else:
            text = chunk_script(year, chunk_rows(items, names, headlines))
            files[path] = text
            years[str(year)] = {**made_of, "version": hashlib.sha256(text.encode()).hexdigest()[:12]}
        chunks.append({"year": year, "src": f"{INDEX_DIR}/{year}.js?v={years[str(year)]['version']}",
                       "rows": len(items)})
    counts = Counter(e.status for items in by_year.values() for _, e in items)
    page = project.outputs / "index.html"
    text = index_html(chunks, counts, overviews)
    try:
        same = page.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        same = False
    if not same:
        files[page] = text
    new_record = {**common, "manifest": manifest.file_stat, "years": years}
    if files or new_record != record:
        # Chunks first, then the stat each was written with (one damaged or edited since is written again), the
        # page that names them last; a chunk of a year no longer listed goes.
        chunk_files = {p: t for p, t in files.items() if p != page}
        write_files(chunk_files)
        for path in chunk_files:
            years[path.stem]["stat"] = _stat(path)
        write_files({folder / RECORD: json.dumps(new_record, ensure_ascii=False, indent=1, sort_keys=True) + "\n"})
        if page in files:
            write_files({page: text})
        for stale in set(years_written) - set(years):
            (folder / f"{stale}.js").unlink(missing_ok=True)
    return page
