"""Health probing of an HTTP model server, in a thread, with backoff while it is down.

A server found down (by a probe, or by a request that could not connect) is probed again
after 0.5 s, 1 s, 2 s, ... but never more than ``interval_s`` apart, so a server that comes
back is ready again within one interval; a ready server is probed every ``interval_s``.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import httpx

from .base import BackendStatus

log = logging.getLogger(__name__)

FIRST_RETRY_S = 0.5


def probe_http(url: str, headers: dict | None = None, timeout_s: float = 5.0,
               client: httpx.Client | None = None) -> BackendStatus:
    """One GET: any answer below 500 means the server is up (an OpenAI-compatible server may
    not implement the probed route); 5xx or no connection means down."""
    try:
        if client is not None:
            code = client.get(url, headers=headers, timeout=timeout_s).status_code
        else:
            with httpx.Client(timeout=timeout_s, headers=headers or {}) as own:
                code = own.get(url).status_code
    except httpx.HTTPError as exc:
        return BackendStatus("down", f"cannot reach {url} ({type(exc).__name__}); probing again")
    if code >= 500:
        return BackendStatus("down", f"{url} answered HTTP {code}; probing again")
    return BackendStatus("ready", url)


class HealthProbe:
    """Keeps ``status`` current for one server; ``report_down`` (a failed request) re-probes soon."""

    def __init__(self, probe: Callable[[httpx.Client], BackendStatus], interval_s: float,
                 name: str = "server"):
        self.interval_s = interval_s
        self._probe = probe
        self._name = name
        self.status = BackendStatus("starting", "checking the server")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "HealthProbe":
        self._thread = threading.Thread(target=self._run, name=f"health-{self._name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def report_down(self, detail: str) -> None:
        """A request failed to connect: down now, and the backoff starts over."""
        self.status = BackendStatus("down", detail)
        self._wake.set()

    def _run(self) -> None:
        with httpx.Client() as client:  # one client: no TLS set-up per probe
            self._loop(client)

    def _loop(self, client: httpx.Client) -> None:
        retry = FIRST_RETRY_S
        while not self._stop.is_set():
            self._wake.clear()
            status = self._probe(client)
            if status.state != self.status.state:
                log.info("%s is %s: %s", self._name, status.state, status.detail)
            self.status = status
            if status.state == "ready":
                retry, wait = FIRST_RETRY_S, self.interval_s
            else:
                wait, retry = min(retry, self.interval_s), min(retry * 2, self.interval_s)
            if self._wake.wait(wait):
                retry = FIRST_RETRY_S  # a failed request: probe at once, then back off afresh
