"""What provisioning sends to Lambda: the AWS tables layer's wheels and pins, the combined size of
code + all layers, the Powertools layer parameter, the variant loader's memory and /tmp."""

from __future__ import annotations

from importlib import metadata
from importlib.metadata import version
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from omics_toolkit.aws.session import AwsContext
from omics_toolkit.config import Settings
from omics_toolkit.errors import UserError
from omics_toolkit.lambda_facts import MAX_EPHEMERAL_STORAGE_MB, UNZIPPED_LIMIT_BYTES
from omics_toolkit.lockfile import project_lock
from omics_toolkit.provisioning import functions, tables_layer
from omics_toolkit.provisioning.functions import FunctionSteps, check_combined_size
from omics_toolkit.provisioning.layers import LAMBDA_RUNTIME

# --------------------------------------------------------------------- AWS tables layer


def test_manylinux_platforms_for_amazon_linux_2023() -> None:
    tags = tables_layer.manylinux_platforms((2, 34))
    assert tags[0] == "manylinux_2_34_x86_64"
    assert {"manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= set(tags)
    assert {"manylinux2010_x86_64", "manylinux1_x86_64"} <= set(tags)
    assert not any(t.startswith(("manylinux_2_35", "musllinux")) for t in tags)
    assert "manylinux_2_27_x86_64" not in tables_layer.manylinux_platforms((2, 26))


def test_aws_pins_are_the_locks_for_the_function_runtime() -> None:
    assert LAMBDA_RUNTIME == "python3.13"
    pins = {p.name: p for p in tables_layer.aws_pins()}
    assert {"pyiceberg", "pyarrow", "cyvcf2", "numpy"} <= set(pins)
    assert not {"boto3", "botocore", "aws-lambda-powertools"} & set(pins)
    # the lock pins numpy 2.5.5 for CPython >= 3.12 (this machine's 3.11 has 2.4.6)
    assert pins["numpy"].version == "2.5.5"
    assert version("numpy") == "2.4.6"
    assert all(p.hashes and all(h.startswith("sha256:") for h in p.hashes) for p in pins.values())
    py311 = {p.name: p.version for p in tables_layer.aws_pins("python3.11", project_lock())}
    assert py311["numpy"] == "2.4.6"


def _dist_info(root: Path, name: str, wheel_text: str) -> None:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "WHEEL").write_text(wheel_text)


def test_check_wheels_refuses_this_machines_numpy_for_the_runtime(tmp_path: Path) -> None:
    """The wheels installed here (cp311) are what the old layer shipped: refused for python3.13
    (ABI) and for python3.11 on Amazon Linux 2 (glibc 2.27 > 2.26)."""
    numpy_wheel = metadata.distribution("numpy").read_text("WHEEL") or ""
    _dist_info(tmp_path, "numpy", numpy_wheel)
    with pytest.raises(UserError, match=r"numpy-1.0.dist-info is built for cp311, not cp313"):
        tables_layer.check_wheels(tmp_path)
    with pytest.raises(UserError, match=r"needs glibc 2.27 .* Amazon Linux 2 with glibc 2.26"):
        tables_layer.check_wheels(tmp_path, "python3.11")


def test_check_wheels_accepts_cp313_manylinux_2_28_and_refuses_2_39(tmp_path: Path) -> None:
    ok = "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp313-cp313-manylinux_2_28_x86_64\n"
    _dist_info(tmp_path / "a", "pyarrow", ok)
    tables_layer.check_wheels(tmp_path / "a")
    _dist_info(tmp_path / "a", "newer", ok.replace("2_28", "2_39"))
    with pytest.raises(UserError, match=r"newer-1.0.dist-info needs glibc 2.39"):
        tables_layer.check_wheels(tmp_path / "a")


# --------------------------------------------------------------------- combined size

TABLES = 249_288_451  # measured: the local tables layer, installed wheels, unzipped
TOOLKIT = 2_100_000


def test_combined_size_counts_code_and_every_layer() -> None:
    """Each part is under the limit, and so was the one layer the old check counted."""
    parts = {
        "function code lambdas/variant_loader": 1_400,
        "layer dev-tables": TABLES,
        "layer dev-toolkit": TOOLKIT,
        "layer arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27": 12_000_000,
    }
    assert all(size < UNZIPPED_LIMIT_BYTES for size in parts.values())
    with pytest.raises(UserError) as caught:
        check_combined_size("dev-variant-loader", parts)
    message = str(caught.value)
    total = sum(parts.values())
    assert f"{total:,} bytes" in message and "262,144,000" in message
    for name, size in parts.items():
        assert f"{name}: {size:,} bytes" in message
    check_combined_size(
        "dev-variant-loader", {k: v for k, v in parts.items() if "Powertools" not in k}
    )


# --------------------------------------------------------------------- loader sizing


def test_variant_loader_gets_max_tmp_and_memory_for_whole_genomes() -> None:
    sizing = functions.SIZINGS["variant_loader"]
    assert sizing.ephemeral_mb == MAX_EPHEMERAL_STORAGE_MB == 10240
    assert sizing.memory_mb == 3008
    assert functions.SIZINGS.get("pair_detector") is None  # 256 MB, 512 MB


# --------------------------------------------------------------------- Powertools layer


@pytest.fixture
def steps(tmp_path: Path) -> FunctionSteps:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    ctx = AwsContext(session=session)
    ctx.__dict__["account_id"] = "123456789012"
    return FunctionSteps(ctx, Settings(deployment="dev", home=tmp_path))


PREFIX = "/aws/service/powertools/python/x86_64/python3.13"
INSTALLED = version("aws-lambda-powertools")


def _arn(major: int, number: int) -> str:
    return (
        f"arn:aws:lambda:eu-west-1:017000801446:layer:"
        f"AWSLambdaPowertoolsPythonV{major}-python313-x86_64:{number}"
    )


def _param(stub: Stubber, name: str, value: str | None) -> None:
    if value is None:
        stub.add_client_error(
            "get_parameter", "ParameterNotFound", "", 400, expected_params={"Name": name}
        )
    else:
        stub.add_response(
            "get_parameter",
            {"Parameter": {"Name": name, "Type": "String", "Value": value}},
            {"Name": name},
        )


def test_powertools_installed_version_parameter_first(steps: FunctionSteps) -> None:
    with Stubber(steps.client("ssm")) as stub:
        _param(stub, f"{PREFIX}/{INSTALLED}", _arn(3, 30))
        assert steps.powertools_layer_arn() == _arn(3, 30)
        stub.assert_no_pending_responses()
    assert steps.actions[-1].detail == f"installed version {INSTALLED}"


def test_powertools_unpublished_version_falls_back_to_same_major_latest(
    steps: FunctionSteps,
) -> None:
    with Stubber(steps.client("ssm")) as stub:
        _param(stub, f"{PREFIX}/{INSTALLED}", None)
        _param(stub, f"{PREFIX}/latest", _arn(3, 31))
        assert steps.powertools_layer_arn() == _arn(3, 31)
    assert "no parameter for the installed" in steps.actions[-1].detail
    assert "same major version 3" in steps.actions[-1].detail


def test_powertools_latest_of_another_major_is_refused(steps: FunctionSteps) -> None:
    with Stubber(steps.client("ssm")) as stub:
        _param(stub, f"{PREFIX}/{INSTALLED}", None)
        _param(stub, f"{PREFIX}/latest", _arn(4, 1))
        with pytest.raises(UserError, match="not major version 3"):
            steps.powertools_layer_arn()
