"""Lambda runtime facts and wheel-tag rules (omics_toolkit.lambda_facts), on real wheel tags."""

from __future__ import annotations

import datetime as dt
from importlib import metadata

import pytest

from omics_toolkit.lambda_facts import (
    FUNCTION_RUNTIME,
    RUNTIMES,
    UNZIPPED_LIMIT_BYTES,
    WheelTags,
    blocked_runtime_message,
    platform_glibc,
    too_large_message,
)

AL2 = RUNTIMES["python3.11"]
AL2023 = RUNTIMES["python3.13"]


def _installed(name: str) -> WheelTags:
    dist = metadata.distribution(name)
    return WheelTags.from_wheel_metadata(name, dist.read_text("WHEEL") or "")


def test_function_runtime_is_supported_on_amazon_linux_2023_well_past_today() -> None:
    facts = RUNTIMES[FUNCTION_RUNTIME]
    assert facts.os == "Amazon Linux 2023" and facts.glibc == (2, 34)
    assert not facts.blocked("create", dt.date(2026, 12, 6))
    assert facts.block_create == dt.date(2029, 7, 31)


def test_python311_runs_on_amazon_linux_2_and_is_blocked_since_summer_2026() -> None:
    assert AL2.os == "Amazon Linux 2" and AL2.glibc == (2, 26)
    assert AL2.deprecation == dt.date(2026, 6, 30)
    assert not AL2.blocked("create", dt.date(2026, 7, 30))
    assert AL2.blocked("create", dt.date(2026, 7, 31))
    assert not AL2.blocked("update", dt.date(2026, 8, 30))
    assert AL2.blocked("update", dt.date(2026, 8, 31))


#: The WHEEL file of numpy 2.4.x's CPython 3.11 wheel for x86-64 glibc Linux (as pip installs it).
NUMPY_CP311_WHEEL = """\
Wheel-Version: 1.0
Generator: meson
Root-Is-Purelib: false
Tag: cp311-cp311-manylinux_2_27_x86_64
Tag: cp311-cp311-manylinux_2_28_x86_64
"""


def test_a_manylinux_2_27_numpy_wheel_cannot_load_on_amazon_linux_2() -> None:
    """A numpy wheel tagged manylinux_2_27/2_28 needs GLIBC_2.27, missing on AL2 (glibc 2.26)."""
    numpy = WheelTags.from_wheel_metadata("numpy", NUMPY_CP311_WHEEL)
    assert numpy.required_glibc() == (2, 27)
    problem = numpy.problem(AL2, abi="cp311")
    assert problem is not None
    assert "needs glibc 2.27" in problem and "Amazon Linux 2 with glibc 2.26" in problem
    # the same wheel on Amazon Linux 2023, judged for a cp311 interpreter: loads
    assert numpy.problem(AL2023, abi="cp311") is None
    # for the runtime's own interpreter (cp313) it is the wrong ABI
    assert "built for cp311, not cp313" in (numpy.problem(AL2023) or "")


def test_this_machines_numpy_wheel_is_judged() -> None:
    """The installed numpy's own WHEEL is read and judged, whatever its exact tags."""
    numpy = _installed("numpy")
    assert numpy.tags, "the installed numpy's WHEEL file has no Tag: lines"
    problem = numpy.problem(AL2023)
    # this machine runs CPython 3.11: never the Python 3.13 runtime's ABI
    assert problem is not None and "not cp313" in problem


@pytest.mark.parametrize(
    ("filename", "runtime", "expected"),
    [
        ("numpy-2.5.5-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", "python3.13", None),
        ("pyarrow-26.0.1-cp313-cp313-manylinux_2_28_x86_64.whl", "python3.13", None),
        ("pyarrow-26.0.1-cp311-cp311-manylinux_2_28_x86_64.whl", "python3.11", "needs glibc 2.28"),
        (
            "pyiceberg-0.12.0-cp313-cp313-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
            "python3.13",
            None,
        ),
        (
            "pyiceberg-0.12.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
            "python3.11",
            None,
        ),
        ("cyvcf2-0.35.0-cp313-cp313-musllinux_1_2_x86_64.whl", "python3.13", "not glibc Linux"),
        ("numpy-2.5.5-cp313-cp313-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl", "python3.13", "not x86_64"),
        ("numpy-2.5.5-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", "python3.13", "not cp313"),
        ("tenacity-9.2.1-py3-none-any.whl", "python3.11", None),
        ("mmh3-5.3.1-cp313-cp313-manylinux_2_35_x86_64.whl", "python3.13", "needs glibc 2.35"),
    ],
)  # fmt: skip
def test_wheel_filenames(filename: str, runtime: str, expected: str | None) -> None:
    problem = WheelTags.from_filename(filename).problem(RUNTIMES[runtime])
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


def test_platform_glibc_of_legacy_and_pep600_tags() -> None:
    assert platform_glibc("manylinux2014_x86_64") == (2, 17)
    assert platform_glibc("manylinux2010_x86_64") == (2, 12)
    assert platform_glibc("manylinux1_x86_64") == (2, 5)
    assert platform_glibc("manylinux_2_34_x86_64") == (2, 34)
    assert platform_glibc("any") is None


def test_lambda_error_messages() -> None:
    assert blocked_runtime_message("python3.11") == (
        "The runtime parameter of python3.11 is no longer supported for creating or updating AWS "
        "Lambda functions. We recommend you use the new runtime (python3.14) while creating or "
        "updating functions."
    )
    assert UNZIPPED_LIMIT_BYTES == 262_144_000
    assert too_large_message(262_144_001) == (
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
        "The actual size is 262144001 bytes."
    )
