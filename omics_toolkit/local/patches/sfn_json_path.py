"""Step Functions JSONPath: a definite path yields a single value, as in AWS.

moto 5.2's ``moto.stepfunctions.parser.asl.utils.json_path.extract_json`` returns a list whenever
the matched node's parent was reached through an array index (its fix for moto issue 7825), so
``$.Sources[0].ReadSetId`` gives ``["123"]`` where Step Functions gives ``"123"``; every
``Parameters``, ``ResultSelector``, ``Choice`` and intrinsic-function argument is affected.

This patch keeps moto's behaviour for indefinite paths (wildcards ``[*]``/``.*``, slices, filters,
unions, recursive descent: those yield arrays in AWS too) and returns the single matched value for
definite paths. It replaces the function in its module and in every moto module that imported it
by name.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from omics_toolkit.local.patches.guard import Needs

#: The moto symbol this module replaces (checked by tests/unit/local/test_patches_sfn_json_path.py).
TARGET = "moto.stepfunctions.parser.asl.utils.json_path.extract_json"

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs("moto.stepfunctions.parser.asl.utils.json_path.extract_json", params=("path", "data")),
)

_INDEFINITE = re.compile(r"\[\s*\*\s*\]|\.\*|\[[^\]]*[:,][^\]]*\]|\.\.|\?\(")
_original: Any = None


def is_definite(path: str) -> bool:
    """True when a JSONPath can match at most one node (no wildcard, slice, union, filter, ``..``)."""
    return not _INDEFINITE.search(path)


def extract_json(path: str, data: Any) -> Any:
    """moto's ``extract_json`` with AWS's scalar result for definite paths."""
    if is_definite(path):
        from jsonpath_ng.ext import parse

        matches = parse(path).find(data)
        if len(matches) == 1:
            return matches[0].value
    return _original(path, data)


def apply() -> None:
    """Install the replacement everywhere moto bound the original (idempotent)."""
    global _original
    import importlib

    module = importlib.import_module("moto.stepfunctions.parser.asl.utils.json_path")
    if module.extract_json is extract_json:
        return
    _original = module.extract_json
    # Import the parser so every module that binds the name exists before rebinding.
    importlib.import_module("moto.stepfunctions.parser.asl.parse.asl_parser")
    for name, mod in list(sys.modules.items()):
        if (
            name.startswith("moto.stepfunctions")
            and getattr(mod, "extract_json", None) is _original
        ):
            mod.extract_json = extract_json
