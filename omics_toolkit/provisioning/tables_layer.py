"""The Lambda layer ``<deployment>-tables``: the variant loader's dependencies (pyiceberg, pyarrow,
cyvcf2 and what they require).

Lambda's Python runtime has boto3 only, so the loader needs these in a layer. Two builds:

- **For AWS** (:func:`aws_layer_dir`): the wheels PyPI publishes for the function's platform
  (:data:`omics_toolkit.lambda_facts.FUNCTION_RUNTIME`: CPython 3.13 on Amazon Linux 2023, glibc
  2.34, x86_64), at the versions ``requirements.lock`` pins for that interpreter, hash-checked
  (``pip install --only-binary=:all: --platform manylinux_2_34_x86_64 ... --python-version 3.13
  --implementation cp --abi cp313 --target ... --require-hashes --no-deps``), then every
  installed wheel's ``WHEEL`` tags checked against the runtime (glibc <= the OS's, the runtime's
  ABI). This machine's own wheels (CPython 3.11, numpy/pyarrow tagged manylinux_2_28) never go to
  AWS: they would fail to import there. Needs PyPI (or a pip index configured for pip).
- **For the local stack** (:func:`installed_layer_files`): this environment's installed files,
  because the local stack runs every function with this machine's interpreter (see
  ``omics_toolkit.local.patches.lambda_exec``).

Both drop what the loader never imports (Arrow Flight, headers, Cython sources, test suites, byte
code) and are cached per set of versions. The layer is larger than Lambda's 50 MB direct-upload
limit, so it is published from S3 (the deployment's output bucket, ``lambda-layers/``). Lambda's
limit on a function's unzipped code plus all its layers is checked by
:func:`omics_toolkit.provisioning.functions.check_combined_size` before anything is published.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from omics_toolkit.config import default_home
from omics_toolkit.distributions import closure, normalise
from omics_toolkit.errors import UserError
from omics_toolkit.lambda_facts import FUNCTION_RUNTIME, OS_GLIBC, RUNTIMES, WheelTags
from omics_toolkit.lockfile import Locked, for_environment, project_lock, read_lock
from omics_toolkit.provisioning.layers import ensure_layer
from omics_toolkit.ziputil import deterministic_zip

if TYPE_CHECKING:
    from omics_toolkit.provisioning.core import Steps

KIND = "lambda layer"
DISTRIBUTIONS = ("pyiceberg", "pyarrow", "cyvcf2")
#: Provided by the Lambda Python runtime (boto3 and its dependencies) or another layer.
PROVIDED = ("boto3", "aws-lambda-powertools")
#: Seconds ``pip install`` may take to fetch the wheels for the AWS layer.
PIP_TIMEOUT_SECONDS = 900
_PRUNED = re.compile(
    r"(^|/)(__pycache__|tests?|include|src)/|\.(pyc|pyx|pxd|pxi|h|hpp|cc|cpp)$"
    r"|^pyarrow/(lib)?_?(arrow_)?flight"
)


def layer_name(deployment: str) -> str:
    """``<deployment>-tables``."""
    return f"{deployment}-tables"


def distributions() -> list[metadata.Distribution]:
    """The layer's distributions: the closure of :data:`DISTRIBUTIONS` minus :data:`PROVIDED`'s.

    Raises:
        UserError: pyiceberg, pyarrow or cyvcf2 is not installed (``pip install
            'omics-toolkit[tables]'``).
    """
    wanted = closure(DISTRIBUTIONS)
    missing = [d for d in DISTRIBUTIONS if normalise(d) not in wanted]
    if missing:
        raise UserError(
            f"the S3 Tables back end needs {', '.join(missing)} installed to build its Lambda "
            "layer: pip install 'omics-toolkit[tables]'"
        )
    provided = closure(PROVIDED)
    return [wanted[k] for k in sorted(wanted) if k not in provided]


def _files(dists: list[metadata.Distribution]) -> list[tuple[str, Path]]:
    out = []
    for dist in dists:
        for file in dist.files or []:
            rel = PurePosixPath(str(file))
            if rel.parts and rel.parts[0] == ".." or _PRUNED.search(str(rel)):
                continue
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                out.append((str(rel), path))
    return sorted(out)


def installed_layer_files() -> tuple[str, list[tuple[str, Path]]]:
    """The local stack's layer: ``(cache key, files)`` from this environment's installed wheels."""
    dists = distributions()
    key = "\n".join(f"{d.metadata['Name']}=={d.version}" for d in dists)
    return key, _files(dists)


def target_environment(run_time: str = FUNCTION_RUNTIME, machine: str = "x86_64") -> dict[str, str]:
    """PEP 508 marker variables of a Lambda runtime (to pick the lock's pins for it)."""
    facts = RUNTIMES[run_time]
    version = f"{facts.python[0]}.{facts.python[1]}"
    return {
        "python_version": version,
        "python_full_version": f"{version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_machine": machine,
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
    }


def aws_pins(run_time: str = FUNCTION_RUNTIME, lock: Path | None = None) -> list[Locked]:
    """The layer's distributions pinned for ``run_time`` (x86_64 Linux) by the project lock.

    The names are :func:`distributions`' (the installed dependency closure of pyiceberg, pyarrow,
    cyvcf2 minus boto3/Powertools); the versions and hashes the lock's for the target (numpy
    2.5.5 for CPython 3.13 where this machine's 3.11 has 2.4.6).

    Raises:
        UserError: no lock (a wheel install: provision from a source checkout), or a
            distribution the lock does not pin for the target.
    """
    lock = lock or project_lock()
    if lock is None:
        raise UserError(
            "building the AWS tables layer needs the project's requirements.lock (its pins and "
            "hashes for the Lambda runtime): provision from a source checkout"
        )
    pins = for_environment(read_lock(lock), target_environment(run_time))
    names = [normalise(str(d.metadata["Name"])) for d in distributions()]
    missing = [n for n in names if n not in pins]
    if missing:
        raise UserError(
            f"{lock} pins no version of {', '.join(missing)} for {run_time}: regenerate it "
            "with `make lock`"
        )
    return [pins[n] for n in names]


def manylinux_platforms(glibc: tuple[int, int], machine: str = "x86_64") -> list[str]:
    """Every manylinux platform tag a system with ``glibc`` accepts, newest first (pip's
    ``--platform`` takes each literally: ``manylinux_2_34`` does not imply ``manylinux_2_28``)."""
    major, minor = glibc
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 4, -1)]
    legacy = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
    tags += [f"{name}_{machine}" for name, m in legacy.items() if m <= minor]
    return tags


