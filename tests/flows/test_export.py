import json
import subprocess
import sys

import duckdb
import fsspec
import pytest

from flows.build import build_flow
from flows.export import ExportError, export_published, read_latest
from flows.storage import Layout
from tests.conftest import ROOT, SEEDS
from transforms.errors import DatasetMissing

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def built(tmp_path_factory, prefect_harness):
    out = tmp_path_factory.mktemp("export") / "data"
    build_flow(str(SEEDS), str(out))
    return out


def warehouse_count(out, table):
    con = duckdb.connect(str(Layout.at(out).warehouse), read_only=True)
    try:
        return con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        con.close()


def test_export_to_a_file_url_is_complete_and_readable(built, tmp_path):
    dest = tmp_path / "bucket" / "claims"
    result = export_published(built, f"file://{dest}")
    version = Layout.at(built).published_version().name
    assert result.version == version and read_latest(f"file://{dest}") == version
    manifest = json.loads((dest / version / "_manifest.json").read_text())
    con = duckdb.connect()
    for table in ("documents", "sentences", "claims", "contradiction_pairs", "runs"):
        n = con.sql(f"SELECT count(*) FROM read_parquet('{dest}/{version}/{table}/*.parquet')").fetchall()[0][
            0
        ]
        assert n == warehouse_count(built, table) == manifest["tables"][table]["rows"] == result.rows[table]
    assert result.files_copied > 0 and result.files_skipped == 0


def test_re_export_copies_only_what_is_missing(built, tmp_path):
    url = f"file://{tmp_path}/claims"
    first = export_published(built, url)
    again = export_published(built, url)
    n_runs = len(list(Layout.at(built).runs.glob("*.parquet")))
    assert again.files_copied == n_runs  # run history grows; the version's parts are immutable
    assert again.files_skipped == first.files_copied - n_runs


def test_export_to_memory_filesystem(built):
    url = "memory://claimscope-test/claims"
    result = export_published(built, url)
    fs = fsspec.filesystem("memory")
    assert fs.exists(f"/claimscope-test/claims/{result.version}/claims")
    assert read_latest(url) == result.version


def test_failed_export_does_not_move_latest(built, tmp_path):
    dest = tmp_path / "claims"
    (dest / "older").mkdir(parents=True)
    (dest / "LATEST").write_text("older\n")
    version = Layout.at(built).published_version().name
    (dest / version).mkdir()
    (dest / version / "sentences").write_text("a file where a folder should be")
    with pytest.raises(ExportError, match="cannot write"):
        export_published(built, f"file://{dest}")
    assert (dest / "LATEST").read_text() == "older\n"


def test_export_without_a_dataset_is_a_named_error(tmp_path):
    with pytest.raises(DatasetMissing):
        export_published(tmp_path / "nothing", f"file://{tmp_path}/x")


def test_cli_unknown_protocol_is_one_line(built):
    r = subprocess.run(
        [sys.executable, "-m", "flows.cli", "export", "--output", str(built), "--to", "nosuch://b/x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot open 'nosuch://b/x'"), r.stderr
    assert "hint:" in lines[0]
