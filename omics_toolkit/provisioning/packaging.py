"""Build Lambda deployment packages reproducibly (same sources -> same bytes -> same CodeSha256).

Two artefacts:

- :func:`lambda_zip` -- a function's own code: the files of ``lambdas/<function>/`` and nothing else.
- :func:`toolkit_layer_zip` -- the toolkit's own wheel as a Lambda layer (``python/...``, the
  layout the Python runtimes put on ``sys.path`` from ``/opt``). Handlers import ``omics_toolkit``
  from it. It holds only the toolkit's files: boto3 comes with the Lambda runtime, Powertools
  from the AWS-managed layer, and pandas, miniwdl, typer, ... never reach a Lambda.

Where the layer's files come from (:func:`toolkit_files`):

1. A source tree (``pyproject.toml`` next to the imported ``omics_toolkit`` package: a checkout,
   editable install or not): the wheel is built from a clean copy of the build inputs with the
   project's own PEP 517 backend (``[build-system] build-backend``) from *this* environment, with no
   build isolation (no index access), ``SOURCE_DATE_EPOCH`` fixed. The wheel is cached under
   ``<home>/cache/toolkit-wheel/<digest>/``, the digest covering the build inputs and the backend's
   version, so repeated provisions do not rebuild.
2. Otherwise (the toolkit installed from a wheel, no source tree): the installed distribution's
   files as listed in its ``RECORD`` (:mod:`importlib.metadata`), minus the files installers add
   (``INSTALLER``, ``REQUESTED``, ``direct_url.json``) -- the wheel's own content.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import omics_toolkit
from omics_toolkit.config import default_home
from omics_toolkit.errors import ToolkitError, UserError
from omics_toolkit.ziputil import deterministic_zip

LOG = logging.getLogger(__name__)

PACKAGE_DIR = Path(omics_toolkit.__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
LAMBDAS_DIR = REPO_DIR / "lambdas"
#: Distribution name of the toolkit (``[project] name``).
DISTRIBUTION = "omics-toolkit"
#: 1980-01-01T00:00:00Z, the earliest time a zip entry can hold: wheel builds ignore file mtimes.
SOURCE_DATE_EPOCH = 315532800
#: Top-level packages the layer carries: the toolkit and the HealthOmics facts it reads.
LAYER_PACKAGES = ("omics_toolkit", "healthomics_facts")
#: Files at the top of the source tree that a wheel build may read, besides the package.
_TREE_INPUTS = ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in")
#: ``*.dist-info`` files written by installers, not part of a wheel.
_INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json"})
#: Prefix of every entry of a Python layer: Lambda extracts layers into ``/opt`` and puts
#: ``/opt/python`` on ``sys.path`` (Lambda developer guide, "Packaging your layer content").
LAYER_PREFIX = "python/"
#: How long a wheel build may take before it is considered stuck, seconds.
BUILD_TIMEOUT_SECONDS = 300
#: Built wheels kept in the cache (one per source digest), most recent first.
WHEELS_KEPT = 5


def _skipped(rel: PurePosixPath) -> bool:
    """Bytecode and caches: never inputs, never shipped."""
    return "__pycache__" in rel.parts or rel.suffix in (".pyc", ".pyo")


def lambda_zip(function: str) -> bytes:
    """Zip the files of ``lambdas/<function>/`` (the handler; the toolkit comes from the layer).

    Returns:
        Zip bytes; identical inputs give identical bytes (fixed timestamps, sorted entries).

    Raises:
        UserError: the function's directory has no ``app.py``.
    """
    source = LAMBDAS_DIR / function
    if not (source / "app.py").is_file():
        raise UserError(f"no Lambda handler at {source / 'app.py'}")
    entries = []
    for path in source.rglob("*"):
        rel = PurePosixPath(path.relative_to(source).as_posix())
        if path.is_file() and not _skipped(rel) and not rel.name.startswith("."):
            entries.append((rel.as_posix(), path.read_bytes()))
    return deterministic_zip(entries)


def code_sha256(data: bytes) -> str:
    """Lambda's ``CodeSha256``: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# ------------------------------------------------------------------ the toolkit's wheel
def source_tree() -> Path | None:
    """The source tree the imported ``omics_toolkit`` comes from, or ``None`` (installed wheel).

    A source tree is a directory holding ``pyproject.toml`` of project ``omics-toolkit`` and the
    imported package as ``omics_toolkit/``.
    """
    pyproject = REPO_DIR / "pyproject.toml"
    if not pyproject.is_file() or PACKAGE_DIR != REPO_DIR / "omics_toolkit":
        return None
    try:
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
    except (tomllib.TOMLDecodeError, KeyError, OSError):
        return None
    return REPO_DIR if name == DISTRIBUTION else None


