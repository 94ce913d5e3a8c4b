"""The flow process's CPU time per batch submitted to Dask: a plain 500-file list, `BatchFiles`, and
`BatchFiles` with the settings serialised once (`flows.dask_worker.install_submit_cache`).

Under `--workers N` the flow process submits every batch while the workers want every core, so what a
submit costs the flow is taken from them. This submits no-op tasks with a batch-sized argument to a
two-worker LocalCluster, as `claimscope build --workers 2` does, and reports the submitting thread's CPU
time (`time.thread_time`) and wall time per submit, in alternating rounds.

Usage: .venv/bin/python -m benchmarks.bench_submit [--batches 40] [--files 500] [--rounds 2] [--profile]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# isort: off
import flows.settings  # noqa: E402,F401  (project Prefect settings before Prefect is imported)
from flows.build import BatchFiles  # noqa: E402
from flows.dask_worker import install_submit_cache, uninstall_submit_cache  # noqa: E402
from flows.discover import InputFile  # noqa: E402
from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
# isort: on


@task(cache_policy=NO_CACHE)
def noop(files: object, staging: str, version: str, when: int) -> int:
    return 0


@flow
def submit_flow(n_batches: int, n_files: int, rounds: int, profile: bool = False) -> dict[str, list[tuple]]:
    # Built here, not at module level: cloudpickle would otherwise carry them with the flow to every task.
    batches = [
        [
            InputFile(f"d/{b}/{i}.html", f"/x/d/{b}/{i}.html", 7000, 10**18 + i, f"{b:032x}{i:032x}")
            for i in range(n_files)
        ]
        for b in range(n_batches)
    ]
    out: dict[str, list[tuple]] = {}
    for _ in range(rounds):
        for mode in ("list", "BatchFiles", "BatchFiles, settings cached"):
            args = batches if mode == "list" else [BatchFiles(b, f"v{j}") for j, b in enumerate(batches)]
            (install_submit_cache if mode.endswith("cached") else uninstall_submit_cache)()
            prof = None
            if profile:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            t0, c0 = time.perf_counter(), time.thread_time()
            futures = [noop.submit(a, "s", "v", 0) for a in args]
            cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
            if prof is not None:
                import pstats

                prof.disable()
                print(f"--- {mode}")
                pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            for fut in futures:
                fut.result()
            out.setdefault(mode, []).append((cpu / n_batches, wall / n_batches))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="cProfile the submits (slows them)")
    args = ap.parse_args()

    from prefect_dask import DaskTaskRunner

    # Imported by name so that the flow and task pickle by reference, as the build's do.
    from benchmarks import bench_submit
    from flows.runner import _shared_ephemeral_api
    from flows.settings import disable_flow_heartbeat

    disable_flow_heartbeat()
    _shared_ephemeral_api()
    runner = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 2,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": ":0",
            "silence_logs": logging.WARNING,
        }
    )
    out = bench_submit.submit_flow.with_options(task_runner=runner)(
        args.batches, args.files, args.rounds, args.profile
    )
    print(f"{args.batches} submits of {args.files} files per round, flow thread, per submit:")
    for mode, runs in out.items():
        cells = "; ".join(f"CPU {c * 1000:.0f} ms, wall {w * 1000:.0f} ms" for c, w in runs)
        print(f"  {mode:<28} {cells}")


if __name__ == "__main__":
    main()
