import os
import shutil
import tempfile
from pathlib import Path

# Tests never touch the project's .prefect/ or data/: Prefect state and results go to a temp dir.
_PREFECT_HOME = tempfile.mkdtemp(prefix="claimscope-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API (own SQLite DB) for every flow test in the session."""
    from prefect.testing.utilities import prefect_test_harness

    from flows.settings import disable_flow_heartbeat

    disable_flow_heartbeat()
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def seeds_copy(tmp_path):
    dst = tmp_path / "input"
    shutil.copytree(SEEDS, dst)
    return dst


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)
