"""Image validation and content-addressed storage."""

import io
import struct
import zlib

import pytest
from PIL import Image

from ift_chat.errors import ImageError, StorageError
from ift_chat.store import prepare_image


def test_same_bytes_twice_one_file_one_row(store, make_png):
    data = make_png()
    a = store.images.save(data)
    b = store.images.save(data)
    assert a == b
    assert store.db["images"].count == 1
    files = [p for p in store.config.images_dir.rglob("*") if p.is_file()]
    assert len(files) == 1
    assert files[0].name == f"{a.sha256}.png"
    assert files[0].parent.name == a.sha256[2:4] and files[0].parent.parent.name == a.sha256[:2]


def bomb_png(width=20000, height=20000) -> bytes:
    """A valid PNG header claiming 400 megapixels, with a tiny compressed body."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * width
    body = zlib.compress(row * 16, 9)  # deliberately short: decoding must never be attempted
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.mark.parametrize("data,match", [
    (b"this is not an image at all", "not an image"),
    (b"", "empty"),
    (bomb_png(), "pixels"),
])
def test_bad_images_rejected_nothing_written(store, data, match):
    with pytest.raises(ImageError, match=match):
        store.images.save(data, "upload.png")
    assert store.db["images"].count == 0
    assert not store.config.images_dir.exists() or not any(store.config.images_dir.rglob("*.*"))


def test_truncated_png_rejected(store, make_png):
    data = make_png(size=(256, 256), color=(1, 2, 3))
    noisy = io.BytesIO()
    Image.effect_noise((256, 256), 60).convert("RGB").save(noisy, format="PNG")
    data = noisy.getvalue()
    with pytest.raises(ImageError, match="truncated|corrupt|read"):
        store.images.save(data[: len(data) // 2])
    assert store.db["images"].count == 0


def test_upload_size_cap_checked_before_decoding(store):
    big = b"\x89PNG" + b"\x00" * (store.config.limits.max_upload_bytes + 1)
    with pytest.raises(ImageError, match="limit is 20.0 MB"):
        store.images.save(big)


@pytest.mark.parametrize("mode,color", [("CMYK", (0, 255, 255, 0)), ("RGBA", (255, 0, 0, 128)),
                                        ("I;16", 40000), ("P", 3)])
def test_odd_modes_converted_to_rgb_png(mode, color, make_png):
    img = prepare_image(make_png(mode=mode, color=color, fmt="TIFF" if mode == "CMYK" else "PNG"),
                        __import__("ift_chat.config", fromlist=["Limits"]).Limits())
    decoded = Image.open(io.BytesIO(img.data))
    assert img.ext == "png" and decoded.mode in ("RGB", "L")


def test_exif_rotation_applied():
    from ift_chat.config import Limits

    src = Image.new("RGB", (40, 20), "blue")
    exif = src.getexif()
    exif[0x0112] = 6  # rotate 90° on display
    buf = io.BytesIO()
    src.save(buf, format="JPEG", exif=exif)
    img = prepare_image(buf.getvalue(), Limits())
    assert (img.width, img.height) == (20, 40)


def test_animated_gif_keeps_first_frame():
    from ift_chat.config import Limits

    frames = [Image.new("RGB", (10, 10), c) for c in ("red", "green")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    img = prepare_image(buf.getvalue(), Limits())
    first = Image.open(io.BytesIO(img.data)).convert("RGB").getpixel((5, 5))
    assert img.ext == "png" and first[0] > 200 and first[1] < 50


def test_disk_error_on_image_write_leaves_no_row(store, make_png, monkeypatch):
    import os

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", full)
    with pytest.raises(StorageError, match="No space left"):
        store.images.save(make_png())
    assert store.db["images"].count == 0
