"""The project's dependency lock (``requirements.lock``) against what this environment has installed.

``requirements.lock`` is exported by ``make lock`` from uv's universal lock (``uv.lock``): one
``name==version ; marker`` line per distribution, with ``--hash`` options, for Linux x86_64 and
aarch64 and CPython 3.11 to 3.13. ``scripts/setup.sh`` installs exactly it (``pip install
--require-hashes --no-deps``), then the project without dependencies. :func:`drift` tells what in
the current environment differs from it; ``omics-toolkit doctor`` reports that with the command that
fixes it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from omics_toolkit.errors import UserError

LOCK_FILE = "requirements.lock"
#: Distributions an environment has that no lock lists: the installer and the project itself.
NOT_LOCKED = frozenset({"pip", "omics-toolkit"})

_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class Locked:
    """One pinned distribution: PEP 503 ``name``, ``version``, the environment ``marker`` and
    the ``--hash`` values (``sha256:<hex>``) of its files."""

    name: str
    version: str
    marker: str | None
    hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Drift:
    """A difference between the lock and the environment.

    Attributes:
        name: PEP 503 distribution name.
        locked: the locked version, or ``None`` when the lock does not list it (an extra).
        installed: the installed version, or ``None`` when it is missing.
    """

    name: str
    locked: str | None
    installed: str | None

    def describe(self) -> str:
        """``boto3 1.44.19 installed, lock 1.44.18`` and the like."""
        if self.installed is None:
            return f"{self.name} missing (lock {self.locked})"
        if self.locked is None:
            return f"{self.name} {self.installed} installed, not in the lock"
        return f"{self.name} {self.installed} installed, lock {self.locked}"


def project_lock() -> Path | None:
    """The lock beside this source tree's ``pyproject.toml``; ``None`` for a wheel install."""
    root = Path(__file__).resolve().parent.parent
    lock = root / LOCK_FILE
    return lock if lock.is_file() and (root / "pyproject.toml").is_file() else None


def read_lock(path: Path) -> list[Locked]:
    """Every pinned distribution of a ``pip``-format lock (hash and comment lines skipped).

    Raises:
        UserError: the file is missing or holds no pin.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"cannot read the lock {path}: {exc.strerror}") from exc
    found: list[Locked] = []
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            name, version, marker = match.groups()
            found.append(Locked(canonicalize_name(name), version, marker or None))
        elif found and line.strip().startswith("--hash="):
            last = found[-1]
            digest = line.strip().removeprefix("--hash=").rstrip("\\").strip()
            found[-1] = Locked(last.name, last.version, last.marker, (*last.hashes, digest))
    if not found:
        raise UserError(f"{path} pins no distribution; regenerate it with `make lock`")
    return found


def for_this_environment(locked: list[Locked]) -> dict[str, str]:
    """``name -> version`` of the pins whose marker holds for this interpreter and platform."""
    return {
        pin.name: pin.version
        for pin in locked
        if pin.marker is None or Marker(pin.marker).evaluate()
    }


def for_environment(locked: list[Locked], environment: dict[str, str]) -> dict[str, Locked]:
    """``name -> pin`` of the pins whose marker holds in ``environment`` (PEP 508 marker
    variables, e.g. ``{"python_full_version": "3.13.0", "platform_machine": "x86_64", ...}``;
    unset variables take this interpreter's values)."""
    return {
        pin.name: pin
        for pin in locked
        if pin.marker is None or Marker(pin.marker).evaluate(environment)
    }


def installed() -> dict[str, str]:
    """``name -> version`` of every distribution on this interpreter's path."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def drift(lock: Path) -> list[Drift]:
    """What differs between ``lock`` (for this environment) and the installed distributions.

    Returns:
        Sorted by name: version changes, missing pins, and installed distributions the lock
        does not list (except :data:`NOT_LOCKED`). Empty when the environment is the lock.
    """
    wanted = for_this_environment(read_lock(lock))
    have = installed()
    out = []
    for name in sorted(set(wanted) | set(have)):
        if name in NOT_LOCKED:
            continue
        locked, current = wanted.get(name), have.get(name)
        if locked != current:
            out.append(Drift(name, locked, current))
    return out


def fix_commands(lock: Path, drifted: list[Drift]) -> list[str]:
    """The commands that make this environment equal to ``lock`` again."""
    python = sys.executable
    commands = []
    if any(d.locked is not None for d in drifted):
        commands.append(f"{python} -m pip install --require-hashes --no-deps -r {lock}")
    extras = [d.name for d in drifted if d.locked is None]
    if extras:
        commands.append(f"{python} -m pip uninstall -y {' '.join(extras)}")
    return commands
