"""``serve --workers N``: one supervisor, model servers once, N UI workers on one SQLite file,
nginx in front with sticky sessions (see deploy/README.md).

The supervisor (this process) does what must happen once: marks replies interrupted by the last
shutdown, creates the demo checkpoints, imports the users file, and starts the vLLM servers of the
checkpoints that run on vLLM. Each worker is ``python -m ift_chat serve --worker`` on a loopback
port: the same data dir (SQLite in WAL mode; every write waits at most ``db_busy_timeout_s`` for
another worker's lock, then fails with a clear error and nothing half-written), its checkpoints
from a generated registry in which the vLLM servers are ``url =`` entries. A worker that dies is
started again (its browser sessions start afresh; their conversations stay in the DB).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..config import Config
from . import nginx

log = logging.getLogger(__name__)
RESTART_LIMIT = 5  # restarts per worker before the supervisor gives up on it


@dataclass(frozen=True)
class WorkerPlan:
    config: Config  # the supervisor's; each worker gets its own port and checkpoints dir
    workers: int
    sticky: str = "cookie"

    def validate(self) -> None:
        if not 1 <= self.workers <= 64:
            raise ValueError("--workers must be between 1 and 64")
        if self.sticky not in nginx.STICKY:
            raise ValueError(f"--sticky must be one of {nginx.STICKY}")

    @property
    def run_dir(self) -> Path:
        return self.config.home / "workers"


def prepare_once(config: Config):
    """What one process does before any worker starts; returns (checkpoints dir, vLLM supervisor)."""
    from ..app_factory import _auth
    from ..backends.factory import choose_backend, find_checkpoints, gpu_present, install_demo_eval_set
    from ..backends.vllm_plan import plan_servers
    from ..backends.vllm_supervisor import VllmSupervisor
    from ..store import Store

    store = Store(config)
    try:
        interrupted = store.conversations.fail_pending()
        if interrupted:
            log.warning("%d replies were interrupted by the last shutdown; marked as errors", interrupted)
        specs, demo = find_checkpoints(config)
        if demo:
            install_demo_eval_set(store)
        if config.auth_file is not None:
            _auth(config, store)
    finally:
        store.close()
    source = config.demo_dir if demo else config.checkpoints_dir
    gpu = gpu_present()
    on_vllm = [s for s in specs if s.ok and choose_backend(s, config, gpu) == "vllm"]
    plans, problems = plan_servers(on_vllm, config, gpu)
    for name, why in problems.items():
        log.warning("checkpoint %s: %s", name, why)
    if not plans:
        return source, None
    supervisor = VllmSupervisor(plans, config.servers_dir, probe_s=config.health_probe_s).start()
    return worker_registry(source, plans, config.home / "workers" / "checkpoints"), supervisor


def worker_registry(source: Path, plans, out: Path) -> Path:
    """A checkpoints dir for the workers: the source's registry with each vLLM-served model as a
    ``url =`` entry (the server runs once, here) and the other checkpoints as they were."""
    import tomllib

    out.mkdir(parents=True, exist_ok=True)
    registry = source / "registry.toml"
    entries = tomllib.loads(registry.read_text()).get("checkpoints", {}) if registry.exists() else {}
    served = {model: plan for plan in plans for model in plan.models}
    tables = {name: {"url": plan.base_url, "model": name,
                     **{k: v for k, v in entries.get(name, {}).items() if k == "display_name"}}
              for name, plan in served.items()}
    tables.update({name: entry for name, entry in entries.items() if name not in served})
    for child in source.iterdir():  # checkpoint dirs not on vLLM load in each worker (transformers)
        if child.is_dir() and child.name not in served and not (out / child.name).exists():
            (out / child.name).symlink_to(child.absolute(), target_is_directory=True)
    # JSON strings, numbers, booleans and arrays are valid TOML values
    (out / "registry.toml").write_text("\n".join(
        f"[checkpoints.{json.dumps(name)}]\n" + "".join(f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in entry.items())
        for name, entry in tables.items()))
    return out


def worker_command(config: Config, port: int, checkpoints: Path) -> list[str]:
    limits = config.limits
    return [sys.executable, "-m", "ift_chat", "serve", "--worker", "--no-demo", "--host", "127.0.0.1",
            "--port", str(port), "--home", str(config.home.absolute()), "--checkpoints", str(checkpoints.absolute()),
            "--backend", config.backend, "--timeout", str(config.request_timeout_s),
            "--max-upload-mb", str(limits.max_upload_bytes / 1024 / 1024),
            "--max-sessions", str(config.max_sessions), "--max-reply-chars", str(limits.max_reply_chars),
            "--max-turn-seconds", str(limits.max_turn_seconds), "--probe-interval", str(config.health_probe_s),
            "--gradio-monitoring-every", str(config.gradio_monitoring_every), "--live-replies", config.live_replies,
            *(["--auth-file", str(config.auth_file.absolute())] if config.auth_file else [])]


class Supervisor:
    """The worker and nginx children: start, restart a dead worker, stop on SIGINT/SIGTERM."""

    def __init__(self, plan: WorkerPlan):
        self.plan, self.procs, self.restarts = plan, {}, {}
        self.stopping = False

    def run(self) -> None:
        plan, config = self.plan, self.plan.config
        plan.validate()
        run_dir = plan.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoints, vllm = prepare_once(config)
        from ..backends.vllm_plan import free_port
        ports = [free_port() for _ in range(plan.workers)]
        conf = nginx.write_config(run_dir / "nginx", config.host, config.port, ports, plan.sticky,
                                  config.limits.max_upload_bytes)
        subprocess.run(nginx.check_command(conf), check=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._request_stop())
        try:
            for i, port in enumerate(ports):
                self._start(f"worker-{i}", worker_command(config, port, checkpoints), run_dir / f"worker-{i}.log")
            for i, port in enumerate(ports):
                self._wait_up(f"worker-{i}", f"http://127.0.0.1:{port}/config", 300)
            self._start("nginx", nginx.command(conf), run_dir / "nginx" / "stdout.log")
            log.info("ift-chat: %d workers behind nginx on http://%s:%d/ (sticky: %s; config %s)",
                     plan.workers, config.host, config.port, plan.sticky, conf)
            self._watch(checkpoints, ports, conf)
        finally:
            self.stop()
            if vllm is not None:
                vllm.stop()

    def _request_stop(self) -> None:
        self.stopping = True

    def _start(self, name: str, cmd: list[str], log_path: Path) -> None:
        with log_path.open("a") as sink:  # a file, not a pipe: a full pipe would stall the child
            self.procs[name] = (subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT,
                                                 start_new_session=True), cmd, log_path)

    def _wait_up(self, name: str, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        proc, _, log_path = self.procs[name]
        while not self.stopping:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {log_path}")
            time.sleep(0.3)

    def _watch(self, checkpoints: Path, ports: list[int], conf: Path) -> None:
        while not self.stopping:
            time.sleep(0.5)
            for name, (proc, cmd, log_path) in list(self.procs.items()):
                if proc.poll() is None or self.stopping:
                    continue
                self.restarts[name] = self.restarts.get(name, 0) + 1
                if self.restarts[name] > RESTART_LIMIT:
                    raise RuntimeError(f"{name} keeps dying (exit {proc.returncode}); see {log_path}")
                log.warning("%s exited with %s; starting it again", name, proc.returncode)
                self._start(name, cmd, log_path)

    def stop(self) -> None:
        """nginx first (no new requests), then the workers (SIGTERM, SIGKILL after 20 s)."""
        order = sorted(self.procs, key=lambda n: n != "nginx")
        for name in order:
            proc = self.procs[name][0]
            if proc.poll() is None:
                with _suppress():
                    os.killpg(proc.pid, signal.SIGTERM if name != "nginx" else signal.SIGQUIT)
        for name in order:
            proc = self.procs[name][0]
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with _suppress():
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _suppress():
    import contextlib
    return contextlib.suppress(ProcessLookupError, PermissionError)


def run_workers(config: Config, workers: int, sticky: str = "cookie") -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness poll
    Supervisor(WorkerPlan(config, workers, sticky)).run()
