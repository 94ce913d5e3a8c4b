"""`claimscope`: build, validate, query and evaluate the claims dataset.

Errors are one line (`error: ... (hint: ...)`) with a non-zero exit; `--debug` shows the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import flows  # noqa: F401  (configures the runtime before Prefect/GX are imported)
from transforms.errors import ClaimscopeError, InputDirError, QueryError

app = typer.Typer(
    name="claimscope",
    help="Claims analytics for health articles: folder of articles -> validated Parquet + DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Output folder (Parquet, warehouse.duckdb).")]
_state = {"debug": False}


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


def fail(message: str, hint: str = "", code: int = 1) -> typer.Exit:
    console.print(
        f"[bold red]error:[/] {message}" + (f" [dim](hint: {hint})[/]" if hint else ""),
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(code)


@app.command()
def build(
    input: Annotated[
        Path, typer.Option("--input", "-i", help="Folder of articles (.txt .md .html .jsonl).")
    ] = Path("seeds"),
    output: OutputOpt = Path("data"),
    full: Annotated[bool, typer.Option(help="Reprocess every document (ignore unchanged parts).")] = False,
    wait: Annotated[
        bool, typer.Option(help="If another build holds the output folder, wait for it.")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Run batches on a local Dask cluster with N worker processes.")
    ] = 1,
    dask_address: Annotated[
        str | None, typer.Option(help="Run batches on an existing Dask cluster (tcp://host:port).")
    ] = None,
    batch_docs: Annotated[int, typer.Option(min=1, help="Documents per batch task.")] = 500,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    export_to: Annotated[
        str | None, typer.Option(help="After a successful publish, export it to this fsspec URL.")
    ] = None,
) -> None:
    """Build the dataset: discover, parse, extract, validate, publish."""
    # The CLI prints its own one-line error; Prefect's flow-run logger would print the traceback first.
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "CRITICAL")
    if not input.is_dir():  # fail before Prefect's server starts (seconds)
        err = InputDirError(f"input folder {str(input)!r} does not exist or is not a folder")
        raise fail(str(err), err.hint)
    from flows.runner import run_build

    try:
        summary = run_build(
            str(input),
            str(output),
            full=full,
            wait=wait,
            workers=workers,
            dask_address=dask_address,
            batch_docs=batch_docs,
            progress=not quiet,
            console=console,
        )
    except ClaimscopeError as exc:
        # Prefect drains its event queue at exit and may warn about it; the error stays one line.
        logging.getLogger("EventsWorker").setLevel(logging.ERROR)
        if getattr(exc, "failures", None):
            _print_failures(exc.failures)  # type: ignore[attr-defined]
        raise fail(str(exc), exc.hint) from exc
    _print_summary(summary)
    if export_to and summary.status == "success":
        _export(output, export_to)


def _print_failures(failures: list[dict]) -> None:
    for f in failures[:25]:
        col = f" on {f['column']}" if f.get("column") else ""
        n = f" ({f['unexpected_count']} unexpected)" if f.get("unexpected_count") else ""
        where = f" [{f['chunk']}]" if f.get("chunk") else ""
        console.print(
            f"[red]✗[/] {f['suite']}: {f['expectation']}{col}{n}{where}", highlight=False, markup=True
        )
        for row in f.get("sample", [])[:3]:
            console.print(f"    {row}", highlight=False, markup=False)


def _print_summary(s) -> None:
    t = Table(title=f"build {s.run_id}: {s.status}", show_edge=False)
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in sorted(s.rows.items()):
        t.add_row(name, f"{n:,}")
    out.print(t)
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(s.outcomes.items()))
    out.print(
        f"files: {s.files_discovered} discovered ({outcomes}); {s.files_reused} unchanged, {s.files_processed} processed",
        highlight=False,
    )
    out.print(
        "validation: "
        + (
            f"unchanged since {s.validation['unchanged_since']} (inputs, pipeline and suites identical)"
            if s.validation.get("unchanged_since")
            else ("passed" if s.validation.get("success") else "FAILED")
        )
        + f"; Data Docs: {s.data_docs}",
        highlight=False,
    )
    if s.task_processes > 1:
        out.print(f"tasks ran in {s.task_processes} worker processes", highlight=False)
    out.print(f"published: {s.warehouse}  ({s.seconds.get('total', 0):.1f} s)", highlight=False)
    if s.status == "success":
        out.print(
            f"dashboard: {s.dashboard or 'not generated (claimscope dashboard shows why)'}", highlight=False
        )


@app.command()
def validate(output: OutputOpt = Path("data")) -> None:
    """Re-run every Great Expectations suite on the published dataset (changes nothing)."""
    from flows.runner import validate_published

    try:
        report = validate_published(str(output))
    except ClaimscopeError as exc:
        raise fail(str(exc), exc.hint) from exc
    for name, s in sorted(report.suites.items()):
        mark = "[green]✓[/]" if not s["failed"] else "[red]✗[/]"
        out.print(f"{mark} {name}: {s['expectations']} expectations, {s['failed']} failed")
    if not report.success:
        _print_failures([f.__dict__ for f in report.failures])
        raise fail(
            f"{len(report.failures)} expectation(s) failed", "see the Data Docs: " + str(report.data_docs)
        )
    out.print(f"all suites passed; Data Docs: {report.data_docs}")


@app.command()
def query(
    sql: Annotated[
        str, typer.Argument(help='SQL, e.g. "SELECT claim_type, count(*) FROM claims GROUP BY 1"')
    ],
    output: OutputOpt = Path("data"),
    format: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
    limit: Annotated[int, typer.Option(help="Rows to print in table format (0 = all).")] = 50,
    max_width: Annotated[
        int, typer.Option(help="Truncate cells to this many characters in table format (0 = never).")
    ] = 60,
) -> None:
    """Run read-only SQL against the published warehouse and print the result."""
    import duckdb

    from flows.storage import Layout, connect_readonly

    try:
        con = connect_readonly(Layout.at(output))
    except ClaimscopeError as exc:
        raise fail(str(exc), exc.hint) from exc
    try:
        try:
            cur = con.execute(sql)
        except duckdb.Error as exc:
            err = QueryError(str(exc).splitlines()[0])
            raise fail(str(err), err.hint) from exc
        if cur.description is None:
            return
        if format in ("csv", "json"):
            df = cur.fetch_df()
            if format == "csv":
                df.to_csv(sys.stdout, index=False)
            else:
                sys.stdout.write(df.to_json(orient="records", force_ascii=False, date_format="iso") + "\n")
            return
        cols = [d[0] for d in cur.description]
        rows = cur.fetchmany(limit) if limit else cur.fetchall()
        t = Table(show_edge=False, show_lines=False)
        for c in cols:
            t.add_column(c, overflow="ellipsis", no_wrap=True)

        def cell(v: object) -> str:
            text = "" if v is None else " ".join(str(v).split())
            return text if not max_width or len(text) <= max_width else text[: max_width - 1] + "…"

        cells = [[cell(v) for v in r] for r in rows]
        for r in cells:
            t.add_row(*r)
        target = out
        if not out.is_terminal:  # piped: size the table to its content instead of an 80-column default
            width = sum(max([len(c), *(len(r[i]) for r in cells)]) + 3 for i, c in enumerate(cols)) + 1
            target = Console(width=max(80, width))
        target.print(t, markup=False, crop=False)
        if limit and len(rows) == limit and cur.fetchone() is not None:
            console.print(f"[dim](first {limit} rows; --limit 0 for all, --format csv for full text)[/]")
    finally:
        con.close()


@app.command(name="eval")
def eval_cmd(
    gold: Annotated[Path, typer.Option(help="Gold folder (sections.jsonl, sentences.jsonl).")] = Path(
        "eval/seeds_gold"
    ),
    seeds: Annotated[Path, typer.Option(help="The articles the gold set labels.")] = Path("seeds"),
) -> None:
    """Score the extractor against the hand-labelled seeds gold set (precision, recall, F1 per attribute)."""
    from flows.evaluation import run_eval

    try:
        report, failures = run_eval(gold, seeds)
    except ClaimscopeError as exc:
        raise fail(str(exc), exc.hint) from exc
    out.print(report, markup=False, highlight=False)
    if failures:
        raise fail("below threshold: " + "; ".join(failures), "see docs/claims-rules.md")


@app.command()
def dashboard(output: OutputOpt = Path("data")) -> None:
    """Regenerate the static dashboard (<output>/dashboard/index.html) from the published warehouse."""
    from flows.dashboard import write_dashboard
    from flows.storage import Layout

    try:
        page = write_dashboard(Layout.at(output))
    except ClaimscopeError as exc:
        raise fail(str(exc), exc.hint) from exc
    out.print(
        f"dashboard: {page.path} ({len(page.charts)} charts; open it in a browser, no server needed)",
        highlight=False,
    )


@app.command()
def export(
    to: Annotated[
        str, typer.Option("--to", help="fsspec URL: s3://bucket/claims, gs://..., file:///mnt/shared/claims")
    ],
    output: OutputOpt = Path("data"),
) -> None:
    """Copy the published dataset to object or shared storage; <URL>/LATEST names the complete version."""
    _export(output, to)


def _export(output: Path, to: str) -> None:
    from flows.export import export_published

    try:
        r = export_published(output, to)
    except ClaimscopeError as exc:
        raise fail(str(exc), exc.hint) from exc
    out.print(
        f"exported version {r.version} to {r.url}: {r.files_copied} files copied "
        f"({r.bytes_copied / 1e6:.1f} MB), {r.files_skipped} already there; LATEST -> {r.version}",
        highlight=False,
    )


@app.command()
def status(
    output: OutputOpt = Path("data"),
    max_age_hours: Annotated[
        float, typer.Option(min=0, help="Stale (exit 1) when the published dataset is older than this.")
    ] = 26.0,
    json_: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Age, last run and validation state of the published dataset.

    Exit status: 0 fresh and the last run succeeded; 1 stale or the last run failed; 2 no published dataset.
    """
    from flows.schedule import freshness

    f = freshness(output, max_age_hours)
    # Plain lines, never wrapped: monitoring greps them.
    typer.echo(f.as_json() if json_ else "\n".join(f.lines()))
    raise typer.Exit(f.exit_code)


