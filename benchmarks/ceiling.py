"""What a second process can gain on this machine, measured without Prefect, Dask or any file writes.

    python -m benchmarks.ceiling [--corpus DIR] [--docs 2000]

The batch transform (`flows.build.transform_batch`, what every batch task runs) on two disjoint halves of a
corpus: first one half after the other, each in a fresh process, then both at once in two fresh processes that
start their timed part together (a barrier). The speed-up of "both at once" is the most any two-worker build can
reach here: it is what the cores give when nothing else shares them, before the scheduler, task orchestration
and the corpus and validation steps, which do not split across workers, take their share.

Each process first runs the transform on a few documents of its own (imports, compiled lexicons, the sentence
memo) so that only steady-state work is timed, as in a long-running worker. It runs the transform as a batch task
on a one-thread Dask worker does, through the same call (`flows.build.transform_batch`: the collector paused) with
DuckDB on one thread.
With DuckDB's default (one thread per core) the halves run one after the other would have both cores for their
terms step and the two at once would fight over them, which measures the terms query, not a second worker.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WARM_DOCS = 50
WORKER_THREADS = 1  # flows.runner's LocalCluster: threads_per_worker=1


def _half(paths: list[str], barrier) -> dict[str, float]:
    """Transform one half in this process; returns the timed part's wall and CPU seconds."""
    from flows.build import transform_batch
    from transforms.batch import RawInput

    items = [RawInput(Path(p).name, Path(p).read_bytes()) for p in paths]
    now = datetime.now(UTC)
    transform_batch(items[:WARM_DOCS], ingested_at=now, version="ceiling", threads=WORKER_THREADS)
    if barrier is not None:
        barrier.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    out = transform_batch(items[WARM_DOCS:], ingested_at=now, version="ceiling", threads=WORKER_THREADS)
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "documents": out.n_documents,
    }


def two_process_ceiling(files: list[Path], docs_per_half: int) -> dict:
    """Sequential vs concurrent runs of the batch transform over two halves of `files` (see the module doc)."""
    n = docs_per_half + WARM_DOCS
    if len(files) < 2 * n:
        raise ValueError(f"need {2 * n} files for two halves of {docs_per_half} documents, got {len(files)}")
    halves = [[str(p) for p in files[:n]], [str(p) for p in files[n : 2 * n]]]
    ctx = mp.get_context("spawn")  # fresh interpreters, as Dask's worker processes are
    sequential = []
    for half in halves:
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            sequential.append(pool.submit(_half, half, None).result())
    with ctx.Manager() as manager:
        barrier = manager.Barrier(2)
        with ProcessPoolExecutor(2, mp_context=ctx) as pool:
            futures = [pool.submit(_half, half, barrier) for half in halves]
            concurrent = [f.result() for f in futures]
    seq = sum(r["seconds"] for r in sequential)
    conc = max(r["seconds"] for r in concurrent)
    return {
        "docs_per_half": docs_per_half,
        "sequential": sequential,
        "concurrent": concurrent,
        "sequential_seconds": seq,
        "concurrent_seconds": conc,
        "speedup": seq / conc if conc else float("nan"),
        # >1: the same work costs more CPU when two processes share the machine (caches, memory bandwidth)
        "cpu_inflation": sum(r["cpu_seconds"] for r in concurrent)
        / sum(r["cpu_seconds"] for r in sequential),
    }


def main(argv: list[str] | None = None) -> int:
    from benchmarks.run import walk

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench-data" / "corpus-10000")
    ap.add_argument("--docs", type=int, default=2000, help="timed documents per half")
    a = ap.parse_args(argv)
    files = [p for _, p in walk(a.corpus)]
    res = two_process_ceiling(files, a.docs)
    print(json.dumps(res, indent=1))
    print(
        f"two processes: {res['speedup']:.2f}x one after the other"
        f" ({res['sequential_seconds']:.2f} s vs {res['concurrent_seconds']:.2f} s);"
        f" CPU per document x{res['cpu_inflation']:.2f} when both run at once"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
