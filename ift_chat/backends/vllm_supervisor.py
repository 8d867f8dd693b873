"""Run vLLM OpenAI-compatible servers as child processes and keep them alive.

Servers start one after another (concurrent starts shrink each other's KV
cache on a shared GPU), each logging to ``<servers_dir>/<name>.log``. A server
that dies is restarted (bounded retries, reset after it becomes healthy again);
after that it is shown as down with the last log lines. Every child runs in its
own process group so stopping it also stops vLLM's engine-core processes.

Start-up has no fixed deadline: on a loaded machine a healthy start can take many
minutes. A starting server is given up on only when it stops making progress (its log
stops growing and its processes stop using CPU) for ``stall_timeout_s``, or after
``start_timeout_s`` in all. A running server is probed on ``/health`` every ``probe_s``;
one that stops answering is shown down and probed with backoff until it answers again.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from ..config import Limits
from .base import BackendStatus
from .health import FIRST_RETRY_S, probe_http
from .openai_client import OpenAIBackend
from .vllm_plan import ServerPlan, build_command, server_env

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20
PROGRESS_WINDOW_S = 10.0  # how often a starting server's progress is sampled
PROGRESS_CPU_SHARE = 0.05  # CPU seconds per second (of its process tree) that count as working
EXIT_GRACE_S = 3.0  # a server refusing /health may be exiting: wait this long for its exit first


@dataclass
class _Server:
    """Mutable run state of one planned server; only the supervisor thread writes it."""

    plan: ServerPlan
    log_path: Path
    proc: subprocess.Popen | None = None
    state: str = "starting"
    detail: str = "waiting to start"
    failures: int = 0
    next_probe: float = 0.0  # monotonic time of the next /health probe while it runs
    retry_s: float = FIRST_RETRY_S  # backoff of the probes while it does not answer


class VllmSupervisor:
    """Owns the vLLM children for a list of plans."""

    def __init__(self, plans: list[ServerPlan], servers_dir: Path, *, start_timeout_s: float = 3600.0,
                 stall_timeout_s: float = 300.0, max_restarts: int = 3, poll_s: float = 1.0,
                 probe_s: float = 10.0):
        self.servers_dir = Path(servers_dir)
        self.start_timeout_s = start_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self.probe_s = probe_s
        self.max_restarts = max_restarts
        self.poll_s = poll_s
        self._servers = {p.name: _Server(p, self.servers_dir / f"{p.name}.log") for p in plans}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards launching vs stopping a child

    # -- what the app sees -----------------------------------------------------

    def status(self, name: str) -> BackendStatus:
        server = self._servers[name]
        failed = server.state == "down" and server.detail != "stopped"
        tail = tuple(log_tail(server.log_path)) if failed else ()
        return BackendStatus(server.state, server.detail, tail)

    def pid(self, name: str) -> int | None:
        proc = self._servers[name].proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def wait_ready(self, name: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._servers[name].state == "ready":
                return True
            if self._servers[name].state == "down":
                return False
            time.sleep(0.2)
        return False

    def backends(self, limits: Limits, timeout_s: float) -> list[OpenAIBackend]:
        """One client backend per model (base and each LoRA adapter), status from its server."""
        out = []
        for name, server in self._servers.items():
            for model in server.plan.models:
                if model == server.plan.served_name and name.startswith("base-") and server.plan.loras:
                    continue  # a base from outside checkpoints/: only its adapters are offered
                out.append(OpenAIBackend(model, server.plan.base_url, limits, model=model,
                                         timeout_s=timeout_s, max_model_len=server.plan.max_model_len,
                                         status_fn=lambda n=name: self.status(n), on_close=self.aclose))
        return out

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> "VllmSupervisor":
        """Start the servers in a background thread (one after another) and watch them."""
        self.servers_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        self._thread = threading.Thread(target=self._run, name="vllm-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop every child (SIGTERM to its group, SIGKILL after 15 s); idempotent."""
        self._stopping.set()
        with self._lock:
            for server in self._servers.values():
                _stop_process(server.proc)
                server.state, server.detail = "down", "stopped"
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(30)
        atexit.unregister(self.stop)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.stop)

    # -- supervisor thread ---------------------------------------------------------

    def _run(self) -> None:
        for server in self._servers.values():
            self._bring_up(server)
        while not self._stopping.wait(self.poll_s):
            for server in self._servers.values():
                if server.state == "starting" or server.proc is None or server.detail == "stopped":
                    continue
                if server.failures > self.max_restarts:
                    continue  # given up: down with its log tail until the app restarts
                if server.proc.poll() is not None:
                    self._died(server, "")
                    self._bring_up(server)
                elif time.monotonic() >= server.next_probe:
                    self._probe(server)

    def _probe(self, server: _Server) -> None:
        """A running server that stops answering /health is down until it answers again."""
        status = probe_http(server.plan.health_url, timeout_s=min(5.0, self.probe_s))
        if status.state == "ready":
            if server.state != "ready":
                log.info("vLLM server %s answers again", server.plan.name)
            server.state, server.detail, server.retry_s = "ready", server.plan.base_url, FIRST_RETRY_S
            server.next_probe = time.monotonic() + self.probe_s
            return
        if server.proc is not None and _exits_within(server.proc, EXIT_GRACE_S):
            return  # it died meanwhile: the exit path restarts it (shown "starting", not "down")
        if server.state == "ready":
            log.warning("vLLM server %s stopped answering /health", server.plan.name)
        server.state = "down"
        server.detail = f"the process runs but does not answer /health ({status.detail})"
        server.next_probe = time.monotonic() + min(server.retry_s, self.probe_s)
        server.retry_s = min(server.retry_s * 2, self.probe_s)

    def _bring_up(self, server: _Server) -> None:
        """Launch until healthy, or until the restarts are used up (then: down)."""
        while not self._stopping.is_set() and server.state != "down":
            if not self._launch(server):
                return
            outcome = self._await_health(server)
            if outcome == "ready":
                server.state, server.detail, server.failures = "ready", server.plan.base_url, 0
                server.next_probe, server.retry_s = time.monotonic() + self.probe_s, FIRST_RETRY_S
                log.info("vLLM server %s ready on port %d", server.plan.name, server.plan.port)
                return
            self._died(server, outcome)

    def _launch(self, server: _Server) -> bool:
        command = build_command(server.plan)
        with self._lock:
            if self._stopping.is_set():
                return False
            with server.log_path.open("a") as log_file:
                log_file.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(command)}\n")
                log_file.flush()
                try:
                    server.proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                                   stdin=subprocess.DEVNULL, env=server_env(server.plan),
                                                   start_new_session=True)
                except OSError as exc:
                    server.state, server.detail = "down", f"cannot start vLLM ({command[0]}): {exc}"
                    return False
        return True

    def _await_health(self, server: _Server) -> str:
        """"ready", or why not (the process exited / stopped making progress / took too long)."""
        started = time.monotonic()
        progress = _Progress(server.proc.pid, server.log_path, started,
                             window_s=min(PROGRESS_WINDOW_S, self.stall_timeout_s / 3))
        with httpx.Client(timeout=2.0) as client:
            while not self._stopping.is_set():
                code = server.proc.poll()
                if code is not None:
                    return f"exited with code {code} while starting"
                now = time.monotonic()
                if now - progress.sample(now) > self.stall_timeout_s:
                    return (f"made no progress for {self.stall_timeout_s:.0f} s while starting "
                            "(its log did not grow, its processes used no CPU)")
                if now - started > self.start_timeout_s:
                    return f"not healthy after {self.start_timeout_s:.0f} s"
                try:
                    if client.get(server.plan.health_url).status_code == 200:
                        return "ready"
                except httpx.HTTPError:
                    pass
                self._stopping.wait(0.5)
        return "stopped"

    def _died(self, server: _Server, why: str) -> None:
        with self._lock:
            code = server.proc.poll() if server.proc is not None else None
            _stop_process(server.proc)  # reap its group (engine core) before a restart
        if self._stopping.is_set():
            return
        why = why or f"exited with code {code}"
        server.failures += 1
        if server.failures > self.max_restarts:
            server.state = "down"
            server.detail = (f"vLLM server {why}; gave up after {self.max_restarts} restarts "
                             f"(see {server.log_path})")
            log.error("vLLM server %s is down: %s", server.plan.name, why)
        else:
            server.state = "starting"
            server.detail = f"restarting: {why} (attempt {server.failures}/{self.max_restarts})"
            log.warning("vLLM server %s %s; restarting", server.plan.name, why)