@app.command()
def serve(
    input: Annotated[Path, typer.Option("--input", "-i", help="Folder of articles.")] = Path("seeds"),
    output: OutputOpt = Path("data"),
    cron: Annotated[str, typer.Option(help="When to build (cron, 5 fields).")] = "0 6 * * *",
    timezone: Annotated[str, typer.Option(help="Time zone of the cron schedule (IANA name).")] = "UTC",
    name: Annotated[str, typer.Option(help="Deployment name.")] = "scheduled-build",
    run_now: Annotated[bool, typer.Option(help="Also build once right away.")] = False,
    port: Annotated[int, typer.Option(help="Port of the local Prefect server (0 = any free port).")] = 0,
    ui: Annotated[bool, typer.Option(help="Serve the Prefect UI from the local server.")] = False,
) -> None:
    """Build on a schedule until stopped (Ctrl-C or SIGTERM). Starts a local Prefect server unless
    PREFECT_API_URL points at one; overlapping runs are never started."""
    from flows.schedule import parse_cron
    from flows.schedule import serve as serve_builds

    if not input.is_dir():
        err = InputDirError(f"input folder {str(input)!r} does not exist or is not a folder")
        raise fail(str(err), err.hint)
    try:
        parse_cron(cron, timezone)
    except ValueError as exc:
        raise fail(
            f"bad schedule {cron!r} ({timezone}): {exc}",
            "five fields: minute hour day month weekday, e.g. '0 6 * * *'",
        ) from exc
    serve_builds(
        input,
        output,
        cron=cron,
        timezone=timezone,
        name=name,
        run_now=run_now,
        port=port,
        ui=ui,
        say=lambda m: console.print(m, highlight=False, markup=False),
    )


def main() -> None:
    try:
        app()
    except ClaimscopeError as exc:  # raised outside a command's own handling
        console.print(f"[bold red]error:[/] {exc} [dim](hint: {exc.hint})[/]", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        sys.exit(130)
    except Exception as exc:
        if _state["debug"] or os.environ.get("CLAIMSCOPE_DEBUG"):
            raise
        console.print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}: {exc} [dim](hint: rerun with --debug for the traceback)[/]",
            highlight=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
