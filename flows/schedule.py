"""Scheduled builds (`claimscope serve`) and the freshness check for monitoring (`claimscope status`).

serve: Prefect only creates scheduled runs when an API server runs its scheduler service, and the temporary
server that `claimscope build` starts never does. So, unless PREFECT_API_URL already points at a server (your
own or Prefect Cloud), `serve` starts a local Prefect server itself: loopback only, SQLite under PREFECT_HOME,
analytics off, stopped with `serve`. It then serves the build flow on a cron schedule with `flow.serve`.

Overlapping runs are prevented three ways: the runner executes one run at a time (`limit=1`); the deployment
has a concurrency limit of 1 that cancels a run falling due while the previous one still runs (CANCEL_NEW);
and the build lock serialises scheduled runs with manual `claimscope build`s into the same folder (a scheduled
run waits for it: `wait_for_lock=True`).

status: reads the run records (`<output>/runs/*.parquet`, what the `runs` view shows) and the published
version; it never imports Prefect, so it is fast enough for cron and monitoring probes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows.storage import Layout

DEFAULT_CRON = "0 6 * * *"  # daily, 06:00
DEFAULT_TIMEZONE = "UTC"
DEPLOYMENT_NAME = "scheduled-build"
DEFAULT_MAX_AGE_HOURS = 26.0  # a daily schedule plus slack for a slow build


# ---------------------------------------------------------------------------------------------- serve


def parse_cron(cron: str, timezone: str = DEFAULT_TIMEZONE):
    """Prefect's own cron schedule (raises ValueError on a bad cron string or time zone)."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        return CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        raise ValueError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None


