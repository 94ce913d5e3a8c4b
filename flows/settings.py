"""Runtime configuration that must be in place before Prefect or Great Expectations is imported.

Everything runs locally: Prefect in its ephemeral mode (a temporary API server on loopback, state in
PREFECT_HOME inside the project), with telemetry and analytics off; Great Expectations with analytics off.
Values already set in the environment win, so a user can point at a real Prefect server with PREFECT_API_URL.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

_DEFAULTS = {
    "PREFECT_HOME": str(PROJECT_ROOT / ".prefect"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    # These two services write to SQLite on every event and stall short runs for seconds.
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_UI_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    # Dask's scheduler and nannies log every start and stop at INFO (~30 lines per --workers build).
    "DASK_LOGGING__DISTRIBUTED": "warning",
    "DO_NOT_TRACK": "1",
}


def configure_runtime() -> None:
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    # GX logs every temporary Data Docs directory at INFO; our own summary says where the docs are.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def disable_flow_heartbeat() -> None:
    """A sync flow otherwise waits ~1 s on its heartbeat thread at exit; None can only be set in code."""
    import prefect.settings as ps

    ctx = ps.temporary_settings(updates={ps.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
    ctx.__enter__()  # process-wide for the CLI's lifetime
