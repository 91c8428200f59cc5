"""The `nianbao` command: a thin layer over the library. Exit status: 0 fine, 1 critical findings or a
gated report, 2 bad input or a failed run."""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .exceptions import NianbaoError
from .project import Project, check_office_id, check_year


def _project(path: str | None) -> Project:
    return Project.find(path) if path else Project.find()


def project_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--project", "project_dir", type=click.Path(file_okay=False),
                        help="Project folder (default: the one around the current directory).")(fn)


def reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn nianbao's errors into a one-line message and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NianbaoError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:  # outputs/ read-only, a full disk, a folder that cannot be made
            if isinstance(exc, BrokenPipeError) and _reader_gone():
                _end_quietly()
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(2)

    return wrapper


# The status of a process ended by SIGPIPE, as shells report it (128 + 13): what `nianbao check | head` ends
# with when `head` has read its lines, the command's own status being unknown then.
BROKEN_PIPE = 141
# The status of a command stopped by Ctrl-C (SIGINT) or SIGTERM: 128 + 2, as shells report a process SIGINT ended.
INTERRUPTED = 130


def _reader_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it (`| head`): its write end then polls as an
    error. Any other broken pipe (a worker's) is a failure of the run."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _end_quietly() -> None:
    """End with `BROKEN_PIPE` and no message: the reader of our output has all it wanted. Output still buffered
    goes to /dev/null, so Python's own flush at exit does not fail again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(BROKEN_PIPE)


def execution_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--kernel, --timeout and --wait, the same for `run` and `batch`."""
    from .pool import TIMEOUT

    fn = click.option("--wait", is_flag=True, help="When another nianbao process is writing outputs/, wait for "
                                                   "it (default: stop, naming that process).")(fn)
    fn = click.option("--timeout", type=click.IntRange(min=1), default=TIMEOUT, show_default=True,
                      metavar="SECONDS", help="Seconds a notebook cell may run before its report fails.")(fn)
    return click.option("--kernel", metavar="NAME", help="Jupyter kernel to run the notebook with (default: the "
                        "notebook's; where it is not installed, this environment's Python).")(fn)


def _note(text: str) -> None:
    click.echo(text, err=True)


@click.group()
@click.version_option(package_name="nianbao", prog_name="nianbao")  # also as `python -m nianbao`
def main() -> None:
    """nianbao (年报): annual government information disclosure reports, from data to a published page."""


_EXIT_STATUS: list[int] = []  # the status `script_main` ends with, once the command is done


def script_main() -> None:
    """The `nianbao` command (`main`), ended without tearing the interpreter down object by object: a batch that
    imported great-expectations and pandas spent 0.5–1.5 s of a one-change run on that. Python's own exit runs
    first (it waits for our threads, then runs the exit handlers of the run: kernels shut down, scratch folders
    removed); the last of those, registered here before any of them, ends the process (`_end_without_teardown`)."""
    import atexit

    atexit.register(_end_without_teardown)  # run last of the handlers registered from now on (they run LIFO)
    try:  # click's errors shown as click shows them; a Ctrl-C that no command caught is not its "Aborted!" (status 1)
        with _sigterm_interrupts():  # every command stops on SIGTERM as on Ctrl-C (130), not killed silently (143)
            code = main.main(standalone_mode=False)
        code = code if isinstance(code, int) else 0  # a command's own value, or the status of `ctx.exit`
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)  # after the line click ends an interrupted command with
        code = INTERRUPTED
    except BrokenPipeError:
        if not _reader_gone():
            raise
        _end_quietly()
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message to print: Python's own exit says it
        code = exc.code or 0
    _EXIT_STATUS.append(code)
    sys.exit(code)


