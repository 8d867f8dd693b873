"""Every bench script starts and explains itself (`--help`): a bench that no longer imports
is found here, not the day someone needs its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Scripts with a command line (arena_client.py is a module the arena bench imports).
SCRIPTS = sorted(p for p in (ROOT / "bench").glob("*.py") if "__main__" in p.read_text())


def test_every_bench_script_is_covered():
    assert len(SCRIPTS) >= 10 and all(p.name != "arena_client.py" for p in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_help(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout.lower() and "--" in done.stdout
