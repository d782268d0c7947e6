"""Guards for the moto names patched by omics_toolkit.local.patches.sfn_aws_sdk (moto 5.2.x)."""

from __future__ import annotations

import datetime as dt
import inspect

from omics_toolkit.local.patches import sfn_aws_sdk

SDK_MODULE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk"


def _sdk_class():
    import importlib

    return importlib.import_module(SDK_MODULE).StateTaskServiceAwsSdk


def test_boto_client_for_symbol_and_signature() -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client

    fn = getattr(boto_client, "boto_client_for", None)
    assert fn is not None, (
        "moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for is gone; port sfn_aws_sdk"
    )
    params = list(inspect.signature(fn).parameters)
    assert params == ["region", "service", "state_credentials"], (
        f"moto boto_client_for{params} changed signature; port sfn_aws_sdk"
    )
    import importlib

    sdk = importlib.import_module(SDK_MODULE)
    assert hasattr(sdk, "boto_client_for"), (
        f"{SDK_MODULE} no longer imports boto_client_for by name; port sfn_aws_sdk"
    )


def test_aws_sdk_task_hooks_exist() -> None:
    cls = _sdk_class()
    for name in (
        "_normalise_parameters",
        "_normalise_response",
        "_to_boto_request",
        "_from_boto_response",
        "_get_boto_service_name",
        "_normalise_service_error_name",
        "_eval_service_task",
    ):
        assert hasattr(cls, name), f"moto StateTaskServiceAwsSdk.{name} is gone; port sfn_aws_sdk"
    params = list(inspect.signature(cls._normalise_parameters).parameters)
    assert params[:2] == ["self", "parameters"], (
        f"StateTaskServiceAwsSdk._normalise_parameters{params} changed; port sfn_aws_sdk"
    )
    source = inspect.getsource(cls._eval_service_task)
    assert "boto_client_for(" in source, "StateTaskServiceAwsSdk no longer calls boto_client_for"


def test_apply_replaces_every_import() -> None:
    import sys

    sfn_aws_sdk.apply()
    sfn_aws_sdk.apply()
    cls = _sdk_class()
    assert cls._normalise_parameters is sfn_aws_sdk._normalise_parameters
    stale = [
        name
        for name, mod in sys.modules.items()
        if name.startswith("moto.stepfunctions")
        and getattr(mod, "boto_client_for", sfn_aws_sdk.boto_client_for)
        is not sfn_aws_sdk.boto_client_for
    ]
    assert stale == [], f"modules still holding moto's boto_client_for: {stale}"


def test_error_names_follow_step_functions() -> None:
    name = sfn_aws_sdk._normalise_service_error_name
    assert name("omics") == "Omics"
    assert name("s3") == "S3"
    assert name("dynamodb") == "DynamoDb"


def test_json_safe_output() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=dt.UTC)
    assert sfn_aws_sdk.to_json_safe({"A": [when], "B": b"hi"}) == {
        "A": ["2024-01-02T03:04:05.123Z"],
        "B": "aGk=",
    }


def test_parameters_become_boto_members() -> None:
    sfn_aws_sdk.apply()
    cls = _sdk_class()

    class Resource:
        api_name = "omics"
        api_action = "startRun"

    task = cls.__new__(cls)
    task.resource = Resource()
    params = {
        "WorkflowId": "1",
        "Parameters": {"Sample": "x"},
        "RoleArn": "arn",
        "OutputUri": "s3://b/",
    }
    task._normalise_parameters(params)
    assert params == {
        "workflowId": "1",
        "parameters": {"Sample": "x"},
        "roleArn": "arn",
        "outputUri": "s3://b/",
    }
    response = {"id": "1", "status": "PENDING", "tags": {"k": "v"}}
    Resource.api_action = "getRun"
    response = {
        "id": "1",
        "status": "RUNNING",
        "creationTime": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "tags": {"myKey": "v"},
    }
    task._normalise_response(response)
    assert response == {
        "Id": "1",
        "Status": "RUNNING",
        "CreationTime": "2024-01-01T00:00:00.000Z",
        "Tags": {"myKey": "v"},
    }
