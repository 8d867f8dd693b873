"""The bad-input table, through the running app's chat API: each case either gets a clear
error and leaves no rows or files behind, or is accepted in a normalised form."""

from __future__ import annotations

import io
import os

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.conftest import png_bytes
from tests.ui.test_chat_api import send

TABLES = ("conversations", "turns", "turn_images", "images", "responses")


def footprint(store, config) -> dict:
    counts = {t: store.query(f"select count(*) n from {t}")[0]["n"] for t in TABLES}
    files = sorted(p.name for p in config.images_dir.rglob("*") if p.is_file()) if config.images_dir.exists() else []
    return {**counts, "image files": files}


def noise_png(size=(120, 90)) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png() -> bytes:
    """400 megapixels of 1-bit zeros: ~50 kB on disk, gigabytes if decoded."""
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")
    return buf.getvalue()


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


REJECTED = [
    # (case, text, files as [(name, bytes)], sampling overrides, words the error must contain)
    ("text renamed .png", "what is this?", [("fake.png", b"just some text, not pixels")], {}, "not an image"),
    ("truncated png", "what is this?", [("cut.png", noise_png()[:-400])], {}, "truncated"),
    ("decompression bomb", "what is this?", [("bomb.png", bomb_png())], {}, "pixels"),
    ("20 images", "compare", [(f"i{n}.png", png_bytes(color=(n, 0, 0))) for n in range(20)], {}, "limit is 8"),
    ("empty message", "   ", [], {}, "empty"),
    ("200 kB of text", "x" * 200_000, [], {}, "limit is 20,000"),
    ("negative temperature", "hi", [], {"temperature": -1.0}, "minimum value 0"),
    ("max tokens 10^9", "hi", [], {"max_tokens": 10**9}, "maximum value"),
]


@pytest.mark.parametrize("case,text,files,params,words", REJECTED, ids=[r[0] for r in REJECTED])
def test_bad_input_is_refused_clearly_and_writes_nothing(scripted_app, store, config, tmp_path,
                                                         case, text, files, params, words):
    url, backends = scripted_app
    client = Client(url, verbose=False)
    send(client, "a good first turn")  # so the conversation exists and must stay intact
    before = footprint(store, config)
    paths = [write(tmp_path, name, data) for name, data in files]
    message = {"text": text, "files": [handle_file(str(p)) for p in paths]}
    sampling = {"temperature": 0.7, "top_p": 1.0, "max_tokens": 32, **params}
    with pytest.raises(Exception) as refused:
        client.predict(message, "ann", "", sampling["temperature"], sampling["top_p"], sampling["max_tokens"],
                       None, "secret-ckpt-alpha", api_name="/chat_send")
    assert words in str(refused.value), f"{case}: unclear error {refused.value!r}"
    assert footprint(store, config) == before, f"{case} left rows or files behind"
    assert len(backends.get("secret-ckpt-alpha").calls) == 1, "a refused turn must not reach the model"


def test_bad_first_message_creates_no_conversation(scripted_app, store, config):
    client = Client(scripted_app[0], verbose=False)
    with pytest.raises(Exception, match="empty"):
        send(client, "")
    assert footprint(store, config) == {**{t: 0 for t in TABLES}, "image files": []}


def test_oversized_upload_is_refused_before_decoding(scripted_app, store, config):
    """50 MB against the 20 MB cap: the upload itself is refused; nothing reaches the store."""
    url, _ = scripted_app
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (50 * 1024 * 1024)
    r = httpx.post(url + "/gradio_api/upload", files={"files": ("big.png", big, "image/png")}, timeout=60)
    assert r.status_code == 413, r.status_code
    assert "size" in r.text.lower()
    assert footprint(store, config)["images"] == 0


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (10, 200, 10)).save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def _animated_gif() -> bytes:
    frames = [Image.new("P", (30, 30), i * 40) for i in range(4)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buf.getvalue()


ACCEPTED = [
    # (case, bytes, expected stored (width, height), stored PIL mode must be one of)
    ("animated gif -> first frame", _animated_gif(), (30, 30), {"RGB"}),
    ("cmyk jpeg", png_bytes(mode="CMYK", color=(0, 255, 255, 0), fmt="JPEG"), (32, 24), {"RGB"}),
    ("16-bit grey png", png_bytes(mode="I;16", color=40000), (32, 24), {"RGB", "L"}),
    ("alpha png", png_bytes(mode="RGBA", color=(255, 0, 0, 90)), (32, 24), {"RGB"}),
    ("exif rotation applied", _exif_rotated_jpeg(), (20, 40), {"RGB"}),
]


@pytest.mark.parametrize("case,data,size,modes", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_odd_images_are_normalised(scripted_app, store, config, tmp_path, case, data, size, modes):
    client = Client(scripted_app[0], verbose=False)
    ext = {b"GIF8": "gif", b"\xff\xd8\xff\xe0": "jpg", b"\xff\xd8\xff\xe1": "jpg"}.get(data[:4], "png")
    send(client, "describe", [write(tmp_path, f"odd.{ext}", data)])
    (row,) = store.query("select * from images")
    assert (row["width"], row["height"]) == size, case
    with Image.open(config.images_dir / row["path"]) as img:
        assert img.size == size and img.mode in modes and getattr(img, "n_frames", 1) == 1
    assert store.query("select status from responses")[0]["status"] == "ok"


def test_unicode_edge_cases_round_trip(scripted_app, store):
    text = "مرحبا بالعالم \u200b\u200d zero\u2060width 👩‍🔬🏳️‍🌈 e\u0301 nul\x00byte \u202etxet desrever"
    client = Client(scripted_app[0], verbose=False)
    send(client, text)
    (turn,) = store.query("select user_text from turns")
    assert turn["user_text"] == text.replace("\x00", "")
    assert store.query("select status from responses")[0]["status"] == "ok"
