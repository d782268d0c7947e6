"""Installed Python distributions and their dependency closure (importlib.metadata).

Used to assemble Lambda runtimes and layers from what this environment has installed: the local
Lambda runtime (boto3, Powertools) and the S3 Tables loader's layer (pyiceberg, pyarrow, cyvcf2).
"""

from __future__ import annotations

import re
from importlib import metadata

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(name: str) -> str:
    """PEP 503 normalised distribution name (``Pydantic_Core`` -> ``pydantic-core``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(names: tuple[str, ...]) -> dict[str, metadata.Distribution]:
    """Installed distributions ``names`` and their dependencies (no extras), recursively.

    Returns:
        Normalised name -> distribution, sorted by name. Names not installed (e.g. a
        dependency excluded here by its environment marker) are left out.
    """
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = normalise(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = dist
        for requirement in dist.requires or []:
            spec, _, marker = requirement.partition(";")
            match = _NAME.match(spec)
            if match and "extra" not in marker:
                todo.append(match.group(1))
    return dict(sorted(seen.items()))
