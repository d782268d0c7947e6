"""The toolkit layer on the local stack: published once per content, used by the handlers, deleted."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit import __version__
from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.provisioning import layers
from omics_toolkit.provisioning.layers import (
    delete_toolkit_layer,
    ensure_toolkit_layer,
    layer_name,
)
from omics_toolkit.provisioning.packaging import (
    REPO_DIR,
    build_inputs,
    code_sha256,
    lambda_zip,
    toolkit_layer_zip,
)
from omics_toolkit.provisioning.provision import FUNCTIONS, Provisioner
from omics_toolkit.ziputil import deterministic_zip

DEPLOYMENT = "ft-layer"
NAME = layer_name(DEPLOYMENT)

PROBE = """
import importlib.metadata

import omics_toolkit
import omics_toolkit.pipeline.trigger


def handler(event, context):
    return {
        "file": omics_toolkit.__file__,
        "trigger": omics_toolkit.pipeline.trigger.__file__,
        "version": importlib.metadata.version("omics-toolkit"),
    }
"""


def _provisioner(stack: dict[str, Any], dry_run: bool = False) -> Provisioner:
    ctx = local_context(stack["moto"], stack["omics"] or "http://127.0.0.1:9")
    settings = Settings(deployment=DEPLOYMENT, home=Path(os.environ["OMICS_TOOLKIT_HOME"]))
    return Provisioner(ctx, settings, dry_run=dry_run)


def _actions(prov: Provisioner) -> list[tuple[str, str, str]]:
    return [(a.kind, a.name, a.action) for a in prov.actions]


@pytest.fixture(scope="module", autouse=True)
def frozen_sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build the layer from a copy of the sources: edits to the checkout meanwhile change nothing."""
    tree = tmp_path_factory.mktemp("tree")
    for rel, path in build_inputs(REPO_DIR):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, tree / rel)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layers, "toolkit_layer_zip", lambda home=None: toolkit_layer_zip(home, tree))
        yield tree


@pytest.fixture(scope="module")
def layer_arn(local_stack: dict[str, Any]) -> str:
    prov = _provisioner(local_stack)
    arn = ensure_toolkit_layer(prov)
    assert _actions(prov) == [("lambda layer", NAME, "create")]
    return arn


@pytest.fixture(scope="module")
def role(aws: Any) -> str:
    return aws.client("iam").create_role(RoleName="ft-layer-lambda", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", source)
    return buf.getvalue()


def _invoke(aws: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    resp = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    return json.loads(resp["Payload"].read()), "FunctionError" in resp


def test_published_layer_is_the_toolkit_layer(aws: Any, layer_arn: str) -> None:
    assert f":layer:{NAME}:" in layer_arn
    version = aws.client("lambda").get_layer_version(
        LayerName=NAME, VersionNumber=int(layer_arn.rsplit(":", 1)[1])
    )  # moto has no GetLayerVersionByArn
    expected = layers.toolkit_layer_zip(Path(os.environ["OMICS_TOOLKIT_HOME"]))
    assert version["Content"]["CodeSha256"] == code_sha256(expected)
    assert version["CompatibleRuntimes"] == ["python3.13"]
    assert __version__ in version["Description"]


def test_second_ensure_makes_no_mutating_call(local_stack: dict[str, Any], layer_arn: str) -> None:
    prov = _provisioner(local_stack)
    assert ensure_toolkit_layer(prov) == layer_arn
    assert _actions(prov) == [("lambda layer", NAME, "unchanged")]
    assert prov.ctx.mutating_calls() == []


def test_deployed_function_imports_the_toolkit_from_the_layer(
    aws: Any, layer_arn: str, role: str
) -> None:
    aws.client("lambda").create_function(
        FunctionName="ft-layer-probe",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip(PROBE)},
        Layers=[layer_arn],
        Timeout=30,
    )
    body, errored = _invoke(aws, "ft-layer-probe", {})
    assert not errored, body
    assert body["file"].endswith("/python/omics_toolkit/__init__.py")
    assert "/layers/" in body["file"]
    assert not body["file"].startswith(str(REPO_DIR) + "/omics_toolkit")
    assert Path(body["trigger"]).parent.parent == Path(body["file"]).parent
    assert body["version"] == __version__


def test_same_function_without_the_layer_cannot_import_the_toolkit(
    aws: Any, layer_arn: str, role: str
) -> None:
    aws.client("lambda").create_function(
        FunctionName="ft-layer-none",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip(PROBE)},
        Timeout=30,
    )
    body, errored = _invoke(aws, "ft-layer-none", {})
    assert errored
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'omics_toolkit'" in body["errorMessage"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_pipeline_handlers_import_with_only_runtime_and_layer(
    aws: Any, layer_arn: str, role: str, function: str
) -> None:
    """Each ``lambdas/<function>`` zip + the toolkit layer: the handler module imports and runs."""
    name = f"ft-layer-{function.replace('_', '-')}"
    aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": lambda_zip(function)},
        Layers=[layer_arn],
        Timeout=30,
        Environment={"Variables": {"STATE_MACHINE_ARN": "arn:aws:states:::stateMachine:none"}},
    )
    events = {
        "pair_detector": {"Records": []},
        "run_outputs": {},  # KeyError 'runId': a handler error, after a successful import
        "tag_objects": {"lanes": [], "outputs": {}, "tags": {}},
        "failure_handler": {},  # KeyError 'execution'
    }
    body, errored = _invoke(aws, name, events[function])
    if errored:
        assert not body["errorType"].startswith("Runtime."), body
        assert body["errorType"] == "KeyError", body
    elif function == "tag_objects":
        assert body == {"tagged": 0}


