"""Benchmark harness (issue 5): a generated corpus through the real CLI, next to the I/O floor and peer splitters.

    python -m benchmarks.run --n N [--messy] [--seed 0] [--peers] [--incremental] [--workers-compare] [--out DIR]

Steps (each printed as it finishes, then a summary of every figure next to its target):

* corpus     generated once into DIR/corpus-<N>/ and reused while the generator's fingerprint matches;
* I/O floor  read + decode (transforms.decode) + write every text to ONE zstd-1 Parquet file, streamed in
             batches, single process: what any pipeline over these files must at least spend;
* build      `claimscope build -q --full` in a subprocess: wall time, the in-flow time (the run record's
             `total`, i.e. without Prefect's start-up and the interpreter's imports), per-step seconds from the
             run record, and the peak RSS and CPU of the whole process tree (sampled with psutil), split by
             what each process is (the flow, the Prefect server, Dask workers) and, for CPU, also over the
             in-flow time alone;
* --incremental     no-op re-run, +1 % new articles, then the same articles deleted again;
* --peers           our splitter, spaCy's sentencizer and pySBD on the same texts (samples, extrapolated);
* --workers-compare the same full build with `--workers 2` (Dask LocalCluster), and the speed-up it would reach
                    with every core busy for its whole in-flow time (its in-flow CPU over the cores);
  --workers-pairs K K one/two-worker pairs in ABBA order (1, 2 | 2, 1 | ...), judged on the summed times.

Results go to DIR/results-<N>.json. The targets are benchmark figures, not tests: on a shared or busy
machine they are indicative only (the JSON records the load average before and after).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import gc
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python benchmarks/run.py` as well as `-m`
    sys.path.insert(0, str(ROOT))

from benchmarks import generate  # noqa: E402

MB = 1e6  # MB = 10^6 bytes throughout, as in bench_splitter
EXTRA_DIR = "zz-incremental"  # the +1 % articles live in their own folder, so deleting them is one rmtree
FLOOR_BATCH = 1000  # documents per Parquet write in the I/O floor (memory stays flat)
SAMPLE_INTERVAL = 0.2  # seconds between RSS samples of the build's process tree

# Targets of issue 5 (benchmark figures only; nothing asserts them in the test suite).
T_BUILD_VS_FLOOR = 4.0  # full build within 4x the I/O floor
T_VS_SPACY = 5.0  # whole build at least 5x faster than spaCy's sentencizer alone
T_SPLITTER_MBS = 15.0  # sentence splitting >= 15 MB/s
T_PEAK_RSS = 2e9  # <= 2 GB at 10k and 100k alike
T_GX_EXPONENT = 1.05  # validation time ~ N^k with k <= 1 (+5 % for noise and fixed costs)
T_NOOP = 0.05  # no-op re-run <= 5 % of the full build (without start-up)
T_ADD1 = 0.10  # +1 % articles <= 10 % of the full build
T_WORKERS2 = 1.6  # 2 workers >= 1.6x one worker


def log(msg: str = "") -> None:
    print(msg, flush=True)


def rate(amount: float, seconds: float) -> float:
    return amount / seconds if seconds > 0 else float("nan")


# ---------------------------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    path: Path
    n: int
    messy: bool
    seed: int
    fingerprint: str
    n_files: int
    n_bytes: int
    stats: dict[str, int]
    generated_seconds: float | None  # None when reused

    @property
    def mb(self) -> float:
        return self.n_bytes / MB


def walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of every file, sorted, hidden folders skipped: the files `discover` reads."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for name in sorted(filenames):
            full = here / name
            yield full.relative_to(root).as_posix(), full


def _count(root: Path) -> tuple[int, int]:
    n = size = 0
    for _, p in walk(root):
        n += 1
        size += p.stat().st_size
    return n, size


def corpus_tag(n: int, messy: bool, seed: int) -> str:
    return f"{n}" + ("-messy" if messy else "") + (f"-seed{seed}" if seed else "")


def ensure_corpus(out: Path, n: int, *, messy: bool, seed: int) -> Corpus:
    """Generate DIR/corpus-<tag>/ unless a stamp says the same generator already wrote it with these arguments."""
    tag = corpus_tag(n, messy, seed)
    path, stamp = out / f"corpus-{tag}", out / f"corpus-{tag}.json"
    shutil.rmtree(path / EXTRA_DIR, ignore_errors=True)  # left behind by an interrupted --incremental
    fp = generate.fingerprint(n, messy=messy, seed=seed)
    if path.is_dir() and stamp.exists():
        meta = json.loads(stamp.read_text())
        n_files, n_bytes = _count(path)
        if meta.get("fingerprint") == fp and (meta["n_files"], meta["n_bytes"]) == (n_files, n_bytes):
            return Corpus(path, n, messy, seed, fp, n_files, n_bytes, meta["stats"], None)
    stamp.unlink(missing_ok=True)
    t0 = time.perf_counter()
    stats = generate.generate(path, n, messy=messy, seed=seed)
    secs = time.perf_counter() - t0
    n_files, n_bytes = _count(path)
    meta = {
        "n": n,
        "messy": messy,
        "seed": seed,
        "fingerprint": fp,
        "n_files": n_files,
        "n_bytes": n_bytes,
        "stats": stats,
    }
    stamp.write_text(json.dumps(meta, indent=1))
    return Corpus(path, n, messy, seed, fp, n_files, n_bytes, stats, secs)


# ---------------------------------------------------------------------------------------------- I/O floor


def io_floor(corpus: Corpus, out_file: Path) -> dict:
    """List, read, decode and write every text into one Parquet file (zstd 1, like flows/storage.py).

    A first pass over a few files pays the one-off costs (lazy imports, Arrow's allocator, zstd) outside the
    timing, so the floor is the per-byte cost only; the page cache is warmed for the floor and the builds alike.
    """
    _floor_pass(corpus, out_file, limit=100)
    t0 = time.perf_counter()
    for _, p in walk(corpus.path):
        p.read_bytes()
    warm = time.perf_counter() - t0
    return _floor_pass(corpus, out_file) | {"warm_read_seconds": warm}


def _floor_pass(corpus: Corpus, out_file: Path, limit: int | None = None) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flows.storage import PARQUET_OPTS
    from transforms.decode import decode_bytes
    from transforms.errors import InputRejected

    schema = pa.schema([pa.field("source_file", pa.string()), pa.field("text", pa.string())])
    me = psutil.Process()
    rss0 = peak = me.memory_info().rss
    n_docs = n_rejected = n_bytes = 0
    gc.collect()
    t0 = time.perf_counter()
    with pq.ParquetWriter(out_file, schema, **PARQUET_OPTS) as writer:
        names: list[str] = []
        texts: list[str] = []

        def flush() -> None:
            writer.write_table(pa.table({"source_file": names, "text": texts}, schema=schema))
            names.clear()
            texts.clear()

        for i, (rel, p) in enumerate(walk(corpus.path)):
            if limit is not None and i >= limit:
                break
            raw = p.read_bytes()
            n_bytes += len(raw)
            try:
                texts.append(decode_bytes(raw).text)
            except InputRejected:
                n_rejected += 1
                continue
            names.append(rel)
            n_docs += 1
            if len(texts) >= FLOOR_BATCH:
                flush()
                peak = max(peak, me.memory_info().rss)
        if texts:
            flush()
    secs = time.perf_counter() - t0
    size = out_file.stat().st_size
    out_file.unlink()
    return {
        "seconds": secs,
        "input_bytes": n_bytes,
        "files_decoded": n_docs,
        "files_rejected": n_rejected,
        "parquet_bytes": size,
        "mb_per_s": rate(n_bytes / MB, secs),
        "docs_per_s": rate(n_docs, secs),
        "rss_growth_mb": (peak - rss0) / MB,
    }


# ---------------------------------------------------------------------------------------------- builds


class TreeSampler(threading.Thread):
    """Peak RSS of a process and all its descendants (Prefect's server, Dask nanny and workers), summed.

    A sum of RSS counts pages shared between processes more than once, so it errs on the high side.
    """

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_total = self.peak_main = 0
        self.peak_procs = self.peak_threads = 0
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds (user + system) at its last sample
        self.roles: dict[int, str] = {}  # pid -> process_role() of its command line, read once
        self.peak_by_role: dict[str, int] = {}  # RSS by role in the sample with the largest total
        self.series: list[tuple[float, float]] = []  # (time.time(), the tree's CPU seconds so far) per sample
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop_event.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            by_role: Counter[str] = Counter()
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    ct = p.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                self.cpu[p.pid] = ct.user + ct.system
                if p.pid not in self.roles:
                    with contextlib.suppress(psutil.Error):
                        self.roles[p.pid] = process_role(p.cmdline(), is_root=p.pid == self.pid)
                by_role[self.role(p.pid)] += rss
                if p.pid == self.pid:
                    self.peak_main = max(self.peak_main, rss)
                    with contextlib.suppress(psutil.Error):  # batch tasks run in threads without Dask
                        self.peak_threads = max(self.peak_threads, p.num_threads())
            if total > self.peak_total:
                self.peak_total, self.peak_by_role = total, dict(sorted(by_role.items()))
            self.series.append((time.time(), sum(self.cpu.values())))
            self.peak_procs = max(self.peak_procs, len(procs))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the tree, summed over processes (a process's last sample: may miss its final 0.2 s)."""
        return sum(self.cpu.values())

    def role(self, pid: int) -> str:
        """process_role of a sampled process ("other" if it never answered a cmdline read)."""
        return self.roles.get(pid, "other")

    @property
    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds of the tree by process_role."""
        out: Counter[str] = Counter()
        for pid, secs in self.cpu.items():
            out[self.role(pid)] += secs
        return dict(sorted(out.items()))

    def cpu_between(self, t0: float, t1: float) -> float:
        """The tree's CPU seconds between two wall-clock times (time.time()), interpolated between samples."""
        return _interpolate(self.series, t1) - _interpolate(self.series, t0)

    @property
    def role_counts(self) -> dict[str, int]:
        return dict(Counter(map(self.role, self.cpu)))


def _interpolate(series: list[tuple[float, float]], t: float) -> float:
    """A sampled non-decreasing series at time t: linear between samples, flat outside them."""
    if not series:
        return math.nan
    i = bisect.bisect_left(series, (t, -math.inf))
    if i == 0:
        return series[0][1]
    if i == len(series):
        return series[-1][1]
    (ta, va), (tb, vb) = series[i - 1], series[i]
    return va + (vb - va) * (t - ta) / (tb - ta) if tb > ta else vb


def process_role(cmdline: list[str], is_root: bool) -> str:
    """What a process of a build's tree is: the flow (the CLI process, which also hosts a LocalCluster's scheduler
    and nannies), the Prefect server it started, a Dask worker (a multiprocessing child), or other."""
    if is_root:
        return "flow"
    text = " ".join(cmdline)
    if "prefect" in text and ("uvicorn" in text or "server" in text):
        return "prefect server"
    if "multiprocessing" in text and "spawn_main" in text:
        return "dask worker"
    return "other"


@dataclass
class BuildRun:
    label: str
    args: list[str]
    returncode: int
    wall_seconds: float
    startup_seconds: float | None = None  # launch -> the flow's first line (imports, Prefect server)
    teardown_seconds: float | None = None  # the flow's last line -> process exit
    in_flow_seconds: float | None = None  # the run record's `total`
    status: str | None = None
    error: str | None = None
    pipeline_version: str | None = None
    files_discovered: int | None = None
    files_processed: int | None = None
    files_reused: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    peak_rss_bytes: int = 0
    peak_rss_main_bytes: int = 0
    peak_processes: int = 0
    peak_threads_main: int = 0
    cpu_seconds: float = 0.0  # CPU time of the whole process tree (all threads, all processes)
    cpu_by_role: dict[str, float] = field(default_factory=dict)  # the same, by TreeSampler's process_role
    peak_rss_by_role: dict[str, int] = field(default_factory=dict)  # the peak sample's RSS by process_role
    processes_by_role: dict[str, int] = field(default_factory=dict)  # processes seen, by process_role
    in_flow_cpu_seconds: float | None = None  # the tree's CPU between the run record's start and finish
    log_file: str = ""

    @property
    def cores_used(self) -> float:
        """Mean cores busy from launch to exit: what is left of the machine for a second worker."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds else math.nan

    @property
    def in_flow_cores(self) -> float:
        """Mean cores busy while the flow ran (start-up and teardown left out)."""
        if not self.in_flow_cpu_seconds or not self.in_flow_seconds:
            return math.nan
        return self.in_flow_cpu_seconds / self.in_flow_seconds

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.status == "success"


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "claimscope"
    return [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]


def _run_record(output: Path, since: float) -> dict | None:
    """This build's row of the `runs` table. Read from runs/*.parquet (what the `runs` view globs) so a build
    that failed validation, and so published no warehouse, is still measured."""
    import duckdb

    runs = output / "runs"
    if not any(runs.glob("*.parquet")):
        return None
    glob = str(runs / "*.parquet").replace("'", "''")
    con = duckdb.connect()
    try:
        cur = con.execute(
            f"SELECT * FROM read_parquet('{glob}', union_by_name = true) "
            "WHERE started_at >= to_timestamp(?) ORDER BY started_at DESC LIMIT 1",
            [since - 1.0],
        )
        cols = [d[0] for d in cur.description]
        row = cur.fetchone()
    finally:
        con.close()
    return dict(zip(cols, row, strict=True)) if row else None


def run_build(
    label: str, corpus: Path, output: Path, logs: Path, *extra: str, env: dict[str, str] | None = None
) -> BuildRun:
    args = [*_cli(), "build", "-q", "--input", str(corpus), "--output", str(output), *extra]
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"{label}.log"
    launched = time.time()
    t0 = time.perf_counter()
    with log_file.open("w") as fh:
        proc = subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **(env or {})}
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.stop()
    wall = time.perf_counter() - t0
    exited = launched + wall
    run = BuildRun(label, args[1:], rc, wall, log_file=str(log_file))
    run.peak_rss_bytes, run.peak_rss_main_bytes = sampler.peak_total, sampler.peak_main
    run.peak_processes, run.peak_threads_main = sampler.peak_procs, sampler.peak_threads
    run.cpu_seconds = sampler.cpu_seconds
    run.cpu_by_role, run.peak_rss_by_role = sampler.cpu_by_role, sampler.peak_by_role
    run.processes_by_role = sampler.role_counts
    rec = _run_record(output, launched)
    if rec is not None:
        steps = dict(rec.get("step_seconds") or {})
        run.steps = {k: v for k, v in steps.items() if k != "total"}
        run.in_flow_seconds = steps.get("total")
        run.startup_seconds = rec["started_at"].timestamp() - launched
        run.teardown_seconds = exited - rec["finished_at"].timestamp()
        run.in_flow_cpu_seconds = sampler.cpu_between(
            rec["started_at"].timestamp(), rec["finished_at"].timestamp()
        )
        run.status, run.error, run.pipeline_version = (
            rec["status"],
            rec.get("error"),
            rec.get("pipeline_version"),
        )
        run.files_discovered = rec.get("files_discovered")
        run.files_processed, run.files_reused = rec.get("files_processed"), rec.get("files_reused")
        run.rows = dict(rec.get("rows") or {})
    if not run.ok:
        tail = log_file.read_text(errors="replace").splitlines()[-25:]
        log(f"  !! {label}: exit {rc}, status {run.status}: {run.error or ''}")
        for line in tail:
            log(f"     | {line}")
    return run


def expected_batches(corpus: Corpus, batch_docs: int | None) -> int:
    """Batch tasks of a full build (the unit of parallelism): at most batch_docs files or BATCH_BYTES each."""
    from flows.build import BATCH_BYTES, BATCH_DOCS

    per = batch_docs or BATCH_DOCS
    return max(math.ceil(corpus.n_files / per), math.ceil(corpus.n_bytes / BATCH_BYTES))


def pair_order(pairs: int) -> list[tuple[int, int]]:
    """(pair, workers) in run order after the first pair's one-worker build: 2 | 2, 1 | 1, 2 | 2, 1 ... (ABBA)."""
    order = [(0, 2)]
    for k in range(1, pairs):
        order += [(k, 2), (k, 1)] if k % 2 else [(k, 1), (k, 2)]
    return order


def alternating_speedup(one: list[float], two: list[float]) -> dict:
    """The two-worker speed-up over pairs of builds run in alternating order: each pair's ratio, their median,
    and the ratio of the summed times. In ABBA order a drift in the machine's speed that is steady over the run
    weighs on both sides alike, so the summed ratio is the one to judge (one pair can be 1.4x or 1.8x here)."""
    if not one or len(one) != len(two):
        raise ValueError("one and two need the same number of builds, at least one")
    ratios = [rate(a, b) for a, b in zip(one, two, strict=True)]
    ordered = sorted(ratios)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"pairs": ratios, "median": median, "summed": rate(sum(one), sum(two))}


def print_build(run: BuildRun, corpus: Corpus) -> None:
    n_docs = run.rows.get("documents", 0)
    flow_s = run.in_flow_seconds or float("nan")
    log(
        f"  {run.label}: wall {run.wall_seconds:.1f} s = start-up {_f(run.startup_seconds)} s"
        f" + in-flow {_f(run.in_flow_seconds)} s + teardown {_f(run.teardown_seconds)} s; status {run.status}"
    )
    log(
        f"    {rate(corpus.mb, flow_s):.2f} MB/s, {rate(n_docs, flow_s):.1f} documents/s in-flow"
        f" ({rate(corpus.mb, run.wall_seconds):.2f} MB/s wall); files processed {run.files_processed},"
        f" reused {run.files_reused}; peak RSS {run.peak_rss_bytes / MB:.0f} MB"
        f" (flow process {run.peak_rss_main_bytes / MB:.0f} MB, {run.peak_threads_main} threads;"
        f" {run.peak_processes} processes)"
    )
    if len(run.peak_rss_by_role) > 1:
        log(f"    at the peak: {_by_role(run, run.peak_rss_by_role, lambda v: f'{v / MB:,.0f} MB')}")
    log(
        f"    CPU {run.cpu_seconds:.1f} s over the process tree: {run.cores_used:.2f} of {os.cpu_count()} cores"
        " busy on average, start-up included"
        + (f" ({_by_role(run, run.cpu_by_role, lambda v: f'{v:.1f} s')})" if run.cpu_by_role else "")
        + (
            f"; in-flow alone {run.in_flow_cpu_seconds:.1f} s, {run.in_flow_cores:.2f} cores busy"
            if run.in_flow_cpu_seconds
            else ""
        )
    )
    print_steps(run, corpus)


def print_steps(run: BuildRun, corpus: Corpus) -> None:
    n_docs = run.rows.get("documents", 0)
    total = run.in_flow_seconds or float("nan")
    log(f"    {'step':<28}{'seconds':>9}{'share':>8}{'MB/s':>10}{'docs/s':>11}")
    for name, secs in run.steps.items():
        # process.* are sums over batch tasks (each batch's wall time; process.cpu its thread's CPU time), not
        # wall time of the flow.
        share = "" if name.startswith("process.") else f"{secs / total:7.1%}"
        mbs, dps = (
            (f"{rate(corpus.mb, secs):10.2f}", f"{rate(n_docs, secs):11.0f}") if secs >= 0.005 else ("-", "-")
        )
        log(f"    {name:<28}{secs:9.2f}{share:>8}{mbs:>10}{dps:>11}")


def _by_role(run: BuildRun, values: dict, fmt: Callable[[float], str]) -> str:
    """Values by role, a role's processes summed: "flow 12.0 s, dask worker x2 300.1 s"."""

    def name(role: str) -> str:
        n = run.processes_by_role.get(role, 1)
        return f"{role} x{n}" if n > 1 else role

    return ", ".join(f"{name(role)} {fmt(v)}" for role, v in values.items())


def _f(x: float | None, fmt: str = ".1f") -> str:
    return "?" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


# ---------------------------------------------------------------------------------------------- peers


def sample_texts(corpus: Corpus, max_bytes: float) -> list[str]:
    """Decoded texts in corpus order until their UTF-8 size reaches max_bytes (a deterministic prefix)."""
    from transforms.decode import decode_bytes
    from transforms.errors import InputRejected

    out, size = [], 0
    for _, p in walk(corpus.path):
        if size >= max_bytes:
            break
        try:
            text = decode_bytes(p.read_bytes()).text
        except InputRejected:
            continue
        out.append(text)
        size += len(text.encode("utf-8"))
    return out


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    gc.disable()  # as bench_splitter: collector pauses are noise, not the splitter's cost
    try:
        t0 = time.perf_counter()
        n = fn()
        return time.perf_counter() - t0, n
    finally:
        gc.enable()


def peers(corpus: Corpus, *, ours_mb: float, spacy_mb: float, pysbd_mb: float) -> dict:
    from transforms.sentences import split_sentences

    texts = sample_texts(corpus, max(ours_mb, spacy_mb, pysbd_mb) * MB)
    sizes = [len(t.encode("utf-8")) for t in texts]

    def prefix(mb: float) -> tuple[list[str], float]:
        acc, k = 0, 0
        while k < len(texts) and acc < mb * MB:
            acc += sizes[k]
            k += 1
        return texts[:k], acc / MB

    results: dict[str, dict] = {}

    def record(name: str, sample: list[str], sample_mb: float, fn: Callable[[], int]) -> None:
        secs, n = _timed(fn)
        results[name] = {
            "sample_mb": sample_mb,
            "sample_docs": len(sample),
            "seconds": secs,
            "sentences": n,
            "mb_per_s": rate(sample_mb, secs),
            "docs_per_s": rate(len(sample), secs),
        }
        extrapolated = corpus.mb / results[name]["mb_per_s"]
        note = "" if sample_mb >= corpus.mb * 0.999 else f"; whole corpus extrapolated: {extrapolated:.0f} s"
        log(
            f"  {name:<22}{results[name]['mb_per_s']:8.2f} MB/s {results[name]['docs_per_s']:9.0f} docs/s"
            f"  ({n:,} sentences from {len(sample):,} docs, {sample_mb:.1f} MB in {secs:.2f} s{note})"
        )

    sample, mb = prefix(ours_mb)
    record("claimscope splitter", sample, mb, lambda: sum(len(split_sentences(t)) for t in sample))

    def per_paragraph() -> int:  # as the pipeline calls it: one call per paragraph (line) of the text
        n = 0
        for t in sample:
            pos = 0
            for line in t.split("\n"):
                if line.strip():
                    n += len(split_sentences(t, pos, pos + len(line)))
                pos += len(line) + 1
        return n

    record("claimscope per paragraph", sample, mb, per_paragraph)

    try:
        from spacy.lang.en import English
    except ImportError:
        log("  spaCy not installed: `make bench` installs the `bench` extra (pip install -e '.[bench]')")
    else:
        nlp = English()  # blank pipeline: tokenizer + rule-based sentencizer, no model download
        nlp.add_pipe("sentencizer")
        sp_sample, sp_mb = prefix(spacy_mb)
        record(
            "spaCy sentencizer",
            sp_sample,
            sp_mb,
            lambda: sum(sum(1 for _ in d.sents) for d in nlp.pipe(sp_sample, batch_size=64)),
        )
    try:
        import pysbd
    except ImportError:
        log("  pySBD not installed: `make bench` installs the `bench` extra (pip install -e '.[bench]')")
    else:
        seg = pysbd.Segmenter(language="en", clean=False, char_span=False)
        sb_sample, sb_mb = prefix(pysbd_mb)
        record("pySBD", sb_sample, sb_mb, lambda: sum(len(seg.segment(t)) for t in sb_sample))
    return results


# ---------------------------------------------------------------------------------------------- summary


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: str
    ok: bool | None  # None: informational, or could not be measured

    @property
    def verdict(self) -> str:
        return "-" if self.ok is None else ("PASS" if self.ok else "FAIL")


def _check(value: float | None, ok: Callable[[float], bool]) -> bool | None:
    return None if value is None or math.isnan(value) else ok(value)


def gx_exponent(out: Path, n: int, messy: bool, validate_s: float | None) -> tuple[float | None, int | None]:
    """k in validate_time ~ N^k against the results file of the most different N (same corpus kind)."""
    if validate_s is None:
        return None, None
    best: tuple[float, float, int] | None = None
    for f in out.glob("results-*.json"):
        try:
            other = json.loads(f.read_text())
            o_n, o_s = other["corpus"]["n"], other["build"]["full"]["steps"]["validate"]
        except (KeyError, TypeError, ValueError, OSError):
            continue
        if o_n == n or other["corpus"].get("messy") != messy or not o_s:
            continue
        spread = abs(math.log(n / o_n))
        if best is None or spread > best[0]:
            best = (spread, math.log(validate_s / o_s) / math.log(n / o_n), o_n)
    return (best[1], best[2]) if best else (None, None)


def print_summary(figures: list[Figure]) -> None:
    log()
    log(f"{'figure':<52}{'value':>14}  {'target':<26}verdict")
    log("-" * 100)
    for f in figures:
        if f.value is None or math.isnan(f.value):
            value = "n/a"
        elif f.unit == "yes/no":
            value = "yes" if f.value else "no"
        else:
            value = f"{f.value:,.0f}" if abs(f.value) >= 100 else f"{f.value:.3g}"
            value = f"{value} {f.unit}".strip()
        log(f"{f.name:<52}{value:>14}  {f.target:<26}{f.verdict}")


def _json_safe(obj: object) -> object:
    """NaN (a figure that could not be measured) becomes null: strict JSON readers reject NaN."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def _git_state() -> dict:
    def git(*a: str) -> str:
        try:
            return subprocess.run(
                ["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="articles in the generated corpus")
    ap.add_argument(
        "--messy", action="store_true", help="mixed formats, encodings and junk (benchmarks.generate)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out", type=Path, default=ROOT / "bench-data", help="corpus, builds and results (gitignored)"
    )
    ap.add_argument("--incremental", action="store_true", help="no-op re-run, +1 %% articles, deletion")
    ap.add_argument("--peers", action="store_true", help="spaCy sentencizer and pySBD on the same texts")
    ap.add_argument("--workers-compare", action="store_true", help="full build with --workers 2 vs 1")
    ap.add_argument(
        "--workers-pairs",
        type=int,
        default=1,
        help="with --workers-compare: one/two-worker pairs, alternating (1, 2 | 2, 1 | 1, 2 ...) so that a drift in"
        " the machine's speed falls on both sides; the verdict takes the ratio of the summed times",
    )
    ap.add_argument(
        "--cache-compare",
        action="store_true",
        help="another full build with CLAIMSCOPE_SENTENCE_CACHE=0 (the corpus repeats its sentences)",
    )
    ap.add_argument("--splitter-mb", type=float, default=20.0, help="sample for our splitter (MB)")
    ap.add_argument("--spacy-mb", type=float, default=5.0, help="sample for spaCy (MB)")
    ap.add_argument("--pysbd-mb", type=float, default=2.0, help="sample for pySBD, which is slow (MB)")
    ap.add_argument(
        "--batch-docs",
        type=int,
        help="passed to every build (default: the CLI's 1000); small N needs small batches",
    )
    a = ap.parse_args(argv)
    if a.workers_pairs < 1 or (a.workers_pairs > 1 and not a.workers_compare):
        ap.error("--workers-pairs takes a count of 1 or more, and only with --workers-compare")
    batch = ("--batch-docs", str(a.batch_docs)) if a.batch_docs else ()

    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tag = corpus_tag(a.n, a.messy, a.seed)
    build_dir, logs = out / f"build-{tag}", out / "logs" / tag
    load_before = os.getloadavg()
    results: dict = {
        "meta": {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else argv,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_before": load_before,
            "git": _git_state(),
            "note": "indicative: timings depend on machine load (see load_before / load_after)",
        }
    }
    log(
        f"claimscope benchmark: N={a.n}{' messy' if a.messy else ''}, seed {a.seed}; {os.cpu_count()} CPUs,"
        f" load average {load_before[0]:.2f} (a busy or shared machine makes every figure indicative)"
    )

    # -- corpus
    corpus = ensure_corpus(out, a.n, messy=a.messy, seed=a.seed)
    how = "reused" if corpus.generated_seconds is None else f"generated in {corpus.generated_seconds:.1f} s"
    log(
        f"\n[corpus] {corpus.path}: {corpus.n_files:,} files, {corpus.mb:.1f} MB"
        f" ({corpus.n_bytes / max(1, corpus.n_files) / 1e3:.2f} KB/file), {how}; fingerprint {corpus.fingerprint}"
    )
    results["corpus"] = {k: v for k, v in asdict(corpus).items() if k != "path"} | {
        "path": str(corpus.path),
        "mb": corpus.mb,
    }

    # -- I/O floor
    floor = io_floor(corpus, out / f".iofloor-{tag}.parquet")
    results["io_floor"] = floor
    log(
        f"\n[I/O floor] read + decode + write one Parquet file: {floor['seconds']:.2f} s,"
        f" {floor['mb_per_s']:.1f} MB/s, {floor['docs_per_s']:.0f} docs/s"
        f" ({floor['files_rejected']} rejected by decode; Parquet {floor['parquet_bytes'] / MB:.1f} MB;"
        f" RSS growth {floor['rss_growth_mb']:.0f} MB; page cache warmed first in {floor['warm_read_seconds']:.2f} s)"
    )

    # -- full build
    shutil.rmtree(build_dir, ignore_errors=True)  # start from an empty output folder
    log(f"\n[build] claimscope build -q --full -> {build_dir}")
    full = run_build("full", corpus.path, build_dir, logs, "--full", *batch)
    print_build(full, corpus)
    n_batches = expected_batches(corpus, a.batch_docs)
    results["build"] = {"full": asdict(full), "n_batches": n_batches}
    log(f"    {n_batches} batch task(s); without --workers they run one after another in the flow process")
    ratio_flow = rate(full.in_flow_seconds or math.nan, floor["seconds"])
    ratio_wall = rate(full.wall_seconds, floor["seconds"])
    log(f"    build / I/O floor: {ratio_flow:.1f}x in-flow, {ratio_wall:.1f}x with start-up")

    # -- the same build without the per-sentence memo: the generated corpus recombines ~170 distinct seed
    # sentences, so a sentence cache hits far more often than on a real crawl.
    nocache: BuildRun | None = None
    if a.cache_compare:
        log("\n[build, sentence cache off] CLAIMSCOPE_SENTENCE_CACHE=0 claimscope build -q --full")
        nocache = run_build(
            "full-nocache",
            corpus.path,
            build_dir,
            logs,
            "--full",
            *batch,
            env={"CLAIMSCOPE_SENTENCE_CACHE": "0"},
        )
        print_build(nocache, corpus)
        results["build"]["full_nocache"] = asdict(nocache)
        log(
            f"    build / I/O floor: {rate(nocache.in_flow_seconds or math.nan, floor['seconds']):.1f}x in-flow;"
            f" cache on is {rate(nocache.in_flow_seconds or math.nan, full.in_flow_seconds or math.nan):.2f}x faster"
        )

    # -- incremental
    incr: dict = {}
    if a.incremental and not full.ok:
        log("\n[incremental] skipped: the full build did not publish, so a re-run has nothing to reuse")
    elif a.incremental:
        log("\n[incremental]")
        noop = run_build("noop", corpus.path, build_dir, logs, *batch)
        print_build(noop, corpus)
        n_add = max(1, a.n // 100)
        extra = corpus.path / EXTRA_DIR
        # A different seed gives different articles; own folder so deletion is exact.
        generate.generate(extra, n_add, messy=a.messy, seed=a.seed + 1)
        n_extra_files, _ = _count(extra)
        try:
            added = run_build("add-1pct", corpus.path, build_dir, logs, *batch)
        finally:
            shutil.rmtree(extra, ignore_errors=True)
        print_build(added, corpus)
        deleted = run_build("delete-1pct", corpus.path, build_dir, logs, *batch)
        print_build(deleted, corpus)
        base = full.in_flow_seconds
        incr = {
            "noop": asdict(noop),
            "add": asdict(added),
            "delete": asdict(deleted),
            "n_added_files": n_extra_files,
            "noop_ratio": rate(noop.in_flow_seconds or math.nan, base or math.nan),
            "add_ratio": rate(added.in_flow_seconds or math.nan, base or math.nan),
            "delete_ratio": rate(deleted.in_flow_seconds or math.nan, base or math.nan),
            "noop_skips_all": noop.ok and noop.files_processed == 0,
            # Everything from before is reused; only the new files (less any discovery rejects) are processed.
            "add_processes_only_new": added.ok
            and 0 < (added.files_processed or 0) <= n_extra_files
            and added.files_reused == (full.files_processed or 0) + (full.files_reused or 0),
            "add_documents_ok": added.ok and added.rows.get("documents", -1) > full.rows.get("documents", 0),
            "delete_restores": deleted.ok
            and deleted.rows.get("documents") == full.rows.get("documents")
            and deleted.files_processed == 0,
        }
        versions = {r.pipeline_version for r in (full, noop, added, deleted)}
        incr["same_pipeline_version"] = len(versions) == 1
        if len(versions) > 1:  # transforms/ or lexicons/ edited while the benchmark ran
            log(
                f"    !! the pipeline version changed during the benchmark ({', '.join(sorted(map(str, versions)))}):"
                " re-runs reprocessed everything; the incremental figures are void"
            )
        log(
            f"    no-op re-run: {incr['noop_ratio']:.1%} of the full build (in-flow);"
            f" +{n_extra_files} files: {incr['add_ratio']:.1%}; deleting them: {incr['delete_ratio']:.1%}"
        )
        log(
            f"    documents: full {full.rows.get('documents')}, after add {added.rows.get('documents')},"
            f" after delete {deleted.rows.get('documents')}"
        )
    results["incremental"] = incr

    # -- peers
    peer: dict = {}
    if a.peers:
        log(
            f"\n[peers] the same decoded texts, whole documents; samples are prefixes of the corpus in file order"
            f" (ours {a.splitter_mb:g} MB, spaCy {a.spacy_mb:g} MB, pySBD {a.pysbd_mb:g} MB), rates extrapolate"
        )
        peer = peers(corpus, ours_mb=a.splitter_mb, spacy_mb=a.spacy_mb, pysbd_mb=a.pysbd_mb)
        build_mbs = rate(corpus.mb, full.in_flow_seconds or math.nan)
        ours = peer["claimscope splitter"]["mb_per_s"]
        for name in ("spaCy sentencizer", "pySBD"):
            if name in peer:
                p = peer[name]["mb_per_s"]
                peer[name]["ours_ratio"], peer[name]["build_ratio"] = ours / p, build_mbs / p
                log(
                    f"    vs {name}: our splitter {ours / p:.1f}x, our whole build {build_mbs / p:.2f}x (in-flow)"
                )
                if nocache is not None:
                    peer[name]["build_nocache_ratio"] = (
                        rate(corpus.mb, nocache.in_flow_seconds or math.nan) / p
                    )
                    log(
                        f"      whole build with the sentence cache off: {peer[name]['build_nocache_ratio']:.2f}x"
                    )
    results["peers"] = peer

    # -- workers
    workers: dict = {}
    if a.workers_compare:
        log("\n[workers] claimscope build -q --full --workers 2 (Dask LocalCluster, 2 processes)")
        w2 = run_build("workers-2", corpus.path, build_dir, logs, "--full", "--workers", "2", *batch)
        print_build(w2, corpus)
        # Timings stay comparable when both builds failed validation alike (they processed the same batches).
        comparable = w2.returncode == full.returncode and w2.status == full.status
        nan = math.nan
        workers = {
            "w2": asdict(w2),
            "comparable": comparable,
            "speedup_in_flow": rate(full.in_flow_seconds or nan, w2.in_flow_seconds or nan)
            if comparable
            else nan,
            "speedup_wall": rate(full.wall_seconds, w2.wall_seconds) if comparable else nan,
            "speedup_process_step": rate(full.steps.get("process", nan), w2.steps.get("process", nan))
            if comparable
            else nan,
        }
        log(
            f"    speed-up 2 vs 1 worker: {workers['speedup_in_flow']:.2f}x in-flow, {workers['speedup_wall']:.2f}x wall,"
            f" {workers['speedup_process_step']:.2f}x on the process step"
        )
        workers["cores_used_1"], workers["cores_used_2"] = full.cores_used, w2.cores_used
        log(
            f"    cores busy on average: {full.cores_used:.2f} with one worker (DuckDB, Arrow and the Prefect server"
            f" use the second core too), {w2.cores_used:.2f} with two"
        )
        # The two-worker build cannot finish before its in-flow CPU, spread over every core, is spent: at one
        # worker's wall time against that, the most a perfectly packed two-worker build of the same work gives.
        ncpu = os.cpu_count() or 1
        packed = (w2.in_flow_cpu_seconds or nan) / ncpu
        workers["in_flow_cores_1"], workers["in_flow_cores_2"] = full.in_flow_cores, w2.in_flow_cores
        workers["packing_bound_speedup"] = rate(full.in_flow_seconds or nan, packed) if comparable else nan
        log(
            f"    in-flow CPU: {_f(full.in_flow_cpu_seconds)} s with one worker ({full.in_flow_cores:.2f} cores busy),"
            f" {_f(w2.in_flow_cpu_seconds)} s with two ({w2.in_flow_cores:.2f} cores busy); with all {ncpu} cores"
            f" busy throughout, the two-worker build would take {packed:.1f} s: at most"
            f" {workers['packing_bound_speedup']:.2f}x for this work"
        )
        from benchmarks.ceiling import WARM_DOCS, two_process_ceiling

        half = min(2000, corpus.n_files // 2 - WARM_DOCS)
        if half >= 100:
            c = two_process_ceiling([p for _, p in walk(corpus.path)], half)
            workers["ceiling"] = c
            log(
                f"    two-process ceiling (benchmarks.ceiling: the batch transform on 2 x {half} documents, one half"
                f" after the other vs both at once, no Prefect or Dask): {c['speedup']:.2f}x,"
                f" CPU per document x{c['cpu_inflation']:.2f}; the build reaches"
                f" {workers['speedup_in_flow'] / c['speedup']:.0%} of it"
            )
        if a.workers_pairs > 1:
            ones, twos = [full], [w2]
            for k, n_workers in pair_order(a.workers_pairs)[1:]:
                log(
                    f"\n[workers, pair {k + 1}] claimscope build -q --full"
                    + (" --workers 2" if n_workers == 2 else "")
                )
                more = ("--workers", "2") if n_workers == 2 else ()
                label = f"workers-2-pair{k + 1}" if n_workers == 2 else f"full-pair{k + 1}"
                r = run_build(label, corpus.path, build_dir, logs, "--full", *more, *batch)
                print_build(r, corpus)
                (ones if n_workers == 1 else twos).append(r)
            alt = alternating_speedup(
                [r.in_flow_seconds or nan for r in ones], [r.in_flow_seconds or nan for r in twos]
            )
            same = all(r.returncode == full.returncode and r.status == full.status for r in ones + twos)
            workers["alternating"] = alt | {
                "comparable": same,
                "order": [
                    ", ".join(str(w) for kk, w in [(0, 1), *pair_order(a.workers_pairs)] if kk == k)
                    for k in range(a.workers_pairs)
                ],
                "in_flow_one": [r.in_flow_seconds for r in ones],
                "in_flow_two": [r.in_flow_seconds for r in twos],
                "in_flow_cpu_one": [r.in_flow_cpu_seconds for r in ones],
                "in_flow_cpu_two": [r.in_flow_cpu_seconds for r in twos],
                "peak_rss_two_bytes": max(r.peak_rss_bytes for r in twos),
                "runs": [asdict(r) for r in ones[1:] + twos[1:]],
            }
            log(
                f"\n    {a.workers_pairs} alternating pairs (order {' | '.join(workers['alternating']['order'])}):"
                f" one worker {', '.join(_f(r.in_flow_seconds) for r in ones)} s in-flow,"
                f" two {', '.join(_f(r.in_flow_seconds) for r in twos)} s"
            )
            log(
                f"    speed-up per pair {', '.join(f'{x:.2f}x' for x in alt['pairs'])}; median {alt['median']:.2f}x;"
                f" summed times {alt['summed']:.2f}x"
                + ("" if same else " (not comparable: the builds did not all end alike)")
            )
            log(
                f"    in-flow CPU: one worker {', '.join(_f(r.in_flow_cpu_seconds) for r in ones)} s,"
                f" two {', '.join(_f(r.in_flow_cpu_seconds) for r in twos)} s (the same work: a gap is the machine)"
            )
        if n_batches < 4:  # batches (1000 documents or 16 MB each) are the unit of parallelism
            log(
                f"    note: only {n_batches} batch(es) at this N, so 2 workers cannot show a speed-up; no verdict"
            )
            workers["too_few_batches"] = True
    results["workers"] = workers

    # -- summary
    k, k_n = gx_exponent(out, a.n, a.messy, full.steps.get("validate"))
    figs = [
        Figure("corpus size", corpus.mb, "MB", f"≈{a.n * 7.7e-3:.0f} MB (7.7 KB/article)", None),
        Figure("I/O floor throughput", floor["mb_per_s"], "MB/s", "", None),
        Figure(
            "full build throughput (in-flow)",
            rate(corpus.mb, full.in_flow_seconds or math.nan),
            "MB/s",
            "",
            None,
        ),
        Figure(
            "full build documents/s (in-flow)",
            rate(full.rows.get("documents", 0), full.in_flow_seconds or math.nan),
            "docs/s",
            "",
            None,
        ),
        Figure("full build published", float(full.ok), "yes/no", "success", full.ok),
        Figure("Prefect start-up + imports", full.startup_seconds, "s", "", None),
        Figure(
            "build / I/O floor (in-flow)",
            ratio_flow,
            "x",
            f"≤ {T_BUILD_VS_FLOOR:g}x",
            _check(ratio_flow, lambda v: v <= T_BUILD_VS_FLOOR),
        ),
        Figure("build / I/O floor (with start-up)", ratio_wall, "x", "", None),
        *(
            [
                Figure(
                    "build / I/O floor, sentence cache off (in-flow)",
                    rate(nocache.in_flow_seconds or math.nan, floor["seconds"]),
                    "x",
                    f"≤ {T_BUILD_VS_FLOOR:g}x",
                    _check(
                        rate(nocache.in_flow_seconds or math.nan, floor["seconds"]),
                        lambda v: v <= T_BUILD_VS_FLOOR,
                    ),
                ),
                Figure(
                    "full build throughput, sentence cache off",
                    rate(corpus.mb, nocache.in_flow_seconds or math.nan),
                    "MB/s",
                    "",
                    None,
                ),
            ]
            if nocache
            else []
        ),
        Figure(
            "peak RSS, build process tree",
            full.peak_rss_bytes / MB,
            "MB",
            f"≤ {T_PEAK_RSS / MB:.0f} MB",
            _check(full.peak_rss_bytes, lambda v: 0 < v <= T_PEAK_RSS),
        ),
        Figure("GX validate seconds", full.steps.get("validate"), "s", "", None),
        Figure(
            f"GX validate scaling exponent (vs N={k_n})" if k_n else "GX validate scaling exponent",
            k,
            "",
            f"≤ {T_GX_EXPONENT} (needs 2 N)",
            _check(k, lambda v: v <= T_GX_EXPONENT),
        ),
    ]
    if incr:
        figs += [
            Figure(
                "no-op re-run / full (in-flow)",
                incr["noop_ratio"],
                "",
                f"≤ {T_NOOP:.0%}",
                _check(incr["noop_ratio"], lambda v: v <= T_NOOP),
            ),
            Figure(
                "no-op re-run skips all per-document work",
                float(incr["noop_skips_all"]),
                "yes/no",
                "0 files processed",
                incr["noop_skips_all"],
            ),
            Figure(
                "+1 % articles / full (in-flow)",
                incr["add_ratio"],
                "",
                f"≤ {T_ADD1:.0%}",
                _check(incr["add_ratio"], lambda v: v <= T_ADD1),
            ),
            Figure(
                "+1 % processes only the new files",
                float(incr["add_processes_only_new"]),
                "yes/no",
                "new files only",
                incr["add_processes_only_new"],
            ),
            Figure(
                "deleted inputs disappear",
                float(incr["delete_restores"]),
                "yes/no",
                "documents as full build",
                incr["delete_restores"],
            ),
        ]
    if peer:
        figs += [
            Figure(
                f"sentence splitting, {mode}",
                peer[key]["mb_per_s"],
                "MB/s",
                f"≥ {T_SPLITTER_MBS:g} MB/s",
                _check(peer[key]["mb_per_s"], lambda v: v >= T_SPLITTER_MBS),
            )
            for key, mode in (
                ("claimscope splitter", "whole documents"),
                ("claimscope per paragraph", "per paragraph"),
            )
        ]
        if "spaCy sentencizer" in peer:
            sp = peer["spaCy sentencizer"]
            figs += [
                Figure("spaCy sentencizer", sp["mb_per_s"], "MB/s", "", None),
                Figure(
                    "our whole build / spaCy sentencizer",
                    sp["build_ratio"],
                    "x",
                    f"≥ {T_VS_SPACY:g}x",
                    _check(sp["build_ratio"], lambda v: v >= T_VS_SPACY),
                ),
                Figure("our splitter / spaCy sentencizer", sp["ours_ratio"], "x", "", None),
            ]
            if "build_nocache_ratio" in sp:
                figs.append(
                    Figure(
                        "our whole build, cache off / spaCy",
                        sp["build_nocache_ratio"],
                        "x",
                        f"≥ {T_VS_SPACY:g}x",
                        _check(sp["build_nocache_ratio"], lambda v: v >= T_VS_SPACY),
                    )
                )
        if "pySBD" in peer:
            sb = peer["pySBD"]
            figs += [
                Figure(f"pySBD ({sb['sample_mb']:.1f} MB sample)", sb["mb_per_s"], "MB/s", "", None),
                Figure("our whole build / pySBD", sb["build_ratio"], "x", "", None),
                Figure("our splitter / pySBD", sb["ours_ratio"], "x", "", None),
            ]
    if workers:
        s = workers["speedup_in_flow"]
        alt = workers.get("alternating")
        judged = None if workers.get("too_few_batches") else _check(s, lambda v: v >= T_WORKERS2)
        peak2 = alt["peak_rss_two_bytes"] if alt else workers["w2"]["peak_rss_bytes"]
        if alt:  # one pair is not judged when there are several: the machine drifts between builds
            figs.append(
                Figure(
                    f"--workers 2 speed-up, {len(alt['pairs'])} pairs (summed)",
                    alt["summed"],
                    "x",
                    f"≥ {T_WORKERS2:g}x (100k)",
                    None
                    if workers.get("too_few_batches") or not alt["comparable"]
                    else _check(alt["summed"], lambda v: v >= T_WORKERS2),
                )
            )
            judged = None
        figs += [
            Figure(
                "--workers 2 build published",
                float(workers["w2"]["status"] == "success"),
                "yes/no",
                "success",
                workers["w2"]["status"] == "success" and workers["w2"]["returncode"] == 0,
            ),
            Figure(
                "--workers 2 speed-up (in-flow)" + (", first pair" if alt else ""),
                s,
                "x",
                f"≥ {T_WORKERS2:g}x (100k)",
                judged,
            ),
            Figure("--workers 2 speed-up (wall)", workers["speedup_wall"], "x", "", None),
            Figure(
                "two-process ceiling (transform alone)",
                workers.get("ceiling", {}).get("speedup"),
                "x",
                "",
                None,
            ),
            Figure(
                "two workers, all cores busy (in-flow CPU bound)",
                workers.get("packing_bound_speedup"),
                "x",
                "",
                None,
            ),
            Figure(
                "--workers 2 peak RSS" + (", highest" if alt else ""),
                peak2 / MB,
                "MB",
                f"≤ {T_PEAK_RSS / MB:.0f} MB",
                _check(peak2, lambda v: 0 < v <= T_PEAK_RSS),
            ),
        ]
    print_summary(figs)
    results["meta"]["load_after"] = os.getloadavg()
    results["targets"] = [asdict(f) | {"verdict": f.verdict} for f in figs]
    dest = out / f"results-{tag}.json"
    dest.write_text(json.dumps(_json_safe(results), indent=1, default=str))
    log(
        f"\nresults: {dest}  (load average {load_before[0]:.2f} before, {results['meta']['load_after'][0]:.2f} after)"
    )
    return 0 if full.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
