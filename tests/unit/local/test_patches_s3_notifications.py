"""Guards for the moto names patched by omics_toolkit.local.patches.s3_notifications (moto 5.2.x),
the asynchronous queue's retry rules on stub functions, and the fault files' client."""

from __future__ import annotations

import inspect
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.local import faults
from omics_toolkit.local.patches import lambda_exec, s3_notifications


# ------------------------------------------------------------------------------ moto symbols
def test_s3_notification_invoke_symbol_and_its_caller() -> None:
    from moto.s3 import notifications

    target = getattr(notifications, "_invoke_awslambda", None)
    assert target is not None, (
        f"moto moved {s3_notifications.TARGETS[0]}: port omics_toolkit/local/patches/s3_notifications.py"
    )
    params = list(inspect.signature(target).parameters)
    assert params == ["account_id", "event_body", "fn_arn", "region_name"], (
        f"{s3_notifications.TARGETS[0]} signature changed: {params}; port s3_notifications"
    )
    source = inspect.getsource(notifications.send_event)
    assert "_invoke_awslambda(account_id, event_body, notification.arn, region_name)" in source, (
        "moto.s3.notifications.send_event no longer calls _invoke_awslambda by its module name "
        "with an event dict: port s3_notifications"
    )
    assert isinstance(
        notifications._get_s3_event("s3:ObjectCreated:Put", _Bucket(), _Key(), "n"), dict
    )


class _Bucket:
    region_name = "us-east-1"
    name = "b"
    arn = "arn:aws:s3:::b"


class _Key:
    etag = '"abc"'
    name = "in/a b.txt"
    size = 3


def test_lambda_function_invoke_symbol_and_callers() -> None:
    from moto.awslambda import models, responses

    original = s3_notifications._original_invoke or models.LambdaFunction.__dict__["invoke"]
    params = list(inspect.signature(original).parameters)
    assert params == ["self", "body", "request_headers", "response_headers"], (
        f"{s3_notifications.TARGETS[1]} signature changed: {params}; port s3_notifications"
    )
    assert 'request_headers.get("x-amz-invocation-type"' in inspect.getsource(original), (
        "moto's LambdaFunction.invoke no longer reads the invocation type from the request "
        "headers: port s3_notifications"
    )
    source = inspect.getsource(responses.LambdaResponse.invoke)
    assert "self.backend.invoke(" in source and "self.headers" in source
    assert 'self.headers.get("X-Amz-Invocation-Type") == "Event"' in source, (
        "moto's Invoke response no longer answers 202 for Event invocations: port s3_notifications"
    )
    backend_source = inspect.getsource(models.LambdaBackend.invoke)
    assert "fn.invoke(body, headers, response_headers)" in backend_source


def test_event_invoke_config_and_destination_backends() -> None:
    from moto.awslambda.models import EventInvokeConfig, LambdaBackend
    from moto.awslambda.utils import get_backend
    from moto.sns.models import SNSBackend
    from moto.sqs.models import SQSBackend

    config = EventInvokeConfig("arn", "now", {"MaximumRetryAttempts": 0})
    assert config.config == {"MaximumRetryAttempts": 0}
    put = inspect.getsource(LambdaBackend.put_function_event_invoke_config)
    assert "fn.event_invoke_config.append(" in put, "moto stores event invoke configs elsewhere"
    assert callable(get_backend)
    assert {"queue_name", "message_body"} <= set(
        inspect.signature(SQSBackend.send_message).parameters
    )
    assert {"message", "arn"} <= set(inspect.signature(SNSBackend.publish).parameters)


def test_apply_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.s3 import notifications

    # restore moto's own functions afterwards: other tests read their source
    monkeypatch.setattr(LambdaFunction, "invoke", LambdaFunction.__dict__["invoke"])
    monkeypatch.setattr(notifications, "_invoke_awslambda", notifications._invoke_awslambda)
    monkeypatch.setattr(s3_notifications, "_original_invoke", s3_notifications._original_invoke)
    s3_notifications.apply()
    s3_notifications.apply()
    assert LambdaFunction.invoke is s3_notifications._invoke
    assert notifications._invoke_awslambda is s3_notifications._invoke_awslambda
    assert s3_notifications._original_invoke is not s3_notifications._invoke


# --------------------------------------------------------------------------- settings
def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(s3_notifications.DELAYS_ENV, raising=False)
    monkeypatch.delenv(s3_notifications.WORKERS_ENV, raising=False)
    assert s3_notifications.retry_delays() == (1.0, 2.0)
    assert s3_notifications.worker_count() == 4
    monkeypatch.setenv(s3_notifications.DELAYS_ENV, "0.1, 0.5")
    monkeypatch.setenv(s3_notifications.WORKERS_ENV, "2")
    assert s3_notifications.retry_delays() == (0.1, 0.5)
    assert s3_notifications.worker_count() == 2
    for bad in ("a,b", "1,-1", "inf"):
        monkeypatch.setenv(s3_notifications.DELAYS_ENV, bad)
        with pytest.raises(ValueError, match="ASYNC_RETRY_DELAYS"):
            s3_notifications.retry_delays()
    monkeypatch.setenv(s3_notifications.WORKERS_ENV, "0")
    with pytest.raises(ValueError, match="ASYNC_WORKERS"):
        s3_notifications.worker_count()


