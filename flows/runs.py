"""Run history: one Parquet row per build in `<output>/runs/`, failed builds included (the `runs` view)."""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from flows import storage
from flows.storage import Layout

if TYPE_CHECKING:
    from flows.build import BuildSummary
    from flows.validation import ValidationReport

RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("flow_run_id", pa.string()),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("finished_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # success | validation_failed | failed
        pa.field("error", pa.string()),
        pa.field("input_dir", pa.string(), nullable=False),
        pa.field("output_dir", pa.string(), nullable=False),
        pa.field("version_id", pa.string()),
        pa.field("pipeline_version", pa.string()),
        pa.field("files_discovered", pa.int64(), nullable=False),
        pa.field("files_accepted", pa.int64(), nullable=False),
        pa.field("files_partial", pa.int64(), nullable=False),
        pa.field("files_rejected", pa.int64(), nullable=False),
        pa.field("files_reused", pa.int64(), nullable=False),
        pa.field("files_processed", pa.int64(), nullable=False),
        pa.field("corrupted_parts", pa.list_(pa.string())),  # damaged published parts found and rebuilt
        pa.field("rows", pa.map_(pa.string(), pa.int64())),
        pa.field("validation_success", pa.bool_()),
        pa.field(
            "unchanged_since", pa.string()
        ),  # nothing changed: this published version's validation stands
        pa.field("suites_run", pa.int64()),
        pa.field(
            "suite_failures", pa.map_(pa.string(), pa.int64())
        ),  # suite -> failed expectations (0 = passed)
        pa.field("expectations_evaluated", pa.int64()),
        pa.field("expectations_failed", pa.int64()),
        pa.field("failed_expectations", pa.list_(pa.string())),
        pa.field("accuracy", pa.map_(pa.string(), pa.float64())),
        pa.field("accuracy_passed", pa.bool_()),
        pa.field("step_seconds", pa.map_(pa.string(), pa.float64())),
        pa.field("data_docs", pa.string()),
    ]
)


def _flow_run_id() -> str | None:
    try:
        from prefect.context import get_run_context

        ctx = get_run_context()
        fr = getattr(ctx, "flow_run", None)
        return str(fr.id) if fr is not None else None
    except Exception:
        return None


def record_run(
    layout: Layout,
    summary: BuildSummary,
    started: datetime,
    error: BaseException | None,
    report: ValidationReport | None,
) -> None:
    from flows.build import pipeline_version

    outcomes = summary.outcomes
    suites = report.suites if report else {}
    row = {
        "run_id": summary.run_id,
        "flow_run_id": _flow_run_id(),
        "started_at": started,
        "finished_at": datetime.now(UTC),
        "status": summary.status,
        "error": None if error is None else f"{type(error).__name__}: {error}"[:2000],
        "input_dir": summary.input_dir,
        "output_dir": summary.output_dir,
        "version_id": summary.version,
        "pipeline_version": pipeline_version(),
        "files_discovered": summary.files_discovered,
        "files_accepted": outcomes.get("accepted", 0),
        "files_partial": outcomes.get("partial", 0),
        "files_rejected": outcomes.get("rejected", 0),
        "files_reused": summary.files_reused,
        "files_processed": summary.files_processed,
        "corrupted_parts": list(summary.corrupted_parts),
        "rows": list(summary.rows.items()),
        "validation_success": None if report is None else report.success,
        "unchanged_since": None if report is None else report.unchanged_since,
        "suites_run": len(suites) if report else None,
        "suite_failures": sorted((name, s["failed"]) for name, s in suites.items()) if report else None,
        "expectations_evaluated": sum(s["expectations"] * s["runs"] for s in suites.values())
        if report
        else None,
        "expectations_failed": len(report.failures) if report else None,
        "failed_expectations": [f.one_line() for f in report.failures] if report else None,
        "accuracy": list(summary.validation.get("accuracy", {}).items()) or None,
        "accuracy_passed": summary.validation.get("accuracy_passed"),
        "step_seconds": list(summary.seconds.items()),
        "data_docs": summary.data_docs,
    }
    try:
        storage.write_run_record(layout, summary.run_id, pa.Table.from_pylist([row], schema=RUNS_SCHEMA))
    except Exception:  # recording history must not mask the build's own outcome
        traceback.print_exc()


