"""Content-addressed image storage with validation before anything is written.

``prepare`` decodes and normalises an upload in memory (so a bad file never
touches disk or the DB); ``persist`` writes the file then its row.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..config import Limits
from ..errors import ImageError, NotFound, StorageError
from .db import Transactor, now
from .models import ImageRecord

KEEP_AS_IS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MIME = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class PreparedImage:
    """A validated image, not yet stored."""

    sha256: str
    data: bytes
    ext: str
    width: int
    height: int

    @property
    def mime(self) -> str:
        return MIME[self.ext]


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _open_checked(data: bytes, limits: Limits, label: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ImageError(f"{label} is not an image (or not a format we can read)") from exc
        raise ImageError(f"{label} has too many pixels to be decoded safely") from exc
    except OSError as exc:
        raise ImageError(f"{label} could not be read as an image: {exc}") from exc
    width, height = img.size
    if width * height > limits.max_image_pixels:
        raise ImageError(
            f"{label} is {width}x{height} pixels; the limit is "
            f"{limits.max_image_pixels / 1e6:.0f} megapixels"
        )
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label} is truncated or corrupt ({exc})") from exc
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode.startswith("I") or img.mode == "F":
        # 16/32-bit greyscale: scale to 8 bits rather than clip to white.
        return img.point(lambda v: v / 256).convert("L")
    return img.convert("RGB")


def prepare_image(data: bytes, limits: Limits, label: str = "the upload") -> PreparedImage:
    """Validate and normalise; raise ImageError with a plain message otherwise."""
    if not data:
        raise ImageError(f"{label} is empty")
    if len(data) > limits.max_upload_bytes:
        raise ImageError(f"{label} is {_mb(len(data))}; the limit is {_mb(limits.max_upload_bytes)}")
    img = _open_checked(data, limits, label)
    fmt = img.format
    animated = getattr(img, "n_frames", 1) > 1
    if animated:
        img.seek(0)  # first frame only: models take stills
    rotated = _has_rotation(img)
    final = ImageOps.exif_transpose(img) if rotated else img
    if fmt in KEEP_AS_IS and img.mode in ("RGB", "L") and not animated and not rotated:
        out, ext = data, KEEP_AS_IS[fmt]
    else:
        buf = io.BytesIO()
        _to_rgb(final).save(buf, format="PNG")
        out, ext = buf.getvalue(), "png"
    return PreparedImage(hashlib.sha256(out).hexdigest(), out, ext, final.width, final.height)


def _has_rotation(img: Image.Image) -> bool:
    try:
        return img.getexif().get(0x0112, 1) not in (1, None)
    except Exception:  # malformed EXIF is not worth rejecting the image for
        return False


class ImageStore:
    def __init__(self, tx: Transactor, root: Path, limits: Limits):
        self.tx = tx
        self.root = root
        self.limits = limits

    def path_for(self, sha256: str, ext: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"

    def write_file(self, image: PreparedImage) -> Path:
        """Write the bytes (atomically, once). The DB row comes after, by the caller."""
        path = self.path_for(image.sha256, image.ext)
        if path.exists():
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(image.data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"could not save the image ({exc.strerror or exc}); nothing was recorded") from exc
        return path

    def row_for(self, image: PreparedImage, path: Path) -> dict:
        return {
            "sha256": image.sha256, "path": str(path.relative_to(self.root)),
            "mime": image.mime, "width": image.width, "height": image.height,
            "bytes": len(image.data), "created": now(),
        }

    def save(self, data: bytes, label: str = "the upload") -> ImageRecord:
        """Validate, write the file, then the row. Same bytes twice: one file, one row."""
        image = prepare_image(data, self.limits, label)
        path = self.write_file(image)
        with self.tx.write() as db:
            db["images"].insert(self.row_for(image, path), ignore=True)
        return self.get(image.sha256)

    def get(self, sha256: str) -> ImageRecord:
        rows = self.tx.query("select * from images where sha256 = ?", [sha256])
        if not rows:
            raise NotFound(f"no image {sha256[:12]}…")
        return ImageRecord.from_row(rows[0])

    def absolute_path(self, record: ImageRecord) -> Path:
        return self.root / record.path
