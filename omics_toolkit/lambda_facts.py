"""Facts of AWS Lambda's Python runtimes and size limits, read by provisioning and the local stack.

Data, not behaviour: the runtime table (operating system, its glibc, deprecation dates), the
limit on a function's unzipped code plus layers, and the reading of wheel tags (PEP 425/600) that
decides whether a compiled wheel can load on a runtime. Provisioning uses them to pick and check
what it publishes; the local stack's Lambda (``omics_toolkit.local.patches.lambda_limits`` and
``lambda_exec``) refuses and fails what Lambda refuses and fails.

Sources (checked late 2026):

- Lambda developer guide, "Lambda runtimes" (``lambda-runtimes``) and "Building Lambda functions
  with Python" (``lambda-python``): identifier, operating system, deprecation date, "Block function
  create", "Block function update" per runtime.
- Lambda developer guide, "Lambda quotas": "Deployment package (.zip file archive) size: 250 MB
  (unzipped)", "the maximum unzipped size for the function and all layers"; the API's error says
  ``262144000`` bytes (250 MiB).
- glibc of the runtime operating systems: Amazon Linux 2 ships glibc 2.26, Amazon Linux 2023
  glibc 2.34 (the manylinux tags a wheel must carry: ``manylinux_2_26`` / ``manylinux_2_34`` or
  lower, ``manylinux2014`` = ``manylinux_2_17``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

#: Lambda's limit on a function's code plus all its layers, unzipped, bytes (262,144,000 =
#: 250 MiB; the figure in CreateFunction's InvalidParameterValueException).
UNZIPPED_LIMIT_BYTES = 262_144_000
#: Ephemeral storage (``/tmp``) Lambda allows, MB (``EphemeralStorage.Size`` 512..10240).
MAX_EPHEMERAL_STORAGE_MB = 10240
#: Glibc of each runtime operating system (major, minor).
OS_GLIBC = {"Amazon Linux 2": (2, 26), "Amazon Linux 2023": (2, 34)}


@dataclass(frozen=True)
class Runtime:
    """One Lambda-managed runtime.

    Attributes:
        identifier: ``Runtime`` parameter value (``python3.13``).
        python: CPython version (major, minor).
        os: operating system name (a key of :data:`OS_GLIBC`).
        deprecation: deprecation date; ``block_create`` / ``block_update``: from that day on
            CreateFunction / Update* with this runtime fail. ``None``: not announced.
    """

    identifier: str
    python: tuple[int, int]
    os: str
    deprecation: dt.date | None
    block_create: dt.date | None
    block_update: dt.date | None

    @property
    def glibc(self) -> tuple[int, int]:
        """The glibc of the runtime's operating system."""
        return OS_GLIBC[self.os]

    @property
    def abi(self) -> str:
        """The CPython ABI tag of the runtime's interpreter (``cp313``)."""
        return f"cp{self.python[0]}{self.python[1]}"

    def blocked(self, operation: str, today: dt.date) -> bool:
        """Whether Lambda refuses ``operation`` (``"create"`` or ``"update"``) with it on ``today``."""
        day = self.block_create if operation == "create" else self.block_update
        return day is not None and today >= day


_D = dt.date
#: Lambda's Python runtimes ("Building Lambda functions with Python", late 2026). python3.14's
#: dates are left unset: the pages read disagreed.
RUNTIMES: dict[str, Runtime] = {
    r.identifier: r
    for r in (
        Runtime("python3.9", (3, 9), "Amazon Linux 2", _D(2025, 12, 15), _D(2026, 2, 3), _D(2026, 3, 9)),
        Runtime("python3.10", (3, 10), "Amazon Linux 2", _D(2026, 6, 30), _D(2026, 7, 31), _D(2026, 8, 31)),
        Runtime("python3.11", (3, 11), "Amazon Linux 2", _D(2026, 6, 30), _D(2026, 7, 31), _D(2026, 8, 31)),
        Runtime("python3.12", (3, 12), "Amazon Linux 2023", _D(2028, 10, 31), _D(2028, 11, 30), _D(2029, 1, 10)),
        Runtime("python3.13", (3, 13), "Amazon Linux 2023", _D(2029, 6, 30), _D(2029, 7, 31), _D(2029, 8, 31)),
        Runtime("python3.14", (3, 14), "Amazon Linux 2023", None, None, None),
    )
}  # fmt: skip
#: The runtime of the toolkit's functions and layers: the newest whose locked wheels
#: (uv.lock: pyarrow, cyvcf2, numpy, pyiceberg) all exist for it, on Amazon Linux 2023.
FUNCTION_RUNTIME = "python3.13"


def runtime(identifier: str) -> Runtime | None:
    """The facts of ``identifier`` (``None``: not a Python runtime known here)."""
    return RUNTIMES.get(identifier)


def newest_runtime(identifier: str) -> str:
    """The newest runtime of ``identifier``'s language (what Lambda's refusal recommends)."""
    family = re.sub(r"[\d.]+(\.x)?$", "", identifier)
    same = [r for r in RUNTIMES.values() if r.identifier.startswith(family)]
    return max(same, key=lambda r: r.python).identifier if same else identifier


