"""What each patch needs of moto's internals, checked before any patch is applied.

The patches replace private moto names. A moto release that moves one of them used to show up as
a 500 in the middle of a pipeline (``'GlueResponse' object has no attribute 'parameters'``). Each
patch module now lists what it relies on in ``NEEDS`` (:class:`Needs`: a dotted name, optionally
the callable's leading parameter names and fragments of its source); :func:`check` resolves them
all at stack start and :func:`omics_toolkit.local.patches.apply_all` refuses to start with
:class:`MotoInternalsError`, which names the patch, what is missing, the installed moto and the
supported versions.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

from omics_toolkit.errors import LocalStackError

#: The moto releases the patches are written against (the ``local`` extra's range in
#: pyproject.toml; tests/unit/local/test_patch_guard.py keeps the two equal).
SUPPORTED_MOTO = ">=5.2.6,<5.3"


@dataclass(frozen=True)
class Needs:
    """One moto internal a patch relies on.

    Attributes:
        name: dotted path, module then attributes (``moto.glue.responses.GlueResponse._get_param``).
        params: the callable's first parameter names, in order (``("self", "event")``), if checked.
        source: fragments that must appear in the callable's source (a call the patch intercepts).
    """

    name: str
    params: tuple[str, ...] | None = None
    source: tuple[str, ...] = ()


class MotoInternalsError(LocalStackError):
    """The installed moto lacks internals a local-stack patch needs; the stack refuses to start.

    Attributes:
        problems: ``(patch module, problem)`` pairs.
        moto_version: the installed moto's version.
    """

    def __init__(self, problems: list[tuple[str, str]], moto_version: str) -> None:
        self.problems = problems
        self.moto_version = moto_version
        lines = "\n".join(f"  - patch {patch}: {problem}" for patch, problem in problems)
        super().__init__(
            f"the local stack cannot start on moto {moto_version}: the patches were written for "
            f"moto{SUPPORTED_MOTO} and these internals changed:\n{lines}\n"
            f"Install a supported moto: pip install 'moto[server]{SUPPORTED_MOTO}' "
            "(or rebuild the project's environment from the lock: ./scripts/setup.sh)"
        )


def moto_version() -> str:
    """The installed moto's version (``"not installed"`` when absent)."""
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        return "not installed"


def resolve(dotted: str) -> Any:
    """Import the longest module prefix of ``dotted`` and fetch the remaining attributes.

    Raises:
        LookupError: no module prefix imports, or an attribute is missing (the message names it).
    """
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for i, attr in enumerate(parts[cut:], start=cut):
            if not hasattr(obj, attr):
                raise LookupError(f"{'.'.join(parts[:i])} has no attribute {attr!r}")
            obj = getattr(obj, attr)
        return obj
    raise LookupError(f"module {parts[0]} cannot be imported")


def problems_of(needs: Iterable[Needs]) -> list[str]:
    """What is missing or changed among ``needs`` (empty when all hold)."""
    found = []
    for need in needs:
        try:
            obj = resolve(need.name)
        except LookupError as exc:
            found.append(f"{need.name} is gone ({exc})")
            continue
        if need.params is not None:
            try:
                params = tuple(inspect.signature(obj).parameters)
            except (TypeError, ValueError):
                params = ()
            if params[: len(need.params)] != need.params:
                found.append(
                    f"{need.name} takes ({', '.join(params)}), expected "
                    f"({', '.join(need.params)}, ...)"
                )
        if need.source:
            try:
                text = inspect.getsource(obj)
            except (OSError, TypeError):
                text = ""
            for fragment in need.source:
                if fragment not in text:
                    found.append(f"{need.name} no longer contains {fragment!r}")
    return found


def check(modules: Iterable[ModuleType]) -> None:
    """Check every patch module's ``NEEDS``.

    Raises:
        MotoInternalsError: one or more needs do not hold (all are listed).
    """
    problems = [
        (module.__name__.rsplit(".", 1)[-1], problem)
        for module in modules
        for problem in problems_of(getattr(module, "NEEDS", ()))
    ]
    if problems:
        raise MotoInternalsError(problems, moto_version())
