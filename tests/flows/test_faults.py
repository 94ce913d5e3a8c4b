"""Faults, for real: a CLI build SIGKILLed at known points, two builds at once, a reader holding the warehouse
open across a build, and published Parquet damaged on disk.

The CLI runs as a subprocess against the session's Prefect test API (PREFECT_API_URL), so it does not start a
server of its own. A kill lands at an exact step through the CLAIMSCOPE_FAULT_PAUSE seam
(flows/storage.py fault_point): the build writes a marker file and blocks there until the test kills it.
"""

from __future__ import annotations

import os
import shutil
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
from flows.build import build_flow
from flows.storage import FAULT_MARKER_ENV, FAULT_PAUSE_ENV, Layout
from tests.conftest import ROOT, SEEDS
from transforms.errors import BuildLocked

pytestmark = pytest.mark.usefixtures("prefect_harness")

SEED_FILES = sorted(SEEDS.iterdir())
COUNTED = ("documents", "sections", "sentences", "claims", "inputs", "rejected_inputs", "topics")


# ---------------------------------------------------------------------------------------------- helpers


def cli_env(pause: str | None = None, marker: Path | None = None) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
    }  # the harness's API: no server start
    env.pop(FAULT_PAUSE_ENV, None)
    if pause is not None:
        env[FAULT_PAUSE_ENV] = pause
        env[FAULT_MARKER_ENV] = str(marker)
    return env


def start_cli(inp: Path, out: Path, *extra: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "build",
            "--input",
            str(inp),
            "--output",
            str(out),
            "--quiet",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill reaches anything it started
    )


