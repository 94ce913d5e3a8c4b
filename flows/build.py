"""The main flow: discover -> plan -> process batches -> corpus step -> validate -> publish.

Per-document steps (read, decode, parse, sections, sentences, claims, entities, taxonomy topics) run inside
one task per *batch* of documents, because Prefect's per-task overhead is milliseconds and a corpus has
millions of sentences. Each batch writes its own immutable Parquet parts into the staging directory, so
memory stays flat and batches can run on Dask workers. The flow itself only moves small summaries around.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.task_runners import ThreadPoolTaskRunner

from flows import storage
from flows.discover import Discovery, InputFile, discover, stat_cache_from
from flows.settings import PROJECT_ROOT
from flows.storage import Layout, PartInfo
from flows.validation import ValidationReport, Validator, load_suite_specs, suites_fingerprint
from transforms.batch import BATCH_TABLES, BatchTables, RawInput, process_inputs
from transforms.contradictions import contradiction_pairs
from transforms.errors import NoArticles, ValidationFailed
from transforms.families import MEMBERS_SQL, family_nodes
from transforms.inputs import INPUTS_SCHEMA, REJECTED_SCHEMA
from transforms.lexicon import lexicon_fingerprint
from transforms.lexicon import refresh as refresh_lexicons
from transforms.topics import discover_topics, focus_keywords, taxonomy_table

log = logging.getLogger("claimscope")

# A batch's rows are held as Python objects until written: 500 documents keep that to ~300 MB, while the
# per-task overhead (milliseconds) stays negligible.
BATCH_DOCS = 500
BATCH_BYTES = 8 * 1024 * 1024
CHUNK_ROWS = 150_000  # sentences per validation chunk: bounds the GX frames (~400k claim-entity rows)
CORPUS_PART = "corpus"

FILES_MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("part", pa.string(), nullable=False),
        pa.field("pipeline_version", pa.string(), nullable=False),
    ]
)
PARTS_MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string(), nullable=False),
        pa.field("part", pa.string(), nullable=False),
        pa.field("n_rows", pa.int64(), nullable=False),
        pa.field("n_bytes", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
    ]
)

# Progress reporting for the CLI (a rich bar); the flow calls it as batches finish.
_progress: Callable[[str, int, int], None] | None = None


def set_progress(callback: Callable[[str, int, int], None] | None) -> None:
    global _progress
    _progress = callback


def _report(stage: str, done: int, total: int) -> None:
    if _progress is not None:
        _progress(stage, done, total)


def pipeline_version() -> str:
    """Code + lexicons fingerprint: a change to either reprocesses every document on the next build."""
    h = hashlib.sha256()
    for path in sorted((PROJECT_ROOT / "transforms").glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(lexicon_fingerprint().encode())
    return h.hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- plan


@dataclass
class Trim:
    """An old part some of whose files changed: its rows for the unchanged files are carried into a new part."""

    old_part: str
    new_part: str
    keep_files: list[str]


@dataclass
class Plan:
    batches: list[list[InputFile]]  # new or changed files, to process
    reuse_parts: list[str]  # old parts whose files are all unchanged: hard-linked as they are
    reuse_files: list[dict]  # manifest rows of every file carried over (linked or trimmed)
    trims: list[Trim] = field(default_factory=list)
    corrupted_parts: list[str] = field(default_factory=list)

    @property
    def carried_parts(self) -> list[str]:
        return self.reuse_parts + [t.new_part for t in self.trims]


def _part_key(files: list[InputFile], version: str) -> str:
    h = hashlib.sha256(version.encode())
    for f in sorted(files, key=lambda f: f.rel):
        h.update(f"{f.rel}\0{f.sha256}\n".encode())
    return h.hexdigest()[:16]


def _batches(files: list[InputFile], max_docs: int, max_bytes: int) -> list[list[InputFile]]:
    out: list[list[InputFile]] = []
    cur: list[InputFile] = []
    size = 0
    for f in sorted(files, key=lambda f: f.rel):
        if cur and (len(cur) >= max_docs or size + f.size > max_bytes):
            out.append(cur)
            cur, size = [], 0
        cur.append(f)
        size += f.size
    if cur:
        out.append(cur)
    return out


class BatchFiles:
    """One batch's files as a single opaque task parameter.

    Prefect walks lists and dataclasses in task parameters (visit_collection, twice per submit) and Dask
    tokenises them. A plain object is one leaf for Prefect, and its Dask token is its part key. Submitting a
    500-file batch to two Dask workers took about 60 ms of the flow thread's CPU with the list and 28 ms with
    this (`python -m benchmarks.bench_submit`); most of the rest is prefect-dask serialising Prefect's settings.
    """

    __slots__ = ("files", "key")

    def __init__(self, files: list[InputFile], version: str) -> None:
        self.files = files
        self.key = _part_key(files, version)

    def __dask_tokenize__(self) -> str:
        return self.key

    def __repr__(self) -> str:  # Prefect logs task parameters
        return f"BatchFiles({len(self.files)} files, part {self.key})"


def _verify_parts(prev: Path, parts: pa.Table, keys: set[str]) -> set[str]:
    """Parts whose files are missing or whose bytes no longer match their recorded checksum."""
    rows = [r for r in parts.to_pylist() if r["part"] in keys]

    def bad(r: dict) -> str | None:
        path = prev / r["table"] / f"part-{r['part']}.parquet"
        try:
            ok = path.stat().st_size == r["n_bytes"] and storage.file_sha256(path) == r["sha256"]
        except OSError:
            ok = False
        return None if ok else r["part"]

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:  # hashlib releases the GIL
        found = {p for p in pool.map(bad, rows) if p}
    listed = {r["part"] for r in rows}
    return found | (keys - listed)  # a part with no recorded files at all is not trusted either


def make_plan(
    files: list[InputFile], prev: Path | None, version: str, *, full: bool, max_docs: int, max_bytes: int
) -> Plan:
    """Decide per file: carried over from the previous version (unchanged bytes, same pipeline) or processed.

    An old part whose files are all unchanged is reused whole; a part with some changed or deleted files is
    trimmed to its unchanged files (an Arrow filter, no text processing); a part that fails its checksum is
    reprocessed. So a 1 % change costs 1 % of the processing, wherever the changed files sit.
    """
    manifest = storage.read_manifest(prev, "files")
    parts = storage.read_manifest(prev, "parts")
    # Published files that fail their checks are reported (the build log, summary.corrupted_parts); corpus
    # parts are recomputed by every build anyway, an unreadable manifest means processing every file.
    damaged = (
        []
        if prev is None
        else _verify_corpus(prev)
        + [
            f"_manifest/{name}"
            for name, table in (("files", manifest), ("parts", parts))
            if table is None and (prev / "_manifest" / f"{name}.parquet").exists()
        ]
    )
    if full or prev is None or manifest is None or parts is None or manifest.num_rows == 0:
        return Plan(_batches(files, max_docs, max_bytes), [], [], corrupted_parts=damaged)
    current = {f.rel: f.sha256 for f in files}
    by_part: dict[str, list[dict]] = {}
    for row in manifest.to_pylist():
        by_part.setdefault(row["part"], []).append(row)
    unchanged = {
        part: [
            r
            for r in rows
            if r["pipeline_version"] == version and current.get(r["source_file"]) == r["content_sha256"]
        ]
        for part, rows in by_part.items()
    }
    corrupted = _verify_parts(prev, parts, {p for p, keep in unchanged.items() if keep})
    reuse, trims, carried = [], [], []
    for part, keep in sorted(unchanged.items()):
        if not keep or part in corrupted:
            continue
        if len(keep) == len(by_part[part]):
            reuse.append(part)
            carried += keep
        else:
            h = hashlib.sha256(f"trim\0{part}".encode())
            for r in sorted(keep, key=lambda r: r["source_file"]):
                h.update(f"{r['source_file']}\0{r['content_sha256']}\n".encode())
            new_part = h.hexdigest()[:16]
            trims.append(Trim(part, new_part, sorted(r["source_file"] for r in keep)))
            carried += [{**r, "part": new_part} for r in keep]
    carried_files = {r["source_file"] for r in carried}
    todo = [f for f in files if f.rel not in carried_files]
    return Plan(_batches(todo, max_docs, max_bytes), reuse, carried, trims, sorted(corrupted) + damaged)


def input_state(found: Discovery, version: str, suites: str) -> str:
    """What a build's result depends on: every input file's bytes, every discovery rejection, the pipeline
    (code + lexicons) and the suites. Equal states give equal datasets, so an unchanged state re-publishes."""
    h = hashlib.sha256(f"{version}\0{suites}\n".encode())
    for rel, sha in found.inventory_hashes():
        h.update(f"f\0{rel}\0{sha}\n".encode())
    for r in sorted(found.rejected, key=lambda r: r["source_path"]):
        h.update(f"r\0{r['source_path']}\0{r['reason']}\0{r['detail']}\0{r['bytes']}\n".encode())
    return h.hexdigest()[:16]


def _corpus_manifest(staging: Path) -> pa.Table:
    """Checksums of the corpus parts, so the next build can tell whether the published ones were damaged."""
    rows = []
    for path in sorted(staging.glob(f"*/part-{CORPUS_PART}.parquet")):
        if path.parent.name.startswith("_"):
            continue
        rows.append(
            asdict(PartInfo(path.parent.name, CORPUS_PART, 0, path.stat().st_size, storage.file_sha256(path)))
        )
    return pa.Table.from_pylist(rows, schema=PARTS_MANIFEST_SCHEMA)


def _verify_corpus(prev: Path) -> list[str]:
    """`<table>/corpus` for each published corpus part whose bytes no longer match its checksum."""
    manifest = storage.read_manifest(prev, "corpus")
    if manifest is None:
        return []
    bad = []
    for r in manifest.to_pylist():
        path = prev / r["table"] / f"part-{r['part']}.parquet"
        try:
            ok = path.stat().st_size == r["n_bytes"] and storage.file_sha256(path) == r["sha256"]
        except OSError:
            ok = False
        if not ok:
            bad.append(f"{r['table']}/{r['part']}")
    return bad


def trim_part(prev: Path, staging: Path, trim: Trim) -> list[PartInfo]:
    """Copy an old part's rows for the kept files into a new part of every batch table."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    keep_files = pa.array(trim.keep_files, pa.string())
    docs = pq.read_table(
        prev / "documents" / f"part-{trim.old_part}.parquet", columns=["document_id", "source_file"]
    )
    keep_docs = pc.filter(docs["document_id"], pc.is_in(docs["source_file"], keep_files))
    infos = []
    for name, schema in BATCH_TABLES.items():
        table = pq.read_table(prev / name / f"part-{trim.old_part}.parquet", schema=schema)
        if "document_id" in schema.names:
            mask = pc.is_in(table["document_id"], keep_docs)
        else:  # inputs, rejected_inputs: one row per file
            mask = pc.is_in(table["source_file"], keep_files)
        infos.append(storage.write_part(staging, name, trim.new_part, table.filter(mask)))
    return infos