def deployment_options(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    name: str = DEPLOYMENT_NAME,
) -> dict[str, Any]:
    """Keyword arguments shared by `build_flow.to_deployment` and `build_flow.serve`."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    parse_cron(cron, timezone)
    return {
        "name": name,
        "schedule": Cron(cron, timezone=timezone),
        # Absolute paths: the runner starts each flow run in a new process, maybe in another directory.
        "parameters": {
            "input_dir": str(Path(input_dir).expanduser().resolve()),
            "output_dir": str(Path(output_dir).expanduser().resolve()),
            "wait_for_lock": True,
        },
        "concurrency_limit": ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        "description": "claimscope build on a schedule (claimscope serve)",
        "tags": ["claimscope"],
        # The installed package is importable from anywhere; a file path would depend on the working directory.
        "entrypoint_type": EntrypointType.MODULE_PATH,
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if `serve` dies, even by SIGKILL, so no orphan keeps the port."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass(frozen=True)
class LocalServer:
    url: str
    pid: int


@contextlib.contextmanager
def local_prefect_server(port: int = 0, *, ui: bool = False, timeout: float = 180.0) -> Iterator[LocalServer]:
    """A Prefect server on 127.0.0.1 for the lifetime of the block."""
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect")
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/api"
    on = "true" if ui else "false"
    env = {
        **os.environ,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        # Its own database: a `claimscope build` at the same time uses PREFECT_HOME/prefect.db.
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'serve.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "true",
        "PREFECT_SERVER_UI_ENABLED": on,
        "PREFECT_UI_ENABLED": on,
        # With the UI on, record task runs and events so it has something to show.
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": on,
        "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": on,
    }
    env.pop("PREFECT_API_URL", None)
    log_path = home / "serve-server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url):
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace").splitlines()[-5:]
                raise RuntimeError(f"the Prefect server exited ({proc.returncode}): " + " | ".join(tail))
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Prefect server did not answer on {url} within {timeout:.0f} s (log: {log_path})"
                )
            time.sleep(0.5)
        yield LocalServer(url, proc.pid)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    name: str = DEPLOYMENT_NAME,
    run_now: bool = False,
    port: int = 0,
    ui: bool = False,
    say=print,
) -> None:
    """Serve the build on a schedule until interrupted (Ctrl-C or SIGTERM)."""
    options = deployment_options(input_dir, output_dir, cron=cron, timezone=timezone, name=name)
    if os.environ.get("PREFECT_API_URL"):
        say(f"using the Prefect API at {os.environ['PREFECT_API_URL']}")
        try:
            _serve(options, run_now, say)
        finally:
            _stop_flow_runs(say)
        return
    say("starting a local Prefect server (loopback only) ...")
    with local_prefect_server(port, ui=ui) as server:
        say(f"Prefect API: {server.url}" + (f"  UI: {server.url.removesuffix('/api')}" if ui else ""))
        os.environ["PREFECT_API_URL"] = server.url  # flow runs are child processes: they read it from here
        try:
            _serve(options, run_now, say)
        finally:
            _stop_flow_runs(say)  # before the server goes: a run cannot report without it


def _stop_flow_runs(say, timeout: float = 30.0) -> None:
    """Interrupt builds still running when serve stops: Prefect's runner leaves its flow-run processes
    (multiprocessing children of this process) running, and exiting would wait for them. The build lock dies
    with them, the run is recorded as failed, and the next build cleans up its staging folder."""
    import multiprocessing

    runs = multiprocessing.active_children()
    if not runs:
        return
    say(f"interrupting {len(runs)} build(s) in progress")
    for p in runs:
        p.terminate()
    deadline = time.monotonic() + timeout
    for p in runs:
        p.join(max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(10)


def _serve(options: dict[str, Any], run_now: bool, say) -> None:
    import warnings

    import prefect.settings as ps

    from flows.build import build_flow

    # Prefect's SIGTERM handler calls the async stop() without awaiting it; shutdown still works (SystemExit).
    warnings.filterwarnings("ignore", message="coroutine 'Runner.astop' was never awaited")

    # On SIGTERM Prefect's runner stops and raises SystemExit, which unwinds through local_prefect_server.
    with ps.temporary_settings(updates={ps.PREFECT_API_URL: os.environ["PREFECT_API_URL"]}):
        if run_now:
            from prefect.deployments import run_deployment

            deployment_id = build_flow.to_deployment(**options).apply()
            run_deployment(deployment_id, timeout=0)  # scheduled now; the runner below picks it up
        say(
            f"serving {options['name']!r}: {options['schedule'].cron} ({options['schedule'].timezone}); "
            f"{options['parameters']['input_dir']} -> {options['parameters']['output_dir']}"
        )
        opts = dict(options)
        opts["global_limit"] = opts.pop("concurrency_limit")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how you stop it
            build_flow.serve(**opts, limit=1, pause_on_shutdown=True, print_starting_message=False)
    say("stopped")


# ---------------------------------------------------------------------------------------------- status


@dataclass
class Freshness:
    output: str
    max_age_hours: float
    published: bool = False
    version: str | None = None
    published_at: datetime | None = None
    age_hours: float | None = None
    last_run: dict[str, Any] | None = None  # the latest finished run
    in_progress: dict[str, Any] | None = None  # a build holding the lock right now
    published_validation: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 fresh and the last run succeeded; 1 stale or the last run failed; 2 no published dataset."""
        if not self.published:
            return 2
        return 1 if self.problems else 0

    @property
    def state(self) -> str:
        return {0: "OK", 1: "ALERT", 2: "NO DATASET"}[self.exit_code]

    def as_json(self) -> str:
        d = asdict(self)
        d["exit_code"], d["state"] = self.exit_code, self.state
        return json.dumps(d, default=str, indent=2)

    def lines(self) -> list[str]:
        out = [f"dataset:    {self.output}" + (f" (version {self.version})" if self.version else "")]
        if self.published and self.age_hours is not None:
            out.append(
                f"age:        {_hours(self.age_hours)} (published {_ts(self.published_at)}; "
                f"stale after {self.max_age_hours:g} h)"
            )
        elif not self.published:
            out.append("age:        no published dataset")
        r = self.last_run
        if r:
            line = f"last run:   {r['run_id']} {r['status']}, finished {_ts(r['finished_at'])}"
            if r.get("error"):
                line += f": {r['error']}"
            out.append(line)
            out.append(f"validation: {_validation(r)}")
        else:
            out.append("last run:   none recorded")
        if self.published_validation and (not r or r.get("version_id") != self.version):
            out.append(f"published:  {self.published_validation}")
        if self.in_progress:
            out.append(
                f"running:    {self.in_progress['run_id']} since {_ts(self.in_progress['started_at'])}"
            )
        out += [f"problem:    {p}" for p in self.problems]
        out.append(f"state:      {self.state}")
        return out


