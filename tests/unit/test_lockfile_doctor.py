"""The lock, its agreement with pyproject.toml, and `doctor`'s report of drift from it."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from omics_toolkit import doctor, lockfile

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / lockfile.LOCK_FILE
TARGETS = [
    {"sys_platform": "linux", "platform_machine": machine, "python_full_version": version}
    for machine in ("x86_64", "aarch64")
    for version in ("3.11.4", "3.12.8", "3.13.1")
]


def test_the_lock_is_found_and_pins_with_hashes() -> None:
    assert lockfile.project_lock() == LOCK
    text = LOCK.read_text()
    pins = lockfile.read_lock(LOCK)
    assert len(pins) > 100
    # every pin is followed by at least one sha256
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert all("--hash=sha256:" in block for block in blocks if "==" in block)


@pytest.mark.parametrize(
    "target", TARGETS, ids=lambda t: f"{t['platform_machine']}-py{t['python_full_version']}"
)
def test_every_declared_dependency_is_locked_within_its_range(target: dict[str, str]) -> None:
    """A pyproject.toml edit without `make lock` fails here, for each target environment."""
    from packaging.markers import Marker

    pins: dict[str, str] = {}
    for pin in lockfile.read_lock(LOCK):
        env = {**target, "python_version": target["python_full_version"].rsplit(".", 1)[0]}
        if pin.marker is None or Marker(pin.marker).evaluate(env):
            assert pin.name not in pins, f"{pin.name} pinned twice for {target}"
            pins[pin.name] = pin.version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared.extend(extra)
    for line in declared:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name == "omics-toolkit":
            continue
        assert name in pins, f"{line} is not in {LOCK.name}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{LOCK.name} pins {name}=={pins[name]} outside {line!r}: run `make lock`"
        )


def _drifted_lock(tmp_path: Path) -> Path:
    # whatever boto3 the lock pins (the drift guard's environment may run a newer one)
    text = re.sub(r"^boto3==\S+ ", "boto3==1.0.0 ", LOCK.read_text(), count=1, flags=re.M)
    # drop six from the lock: it stays installed, so it is an extra
    text = re.sub(r"\nsix==[^\n]*(\n    [^\n]*)*", "", text)
    lock = tmp_path / lockfile.LOCK_FILE
    lock.write_text(text)
    return lock


def test_drift_names_versions_and_extras(tmp_path: Path) -> None:
    if "six" not in lockfile.installed():
        pytest.skip("six is not installed here")
    lock = _drifted_lock(tmp_path)
    drifted = {d.name: d for d in lockfile.drift(lock)}
    assert drifted["boto3"].locked == "1.0.0"
    assert drifted["boto3"].installed == lockfile.installed()["boto3"]
    assert drifted["six"].locked is None
    assert "not in the lock" in drifted["six"].describe()
    fixes = lockfile.fix_commands(lock, list(drifted.values()))
    assert fixes[0].endswith(f"-m pip install --require-hashes --no-deps -r {lock}")
    assert fixes[1].endswith("-m pip uninstall -y six") or "six" in fixes[1]


def test_doctor_reports_drift_with_the_fix_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omics_toolkit.cli.main import app

    lock = _drifted_lock(tmp_path)
    monkeypatch.setattr(lockfile, "project_lock", lambda: lock)
    monkeypatch.setenv("OMICS_TOOLKIT_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["--json", "doctor"])
    assert result.exit_code == 1, result.output
    checks = {c["check"]: c for c in json.loads(result.stdout)}
    boto3 = checks["lock: boto3"]
    assert boto3["ok"] is False and "lock 1.0.0" in boto3["result"]
    assert "pip install --require-hashes --no-deps -r" in boto3["fix"]
    assert checks["botocore: Athena protocol"]["result"].split()[0] in ("json", "rest-json")


def test_doctor_flags_a_moto_outside_the_supported_range(monkeypatch: pytest.MonkeyPatch) -> None:
    from omics_toolkit.local.patches import guard

    monkeypatch.setattr(guard, "moto_version", lambda: "5.3.0")
    found = {c.check: c for c in doctor.local_stack_checks()}
    moto = found["local stack: moto"]
    assert not moto.ok and f"moto{guard.SUPPORTED_MOTO}" in moto.result
    assert moto.fix == f"pip install 'moto[server]{guard.SUPPORTED_MOTO}'"
