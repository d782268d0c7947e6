"""Asynchronous Lambda invocations with Lambda's retries: S3 notifications and ``Invoke(Event)``.

moto 5.2.x runs the function inside PutObject (``moto.s3.notifications._invoke_awslambda``),
swallows its errors, and runs ``Invoke`` with ``InvocationType=Event`` synchronously too
(``moto.awslambda.models.LambdaFunction.invoke`` ignores the type until the function returned).
Both are replaced: the event goes to an in-process queue and the caller gets its answer at once
(PutObject 200, Invoke 202 with an empty body); worker threads run it through the function's
``_invoke_lambda`` (:mod:`.lambda_exec`).

What AWS does, and what is emulated:

- S3 invokes a function asynchronously and delivers event notifications at least once, usually
  within seconds (Amazon S3 User Guide, "Amazon S3 Event Notifications",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html; Lambda Developer
  Guide, "Process Amazon S3 event notifications with Lambda"). Locally each notification is
  delivered once, or twice while ``<state dir>/faults/s3.json`` asks for duplicates
  (:func:`omics_toolkit.local.faults.set_s3_duplicates`); the copy is a second asynchronous
  invocation with its own request id.
- On a function error (an error the code raises, or a runtime error such as a timeout) Lambda
  runs the event two more times by default, about one minute after the first attempt and two
  minutes after the second (Lambda Developer Guide, "How Lambda handles errors and retries with
  asynchronous invocation",
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). Locally the
  waits are ``$OMICS_TOOLKIT_LOCAL_ASYNC_RETRY_DELAYS`` seconds (default ``"1,2"``; the n-th
  retry waits the n-th value, the last value repeating), read by the stack process at start.
- ``PutFunctionEventInvokeConfig`` sets ``MaximumRetryAttempts`` (0-2) and
  ``MaximumEventAgeInSeconds`` (60-21600, default 6 hours) ("Configuring error handling settings
  for Lambda asynchronous invocations",
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html). Both are
  honoured; the age is checked before each attempt. moto appends a configuration on every Put
  or Update; the last one is the one in force here (Put replaces the configuration in AWS).
- Retries of one event carry the same request id (AWS Knowledge Center, "How do I prevent
  duplicate Lambda function invocations?",
  https://repost.aws/knowledge-center/lambda-function-duplicate-invocations).
- An event that fails every attempt or grows too old is discarded; with an on-failure
  destination (``DestinationConfig.OnFailure``) Lambda sends it an invocation record
  ``{"version": "1.0", "timestamp", "requestContext": {"requestId", "functionArn", "condition":
  "RetriesExhausted" | "EventAgeExceeded", "approximateInvokeCount"}, "requestPayload",
  "responseContext": {"statusCode", "executedVersion", "functionError"}, "responsePayload"}``
  ("Capturing records of Lambda asynchronous invocations",
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html). Delivered
  here to SQS queues, SNS topics and Lambda functions (asynchronously); on-success destinations
  get the record with condition ``Success``. EventBridge and S3 destinations are not delivered
  (noted in the failure record). Dead-letter queues (``DeadLetterConfig``) are not: moto does not
  store them.
- Every discarded event is also appended to ``<state dir>/async-failures.jsonl``
  (:func:`omics_toolkit.local.faults.async_failures`), including events still queued when the
  stack stops (condition ``StackStopped``: the queue is in memory; AWS keeps it).

Not emulated: throttling and its 6-hour retry schedule (no concurrency limits locally), ordering
or delay of deliveries beyond the worker pool (``$OMICS_TOOLKIT_LOCAL_ASYNC_WORKERS`` threads,
default 4), asynchronous SNS/EventBridge -> Lambda deliveries (moto still runs those inline).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import heapq
import itertools
import json
import logging
import math
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from omics_toolkit.local import faults
from omics_toolkit.local.patches.guard import Needs

LOG = logging.getLogger(__name__)

#: The moto symbols this module replaces (checked by tests/unit/local/test_patches_s3_notifications.py).
TARGETS = (
    "moto.s3.notifications._invoke_awslambda",
    "moto.awslambda.models.LambdaFunction.invoke",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.s3.notifications._invoke_awslambda",
        params=("account_id", "event_body", "fn_arn", "region_name"),
    ),
    Needs(
        "moto.s3.notifications.send_event",
        source=("_invoke_awslambda(account_id, event_body, notification.arn, region_name)",),
    ),
    Needs(
        "moto.awslambda.models.LambdaFunction.invoke",
        params=("self", "body", "request_headers", "response_headers"),
    ),
    Needs("moto.awslambda.utils.get_backend"),
)

WORKERS_ENV = "OMICS_TOOLKIT_LOCAL_ASYNC_WORKERS"
DELAYS_ENV = "OMICS_TOOLKIT_LOCAL_ASYNC_RETRY_DELAYS"
DEFAULT_WORKERS = 4
#: Local waits before the first and second retry, seconds (AWS: about 60 and 120).
DEFAULT_DELAYS = (1.0, 2.0)
DEFAULT_MAX_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_SECONDS = 21600

_original_invoke: Any = None
_invoker: AsyncInvoker | None = None
_invoker_lock = threading.Lock()


def retry_delays() -> tuple[float, ...]:
    """Waits before each retry, seconds, from ``$OMICS_TOOLKIT_LOCAL_ASYNC_RETRY_DELAYS``.

    Raises:
        ValueError: not a comma-separated list of finite numbers >= 0.
    """
    raw = os.environ.get(DELAYS_ENV, "").strip()
    if not raw:
        return DEFAULT_DELAYS
    problem = ValueError(f"{DELAYS_ENV} must be comma-separated seconds >= 0, e.g. '1,2': {raw!r}")
    try:
        delays = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise problem from None
    if any(not math.isfinite(d) or d < 0 for d in delays):
        raise problem
    return delays


def worker_count() -> int:
    """Number of worker threads, from ``$OMICS_TOOLKIT_LOCAL_ASYNC_WORKERS`` (default 4).

    Raises:
        ValueError: not an integer >= 1.
    """
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return DEFAULT_WORKERS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{WORKERS_ENV} must be an integer >= 1: {raw!r}")
    return int(raw)


def event_invoke_config(fn: Any) -> dict[str, Any]:
    """The function's asynchronous-invocation settings in force (the last one moto stored)."""
    configs = getattr(fn, "event_invoke_config", None) or []
    return dict(configs[-1].config) if configs else {}


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_of(payload_text: str) -> dict[str, Any]:
    try:
        payload = json.loads(payload_text)
    except (TypeError, ValueError):
        return {"errorType": None, "errorMessage": str(payload_text)}
    if isinstance(payload, dict):
        return {"errorType": payload.get("errorType"), "errorMessage": payload.get("errorMessage")}
    return {"errorType": None, "errorMessage": json.dumps(payload)}


