"""The set-up promise: at run time nothing touches the network (Prefect ephemeral, telemetry and GX analytics off)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_a_build_connects_to_loopback_only(tmp_path):
    log = tmp_path / "connect.log"
    cli = Path(sys.executable).with_name("claimscope")
    res = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=connect",
            "-o",
            str(log),
            str(cli),
            "build",
            "-q",
            "-i",
            str(ROOT / "seeds"),
            "-o",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    trace = log.read_text()
    inet = re.findall(r'inet_addr\("([^"]+)"\)', trace) + re.findall(r'inet_pton\(AF_INET6, "([^"]+)"', trace)
    assert inet, "the build should talk to its own temporary Prefect server on loopback"
    assert set(inet) <= {"127.0.0.1", "::1"}, sorted(set(inet))