# ---------------------------------------------------------------------------------------------- tasks


@dataclass
class BatchResult:
    part: str
    parts: list[PartInfo]
    rows: dict[str, int]
    seconds: dict[str, float]
    process: str = ""  # host:pid that ran the batch (several under --workers)


def _process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@task(name="discover", cache_policy=NO_CACHE)
def discover_task(input_dir: str, layout: Layout, prev: Path | None):
    inventory = storage.read_manifest(prev, "inventory")
    return discover(input_dir, exclude=[layout.root], stat_cache=stat_cache_from(inventory))


def transform_batch(
    raw: list[RawInput], *, ingested_at: datetime, version: str, threads: int | None
) -> BatchTables:
    """What a batch task runs between reading its files and writing its parts: the transform with the collector
    paused and DuckDB on `threads`. `benchmarks.ceiling` times this very call, so it measures what a worker runs."""
    with storage.collector_paused():
        return process_inputs(raw, ingested_at=ingested_at, pipeline_version=version, threads=threads)


# A short article through the whole transform: every cue list, lexicon and query a real batch uses.
_WARM_UP_TEXT = (
    b"Kratom and pain\n\n"
    b"Kratom may help relieve chronic pain, according to a 2021 survey of users. It is not addictive, some "
    b"sellers say. However, the FDA warns that kratom can cause dependence and withdrawal symptoms.\n\n"
    b"Talk to your doctor before you stop taking opioids.\n"
)