@dataclasses.dataclass
class AsyncEvent:
    """One asynchronous invocation: the function, its event and what its attempts returned.

    Attributes:
        fn: the moto ``LambdaFunction`` (anything with ``_invoke_lambda(event)``,
            ``function_name``, ``function_arn`` and ``event_invoke_config``).
        event: the event (a JSON value), passed to every attempt unchanged.
        source: ``"s3"``, ``"invoke"`` or ``"destination"``.
        request_id: shared by every attempt, as in Lambda.
        enqueued_at: ``time.time()`` when the event was queued (for ``MaximumEventAgeInSeconds``).
        errors: one ``{"attempt", "at", "errorType", "errorMessage"}`` per failed attempt.
        attempts: attempts made so far.
        last_payload: the payload text of the last attempt.
    """

    fn: Any
    event: Any
    source: str
    request_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    enqueued_at: float = dataclasses.field(default_factory=time.time)
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    attempts: int = 0
    last_payload: str | None = None


class AsyncInvoker:
    """Lambda's asynchronous event queue: worker threads, retries, destinations, dropped events.

    Args:
        workers: number of worker threads.
        delays: seconds to wait before the 1st, 2nd, ... retry (the last value repeats).
        state_dir: where ``async-failures.jsonl`` goes (``None``: dropped events are only logged).
    """

    def __init__(
        self, workers: int, delays: tuple[float, ...], state_dir: Path | None = None
    ) -> None:
        self.workers = workers
        self.delays = delays or DEFAULT_DELAYS
        self.state_dir = state_dir
        self._heap: list[tuple[float, int, AsyncEvent]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._write_lock = threading.Lock()

    # ----------------------------------------------------------------------------- lifecycle
    def start(self) -> AsyncInvoker:
        """Start the worker threads (once)."""
        with self._cond:
            if self._threads:
                return self
            for number in range(self.workers):
                thread = threading.Thread(
                    target=self._work, name=f"lambda-async-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self, timeout_seconds: float = 10.0) -> int:
        """Stop taking events, let running attempts finish (up to ``timeout_seconds``), record
        every event still queued as dropped (``StackStopped``); return how many were."""
        with self._cond:
            self._stopping = True
            pending = [item[2] for item in self._heap]
            self._heap.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for event in pending:
            self._discard(event, "StackStopped")
        return len(pending)

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopping

    def submit(self, event: AsyncEvent, delay_seconds: float = 0.0) -> None:
        """Queue ``event`` to run after ``delay_seconds``."""
        with self._cond:
            if not self._stopping:
                due = time.monotonic() + delay_seconds
                heapq.heappush(self._heap, (due, next(self._seq), event))
                self._cond.notify()
                return
        self._discard(event, "StackStopped")

    def idle(self) -> bool:
        """True when nothing is queued or running."""
        with self._cond:
            return not self._heap and self._busy == 0

    def wait_idle(self, timeout_seconds: float) -> bool:
        """Wait until :meth:`idle`; False if still busy after ``timeout_seconds``."""
        deadline = time.monotonic() + timeout_seconds
        while not self.idle():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # -------------------------------------------------------------------------------- workers
    def _next(self) -> AsyncEvent | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    self._busy += 1
                    return heapq.heappop(self._heap)[2]
                self._cond.wait(self._heap[0][0] - now if self._heap else None)
            return None

    def _work(self) -> None:
        while (event := self._next()) is not None:
            try:
                self._attempt(event)
            except Exception:  # noqa: BLE001 - a worker must survive anything
                LOG.exception("asynchronous invocation %s failed in the queue", event.request_id)
            finally:
                with self._cond:
                    self._busy -= 1

    def _attempt(self, event: AsyncEvent) -> None:
        from omics_toolkit.local.patches import lambda_exec

        config = event_invoke_config(event.fn)
        max_retries = int(config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS))
        max_age = float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS))
        if time.time() - event.enqueued_at > max_age:
            self._discard(event, "EventAgeExceeded")
            return
        event.attempts += 1
        name = event.fn.function_name
        try:
            with lambda_exec.request_id_scope(event.request_id):
                payload, errored, _logs = event.fn._invoke_lambda(copy.deepcopy(event.event))
        except Exception as exc:  # noqa: BLE001 - a service error counts as a failed attempt
            LOG.exception("invoking %s (request %s) raised", name, event.request_id)
            payload = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)})
            errored = True
        event.last_payload = payload
        if not errored:
            LOG.info(
                "async %s request %s: attempt %d succeeded", name, event.request_id, event.attempts
            )
            self._to_destination(event, "OnSuccess", "Success")
            return
        error = _error_of(payload)
        event.errors.append({"attempt": event.attempts, "at": _now_iso(), **error})
        if event.attempts <= max_retries:
            delay = self.delays[min(event.attempts, len(self.delays)) - 1]
            LOG.info(
                "async %s request %s: attempt %d failed (%s), retry in %g s",
                name,
                event.request_id,
                event.attempts,
                error["errorType"],
                delay,
            )
            self.submit(event, delay)
            return
        self._discard(event, "RetriesExhausted")

    # ---------------------------------------------------------------------- drops, destinations
    def _record(self, event: AsyncEvent, condition: str) -> dict[str, Any]:
        """The invocation record Lambda sends to destinations."""
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _now_iso(),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": f"{event.fn.function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": event.event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        }
        if event.last_payload is not None:
            try:
                record["responsePayload"] = json.loads(event.last_payload)
            except ValueError:
                record["responsePayload"] = event.last_payload
        if condition != "Success":
            record["responseContext"]["functionError"] = "Unhandled"
        return record

    def _to_destination(self, event: AsyncEvent, which: str, condition: str) -> dict[str, Any]:
        """Send the record to the ``OnSuccess``/``OnFailure`` destination, if one is set.

        Returns:
            ``{"destination": arn | None, "destination_error": str | None}``.
        """
        config = event_invoke_config(event.fn)
        arn = ((config.get("DestinationConfig") or {}).get(which) or {}).get("Destination")
        if not arn:
            return {"destination": None, "destination_error": None}
        try:
            send_record(arn, self._record(event, condition), self)
        except Exception as exc:  # noqa: BLE001 - AWS reports DestinationDeliveryFailures
            LOG.warning("could not send %s's record to %s: %s", event.fn.function_name, arn, exc)
            return {"destination": arn, "destination_error": f"{type(exc).__name__}: {exc}"}
        return {"destination": arn, "destination_error": None}

    def _discard(self, event: AsyncEvent, condition: str) -> None:
        sent = (
            self._to_destination(event, "OnFailure", condition)
            if condition != "StackStopped"
            else {"destination": None, "destination_error": None}
        )
        LOG.warning(
            "async %s request %s dropped after %d attempt(s): %s",
            event.fn.function_name,
            event.request_id,
            event.attempts,
            condition,
        )
        line = {
            "time": _now_iso(),
            "function": event.fn.function_name,
            "function_arn": event.fn.function_arn,
            "request_id": event.request_id,
            "source": event.source,
            "condition": condition,
            "attempts": event.attempts,
            "errors": event.errors,
            "error": event.errors[-1] if event.errors else None,
            **sent,
            "event": event.event,
        }
        if self.state_dir is None:
            return
        text = json.dumps(line, default=str) + "\n"
        with self._write_lock:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with open(self.state_dir / faults.ASYNC_FAILURES, "a", encoding="utf-8") as fh:
                fh.write(text)


def send_record(arn: str, record: dict[str, Any], invoker: AsyncInvoker) -> None:
    """Deliver an invocation record to a destination ARN (SQS, SNS, or Lambda asynchronously).

    Raises:
        ValueError: a destination service the local stack does not deliver to.
        Exception: whatever moto raises for a missing queue, topic or function.
    """
    parts = arn.split(":")
    service, region, account = parts[2], parts[3], parts[4]
    body = json.dumps(record)
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        sqs_backends[account][region].send_message(queue_name=parts[5], message_body=body)
    elif service == "sns":
        from moto.sns.models import sns_backends

        sns_backends[account][region].publish(message=body, arn=arn)
    elif service == "lambda":
        from moto.awslambda.utils import get_backend

        target = get_backend(account, region).get_function(arn)
        invoker.submit(AsyncEvent(target, record, "destination"))
    else:
        raise ValueError(f"{service} destinations are not delivered by the local stack")


# ------------------------------------------------------------------------------------ the queue
def _new_invoker() -> AsyncInvoker:
    return AsyncInvoker(worker_count(), retry_delays(), faults.state_dir_from_env()).start()


def invoker() -> AsyncInvoker:
    """The process's asynchronous queue, started on first use (once stopped, it stays stopped:
    events submitted during shutdown are recorded as dropped).

    Raises:
        ValueError: a bad ``$OMICS_TOOLKIT_LOCAL_ASYNC_WORKERS`` or ``..._RETRY_DELAYS``.
    """
    global _invoker
    with _invoker_lock:
        if _invoker is None:
            _invoker = _new_invoker()
        return _invoker


def start() -> AsyncInvoker:
    """Start a queue now (the stack process does, to fail at start on bad settings)."""
    global _invoker
    with _invoker_lock:
        if _invoker is None or _invoker.stopped:
            _invoker = _new_invoker()
        return _invoker


def stop(timeout_seconds: float = 10.0) -> int:
    """Stop the queue (see :meth:`AsyncInvoker.stop`); return how many queued events it dropped."""
    with _invoker_lock:
        current = _invoker
    return current.stop(timeout_seconds) if current is not None else 0


# ------------------------------------------------------------------------------ replacements
def _invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """Replaces ``moto.s3.notifications._invoke_awslambda``: queue instead of running inline."""
    from moto.awslambda.utils import get_backend

    try:
        fn = get_backend(account_id, region_name).get_function(fn_arn)
    except Exception as exc:  # noqa: BLE001 - as in moto: a missing function fails nothing
        LOG.warning("S3 notification for %s not delivered: %s", fn_arn, exc)
        return
    state_dir = faults.state_dir_from_env()
    copies = 2 if state_dir is not None and faults.take_s3_duplicate(state_dir) else 1
    queue = invoker()
    for _ in range(copies):
        queue.submit(AsyncEvent(fn, copy.deepcopy(event_body), "s3"))


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)  # werkzeug headers ignore case; moto's internal callers pass {}
    if value is None and isinstance(headers, dict):
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    return None if value is None else str(value)


def _invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    """Replaces ``LambdaFunction.invoke``: ``Event`` is queued, ``DryRun`` runs nothing."""
    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    if invocation_type == "Event":
        event = json.loads(body) if body else {}
        invoker().submit(AsyncEvent(self, event, "invoke"))
        return b""
    if invocation_type == "DryRun":  # AWS validates the request and runs nothing
        return b""
    return _original_invoke(self, body, request_headers, response_headers)  # type: ignore[no-any-return]


def apply() -> None:
    """Install both replacements (idempotent)."""
    global _original_invoke
    from moto.awslambda.models import LambdaFunction
    from moto.s3 import notifications

    notifications._invoke_awslambda = _invoke_awslambda
    current = LambdaFunction.__dict__.get("invoke")
    if current is not _invoke:
        _original_invoke = current
        LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
