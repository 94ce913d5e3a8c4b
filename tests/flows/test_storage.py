import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from flows import storage
from flows.storage import Layout
from transforms.errors import BuildLocked, DatasetMissing


def _stage(layout: Layout, run_id: str, n: int) -> None:
    staging = layout.staging_dir(run_id)
    storage.write_part(staging, "documents", "a", pa.table({"document_id": [f"d{i}" for i in range(n)]}))
    storage.write_part(staging, "claims", "a", pa.table({"claim_id": [f"c{i}" for i in range(2 * n)]}))


def _publish(layout: Layout, run_id: str, n: int) -> None:
    _stage(layout, run_id, n)
    layout.runs.mkdir(parents=True, exist_ok=True)
    storage.write_run_record(layout, run_id, pa.table({"run_id": [run_id]}))
    storage.publish(layout, layout.staging_dir(run_id), run_id, [])


def test_write_part_is_atomic_and_checksummed(tmp_path):
    info = storage.write_part(tmp_path, "t", "p1", pa.table({"x": [1, 2, 3]}))
    files = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert files == ["part-p1.parquet"]  # no temporary file left behind
    assert info.n_rows == 3
    assert info.sha256 == storage.file_sha256(tmp_path / "t" / "part-p1.parquet")


def test_publish_creates_views_readable_read_only_from_another_directory(tmp_path):
    layout = Layout.at(tmp_path / "out")
    _publish(layout, "20260101T000000Z-aaaaaa", 3)
    script = textwrap.dedent(
        f"""
        import duckdb
        con = duckdb.connect({str(layout.warehouse)!r}, read_only=True)
        print(con.sql("SELECT count(*) FROM documents").fetchall()[0][0],
              con.sql("SELECT count(*) FROM claims").fetchall()[0][0],
              con.sql("SELECT count(*) FROM runs").fetchall()[0][0])
        """
    )
    res = subprocess.run([sys.executable, "-c", script], cwd="/", capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["3", "6", "1"]
    assert layout.published_version().name == "20260101T000000Z-aaaaaa"


def test_reader_keeps_reading_across_a_swap(tmp_path):
    layout = Layout.at(tmp_path / "out")
    _publish(layout, "20260101T000000Z-aaaaaa", 3)
    reader = duckdb.connect(str(layout.warehouse), read_only=True)
    _publish(layout, "20260102T000000Z-bbbbbb", 5)
    # The open connection still sees the version it opened; a new one sees the new version.
    assert reader.sql("SELECT count(*) FROM documents").fetchall()[0][0] == 3
    reader.close()
    fresh = storage.connect_readonly(layout)
    assert fresh.sql("SELECT count(*) FROM documents").fetchall()[0][0] == 5
    fresh.close()


def test_gc_keeps_recent_versions_and_current(tmp_path):
    layout = Layout.at(tmp_path / "out")
    for i in range(5):
        _publish(layout, f"2026010{i}T000000Z-x", i + 1)
    kept = sorted(p.name for p in layout.versions.iterdir())
    assert len(kept) == storage.KEEP_VERSIONS
    assert layout.published_version().name == "20260104T000000Z-x"


def test_connect_readonly_without_dataset_is_a_named_error(tmp_path):
    with pytest.raises(DatasetMissing):
        storage.connect_readonly(Layout.at(tmp_path))


def test_second_build_lock_is_refused_with_holder(tmp_path):
    layout = Layout.at(tmp_path)
    with (
        storage.build_lock(layout),
        pytest.raises(BuildLocked, match=f"pid {os.getpid()}"),
        storage.build_lock(layout),
    ):
        pass
    with storage.build_lock(layout):  # released
        pass


def test_lock_probe_refuses_only_while_held(tmp_path):
    layout = Layout.at(tmp_path)
    storage.check_lock_free(layout)  # no lock file yet
    with storage.build_lock(layout), pytest.raises(BuildLocked, match=f"pid {os.getpid()}"):
        storage.check_lock_free(layout)
    storage.check_lock_free(layout)
    with storage.build_lock(layout):  # the probe left no lock behind
        pass


def test_lock_of_a_killed_process_is_released(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from flows import storage; from flows.storage import Layout\n"
            f"with storage.build_lock(Layout.at({str(tmp_path)!r})):\n"
            "    print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(BuildLocked), storage.build_lock(Layout.at(tmp_path)):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            with storage.build_lock(Layout.at(tmp_path)):
                break
        except BuildLocked:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_clean_stale_staging_removes_leftovers(tmp_path):
    layout = Layout.at(tmp_path)
    _stage(layout, "old-run", 1)
    (layout.root / ".warehouse-old-run.duckdb").write_bytes(b"junk")
    assert storage.clean_stale_staging(layout) == ["old-run"]
    assert not any(layout.staging.iterdir())
    assert not (layout.root / ".warehouse-old-run.duckdb").exists()


def _python(code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter at the project root (the collector and freeze state are per process)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(storage.__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _printed_ints(code: str) -> list[int]:
    """The integers `code` prints on its last line, run in a fresh interpreter."""
    res = _python(code)
    assert res.returncode == 0, res.stderr
    return [int(v) for v in res.stdout.split()]


def test_releasing_memory_leaves_no_leak_report_at_exit():
    """release_memory freezes the warm objects once; left frozen at exit, DuckDB's bindings call them leaked."""
    code = "import duckdb\nfrom flows import storage\nduckdb.connect().sql('SELECT 1').fetchall()\nstorage.release_memory()\n"
    res = _python(code)
    assert res.returncode == 0, res.stderr
    assert "leaked" not in res.stderr, res.stderr[-500:]


def test_release_memory_freezes_again_after_large_imports_only():
    """A Dask worker imports GX at its first validation chunk, after its first batch: those objects must be frozen
    too (collections walking them made later batches 20 % slower), while a batch's own data never is."""
    code = (
        "import gc\nfrom flows import storage\n"
        "storage.release_memory(); first = gc.get_freeze_count()\n"
        "batch = [{'i': i} for i in range(50_000)]\n"
        "storage.release_memory(); second = gc.get_freeze_count()\n"
        "import great_expectations\n"
        "storage.release_memory(); third = gc.get_freeze_count()\n"
        "print(first, second, third)\n"
    )
    first, second, third = _printed_ints(code)
    assert first > 0
    assert second - first < 50_000  # the live batch rows stay collectable
    assert third - second > 100_000  # GX's module objects joined the frozen generation


def test_release_memory_returns_what_arrows_pool_no_longer_uses():
    """Arrow allocates from its own pool, which malloc_trim does not reach: without release_unused a worker kept
    ~130 MB a batch it had freed."""
    code = (
        "import os, pyarrow as pa, pyarrow.compute as pc\nfrom flows import storage\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
        "storage.release_memory(); base = rss()\n"
        "arrays = [pc.add(pa.array(range(i % 50, 2000 + i % 50)), 1) for i in range(5000)]\n"
        "assert pa.total_allocated_bytes() > 50e6\n"
        "del arrays; held = rss()\n"
        "storage.release_memory()\n"
        "print(base, held, rss())\n"
    )
    base, held, after = _printed_ints(code)
    assert held - base > 50e6  # the freed arrays stay resident until released
    assert after - base < (held - base) / 2


@pytest.mark.parametrize(("env", "limit"), [(None, "488.2 MiB"), ("256MB", "244.1 MiB")])
def test_pipeline_connections_take_their_memory_limit_from_the_environment(monkeypatch, tmp_path, env, limit):
    if env is None:
        monkeypatch.delenv(storage.DUCKDB_MEMORY_ENV, raising=False)
    else:
        monkeypatch.setenv(storage.DUCKDB_MEMORY_ENV, env)
    con = storage.analytic_connection(tmp_path / "spill")
    try:
        assert con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0] == limit
    finally:
        con.close()


def test_collector_paused_is_reentrant_and_restores_the_collector():
    assert gc.isenabled()
    with storage.collector_paused():
        assert not gc.isenabled()
        with storage.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still holds it
    assert gc.isenabled()
    gc.disable()
    try:
        with storage.collector_paused():
            pass
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()


def test_collector_paused_across_threads_ends_with_the_last_block():
    inside, release = threading.Event(), threading.Event()

    def batch():
        with storage.collector_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=batch)
    t.start()
    assert inside.wait(5)
    with storage.collector_paused():
        pass
    assert not gc.isenabled()  # the other thread's batch is still running
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_a_warm_batch_leaves_no_garbage_cycles_for_the_paused_collector():
    """collector_paused relies on reference counting alone inside a batch: once the process is warm (formats,
    lexicons and caches first used), a batch of seeds, messy fixtures and rejected inputs makes no cycles."""
    code = textwrap.dedent(
        """
        import gc
        from datetime import UTC, datetime
        from pathlib import Path
        from transforms.batch import RawInput, process_inputs

        paths = sorted(Path("seeds").glob("*.txt")) + sorted(Path("tests/fixtures/messy").iterdir())
        raw = [RawInput(p.name, p.read_bytes()) for p in paths if p.is_file()]
        raw.append(RawInput("gone.txt", b"", error="cannot read: No such file"))
        run = lambda: process_inputs(raw, ingested_at=datetime.now(UTC), pipeline_version="t")
        run()
        gc.collect()
        gc.disable()
        out = run()
        print(out.n_documents, out.n_rejected, gc.collect())
        """
    )
    res = _python(code)
    assert res.returncode == 0, res.stderr
    n_docs, n_rejected, unreachable = map(int, res.stdout.split())
    assert n_docs >= 5 and n_rejected >= 2  # the batch exercised the rejection paths too
    assert unreachable == 0
