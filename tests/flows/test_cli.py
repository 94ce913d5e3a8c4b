"""The CLI's surface: every command documents itself, and errors are one line with a hint."""

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from flows.cli import app

COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_the_documented_commands_exist():
    assert {"build", "validate", "query", "eval", "dashboard", "export", "status", "serve"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "--help" in result.output
    doc = get_command(app).commands[command].help  # type: ignore[attr-defined]
    assert doc and doc.split()[0] in result.output


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["build", "--input", "/no/such/folder"], "does not exist or is not a folder", "--input"),
        (["query", "--output", "/no/such/out", "SELECT 1"], "no published dataset", "claimscope build"),
        (["export", "--output", "/no/such/out", "--to", "file:///tmp/x"], "no published dataset", "build"),
        (["dashboard", "--output", "/no/such/out"], "no published dataset", "build"),
    ],
)
def test_errors_are_one_line_with_a_hint(args, message, hint):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "(hint: " in lines[0] and hint in lines[0].split("(hint: ", 1)[1]


def test_a_duckdb_memory_limit_duckdb_cannot_take_stops_the_build_before_any_work(monkeypatch, tmp_path):
    from tests.conftest import ROOT

    monkeypatch.setenv("CLAIMSCOPE_DUCKDB_MEMORY_LIMIT", "lots")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "--input", str(ROOT / "seeds"), "--output", str(out)])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert "CLAIMSCOPE_DUCKDB_MEMORY_LIMIT='lots'" in lines[0] and "(hint: " in lines[0]
    assert not (out / "versions").exists()
