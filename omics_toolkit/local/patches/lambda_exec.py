"""Run moto Lambda functions in a child Python process instead of Docker.

Replaces ``moto.awslambda.models.LambdaFunction._invoke_lambda(self, event) -> (payload: str,
errored: bool, logs: str)``, the single choke point used by Invoke, S3 notifications, SQS/SNS
event sources and Step Functions ``lambda:invoke`` tasks (moto 5.2.x).

Per invocation:

- the deployment zip is extracted once per code SHA-256 into the cache directory
  (``$OMICS_TOOLKIT_LAMBDA_CACHE`` or ``<tmp>/omics-toolkit-lambda``);
- ``sys.executable -P omics_toolkit/local/lambda_runtime.py`` runs the handler with the event on
  stdin; the result comes back through a file, the handler's stdout/stderr become the logs;
- the child environment is the function's variables plus the Lambda runtime variables, fake
  credentials and endpoints pointing at the local stack (moto and the HealthOmics emulator);
- the function ``Timeout`` is enforced (process group killed; payload
  ``{"errorType": "Sandbox.Timedout", "errorMessage": "... Task timed out after N.NN seconds"}``);
- START/END/REPORT lines and the output go to CloudWatch Logs ``/aws/lambda/<function name>``.

Not emulated: layers, container-image functions, memory limits, concurrency limits, warm
containers (each invocation is a cold start, ~0.3 s).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

#: The moto symbol this module replaces (checked by tests/unit/local/test_patches_lambda_exec.py).
TARGET = "moto.awslambda.models.LambdaFunction._invoke_lambda"

_RUNTIME = Path(__file__).resolve().parent.parent / "lambda_runtime.py"
_extract_lock = threading.Lock()
_original: Any = None


def cache_dir() -> Path:
    """Directory holding extracted deployment packages, one sub-directory per code SHA-256."""
    configured = os.environ.get("OMICS_TOOLKIT_LAMBDA_CACHE")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "omics-toolkit-lambda"


def extract_code(code_bytes: bytes, sha256: str) -> Path:
    """Extract a deployment zip once per SHA-256; return the code directory.

    Extraction goes to a temporary sibling then is renamed, so concurrent invocations never see
    a half-written directory.
    """
    root = cache_dir()
    target = root / (sha256.replace("/", "_").replace("+", "-").rstrip("=") or "empty")
    if target.is_dir():
        return target
    with _extract_lock:
        if target.is_dir():
            return target
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
        with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
            archive.extractall(staging)
        try:
            staging.rename(target)
        except OSError:  # someone else won the race
            shutil.rmtree(staging, ignore_errors=True)
    return target


def moto_url() -> str:
    """URL of the moto server this process serves (``MOTO_PORT``, default 5000)."""
    return f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}"


def child_environment(fn: Any, code_dir: Path, request_id: str, stream: str) -> dict[str, str]:
    """Environment of the handler process: function variables + Lambda runtime variables."""
    env: dict[str, str] = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": str(fn.handler),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": str(fn.function_name),
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
        "AWS_LAMBDA_LOG_GROUP_NAME": str(fn.logs_group_name),
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_REGION": str(fn.region),
        "AWS_DEFAULT_REGION": str(fn.region),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_url(),
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "OMICS_TOOLKIT_LAMBDA_REQUEST_ID": request_id,
        "OMICS_TOOLKIT_LAMBDA_ARN": str(fn.function_arn),
        "PYTHONUNBUFFERED": "1",
    }
    if os.environ.get("AWS_ENDPOINT_URL_OMICS"):
        env["AWS_ENDPOINT_URL_OMICS"] = os.environ["AWS_ENDPOINT_URL_OMICS"]
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env["PYTHONPATH"] = str(code_dir)
    return env


def _normalise_event(event: Any) -> Any:
    if event is None or event == "{}":
        return {}
    if isinstance(event, bytes | bytearray):
        event = event.decode("utf-8")
    return event


def _save_logs(fn: Any, stream: str, text: str) -> None:
    try:
        backend = fn.logs_backend
        backend.ensure_log_group(fn.logs_group_name)
        backend.create_log_stream(fn.logs_group_name, stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in text.splitlines() if line]
        if events:
            backend.put_log_events(fn.logs_group_name, stream, events)
    except Exception:  # noqa: BLE001 - logging must never fail an invocation
        LOG.exception("could not save logs of %s to CloudWatch Logs", fn.function_name)


def invoke(fn: Any, event: Any) -> tuple[str, bool, str]:
    """Run one invocation of moto ``LambdaFunction`` ``fn``.

    Returns:
        ``(payload JSON text, errored, log text)`` as moto's ``_invoke_lambda`` does.
    """
    request_id = str(uuid.uuid4())
    now = time.gmtime()
    stream = f"{now.tm_year}/{now.tm_mon:02d}/{now.tm_mday:02d}/[{fn.version}]{uuid.uuid4().hex}"
    timeout_s = float(fn.timeout or 3)
    header = f"START RequestId: {request_id} Version: {fn.version}"
    try:
        code_dir = extract_code(fn.code_bytes, fn.code_sha_256)
    except (zipfile.BadZipFile, OSError) as exc:
        payload = {
            "errorMessage": f"Could not unzip the deployment package: {exc}",
            "errorType": "Runtime.InvalidEntrypoint",
        }
        _save_logs(fn, stream, f"{header}\n{payload['errorMessage']}")
        return json.dumps(payload), True, payload["errorMessage"]

    with tempfile.TemporaryDirectory(prefix="omics-toolkit-invoke-") as tmp:
        result_path = Path(tmp) / "result.json"
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        cmd = [
            sys.executable,
            "-P",
            str(_RUNTIME),
            "--handler",
            str(fn.handler),
            "--result",
            str(result_path),
            "--deadline-ms",
            str(deadline_ms),
        ]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=code_dir,
            env=child_environment(fn, code_dir, request_id, stream),
            start_new_session=True,
        )
        timed_out = False
        try:
            out, _ = proc.communicate(
                json.dumps(_normalise_event(event)).encode("utf-8"), timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, _ = proc.communicate()
        duration_ms = (time.monotonic() - started) * 1000
        output = out.decode("utf-8", errors="replace")

        if timed_out:
            message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
            payload_obj: Any = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            errored = True
            output += ("" if output.endswith("\n") or not output else "\n") + message + "\n"
        elif result_path.is_file():
            outcome = json.loads(result_path.read_text())
            payload_obj = outcome["payload"]
            errored = not outcome["ok"]
            if errored:
                output += (
                    json.dumps(
                        {
                            k: payload_obj.get(k)
                            for k in ("errorMessage", "errorType", "requestId", "stackTrace")
                        }
                    )
                    + "\n"
                )
        else:
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}"
            payload_obj = {"errorType": "Runtime.ExitError", "errorMessage": message}
            errored = True
            output += message + "\n"

    billed = int(-(-duration_ms // 1))
    logs = (
        f"{header}\n{output}END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {fn.memory_size} MB\t"
        f"Max Memory Used: {fn.memory_size} MB\n"
    )
    _save_logs(fn, stream, logs)
    # Invoke's LogResult carries the last 4 KB of the log, as in AWS.
    tail = logs.encode("utf-8")[-4096:].decode("utf-8", errors="ignore")
    return json.dumps(payload_obj), errored, tail


def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    return invoke(self, event)


def apply() -> None:
    """Install the replacement (idempotent)."""
    global _original
    from moto.awslambda.models import LambdaFunction

    current = LambdaFunction.__dict__.get("_invoke_lambda")
    if current is _invoke_lambda:
        return
    _original = current
    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
