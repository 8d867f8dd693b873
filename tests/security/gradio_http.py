"""Talking to a mounted Gradio app the way its page does: raw HTTP, queue join + SSE.

Raw HTTP (not gradio_client) because these tests must see every byte the browser
would get, including the intermediate streaming messages, and call events that have
no API name (by fn_index, as the page itself does).
"""

from __future__ import annotations

import json
import uuid

import httpx


class PageSession:
    """One browser session (session hash) on one mounted app, e.g. ``http://h:p/battle``."""

    def __init__(self, http: httpx.Client, base: str):
        self.http, self.base = http, base.rstrip("/")
        self.hash = uuid.uuid4().hex[:12]
        self.config = http.get(self.base + "/config").json()
        self.received: list[str] = []  # every body this session got, for leak checks

    def fn_index(self, api_name: str) -> int:
        for dep in self.config["dependencies"]:
            if dep.get("api_name") == api_name:
                return dep["id"]
        raise KeyError(api_name)

    def call(self, target: str | int, *data, query: str = "") -> tuple[list | None, str, str]:
        """Run one event to completion: (output data or None, error message or "", raw SSE text).
        ``query`` is the page URL's query string (e.g. "c=<id>"), which load events read."""
        fn = self.fn_index(target) if isinstance(target, str) else target
        join = self.join(fn, *data, query=query)
        self.received.append(join.text)
        if join.status_code != 200:
            return None, join.text, join.text
        event_id = join.json()["event_id"]
        raw, message = "", {}
        with self.http.stream("GET", self.base + "/gradio_api/queue/data",
                              params={"session_hash": self.hash}) as sse:
            for line in sse.iter_lines():
                raw += line + "\n"
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                    break
        self.received.append(raw)
        output = message.get("output") or {}
        if not message.get("success", False):
            return None, str(output.get("error") or output), raw
        return output.get("data"), "", raw

    def join(self, fn: int, *data, query: str = "") -> httpx.Response:
        """Queue one event. The body is ASCII JSON (``\\uXXXX`` escapes) as browsers send it, so
        it may carry text httpx's own encoder refuses, e.g. a lone surrogate."""
        body = {"data": list(data), "fn_index": fn, "session_hash": self.hash, "event_data": None,
                "trigger_id": None}
        return self.http.post(self.base + "/gradio_api/queue/join" + (f"?{query}" if query else ""),
                              content=json.dumps(body),
                              headers={"content-type": "application/json"})

    def everything(self) -> str:
        return "\n".join(self.received)

    def load_event(self) -> int:
        """The page-load event that reopens ``?c=<id>`` (the load with the most outputs)."""
        loads = [d for d in self.dependencies()
                 if any(t[1] == "load" for t in d.get("targets", [])) and d.get("backend_fn")]
        return max(loads, key=lambda d: len(d["outputs"]))["id"]

    def dependencies(self) -> list[dict]:
        return self.config["dependencies"]

    def defaults(self, dep: dict) -> list:
        """The inputs of an event as the freshly loaded page would send them (components' values)."""
        values = {c["id"]: c.get("props", {}).get("value") for c in self.config["components"]}
        return [values.get(i) for i in dep["inputs"]]

    def call_all(self, skip: tuple[str, ...] = (), private_only: bool = False) -> dict[int, str]:
        """Every event of the page (or only those without an API name) with the page's default
        inputs: {fn id: error message or ""}."""
        errors = {}
        for dep in self.dependencies():
            if dep.get("backend_fn") is False or dep.get("api_name") in skip:
                continue
            if private_only and dep.get("api_visibility") != "private":
                continue
            _, errors[dep["id"]], _ = self.call(dep["id"], *self.defaults(dep))
        return errors
