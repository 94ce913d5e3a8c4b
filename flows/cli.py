"""`claimscope`: build, validate, query and evaluate the claims dataset.

Errors are one line (`error: ... (hint: ...)`) with a non-zero exit; `--debug` shows the traceback.
"""

from __future__ import annotations

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
    console.print(f"[bold red]error:[/] {message}" + (f" [dim](hint: {hint})[/]" if hint else ""), highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def build(
    input: Annotated[Path, typer.Option("--input", "-i", help="Folder of articles (.txt .md .html .jsonl).")] = Path("seeds"),
    output: OutputOpt = Path("data"),
    full: Annotated[bool, typer.Option(help="Reprocess every document (ignore unchanged parts).")] = False,
    wait: Annotated[bool, typer.Option(help="If another build holds the output folder, wait for it.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Run batches on a local Dask cluster with N worker processes.")] = 1,
    dask_address: Annotated[
        str | None, typer.Option(help="Run batches on an existing Dask cluster (tcp://host:port).")
    ] = None,
    batch_docs: Annotated[int, typer.Option(min=1, help="Documents per batch task.")] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
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
            str(input), str(output), full=full, wait=wait, workers=workers, dask_address=dask_address,
            batch_docs=batch_docs, progress=not quiet, console=console,
        )
    except ClaimscopeError as exc:
        if getattr(exc, "failures", None):
            _print_failures(exc.failures)  # type: ignore[attr-defined]
        raise fail(str(exc), exc.hint) from exc
    _print_summary(summary)


def _print_failures(failures: list[dict]) -> None:
    for f in failures[:25]:
        col = f" on {f['column']}" if f.get("column") else ""
        n = f" ({f['unexpected_count']} unexpected)" if f.get("unexpected_count") else ""
        where = f" [{f['chunk']}]" if f.get("chunk") else ""
        console.print(f"[red]✗[/] {f['suite']}: {f['expectation']}{col}{n}{where}", highlight=False, markup=True)
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
    out.print(f"validation: {'passed' if s.validation.get('success') else 'FAILED'}; Data Docs: {s.data_docs}", highlight=False)
    out.print(f"published: {s.warehouse}  ({s.seconds.get('total', 0):.1f} s)", highlight=False)


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
        raise fail(f"{len(report.failures)} expectation(s) failed", "see the Data Docs: " + str(report.data_docs))
    out.print(f"all suites passed; Data Docs: {report.data_docs}")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help='SQL, e.g. "SELECT claim_type, count(*) FROM claims GROUP BY 1"')],
    output: OutputOpt = Path("data"),
    format: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
    limit: Annotated[int, typer.Option(help="Rows to print in table format (0 = all).")] = 50,
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
            t.add_column(c, overflow="fold")
        for r in rows:
            t.add_row(*("" if v is None else str(v) for v in r))
        out.print(t, markup=False)
    finally:
        con.close()


@app.command(name="eval")
def eval_cmd(
    gold: Annotated[Path, typer.Option(help="Gold folder (sections.jsonl, sentences.jsonl).")] = Path("eval/seeds_gold"),
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