def warm_up() -> None:
    """The local runner's one-time costs, paid while Prefect's server boots rather than in the flow (measured in a
    fresh process: ~0.3 s more for its first batch than for the next, 0.17 s of it compiling the lexicons;
    ~0.1 s building the GX context; a first full collection and freeze of the imported modules).

    Best effort: whatever fails here fails again, and is reported, where the build runs the same code.
    """
    try:
        refresh_lexicons()  # records what the rules are compiled from, so an edit before the flow starts is seen
        transform_batch(
            [RawInput("warm-up.txt", _WARM_UP_TEXT)],
            ingested_at=datetime.now(UTC),
            version="warm-up",
            threads=None,
        )
        _process_validator()
        storage.release_memory()
    except Exception:
        log.debug("warm-up failed", exc_info=True)


@task(name="process-batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def process_batch(batch: BatchFiles, staging_dir: str, version: str, ingested_at: datetime) -> BatchResult:
    """read -> decode -> parse -> sections -> sentences -> claims -> topics -> staged Parquet, for one batch."""
    refresh_lexicons()  # a long-lived Dask worker must not keep rules compiled from edited lexicons
    t0 = time.perf_counter()
    cpu0 = time.thread_time()
    files = batch.files
    raw = []
    for f in files:
        try:
            with open(f.path, "rb") as fh:
                raw.append(RawInput(f.rel, fh.read()))
        except OSError as exc:
            raw.append(RawInput(f.rel, b"", error=f"cannot read: {exc.strerror}"))
    read_s = time.perf_counter() - t0
    result = transform_batch(
        raw, ingested_at=ingested_at, version=version, threads=storage.dask_worker_threads()
    )
    part = batch.key
    t1 = time.perf_counter()
    infos = [
        storage.write_part(Path(staging_dir), name, part, table) for name, table in result.tables.items()
    ]
    # "cpu" is this thread's CPU time for the whole batch: beside the wall-clock steps it shows what sharing the
    # cores costs a batch (on 2 cores, 2 workers plus the flow process and DuckDB's own threads).
    seconds = {
        "read": read_s,
        **result.seconds,
        "write": time.perf_counter() - t1,
        "cpu": time.thread_time() - cpu0,
    }
    del result, raw
    storage.release_memory()
    return BatchResult(part, infos, {i.table: i.n_rows for i in infos}, seconds, _process_id())


def _files_manifest(plan: Plan, results: list[BatchResult], version: str) -> pa.Table:
    """Every file's part: the carried-over rows, then each processed batch's files (results are in plan order).
    Built here as columns from the plan, not sent back by each batch as a dict per file: held to the end, those
    took 192 bytes a file in this process and 380 once unpickled from a Dask worker (tracemalloc, 100k files)."""
    files = [f for b in plan.batches for f in b]
    processed = pa.table(
        {
            "source_file": [f.rel for f in files],
            "content_sha256": [f.sha256 for f in files],
            "part": [r.part for b, r in zip(plan.batches, results, strict=True) for _ in b],
            "pipeline_version": [version] * len(files),
        },
        schema=FILES_MANIFEST_SCHEMA,
    )
    return pa.concat_tables([pa.Table.from_pylist(plan.reuse_files, schema=FILES_MANIFEST_SCHEMA), processed])


def _staged_views(con: duckdb.DuckDBPyConnection, staging: Path, parts: list[str] | None = None) -> None:
    """Register each staged table as a view (optionally restricted to some batch parts)."""
    for table_dir in sorted(p for p in staging.iterdir() if p.is_dir() and not p.name.startswith("_")):
        files = storage.part_files(staging, table_dir.name)
        if parts is not None:
            wanted = {f"part-{p}.parquet" for p in parts}
            files = [f for f in files if f.name in wanted]
        if not files:
            continue
        listing = ", ".join(storage._sql_str(f) for f in files)
        con.execute(f"CREATE OR REPLACE VIEW {table_dir.name} AS SELECT * FROM read_parquet([{listing}])")


def _spill_dir(tables: Path) -> Path:
    """DuckDB's spill folder for a staging or version folder: always under the output's .staging/."""
    return tables.parent.parent / ".staging" / f"{tables.name}-spill"


def write_discovery_parts(
    staging: Path, discovery_rejected: list[dict], discovery_inputs: list[dict]
) -> None:
    """The inputs and rejections found by discovery, as the corpus parts of `inputs` and `rejected_inputs`."""
    for name, schema, data in (
        ("rejected_inputs", REJECTED_SCHEMA, discovery_rejected),
        ("inputs", INPUTS_SCHEMA, discovery_inputs),
    ):
        storage.write_part(staging, name, CORPUS_PART, pa.Table.from_pylist(data, schema=schema))


# The corpus step's two branches, in the order the flow runs them, and the tables each writes. Families come first:
# under --workers their suites (the longest corpus suites: whole-table joins of claims) then run on a worker while
# this process computes the topics.
CORPUS_BRANCHES: dict[str, tuple[str, ...]] = {
    "families": ("claim_family_members", "contradiction_pairs"),
    "topics": ("topics", "document_topics", "document_keywords"),
}
SCORE = "score"  # the extractor's scoring, which writes extractor_accuracy
# Who writes each table of the corpus step or the extractor's scoring: a corpus suite that reads none of them can
# run as soon as the batches are staged and the discovery parts written, the others once their writers are done.
CORPUS_WRITERS = {t: branch for branch, tables in CORPUS_BRANCHES.items() for t in tables} | {
    "extractor_accuracy": SCORE
}
CORPUS_TABLES = tuple(CORPUS_WRITERS)


def corpus_tables_read(spec: dict) -> set[str]:
    """The tables of CORPUS_TABLES that a suite's frame reads."""
    sql = spec["meta"]["frame_sql"]
    return {name for name in CORPUS_TABLES if re.search(rf"\b{name}\b", sql)}


def reads_corpus_tables(spec: dict) -> bool:
    """Whether a suite's frame reads a table the corpus step (or the extractor's scoring) writes."""
    return bool(corpus_tables_read(spec))


def writers_read(spec: dict) -> frozenset[str]:
    """The corpus branches (and SCORE) that write the tables a suite's frame reads."""
    return frozenset(CORPUS_WRITERS[t] for t in corpus_tables_read(spec))


def late_suite_groups(specs: dict[str, dict]) -> dict[frozenset[str], list[str]]:
    """The corpus suites that read corpus tables, grouped by the writers they wait for: one task per group, its
    suites one after the other (two whole-table joins at once on two workers took the two-worker peak at 100k
    articles to 3.2 GB, against 2.8 GB one after the other)."""
    groups: dict[frozenset[str], list[str]] = {}
    for name, spec in specs.items():
        if spec["meta"].get("scope") == "corpus" and reads_corpus_tables(spec):
            groups.setdefault(writers_read(spec), []).append(name)
    return groups


def _corpus_topics(staging: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    con = storage.analytic_connection(_spill_dir(staging) / "corpus-topics")
    try:
        _staged_views(con, staging)
        # Term sketches stay in DuckDB (6.4M rows at 100k articles); only integer triplets reach scikit-learn.
        discovered, doc_topics = discover_topics(con)
        topics = pa.concat_tables([taxonomy_table(), discovered])
        rows["topics"] = storage.write_part(staging, "topics", CORPUS_PART, topics).n_rows
        rows["document_topics"] = storage.write_part(
            staging, "document_topics", CORPUS_PART, doc_topics
        ).n_rows
        del discovered, doc_topics
        keywords = focus_keywords(con)
        rows["document_keywords"] = storage.write_part(
            staging, "document_keywords", CORPUS_PART, keywords
        ).n_rows
    finally:
        con.close()
    return rows


def _corpus_families(staging: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    con = storage.analytic_connection(_spill_dir(staging) / "corpus-families")
    try:
        _staged_views(con, staging)
        # Families are decided on the distinct claims; members stream from DuckDB straight to Parquet.
        con.register("_family_nodes", family_nodes(con))
        info = storage.write_part_sql(con, staging, "claim_family_members", CORPUS_PART, MEMBERS_SQL)
        con.unregister("_family_nodes")
        rows["claim_family_members"] = info.n_rows
        _staged_views(con, staging)  # now with claim_family_members
        pairs = contradiction_pairs(con)
    finally:
        con.close()
    rows["contradiction_pairs"] = storage.write_part(
        staging, "contradiction_pairs", CORPUS_PART, pairs
    ).n_rows
    return rows


@task(name="corpus", cache_policy=NO_CACHE)
def corpus_task(staging: Path, branch: str) -> dict[str, int]:
    """One branch of the corpus-level tables, recomputed from the staged parts on every build (so always
    consistent)."""
    rows = {"topics": _corpus_topics, "families": _corpus_families}[branch](staging)
    storage.release_memory()
    return rows


@task(name="score-extractor", cache_policy=NO_CACHE)
def score_extractor_task(staging: Path) -> dict[str, float]:
    """Re-score the extractor on the embedded gold set; the `extractor_accuracy` suite gates on the figures."""
    from flows.evaluation import evaluate, load_thresholds
    from transforms.evaluate import accuracy_table

    thresholds = load_thresholds()
    table = accuracy_table(evaluate(), thresholds)
    storage.write_part(staging, "extractor_accuracy", CORPUS_PART, table)
    return dict(zip(table["metric"].to_pylist(), table["value"].to_pylist(), strict=True))


def _group(sized: Iterable[tuple[str, int]]) -> Iterator[list[str]]:
    """Batch parts, with their sentence counts, grouped into validation chunks of about CHUNK_ROWS sentences
    (whole documents each). Lazy: a chunk is yielded as soon as the next part would overflow it."""
    cur: list[str] = []
    n = 0
    for part, rows in sized:
        if cur and n + rows > CHUNK_ROWS:
            yield cur
            cur, n = [], 0
        cur.append(part)
        n += rows
    if cur:
        yield cur


def _chunks(staging: Path, batch_parts: list[str]) -> list[list[str]]:
    """Validation chunks of staged parts, sized from their Parquet metadata."""
    import pyarrow.parquet as pq

    def rows(p: str) -> int:
        path = staging / "sentences" / f"part-{p}.parquet"
        return pq.ParquetFile(path).metadata.num_rows if path.exists() else 0

    return list(_group((p, rows(p)) for p in sorted(batch_parts)))


@dataclass
class ChunkValidation:
    """One chunk's per-part suites: failures per suite, and GX's results for the flow's Data Docs."""

    label: str
    suites: dict[str, tuple[int, list]]  # suite -> (n_expectations, failures)
    results: list  # (ValidationResultIdentifier, ExpectationSuiteValidationResult) pairs
    seconds: float
    process: str = ""


_validator_lock = threading.Lock()
_validators: dict[str, Validator] = {}


def _process_validator() -> Validator:
    """One GX context per process and suites version, shared by chunks and corpus suites: a Dask worker builds
    it once (~3 s), and the flow process holds one context, not two."""
    key = suites_fingerprint()
    with _validator_lock:
        if key not in _validators:
            _validators.clear()
            _validators[key] = Validator()
        return _validators[key]


@task(name="validate-chunk", cache_policy=NO_CACHE)
def validate_chunk(staging: Path, parts: list[str], label: str) -> ChunkValidation:
    """The per-part ("chunked") suites on the rows of `parts`; runs on a Dask worker under --workers."""
    # The body is a plain module function: Dask pickles this task by value, and its globals (a lock) cannot be.
    return _validate_chunk(staging, parts, label)


def _validate_chunk(staging: Path, parts: list[str], label: str) -> ChunkValidation:
    def params(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        n_docs, n_sent = con.sql(
            "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM sentences)"
        ).fetchall()[0]
        return {"min_sections": n_docs, "min_sentences": n_docs, "min_claims": 1 if n_sent >= 20 else 0}

    return _run_suites(staging, f"chunk-{parts[0]}", parts, None, params, label)


def _run_suites(
    staging: Path,
    spill: str,
    parts: list[str] | None,
    names: list[str] | None,
    params_of: Callable[[duckdb.DuckDBPyConnection], dict[str, int]],
    label: str,
) -> ChunkValidation:
    """Suites `names` (None: every per-part suite) on the staged rows of `parts` (None: every part), in this
    process's GX context; the results travel back to the flow (a chunk's, or corpus suites run on a worker)."""
    t0 = time.perf_counter()
    validator = _process_validator()
    # A folder of its own: DuckDB names its spill files alike, and tasks may run in parallel processes.
    con = storage.analytic_connection(_spill_dir(staging) / spill)
    if names is None:
        names = [name for name, spec in validator.specs.items() if spec["meta"].get("scope") == "chunked"]
    suites: dict[str, tuple[int, list]] = {}
    with _validator_lock:  # one GX context: its results store is shared by whatever runs here
        try:
            _staged_views(con, staging, parts)
            params = params_of(con)
            for name in names:
                failures = validator.validate_table(con, name, params, chunk=label)
                suites[name] = (validator.n_expectations(name), failures)
        finally:
            con.close()
            results = validator.take_results()
    storage.release_memory()
    return ChunkValidation(label, suites, results, time.perf_counter() - t0, _process_id())


def chunk_labels(chunks: list[list[str]]) -> list[str]:
    return [f"chunk {i + 1}/{len(chunks)}" if len(chunks) > 1 else "" for i in range(len(chunks))]


def _submit_chunk(staging: Path, parts: list[str], index: int) -> Any:
    """A chunk's suites on the Dask cluster, ahead of queued batches. Its label is only known once every chunk
    is (the count is in it): `_relabel` sets it when the result is collected."""
    import dask

    with dask.annotate(priority=1):  # distributed's Client.submit merges these; batches have priority 0
        return validate_chunk.submit(staging, parts, f"chunk {index + 1}")


def _relabel(chunk: ChunkValidation, label: str) -> ChunkValidation:
    if chunk.label == label:
        return chunk
    suites = {
        name: (n, [replace(f, chunk=label) for f in failures]) for name, (n, failures) in chunk.suites.items()
    }
    return replace(chunk, label=label, suites=suites)


def _corpus_params(con: duckdb.DuckDBPyConnection, n_discovered: int) -> dict[str, int]:
    n_claims = con.sql("SELECT count(*) FROM claims").fetchall()[0][0]
    return {"min_documents": 1, "min_topics": 1, "n_discovered": n_discovered, "n_claims": n_claims}


@task(name="validate-suites", cache_policy=NO_CACHE)
def validate_corpus_suites(staging: Path, suites: list[str], n_discovered: int) -> ChunkValidation:
    """Corpus suites on whole tables, one after the other, on a Dask worker (under --workers); their results
    join the flow's."""
    return _validate_corpus_suites(staging, suites, n_discovered)


def _validate_corpus_suites(staging: Path, names: list[str], n_discovered: int) -> ChunkValidation:
    return _run_suites(
        staging, f"suites-{names[0]}", None, names, lambda con: _corpus_params(con, n_discovered), ""
    )


def _submit_early_suites(staging: Path, specs: dict[str, dict], n_discovered: int) -> list[Any]:
    """On a Dask cluster: the corpus suites that read no corpus table, one task each, run during the corpus step."""
    import dask

    names = [
        n
        for n, spec in specs.items()
        if spec["meta"].get("scope") == "corpus" and not reads_corpus_tables(spec)
    ]
    with dask.annotate(priority=1):
        return [validate_corpus_suites.submit(staging, [name], n_discovered) for name in names]


def _submit_ready_suites(
    staging: Path, pending: dict[frozenset[str], list[str]], done: set[str], n_discovered: int
) -> list[Any]:
    """On a Dask cluster: the groups of `pending` whose writers are all `done`, one task each (removed from it)."""
    import dask

    ready = [key for key in pending if key <= done]
    with dask.annotate(priority=1):
        return [validate_corpus_suites.submit(staging, pending.pop(key), n_discovered) for key in ready]


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(
    staging: Path,
    data_docs: Path,
    chunk_results: list[ChunkValidation],
    n_discovered: int,
    suite_results: list[ChunkValidation] | None = None,
) -> ValidationReport:
    """Corpus suites on whole tables (those not in `suite_results`, already run on Dask workers), plus the
    per-part suites' results from `chunk_results`; builds Data Docs."""
    validator = _process_validator()
    report = ValidationReport()
    done = {name: r for r in suite_results or [] for name in r.suites}
    with _validator_lock:
        con = storage.analytic_connection(_spill_dir(staging))
        try:
            _staged_views(con, staging)
            params = _corpus_params(con, n_discovered)
            for name, spec in validator.specs.items():
                if spec["meta"].get("scope") != "corpus":
                    continue
                if name in done:
                    report.add(name, *done[name].suites[name])
                else:
                    failures = validator.validate_table(con, name, params)
                    report.add(name, validator.n_expectations(name), failures)
            for r in suite_results or []:
                validator.store_results(r.results)
            for chunk in chunk_results:
                for name, (n_expectations, failures) in chunk.suites.items():
                    report.add(name, n_expectations, failures)
                validator.store_results(chunk.results)
            validator.set_data_docs(data_docs)
            t0 = time.perf_counter()
            report.data_docs = validator.build_docs()
            report.docs_seconds = time.perf_counter() - t0
        finally:
            con.close()
            validator.set_data_docs(None)
            validator.take_results()  # a long-lived process (serve, a Dask worker) keeps no build's results
    return report


def validate_staged(
    staging: Path, data_docs: Path, batch_parts: list[str], n_discovered: int
) -> ValidationReport:
    """Every suite, in this process and thread (the `validate` command, outside any flow run)."""
    chunks = _chunks(staging, batch_parts)
    try:
        results = [
            validate_chunk.fn(staging, parts, label)
            for parts, label in zip(chunks, chunk_labels(chunks), strict=True)
        ]
        return validate_task.fn(staging, data_docs, results, n_discovered)
    finally:
        shutil.rmtree(_spill_dir(staging), ignore_errors=True)


# ---------------------------------------------------------------------------------------------- flow


@dataclass
class BuildSummary:
    run_id: str
    status: str
    input_dir: str
    output_dir: str
    version: str | None
    files_discovered: int = 0
    files_reused: int = 0
    files_processed: int = 0
    files_hashed: int = 0
    task_processes: int = 0  # distinct processes that ran batch and validation-chunk tasks (>1 on Dask)
    parts_revalidated_skipped: int = 0  # unchanged parts whose per-part suites passed under the same suites
    corrupted_parts: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    data_docs: str | None = None
    warehouse: str | None = None
    dashboard: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _distributed() -> bool:
    """Whether this flow run's tasks run outside this process (a Dask cluster: --workers N or --dask-address)."""
    return not isinstance(getattr(get_run_context(), "task_runner", None), ThreadPoolTaskRunner)


def _no_articles_message(input_dir: str, found: Discovery) -> str:
    if not found.n_discovered:
        return f"no article files in {input_dir}: the folder is empty; nothing was published"
    reasons = Counter(r["reason"] for r in found.rejected)
    why = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
    return (
        f"no article files in {input_dir}: {found.n_discovered} found, all rejected before processing ({why}); "
        "nothing was published"
    )


def _new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _count_rows(version: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {
        d.name: sum(pq.ParquetFile(f).metadata.num_rows for f in storage.part_files(version, d.name))
        for d in sorted(version.iterdir())
        if d.is_dir() and not d.name.startswith("_")
    }


def _outcomes(con_dir: Path) -> dict[str, int]:
    con = duckdb.connect()
    try:
        _staged_views(con, con_dir)
        return dict(con.sql("SELECT outcome, count(*) FROM inputs GROUP BY ALL ORDER BY ALL").fetchall())
    finally:
        con.close()


# Batches are CPU-bound Python: threads would only contend for the GIL and hold several batches in memory.
# Concurrency is processes, through Dask (`build --workers N`, flows/runner.py).
@flow(
    name="claimscope-build",
    validate_parameters=False,
    log_prints=False,
    task_runner=ThreadPoolTaskRunner(max_workers=1),
)
def build_flow(
    input_dir: str = "seeds",
    output_dir: str = "data",
    *,
    full: bool = False,
    wait_for_lock: bool = False,
    batch_docs: int = BATCH_DOCS,
    batch_bytes: int = BATCH_BYTES,
) -> BuildSummary:
    """Build, validate and publish the dataset from `input_dir` into `output_dir`."""
    layout = Layout.at(output_dir)
    logger = get_run_logger()
    if refresh_lexicons():
        logger.info("lexicons changed since the last build in this process: recompiled")
    with storage.build_lock(layout, wait=wait_for_lock):
        summary = _build(layout, input_dir, full, batch_docs, batch_bytes, logger)
        _dashboard(layout, summary, logger)  # after the final run record, so the page lists this run
        return summary


def _build(
    layout: Layout, input_dir: str, full: bool, batch_docs: int, batch_bytes: int, logger
) -> BuildSummary:
    run_id = _new_run_id()
    started = datetime.now(UTC)
    summary = BuildSummary(run_id, "running", str(Path(input_dir).resolve()), str(layout.root), None)
    steps: dict[str, float] = {}
    from flows.runs import close_interrupted, record_run

    for note in storage.recover(layout):  # a build killed while publishing: finish or undo that first
        logger.warning("recovered an interrupted publication: %s", note)
    published = layout.published_version()
    for killed in close_interrupted(layout, published.name if published else None):
        logger.warning("closed the run record of killed build %s", killed)
    storage.clean_stale_staging(layout)
    staging = layout.staging_dir(run_id)
    staging.mkdir(parents=True)
    prev = layout.published_version()
    version = pipeline_version()
    error: BaseException | None = None
    report: ValidationReport | None = None

    record_run(
        layout, summary, started, None, None
    )  # visible as "running" until the final record replaces it
    try:
        t = time.perf_counter()
        found = discover_task(input_dir, layout, prev)
        steps["discover"] = time.perf_counter() - t
        summary.files_discovered, summary.files_hashed = found.n_discovered, found.n_hashed
        _report("discover", found.n_discovered, found.n_discovered)
        if not found.files:  # the corpus step has no tables to read; and an empty dataset is no dataset
            raise NoArticles(_no_articles_message(input_dir, found))

        t = time.perf_counter()
        plan = make_plan(found.files, prev, version, full=full, max_docs=batch_docs, max_bytes=batch_bytes)
        for part in plan.reuse_parts:
            for table in BATCH_TABLES:
                storage.link_part(prev, staging, table, part)  # type: ignore[arg-type]
        trimmed = [info for t in plan.trims for info in trim_part(prev, staging, t)]  # type: ignore[arg-type]
        if plan.corrupted_parts:
            logger.warning(
                "rebuilding %d corrupted published part(s): %s",
                len(plan.corrupted_parts),
                ", ".join(plan.corrupted_parts),
            )
        suites_fp = suites_fingerprint()
        state = input_state(found, version, suites_fp)
        prev_state = storage.read_manifest(prev, "state")
        # Nothing changed since the published version (same files, rejections, pipeline and suites, and no
        # damaged part): its corpus tables and validation stand, so only the new version's links are made.
        unchanged = (
            prev is not None
            and not plan.batches
            and not plan.trims
            and not plan.corrupted_parts
            and prev_state is not None
            and prev_state.num_rows == 1
            and prev_state["state"][0].as_py() == state
        )
        if unchanged:
            for part in sorted(prev.glob(f"*/part-{CORPUS_PART}.parquet")):  # type: ignore[union-attr]
                if not part.parent.name.startswith("_"):
                    storage.link_part(prev, staging, part.parent.name, CORPUS_PART)  # type: ignore[arg-type]
        storage.write_manifest(staging, "state", pa.table({"state": [state]}))
        steps["plan"] = time.perf_counter() - t
        summary.files_reused = len(plan.reuse_files)
        summary.corrupted_parts = plan.corrupted_parts

        t = time.perf_counter()
        ingested_at = datetime.now(UTC)
        from flows.runner import wait_for_prewarm

        wait_for_prewarm()  # the CLI's background imports must be done before batches import sklearn (deadlock)
        futures = [
            process_batch.submit(BatchFiles(b, version), str(staging), version, ingested_at)
            for b in plan.batches
        ]
        results: list[BatchResult] = []

        def finished() -> Iterator[tuple[str, int]]:  # each batch's part and sentence count, in plan order
            for fut in futures:
                results.append(fut.result())
                _report("batches", len(results), len(futures))
                yield results[-1].part, results[-1].rows.get("sentences", 0)

        # The new parts are chunked as their batches finish. On a Dask cluster each chunk goes to the workers at
        # once, ahead of the batches still queued: submitted after the last batch, the chunks shared the 2 cores
        # with this process's corpus step (100k: 39 s corpus + 61 s validation after the batches).
        distributed = _distributed()
        chunk_futures: list[Any] | None = [] if distributed else None
        chunks: list[list[str]] = []
        _report("batches", 0, len(futures))
        for parts in _group(finished()):
            chunks.append(parts)
            if chunk_futures is not None:
                chunk_futures.append(_submit_chunk(staging, parts, len(chunk_futures)))
        steps["process"] = time.perf_counter() - t
        for r in results:
            for k, v in r.seconds.items():
                steps[f"process.{k}"] = steps.get(f"process.{k}", 0.0) + v
        summary.files_processed = sum(len(b) for b in plan.batches)
        task_processes = {r.process for r in results}
        storage.fault_point("staged")  # test seam: kill tests stop the build here (no-op otherwise)

        batch_parts = plan.carried_parts + [r.part for r in results]
        # Parts are immutable: one reused unchanged (checksum verified by the plan) and validated under the same
        # suites when it was published needs no second pass of the per-part suites. Corpus suites always run.
        validated = storage.read_manifest(prev, "validated")
        already = set()
        if validated is not None:
            already = {
                p
                for p, fp in zip(validated["part"].to_pylist(), validated["suites"].to_pylist(), strict=True)
                if fp == suites_fp
            } & set(plan.reuse_parts)
        summary.parts_revalidated_skipped = len(already)
        carried = [] if unchanged else _chunks(staging, [p for p in plan.carried_parts if p not in already])
        # On a Dask cluster the carried parts' suites run on the workers while this process computes the corpus
        # tables. The local runner validates every chunk after it: one step at a time holds the default build's
        # peak memory down.
        if chunk_futures is not None:
            chunk_futures += [
                _submit_chunk(staging, parts, len(chunks) + i) for i, parts in enumerate(carried)
            ]
        chunks += carried
        labels = chunk_labels(chunks)

        suite_futures: list[Any] = []
        if not unchanged:
            write_discovery_parts(staging, found.rejected, found.inputs_rows())
            specs = load_suite_specs() if chunk_futures is not None else {}
            # On a Dask cluster the corpus suites run on the workers: those that read no corpus table while this
            # process computes the corpus tables, each other group as soon as the branches it reads are written
            # (the families suites while the topics are computed). Locally they run in validate_task.
            pending = late_suite_groups(specs) if chunk_futures is not None else {}
            if chunk_futures is not None:
                suite_futures += _submit_early_suites(staging, specs, found.n_discovered)
            done: set[str] = set()
            t = time.perf_counter()
            for branch in CORPUS_BRANCHES:
                corpus_task(staging, branch)
                done.add(branch)
                suite_futures += _submit_ready_suites(staging, pending, done, found.n_discovered)
            steps["corpus"] = time.perf_counter() - t
            t = time.perf_counter()
            accuracy = score_extractor_task(staging)
            steps["score_extractor"] = time.perf_counter() - t
            done.add(SCORE)
            suite_futures += _submit_ready_suites(staging, pending, done, found.n_discovered)
            if pending:  # a suite waiting for a writer that never ran would go unvalidated
                raise RuntimeError(f"corpus suites never submitted: {sorted(pending.values())}")
        else:
            acc = storage.read_table(staging, "extractor_accuracy", columns=["metric", "value"])
            accuracy = dict(zip(acc["metric"].to_pylist(), acc["value"].to_pylist(), strict=True))

        parts_rows = [asdict(i) for r in results for i in r.parts]
        parts_rows += [asdict(i) for i in trimmed]
        prev_parts = storage.read_manifest(prev, "parts")
        if prev_parts is not None and plan.reuse_parts:
            keep = set(plan.reuse_parts)
            parts_rows += [r for r in prev_parts.to_pylist() if r["part"] in keep]
        storage.write_manifest(staging, "files", _files_manifest(plan, results, version))
        storage.write_manifest(
            staging, "parts", pa.Table.from_pylist(parts_rows, schema=PARTS_MANIFEST_SCHEMA)
        )
        storage.write_manifest(staging, "inventory", found.inventory_table())
        storage.write_manifest(staging, "corpus", _corpus_manifest(staging))

        t = time.perf_counter()
        storage.fault_point("validate")  # test seam (no-op otherwise)
        if unchanged:  # every table is the published, validated one
            report = ValidationReport(
                data_docs=str(layout.data_docs / "index.html"), unchanged_since=prev.name
            )  # type: ignore[union-attr]
        else:
            # Local: each chunk runs here, now (lazily, as the loop asks); on Dask: collect what the workers did.
            pending_chunks = (
                (validate_chunk(staging, parts, label) for parts, label in zip(chunks, labels, strict=True))
                if chunk_futures is None
                else (fut.result() for fut in chunk_futures)
            )
            chunk_results: list[ChunkValidation] = []
            _report("validate", 0, len(chunks))
            for chunk, label in zip(pending_chunks, labels, strict=True):
                chunk_results.append(_relabel(chunk, label))
                _report("validate", len(chunk_results), len(chunks))
            steps["validate.chunks"] = sum(c.seconds for c in chunk_results)
            suite_results = [fut.result() for fut in suite_futures]
            if suite_results:
                steps["validate.suites"] = sum(c.seconds for c in suite_results)
            task_processes.update(c.process for c in chunk_results + suite_results)
            report = validate_task(
                staging, layout.data_docs, chunk_results, found.n_discovered, suite_results
            )
            steps["validate.docs"] = report.docs_seconds
            del chunk_results
        steps["validate"] = time.perf_counter() - t
        summary.task_processes = len(task_processes)
        summary.rows = _count_rows(staging)
        summary.outcomes = _outcomes(staging)
        summary.data_docs = report.data_docs
        summary.validation = {
            "success": report.success,
            "suites": report.suites,
            "failures": [f.one_line() for f in report.failures],
            "accuracy": accuracy,
            "accuracy_passed": report.unchanged_since is not None
            or report.suites.get("extractor_accuracy", {}).get("failed", 1) == 0,
            "unchanged_since": report.unchanged_since,
        }
        if not report.success:
            raise ValidationFailed(
                f"{len(report.failures)} expectation(s) failed; nothing was published",
                [asdict(f) for f in report.failures],
            )

        storage.write_manifest(
            staging, "validated", pa.table({"part": batch_parts, "suites": [suites_fp] * len(batch_parts)})
        )
        t = time.perf_counter()
        from flows.views import derived_views

        storage.publish(layout, staging, run_id, derived_views())
        steps["publish"] = time.perf_counter() - t
        summary.version, summary.status, summary.warehouse = run_id, "success", str(layout.warehouse)
    except BaseException as exc:
        error = exc
        summary.status = "validation_failed" if isinstance(exc, ValidationFailed) else "failed"
        raise
    finally:
        shutil.rmtree(_spill_dir(staging), ignore_errors=True)
        summary.seconds = {k: round(v, 4) for k, v in steps.items()}
        summary.seconds["total"] = round((datetime.now(UTC) - started).total_seconds(), 4)
        record_run(layout, summary, started, error, report)
        _artifacts(summary, error)
    return summary


def _artifacts(summary: BuildSummary, error: BaseException | None) -> None:
    """A markdown summary and a row-count table on the Prefect run (best effort: never fails the build)."""
    try:
        get_run_context()
    except Exception:
        return
    from flows.runs import summary_markdown

    try:
        create_markdown_artifact(
            key="build-summary",
            markdown=summary_markdown(summary, error),
            description="claimscope build summary",
        )
        create_table_artifact(
            key="build-row-counts",
            table=[{"table": k, "rows": v} for k, v in sorted(summary.rows.items())],
            description="rows per table in this build",
        )
    except Exception as exc:  # the API may be unreachable; the run record on disk is the source of truth
        log.warning("could not create Prefect artifacts: %s", exc)


def _dashboard(layout: Layout, summary: BuildSummary, logger) -> None:
    """Regenerate the static dashboard. A validated, published build never fails because of it."""
    try:
        from flows.dashboard import write_dashboard

        page = write_dashboard(layout)
        summary.dashboard = str(page.path)
    except Exception as exc:
        logger.warning("dashboard not generated: %s: %s", type(exc).__name__, exc)
        return
    try:
        get_run_context()
        create_link_artifact(
            key="build-dashboard",
            link=page.path.as_uri(),
            link_text="claimscope dashboard",
            description="the dashboard of the published dataset",
        )
    except Exception as exc:  # no run context, or the API is unreachable
        log.debug("no dashboard link artifact: %s", exc)
