"""The one storage module: staged Parquet parts, the build lock, atomic publication, the DuckDB warehouse.

Layout of an output folder (default `data/`):

    warehouse.duckdb            views over the current version (absolute paths: open it from anywhere)
    current -> versions/<id>    the published version (symlink, swapped atomically)
    versions/<id>/<table>/part-*.parquet
    versions/<id>/_manifest/    what the incremental planner needs: documents, parts, inventory
    runs/<run_id>.parquet       one row per build, failed ones included (the `runs` view globs them)
    data_docs/                  Great Expectations Data Docs of the latest build
    .staging/<run_id>/          a build in progress; never read by the views
    .pending-<id>               a publication in progress (its journal: see publish and recover)
    .build.lock                 held by the running build

Publication never edits a published file: a version directory is complete and validated before it is
renamed into `versions/`, the warehouse is built beside the live one and swapped with os.replace, and the
previous versions stay on disk (KEEP_VERSIONS) so a reader holding the old warehouse open keeps working.
A build killed at any point leaves the previous dataset published, and the next build finishes or undoes its
half-done publication (`recover`) and removes its staging directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.errors import BuildLocked, DatasetMissing, SettingError

KEEP_VERSIONS = 3
# Test seam for the kill tests (tests/flows/test_faults.py): see fault_point.
FAULT_PAUSE_ENV = "CLAIMSCOPE_FAULT_PAUSE"
FAULT_MARKER_ENV = "CLAIMSCOPE_FAULT_MARKER"
FAULT_MAX_SECONDS = 600.0
ROW_GROUP_SIZE = 128 * 1024
PARQUET_OPTS = {"compression": "zstd", "compression_level": 1, "write_statistics": True}


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str]) -> Layout:
        return cls(Path(root).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    @property
    def staging(self) -> Path:
        return self.root / ".staging"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def data_docs(self) -> Path:
        return self.root / "data_docs"

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def lock_file(self) -> Path:
        return self.root / ".build.lock"

    def staging_dir(self, run_id: str) -> Path:
        return self.staging / run_id

    def version_dir(self, version_id: str) -> Path:
        return self.versions / version_id

    def published_version(self) -> Path | None:
        """The version the warehouse serves, or None before the first successful build."""
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        path = (self.root / target).resolve()
        return path if path.is_dir() else None


# ---------------------------------------------------------------------------------------------- faults


def fault_point(step: str) -> None:
    """Pause here when CLAIMSCOPE_FAULT_PAUSE names `step` (a test seam; a no-op otherwise).

    Writes the marker file (CLAIMSCOPE_FAULT_MARKER) and blocks while it exists, so a test can SIGKILL the
    build at exactly this point, or delete the marker to let it go on. A SIGKILL cannot be simulated in-process:
    the point is to kill a real build at a known instant.
    """
    if os.environ.get(FAULT_PAUSE_ENV) != step:
        return
    marker = Path(os.environ.get(FAULT_MARKER_ENV) or f"/tmp/claimscope-fault-{os.getpid()}")
    marker.write_text(f"{os.getpid()} {step}\n")
    deadline = time.monotonic() + FAULT_MAX_SECONDS
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------- lock


@contextlib.contextmanager
def build_lock(layout: Layout, *, wait: bool = False, timeout: float = 3600.0) -> Iterator[None]:
    """One build per output folder. The lock dies with its process, so a SIGKILLed build never blocks.

    Refused (BuildLocked, naming the holder) unless `wait`; a waiting build says so once on stderr.
    """
    layout.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    acquired = False
    try:
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                acquired = True
                break
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                if not wait or time.monotonic() > deadline:
                    raise BuildLocked(f"another build is writing to {layout.root} ({holder})") from None
                if not announced:
                    print(
                        f"waiting: another build is writing to {layout.root} ({holder})",
                        file=sys.stderr,
                        flush=True,
                    )
                    announced = True
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}".encode(), 0)
        yield
    finally:
        if acquired:  # a refused build must not wipe the holder's name from the file
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        os.close(fd)  # closing releases the flock


def check_lock_free(layout: Layout) -> None:
    """Raise BuildLocked now if another build holds `layout`'s lock (the CLI's fast refusal).

    Lets a refused `build` exit before Prefect's temporary server starts (seconds, and shutdown noise);
    the flow still takes the lock itself, so a build that starts in between is refused there.
    """
    if not layout.lock_file.exists():
        return
    fd = os.open(layout.lock_file, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise BuildLocked(f"another build is writing to {layout.root} ({holder})") from None
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class PartInfo:
    table: str
    part: str
    n_rows: int
    n_bytes: int
    sha256: str


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_part(directory: Path, table_name: str, part: str, table: pa.Table) -> PartInfo:
    """Write one immutable Parquet part atomically (tmp + rename) and return its checksum."""
    out_dir = directory / table_name
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"part-{part}.parquet"
    tmp = out_dir / f".part-{part}.parquet.tmp"
    pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, **PARQUET_OPTS)
    os.replace(tmp, final)
    return PartInfo(table_name, part, table.num_rows, final.stat().st_size, file_sha256(final))


def write_part_sql(
    con: duckdb.DuckDBPyConnection, directory: Path, table_name: str, part: str, sql: str
) -> PartInfo:
    """Like write_part, for a query result DuckDB streams to Parquet itself (never materialised in Python)."""
    out_dir = directory / table_name
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"part-{part}.parquet"
    tmp = out_dir / f".part-{part}.parquet.tmp"
    con.execute(
        f"COPY ({sql}) TO {_sql_str(tmp)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, "
        f"ROW_GROUP_SIZE {ROW_GROUP_SIZE})"
    )
    os.replace(tmp, final)
    n_rows = pq.ParquetFile(final).metadata.num_rows
    return PartInfo(table_name, part, n_rows, final.stat().st_size, file_sha256(final))


def link_part(src_version: Path, dst: Path, table_name: str, part: str) -> None:
    """Reuse an unchanged part in a new version: a hard link, so no bytes are copied or rewritten."""
    src = src_version / table_name / f"part-{part}.parquet"
    out_dir = dst / table_name
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / src.name
    try:
        os.link(src, target)
    except OSError:
        shutil.copy2(src, target)  # e.g. across file systems


def part_files(version: Path, table_name: str) -> list[Path]:
    return sorted((version / table_name).glob("part-*.parquet"))


def read_table(version: Path, table_name: str, columns: list[str] | None = None) -> pa.Table:
    files = part_files(version, table_name)
    if not files:
        raise DatasetMissing(f"table {table_name} has no parts in {version}")
    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files])


def write_manifest(directory: Path, name: str, table: pa.Table) -> None:
    out = directory / "_manifest"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{name}.parquet.tmp"
    pq.write_table(table, tmp, **PARQUET_OPTS)
    os.replace(tmp, out / f"{name}.parquet")


def read_manifest(version: Path | None, name: str) -> pa.Table | None:
    if version is None:
        return None
    path = version / "_manifest" / f"{name}.parquet"
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid):
        return None


# ---------------------------------------------------------------------------------------------- publish


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def create_views(
    con: duckdb.DuckDBPyConnection, layout: Layout, version: Path, views: list[tuple[str, str]]
) -> None:
    """Table views over the version's parts, `runs` over the run history, then the derived views in order."""
    for table_dir in sorted(p for p in version.iterdir() if p.is_dir() and not p.name.startswith("_")):
        glob = _sql_str(version / table_dir.name / "part-*.parquet")
        con.execute(f"CREATE OR REPLACE VIEW {table_dir.name} AS SELECT * FROM read_parquet({glob})")
    runs_glob = _sql_str(layout.runs / "*.parquet")
    con.execute(
        f"CREATE OR REPLACE VIEW runs AS SELECT * FROM read_parquet({runs_glob}, union_by_name = true)"
    )
    for _name, sql in views:
        con.execute(sql)