def test_changed_content_publishes_a_new_version_dry_run_first(
    local_stack: dict[str, Any], layer_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = layers.toolkit_layer_zip

    def changed(home: Path | None = None) -> bytes:
        archive = zipfile.ZipFile(io.BytesIO(original(home)))
        entries = [(n, archive.read(n)) for n in archive.namelist()]
        return deterministic_zip([*entries, ("python/omics_toolkit/extra.py", b"X = 1\n")])

    monkeypatch.setattr(layers, "toolkit_layer_zip", changed)
    plan = _provisioner(local_stack, dry_run=True)
    assert ensure_toolkit_layer(plan) == f"<new version of {NAME}>"
    assert _actions(plan) == [("lambda layer", NAME, "create")]
    assert "would publish" in plan.actions[0].detail
    assert plan.ctx.mutating_calls() == []

    prov = _provisioner(local_stack)
    second = ensure_toolkit_layer(prov)
    assert second.endswith(f":layer:{NAME}:2") and second != layer_arn
    monkeypatch.setattr(layers, "toolkit_layer_zip", original)
    # the original content still has its version: no third one
    again = _provisioner(local_stack)
    assert ensure_toolkit_layer(again) == layer_arn
    assert _actions(again) == [("lambda layer", NAME, "unchanged")]


def test_delete_removes_every_version(local_stack: dict[str, Any], aws: Any) -> None:
    lam = aws.client("lambda")
    versions = lam.list_layer_versions(LayerName=NAME)["LayerVersions"]
    assert versions, "run with the module's other tests"
    plan = _provisioner(local_stack, dry_run=True)
    delete_toolkit_layer(plan)
    assert _actions(plan) == [("lambda layer", NAME, "delete")]
    assert plan.ctx.mutating_calls() == []
    assert len(lam.list_layer_versions(LayerName=NAME)["LayerVersions"]) == len(versions)

    td = _provisioner(local_stack)
    delete_toolkit_layer(td)
    assert _actions(td) == [("lambda layer", NAME, "delete")]
    assert lam.list_layer_versions(LayerName=NAME)["LayerVersions"] == []
    again = _provisioner(local_stack)
    delete_toolkit_layer(again)
    assert _actions(again) == [("lambda layer", NAME, "absent")]
