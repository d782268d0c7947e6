"""Build Lambda deployment packages reproducibly (same sources -> same bytes -> same CodeSha256)."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

import omics_toolkit
from omics_toolkit.errors import UserError

PACKAGE_DIR = Path(omics_toolkit.__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
LAMBDAS_DIR = REPO_DIR / "lambdas"
STATEMACHINES_DIR = REPO_DIR / "statemachines"
#: Parts of the package a Lambda never needs (the local stack, the CLI, notebook helpers).
_EXCLUDED = ("local", "cli", "query.py", "demo.py", "data.py")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _add(zf: zipfile.ZipFile, path: Path, arcname: str) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, path.read_bytes())


def lambda_zip(function: str) -> bytes:
    """Zip ``lambdas/<function>/`` plus the toolkit's runtime modules.

    Returns:
        Zip bytes; identical inputs give identical bytes (fixed timestamps, sorted entries).

    Raises:
        UserError: the function's directory does not exist.
    """
    source = LAMBDAS_DIR / function
    if not (source / "app.py").is_file():
        raise UserError(f"no Lambda handler at {source / 'app.py'}")
    files: list[tuple[Path, str]] = [
        (p, p.relative_to(source).as_posix()) for p in source.rglob("*.py")
    ]
    for p in PACKAGE_DIR.rglob("*.py"):
        rel = p.relative_to(PACKAGE_DIR)
        if rel.parts[0] in _EXCLUDED or "__pycache__" in rel.parts:
            continue
        files.append((p, f"omics_toolkit/{rel.as_posix()}"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, arcname in sorted(files, key=lambda item: item[1]):
            _add(zf, path, arcname)
    return buf.getvalue()


def code_sha256(data: bytes) -> str:
    """Lambda's ``CodeSha256``: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