def publish(layout: Layout, staging_dir: Path, version_id: str, views: list[tuple[str, str]]) -> Path:
    """Move a validated staging directory into versions/ and swap `current` and the warehouse atomically.

    A journal file (`.pending-<id>`) exists from before the move until both swaps are done, so a build killed
    in between is finished or undone by the next one (`recover`). The warehouse, which readers open, is
    swapped last: up to that instant they see the previous dataset, from it on the new one, never a mix.
    """
    layout.versions.mkdir(parents=True, exist_ok=True)
    version = layout.version_dir(version_id)
    pending = _pending_file(layout, version_id)
    pending.write_text(version_id)
    _fsync_dir(layout.root)
    os.replace(staging_dir, version)
    fault_point("publish.version")

    tmp_db = layout.root / f".warehouse-{version_id}.duckdb"
    for stale in (tmp_db, Path(f"{tmp_db}.wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp_db))
    try:
        create_views(con, layout, version, views)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    Path(f"{tmp_db}.wal").unlink(missing_ok=True)

    link_tmp = layout.root / f".current-{version_id}"
    link_tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(version, layout.root), link_tmp)
    os.replace(link_tmp, layout.current)
    fault_point("publish.swap")
    _swap_warehouse(layout, tmp_db)
    pending.unlink()
    _fsync_dir(layout.root)
    gc_versions(layout)
    return version


def _pending_file(layout: Layout, version_id: str) -> Path:
    return layout.root / f".pending-{version_id}"


def _swap_warehouse(layout: Layout, tmp_db: Path) -> None:
    # A WAL left by a killed writer of the old file would be replayed against the new one.
    Path(f"{layout.warehouse}.wal").unlink(missing_ok=True)
    os.replace(tmp_db, layout.warehouse)


def recover(layout: Layout) -> list[str]:
    """Finish or undo a publication a killed build left half done (the caller holds the build lock).

    Killed after `current` was swapped: the version is complete and validated and its warehouse was built, so
    the warehouse swap is finished (roll forward). Killed before: the version was never published and its
    directory goes (roll back). Returns what was done, one line per publication, for the build's log.
    """
    done = []
    current = layout.published_version()
    for pending in sorted(layout.root.glob(".pending-*")):
        version_id = pending.name.removeprefix(".pending-")
        version = layout.version_dir(version_id)
        tmp_db = layout.root / f".warehouse-{version_id}.duckdb"
        if current is not None and current == version.resolve():
            if tmp_db.exists():
                _swap_warehouse(layout, tmp_db)
            done.append(f"finished publishing {version_id}")
        else:
            shutil.rmtree(version, ignore_errors=True)
            done.append(f"removed unpublished version {version_id}")
        pending.unlink(missing_ok=True)
    if done:
        _fsync_dir(layout.root)
    return done


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def gc_versions(layout: Layout, keep: int = KEEP_VERSIONS) -> list[str]:
    """Drop all but the newest `keep` versions (never the current one)."""
    if not layout.versions.is_dir():
        return []
    current = layout.published_version()
    versions = sorted(p for p in layout.versions.iterdir() if p.is_dir())
    removed = []
    for old in versions[:-keep] if keep else versions:
        if current is not None and old.resolve() == current:
            continue
        shutil.rmtree(old, ignore_errors=True)
        removed.append(old.name)
    return removed


def clean_stale_staging(layout: Layout, keep: str | None = None) -> list[str]:
    """Staging directories left by killed builds (the caller holds the lock, so none is in use)."""
    recover(layout)  # first: a half-done publication may still need its temporary warehouse
    removed = []
    if layout.staging.is_dir():
        for d in layout.staging.iterdir():
            if d.name != keep:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
    for tmp in layout.root.glob(".warehouse-*.duckdb*"):
        tmp.unlink(missing_ok=True)
    for tmp in layout.root.glob(".current-*"):
        tmp.unlink(missing_ok=True)
    return removed


# ---------------------------------------------------------------------------------------------- readers


def release_memory() -> None:
    """Give freed memory back to the OS after a large step (CPython and glibc keep it otherwise), so a long
    build's resident memory follows what it holds now, not the largest batch it ever held."""
    import atexit
    import ctypes
    import gc

    global _frozen_modules
    gc.collect()
    # The first call comes after a first batch or validation chunk: the process is warm (imports, compiled
    # lexicons, Prefect and GX state). Freezing those objects keeps every later full collection from walking
    # them again: that cost 0.33 s per 500-document batch, a tenth of the process step. A frozen object is
    # still freed by reference counting; only one that later ends up in a garbage cycle is never collected,
    # and freezing at a few quiet points bounds that to what was alive then.
    # Freeze again once the process has imported much more since: a Dask worker imports Great Expectations
    # only at its first validation chunk, after its first batch, and its later batches then took 2.4 s
    # instead of 2.0 s (10k, --workers 2) while collections walked GX's objects.
    if len(sys.modules) >= _frozen_modules + REFREEZE_MODULES:
        if not gc.get_freeze_count():
            # Unfrozen before the interpreter's last collection: DuckDB's bindings report every object they
            # still see at exit as leaked (43 lines after a seeds build).
            atexit.register(gc.unfreeze)
        gc.freeze()
        _frozen_modules = len(sys.modules)
    # Arrow allocates from its own pool (mimalloc), which malloc_trim does not reach: after a 1,000-article batch
    # it held ~130 MB it no longer used (531 -> 404 MB resident, measured in one process).
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


_pause_lock = threading.Lock()
_pauses = 0
_collector_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (re-entrant and thread-safe; a collector that was already
    off stays off). A batch allocates millions of short-lived tuples, and the young collections they trigger
    walk the rows the batch keeps: 4-5 % of a 500-article batch, measured. A warm batch makes no garbage cycles
    (a test checks it, rejections included), so reference counting frees what it drops; the first use of a
    format or lexicon leaves a few (175 objects), which release_memory() collects after the batch."""
    import gc

    global _pauses, _collector_was_enabled
    with _pause_lock:
        if _pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collector_was_enabled:
                gc.enable()


# Modules imported since the last freeze that make release_memory() freeze again (GX brings ~1,500, a Dask
# worker's own imports after its first batch a handful).
REFREEZE_MODULES = 200
_frozen_modules = -REFREEZE_MODULES  # nothing frozen yet: the first call freezes


# In-pipeline DuckDB work (corpus tables, validation frames) is bounded: it spills to disk past this, so the
# build's memory stays flat whatever the corpus size. The limit is per process: the runner lowers it through
# DUCKDB_MEMORY_ENV for a local Dask cluster, whose flow and workers query at the same time.
DUCKDB_MEMORY_LIMIT = "512MB"
DUCKDB_MEMORY_ENV = "CLAIMSCOPE_DUCKDB_MEMORY_LIMIT"


def duckdb_memory_limit() -> str:
    """This process's DuckDB limit for pipeline queries: CLAIMSCOPE_DUCKDB_MEMORY_LIMIT, else 512MB."""
    return os.environ.get(DUCKDB_MEMORY_ENV) or DUCKDB_MEMORY_LIMIT


def check_duckdb_memory_limit() -> None:
    """Fail before any work when CLAIMSCOPE_DUCKDB_MEMORY_LIMIT is set to something DuckDB cannot take: otherwise
    the first corpus query or validation chunk would fail, after every batch had run."""
    value = os.environ.get(DUCKDB_MEMORY_ENV)
    if not value:
        return
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = {_sql_str(value)}")
    except duckdb.Error as exc:
        raise SettingError(
            f"{DUCKDB_MEMORY_ENV}={value!r} is not a memory size DuckDB accepts: {str(exc).splitlines()[0]}"
        ) from exc
    finally:
        con.close()


def _bounded(
    con: duckdb.DuckDBPyConnection, spill_dir: Path, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB memory limit (the pipeline's by default), spilling to `spill_dir` beyond it."""
    spill_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = {_sql_str(memory_limit or duckdb_memory_limit())}")
    con.execute(f"SET temp_directory = {_sql_str(spill_dir)}")
    return con


def dask_worker_threads() -> int | None:
    """The threads of the Dask worker running this task, or None outside one."""
    if "distributed" not in sys.modules:  # never imported: not on a worker
        return None
    from distributed import get_worker

    try:
        return get_worker().state.nthreads
    except ValueError:
        return None


def analytic_connection(spill_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for pipeline queries, with a memory limit and a spill folder inside staging."""
    con = _bounded(duckdb.connect(), spill_dir)
    con.execute("SET preserve_insertion_order = false")  # lets large COPY/GROUP BY stream
    # On a Dask worker, DuckDB keeps to the worker's threads: by default it starts one per core of the machine,
    # and those threads then take CPU from the workers beside it, which each own their share of the cores.
    if (threads := dask_worker_threads()) is not None:
        con.execute(f"SET threads = {max(1, threads)}")
    return con


def connect_readonly(
    layout: Layout, spill_dir: Path | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Read-only: never takes the write lock, so it works while a build runs and from any directory.

    With `spill_dir`, the connection is bounded like the pipeline's: for the dashboard, which runs inside the
    build process (unbounded, it was the build's memory peak at 100k articles).
    """
    if not layout.warehouse.exists():
        raise DatasetMissing(f"no published dataset at {layout.warehouse}")
    con = duckdb.connect(str(layout.warehouse), read_only=True)
    return con if spill_dir is None else _bounded(con, spill_dir, memory_limit)


def write_run_record(layout: Layout, run_id: str, table: pa.Table) -> Path:
    layout.runs.mkdir(parents=True, exist_ok=True)
    final = layout.runs / f"{run_id}.parquet"
    tmp = layout.runs / f".{run_id}.parquet.tmp"
    pq.write_table(table, tmp, **PARQUET_OPTS)
    os.replace(tmp, final)
    return final
