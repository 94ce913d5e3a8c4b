"""Scheduling: the prefect.yaml deployment, the deployment `claimscope serve` registers, and (slow) a real
serve against its own local Prefect server, with overlapping runs prevented."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from flows.schedule import DEFAULT_CRON, deployment_options, parse_cron
from tests.conftest import ROOT, SEEDS


def next_runs(cron: str, timezone: str, n: int, start: datetime) -> list[datetime]:
    from prefect.server.schemas.schedules import CronSchedule

    return list(asyncio.run(CronSchedule(cron=cron, timezone=timezone).get_dates(n=n, start=start)))


def test_prefect_yaml_deployment_loads_and_its_schedule_parses():
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.flows import load_flow_from_entrypoint

    raw = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    model = PrefectYamlModel.model_validate(raw)  # Prefect's own schema for prefect.yaml
    assert len(model.deployments) == 1
    dep = model.deployments[0]

    # The entrypoint imports (no placeholder fallback) and is the build flow.
    path, _, func = dep.entrypoint.partition(":")
    assert (ROOT / path).is_file()
    flow = load_flow_from_entrypoint(f"{ROOT / path}:{func}", use_placeholder_flow=False)
    assert flow.name == "claimscope-build"
    # Its parameters are ones the flow takes, and they bind.
    inspect.signature(flow.fn).bind(**dep.parameters)
    assert dep.parameters["wait_for_lock"] is True

    # The schedule is a valid cron for Prefect, and means daily at 06:00 UTC.
    (sched,) = raw["deployments"][0]["schedules"]
    parse_cron(sched["cron"], sched["timezone"])
    start = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    runs = next_runs(sched["cron"], sched["timezone"], 3, start)
    assert [r.isoformat() for r in runs] == [
        (start + timedelta(days=d, hours=-1)).isoformat() for d in (1, 2, 3)
    ]

    # Overlapping runs: one at a time, a run due during another is cancelled.
    limit = dep.concurrency_limit
    assert limit.limit == 1 and limit.collision_strategy == "CANCEL_NEW"


def test_serve_registers_a_scheduled_deployment_with_one_run_at_a_time(tmp_path, monkeypatch):
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy
    from prefect.flows import load_flow_from_entrypoint

    from flows.build import build_flow

    monkeypatch.chdir(tmp_path)  # relative folders are resolved now: runs start in other processes
    dep = build_flow.to_deployment(
        **deployment_options(
            "input", "out", cron="*/15 8-18 * * 1-5", timezone="Europe/Paris", name="office-hours"
        )
    )
    assert dep.name == "office-hours"
    assert dep.parameters == {
        "input_dir": str(tmp_path / "input"),
        "output_dir": str(tmp_path / "out"),
        "wait_for_lock": True,
    }
    (schedule,) = dep.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("*/15 8-18 * * 1-5", "Europe/Paris")
    assert dep.concurrency_limit == 1
    assert dep.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
    # A module entrypoint: loads from any working directory.
    assert dep.entrypoint == "flows.build.build_flow"
    assert load_flow_from_entrypoint(dep.entrypoint, use_placeholder_flow=False) is build_flow
    # The default is daily.
    day = next_runs(DEFAULT_CRON, "UTC", 2, datetime(2026, 3, 1, tzinfo=UTC))
    assert day[1] - day[0] == timedelta(days=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "61 * * * *"], "Invalid cron string"),
        (["--cron", "every day"], "Invalid cron string"),
        (["--timezone", "Mars/Olympus"], "Invalid timezone"),
        (["--input", "/nonexistent/articles"], "does not exist"),
    ],
)
def test_serve_refuses_bad_options_before_starting_anything(args, message):
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 1
    assert message in result.output


# ---------------------------------------------------------------------------------------------- real serve


def _api(url: str, path: str, body: dict) -> list[dict]:
    req = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def _running(url: str) -> int:
    """Flow runs the server has in flight (pending or running)."""
    body = {"flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}}, "limit": 50}
    return len(_api(url, "/flow_runs/filter", body))


def _records(layout) -> list[tuple]:
    if not any(layout.runs.glob("*.parquet")):
        return []
    con = duckdb.connect()
    try:
        return con.execute(
            f"SELECT status, started_at, finished_at FROM read_parquet('{layout.runs}/*.parquet') ORDER BY started_at"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_serve_builds_on_schedule_and_never_overlaps(tmp_path):
    """`claimscope serve` starts its own server, runs on the cron, and runs one build at a time.

    The test holds the output folder's build lock, so the first (run-now) build blocks on it; meanwhile the
    minute's scheduled run falls due and must not start. Then the lock is released and builds complete.
    """
    from flows import storage
    from flows.storage import Layout

    out = tmp_path / "data"
    layout = Layout.at(out)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    held, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with storage.build_lock(layout):
            held.set()
            release.wait(300)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    held.wait(10)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "claimscope"),
            "serve",
            "--input",
            str(SEEDS),
            "--output",
            str(out),
            "--cron",
            "* * * * *",
            "--run-now",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 240
        url = None
        while url is None:
            assert proc.poll() is None, "serve exited: " + "".join(lines)
            assert time.monotonic() < deadline, "serve did not start: " + "".join(lines)
            m = re.search(r"Prefect API: (http://127\.0\.0\.1:\d+/api)", "".join(lines))
            url = m.group(1) if m else None
            time.sleep(0.5)

        # Wait for a scheduled run to fall due while the first build waits for the lock.
        max_running = 0
        while True:
            runs = _api(url, "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_ASC", "limit": 10})
            running = _running(url)
            max_running = max(max_running, running)
            now = datetime.now(UTC)
            overdue = [
                r
                for r in runs[1:]
                if datetime.fromisoformat(r["expected_start_time"]) < now - timedelta(seconds=15)
            ]
            if running and overdue:
                break
            assert time.monotonic() < deadline, (
                f"no overlap situation arose: {[r['state_type'] for r in runs]}"
            )
            time.sleep(2)
        time.sleep(5)
        assert _running(url) == 1  # the due run did not start beside the blocked one
        release.set()

        # The blocked build completes; the others run after it, one at a time.
        while len(records := _records(layout)) < 2 or sum(r[0] == "success" for r in records) < 2:
            max_running = max(max_running, _running(url))
            assert proc.poll() is None, "serve exited: " + "".join(lines)
            assert time.monotonic() < deadline + 120, f"builds did not finish: {records}"
            time.sleep(2)
        assert max_running == 1
        assert {status for status, _, _ in records} <= {"success", "running"}  # a third may just have started
        for (_, _, end), (_, start, _) in itertools.pairwise(records):
            assert end <= start, "two builds overlapped"
        assert (out / "dashboard" / "index.html").is_file()
    finally:
        release.set()
        holder.join()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # SIGTERM stops serve and the server it started.
    assert proc.returncode == 0, "".join(lines)
    if url:
        with pytest.raises(OSError):
            urllib.request.urlopen(url + "/health", timeout=5)
