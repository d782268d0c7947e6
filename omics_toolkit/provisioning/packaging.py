"""Build Lambda deployment packages reproducibly (same sources -> same bytes -> same CodeSha256)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import omics_toolkit
from omics_toolkit.errors import UserError
from omics_toolkit.ziputil import deterministic_zip

PACKAGE_DIR = Path(omics_toolkit.__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
LAMBDAS_DIR = REPO_DIR / "lambdas"
STATEMACHINES_DIR = REPO_DIR / "statemachines"
#: The parts of the package Lambda handlers import (no CLI, local stack, pandas or miniwdl).
_INCLUDED = ("__init__.py", "py.typed", "errors.py", "config.py", "constants.py", "aws", "pipeline")


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
        if rel.parts[0] not in _INCLUDED or "__pycache__" in rel.parts:
            continue
        files.append((p, f"omics_toolkit/{rel.as_posix()}"))
    return deterministic_zip((arcname, path.read_bytes()) for path, arcname in files)


def code_sha256(data: bytes) -> str:
    """Lambda's ``CodeSha256``: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
