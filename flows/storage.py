"""The one storage module: staged Parquet parts, the build lock, atomic publication, the DuckDB warehouse.

Layout of an output folder (default `data/`):

    warehouse.duckdb            views over the current version (absolute paths: open it from anywhere)
    current -> versions/<id>    the published version (symlink, swapped atomically)
    versions/<id>/<table>/part-*.parquet
    versions/<id>/_manifest/    what the incremental planner needs: documents, parts, inventory
    runs/<run_id>.parquet       one row per build, failed ones included (the `runs` view globs them)
    data_docs/                  Great Expectations Data Docs of the latest build
    .staging/<run_id>/          a build in progress; never read by the views
    .build.lock                 held by the running build

Publication never edits a published file: a version directory is complete and validated before it is
renamed into `versions/`, the warehouse is built beside the live one and swapped with os.replace, and the
previous versions stay on disk (KEEP_VERSIONS) so a reader holding the old warehouse open keeps working.
A build killed at any point leaves at most a stale `.staging/` directory, cleaned by the next build.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.errors import BuildLocked, DatasetMissing

KEEP_VERSIONS = 3
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


# ---------------------------------------------------------------------------------------------- lock


@contextlib.contextmanager
def build_lock(layout: Layout, *, wait: bool = False, timeout: float = 3600.0) -> Iterator[None]:
    """One build per output folder. The lock dies with its process, so a SIGKILLed build never blocks."""
    layout.root.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                if not wait or time.monotonic() > deadline:
                    raise BuildLocked(
                        f"another build is writing to {layout.root} ({holder})"
                    ) from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing releases the flock


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


def create_views(con: duckdb.DuckDBPyConnection, layout: Layout, version: Path, views: list[tuple[str, str]]) -> None:
    """Table views over the version's parts, `runs` over the run history, then the derived views in order."""
    for table_dir in sorted(p for p in version.iterdir() if p.is_dir() and not p.name.startswith("_")):
        glob = _sql_str(version / table_dir.name / "part-*.parquet")
        con.execute(f"CREATE OR REPLACE VIEW {table_dir.name} AS SELECT * FROM read_parquet({glob})")
    runs_glob = _sql_str(layout.runs / "*.parquet")
    con.execute(f"CREATE OR REPLACE VIEW runs AS SELECT * FROM read_parquet({runs_glob}, union_by_name = true)")
    for _name, sql in views:
        con.execute(sql)


def publish(layout: Layout, staging_dir: Path, version_id: str, views: list[tuple[str, str]]) -> Path:
    """Move a validated staging directory into versions/ and swap the warehouse and `current` atomically."""
    layout.versions.mkdir(parents=True, exist_ok=True)
    version = layout.version_dir(version_id)
    os.replace(staging_dir, version)

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
    # A WAL left by a killed writer of the old file would be replayed against the new one.
    Path(f"{layout.warehouse}.wal").unlink(missing_ok=True)
    os.replace(tmp_db, layout.warehouse)

    link_tmp = layout.root / f".current-{version_id}"
    link_tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(version, layout.root), link_tmp)
    os.replace(link_tmp, layout.current)
    _fsync_dir(layout.root)
    gc_versions(layout)
    return version


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
    if not layout.staging.is_dir():
        return []
    removed = []
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


def connect_readonly(layout: Layout) -> duckdb.DuckDBPyConnection:
    """Read-only: never takes the write lock, so it works while a build runs and from any directory."""
    if not layout.warehouse.exists():
        raise DatasetMissing(f"no published dataset at {layout.warehouse}")
    return duckdb.connect(str(layout.warehouse), read_only=True)


def write_run_record(layout: Layout, run_id: str, table: pa.Table) -> Path:
    layout.runs.mkdir(parents=True, exist_ok=True)
    final = layout.runs / f"{run_id}.parquet"
    tmp = layout.runs / f".{run_id}.parquet.tmp"
    pq.write_table(table, tmp, **PARQUET_OPTS)
    os.replace(tmp, final)
    return final