def check_wheels(root: Path, run_time: str = FUNCTION_RUNTIME) -> None:
    """Every ``*.dist-info/WHEEL`` under ``root`` must load on ``run_time`` (x86_64).

    Raises:
        UserError: a wheel needs a newer glibc, another ABI or machine (each one is named).
    """
    facts = RUNTIMES[run_time]
    problems = []
    for wheel in sorted(root.glob("*.dist-info/WHEEL")):
        tags = WheelTags.from_wheel_metadata(wheel.parent.name, wheel.read_text())
        if problem := tags.problem(facts):
            problems.append(problem)
    if problems:
        raise UserError(
            f"the tables layer for {run_time} holds wheels that cannot load there:\n  "
            + "\n  ".join(problems)
        )


def aws_layer_dir(
    home: Path | None = None, run_time: str = FUNCTION_RUNTIME, lock: Path | None = None
) -> tuple[str, Path]:
    """Install (once per set of pins) the AWS layer's wheels; return ``(cache key, directory)``.

    ``pip install`` of this environment downloads the wheels for ``run_time`` from the configured
    index (PyPI) into ``<home>/cache/tables-layer/aws-<digest>/``, then :func:`check_wheels`.

    Raises:
        UserError: no lock, pip is not installed in this environment (it is not a dependency of
            the toolkit), pip failed (no index access, a wheel missing for the platform), or a
            wheel that cannot load on the runtime.
    """
    facts = RUNTIMES[run_time]
    pins = aws_pins(run_time, lock)
    requirements = "".join(
        f"{p.name}=={p.version} " + " ".join(f"--hash={h}" for h in p.hashes) + "\n" for p in pins
    )
    key = f"{run_time}\n{requirements}"
    target = (
        (home or default_home())
        / "cache"
        / "tables-layer"
        / ("aws-" + hashlib.sha256(key.encode()).hexdigest()[:16])
    )
    if target.is_dir():
        return key, target
    if importlib.util.find_spec("pip") is None:
        raise UserError(
            f"the tables layer's wheels for {run_time} are downloaded with pip, which is not "
            f"installed in this Python environment ({sys.executable}); install it "
            f"({sys.executable} -m ensurepip, or `uv pip install pip` in a uv environment) and "
            "provision again"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=target.parent) as tmp:
        req_file = Path(tmp) / "requirements.txt"
        req_file.write_text(requirements)
        staging = Path(tmp) / "site"
        platforms = [
            arg for tag in manylinux_platforms(OS_GLIBC[facts.os]) for arg in ("--platform", tag)
        ]
        cmd = [
            sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary=:all:",
            *platforms, "--python-version", f"{facts.python[0]}.{facts.python[1]}",
            "--implementation", "cp", "--abi", facts.abi, "--target", str(staging),
            "--require-hashes", "--no-compile", "--disable-pip-version-check", "--quiet",
            "-r", str(req_file),
        ]  # fmt: skip
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "PIP_NO_INPUT": "1"},
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
            raise UserError(
                f"downloading the tables layer's wheels for {run_time} failed (pip needs PyPI "
                f"or a configured index):\n{tail}"
            )
        check_wheels(staging, run_time)
        shutil.rmtree(staging / "bin", ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:  # another process cached the same pins first
            pass
    return key, target


def _dir_files(root: Path) -> list[tuple[str, Path]]:
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not _PRUNED.search(rel):
            out.append((rel, path))
    return sorted(out)


def layer_zip(home: Path | None = None, for_aws: bool = False) -> tuple[Path, int]:
    """Build (once per set of versions) the layer zip; return its path and unzipped size (bytes).

    Files go under ``python/`` (Lambda adds ``/opt/python`` to ``sys.path``), deterministic zip.

    Args:
        for_aws: PyPI wheels for the function's runtime (:func:`aws_layer_dir`); else this
            environment's installed files (the local stack).
    """
    if for_aws:
        key, root = aws_layer_dir(home)
        files = _dir_files(root)
    else:
        key, files = installed_layer_files()
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    cache = (home or default_home()) / "cache" / "tables-layer"
    target = cache / f"{'aws-' if for_aws else ''}{digest}.zip"
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        data = deterministic_zip((f"python/{rel}", path.read_bytes()) for rel, path in files)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)
    with zipfile.ZipFile(target) as zf:
        size = sum(i.file_size for i in zf.infolist())
    return target, size