def _ts(t: datetime | None) -> str:
    return "?" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _hours(h: float) -> str:
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"


def _validation(r: dict[str, Any]) -> str:
    if r.get("validation_success") is None:
        return "not run"
    if r["validation_success"] and r.get("unchanged_since"):
        text = f"passed (dataset unchanged since version {r['unchanged_since']}, validated then)"
    elif r["validation_success"]:
        text = f"passed ({r['suites_run']} suites, {r['expectations_evaluated']} expectations)"
    else:
        failed = r.get("failed_expectations") or []
        text = f"FAILED ({r['expectations_failed']} expectations failed: " + "; ".join(failed[:3])
        text += " ...)" if len(failed) > 3 else ")"
    if r.get("accuracy_passed") is False:
        text += "; extractor accuracy below threshold"
    return text


def _lock_holder(layout: Layout) -> int | None:
    """The pid of a live process holding the build lock, read from the lock file without taking the lock
    (taking it, even briefly, could make a build starting at that instant refuse to run)."""
    try:
        text = layout.lock_file.read_text(errors="replace")
    except OSError:
        return None
    parts = text.split()
    if len(parts) < 2 or parts[0] != "pid" or not parts[1].isdigit():
        return None
    pid = int(parts[1])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return pid


def _run_records(layout: Layout) -> list[dict[str, Any]]:
    import duckdb

    if not any(layout.runs.glob("*.parquet")):
        return []
    con = duckdb.connect()
    try:
        glob = str(layout.runs / "*.parquet").replace("'", "''")
        cur = con.execute(
            f"SELECT * FROM read_parquet('{glob}', union_by_name = true) ORDER BY started_at DESC"
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def freshness(
    output_dir: str | os.PathLike[str],
    max_age_hours: float = DEFAULT_MAX_AGE_HOURS,
    now: datetime | None = None,
) -> Freshness:
    layout = Layout.at(output_dir)
    now = now or datetime.now(UTC)
    f = Freshness(str(layout.root), max_age_hours)
    version = layout.published_version()
    f.published = version is not None and layout.warehouse.exists()
    runs = _run_records(layout)
    building = _lock_holder(layout) is not None
    finished = []
    for r in runs:
        if r["status"] == "running":
            if building and f.in_progress is None:
                f.in_progress = r  # the newest running record belongs to the build holding the lock
                continue
            # A "running" record with no build holding the lock: that build was killed.
            r = {
                **r,
                "status": "interrupted",
                "error": r.get("error") or "the build stopped before recording an outcome",
            }
        finished.append(r)
    f.last_run = finished[0] if finished else None
    if f.published:
        f.version = version.name  # type: ignore[union-attr]
        pub = next((r for r in runs if r.get("version_id") == f.version and r["status"] == "success"), None)
        if pub is not None:
            f.published_at = pub["finished_at"]
            f.published_validation = f"validated by run {pub['run_id']}: {_validation(pub)}"
        else:  # run records lost: the warehouse file is replaced at publication
            f.published_at = datetime.fromtimestamp(layout.warehouse.stat().st_mtime, UTC)
        f.age_hours = max(0.0, (now - f.published_at).total_seconds() / 3600)
        if f.age_hours > max_age_hours:
            f.problems.append(f"stale: published {_hours(f.age_hours)} ago (limit {max_age_hours:g} h)")
    if f.last_run is None:
        f.problems.append("no finished run recorded")
    elif f.last_run["status"] != "success":
        f.problems.append(f"last run {f.last_run['status']}")
    return f
