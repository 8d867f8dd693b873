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
