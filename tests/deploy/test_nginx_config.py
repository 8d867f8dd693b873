"""The generated nginx config: nginx itself accepts it, sticky by cookie hash or ip_hash, SSE unbuffered."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ift_chat.deploy import nginx
from ift_chat.deploy.workers import WorkerPlan, worker_registry
from ift_chat.config import Config

needs_nginx = pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                                 reason="nginx is not installed")


@needs_nginx
@pytest.mark.parametrize("sticky, balance", [("cookie", "hash $ift_sticky consistent;"), ("ip", "ip_hash;")])
def test_config_is_valid_nginx(tmp_path, sticky, balance):
    conf = nginx.write_config(tmp_path / "nginx", "127.0.0.1", 18081, [18091, 18092], sticky, 20 * 2**20)
    text = conf.read_text()
    assert balance in text and "server 127.0.0.1:18091" in text and "server 127.0.0.1:18092" in text
    assert "proxy_buffering off;" in text and "client_max_body_size 21m;" in text
    result = subprocess.run(nginx.check_command(conf), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bad_plans_are_refused(tmp_path):
    with pytest.raises(ValueError, match="sticky"):
        nginx.write_config(tmp_path, "127.0.0.1", 1, [2], "round-robin", 1)
    with pytest.raises(ValueError, match="workers"):
        WorkerPlan(Config(home=tmp_path), 0).validate()


def test_worker_registry_points_vllm_models_at_the_one_server(tmp_path):
    """Workers see a vLLM server the supervisor started as a url entry; other checkpoints as they were."""
    import tomllib
    from types import SimpleNamespace

    source = tmp_path / "checkpoints"
    (source / "local-ckpt").mkdir(parents=True)
    (source / "registry.toml").write_text('[checkpoints.sft-v3]\ndisplay_name = "SFT v3"\n\n'
                                          '[checkpoints.remote]\nurl = "http://10.0.0.5:8000/v1"\nmodel = "m"\n')
    plan = SimpleNamespace(models=("sft-v3", "sft-v3-lora"), base_url="http://127.0.0.1:9001/v1")
    out = worker_registry(source, [plan], tmp_path / "workers")
    entries = tomllib.loads((out / "registry.toml").read_text())["checkpoints"]
    assert entries["sft-v3"] == {"url": "http://127.0.0.1:9001/v1", "model": "sft-v3", "display_name": "SFT v3"}
    assert entries["sft-v3-lora"]["url"] == "http://127.0.0.1:9001/v1"
    assert entries["remote"] == {"url": "http://10.0.0.5:8000/v1", "model": "m"}
    assert (out / "local-ckpt").resolve() == (source / "local-ckpt").resolve()
