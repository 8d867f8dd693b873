"""The CLI edge: every verb refuses bad input with one plain `error:` line on stderr and
ERROR_EXIT_CODE (converted in one place), never a traceback; typer's own usage errors stay 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ift_chat.cli import ERROR_EXIT_CODE, app

BAD_INPUT = [
    (["raters", "add", "ann", "--password", "short"], "password"),
    (["raters", "hash", "--password", "short"], "password"),
    (["tasks", "list"], "admin"),
    (["checks", "run"], "exactly one of --conversation"),
    (["checks", "explain", "--instruction", "x", "--reply", "y", "--history", "missing.json"],
     "could not read the history file"),
    (["evalset", "import"], "give a FILE to import or --builtin NAME"),
    (["judge", "run", "ghost"], "exactly one of --task-set"),
    (["export", "nonsense", "--out", "o"], "unknown export format"),
    (["leaderboard", "--out", "lb", "--both-bad", "maybe"], "both"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a[:2]) for a, _ in BAD_INPUT])
def test_bad_input_exits_with_the_one_error_code(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*args, "--home", str(tmp_path / "home")]
                                if args[:2] not in (["raters", "hash"], ["checks", "explain"]) else args)
    assert result.exit_code == ERROR_EXIT_CODE == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    last = result.stderr.strip().splitlines()[-1]  # (a progress bar may have drawn above it)
    assert last.startswith("error: ") and message in last, result.stderr


def test_usage_errors_stay_typer_s_own_code():
    result = CliRunner().invoke(app, ["raters", "add", "--no-such-option"])
    assert result.exit_code == 2


def test_python_m_ift_chat_uses_the_same_code(tmp_path):
    """The entry `make` and people run: the same line and code through ``main()``."""
    done = subprocess.run([sys.executable, "-m", "ift_chat", "checks", "run", "--home", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == ERROR_EXIT_CODE, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: give exactly one of --conversation ID, --eval-set NAME, --all"]
