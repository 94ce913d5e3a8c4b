"""Copy the published dataset to any fsspec URL (object storage, a shared mount, another disk).

The build itself publishes into a local or shared POSIX folder, because its commit point relies on
`os.replace`, `flock` and hard links, which object stores do not offer. Export gives dashboards and
notebooks elsewhere the same guarantee on top of fsspec: each published version goes to
`<url>/<version>/<table>/*.parquet` (immutable, so a re-export copies only what is missing), with a
`_manifest.json`, and `<url>/LATEST` is written last. Readers resolve LATEST, so they never see a version
that is still being copied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from flows.storage import Layout
from transforms.errors import ClaimscopeError, DatasetMissing

LATEST = "LATEST"
MANIFEST = "_manifest.json"


class ExportError(ClaimscopeError):
    hint = "check the URL; s3://, gs:// or az:// need their fsspec package (s3fs, gcsfs, adlfs) installed"


@dataclass
class ExportResult:
    url: str
    version: str
    files_copied: int = 0
    files_skipped: int = 0
    bytes_copied: int = 0
    rows: dict[str, int] = field(default_factory=dict)


def _published_files(layout: Layout) -> tuple[str, dict[str, list[Path]]]:
    version = layout.published_version()
    if version is None:
        raise DatasetMissing(f"no published dataset in {layout.root}")
    tables: dict[str, list[Path]] = {}
    for table_dir in sorted(p for p in version.iterdir() if p.is_dir() and not p.name.startswith("_")):
        tables[table_dir.name] = sorted(table_dir.glob("*.parquet"))
    # Run history lives beside the versions (one file per build); the export carries it as a table too.
    tables["runs"] = sorted(layout.runs.glob("*.parquet")) if layout.runs.is_dir() else []
    return version.name, tables


def export_published(output_dir: str | Path, url: str) -> ExportResult:
    """Copy the currently published version of `output_dir` to `url`, then point `<url>/LATEST` at it."""
    from fsspec.core import url_to_fs

    layout = Layout.at(output_dir)
    version, tables = _published_files(layout)
    try:
        fs, root = url_to_fs(url)
    except (ValueError, ImportError) as exc:  # unknown protocol, or its package is not installed
        raise ExportError(f"cannot open {url!r}: {str(exc).splitlines()[0]}") from exc
    root = root.rstrip("/")
    result = ExportResult(url=url, version=version)
    manifest: dict[str, dict] = {}
    try:
        for table, files in tables.items():
            rows = 0
            names = []
            for src in files:
                dest = f"{root}/{version}/{table}/{src.name}"
                size = src.stat().st_size
                rows += pq.ParquetFile(src).metadata.num_rows
                names.append(src.name)
                # Parts are immutable and content-named: same name and size means already exported.
                if table != "runs" and fs.exists(dest) and fs.size(dest) == size:
                    result.files_skipped += 1
                    continue
                fs.makedirs(f"{root}/{version}/{table}", exist_ok=True)
                fs.put_file(str(src), dest)
                result.files_copied += 1
                result.bytes_copied += size
            result.rows[table] = rows
            manifest[table] = {"files": names, "rows": rows}
        with fs.open(f"{root}/{version}/{MANIFEST}", "w") as fh:
            json.dump(
                {
                    "version": version,
                    "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "source": str(layout.root),
                    "tables": manifest,
                },
                fh,
                indent=1,
            )
        with fs.open(f"{root}/{LATEST}", "w") as fh:  # the commit point: written last
            fh.write(version + "\n")
    except FileNotFoundError as exc:
        if not str(exc.filename or "").startswith(str(layout.root)):
            raise ExportError(f"cannot write to {url!r}: {exc}") from exc
        raise ExportError(
            f"the published version {version} changed during the export ({exc.filename} vanished)",
            hint="run the export again; it copies only what is missing",
        ) from exc
    except OSError as exc:
        raise ExportError(f"cannot write to {url!r}: {exc}") from exc
    return result


def read_latest(url: str) -> str:
    """The version `<url>/LATEST` points at (what a reader of the export should open)."""
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(url)
    with fs.open(f"{root.rstrip('/')}/{LATEST}", "r") as fh:
        return fh.read().strip()
