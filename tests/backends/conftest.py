"""Fixtures for backend tests: a loaded transformers backend on a demo checkpoint."""

from __future__ import annotations

import asyncio

import pytest

from ift_chat.backends import Completion
from ift_chat.backends.transformers_backend import TransformersBackend
from ift_chat.config import Limits


@pytest.fixture(scope="session")
def demo_backend(demo_checkpoints) -> TransformersBackend:
    backend = TransformersBackend("demo-smolvlm-a", demo_checkpoints[0], Limits()).load()
    assert backend.status().state == "ready", backend.status().detail
    return backend


async def collect(backend, messages, params, cancel=None, cancel_after: int | None = None):
    """(deltas, completion); sets ``cancel`` after ``cancel_after`` deltas."""
    deltas, completion = [], None
    async for item in backend.stream(messages, params, cancel):
        if isinstance(item, Completion):
            assert completion is None, "more than one Completion"
            completion = item
        else:
            assert completion is None, "a delta after the Completion"
            deltas.append(item)
            if cancel_after is not None and len(deltas) == cancel_after:
                cancel.set()
    assert completion is not None, "the stream ended without a Completion"
    return deltas, completion


def run(coro):
    return asyncio.run(coro)
