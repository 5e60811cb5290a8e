"""Thumbnail cache in the user cache dir, bounded in size, generated in parallel.

A thumbnail's key is derived from the photo's content hash, size and mtime, so an edited file
gets a new thumbnail automatically. A photo that cannot be decoded gets a placeholder and its
reason is remembered, so it is attempted once, not on every scroll.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from aesthetic_curator.atomic import atomic_path, is_temporary
from aesthetic_curator.errors import ImageDecodeError
from aesthetic_curator.images import RAW_EXTENSIONS, decode_image
from aesthetic_curator.paths import cache_dir
from aesthetic_curator.progress import CancelToken, ProgressCallback, check, report

log = logging.getLogger(__name__)

DEFAULT_SIZE = 256
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
#: A temporary thumbnail file this old belongs to a process that died while writing it.
STALE_TEMPORARY_SECONDS = 3600
_LEGACY_TEMPORARY_PREFIX = ".tmp-"  # the temporary names of earlier versions


@dataclass(frozen=True)
class ThumbnailRequest:
    path: Path  # the photo
    content_hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Thumbnail:
    path: Path  # the thumbnail file, or the placeholder when the photo could not be decoded
    ok: bool
    reason: str = ""  # why the photo could not be decoded
    generated: bool = False  # made by this call rather than found in the cache


def _atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    with atomic_path(target) as partial:
        write(partial)


class ThumbnailCache:
    def __init__(self, root: Path | None = None, size: int = DEFAULT_SIZE, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root or cache_dir() / "thumbnails"
        self.size = size
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def key(self, request: ThumbnailRequest) -> str:
        text = f"{request.content_hash}:{request.size}:{request.mtime_ns}:{self.size}"
        if request.path.suffix.lower() in RAW_EXTENSIONS:
            text += ":upright"  # RAW previews made before they were turned as the camera was held: made again
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.jpg", folder / f"{key}.fail"

    @property
    def placeholder(self) -> Path:
        """A grey tile with a crossed frame, shown for photos that cannot be decoded."""
        path = self.root / f"placeholder-{self.size}.png"
        if not path.exists():
            tile = Image.new("RGB", (self.size, self.size), (70, 70, 74))
            draw = ImageDraw.Draw(tile)
            m = self.size // 4
            draw.rectangle((m, m, self.size - m, self.size - m), outline=(160, 160, 165), width=3)
            draw.line((m, m, self.size - m, self.size - m), fill=(200, 90, 90), width=3)
            draw.line((m, self.size - m, self.size - m, m), fill=(200, 90, 90), width=3)
            _atomic_write(path, lambda tmp: tile.save(tmp, format="PNG"))
        return path

    def lookup(self, request: ThumbnailRequest) -> Thumbnail | None:
        """The cached thumbnail (or remembered failure) without decoding anything; None if not made yet."""
        thumb, fail = self._paths(self.key(request))
        if thumb.exists():
            with contextlib.suppress(OSError):
                os.utime(thumb)  # least-recently-used eviction looks at mtime
            return Thumbnail(thumb, True)
        if fail.exists():
            return Thumbnail(self.placeholder, False, fail.read_text(encoding="utf-8", errors="replace"))
        return None

    def get(self, request: ThumbnailRequest) -> Thumbnail:
        """The thumbnail, made now if needed."""
        cached = self.lookup(request)
        if cached is not None:
            return cached
        thumb, fail = self._paths(self.key(request))
        try:
            image = decode_image(request.path, min_size=self.size)
        except ImageDecodeError as exc:
            reason = str(exc)
            _atomic_write(fail, lambda tmp: tmp.write_text(reason, encoding="utf-8"))
            return Thumbnail(self.placeholder, False, reason, generated=True)
        image.thumbnail((self.size, self.size), Image.Resampling.LANCZOS)
        _atomic_write(thumb, lambda tmp: image.save(tmp, format="JPEG", quality=85))
        return Thumbnail(thumb, True, generated=True)

    def generate(
        self,
        requests: Sequence[ThumbnailRequest],
        workers: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Thumbnail]:
        """Make the missing thumbnails on a thread pool, in input order; then enforce the size bound."""
        results: list[Thumbnail | None] = [None] * len(requests)
        with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 2)) as pool:
            futures = {pool.submit(self.get, request): i for i, request in enumerate(requests)}
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    check(cancel)
                    results[futures[future]] = future.result()
                    report(progress, "thumbnails", done, len(requests))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        self.enforce_limit()
        return [r for r in results if r is not None]

    def total_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*.jpg"))

    def enforce_limit(self) -> int:
        """Delete least recently used thumbnails until the cache is under 90% of its bound.

        Also removes temporaries that a killed scan left (older than :data:`STALE_TEMPORARY_SECONDS`,
        so another process's file being written right now is never touched).
        """
        files = []
        stale_before = time.time() - STALE_TEMPORARY_SECONDS
        for path in self.root.rglob("*"):
            try:
                info = path.stat()
            except OSError:
                continue  # evicted or renamed by another process meanwhile
            if is_temporary(path) or path.name.startswith(_LEGACY_TEMPORARY_PREFIX):
                if info.st_mtime < stale_before:
                    path.unlink(missing_ok=True)
            elif path.suffix == ".jpg":
                files.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return 0
        removed = 0
        for _, size, path in sorted(files):
            if total <= self.max_bytes * 0.9:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        log.debug("thumbnail cache: evicted %d files", removed)
        return removed
