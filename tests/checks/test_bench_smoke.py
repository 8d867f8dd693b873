"""bench/bench_checks.py runs end to end on a tiny store (the figures come from the full run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_checks.py"


def test_bench_checks_tiny_run(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location("bench_checks", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--replies", "300", "--live", "20", "--keep", str(tmp_path / "data")])
    out = capsys.readouterr().out
    assert "stored 300 replies" in out
    assert "replies per CPU-second" in out and "inside record_for_response" in out
    assert "second run (idempotent): " in out
    assert (tmp_path / "data" / "ift_chat.db").exists()
