"""`claimscope status` for cron and monitoring: exit 0 fresh and ok, 1 stale or last run failed, 2 no dataset.
Also the BI-tool path: a second process reads the warehouse read-only, view by view, while a build runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from flows import build as build_mod
from flows import storage
from flows.build import BuildSummary, build_flow
from flows.runs import record_run
from flows.storage import Layout
from tests.conftest import SEEDS
from transforms.errors import InputDirError, ValidationFailed

pytestmark = pytest.mark.usefixtures("prefect_harness")
CLAIMSCOPE = str(Path(sys.executable).parent / "claimscope")


@pytest.fixture(scope="module")
def built(tmp_path_factory, prefect_harness) -> tuple[Path, BuildSummary]:
    out = tmp_path_factory.mktemp("status") / "data"
    return out, build_flow(str(SEEDS), str(out))


@pytest.fixture
def own_copy(built, tmp_path) -> Path:
    """A copy of the built output that a test may add runs to (the `current` link is relative)."""
    out = tmp_path / "data"
    shutil.copytree(built[0], out, symlinks=True)
    return out


def status(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process, as cron or a monitoring probe would run it."""
    return subprocess.run(
        [CLAIMSCOPE, "status", "--output", str(out), *args], capture_output=True, text=True, timeout=60
    )


