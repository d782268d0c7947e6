"""The local stack's Lambda refuses what Lambda refuses (blocked runtimes, code + layers over
262,144,000 bytes unzipped) and fails imports of layer binaries the runtime's OS cannot load."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from omics_toolkit.lambda_facts import UNZIPPED_LIMIT_BYTES

APP = "def handler(event, context):\n    return {'ok': True}\n"
IMPORTS = "import fakeglibc\n\ndef handler(event, context):\n    return {'ok': fakeglibc.X}\n"


def _zip(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def role(aws: Any) -> str:
    return aws.client("iam").create_role(RoleName="otk-limits", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]


def _create(aws: Any, role: str, name: str, runtime: str = "python3.13", **extra: Any) -> Any:
    return aws.client("lambda").create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": extra.pop("code", _zip({"app.py": APP}))},
        Timeout=30,
        **extra,
    )


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = caught.value.response["Error"]
    return err["Code"], err["Message"]


BLOCKED = (
    "The runtime parameter of python3.11 is no longer supported for creating or updating AWS "
    "Lambda functions. We recommend you use the new runtime (python3.14) while creating or "
    "updating functions."
)


def test_create_with_a_runtime_past_its_block_date_is_refused(aws: Any, role: str) -> None:
    with pytest.raises(ClientError) as caught:
        _create(aws, role, "otk-limits-py311", runtime="python3.11")
    assert _error(caught) == ("InvalidParameterValueException", BLOCKED)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    names = [f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]]
    assert "otk-limits-py311" not in names


def test_update_to_a_blocked_runtime_is_refused(aws: Any, role: str) -> None:
    _create(aws, role, "otk-limits-update")
    lam = aws.client("lambda")
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(FunctionName="otk-limits-update", Runtime="python3.11")
    assert _error(caught) == ("InvalidParameterValueException", BLOCKED)
    assert lam.get_function_configuration(FunctionName="otk-limits-update")["Runtime"] == (
        "python3.13"
    )


def _zeros_layer(aws: Any, name: str, size: int) -> str:
    """A layer of ``size`` zero bytes unzipped (a few hundred KB zipped)."""
    data = _zip({"python/blob.bin": b"\0" * size})
    return aws.client("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": data}, CompatibleRuntimes=["python3.13"]
    )["LayerVersionArn"]


def test_code_plus_all_layers_over_the_limit_is_refused(aws: Any, role: str) -> None:
    """Two layers each far under the limit, together over it: Lambda counts them all."""
    half = 140_000_000
    first, second = _zeros_layer(aws, "otk-big-a", half), _zeros_layer(aws, "otk-big-b", half)
    code_bytes = len(APP)
    _create(aws, role, "otk-limits-one-layer", Layers=[first])  # 140 MB + code: fine
    with pytest.raises(ClientError) as caught:
        _create(aws, role, "otk-limits-two-layers", Layers=[first, second])
    total = 2 * half + code_bytes
    assert total > UNZIPPED_LIMIT_BYTES
    assert _error(caught) == (
        "InvalidParameterValueException",
        "Function code combined with layers exceeds the maximum allowed size of 262144000 "
        f"bytes. The actual size is {total} bytes.",
    )
    with pytest.raises(ClientError) as caught:
        aws.client("lambda").update_function_configuration(
            FunctionName="otk-limits-one-layer", Layers=[first, second]
        )
    assert _error(caught)[0] == "InvalidParameterValueException"
    assert f"The actual size is {total} bytes." in _error(caught)[1]


def _binary_layer(aws: Any, name: str, tag: str) -> str:
    so = "fakeglibc/_core.cpython-311-x86_64-linux-gnu.so"
    files = {
        "python/fakeglibc/__init__.py": "X = 1\n",
        f"python/{so}": b"\x7fELF",
        "python/fakeglibc-1.0.dist-info/WHEEL": (
            f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n"
        ),
        "python/fakeglibc-1.0.dist-info/RECORD": (
            f"fakeglibc/__init__.py,,\n{so},,\nfakeglibc-1.0.dist-info/WHEEL,,\n"
        ),
    }
    return aws.client("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": _zip(files)}, CompatibleRuntimes=["python3.13"]
    )["LayerVersionArn"]


def _invoke(aws: Any, name: str) -> tuple[dict[str, Any], bool]:
    resp = aws.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    return json.loads(resp["Payload"].read()), "FunctionError" in resp


def test_layer_needing_a_newer_glibc_fails_its_import_as_in_aws(aws: Any, role: str) -> None:
    layer = _binary_layer(aws, "otk-glibc-239", "cp311-cp311-manylinux_2_39_x86_64")
    _create(aws, role, "otk-glibc-import", code=_zip({"app.py": IMPORTS}), Layers=[layer])
    body, errored = _invoke(aws, "otk-glibc-import")
    assert errored
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == (
        "Unable to import module 'app': /lib64/libc.so.6: version `GLIBC_2.39' not found "
        "(required by /opt/python/fakeglibc/_core.cpython-311-x86_64-linux-gnu.so)"
    )
    # a function with the same layer that never imports the package runs
    _create(aws, role, "otk-glibc-unused", Layers=[layer])
    body, errored = _invoke(aws, "otk-glibc-unused")
    assert (body, errored) == ({"ok": True}, False)


def test_layer_within_the_runtimes_glibc_imports(aws: Any, role: str) -> None:
    layer = _binary_layer(aws, "otk-glibc-228", "cp311-cp311-manylinux_2_28_x86_64")
    _create(aws, role, "otk-glibc-ok", code=_zip({"app.py": IMPORTS}), Layers=[layer])
    body, errored = _invoke(aws, "otk-glibc-ok")
    assert (body, errored) == ({"ok": 1}, False)
    logs = aws.client("logs").filter_log_events(logGroupName="/aws/lambda/otk-glibc-ok")
    text = "\n".join(e["message"] for e in logs["events"])
    assert "[omics-toolkit local] python3.13 function run by CPython 3.11" in text
