"""How a failed report or overview is worded: one rule (`pool.failure_reason`) for the pool, Dask and overviews,
and one helper (`pool.failed_entry`) that builds the failed manifest entry from the exception."""

from __future__ import annotations

from nianbao.exceptions import ExecutionFailed, GateFailed, InputError, NianbaoError
from nianbao.manifest import FAILED, PUBLISHED, Entry
from nianbao.pool import Task, failed_entry, failure_reason


def test_nianbao_errors_are_worded_by_their_message_alone() -> None:
    bad = InputError("应填写非负整数（单位：件），读到“-3”", file="data/figures.csv", line=12, office="a", year=2022)
    assert failure_reason(bad) == "data/figures.csv:12，机关 a，年度 2022：应填写非负整数（单位：件），读到“-3”"
    refusal = NianbaoError("the Dask worker's nianbao 0.0.0 is not the client's 1.0: install the same version")
    assert failure_reason(refusal) == str(refusal)
    assert failure_reason(GateFailed("a", 2022, [])).startswith("a 2022年：")


def test_other_errors_keep_their_class_and_notebook_errors_their_traceback() -> None:
    assert failure_reason(RuntimeError("boom")) == "RuntimeError: boom"
    assert failure_reason(OSError(28, "No space left on device")) == "OSError: [Errno 28] No space left on device"
    assert failure_reason(NianbaoError()) == "nianbao.exceptions.NianbaoError"  # no message: its class at least
    raised = ExecutionFailed("a", 2022, "ValueError", "bad", ["\x1b[0;31mValueError\x1b[0m: bad", "  line 3"])
    assert failure_reason(raised) == "ValueError: bad\n\nValueError: bad\n  line 3"


def test_the_failed_entry_keeps_the_reports_inputs_and_findings() -> None:
    findings = [{"rule": "T3-ROWSUM", "severity": "warning"}]
    task = Task("a", 2022, findings, "digest-1")
    entry = failed_entry(task, InputError("坏", file="params/a/2022.yaml"))
    assert entry == Entry("a", 2022, FAILED, "digest-1", findings=findings, error="params/a/2022.yaml：坏")
    written = Entry("a", 2022, PUBLISHED, "digest-1", html="a/2022.html", notebook="a/2022.ipynb", findings=findings)
    lost = failed_entry(written, OSError(30, "Read-only file system"))
    assert (lost.status, lost.html, lost.notebook, lost.inputs, lost.findings) == (FAILED, None, None, "digest-1",
                                                                                  findings)
    assert lost.error == "OSError: [Errno 30] Read-only file system"