def test_fresh_dataset_after_a_successful_run_exits_0(built):
    out, summary = built
    r = status(out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"last run:   {summary.run_id} success" in r.stdout
    assert f"version {summary.version}" in r.stdout
    n_suites = len(list((Path(__file__).resolve().parents[2] / "expectations").glob("*.json")))
    assert re.search(rf"^validation: passed \({n_suites} suites, \d+ expectations\)$", r.stdout, re.M)
    assert re.search(
        r"^age: +\d+ min \(published \d{4}-\d\d-\d\d [\d:]+ UTC; stale after 26 h\)$", r.stdout, re.M
    )
    assert "state:      OK" in r.stdout


def test_stale_dataset_exits_1(built):
    out, _ = built
    r = status(out, "--max-age-hours", "0")
    assert r.returncode == 1
    assert "stale: published" in r.stdout and "state:      ALERT" in r.stdout
    # The same dataset is fresh under a generous limit: the age decides, not the data.
    assert status(out, "--max-age-hours", "1000").returncode == 0


def test_no_dataset_exits_2(tmp_path):
    r = status(tmp_path / "never-built")
    assert r.returncode == 2 and "no published dataset" in r.stdout
    (tmp_path / "empty").mkdir()
    assert status(tmp_path / "empty").returncode == 2


def test_json_output_for_monitoring(built):
    out, summary = built
    r = status(out, "--json")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 0 and doc["state"] == "OK" and doc["problems"] == []
    assert doc["last_run"]["run_id"] == summary.run_id and doc["last_run"]["validation_success"] is True
    assert 0 <= doc["age_hours"] < 1


def test_failed_last_run_exits_1(own_copy, tmp_path):
    with pytest.raises(InputDirError):
        build_flow(str(tmp_path / "missing-input"), str(own_copy))
    r = status(own_copy)
    assert r.returncode == 1
    assert "failed, finished" in r.stdout and "InputDirError" in r.stdout
    assert "problem:    last run failed" in r.stdout
    # The published dataset is still the earlier, validated one.
    assert "published:  validated by run" in r.stdout and "passed" in r.stdout


def test_killed_build_is_reported_as_interrupted_but_a_running_one_is_not(own_copy):
    layout = Layout.at(own_copy)
    summary = BuildSummary("29990101T000000Z-abcdef", "running", str(SEEDS), str(layout.root), None)
    # A build in progress holds the lock and has written its "running" record: not a failure.
    with storage.build_lock(layout):
        record_run(layout, summary, datetime.now(UTC), None, None)
        r = status(own_copy)
        assert r.returncode == 0, r.stdout
        assert "running:    29990101T000000Z-abcdef since" in r.stdout
    # The same record with nobody holding the lock: that build was killed.
    r = status(own_copy)
    assert r.returncode == 1
    assert (
        "29990101T000000Z-abcdef interrupted" in r.stdout and "problem:    last run interrupted" in r.stdout
    )


@pytest.mark.slow
def test_validation_failure_is_an_alert_until_a_good_build(own_copy, monkeypatch):
    real = build_mod.process_inputs

    def corrupting(*args, **kwargs):  # offsets that no longer slice the claim text
        result = real(*args, **kwargs)
        claims = result.tables["claims"]
        ends = pa.compute.add(claims["char_end"], 7)
        result.tables["claims"] = claims.set_column(
            claims.schema.get_field_index("char_end"), "char_end", ends
        )
        return result

    monkeypatch.setattr(build_mod, "process_inputs", corrupting)
    with pytest.raises(ValidationFailed):
        build_flow(str(SEEDS), str(own_copy), full=True)
    r = status(own_copy)
    assert r.returncode == 1
    assert (
        "validation_failed" in r.stdout
        and "validation: FAILED (" in r.stdout
        and "claims: expect_" in r.stdout
    )
    doc = json.loads(status(own_copy, "--json").stdout)
    assert doc["last_run"]["suite_failures"]["claims"] > 0
    assert doc["last_run"]["suite_failures"]["documents"] == 0
    # A successful build afterwards clears the alert.
    monkeypatch.undo()
    build_flow(str(SEEDS), str(own_copy))
    assert status(own_copy).returncode == 0


# ---------------------------------------------------------------------------------------------- BI tools


def warehouse_views(out: Path) -> list[str]:
    import duckdb

    con = duckdb.connect(str(Layout.at(out).warehouse), read_only=True)
    try:
        return sorted(
            v for (v,) in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        )
    finally:
        con.close()


def test_readme_names_every_view_for_bi_tools(built):
    out, _ = built
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Connecting BI tools", 1)[1].split("\n## ", 1)[0]
    views = warehouse_views(out)
    assert {"claims", "contradictions", "article_scorecards", "runs"} <= set(views)
    missing = [v for v in views if f"| `{v}` |" not in section]
    assert not missing, f"README, Connecting BI tools, does not list: {missing}"


@pytest.mark.slow
def test_bi_reader_and_status_work_while_a_build_runs(own_copy, tmp_path):
    """A second process, like a BI tool, opens the warehouse read-only and queries every view while a build
    publishes a new version; `status` keeps answering too."""
    stop = tmp_path / "stop"
    views = warehouse_views(own_copy)
    reader = textwrap.dedent(
        f"""
        import duckdb, os, time
        rounds = 0
        deadline = time.time() + 180
        while not os.path.exists({str(stop)!r}) and time.time() < deadline:
            con = duckdb.connect({str(own_copy / "warehouse.duckdb")!r}, read_only=True)
            for view in {views!r}:
                con.sql(f"SELECT count(*) FROM {{view}}").fetchall()
            assert con.sql("SELECT count(*) FROM claims").fetchall()[0][0] > 0
            con.close()
            rounds += 1
        print(rounds)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", reader], cwd="/", stdout=subprocess.PIPE, text=True)
    probes: list[subprocess.CompletedProcess[str]] = []
    building = threading.Event()

    def probe() -> None:  # a monitoring probe polling status during the build
        while not building.is_set():
            time.sleep(0.05)
        while building.is_set():
            probes.append(status(own_copy))

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        building.set()
        summary = build_flow(str(SEEDS), str(own_copy), full=True)
    finally:
        building.clear()
        prober.join()
        stop.touch()
        stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, "the reader failed while the build was running"
    assert int(stdout.strip()) > 0
    assert probes and all(p.returncode == 0 for p in probes), [p.stdout for p in probes if p.returncode]
    assert any(f"running:    {summary.run_id}" in p.stdout for p in probes)  # it saw the build in progress
    after = status(own_copy)
    assert after.returncode == 0 and f"last run:   {summary.run_id} success" in after.stdout