def ensure_tables_layer(prov: Steps, bucket: str, built: tuple[Path, int] | None = None) -> str:
    """Publish the tables layer from ``s3://bucket/lambda-layers/`` unless the same content exists.

    Compares ``Content.CodeSha256`` of existing versions (ListLayerVersions, GetLayerVersion),
    else PutObject + PublishLayerVersion (``Content.S3Bucket``/``S3Key``). Reports ``lambda layer
    <deployment>-tables`` ``create`` or ``unchanged``.

    Args:
        built: ``(zip path, unzipped bytes)`` from :func:`layer_zip`; built here when omitted
            (for AWS when the target enforces Lambda's limits, else from installed files).

    Returns:
        The LayerVersionArn (a placeholder in a dry run that would publish).

    Raises:
        UserError: missing packages or lock, or wheels that cannot load on the runtime.
    """
    path, unzipped = built or layer_zip(prov.settings.home, prov.ctx.lambda_limits_enforced)
    data = path.read_bytes()
    name = layer_name(prov.names.deployment)

    def upload() -> dict[str, str | bytes]:
        key = f"lambda-layers/{name}-{hashlib.sha256(data).hexdigest()[:16]}.zip"
        prov.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
        return {"S3Bucket": bucket, "S3Key": key}

    return ensure_layer(
        prov,
        name,
        data,
        upload,
        f"{len(data) // 2**20} MB zipped, {unzipped} bytes unzipped",
        Description="pyiceberg, pyarrow, cyvcf2 for the omics-toolkit variant loader",
        CompatibleArchitectures=["x86_64"],
    )