def wait_for_marker(marker: Path, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(
                f"build exited ({proc.returncode}) before the fault point: {proc.stderr.read()[-2000:]}"
            )  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "build never reached the fault point"
        time.sleep(0.05)


def kill(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def counts(out: Path) -> dict[str, int]:
    """Row counts through the published warehouse, opened read-only as any reader would."""
    con = storage.connect_readonly(Layout.at(out))
    try:
        return {t: con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in COUNTED}
    finally:
        con.close()


def warehouse_version(out: Path) -> str:
    """The version directory the warehouse's views read."""
    con = storage.connect_readonly(Layout.at(out))
    try:
        sql = con.sql("SELECT sql FROM duckdb_views() WHERE view_name = 'documents'").fetchall()[0][0]
    finally:
        con.close()
    versions = str(Layout.at(out).versions) + "/"
    return sql.split(versions, 1)[1].split("/", 1)[0]


def leftovers(out: Path) -> list[str]:
    """Anything a killed build could leave behind that a finished build must have cleaned up."""
    root = Layout.at(out).root
    found = [p.name for p in root.glob(".pending-*")]
    found += [p.name for p in root.glob(".warehouse-*")] + [p.name for p in root.glob(".current-*")]
    staging = root / ".staging"
    found += [f".staging/{p.name}" for p in staging.iterdir()] if staging.is_dir() else []
    return found


def copy_seeds(dst: Path, n: int) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for p in SEED_FILES[:n]:
        shutil.copy(p, dst / p.name)
    return dst


# ---------------------------------------------------------------------------------------------- kills

KILL_POINTS = [
    pytest.param("staged", id="during-batch-processing"),
    pytest.param("validate", id="before-validation", marks=pytest.mark.slow),
    pytest.param("publish.version", id="publish-after-version-move", marks=pytest.mark.slow),
    pytest.param("publish.swap", id="publish-between-current-and-warehouse-swap"),
]


@pytest.mark.parametrize("step", KILL_POINTS)
def test_sigkill_leaves_the_published_dataset_intact_and_the_next_build_succeeds(
    tmp_path: Path, step: str
) -> None:
    inp, out, marker = copy_seeds(tmp_path / "in", 3), tmp_path / "out", tmp_path / "paused"
    layout = Layout.at(out)
    build_flow(str(inp), str(out))
    before, before_version = counts(out), layout.published_version().name  # type: ignore[union-attr]
    assert before["documents"] == 3

    # The killed build would publish something different: two more articles.
    copy_seeds(inp, 5)
    proc = start_cli(inp, out, env=cli_env(step, marker))
    wait_for_marker(marker, proc)
    kill(proc)

    # Readers still get the previous dataset, complete, through the warehouse.
    assert counts(out) == before
    assert warehouse_version(out) == before_version
    pending = sorted(p.name.removeprefix(".pending-") for p in out.glob(".pending-*"))
    if step.startswith("publish."):
        assert len(pending) == 1, "a publication in progress keeps its journal"
        killed_version = pending[0]
        assert layout.version_dir(killed_version).is_dir()
        # Past the `current` swap the new version is the planner's base; the warehouse still serves the old one.
        expected_current = killed_version if step == "publish.swap" else before_version
        assert layout.published_version().name == expected_current  # type: ignore[union-attr]
    else:
        assert pending == [] and layout.published_version().name == before_version  # type: ignore[union-attr]
        assert any((out / ".staging").iterdir()), "the killed build was staging its parts"

    killed_run = max(p.stem for p in layout.runs.glob("*.parquet"))  # the killed build's "running" record
    summary = build_flow(str(inp), str(out))
    assert summary.status == "success" and summary.validation["success"]
    # The next build closes the killed build's record: published by recovery, or failed.
    closed = duckdb.connect().sql(f"SELECT status FROM '{layout.runs}/{killed_run}.parquet'").fetchall()[0][0]
    assert closed == ("success" if step == "publish.swap" else "failed")
    after = counts(out)
    assert (after["documents"], after["inputs"], after["rejected_inputs"]) == (5, 5, 0)
    assert warehouse_version(out) == layout.published_version().name == summary.version  # type: ignore[union-attr]
    assert leftovers(out) == []
    if step == "publish.version":  # never published: rolled back
        assert not layout.version_dir(pending[0]).exists()
    # A new connection works from anywhere, and every view resolves.
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb; print(duckdb.connect({str(layout.warehouse)!r}, read_only=True)"
            ".sql('SELECT count(*) FROM claims_detail').fetchall()[0][0])",
        ],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(res.stdout) > 0


class _Killed(BaseException):
    pass


def test_recover_rolls_a_half_published_version_forward_or_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal on its own: publish() stopped dead at each fault point (it has no cleanup handlers, so an
    exception leaves the same files a SIGKILL does), then recover()."""
    layout = Layout.at(tmp_path / "out")
    storage.write_run_record(layout, "r", pa.table({"run_id": ["r"]}))  # the `runs` view needs one

    def stage(run_id: str, n: int) -> Path:
        d = layout.staging_dir(run_id)
        storage.write_part(d, "documents", "a", pa.table({"document_id": [f"d{i}" for i in range(n)]}))
        return d

    def n_docs() -> int:
        con = storage.connect_readonly(layout)
        try:
            return con.sql("SELECT count(*) FROM documents").fetchall()[0][0]
        finally:
            con.close()

    def publish_killed_at(point: str, run_id: str, n: int) -> None:
        def fault(step: str) -> None:
            if step == point:
                raise _Killed

        monkeypatch.setattr(storage, "fault_point", fault)
        with pytest.raises(_Killed):
            storage.publish(layout, stage(run_id, n), run_id, [])
        monkeypatch.undo()

    storage.publish(layout, stage("v1", 1), "v1", [])

    publish_killed_at("publish.version", "v2", 2)
    assert n_docs() == 1 and layout.published_version().name == "v1"  # type: ignore[union-attr]
    assert storage.recover(layout) == ["removed unpublished version v2"]
    assert not layout.version_dir("v2").exists() and n_docs() == 1

    publish_killed_at("publish.swap", "v3", 3)
    assert n_docs() == 1 and layout.published_version().name == "v3"  # type: ignore[union-attr]
    assert storage.recover(layout) == ["finished publishing v3"]
    assert n_docs() == 3
    assert not list(layout.root.glob(".pending-*")) and not list(layout.root.glob(".warehouse-*"))
    assert storage.recover(layout) == []  # idempotent


# ---------------------------------------------------------------------------------------------- two builds


def test_two_builds_at_once_one_is_refused_one_waits(tmp_path: Path) -> None:
    inp, out, marker = copy_seeds(tmp_path / "in", 3), tmp_path / "out", tmp_path / "paused"
    first = start_cli(inp, out, env=cli_env("validate", marker))
    wait_for_marker(marker, first)  # holds the lock, paused mid-build

    refused = subprocess.run(
        [sys.executable, "-m", "flows.cli", "build", "--input", str(inp), "--output", str(out), "--quiet"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert refused.returncode == 1
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("error: another build is writing to")
    assert f"pid {first.pid} since" in lines[0] and "hint:" in lines[0] and "--wait" in lines[0]

    waiter = start_cli(inp, out, "--wait", env=cli_env())
    said: list[str] = []
    waiting = threading.Event()

    def read_stderr() -> None:
        for line in waiter.stderr:  # type: ignore[union-attr]
            said.append(line)
            if line.startswith("waiting: another build is writing to"):
                waiting.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    assert waiting.wait(180), f"the --wait build never reported waiting: {said}"
    assert waiter.poll() is None

    marker.unlink()  # let the first build go on
    assert first.wait(180) == 0, first.stderr.read()  # type: ignore[union-attr]
    assert waiter.wait(180) == 0, "".join(said)
    reader.join(10)

    con = storage.connect_readonly(Layout.at(out))
    try:
        runs = con.sql("SELECT status, started_at, finished_at FROM runs ORDER BY started_at").fetchall()
        assert con.sql("SELECT count(*) FROM documents").fetchall()[0][0] == 3
    finally:
        con.close()
    assert [r[0] for r in runs] == ["success", "success"]  # the refused build never started a run
    assert runs[1][1] >= runs[0][2], "the waiting build started only after the first one finished"
    assert leftovers(out) == []


def test_refused_build_keeps_the_holders_name_in_the_lock_file(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    with storage.build_lock(layout):
        for _ in range(2):
            with pytest.raises(BuildLocked, match=f"pid {os.getpid()} since"), storage.build_lock(layout):
                pass


# ---------------------------------------------------------------------------------------------- readers

READER = textwrap.dedent(
    """
    import sys, time, os, duckdb
    warehouse, stop = sys.argv[1], sys.argv[2]
    con = duckdb.connect(warehouse, read_only=True)  # opened once, held across the whole build
    q = "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM claims), (SELECT count(*) FROM sentences)"
    first = con.sql(q).fetchall()[0]
    print("ready", *first, flush=True)
    n = 0
    deadline = time.time() + 300
    while not os.path.exists(stop) and time.time() < deadline:
        assert con.sql(q).fetchall()[0] == first
        n += 1
    last = con.sql(q).fetchall()[0]
    print("done", n, *last, flush=True)
    """
)


def test_reader_holding_the_warehouse_open_keeps_reading_across_a_build(tmp_path: Path) -> None:
    inp, out, stop = copy_seeds(tmp_path / "in", 3), tmp_path / "out", tmp_path / "stop"
    build_flow(str(inp), str(out))
    before = counts(out)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(Layout.at(out).warehouse), str(stop)],
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = reader.stdout.readline().split()  # type: ignore[union-attr]
        assert ready == ["ready", str(before["documents"]), str(before["claims"]), str(before["sentences"])]
        copy_seeds(inp, 5)
        summary = build_flow(str(inp), str(out))
        assert summary.status == "success"
    finally:
        stop.touch()
        stdout, stderr = reader.communicate(timeout=120)
    assert reader.returncode == 0, stderr
    done = stdout.split()
    assert done[0] == "done" and int(done[1]) > 0
    # The open connection still reads the version it opened, complete, after the swap.
    assert [int(x) for x in done[2:]] == [before["documents"], before["claims"], before["sentences"]]
    assert counts(out)["documents"] == 5  # a new connection sees the new version


# ---------------------------------------------------------------------------------------------- damage


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_published_part_is_detected_and_rebuilt(tmp_path: Path) -> None:
    inp, out = copy_seeds(tmp_path / "in", 4), tmp_path / "out"
    first = build_flow(str(inp), str(out), batch_docs=1)  # one part per file
    good = counts(out)
    version = Layout.at(out).published_version()
    assert version is not None
    parts = sorted(version.glob("claims/part-*.parquet"))
    batch_parts = [p for p in parts if p.name != "part-corpus.parquet"]
    assert len(batch_parts) == 4
    damaged = batch_parts[1]
    _flip_byte(damaged)
    damaged_part = damaged.name.removeprefix("part-").removesuffix(".parquet")

    summary = build_flow(str(inp), str(out))
    assert summary.status == "success" and summary.validation["success"]
    assert summary.corrupted_parts == [damaged_part]
    assert (summary.files_processed, summary.files_reused) == (1, 3)  # only the damaged part's file
    assert counts(out) == good
    assert summary.version != first.version
    rebuilt = Layout.at(out).published_version() / "claims" / damaged.name  # type: ignore[operator]
    assert storage.file_sha256(rebuilt) != storage.file_sha256(damaged)  # a fresh file, not the damaged one


def test_corrupted_corpus_part_and_manifest_are_detected(tmp_path: Path) -> None:
    inp, out = copy_seeds(tmp_path / "in", 3), tmp_path / "out"
    build_flow(str(inp), str(out))
    good = counts(out)

    # A corpus part is recomputed by every build; the damage is reported, and the new dataset is whole.
    version = Layout.at(out).published_version()
    _flip_byte(version / "topics" / "part-corpus.parquet")  # type: ignore[operator]
    summary = build_flow(str(inp), str(out))
    assert summary.status == "success"
    assert summary.corrupted_parts == ["topics/corpus"]
    assert summary.files_reused == 3 and counts(out) == good

    # An unreadable manifest: nothing is trusted, every file is processed again.
    version = Layout.at(out).published_version()
    manifest = version / "_manifest" / "files.parquet"  # type: ignore[operator]
    manifest.write_bytes(manifest.read_bytes()[:-40])  # a truncated footer: not Parquet any more
    summary = build_flow(str(inp), str(out))
    assert summary.status == "success"
    assert summary.corrupted_parts == ["_manifest/files"]
    assert (summary.files_reused, summary.files_processed) == (0, 3)
    assert counts(out) == good
