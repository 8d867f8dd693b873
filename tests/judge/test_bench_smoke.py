"""bench/bench_judge.py runs end to end on a tiny store (the figures come from the full run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.backends.openai_stub import _free_port

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_judge.py"


def test_bench_judge_tiny_run(capsys):
    spec = importlib.util.spec_from_file_location("bench_judge", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--replies", "12", "--rounds", "1", "--prefill-ms", "5", "--concurrency", "3",
                "--port", str(_free_port())])
    out = capsys.readouterr().out
    assert "round 1: direct" in out and "(12 verdicts stored)" in out
    assert "judged turns/s: app" in out and "ratio" in out
