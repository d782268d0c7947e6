"""omics-toolkit: stand up and run an AWS HealthOmics secondary-analysis pipeline.

The notebook-facing API is re-exported lazily so that importing the package (for example in a
Lambda handler) never pulls in pandas or pyathena::

    from omics_toolkit import query, variants
    df = query("SELECT * FROM variants WHERE contigname = ?", ["q"])
    calls = variants(region="q:1-5000", min_qual=30)

(see :mod:`omics_toolkit.api`).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "query", "variants"]


def __getattr__(name: str) -> Any:
    if name in ("query", "variants"):
        from omics_toolkit import api

        return getattr(api, name)
    raise AttributeError(name)
