"""omics-toolkit: stand up and run an AWS HealthOmics secondary-analysis pipeline.

The notebook-facing API is re-exported lazily so that importing the package (for example in a
Lambda handler) never pulls in pandas or pyathena::

    from omics_toolkit import query
    df = query("SELECT * FROM variants WHERE contigname = ?", ["q"])
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "query"]


def __getattr__(name: str) -> Any:
    if name == "query":
        from omics_toolkit.query import query

        return query
    raise AttributeError(name)