def _end_without_teardown() -> None:
    """Flush the output and end the process with the command's status, skipping the interpreter's teardown. The
    exit handlers registered on import, before this one (logging's, multiprocessing's), would run after it: what
    they do that matters here is done first, by public means (no API runs exit handlers without exiting)."""
    import logging
    import multiprocessing

    if not _EXIT_STATUS:
        return  # an uncaught exception: Python's own exit, as usual
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: Python's own exit deals with it as usual
        return
    logging.shutdown()
    # multiprocessing's exit handler: stop the daemonic children, wait for the others (none, once a batch closed
    # its pool)
    for child in multiprocessing.active_children():
        if child.daemon:
            child.terminate()
    for child in multiprocessing.active_children():
        child.join()
    os._exit(_EXIT_STATUS[-1])


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _years(values: tuple[str, ...]) -> list[int] | None:
    """`2019-2021,2023` → [2019, 2020, 2021, 2023]; None when not given. A reversed range (`2021-2019`), a
    bad year or a value that names none (`,`) is a usage error (exit 2), never "every year"."""
    years: list[int] = []
    for part in _split(values):
        first, _, last = part.partition("-")
        try:
            low, high = check_year(first), check_year(last if "-" in part else first)
        except NianbaoError as exc:
            raise click.BadParameter(str(exc), param_hint="--years") from None
        if high < low:
            raise click.BadParameter(f"{part!r}：起始年份大于结束年份，应写作 {high}-{low}", param_hint="--years")
        years += range(low, high + 1)
    if values and not years:
        raise click.BadParameter(f"{','.join(values)!r} 没有列出任何年份", param_hint="--years")
    return years or None


def _offices(values: tuple[str, ...]) -> list[str] | None:
    """`a,b` → ["a", "b"] (ids checked); None when not given; a value that names no office is a usage error."""
    offices = _split(values)
    if values and not offices:
        raise click.BadParameter(f"{','.join(values)!r} 没有列出任何机关", param_hint="--offices")
    return [check_office_id(o) for o in offices] or None


def _selection(project: Project, offices: tuple[str, ...], years: tuple[str, ...]) \
        -> tuple[list[str] | None, list[int] | None]:
    """--offices and --years as `batch` and `workbook` read them (None: every one). An office that has no params
    folder is refused, naming it (a typo is not "nothing to do"); so are bad years and reversed ranges."""
    chosen, wanted = _offices(offices), _years(years)
    unknown = [o for o in chosen or () if not (project.root / "params" / o).is_dir()]
    if unknown:
        raise NianbaoError(f"no reports selected: no params folder for {', '.join(unknown)} (--offices; "
                           "params/<office>/<year>.yaml lists the reports, see `nianbao new`)")
    return chosen, wanted


def _report_files(paths: tuple[Path, ...], suffixes: tuple[str, ...] | None = None) -> list[Path]:
    """The report files of `paths` (files, folders), each once; a folder holding none is an error.
    `suffixes`: the kinds of file read in a folder (default: published reports)."""
    from .filekind import is_lock_file, problem
    from .ingest import SUFFIXES, report_files

    files: list[Path] = []
    for path in paths:
        if is_lock_file(path):  # `forms/*.xlsx` names `~$x.xlsx` while x.xlsx is open in Excel or WPS
            click.echo(f"跳过 {path}：{problem(path, 'xlsx')}", err=True)
            continue
        found = list(report_files([path], suffixes or SUFFIXES))
        if not found:
            kinds = "、".join(suffixes or SUFFIXES)
            raise NianbaoError(f"{path}：此文件夹中没有可读取的报告文件（可读取的文件类型：{kinds}）")
        files += found
    if not files:
        raise NianbaoError("没有可读取的文件（只给了临时锁定文件）")
    return list(dict.fromkeys(files))


