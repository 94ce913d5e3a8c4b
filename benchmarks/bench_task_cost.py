"""Worker CPU per Prefect task on a two-worker Dask LocalCluster, with and without the `flows.dask_worker` preload.

A task's body here does nothing, so the worker CPU it costs is Prefect's own per-task work: hydrating the flow's
settings, opening API clients, proposing states. Each round starts a cluster, warms both workers up, then
measures the workers' process CPU time over N no-op tasks.

Usage: .venv/bin/python -m benchmarks.bench_task_cost [--tasks 100] [--rounds 2]   (about 15 s per build)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# isort: off
import flows.settings  # noqa: E402,F401  (project Prefect settings before Prefect is imported)
from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
# isort: on


@task(cache_policy=NO_CACHE)
def probe(i: int) -> tuple[int, float]:
    time.sleep(0.3)  # long enough for the warm-up tasks to reach both workers
    return os.getpid(), time.process_time()


@task(cache_policy=NO_CACHE)
def noop(i: int) -> tuple[int, float]:
    return os.getpid(), time.process_time()


@flow
def cost_flow(n: int) -> tuple[float, float]:
    start: dict[int, float] = {}
    for pid, cpu in (f.result() for f in [probe.submit(i) for i in range(4)]):
        start[pid] = max(start.get(pid, 0.0), cpu)
    t = time.perf_counter()
    end: dict[int, float] = {}
    for pid, cpu in (f.result() for f in [noop.submit(i) for i in range(n)]):
        end[pid] = max(end.get(pid, 0.0), cpu)
    wall = time.perf_counter() - t
    return sum(end[p] - start.get(p, 0.0) for p in end), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from prefect_dask import DaskTaskRunner

    from flows.runner import _shared_ephemeral_api
    from flows.settings import disable_flow_heartbeat

    disable_flow_heartbeat()
    _shared_ephemeral_api()
    print(f"{args.tasks} no-op tasks on two Dask workers, per task:")
    for _ in range(args.rounds):
        for preload in (False, True):
            config = {"distributed.worker.profile.enabled": False}
            if preload:
                config["distributed.worker.preload"] = ["flows.dask_worker"]
            runner = DaskTaskRunner(
                cluster_kwargs={
                    "n_workers": 2,
                    "threads_per_worker": 1,
                    "processes": True,
                    "dashboard_address": ":0",
                    "config": config,
                }
            )
            cpu, wall = cost_flow.with_options(task_runner=runner)(args.tasks)
            label = "with the preload   " if preload else "without the preload"
            print(
                f"  {label}  worker CPU {cpu / args.tasks * 1e3:5.1f} ms, wall {wall / args.tasks * 1e3:5.1f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
