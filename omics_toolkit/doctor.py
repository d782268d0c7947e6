"""What this machine and environment have of what the toolkit needs, each with the fix.

``omics-toolkit doctor`` renders :func:`run_checks`: system tools, Python modules of each extra,
installed versions against the project's lock (:mod:`omics_toolkit.lockfile`), the moto release
and internals the local stack's patches need (:mod:`omics_toolkit.local.patches.guard`), the
Athena wire protocol of the installed botocore, and whether the local stack runs.
``omics-toolkit doctor --target aws`` checks an account instead (:mod:`omics_toolkit.account_checks`).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from omics_toolkit import lockfile

#: Debian/Ubuntu tools the pipeline runs locally, and the apt package of each.
SYSTEM_TOOLS = (
    ("bwa", "bwa"),
    ("samtools", "samtools"),
    ("bcftools", "bcftools"),
    ("tabix", "tabix"),
    ("apt-get", "apt"),
    ("dpkg-deb", "dpkg"),
)
#: Python modules and the extra that brings each.
MODULES = (
    ("moto", "local"),
    ("WDL", "local"),
    ("duckdb", "local"),
    ("sqlglot", "local"),
    ("cyvcf2", "local"),
    ("pysam", "local"),
    ("pyathena", "core"),
)


@dataclass(frozen=True)
class Check:
    """One line of the report.

    Attributes:
        check: what was checked (``bwa``, ``lock: boto3``, ``local stack: moto``).
        ok: ``False`` when something must be fixed.
        result: what was found.
        fix: the command (or step) that fixes it, when not ``ok``.
    """

    check: str
    ok: bool
    result: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The check as a JSON-ready dict."""
        return asdict(self)


def _tools() -> list[Check]:
    return [
        Check(tool, True, "ok")
        if shutil.which(tool)
        else Check(tool, False, "missing", f"sudo apt-get install {pkg}")
        for tool, pkg in SYSTEM_TOOLS
    ]


def _modules() -> list[Check]:
    return [
        Check(module, True, "ok")
        if find_spec(module)
        else Check(module, False, "missing", f"pip install 'omics-toolkit[{extra}]'")
        for module, extra in MODULES
    ]


def lock_checks(lock: Path | None) -> list[Check]:
    """Installed distributions against ``lock`` (one check per difference, or one that says ok)."""
    if lock is None:
        return [
            Check(
                "lock",
                True,
                "installed as a package: pyproject.toml's ranges apply, no lock to compare",
            )
        ]
    drifted = lockfile.drift(lock)
    if not drifted:
        count = len(lockfile.for_this_environment(lockfile.read_lock(lock)))
        return [Check("lock", True, f"the environment is {lock.name} ({count} distributions)")]
    fix = " && ".join(lockfile.fix_commands(lock, drifted))
    return [Check(f"lock: {d.name}", False, d.describe(), fix) for d in drifted]


def local_stack_checks() -> list[Check]:
    """The moto release and the internals the local stack's patches need."""
    if find_spec("moto") is None:
        return []
    from packaging.specifiers import SpecifierSet

    from omics_toolkit.local.patches import guard, modules

    version = guard.moto_version()
    fix = f"pip install 'moto[server]{guard.SUPPORTED_MOTO}'"
    checks = []
    if version in SpecifierSet(guard.SUPPORTED_MOTO):
        checks.append(Check("local stack: moto", True, f"{version} (supported)"))
    else:
        checks.append(
            Check(
                "local stack: moto",
                False,
                f"{version} is outside the supported moto{guard.SUPPORTED_MOTO}",
                fix,
            )
        )
    for module in modules():
        name = module.__name__.rsplit(".", 1)[-1]
        for problem in guard.problems_of(getattr(module, "NEEDS", ())):
            checks.append(Check(f"local stack: patch {name}", False, problem, fix))
    return checks


def athena_protocol() -> Check:
    """The wire protocol the installed botocore speaks to Athena (both work on the local stack)."""
    from omics_toolkit.aws.session import service_protocol

    return Check(
        "botocore: Athena protocol",
        True,
        f"{service_protocol('athena')} (botocore {metadata.version('botocore')})",
    )


def run_checks(local_dir: Path) -> list[Check]:
    """Every check, in report order. ``local_dir`` is the local stack's state directory."""
    from omics_toolkit.local.stack import lifecycle

    checks = [*_tools(), *_modules(), *lock_checks(lockfile.project_lock())]
    checks.extend(local_stack_checks())
    checks.append(athena_protocol())
    running = lifecycle.status(local_dir)
    checks.append(
        Check(
            "local stack",
            True,
            f"running (pid {running['pid']})" if running else "not running",
        )
    )
    return checks
