"""Path traversal and server-side file access: what /gradio_api/file= serves, which files an
event may take as input, checkpoint names and export directories."""

from __future__ import annotations

import itertools
import json
import os
import time

import httpx
import pytest
from typer.testing import CliRunner

from ift_chat.backends.factory import build_backends
from ift_chat.cli import app as cli
from ift_chat.dataloop.outdir import named_export_dir
from ift_chat.errors import ValidationError
from ift_chat.server import make_asgi_app
from ift_chat.store.images import prepare_image
from tests.conftest import png_bytes
from tests.dataloop.conftest import build_world
from tests.scripted_backend import ScriptedBackend

from .conftest import register, serve
from .gradio_http import PageSession

MOUNTS = ["", "/battle"]


@pytest.fixture
def files_app(config, store, tmp_path):
    """An app whose data dir holds one stored image next to everything that must stay private."""
    # No --auth-file (a battle needs a rater, here the typed name); its usual place is private.
    users = tmp_path / "data" / "users.txt"
    backends = register(store, ScriptedBackend("m1"), ScriptedBackend("m2"))
    image = prepare_image(png_bytes(color=(1, 2, 3)), config.limits)
    conv = store.conversations.create("chat", sides={"single": "m1"})
    store.conversations.add_turn(conv.id, "look", [image])
    private = {
        "db": config.db_path,
        "server log": config.servers_dir / "m1.log",
        "export": config.home / "exports" / "sft" / "llava.json",
        "checkpoint config": config.checkpoints_dir / "m1" / "config.json",
        "users file": users,
        "png outside the store": tmp_path / "elsewhere" / "photo.png",
        "png among exports": config.home / "exports" / "sft" / "images" / "a.png",
    }
    for name, path in private.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(png_bytes() if path.suffix == ".png" else f"secret {name}".encode())
    stored = store.images.absolute_path(store.images.get(image.sha256))
    link = stored.parent / "link.png"
    link.symlink_to(config.db_path)
    private["symlink in the store to the db"] = link
    with serve(make_asgi_app(config, store, backends)) as url:
        yield url, stored, private


def test_file_route_serves_the_image_store_and_nothing_else(files_app):
    url, stored, private = files_app
    for mount in MOUNTS:
        check_file_route(f"{url}{mount}/gradio_api/file=", stored, private)


def check_file_route(base: str, stored, private: dict) -> None:
    with httpx.Client(timeout=30) as http:
        ok = http.get(base + str(stored))
        assert ok.status_code == 200 and ok.content == stored.read_bytes()
        images = stored.parent.parent
        tricks = {**{k: str(p) for k, p in private.items()},
                  "dot-dot": f"{images}/../ift_chat.db",
                  "encoded dot-dot": f"{images}/%2e%2e/ift_chat.db",
                  "double slash": f"/{stored.parent}/../../ift_chat.db",
                  "relative": "ift_chat.db",
                  "system file": "/etc/passwd",
                  "source file in cwd": str(os.path.abspath("ift_chat/server.py"))}
        for what, path in tricks.items():
            r = http.get(base + path)
            assert r.status_code in (403, 404), f"{what} was served: {path}"
            assert b"secret" not in r.content and b"SQLite" not in r.content


def test_file_route_does_not_fetch_remote_urls(files_app):
    url, _, _ = files_app
    with httpx.Client(timeout=30) as http:
        remotes = ("http://203.0.113.9/x.png", "https://example.com/a.png", "HTTP://example.com/b")
        for mount, remote in itertools.product(MOUNTS, remotes):
            start = time.monotonic()
            r = http.get(f"{url}{mount}/gradio_api/file={remote}")
            assert r.status_code == 403 and "remote files are not served" in r.text
            assert time.monotonic() - start < 2  # refused before any connection attempt


def chat_send(page: PageSession, files: list, api="chat_send"):
    message = {"text": "what is this?", "files": files}
    if api == "battle_send":
        return page.call(api, None, message, False, "ann", "", 0.7, 1.0, 16, None, "own")
    return page.call(api, None, message, False, "ann", "", 0.7, 1.0, 16, None, "m1")


def test_message_images_must_be_uploaded_by_the_client(files_app, store):
    """A FileData input naming a server path or a URL would make the server read or fetch it and
    show it back: only files in Gradio's upload folder are accepted."""
    url, stored, private = files_app
    for mount, api in (("", "chat_send"), ("/battle", "battle_send")):
        check_inputs_are_uploads(url, mount, api, store, stored, private)
    assert store.query("select count(*) n from images")[0]["n"] == 3  # the fixture's + one per app