def close_interrupted(layout: Layout, published: str | None) -> list[str]:
    """Close the records of builds that were killed: still `running`, while the caller holds the build lock.

    A killed build whose version is the published one (its publication was finished by `storage.recover`)
    succeeded; any other failed. Returns the run ids closed.
    """
    import pyarrow.parquet as pq

    closed = []
    for path in sorted(layout.runs.glob("*.parquet")):
        try:
            row = pq.read_table(path).to_pylist()[0]
        except Exception:  # an unreadable record is left for `status` to report
            continue
        if row.get("status") != "running":
            continue
        published_by_recovery = published is not None and row["run_id"] == published
        row.update(
            status="success" if published_by_recovery else "failed",
            finished_at=datetime.now(UTC),
            error=None
            if published_by_recovery
            else "the build was killed before it published (closed by the next build)",
            version_id=row["run_id"] if published_by_recovery else None,
        )
        table = pa.Table.from_pylist([row], schema=pq.read_schema(path))
        storage.write_run_record(layout, row["run_id"], table)
        closed.append(row["run_id"])
    return closed


def summary_markdown(summary: BuildSummary, error: BaseException | None) -> str:
    v = summary.validation or {}
    lines = [
        f"# claimscope build `{summary.run_id}`: **{summary.status}**",
        "",
        f"* input: `{summary.input_dir}`",
        f"* output: `{summary.output_dir}`" + (f" (version `{summary.version}`)" if summary.version else ""),
        f"* files: {summary.files_discovered} discovered, "
        + ", ".join(f"{n} {k}" for k, n in sorted(summary.outcomes.items()))
        + f"; {summary.files_reused} unchanged and reused, {summary.files_processed} processed",
        f"* validation: {_validation_text(v)}" + (f" ({len(v.get('suites', {}))} suites)" if v else ""),
    ]
    if summary.data_docs:
        lines.append(f"* Data Docs: [{summary.data_docs}]({Path(summary.data_docs).as_uri()})")
    if summary.warehouse:
        lines.append(f"* warehouse: `{summary.warehouse}`")
    if error is not None:
        lines += ["", f"**Error:** `{type(error).__name__}: {_md_escape(str(error))[:500]}`"]
    for failure in v.get("failures", [])[:20]:
        lines.append(f"  * {_md_escape(failure)}")
    lines += ["", "| table | rows |", "|---|---:|"]
    lines += [f"| {k} | {n} |" for k, n in sorted(summary.rows.items())]
    lines += ["", "| step | seconds |", "|---|---:|"]
    lines += [f"| {k} | {s:.3f} |" for k, s in summary.seconds.items()]
    return "\n".join(lines)


def _validation_text(v: dict) -> str:
    if not v:
        return "not run"
    if v.get("unchanged_since"):
        return f"unchanged since version `{v['unchanged_since']}` (validated then; nothing recomputed)"
    return "passed" if v.get("success") else "FAILED"


def _md_escape(s: str) -> str:
    """Artifacts render as Markdown/HTML in the Prefect UI; untrusted text must not inject markup."""
    import html

    return html.escape(s).replace("|", "\\|").replace("`", "'")


def runs_json(layout: Layout, limit: int = 20) -> str:
    con = storage.connect_readonly(layout)
    try:
        rows = con.sql(f"SELECT * FROM runs ORDER BY started_at DESC LIMIT {int(limit)}").fetchall()
        return json.dumps(rows, default=str)
    finally:
        con.close()