class _Progress:
    """When a starting server last made progress: its log grew, or its process tree (vLLM's
    engine core is a child) used at least PROGRESS_CPU_SHARE of a core over a sample window."""

    def __init__(self, pid: int, log_path: Path, now: float, window_s: float = PROGRESS_WINDOW_S):
        self.pid, self.log_path, self.window_s = pid, log_path, window_s
        self.last, self.sampled = now, now
        self.size, self.cpu = self._measure()

    def sample(self, now: float) -> float:
        """Monotonic time of the last progress seen (sampled every ``window_s``)."""
        if now - self.sampled >= self.window_s:
            size, cpu = self._measure()
            if size > self.size or cpu - self.cpu >= PROGRESS_CPU_SHARE * (now - self.sampled):
                self.last = now
            self.size, self.cpu, self.sampled = size, cpu, now
        return self.last

    def _measure(self) -> tuple[int, float]:
        try:
            size = self.log_path.stat().st_size
        except OSError:
            size = 0
        return size, process_tree_cpu_s(self.pid)


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used by a process and all its descendants, reaped ones too."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _stop_process(proc: subprocess.Popen | None, grace_s: float = 15.0) -> None:
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(wait)
            if sig == signal.SIGTERM:
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group, if any
            return
        except subprocess.TimeoutExpired:
            continue
        except (ProcessLookupError, PermissionError):
            return


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of a log file (reads at most 16 KB)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            return f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []


def _exits_within(proc: subprocess.Popen, seconds: float) -> bool:
    """Whether the process has exited or does within ``seconds``: a killed vLLM refuses
    connections while the kernel still tears down its memory (~3 GB), before it can be reaped
    (seen in CI: the probe called it down before the exit path could restart it)."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True
