from pathlib import Path

import pytest

from ift_chat.config import Config
from ift_chat.errors import ValidationError


def test_env_moves_home_and_flags_override():
    config = Config.from_env({"IFT_CHAT_HOME": "/tmp/x"}, port=9000)
    assert config.home == Path("/tmp/x")
    assert config.db_path == Path("/tmp/x/ift_chat.db")
    assert config.port == 9000
    assert Config.from_env({"IFT_CHAT_HOME": "/tmp/x"}, home="/tmp/y").home == Path("/tmp/y")


def test_default_home_is_logs():
    assert Config.from_env({}).home == Path("logs")


def test_config_is_frozen():
    with pytest.raises(Exception):
        Config().port = 1


def test_bad_backend_rejected():
    with pytest.raises(ValidationError, match="backend"):
        Config.from_env({}, backend="tpu")


def test_serve_flags_set_the_reply_caps_and_the_probe_interval(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import ift_chat.app_factory
    from ift_chat.cli import app

    seen = []
    monkeypatch.setattr(ift_chat.app_factory, "run_app", seen.append)
    result = CliRunner().invoke(app, ["serve", "--home", str(tmp_path), "--max-reply-chars", "5000",
                                      "--max-turn-seconds", "30", "--probe-interval", "2.5"])
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert (config.limits.max_reply_chars, config.limits.max_turn_seconds, config.health_probe_s) == (5000, 30, 2.5)


def test_bad_caps_rejected():
    from ift_chat.config import Limits

    with pytest.raises(ValidationError, match="reply caps"):
        Config.from_env({}, limits=Limits(max_turn_seconds=0))
    with pytest.raises(ValidationError, match="timeouts"):
        Config.from_env({}, health_probe_s=0)
