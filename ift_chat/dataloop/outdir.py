"""Where exports are written: a temp dir renamed into place, so nothing is half-written."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import StorageError, ValidationError
from ..store import Store

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
MARKER = "report.json"  # every export has one; --force only replaces dirs that do
NAME_RE = re.compile(r"^[\w][\w.-]{0,99}$")


def inside(root: Path, relative: str | Path) -> Path:
    """``root / relative``, refusing anything that would land outside ``root``."""
    root = root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ValidationError(f"the path {str(relative)!r} escapes {root}")
    return path


def named_export_dir(base: Path, name: str) -> Path:
    """The UI's exports live under one base dir; the user only picks a plain name."""
    name = (name or "").strip()
    if not NAME_RE.match(name) or name in (".", ".."):
        raise ValidationError(f"export name {name!r} is not allowed: letters, digits, . _ - (no slashes)")
    return inside(base, name)


class ExportDir:
    """Write into a temp dir next to ``out``; ``commit`` renames it to ``out``.

    ``out`` must not exist unless ``force`` (then it is replaced only once the new
    export is complete)."""

    def __init__(self, out: Path, force: bool = False):
        self.out = Path(out).expanduser().absolute()
        if self.out.exists() and not force:
            raise ValidationError(f"{self.out} already exists; pick another --out or pass --force")
        if self.out.exists() and not (self.out / MARKER).is_file():
            # --force replaces earlier exports only, never an arbitrary directory.
            raise ValidationError(f"{self.out} exists and is not an ift-chat export (no {MARKER}); "
                                  "refusing to replace it")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".part", dir=self.out.parent))
        except OSError as exc:
            raise StorageError(f"cannot write to {self.out.parent}: {exc.strerror or exc}") from exc
        self.committed = False

    def path(self, relative: str) -> Path:
        path = inside(self.tmp, relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self) -> Path:
        old = None
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old-{self.tmp.name[-12:]}")
            self.out.rename(old)
        self.tmp.rename(self.out)
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def discard(self) -> None:
        if not self.committed:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "ExportDir":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()


class ImageCopier:
    """Copies store images into ``images/`` of an export once each; returns relative paths."""

    def __init__(self, store: Store, out: ExportDir, folder: str = "images"):
        self.store, self.out, self.folder = store, out, folder
        self._copied: dict[str, str] = {}
        self._sources: dict[str, tuple[Path, str]] = {}  # one DB lookup per distinct image

    def source(self, sha256: str) -> tuple[Path, str]:
        if sha256 not in self._sources:
            if not SHA_RE.match(sha256):
                raise ValidationError(f"not an image hash: {sha256!r}")
            record = self.store.images.get(sha256)
            self._sources[sha256] = self.store.images.absolute_path(record), Path(record.path).suffix
        return self._sources[sha256]

    def relative(self, sha256: str) -> str:
        if sha256 not in self._copied:
            src, suffix = self.source(sha256)
            rel = f"{self.folder}/{sha256}{suffix}"
            shutil.copyfile(src, self.out.path(rel))
            self._copied[sha256] = rel
        return self._copied[sha256]

    def read(self, sha256: str) -> tuple[bytes, str]:
        """(bytes, file name) for embedding, without copying."""
        src, suffix = self.source(sha256)
        return src.read_bytes(), f"{sha256}{suffix}"

    @property
    def count(self) -> int:
        return len(self._copied)


def tree_sha256(root: Path) -> str:
    """One digest over every file (relative path + content) under ``root``."""
    total = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        total.update(f"{path.relative_to(root).as_posix()}\0{digest.hexdigest()}\n".encode())
    return total.hexdigest()