FILES_PER_PROCESS = 8  # `nianbao audit`: files read per process it starts (a process costs ~2 s to start)
SUMMARY_LIMIT = 50  # gated or failed reports named in a batch's summary; the index lists them all


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) stops the block as Ctrl-C does; the previous handler is back afterwards, so
    a program that runs the command in its own process (click's CliRunner, `main(..., standalone_mode=False)`)
    keeps its own."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # Python's Ctrl-C: KeyboardInterrupt
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@main.command()
@click.option("--offices", "--office", "offices", multiple=True, metavar="IDS",
              help="Only these offices (comma-separated, repeatable).")
@click.option("--years", "--year", "years", multiple=True, metavar="YEARS",
              help="Only these years: 2021, 2019-2021, 2019,2023.")
@click.option("--jobs", "-j", type=click.IntRange(min=1),
              help="Worker processes (default and most: the CPUs this process may use).")
@click.option("--force", is_flag=True, help="Rebuild every selected report, changed or not.")
@click.option("--scheduler", metavar="ADDRESS", envvar="DASK_SCHEDULER_ADDRESS",
              help="Run on a Dask cluster: its scheduler (tcp://host:8786), or `local` for a LocalCluster of "
                   "--jobs workers on this machine. Default: $DASK_SCHEDULER_ADDRESS, else local processes.")
@execution_options
@project_option
@reports_errors
def batch(offices: tuple[str, ...], years: tuple[str, ...], jobs: int | None, force: bool, scheduler: str | None,
          kernel: str | None, timeout: int, wait: bool, project_dir: str | None) -> None:
    """Build every office-year that has a params file: validate all at once, execute on warm kernels.

    Skips reports whose inputs have not changed since their outputs were made (see outputs/manifest.json),
    writes outputs/index.html for reviewers, and exits 1 when a report is blocked by the gate, 2 when one
    failed.
    """
    from .batch import critical_findings, run_batch
    from .manifest import FAILED, GATED
    from .progress import Progress, rate

    project = _project(project_dir)
    progress = Progress(sys.stderr)
    try:
        with _sigterm_interrupts():  # a cancelled CI job: stop as for Ctrl-C, keep what is done
            result = run_batch(project, *_selection(project, offices, years), jobs,
                               force, on_start=progress.start, on_entry=progress.update, kernel=kernel,
                               timeout=timeout, wait=wait, on_note=_note, scheduler=scheduler or None)
    except KeyboardInterrupt:
        progress.close()
        click.echo("interrupted: finished reports are kept; run again to build the rest", err=True)
        sys.exit(INTERRUPTED)
    progress.close()
    gated, failed = result.with_status(GATED), result.with_status(FAILED)
    for entry in gated[:SUMMARY_LIMIT]:
        critical = critical_findings(entry)
        click.echo(f"未通过校验，不予发布：{entry.office} {entry.year}年，严重问题{len(critical)}项", err=True)
        for f in critical[:5]:
            click.echo(f"  {f.describe()}", err=True)
    for entry in failed[:SUMMARY_LIMIT]:
        first = (entry.error or "").strip().splitlines()[:1] or ["unknown error"]  # the reason; a traceback follows
        click.echo(f"failed: {entry.office} {entry.year}: {first[0]}", err=True)
    for name in result.damaged[:SUMMARY_LIMIT]:
        click.echo(f"已重新生成：{project.relative(project.outputs / name)} 在上次生成后被改动或删除", err=True)
    if len(result.damaged) > SUMMARY_LIMIT:
        click.echo(f"……另有{len(result.damaged) - SUMMARY_LIMIT}个被改动或删除的输出文件已重新生成", err=True)
    for problem in result.problems:
        click.echo(f"error: {problem}", err=True)
    for o in result.overviews:
        if o.get("status") == FAILED:
            first = (o.get("error") or "").strip().splitlines()[:1] or ["unknown error"]
            where = f"{o['region']} {o['year']}" if o.get("region") else o["year"]
            click.echo(f"failed: overview {where}: {first[0]}", err=True)
    for what, entries in (("gated", gated), ("failed", failed)):
        if len(entries) > SUMMARY_LIMIT:
            click.echo(f"... and {len(entries) - SUMMARY_LIMIT} more {what} report(s): see "
                       f"{project.relative(result.index)}", err=True)
    counts = ", ".join(f"{sum(e.status == s for e in result.entries)} {s}"
                       for s in ("published", "warnings", "gated", "failed"))
    # One report: its time says it all.
    speed = rate(result.built, result.seconds) if result.built > 1 else ""
    speed = f", {speed}" if speed else ""
    click.echo(f"{len(result.entries)} report(s): {counts}; built {result.built} in {result.seconds:.1f} s{speed}; "
               f"index: {project.relative(result.index)}")
    if result.overviews:  # a page per region and year, each year's linked from overview/<year>.html
        years = len({o.get("year") for o in result.overviews})
        regions = len({o.get("region") for o in result.overviews})
        click.echo(f"{len(result.overviews)} overview page(s) ({regions} region(s), {years} year(s)): "
                   f"{project.relative(project.outputs)}/overview/<year>.html")
    sys.exit(result.exit_code)


@main.command()
@click.option("--offices", "count", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many fictional offices.")
@click.option("--years", default="2019-2025", show_default=True, help="Years, as for batch: 2019-2025.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="A new or empty folder.")
@click.option("--faults", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of office-years that get one rule violation each (listed in synth.json).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same project.")
@click.option("--anomalies", is_flag=True,
              help="Steady figures, and in the last year what the overview flags (listed in synth.json).")
@reports_errors
def synth(count: int, years: str, out: str, faults: float, seed: int, anomalies: bool) -> None:
    """Write a complete fictional project (示例 offices) to OUT, ready for `nianbao batch`."""
    from .synth import synth as make

    wanted = _years((years,)) or []
    span = range(min(wanted), max(wanted) + 1)
    if list(span) != wanted:
        raise NianbaoError(f"--years must be one range of consecutive years, not {years!r}")
    try:
        result = make(Path(out), count, span, seed, faults, anomalies)
    except (FileExistsError, ValueError) as exc:
        raise NianbaoError(str(exc)) from None
    broken = sum(bool(e["faults"]) for e in result.expected.values())
    click.echo(f"wrote {result.reports} report(s) of {result.offices} office(s) to {out}"
               f" ({broken} with an injected fault, see synth.json); run: nianbao batch --project {out}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--office", help="Office id of the report(s) (default: the office of that name in data/offices.csv, "
                               "else an id made from the file name).")
@click.option("--year", help="Report year (default: from the title).")
@click.option("--force", is_flag=True, help="Replace an office-year that already has data.")
@project_option
@reports_errors
def ingest(paths: tuple[Path, ...], office: str | None, year: str | None, force: bool,
           project_dir: str | None) -> None:
    """Read published reports (web pages, text copies, PDF, Word) and filled workbooks (.xlsx) into data/.

    PATHS are files or folders of .html/.htm/.txt/.pdf/.docx/.xlsx files. A workbook made by `nianbao workbook`
    replaces its office-year's figures; a workbook of another office or year is refused unless --office/--year.
    A cell left blank or with a dash is recorded as not reported (blank), never as 0; the cells not reported
    are listed. With --project DIR naming a folder that holds no project yet, one is started there. Exits 2
    when a file could not be ingested.
    """
    from .ingest import SUFFIXES, WORKBOOKS, ingest_file, office_id_from
    from .render.html import cell_location
    from .scaffold import init_project

    project = init_project(Path(project_dir)) if project_dir else _project(None)
    office = check_office_id(office) if office else None
    failed = 0
    earlier: dict = {}  # the forms of this run, by office-year
    for path in _report_files(paths, (*SUFFIXES, *WORKBOOKS)):
        try:
            done = ingest_file(project, path, office=office, year=check_year(year) if year else None, force=force,
                               earlier=earlier)
        except NianbaoError as exc:
            click.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        pub = done.report
        total = len(pub.values)
        click.echo(f"{path}：{pub.office} {pub.year}年（{pub.format.id}）→ {done.office}"
                   f"{'（新登记机关）' if done.new_office else ''}：读到{pub.reported}/{total}个单元格")
        if done.new_office and not office and done.office == office_id_from(path) and done.office.startswith("office-"):
            click.echo(f"  机关代码 {done.office} 是由文件名生成的（文件名中没有英文字母）：如需其他代码，"
                       "请删去本次写入的文件后用 --office 重新导入")
        blanks = pub.not_reported
        if blanks:
            shown = "；".join(cell_location(pub.year, *ref.split(".")) for ref in blanks[:8])
            more = f"；另有{len(blanks) - 8}个" if len(blanks) > 8 else ""
            click.echo(f"  未填报（{len(blanks)}个，写为空白）：{shown}{more}")
        for ref, text in pub.originals.items():
            shown = " ".join(text.split()) if "\n" in text or "\r" in text else text  # one line a cell
            click.echo(f"  {cell_location(pub.year, *ref.split('.'))}（{ref}）：“{shown}”读作 {pub.values[ref]}")
        for i, (found, official) in enumerate(zip(pub.headings, pub.format.headings, strict=True)):
            if found is None:
                click.echo(f"  第{i + 1}部分标题：原文中没有找到，按规定应为“{official}”")
            elif found != official:
                click.echo(f"  第{i + 1}部分标题：原文为“{found}”，按规定写作“{official}”")
        for problem in pub.problems:
            click.echo(f"  {problem}")
        for critical, broken in done.checks:
            what = "勾稽关系不符（严重问题，报告将不予发布）" if critical else "勾稽关系不符（警告）"
            click.echo(f"  {what}，请与填报机关核对：{broken}")
        click.echo("  已写入：" + "、".join(project.relative(p) for p in done.written) if done.written
                   else "  未改动：项目中已有这份报告的数据")
    sys.exit(2 if failed else 0)


@main.command()
@click.argument("office", required=False)
@click.argument("year", required=False)
@click.option("--offices", "--office", "offices", multiple=True, metavar="IDS",
              help="Only these offices (comma-separated, repeatable).")
@click.option("--years", "--year", "years", multiple=True, metavar="YEARS",
              help="Only these years: 2024, 2023-2024.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder (default: forms/ of the project).")
@click.option("--force", is_flag=True, help="Replace workbooks that exist in the folder (they may be filled ones).")
@project_option
@reports_errors
def workbook(office: str | None, year: str | None, offices: tuple[str, ...], years: tuple[str, ...],
             out: Path | None, force: bool, project_dir: str | None) -> None:
    """Write the Excel forms (.xlsx) offices fill in: one per office-year, as the official tables.

    Every office-year with a params file, selected with --offices/--years as for `batch` (OFFICE alone: that
    office's); or OFFICE YEAR, one form, params file or not. Prefilled with the figures the project has, else
    with last year's carry-overs. Read them back with `nianbao ingest`.
    """
    from .params import list_reports
    from .workbook.write import write_workbooks

    project = _project(project_dir)
    if office and year:
        if offices or years:
            raise NianbaoError("give OFFICE YEAR, or select with --offices/--years, not both")
        pairs = [(check_office_id(office), check_year(year, office=office))]
    else:
        if office and offices:
            raise NianbaoError("give OFFICE, or --offices, not both")
        chosen, wanted = _selection(project, (office,) if office else offices, years)
        pairs = list_reports(project, chosen, wanted, problems=[])
        if not pairs:
            raise NianbaoError("no office-year selected: no params file matches (see `nianbao new`)")
    folder = out or project.root / "forms"
    done = write_workbooks(project, pairs, folder, force)
    kept = [p for p, written in done if not written]
    for path in kept:
        click.echo(f"保留 {path}（已存在；--force 可替换）")
    click.echo(f"已生成{len(done) - len(kept)}份报表，保存在 {folder}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the findings as one HTML page.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--office", "office_name", help="The office's name (机关名称), for reports without a title.")
@click.option("--year", help="Report year (default: from the title or the preamble).")
@click.option("--jobs", "-j", type=click.IntRange(min=1),
              help="Processes reading the files at once (default and most: the CPUs this process may use).")
@reports_errors
def audit(paths: tuple[Path, ...], html_out: Path | None, as_json: bool, office_name: str | None,
          year: str | None, jobs: int | None) -> None:
    """Check published reports against the rules of the national format, as the gate does.

    PATHS are files or folders of .html/.htm/.txt/.pdf/.docx files; reports of one office in consecutive years feed the
    cross-year rules. A rule that needs a cell that was not reported is not assessable, not failed. Figures
    the prose states that a table contradicts are warnings. Exits 1 when any finding is critical, 2 when a
    file could not be read.
    """
    from .atomic import write_files
    from .audit import audit as run_audit
    from .pool import usable_cpus

    files = _report_files(paths)
    usable = usable_cpus()
    if jobs and jobs > usable:
        _note(f"note: --jobs {jobs} capped at {usable}, the CPUs this process may use")
    # By default a process starts only for every FILES_PER_PROCESS files: starting one costs a few files' reading.
    jobs = min(jobs or math.ceil(len(files) / FILES_PER_PROCESS), usable)
    result = run_audit(files, office=office_name, year=check_year(year) if year else None, jobs=jobs)
    if as_json:
        click.echo(json.dumps([{"file": a.report.file, "office": a.report.office, "year": a.report.year,
                                "format": a.report.format.id, "findings": [f.to_dict() for f in a.findings],
                                "not_assessable": [list(n) for n in a.not_assessable],
                                "not_reported": a.report.not_reported, "unreadable": a.report.unreadable,
                                "problems": a.report.problems}
                               for a in result.audited], ensure_ascii=False, indent=1))
    else:
        for a in result.audited:
            pub = a.report
            critical = sum(f.critical for f in a.findings)
            click.echo(f"{pub.file}: {pub.office} {pub.year} ({pub.format.id})：严重问题{critical}项，"
                       f"警告{len(a.findings) - critical}项，无法评估的检查{len(a.not_assessable)}项")
            shown: dict[str, int] = {}
            for f in a.findings:
                shown[f.rule] = shown.get(f.rule, 0) + 1
                if shown[f.rule] <= 3:
                    click.echo("  " + f.describe().replace(f" — {pub.file}", "").replace("\n", " / "))
            for rule, n in shown.items():
                if n > 3:
                    click.echo(f"  ……另有{n - 3}项{rule}")
            if a.not_assessable:
                rules = sorted({r for r, *_ in a.not_assessable})
                why = "所需单元格未填报或未能读取" if pub.unreadable else "所需单元格未填报"
                click.echo(f"  无法评估（{why}）：{'、'.join(rules)}")
            for problem in pub.problems:
                click.echo(f"  {problem}")
    for error in result.errors:
        click.echo(f"error: {error}", err=True)
    if not as_json:
        critical = sum(a.critical for a in result.audited)
        click.echo(f"共审核{len(result.audited)}份报告，其中{critical}份有严重问题"
                   + (f"；{len(result.errors)}个文件无法读取" if result.errors else ""))
    if html_out:
        from .render.audit import audit_html

        write_files({html_out: audit_html(result)})
        click.echo(f"wrote {html_out}")
    sys.exit(result.exit_code)


@main.command()
@click.argument("office")
@click.argument("year")
@execution_options
@project_option
@reports_errors
def run(office: str, year: str, kernel: str | None, timeout: int, wait: bool, project_dir: str | None) -> None:
    """Execute and publish the report of OFFICE for YEAR.

    Writes outputs/OFFICE/YEAR.ipynb and outputs/OFFICE/YEAR.html; when a critical finding gates the
    report, writes outputs/OFFICE/YEAR.findings.html instead and exits 1. Exits 2 on bad input or when the
    notebook fails (a cell raises or times out, the kernel dies). Records the report in outputs/manifest.json.
    """
    from .run import GATED, quiet_papermill, run_report

    quiet_papermill()
    project = _project(project_dir)
    try:
        with _sigterm_interrupts():  # as Ctrl-C: the kernel is stopped, no temporary is left
            result = run_report(project, check_office_id(office), check_year(year, office=office),
                                kernel=kernel, timeout=timeout, wait=wait, on_note=_note)
    except KeyboardInterrupt:
        click.echo(f"interrupted: {office} {year} was not published; an earlier report is kept", err=True)
        sys.exit(INTERRUPTED)
    html = project.relative(result.html)
    if result.status == GATED:
        critical = [f for f in result.findings if f.critical]
        click.echo(f"未通过校验，不予发布：{office} {year}年，严重问题{len(critical)}项；问题清单见 {html}", err=True)
        for f in critical:
            click.echo(f"  {f.describe()}", err=True)
        sys.exit(1)
    size = result.html.stat().st_size
    click.echo(f"published {html} ({size / 1024:.1f} KB) and {project.relative(result.notebook)}"
               f" in {result.seconds:.1f} s")


@main.command()
@click.argument("office", required=False)
@click.argument("year", required=False)
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@reports_errors
def check(office: str | None, year: str | None, project_dir: str | None, as_json: bool) -> None:
    """Validate reports (all of them, one office's, or one office-year) and print the findings.

    Reads everything the batch reads (params files, registry, figures, prose) and reports every input error,
    naming file and line, office, year and field. Exits 2 on bad input, else 1 when any finding is critical.
    """
    from .data import read_registry
    from .exceptions import InputError
    from .findings import dumps, has_critical
    from .params import list_reports
    from .report import iter_reports
    from .validate import validate

    project = _project(project_dir)
    offices = [check_office_id(office)] if office else None
    years = [check_year(year, office=office)] if year else None
    problems: list[InputError] = []
    pairs = list_reports(project, offices, years, problems)
    if office and not pairs and not problems:
        what = f"{office} {year}" if year else office
        raise NianbaoError(f"params/ 下没有 {what} 的参数文件：请先运行 nianbao new {office} {year or '年度'}"
                           "（它写出参数文件、零值数字和正文框架）")
    registry = read_registry(project)  # an unreadable registry raises: exit 2
    problems += registry.unplaced
    reports = []
    for _, _, loaded in iter_reports(project, pairs, registry):  # what the batch reads: params, figures, prose
        if isinstance(loaded, InputError):
            problems.append(loaded)
        else:
            reports.append(loaded)
    findings = validate(reports, project)
    if as_json:
        click.echo(dumps(findings))
    else:
        for f in findings:
            click.echo(f"{f.office} {f.year} {f.describe()}")
    # every fault of a figures file, each once (the file fails every year of its office)
    errors = list(dict.fromkeys(str(e) for p in problems for e in getattr(p, "problems", [p])))
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if not as_json:
        critical = sum(f.critical for f in findings)
        click.echo(f"已校验{len(pairs)}份报告：严重问题{critical}项，警告{len(findings) - critical}项"
                   + (f"，输入错误{len(errors)}项" if errors else ""))
    sys.exit(2 if errors else 1 if has_critical(findings) else 0)


@main.command()
@project_option
@click.option("--check", "only_check", is_flag=True, help="Only check that the suites are up to date.")
@reports_errors
def expectations(project_dir: str | None, only_check: bool) -> None:
    """Write the great-expectations suites of the format rules to expectations/."""
    from .expectations import stale_suites, write_suites

    folder = _project(project_dir).expectations
    if only_check:
        stale = stale_suites(folder)
        if stale:
            click.echo(f"out of date: {', '.join(stale)} (run `nianbao expectations`)", err=True)
            sys.exit(1)
        click.echo("expectation suites are up to date")
        return
    for path in write_suites(folder):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("office")
@click.argument("year")
@project_option
@reports_errors
def new(office: str, year: str, project_dir: str | None) -> None:
    """Start the report of OFFICE for YEAR: zero figures, a narrative skeleton and the params file.

    The office must be in data/offices.csv. Existing figures, prose and params are left as they are.
    """
    from .scaffold import scaffold

    project = _project(project_dir)
    written = scaffold(project, check_office_id(office), check_year(year, office=office))
    # The analyst reads this: in Chinese, as ingest words what it wrote.
    for path in written:
        click.echo(f"已写入：{project.relative(path)}")
    if not written:
        click.echo(f"未改动：{office} {year}年的数据、正文和参数文件都已存在")
    click.echo(f"下一步：填写数字（nianbao cells {year} 列出各单元格，或用 nianbao workbook {office} {year} "
               f"生成 Excel 报表）和正文，再运行 nianbao check {office} {year}")


@main.command()
@click.argument("year")
@reports_errors
def cells(year: str) -> None:
    """List every data cell of YEAR's format: its key for data/figures, its labels and its kind."""
    from .scaffold import cell_table

    for key, row, column, kind in cell_table(check_year(year)):
        click.echo(f"{key:<32} {kind.value:<7} {row} / {column}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def rules(as_json: bool) -> None:
    """List the rules of FORMAT.md §7 with their severity and message."""
    from .formats import RULES

    rows = [{"id": r.id, "versions": list(r.versions), "status": r.status, "soft": r.soft,
             "severity": r.severity.value, "message": r.message} for r in RULES]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        click.echo(f"{r['id']:<16} {r['severity']:<8} {'/'.join(r['versions']):<11} {r['message']}")


if __name__ == "__main__":  # pragma: no cover
    main()



