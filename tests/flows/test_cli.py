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