# ------------------------------------------------------------------- the queue on stub functions
class _Config:
    """moto ``EventInvokeConfig``'s shape."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config


class _Fn:
    """A function that fails its first ``failures`` invocations (-1: always)."""

    function_name = "stub"
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:stub"

    def __init__(self, failures: int, config: dict[str, Any] | None = None) -> None:
        self.failures = failures
        self.calls: list[tuple[float, str, Any]] = []
        self.event_invoke_config = [_Config(config)] if config is not None else []

    def _invoke_lambda(self, event: Any) -> tuple[str, bool, str]:
        self.calls.append((time.monotonic(), lambda_exec._scope.request_id, event))
        if self.failures < 0 or len(self.calls) <= self.failures:
            return json.dumps({"errorType": "BoomError", "errorMessage": "boom"}), True, ""
        return json.dumps({"ok": len(self.calls)}), False, ""


def _queue(tmp_path: Path, delays: tuple[float, ...] = (0.1, 0.2)) -> s3_notifications.AsyncInvoker:
    return s3_notifications.AsyncInvoker(2, delays, tmp_path).start()


def test_two_failures_then_success_is_three_attempts_with_one_request_id(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    fn = _Fn(failures=2)
    event = s3_notifications.AsyncEvent(fn, {"k": 1}, "s3")
    queue.submit(event)
    assert queue.wait_idle(5)
    assert len(fn.calls) == 3
    assert {call[1] for call in fn.calls} == {event.request_id}
    assert all(call[2] == {"k": 1} for call in fn.calls)
    gaps = [b[0] - a[0] for a, b in zip(fn.calls, fn.calls[1:], strict=False)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2, gaps
    assert faults.async_failures(tmp_path) == []
    queue.stop()


def test_always_failing_event_is_recorded_after_three_attempts(tmp_path: Path) -> None:
    queue = _queue(tmp_path, delays=(0.05,))
    fn = _Fn(failures=-1)
    queue.submit(s3_notifications.AsyncEvent(fn, {"Records": []}, "s3", request_id="r-1"))
    assert queue.wait_idle(5)
    assert len(fn.calls) == 3
    (record,) = faults.async_failures(tmp_path)
    assert record["function"] == "stub" and record["request_id"] == "r-1"
    assert record["condition"] == "RetriesExhausted" and record["attempts"] == 3
    assert [e["attempt"] for e in record["errors"]] == [1, 2, 3]
    assert record["error"]["errorType"] == "BoomError"
    assert record["event"] == {"Records": []} and record["source"] == "s3"
    assert record["destination"] is None
    queue.stop()


def test_maximum_retry_attempts_and_event_age_are_honoured(tmp_path: Path) -> None:
    queue = _queue(tmp_path, delays=(0.05,))
    no_retry = _Fn(failures=-1, config={"MaximumRetryAttempts": 0})
    queue.submit(s3_notifications.AsyncEvent(no_retry, {}, "invoke"))
    one_retry = _Fn(failures=-1, config={"MaximumRetryAttempts": 1})
    queue.submit(s3_notifications.AsyncEvent(one_retry, {}, "invoke"))
    old = _Fn(failures=0, config={"MaximumEventAgeInSeconds": 60})
    queue.submit(s3_notifications.AsyncEvent(old, {}, "invoke", enqueued_at=time.time() - 61))
    assert queue.wait_idle(5)
    assert (len(no_retry.calls), len(one_retry.calls), len(old.calls)) == (1, 2, 0)
    by_attempts = {r["attempts"]: r["condition"] for r in faults.async_failures(tmp_path)}
    assert by_attempts == {1: "RetriesExhausted", 2: "RetriesExhausted", 0: "EventAgeExceeded"}
    queue.stop()


def test_the_last_stored_config_is_in_force() -> None:
    fn = _Fn(0)
    fn.event_invoke_config = [
        _Config({"MaximumRetryAttempts": 2}),
        _Config({"MaximumRetryAttempts": 0}),
    ]
    assert s3_notifications.event_invoke_config(fn) == {"MaximumRetryAttempts": 0}
    assert s3_notifications.event_invoke_config(_Fn(0)) == {}


def test_queued_events_are_recorded_when_the_queue_stops(tmp_path: Path) -> None:
    queue = _queue(tmp_path)
    fn = _Fn(failures=0)
    queue.submit(s3_notifications.AsyncEvent(fn, {"late": True}, "s3"), delay_seconds=60)
    assert queue.stop(timeout_seconds=2) == 1
    (record,) = faults.async_failures(tmp_path)
    assert record["condition"] == "StackStopped" and record["attempts"] == 0
    assert record["event"] == {"late": True}
    assert fn.calls == []


def test_the_stack_queue_stays_stopped_until_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(faults.STATE_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(s3_notifications, "_invoker", None)
    first = s3_notifications.start()
    assert s3_notifications.invoker() is first and first.state_dir == tmp_path
    assert s3_notifications.stop() == 0
    late = s3_notifications.AsyncEvent(_Fn(0), {"during": "shutdown"}, "s3")
    s3_notifications.invoker().submit(late)
    (record,) = faults.async_failures(tmp_path)
    assert record["condition"] == "StackStopped" and record["event"] == {"during": "shutdown"}
    second = s3_notifications.start()
    assert second is not first and not second.stopped
    second.stop()


def test_failure_record_goes_to_an_sqs_destination(tmp_path: Path, monkeypatch) -> None:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="on-failure")["QueueUrl"]
        arn = "arn:aws:sqs:us-east-1:123456789012:on-failure"
        fn = _Fn(
            failures=-1,
            config={
                "MaximumRetryAttempts": 0,
                "DestinationConfig": {"OnFailure": {"Destination": arn}},
            },
        )
        queue = _queue(tmp_path)
        queue.submit(s3_notifications.AsyncEvent(fn, {"x": 1}, "invoke", request_id="r-9"))
        assert queue.wait_idle(5)
        queue.stop()
        (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    body = json.loads(message["Body"])
    assert body["version"] == "1.0"
    assert body["requestContext"] == {
        "requestId": "r-9",
        "functionArn": fn.function_arn + ":$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert body["requestPayload"] == {"x": 1}
    assert body["responseContext"]["functionError"] == "Unhandled"
    assert body["responsePayload"] == {"errorType": "BoomError", "errorMessage": "boom"}
    (record,) = faults.async_failures(tmp_path)
    assert record["destination"] == arn and record["destination_error"] is None


# ------------------------------------------------------------------------------ fault files
def test_lambda_fault_rules_fire_count_times_and_keep_fired(tmp_path: Path) -> None:
    faults.add_lambda_faults(
        tmp_path,
        [{"function": "f", "mode": "error", "count": 2}, {"function": "*", "mode": "timeout"}],
    )
    assert faults.take_lambda_fault(tmp_path, "g")["mode"] == "timeout"  # the "*" rule
    assert faults.take_lambda_fault(tmp_path, "g") is None  # spent
    assert faults.take_lambda_fault(tmp_path, "other", "arn:other") is None
    assert faults.take_lambda_fault(tmp_path, "x", "f")["mode"] == "error"  # matched by ARN
    assert faults.take_lambda_fault(tmp_path, "f")["index"] == 0
    assert faults.take_lambda_fault(tmp_path, "f") is None
    assert [(r["count"], r["fired"]) for r in faults.lambda_faults(tmp_path)] == [(0, 2), (0, 1)]
    faults.clear_lambda_faults(tmp_path)
    assert faults.lambda_faults(tmp_path) == []


def test_lambda_fault_rules_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        faults.add_lambda_faults(tmp_path, [{"function": "f", "mode": "crash"}])
    with pytest.raises(ValueError, match="count"):
        faults.add_lambda_faults(tmp_path, [{"function": "f", "mode": "error", "count": 0}])
    with pytest.raises(ValueError, match="function"):
        faults.add_lambda_faults(tmp_path, [{"mode": "error"}])
    assert faults.lambda_faults(tmp_path) == []


def test_counts_are_taken_atomically(tmp_path: Path) -> None:
    faults.add_lambda_faults(tmp_path, [{"function": "*", "mode": "error", "count": 5}])
    faults.set_s3_duplicates(tmp_path, 3)
    taken: list[Any] = []

    def take() -> None:
        taken.append(faults.take_lambda_fault(tmp_path, "f"))
        taken.append(faults.take_s3_duplicate(tmp_path))

    threads = [threading.Thread(target=take) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for t in taken if isinstance(t, dict)) == 5
    assert sum(1 for t in taken if t is True) == 3
    assert faults.lambda_faults(tmp_path)[0]["fired"] == 5
    assert faults.s3_faults(tmp_path) == {"duplicate": 0, "duplicated": 3}
    faults.clear_s3_faults(tmp_path)
    assert faults.s3_faults(tmp_path) == {"duplicate": 0, "duplicated": 0}
    assert faults.take_s3_duplicate(tmp_path) is False


def test_timeout_payload_has_the_lambda_shape() -> None:
    assert lambda_exec.timeout_payload("r", 3) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: r Error: Task timed out after 3.00 seconds",
    }
