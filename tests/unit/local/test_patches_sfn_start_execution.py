"""StartExecution racing on one name creates one execution (moto alone can create two)."""

import importlib
import inspect
import json
import threading
import time

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config

from omics_toolkit.local.patches import sfn_start_execution


def test_patched_moto_symbol_exists_with_expected_signature():
    module_name, cls_name, name = sfn_start_execution.TARGET.rsplit(".", 2)
    cls = getattr(importlib.import_module(module_name), cls_name, None)
    target = getattr(cls, name, None)
    assert target is not None, f"moto moved {sfn_start_execution.TARGET}"
    assert list(inspect.signature(target).parameters)[:4] == [
        "self",
        "state_machine_arn",
        "name",
        "execution_input",
    ]


@pytest.fixture
def slow_clone(monkeypatch):
    """Widen moto's check-then-append window the way a busy server does."""
    import moto.stepfunctions.parser.models as models

    real = models.copy.deepcopy

    class SlowCopy:
        @staticmethod
        def deepcopy(obj, memo=None):
            time.sleep(0.2)
            return real(obj, memo)

    monkeypatch.setattr(models, "copy", SlowCopy)
    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)


@mock_aws
def test_concurrent_starts_with_one_name_create_one_execution(slow_clone):
    sfn_start_execution.apply()
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(
        name="race",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    errors = []

    def start():
        try:
            sfn.start_execution(stateMachineArn=arn, name="same", input="{}")
        except Exception as exc:  # noqa: BLE001 - any outcome but a second execution is fine
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["same"]
