"""Guards for the moto names patched by omics_toolkit.local.patches.lambda_exec (moto 5.2.x)."""

from __future__ import annotations

import inspect
import io
import json
import zipfile

import pytest

from omics_toolkit.local import lambda_runtime
from omics_toolkit.local.patches import lambda_exec


def test_invoke_lambda_symbol_and_signature() -> None:
    from moto.awslambda import models

    fn = getattr(models.LambdaFunction, "_invoke_lambda", None)
    assert fn is not None, (
        "moto.awslambda.models.LambdaFunction._invoke_lambda is gone: "
        "omics_toolkit.local.patches.lambda_exec must be ported to the new moto"
    )
    params = list(inspect.signature(fn).parameters)
    assert params == ["self", "event"], (
        f"moto.awslambda.models.LambdaFunction._invoke_lambda{params} changed signature "
        "(expected (self, event) -> (payload, errored, logs)); port lambda_exec"
    )


def test_callers_still_use_invoke_lambda() -> None:
    from moto.awslambda import models

    source = inspect.getsource(models.LambdaFunction.invoke)
    assert "res, errored, logs = self._invoke_lambda(" in source, (
        "moto.awslambda.models.LambdaFunction.invoke no longer unpacks "
        "self._invoke_lambda(...) as (payload, errored, logs); port lambda_exec"
    )


def test_function_attributes_used_by_the_patch(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws
    from moto.awslambda.models import lambda_backends

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "def h(e, c):\n    return e\n")
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        boto3.client("lambda", region_name="us-east-1").create_function(
            FunctionName="f",
            Runtime="python3.11",
            Role=role,
            Handler="app.h",
            Code={"ZipFile": buf.getvalue()},
        )
        fn = lambda_backends["123456789012"]["us-east-1"].get_function("f")
        for name in (
            "code_bytes",
            "code_sha_256",
            "handler",
            "timeout",
            "memory_size",
            "environment_vars",
            "logs_group_name",
            "logs_backend",
            "function_arn",
            "version",
            "run_time",
            "region",
            "function_name",
        ):
            assert hasattr(fn, name), (
                f"moto LambdaFunction lost attribute {name!r}; port lambda_exec"
            )
        assert fn.code_bytes == buf.getvalue()


def test_apply_is_idempotent() -> None:
    from moto.awslambda.models import LambdaFunction

    lambda_exec.apply()
    lambda_exec.apply()
    assert LambdaFunction._invoke_lambda is lambda_exec._invoke_lambda


def test_runtime_error_payload_has_lambda_shape(tmp_path, monkeypatch) -> None:
    (tmp_path / "mod.py").write_text(
        "class QcFailedError(Exception):\n    pass\n"
        "def handler(event, context):\n    raise QcFailedError('low coverage ' + str(event['x']))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = lambda_runtime.run("mod.handler", {"x": 3}, deadline_ms=0)
    assert out["ok"] is False
    payload = out["payload"]
    assert payload["errorType"] == "QcFailedError"
    assert payload["errorMessage"] == "low coverage 3"
    assert isinstance(payload["stackTrace"], list) and payload["stackTrace"]
    json.dumps(payload)


def test_runtime_import_and_marshal_errors(tmp_path, monkeypatch) -> None:
    (tmp_path / "bad.py").write_text("def handler(event, context):\n    return object()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert (
        lambda_runtime.run("nope.handler", {}, 0)["payload"]["errorType"]
        == "Runtime.ImportModuleError"
    )
    assert (
        lambda_runtime.run("bad.missing", {}, 0)["payload"]["errorType"]
        == "Runtime.HandlerNotFound"
    )
    assert (
        lambda_runtime.run("bad.handler", {}, 0)["payload"]["errorType"] == "Runtime.MarshalError"
    )


def test_extract_code_once_per_sha(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OMICS_TOOLKIT_LAMBDA_CACHE", str(tmp_path))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("pkg/app.py", "X = 1\n")
    first = lambda_exec.extract_code(buf.getvalue(), "abc+/=")
    (first / "marker").write_text("kept")
    second = lambda_exec.extract_code(buf.getvalue(), "abc+/=")
    assert first == second and (second / "pkg" / "app.py").read_text() == "X = 1\n"
    assert (second / "marker").exists()
