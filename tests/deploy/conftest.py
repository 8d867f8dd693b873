"""``python -m ift_chat serve --workers 2`` behind nginx, on a stub OpenAI server (bench/rate_stub.py:
the workers are processes of their own, so the model must be a server too)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.ui.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("secret-ckpt-alpha", "secret-ckpt-beta")


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def workers_app(tmp_path):
    """(nginx url, data dir, supervisor process) of 2 workers; stopped afterwards."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    stub_port, port = free_port(), free_port()
    stub_log, log = tmp_path / "stub.log", tmp_path / "supervisor.log"
    with stub_log.open("w") as sink:
        stub = subprocess.Popen([sys.executable, str(ROOT / "bench" / "rate_stub.py"), "--port", str(stub_port),
                                 "--rate", "200", "--prefill-ms", "5"], stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)
    checkpoints, home = tmp_path / "checkpoints", tmp_path / "home"
    checkpoints.mkdir()
    (checkpoints / "registry.toml").write_text("".join(
        f'[checkpoints.{m}]\nurl = "http://127.0.0.1:{stub_port}/v1"\nmodel = "{m}"\n\n' for m in MODELS))
    with log.open("w") as sink:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "ift_chat", "serve", "--workers", "2", "--port", str(port), "--home", str(home),
             "--checkpoints", str(checkpoints), "--no-demo"], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{stub_port}/health", stub, stub_log, 30)
        _wait(f"http://127.0.0.1:{port}/config", supervisor, log, 300)
        yield f"http://127.0.0.1:{port}", home, supervisor
    finally:
        _stop(supervisor)
        _stop(stub)
