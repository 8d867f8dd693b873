"""The real demo models loaded in-process with transformers, once per test module."""

from __future__ import annotations

import asyncio

import pytest

from ift_chat.backends import Backends
from ift_chat.backends.transformers_backend import TransformersBackend
from ift_chat.config import Limits


@pytest.fixture(scope="module")
def local_backends(real_demo_checkpoints):
    backends = [TransformersBackend(p.name, p, Limits()).load() for p in real_demo_checkpoints]
    yield Backends(backends)
    asyncio.run(Backends(backends).aclose())
