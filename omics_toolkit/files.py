"""Small file utilities used across the toolkit (no AWS, no demo data)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks).

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes ``1f 8b`` (gzip and BGZF alike)."""
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"
