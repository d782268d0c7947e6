"""Guards for the moto names patched by omics_toolkit.local.patches.lambda_exec (moto 5.2.x)."""

from __future__ import annotations

import inspect
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

from omics_toolkit.local.patches import lambda_exec
from omics_toolkit.local.stack import lambda_runtime


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
            Runtime="python3.13",
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


def _zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buf.getvalue()


def test_layer_names_used_by_the_patch(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto keeps a function's layers as [{"Arn", "CodeSize"}] and their zips on LayerVersion."""
    import boto3
    from moto import mock_aws
    from moto.awslambda.models import LambdaBackend, LayerVersion, lambda_backends

    assert hasattr(LambdaBackend, "layers_versions_by_arn"), (
        "moto LambdaBackend.layers_versions_by_arn is gone; port lambda_exec.layer_shas"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("OMICS_TOOLKIT_LAMBDA_CACHE", str(tmp_path))
    first = _zip_of({"python/shared.py": "V = 1\n", "python/a.py": ""})
    second = _zip_of({"python/shared.py": "V = 2\n"})
    with mock_aws():
        lam = boto3.client("lambda", region_name="us-east-1")
        arns = [
            lam.publish_layer_version(LayerName=name, Content={"ZipFile": data})["LayerVersionArn"]
            for name, data in (("one", first), ("two", second))
        ]
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="r", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        lam.create_function(
            FunctionName="f",
            Runtime="python3.13",
            Role=role,
            Handler="app.h",
            Code={"ZipFile": _zip_of({"app.py": ""})},
            Layers=arns,
        )
        fn = lambda_backends["123456789012"]["us-east-1"].get_function("f")
        assert [layer["Arn"] for layer in fn.layers] == arns
        version = lambda_exec._layer_version(fn, arns[0])
        assert isinstance(version, LayerVersion)
        assert version.code_bytes == first
        assert (
            version.code_sha_256
            == lam.get_layer_version(LayerName="one", VersionNumber=1)["Content"]["CodeSha256"]
        )

        opt = lambda_exec.opt_dir(fn)
        assert opt is not None
        assert (opt / "python" / "shared.py").read_text() == "V = 2\n"  # later layer wins
        assert (opt / "python" / "a.py").is_file()
        assert lambda_exec.opt_dir(fn) == opt  # cached per combination of CodeSha256

        # a deleted version keeps working once extracted (as in AWS) ...
        lam.delete_layer_version(LayerName="two", VersionNumber=1)
        assert lambda_exec.opt_dir(fn) == opt
    # ... but one never seen here cannot be run
    monkeypatch.setenv("OMICS_TOOLKIT_LAMBDA_CACHE", str(tmp_path / "other"))
    with pytest.raises(lambda_exec.LayerUnavailableError, match="does not exist"):
        lambda_exec.layer_shas(fn)


def test_runtime_site_holds_the_sdk_and_powertools_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OMICS_TOOLKIT_LAMBDA_CACHE", str(tmp_path))
    monkeypatch.setattr(lambda_exec, "_runtime_dir", None)
    site = lambda_exec.runtime_site()
    names = {p.name for p in site.iterdir()}
    for wanted in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3"):
        assert wanted in names
    assert "aws_lambda_powertools" in names and "typing_extensions.py" in names
    assert any(n.startswith("boto3-") and n.endswith(".dist-info") for n in names)
    for unwanted in ("omics_toolkit", "pandas", "moto", "WDL", "pytest"):
        assert unwanted not in names
    assert not any(n.endswith(".pth") or n.startswith("__editable__") for n in names)
    assert lambda_exec.runtime_site() == site


def test_python_path_is_in_lambda_order(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OMICS_TOOLKIT_LAMBDA_CACHE", str(tmp_path))
    task, opt = tmp_path / "task", tmp_path / "opt"
    path = lambda_exec.python_path(task, opt, "python3.11")
    assert path == [
        str(task),
        str(opt / "python" / "lib" / "python3.11" / "site-packages"),
        str(opt / "python"),
        str(lambda_exec.runtime_site()),
    ]
    assert lambda_exec.python_path(task, None, "python3.11") == [
        str(task),
        str(lambda_exec.runtime_site()),
    ]


def _numpy_layer(opt: Path, wheel_text: str | None = None) -> None:
    """An ``/opt`` holding this machine's numpy dist-info (its WHEEL tags and RECORD)."""
    from importlib import metadata

    dist = metadata.distribution("numpy")
    info = opt / "python" / f"numpy-{dist.version}.dist-info"
    info.mkdir(parents=True)
    (info / "WHEEL").write_text(wheel_text or dist.read_text("WHEEL") or "")
    (info / "RECORD").write_text(dist.read_text("RECORD") or "")


def test_this_machines_numpy_layer_fails_to_import_on_amazon_linux_2(tmp_path: Path) -> None:
    """numpy here is manylinux_2_27/2_28: on python3.11 (Amazon Linux 2, glibc 2.26) its import
    fails as the dynamic loader fails it in AWS."""
    _numpy_layer(tmp_path)
    errors = lambda_exec.binary_import_errors(tmp_path, "python3.11")
    assert set(errors) == {"numpy"}
    assert errors["numpy"].startswith("/lib64/libc.so.6: version `GLIBC_2.27' not found ")
    assert "(required by /opt/python/numpy/" in errors["numpy"]
    assert errors["numpy"].endswith(".cpython-311-x86_64-linux-gnu.so)")
    # Amazon Linux 2023 has glibc 2.34; the host interpreter (cp311) runs the code: it loads
    assert lambda_exec.binary_import_errors(tmp_path, "python3.13") == {}


def test_layer_built_for_the_declared_abi_says_the_host_cannot_load_it(tmp_path: Path) -> None:
    _numpy_layer(tmp_path, "Root-Is-Purelib: false\nTag: cp313-cp313-manylinux_2_28_x86_64\n")
    errors = lambda_exec.binary_import_errors(tmp_path, "python3.13")
    assert "built for cp313, not cp311" in errors["numpy"]
    assert "cannot load these binaries" in errors["numpy"]


def test_blocked_import_fails_with_the_runtimes_import_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app.py").write_text(
        "import fakeglibc\n\ndef handler(event, context):\n    return 1\n"
    )
    (tmp_path / "fakeglibc").mkdir()
    (tmp_path / "fakeglibc" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    message = "/lib64/libc.so.6: version `GLIBC_2.39' not found (required by /opt/python/x.so)"
    monkeypatch.setenv("OMICS_TOOLKIT_LAMBDA_BLOCKED_IMPORTS", json.dumps({"fakeglibc": message}))
    before = list(sys.meta_path)
    try:
        lambda_runtime.install_blocked_imports()
        outcome = lambda_runtime.run("app.handler", {}, 0)
    finally:
        sys.meta_path[:] = before
        sys.modules.pop("app", None)
    assert outcome["ok"] is False
    assert outcome["payload"]["errorType"] == "Runtime.ImportModuleError"
    assert outcome["payload"]["errorMessage"] == f"Unable to import module 'app': {message}"