def _pyproject(tree: Path) -> dict:
    return tomllib.loads((tree / "pyproject.toml").read_text())


def build_inputs(tree: Path) -> list[tuple[str, Path]]:
    """The files a wheel build of ``tree`` reads, as ``(relative posix path, path)`` sorted.

    ``pyproject.toml`` (and ``setup.py``/``setup.cfg``/``MANIFEST.in`` if present), the readme and
    license files it names, ``LICENSE*``/``COPYING*`` files, and every file of the package except
    bytecode caches, for each of :data:`LAYER_PACKAGES`.
    """
    project = _pyproject(tree).get("project", {})
    names = set(_TREE_INPUTS)
    readme = project.get("readme")
    if isinstance(readme, dict):
        readme = readme.get("file")
    if isinstance(readme, str):
        names.add(readme)
    license_ = project.get("license")
    if isinstance(license_, dict) and "file" in license_:
        names.add(license_["file"])
    for pattern in ("LICEN[CS]E*", "COPYING*", "NOTICE*", *project.get("license-files", [])):
        names.update(p.relative_to(tree).as_posix() for p in tree.glob(pattern) if p.is_file())
    files = [(name, tree / name) for name in names if (tree / name).is_file()]
    for package in LAYER_PACKAGES:
        for path in (tree / package).rglob("*"):
            rel = PurePosixPath(path.relative_to(tree).as_posix())
            if path.is_file() and not _skipped(rel):
                files.append((rel.as_posix(), path))
    return sorted(files)


def _backend(tree: Path) -> tuple[str, str]:
    """``(backend object reference, distribution==version)`` of the tree's PEP 517 backend."""
    system = _pyproject(tree).get("build-system", {})
    backend = system.get("build-backend", "setuptools.build_meta:__legacy__")
    top = backend.split(":")[0].split(".")[0]
    for dist in (top, *importlib.metadata.packages_distributions().get(top, [])):
        try:
            return backend, f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return backend, f"{top} (not installed)"


def source_digest(tree: Path) -> str:
    """SHA-256 (hex) of the build inputs of ``tree`` and the build backend's version."""
    digest = hashlib.sha256()
    digest.update(f"backend {_backend(tree)}\n".encode())
    for rel, path in build_inputs(tree):
        data = path.read_bytes()
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def wheel_cache_dir(home: Path | None = None) -> Path:
    """Where built wheels are cached: ``<home>/cache/toolkit-wheel``."""
    return (home or default_home()) / "cache" / "toolkit-wheel"


_BUILD = """
import importlib, sys
module, _, attr = sys.argv[1].partition(":")
backend = importlib.import_module(module)
for part in filter(None, attr.split(".")):
    backend = getattr(backend, part)
backend.build_wheel(sys.argv[2])
"""


