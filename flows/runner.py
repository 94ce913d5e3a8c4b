"""Running the flow from the CLI: task-runner choice, the progress bar, and re-validation of a published set."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flows.settings import disable_flow_heartbeat
from flows.storage import DUCKDB_MEMORY_ENV, Layout, check_duckdb_memory_limit, check_lock_free
from transforms.errors import DatasetMissing

_prewarm: threading.Thread | None = None
# Set once the main thread has imported flows.build: the warm-up then imports nothing the main thread is importing.
_build_imported = threading.Event()


def _prewarm_imports(warm_process: bool = False) -> None:
    """Import Great Expectations (~5 s) on another core while Prefect's temporary server boots (~8-12 s).

    The flow joins this thread (wait_for_prewarm) before its batches run: GX and scikit-learn both import
    narwhals, and a batch importing sklearn while this thread imports GX could hit importlib's _DeadlockError,
    which turned one random article into an `error` rejection (found by tests/flows/test_faults.py).

    With `warm_process` (the local runner, whose batches run in this process) the thread then pays the
    process's one-time costs as well (flows.build.warm_up), once the main thread has imported flows.build.
    """
    global _prewarm
    _build_imported.clear()

    def work() -> None:
        import great_expectations  # noqa: F401
        import sklearn.decomposition  # noqa: F401

        if warm_process and _build_imported.wait(timeout=120):
            from flows.build import warm_up

            warm_up()

    _prewarm = threading.Thread(target=work, name="prewarm-imports", daemon=True)
    _prewarm.start()


def wait_for_prewarm() -> None:
    if _prewarm is not None:
        _prewarm.join()


def _shared_ephemeral_api() -> None:
    """Dask worker processes must report to the same Prefect API as the flow.

    Without PREFECT_API_URL every worker would start its own temporary server. Start the ephemeral server
    here (the flow's client reuses this very instance) and export its URL before the cluster starts.
    """
    if os.environ.get("PREFECT_API_URL"):
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    os.environ["PREFECT_API_URL"] = server.api_url


# The DuckDB memory a local cluster's processes share: the flow computes the corpus tables while the workers run
# the corpus suites, each process under its own limit. 100k articles, each at 512MB: peaks of +670 MB
# for the families step and +535 MB for the claim_family_members suite; at 256MB +420 and +300 MB, for 1.4 and
# 0.1 s more (measured one process at a time).
LOCAL_CLUSTER_DUCKDB_MB = 768
MIN_DUCKDB_MB = 128


def _share_duckdb_memory(workers: int) -> None:
    """Give the flow and each worker of a local cluster an equal share of LOCAL_CLUSTER_DUCKDB_MB (the workers
    inherit the environment when the cluster starts), unless the user set CLAIMSCOPE_DUCKDB_MEMORY_LIMIT."""
    share = max(MIN_DUCKDB_MB, LOCAL_CLUSTER_DUCKDB_MB // (workers + 1))
    os.environ.setdefault(DUCKDB_MEMORY_ENV, f"{share}MB")


def run_build(
    input_dir: str,
    output_dir: str,
    *,
    full: bool = False,
    wait: bool = False,
    workers: int = 1,
    dask_address: str | None = None,
    batch_docs: int = 500,
    progress: bool = True,
    console: Console | None = None,
):
    if not wait:
        check_lock_free(Layout.at(output_dir))
    check_duckdb_memory_limit()
    disable_flow_heartbeat()
    _prewarm_imports(warm_process=workers <= 1 and not dask_address)
    try:
        from flows.build import build_flow, set_progress
    finally:
        _build_imported.set()

    flow_fn = build_flow
    if workers > 1 or dask_address:
        from prefect_dask import DaskTaskRunner

        _shared_ephemeral_api()
        # prefect-dask serialises the flow's settings for every batch it submits, on the cores the workers want.
        from flows.dask_worker import install_submit_cache

        install_submit_cache()
        if dask_address:
            runner = DaskTaskRunner(address=dask_address)
        else:
            _share_duckdb_memory(workers)
            runner = DaskTaskRunner(
                cluster_kwargs={
                    "n_workers": workers,
                    "threads_per_worker": 1,
                    "processes": True,
                    # distributed starts its HTTP server anyway: a free port, so two builds never clash on 8787
                    "dashboard_address": ":0",
                    "silence_logs": logging.WARNING,
                    # Each worker's config (the nanny merges this over ours, keys at the top level): Dask's
                    # statistical profiler samples every worker thread's stack each 10 ms for its dashboard's
                    # profile page, which a build never shows.
                    # flows.dask_worker caches what Prefect rebuilds for every task run on a worker (its
                    # settings and SSL context: ~90 ms of worker CPU per task, ~12 ms with the caches).
                    "config": {
                        "distributed.worker.profile.enabled": False,
                        "distributed.worker.preload": ["flows.dask_worker"],
                    },
                }
            )
        flow_fn = build_flow.with_options(task_runner=runner)

    if not progress:
        return flow_fn(input_dir, output_dir, full=full, wait_for_lock=wait, batch_docs=batch_docs)

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    set_progress(update)
    try:
        with bar:
            return flow_fn(input_dir, output_dir, full=full, wait_for_lock=wait, batch_docs=batch_docs)
    finally:
        set_progress(None)


def validate_published(output_dir: str):
    """Run every suite against the published version (no Prefect run, nothing written but Data Docs)."""
    from flows.build import validate_staged
    from flows.storage import read_manifest

    layout = Layout.at(output_dir)
    version = layout.published_version()
    if version is None:
        raise DatasetMissing(f"no published dataset in {layout.root}")
    parts = read_manifest(version, "parts")
    batch_parts = sorted({p for p in parts.column("part").to_pylist()}) if parts is not None else []
    import pyarrow.parquet as pq

    n_inputs = sum(
        pq.ParquetFile(f).metadata.num_rows for f in Path(version, "inputs").glob("part-*.parquet")
    )
    return validate_staged(version, layout.data_docs, batch_parts, n_inputs)
