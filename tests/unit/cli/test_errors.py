"""User errors print one line saying what to fix, exit 1, and never a traceback."""

import subprocess
import sys


def _cli(*args: str, home) -> subprocess.CompletedProcess:
    env = {"OMICS_TOOLKIT_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_unknown_profile(tmp_path):
    r = _cli("--target", "aws", "--profile", "no-such-profile", "runs", home=tmp_path)
    assert r.returncode == 1
    assert "no-such-profile" in r.stderr and "Traceback" not in r.stderr


def test_local_stack_not_running(tmp_path):
    r = _cli("runs", home=tmp_path)
    assert r.returncode == 1
    assert "omics-toolkit local start" in r.stderr and "Traceback" not in r.stderr


def test_bad_setting(tmp_path):
    r = _cli("--target", "azure", "runs", home=tmp_path)
    assert r.returncode == 1 and "target must be one of local, aws" in r.stderr


def test_bad_run_option_flags(tmp_path):
    r = _cli("provision", "--storage-capacity-gib", "2400", home=tmp_path)
    assert r.returncode == 1 and "applies to STATIC run storage only" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli("provision", "--cache-behavior", "sometimes", home=tmp_path)
    assert r.returncode == 1 and "cache_behavior must be one of" in r.stderr
    assert "(from flag)" in r.stderr


def test_usage_errors_are_not_internal_errors(tmp_path):
    r = _cli("runs", "cost", "1234567", "--json", home=tmp_path)  # --json is a global option
    assert r.returncode == 2 and "No such option: --json" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_version(tmp_path):
    r = _cli("--version", home=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "0.1.0"


def test_exit_codes_of_status_commands(tmp_path):
    assert _cli("local", "status", home=tmp_path).returncode == 3  # not running
    doctor = subprocess.run(
        [sys.executable, "-m", "omics_toolkit", "doctor"],
        capture_output=True,
        text=True,
        env={"OMICS_TOOLKIT_HOME": str(tmp_path), "PATH": str(tmp_path)},
        timeout=60,
    )
    assert doctor.returncode == 1 and "apt-get install bwa" in doctor.stdout