def blocked_runtime_message(identifier: str) -> str:
    """Lambda's InvalidParameterValueException message for a runtime past its block date."""
    return (
        f"The runtime parameter of {identifier} is no longer supported for creating or updating "
        f"AWS Lambda functions. We recommend you use the new runtime ({newest_runtime(identifier)}) "
        "while creating or updating functions."
    )


def too_large_message(actual_bytes: int) -> str:
    """Lambda's InvalidParameterValueException message for code + layers over the limit."""
    return (
        "Function code combined with layers exceeds the maximum allowed size of "
        f"{UNZIPPED_LIMIT_BYTES} bytes. The actual size is {actual_bytes} bytes."
    )


# ------------------------------------------------------------------ wheel tags
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
#: What :func:`platform_glibc` answers for platforms that are not glibc Linux.
_NOT_GLIBC = (99, 0)
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def platform_glibc(platform: str) -> tuple[int, int] | None:
    """The glibc a platform tag needs (``manylinux_2_28_x86_64`` -> (2, 28)); ``None`` for
    ``any``; (99, 0) for a platform that is not glibc Linux (musllinux, macOS, Windows)."""
    if platform == "any":
        return None
    if match := _MANYLINUX.match(platform):
        return int(match.group(1)), int(match.group(2))
    for name, glibc in _LEGACY.items():
        if platform.startswith(name + "_"):
            return glibc
    return _NOT_GLIBC


def platform_machine(platform: str) -> str | None:
    """The machine of a platform tag (``x86_64``, ``aarch64``), ``None`` for ``any``."""
    if platform == "any":
        return None
    for machine in ("x86_64", "aarch64", "i686", "armv7l", "ppc64le", "s390x"):
        if platform.endswith("_" + machine):
            return machine
    return platform


@dataclass(frozen=True)
class WheelTags:
    """The tags of one wheel (``Tag:`` lines of ``*.dist-info/WHEEL``, or a wheel file name).

    Attributes:
        name: the distribution (or file) the tags belong to.
        tags: ``(python, abi, platform)`` triples, compressed tag sets expanded.
    """

    name: str
    tags: tuple[tuple[str, str, str], ...]

    @classmethod
    def from_filename(cls, filename: str) -> WheelTags:
        """Tags of a wheel file name (``numpy-2.4.6-cp313-cp313-manylinux_2_27_x86_64....whl``)."""
        parts = Path(filename).name.removesuffix(".whl").split("-")
        python, abi, platforms = parts[-3], parts[-2], parts[-1]
        return cls(
            parts[0],
            tuple(
                (p, a, pl)
                for p in python.split(".")
                for a in abi.split(".")
                for pl in platforms.split(".")
            ),
        )

    @classmethod
    def from_wheel_metadata(cls, name: str, text: str) -> WheelTags:
        """Tags of a ``WHEEL`` file's text (one ``Tag: py-abi-platform`` line per tag)."""
        tags = []
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "tag" and value.count("-") == 2:
                python, abi, platform = value.strip().split("-")
                tags.extend(
                    (p, a, pl)
                    for p in python.split(".")
                    for a in abi.split(".")
                    for pl in platform.split(".")
                )
        return cls(name, tuple(tags))

    @property
    def pure(self) -> bool:
        """Pure Python: some tag has the platform ``any`` and no specific ABI."""
        return any(pl == "any" and a in ("none", "abi3") for _, a, pl in self.tags)

    def required_glibc(self) -> tuple[int, int] | None:
        """The lowest glibc any of the tags allows (``None``: pure, any platform)."""
        needs = [platform_glibc(pl) for _, _, pl in self.tags]
        if any(n is None for n in needs) or not needs:
            return None
        return min(n for n in needs if n is not None)

    def problem(self, run: Runtime, machine: str = "x86_64", abi: str | None = None) -> str | None:
        """Why the wheel cannot load on ``run`` (``None`` when it can).

        Args:
            run: the runtime (its OS's glibc, its CPython ABI).
            machine: the function's architecture (``x86_64`` or ``aarch64``).
            abi: the CPython ABI to check against; default the runtime's (``cp313``).
        """
        if self.pure:
            return None
        want = abi or run.abi
        abis = {a for _, a, _ in self.tags}
        if not abis & {want, "abi3", "none"}:
            return (
                f"{self.name} is built for {'/'.join(sorted(abis))}, not {want} ({run.identifier})"
            )
        machines = {platform_machine(pl) for _, _, pl in self.tags} - {None}
        if machines and machine not in machines:
            return f"{self.name} is built for {'/'.join(sorted(machines))}, not {machine}"
        glibc = self.required_glibc()
        platforms = ", ".join(sorted({pl for _, _, pl in self.tags}))
        if glibc == _NOT_GLIBC:
            return f"{self.name} is built for {platforms}, not glibc Linux ({run.os})"
        if glibc is not None and glibc > run.glibc:
            return (
                f"{self.name} needs glibc {glibc[0]}.{glibc[1]} (tags {platforms}); "
                f"{run.identifier} runs on "
                f"{run.os} with glibc {run.glibc[0]}.{run.glibc[1]}"
            )
        return None