def check_inputs_are_uploads(url: str, mount: str, api: str, store, stored, private: dict) -> None:
    before = store.query("select count(*) n from turns")[0]["n"]
    images = store.query("select count(*) n from images")[0]["n"]
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url + mount)
        meta = {"_type": "gradio.FileData"}
        for path in (str(private["png outside the store"]), str(private["png among exports"]), str(stored),
                     str(private["db"])):
            out, error, _ = chat_send(page, [{"path": path, "meta": meta}], api)
            assert out is None and error, path
        for remote in ("http://203.0.113.9/x.png", "HTTPS://example.com/y.png"):
            out, error, _ = chat_send(page, [{"path": remote, "meta": meta}], api)
            assert out is None and "must be uploaded" in error, remote
        sneaky = json.dumps({"data": [None, {"text": "x", "files": [{"path": "http://203.0.113.9/z.png"}]}],
                             "fn_index": page.fn_index(api), "session_hash": "s"})
        sneaky = sneaky.replace('"path"', '"\\u0070ath"').replace("//", "\\/\\/")  # JSON escapes
        r = http.post(url + mount + "/gradio_api/queue/join", content=sneaky,
                      headers={"content-type": "text/plain"})
        assert r.status_code == 403
        assert store.query("select count(*) n from turns")[0]["n"] == before
        assert store.query("select count(*) n from images")[0]["n"] == images
        # The real thing still works: upload first, then send it, with the url field browsers add.
        up = http.post(url + mount + "/gradio_api/upload",
                       files={"files": ("x.png", png_bytes(color=(7, 7, len(mount))), "image/png")})
        path = up.json()[0]
        out, error, _ = chat_send(page, [{"path": path, "url": f"{url}{mount}/gradio_api/file={path}",
                                          "orig_name": "x.png", "meta": meta}], api)
        assert not error, error
    assert store.query("select count(*) n from images")[0]["n"] == images + 1


def test_direct_rest_calls_that_skip_the_queue_are_refused(files_app):
    url, _, _ = files_app
    with httpx.Client(timeout=30) as http:
        r = http.post(url + "/gradio_api/api/chat_new", json={"data": []})
        assert r.status_code == 404 and "join the queue" in r.text


# -- checkpoint names -------------------------------------------------------------------------
BAD_NAMES = ["../x", "../../etc/passwd", "a/b", "/abs", "..", "x/../../y", "a\\b"]


def test_checkpoint_names_that_are_paths_are_never_served(config, store):
    """Registry entries named like paths become problems, never backends, DB rows or log files."""
    config.checkpoints_dir.mkdir(parents=True)
    entries = "".join(f'[checkpoints.{json.dumps(n)}]\nurl = "http://127.0.0.1:9/v1"\n\n' for n in BAD_NAMES)
    (config.checkpoints_dir / "registry.toml").write_text(
        entries + '[checkpoints.fine-remote]\nurl = "http://127.0.0.1:9/v1"\n')
    backends = build_backends(config.replace(demo=False), store)
    assert backends.names() == ["fine-remote"]
    assert set(backends.notes) == set(BAD_NAMES)
    assert all("not allowed" in note for note in backends.notes.values())
    assert [c.name for c in store.checkpoints.all()] == ["fine-remote"]
    assert not config.servers_dir.exists()
    for name in BAD_NAMES:
        with pytest.raises(ValidationError):
            store.checkpoints.register(name)


def test_chat_and_arena_refuse_unknown_checkpoint_names(files_app, store):
    url, _, _ = files_app
    with httpx.Client(timeout=30) as http:
        page = PageSession(http, url)
        for name in ("../../etc/passwd", "m1/../m2"):
            out, error, _ = page.call("chat_send", None, {"text": "hi", "files": []}, False, "ann", "", 0.7,
                                      1.0, 16, None, name)
            assert out is None and "not in the list of choices" in error  # Gradio checks dropdowns
            out, error, _ = page.call("arena_send", None, {"text": "hi", "files": []}, False, "ann", "", 0.7,
                                      1.0, 16, None, "m1", name, "own", [])
            assert out is None and "not in the list of choices" in error
            out, error, _ = page.call("arena_send", None, {"text": "hi", "files": []}, False, "ann", "", 0.7,
                                      1.0, 16, None, "m1", "m2", "own", [name])  # a 3-way arena's C
            assert out is None and "not in the list of choices" in error
    assert store.query("select count(*) n from conversations where mode != 'chat' or id in "
                       "(select conversation_id from conversation_sides where checkpoint not in ('m1', 'm2'))"
                       )[0]["n"] == 0


# -- export directories -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../escape", "a/b", "/tmp/abs", "..", ".", ".hidden", "a\\..\\b", "x\0y",
                                  "", "é" * 101])
def test_ui_export_names_stay_inside_the_exports_dir(tmp_path, name):
    with pytest.raises(ValidationError, match="not allowed"):
        named_export_dir(tmp_path / "exports", name)


def test_ui_export_name_cannot_follow_a_symlink_out(tmp_path):
    base = tmp_path / "exports"
    base.mkdir()
    (base / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(ValidationError, match="escapes"):
        named_export_dir(base, "link")
    assert named_export_dir(base, "fine-name") == (base / "fine-name").resolve()


def test_cli_export_never_replaces_a_directory_that_is_not_an_export(config, store):
    """--out is the operator's choice (any path), but --force only replaces earlier exports."""
    build_world(store)  # rated dialogs, so that there is something to export
    home = config.home
    for target in (home, config.images_dir, home.parent):
        result = CliRunner().invoke(cli, ["export", "llava", "--out", str(target), "--home", str(home),
                                          "--force"])
        assert result.exit_code == 1 and "not an ift-chat export" in result.output, result.output
    assert config.db_path.exists() and config.images_dir.exists()
