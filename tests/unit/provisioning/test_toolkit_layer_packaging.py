"""The toolkit layer: built from the toolkit's own wheel, reproducibly, holding only its files."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from omics_toolkit import __version__
from omics_toolkit.errors import UserError
from omics_toolkit.provisioning import packaging
from omics_toolkit.provisioning.packaging import (
    REPO_DIR,
    build_inputs,
    build_toolkit_wheel,
    source_tree,
    toolkit_layer_zip,
)

DIST_INFO = f"python/omics_toolkit-{__version__}.dist-info/"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _copy_tree(dest: Path) -> Path:
    """A copy of the source tree's build inputs (what a checkout elsewhere would hold)."""
    for rel, path in build_inputs(REPO_DIR):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / rel)
    return dest


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frozen copy of the sources, so edits made meanwhile in the checkout cannot race a test."""
    return _copy_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def layer(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return toolkit_layer_zip(tmp_path_factory.mktemp("home"), tree)


def test_this_checkout_is_a_source_tree() -> None:
    assert source_tree() == REPO_DIR


def test_same_sources_give_a_byte_identical_layer(tree: Path, layer: bytes, tmp_path) -> None:
    # two cold builds (separate wheel caches) and one from a second copy of the same sources
    again = toolkit_layer_zip(tmp_path / "home-b", tree)
    elsewhere = toolkit_layer_zip(tmp_path / "home-c", _copy_tree(tmp_path / "copy"))
    assert _sha(again) == _sha(layer) == _sha(elsewhere)


def test_changed_source_file_changes_the_layer(layer: bytes, tmp_path) -> None:
    copy = _copy_tree(tmp_path / "copy")
    errors = copy / "omics_toolkit" / "errors.py"
    errors.write_text(errors.read_text() + "\n# changed\n")
    changed = toolkit_layer_zip(tmp_path / "home", copy)
    assert _sha(changed) != _sha(layer)
    content = zipfile.ZipFile(io.BytesIO(changed)).read("python/omics_toolkit/errors.py")
    assert content.endswith(b"# changed\n")


def test_layer_holds_only_the_toolkit_under_python(layer: bytes, tree: Path) -> None:
    archive = zipfile.ZipFile(io.BytesIO(layer))
    names = archive.namelist()
    assert names == sorted(names)
    assert all(
        n.startswith(("python/omics_toolkit/", "python/healthomics_facts/", DIST_INFO))
        for n in names
    ), names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    for name in ("pandas", "miniwdl", "WDL", "boto3", "botocore", "aws_lambda_powertools"):
        assert not any(n.startswith(f"python/{name}/") for n in names)
    sources = {
        f"python/{rel}"
        for rel, _ in build_inputs(tree)
        if rel.startswith("omics_toolkit/") and rel.endswith((".py", "py.typed"))
    }
    assert sources <= set(names)
    assert "python/omics_toolkit/pipeline/trigger.py" in names
    assert {DIST_INFO + "METADATA", DIST_INFO + "WHEEL", DIST_INFO + "RECORD"} <= set(names)
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)


def test_record_lists_every_file_with_its_digest(layer: bytes) -> None:
    archive = zipfile.ZipFile(io.BytesIO(layer))
    record = archive.read(DIST_INFO + "RECORD").decode().splitlines()
    listed = {line.split(",")[0]: line.split(",")[1] for line in record}
    shipped = {n.removeprefix("python/") for n in archive.namelist()}
    assert set(listed) == shipped
    for name, hash_ in listed.items():
        if name.endswith("/RECORD"):
            assert hash_ == ""
            continue
        digest = hashlib.sha256(archive.read("python/" + name)).digest()
        assert hash_ == "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_wheel_is_built_once_per_source_digest(tree: Path, tmp_path, monkeypatch) -> None:
    started = time.perf_counter()
    wheel = build_toolkit_wheel(tmp_path, tree)
    cold = time.perf_counter() - started

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt although the sources did not change")

    monkeypatch.setattr(packaging.subprocess, "run", no_build)
    started = time.perf_counter()
    assert build_toolkit_wheel(tmp_path, tree) == wheel
    cached = time.perf_counter() - started
    assert wheel.parent.parent == tmp_path / "cache" / "toolkit-wheel"
    assert wheel.name == f"omics_toolkit-{__version__}-py3-none-any.whl"
    print(f"toolkit wheel: cold {cold:.2f} s, cached {cached:.3f} s")  # no timed assertion


def test_nothing_is_written_to_the_source_tree(tree: Path, tmp_path) -> None:
    before = sorted(p.relative_to(tree) for p in tree.rglob("*"))
    build_toolkit_wheel(tmp_path, tree)
    assert sorted(p.relative_to(tree) for p in tree.rglob("*")) == before


def test_build_failure_is_a_user_error(tmp_path) -> None:
    copy = _copy_tree(tmp_path / "copy")
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'build-backend = "setuptools.build_meta"', 'build-backend = "no_such_backend"'
        )
    )
    with pytest.raises(UserError, match="building the omics-toolkit wheel"):
        build_toolkit_wheel(tmp_path / "home", copy)


def test_installed_wheel_without_sources_gives_the_same_layer(
    tree: Path, layer: bytes, tmp_path
) -> None:
    """Fallback: the toolkit pip-installed from its wheel, no source tree -> its RECORD's files."""
    wheel = build_toolkit_wheel(tmp_path / "home", tree)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
        + ["--target", str(site), str(wheel)],
        check=True,
    )
    assert (site / f"omics_toolkit-{__version__}.dist-info" / "INSTALLER").is_file()
    probe = (
        "import hashlib, sys\n"
        "from omics_toolkit.provisioning import packaging as p\n"
        "assert p.source_tree() is None, p.source_tree()\n"
        "sys.stdout.write(hashlib.sha256(p.toolkit_layer_zip()).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-P", "-c", probe],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == _sha(layer)