def build_toolkit_wheel(home: Path | None = None, tree: Path | None = None) -> Path:
    """Build (or reuse) the toolkit's wheel from the source tree; return the ``.whl`` path.

    The build runs ``build_wheel`` (PEP 517) of the project's backend in a child interpreter of
    this environment, in a temporary copy of :func:`build_inputs` (nothing is written to the
    source tree; stale ``build/`` directories cannot leak in), with
    ``SOURCE_DATE_EPOCH`` = 1980-01-01. No network is used: the backend must be installed here
    (``setuptools>=77`` for this project; ``scripts/setup.sh`` installs it with the dev extras).

    Args:
        home: toolkit home; the wheel is cached in ``<home>/cache/toolkit-wheel/<digest>/``.
        tree: source tree; default :func:`source_tree`.

    Raises:
        ToolkitError: there is no source tree (use :func:`toolkit_files`).
        UserError: the build failed (backend missing or too old); the message has its output.
    """
    tree = tree or source_tree()
    if tree is None:
        raise ToolkitError(f"no {DISTRIBUTION} source tree next to {PACKAGE_DIR}")
    key = source_digest(tree)
    target = wheel_cache_dir(home) / key[:32]
    built = sorted(target.glob("*.whl")) if target.is_dir() else []
    if built:
        return built[0]
    backend, backend_version = _backend(tree)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as tmp:
        src, dist = Path(tmp) / "src", Path(tmp) / "dist"
        for rel, path in build_inputs(tree):
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, src / rel)
        dist.mkdir()
        env = {
            **os.environ,
            "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "PIP_NO_INDEX": "1",
        }
        proc = subprocess.run(
            [sys.executable, "-c", _BUILD, backend, str(dist)],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
        wheels = sorted(dist.glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            requires = ", ".join(_pyproject(tree).get("build-system", {}).get("requires", []))
            raise UserError(
                f"building the {DISTRIBUTION} wheel for the Lambda layer failed with "
                f"{backend_version} (the project needs {requires or 'its build backend'}; "
                f"run scripts/setup.sh or pip install it into this environment):\n{tail}"
            )
        staging = Path(tmp) / "out"
        staging.mkdir()
        shutil.move(wheels[0], staging / wheels[0].name)
        try:
            staging.rename(target)
        except OSError:  # another process cached the same digest first
            pass
    LOG.info("built %s from %s", target, tree)
    _prune(target.parent, keep=WHEELS_KEPT)
    return sorted(target.glob("*.whl"))[0]


def _prune(cache: Path, keep: int) -> None:
    """Remove all but the ``keep`` most recently built wheels (one directory per digest)."""
    built = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
    built.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in built[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def _wheel_files(wheel: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(wheel) as archive:
        return [
            (info.filename, archive.read(info))
            for info in archive.infolist()
            if not info.is_dir() and not _skipped(PurePosixPath(info.filename))
        ]


def installed_files(path: list[str] | None = None) -> list[tuple[str, bytes]]:
    """The installed distribution's wheel files: ``omics_toolkit/...`` and its ``.dist-info``.

    Taken from the distribution's ``RECORD`` (:mod:`importlib.metadata`), found on ``path``
    (default ``sys.path``); installer-written files and bytecode are left out.

    Raises:
        ToolkitError: the toolkit is not installed, or installed editable (its files are not in
            the site directory).
    """
    dists = list(importlib.metadata.distributions(name=DISTRIBUTION, path=path or sys.path))
    if not dists:
        raise ToolkitError(f"{DISTRIBUTION} is neither a source tree nor installed")
    dist = dists[0]
    entries = []
    for file in dist.files or []:
        rel = PurePosixPath(str(file))
        if ".." in rel.parts or _skipped(rel):
            continue
        top = rel.parts[0]
        if top in LAYER_PACKAGES or (
            top.endswith(".dist-info") and rel.name not in _INSTALLER_FILES
        ):
            entries.append((rel.as_posix(), Path(str(dist.locate_file(file))).read_bytes()))
    if not any(name.startswith("omics_toolkit/") for name, _ in entries):
        raise ToolkitError(
            f"the installed {DISTRIBUTION} lists no omics_toolkit/ files in its RECORD "
            "(an editable install without its source tree?)"
        )
    return entries


def _with_record(entries: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """``entries`` with a canonical ``.dist-info/RECORD`` (PEP 376 format, sorted paths).

    Replaces the wheel's or installer's RECORD so that the layer lists exactly the files it holds
    and does not depend on how the toolkit was installed.
    """
    files = sorted((n, d) for n, d in entries if not n.endswith(".dist-info/RECORD"))
    infos = {n.split("/")[0] for n, _ in files if n.split("/")[0].endswith(".dist-info")}
    if len(infos) != 1:
        return files
    record_name = f"{infos.pop()}/RECORD"
    lines = []
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{record_name},,")
    return [*files, (record_name, ("\n".join(lines) + "\n").encode())]


def toolkit_files(home: Path | None = None, tree: Path | None = None) -> list[tuple[str, bytes]]:
    """The files of the toolkit's wheel: ``omics_toolkit/...`` and ``omics_toolkit-<v>.dist-info/...``.

    From a wheel built from the source tree when there is one (:func:`build_toolkit_wheel`),
    else from the installed distribution (:func:`installed_files`); see the module docstring.
    ``RECORD`` is rewritten canonically (:func:`_with_record`).

    Args:
        home: toolkit home (wheel cache).
        tree: source tree to build from; default :func:`source_tree`.
    """
    tree = tree or source_tree()
    if tree is not None:
        return _with_record(_wheel_files(build_toolkit_wheel(home, tree)))
    return _with_record(installed_files())


def toolkit_layer_zip(home: Path | None = None, tree: Path | None = None) -> bytes:
    """The Lambda layer of the toolkit: its wheel's files under ``python/``, deterministic zip.

    Same sources (and build backend) -> byte-identical zip, hence the same ``CodeSha256``.

    Args:
        home: toolkit home (wheel cache); default ``$OMICS_TOOLKIT_HOME`` or ``~/.omics-toolkit``.
        tree: source tree to build from; default :func:`source_tree` (installed files without).
    """
    files = toolkit_files(home, tree)
    return deterministic_zip((LAYER_PREFIX + name, data) for name, data in files)
