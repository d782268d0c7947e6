"""Run moto Lambda functions in a child Python process instead of Docker.

Replaces ``moto.awslambda.models.LambdaFunction._invoke_lambda(self, event) -> (payload: str,
errored: bool, logs: str)``, the single choke point used by Invoke, S3 notifications, SQS/SNS
event sources and Step Functions ``lambda:invoke`` tasks (moto 5.2.x).

Per invocation:

- the deployment zip is extracted once per code SHA-256 into the cache directory
  (``$OMICS_TOOLKIT_LAMBDA_CACHE`` or ``<tmp>/omics-toolkit-lambda``): the ``/var/task``
  equivalent;
- each of the function's ``Layers`` (moto ``LayerVersion.code_bytes``) is extracted once per
  ``CodeSha256`` into ``<cache>/layers/<sha>``; a function with several layers gets one directory
  per layer combination into which the layers are merged in the function's order, later layers
  overwriting earlier ones, as Lambda merges them into ``/opt``;
- ``sys.executable -S -P omics_toolkit/local/stack/lambda_runtime.py`` runs the handler with the
  event on stdin. ``-S`` keeps the environment's site-packages (and any editable install of the toolkit)
  off ``sys.path``; ``PYTHONPATH`` gives the module search path in Lambda's order: function code,
  then ``<opt>/python/lib/python3.x/site-packages`` and ``<opt>/python``, then the runtime
  (:func:`runtime_site`), then the standard library. So a handler imports ``omics_toolkit`` from its
  layer, and without the layer gets ``ModuleNotFoundError``, as in AWS;
- the result comes back through a file, the handler's stdout/stderr become the logs;
- the child environment is the function's variables plus the Lambda runtime variables, fake
  credentials and endpoints pointing at the local stack (moto and the HealthOmics emulator);
- the function ``Timeout`` is enforced (process group killed; payload
  ``{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out
  after N.NN seconds"}``, what current Lambda runtimes return; Step Functions ``lambda:invoke``
  tasks then fail with error ``Sandbox.Timedout``, the payload's ``errorType``. The Step
  Functions guide ("Handle Lambda service exceptions") still says timeouts are reported as
  ``Lambda.Unknown``: that is the error for a payload without ``errorType``, as older runtimes'
  timeout payloads were);
- START/END/REPORT lines and the output go to CloudWatch Logs ``/aws/lambda/<function name>``;
- fault rules in ``<state dir>/faults/lambda.json`` (:mod:`omics_toolkit.local.faults`) are read
  on every invocation: ``error`` and ``timeout`` fail it without running the handler,
  ``timeout_after_handler`` runs the handler and then reports the timeout;
- the request id is a new UUID, or the one set by :func:`request_id_scope` (asynchronous
  invocations keep one request id across their retries, as in Lambda).

Runtimes and compiled code (where the local stack differs from Lambda, and how it says so):

- Every Python runtime is executed by *this* machine's interpreter (CPython 3.11 on Debian 12
  here; no python3.12/3.13 exists on the host). A function declared ``python3.13`` therefore runs
  its pure-Python code on 3.11, and each invocation whose declared version differs logs
  ``[omics-toolkit local] python3.13 function run by CPython 3.11.x`` in its CloudWatch stream.
  Lambda's own checks on the declared runtime (blocked create/update dates, the unzipped size
  limit) are applied by :mod:`.lambda_limits`.
- Compiled wheels in layers (``*.dist-info/WHEEL`` ``Tag:`` lines, ``Root-Is-Purelib: false``)
  are judged by :mod:`omics_toolkit.lambda_facts` before the handler runs: a wheel whose
  manylinux tags need a newer glibc than the declared runtime's OS (Amazon Linux 2: 2.26, Amazon
  Linux 2023: 2.34), or another machine than x86_64, makes any import of its top-level packages
  fail as Lambda's does: ``Runtime.ImportModuleError`` ``Unable to import module 'app':
  /lib64/libc.so.6: version `GLIBC_2.27' not found (required by /opt/python/...so)``. Functions
  that never import the package are unaffected, as in AWS.
- The CPython ABI is judged against the interpreter that actually runs the code, the host's:
  binaries tagged ``cp311`` load locally even under a declared ``python3.13`` (AWS would not find
  them), and binaries built for the declared runtime (``cp313``, the layer provisioning builds for
  AWS) cannot load here; their import fails with a message saying why. This is the one place
  where a local success does not prove an AWS success: the toolkit's AWS tables layer is built for
  the declared runtime by ``provisioning.tables_layer`` and checked there.

Not emulated: container-image functions, memory limits, concurrency limits, warm containers (each
invocation is a cold start, ~0.3 s), layers' ``bin/`` and ``lib/`` (``PATH``,
``LD_LIBRARY_PATH``). A layer version deleted before the first invocation of a function using it
is unavailable locally (AWS keeps a copy for the function).
"""

from __future__ import annotations

import hashlib
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from omics_toolkit.distributions import closure
from omics_toolkit.lambda_facts import WheelTags, runtime
from omics_toolkit.local import faults
from omics_toolkit.local.patches.guard import Needs

LOG = logging.getLogger(__name__)

#: The moto symbol this module replaces (checked by tests/unit/local/test_patches_lambda_exec.py).
TARGET = "moto.awslambda.models.LambdaFunction._invoke_lambda"

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs("moto.awslambda.models.LambdaFunction._invoke_lambda", params=("self", "event")),
    Needs(
        "moto.awslambda.models.LambdaFunction.invoke",
        source=("res, errored, logs = self._invoke_lambda(",),
    ),
    Needs("moto.awslambda.models.lambda_backends"),
)

#: Variable through which the runtime bootstrap learns the imports that must fail (JSON object).
BLOCKED_IMPORTS_VARIABLE = "OMICS_TOOLKIT_LAMBDA_BLOCKED_IMPORTS"
_RUNTIME = Path(__file__).resolve().parent.parent / "stack" / "lambda_runtime.py"
_extract_lock = threading.Lock()
_original: Any = None


#: Distributions a handler sees besides its code and layers (with their dependencies): the AWS
#: SDK that the Lambda Python runtime includes, and Powertools, which functions get in AWS from the
#: AWS-managed layer (the local stack attaches no Powertools layer).
RUNTIME_DISTRIBUTIONS = ("boto3", "aws-lambda-powertools")


class LayerUnavailableError(Exception):
    """A function's layer version is gone from moto and was never extracted here."""


def cache_dir() -> Path:
    """Directory holding extracted deployment packages, one sub-directory per code SHA-256."""
    configured = os.environ.get("OMICS_TOOLKIT_LAMBDA_CACHE")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "omics-toolkit-lambda"


def _safe(sha256: str) -> str:
    """A base64 SHA-256 as a file name."""
    return sha256.replace("/", "_").replace("+", "-").rstrip("=") or "empty"


def _build_once(target: Path, fill: Callable[[Path], None]) -> Path:
    """Create directory ``target`` once with ``fill(staging)``; return ``target``.

    ``fill`` writes into a temporary sibling that is then renamed, so concurrent invocations never
    see a half-written directory.
    """
    if target.is_dir():
        return target
    with _extract_lock:
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
        try:
            fill(staging)
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():  # not someone else winning the race
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _unzip(code_bytes: bytes) -> Callable[[Path], None]:
    def fill(staging: Path) -> None:
        with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
            archive.extractall(staging)

    return fill


def extract_code(code_bytes: bytes, sha256: str) -> Path:
    """Extract a deployment zip once per SHA-256; return the code directory (``/var/task``)."""
    return _build_once(cache_dir() / _safe(sha256), _unzip(code_bytes))


def extract_layer(code_bytes: bytes, sha256: str) -> Path:
    """Extract a layer zip once per ``CodeSha256``; return its directory (an ``/opt`` of one layer)."""
    return _build_once(cache_dir() / "layers" / _safe(sha256), _unzip(code_bytes))


def _arn_record(arn: str) -> Path:
    return cache_dir() / "layers" / "by-arn" / hashlib.sha256(arn.encode()).hexdigest()[:32]


def _layer_version(fn: Any, arn: str) -> Any:
    """moto ``LayerVersion`` of ``arn`` (``arn:aws:lambda:<region>:<account>:layer:<name>:<n>``)."""
    from moto.awslambda.models import lambda_backends

    parts = arn.split(":")
    region, account = (parts[3], parts[4]) if len(parts) == 8 else (fn.region, fn.account_id)
    try:
        return lambda_backends[account][region].layers_versions_by_arn(arn)
    except (KeyError, ValueError, IndexError):
        return None


def layer_shas(fn: Any) -> list[str]:
    """``CodeSha256`` of each layer of ``fn`` in merge order, each extracted into the cache.

    Raises:
        LayerUnavailableError: a layer version is unknown to moto and was never extracted here.
    """
    shas = []
    for layer in getattr(fn, "layers", None) or []:
        arn = str(layer["Arn"])
        version = _layer_version(fn, arn)
        record = _arn_record(arn)
        if version is not None and version.code_sha_256:
            sha = str(version.code_sha_256)
            extract_layer(version.code_bytes, sha)
            if not record.is_file():
                record.parent.mkdir(parents=True, exist_ok=True)
                record.write_text(sha)
        elif version is not None:  # published from an S3 object moto could not read: empty
            continue
        elif record.is_file() and (cache_dir() / "layers" / _safe(record.read_text())).is_dir():
            sha = record.read_text()
        else:
            raise LayerUnavailableError(
                f"layer version {arn} does not exist on the local stack (deleted before this "
                "function first ran here)"
            )
        shas.append(sha)
    return shas


def opt_dir(fn: Any) -> Path | None:
    """The ``/opt`` equivalent of ``fn``: its layers merged in order; ``None`` without layers."""
    shas = layer_shas(fn)
    if not shas:
        return None
    if len(shas) == 1:
        return cache_dir() / "layers" / _safe(shas[0])

    def merge(staging: Path) -> None:
        for sha in shas:  # later layers overwrite earlier ones, as in Lambda
            shutil.copytree(cache_dir() / "layers" / _safe(sha), staging, dirs_exist_ok=True)

    key = hashlib.sha256("\n".join(shas).encode()).hexdigest()[:32]
    return _build_once(cache_dir() / "opt" / key, merge)


#: ``CPython X.Y``'s ABI tag: the interpreter that runs every local function.
HOST_ABI = f"cp{sys.version_info.major}{sys.version_info.minor}"
_problems_cache: dict[tuple[str, str, str], dict[str, str]] = {}


def _record_entries(dist_info: Path) -> list[str]:
    record = dist_info / "RECORD"
    if not record.is_file():
        return []
    return [line.split(",", 1)[0] for line in record.read_text().splitlines() if line.strip()]


def _top_level_modules(entries: list[str]) -> set[str]:
    tops = set()
    for entry in entries:
        first = entry.split("/", 1)[0]
        if (
            not first
            or first in ("..", "__pycache__", "bin")
            or first.endswith((".dist-info", ".data", ".libs", ".pth"))
        ):
            continue
        tops.add(first.split(".", 1)[0])
    return tops


def binary_import_errors(
    opt: Path | None, run_time: str | None, machine: str = "x86_64"
) -> dict[str, str]:
    """Top-level module -> the ImportError message an import of it gets, for layer wheels that
    cannot load on the declared runtime (see the module docstring).

    Looks at every ``*.dist-info/WHEEL`` under ``<opt>/python`` and
    ``<opt>/python/lib/<runtime>/site-packages``. Cached per directory, runtime and machine.
    """
    facts = runtime(run_time or "")
    if opt is None or facts is None:
        return {}
    key = (str(opt), facts.identifier, machine)
    if key in _problems_cache:
        return _problems_cache[key]
    errors: dict[str, str] = {}
    roots = [opt / "python", opt / "python" / "lib" / facts.identifier / "site-packages"]
    for root in roots:
        for wheel in sorted(root.glob("*.dist-info/WHEEL")) if root.is_dir() else []:
            text = wheel.read_text(errors="replace")
            if "root-is-purelib: true" in text.lower():
                continue
            tags = WheelTags.from_wheel_metadata(wheel.parent.name.split("-")[0], text)
            entries = _record_entries(wheel.parent)
            shared = sorted(
                e
                for e in entries
                if e.endswith(".so") and not e.split("/", 1)[0].endswith((".libs", ".data"))
            ) or sorted(e for e in entries if ".so" in Path(e).suffixes)
            where = "/opt/" + str((root / (shared[0] if shared else "")).relative_to(opt))
            glibc_problem = tags.problem(facts, machine, abi=HOST_ABI)
            if glibc_problem is None:
                continue
            glibc = tags.required_glibc()
            if glibc is not None and glibc > facts.glibc and "needs glibc" in glibc_problem:
                message = (
                    f"/lib64/libc.so.6: version `GLIBC_{glibc[0]}.{glibc[1]}' not found "
                    f"(required by {where})"
                )
            elif "is built for" in glibc_problem and HOST_ABI in glibc_problem:
                message = (
                    f"{glibc_problem} [omics-toolkit local: {facts.identifier} functions run on "
                    f"this machine's CPython {sys.version_info.major}.{sys.version_info.minor}, "
                    "which cannot load these binaries; Lambda would]"
                )
            else:
                message = f"{where}: cannot open shared object file ({glibc_problem})"
            for top in _top_level_modules(entries):
                errors.setdefault(top, message)
    _problems_cache[key] = errors
    return errors


def _closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """Installed distributions ``names`` and their dependencies (no extras), recursively."""
    return list(closure(names).values())


def _top_levels(dist: metadata.Distribution) -> set[str]:
    """Top-level entries of ``dist`` in its site directory: packages, modules, ``.dist-info``."""
    tops = set()
    for file in dist.files or []:
        parts = Path(str(file)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".pth"):
            continue
        if parts[0].startswith("__editable__"):
            continue
        tops.add(parts[0])
    return tops


_runtime_dir: Path | None = None


def runtime_site() -> Path:
    """A directory of symlinks to :data:`RUNTIME_DISTRIBUTIONS` and their dependencies.

    The ``/var/runtime`` equivalent: the child process gets these packages and nothing else of
    this environment (no pandas, miniwdl, moto, no ``omics_toolkit``). Built once per set of
    installed versions under ``<cache>/runtime/<digest>``.
    """
    global _runtime_dir
    if _runtime_dir is not None and _runtime_dir.is_dir():
        return _runtime_dir
    links: dict[str, Path] = {}
    for dist in _closure(RUNTIME_DISTRIBUTIONS):
        for top in sorted(_top_levels(dist)):
            source = Path(str(dist.locate_file(top)))
            if source.exists():
                links.setdefault(top, source)
    digest = hashlib.sha256(
        "\n".join(f"{name} {path}" for name, path in sorted(links.items())).encode()
    ).hexdigest()[:32]

    def fill(staging: Path) -> None:
        for name, source in links.items():
            (staging / name).symlink_to(source, target_is_directory=source.is_dir())

    _runtime_dir = _build_once(cache_dir() / "runtime" / digest, fill)
    return _runtime_dir


def python_path(code_dir: Path, opt: Path | None, run_time: str | None) -> list[str]:
    """The child's module search path before the standard library, in Lambda's order.

    Function code (``/var/task``), the layers' ``python/lib/<runtime>/site-packages`` and
    ``python`` (``/opt/...``), then the runtime's packages (:func:`runtime_site`).
    """
    version = run_time if run_time and run_time.startswith("python") else None
    version = version or f"python{sys.version_info.major}.{sys.version_info.minor}"
    path = [str(code_dir)]
    if opt is not None:
        path += [str(opt / "python" / "lib" / version / "site-packages"), str(opt / "python")]
    return [*path, str(runtime_site())]


def moto_url() -> str:
    """URL of the moto server this process serves (``MOTO_PORT``, default 5000)."""
    return f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}"


def child_environment(
    fn: Any, code_dir: Path, request_id: str, stream: str, path: list[str] | None = None
) -> dict[str, str]:
    """Environment of the handler process: function variables + Lambda runtime variables.

    ``PYTHONPATH`` is ``path`` (default: the code directory only).
    """
    env: dict[str, str] = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LAMBDA_TASK_ROOT": str(code_dir),
        "LAMBDA_RUNTIME_DIR": path[-1] if path else str(code_dir),
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
    env["PYTHONPATH"] = os.pathsep.join(path or [str(code_dir)])
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


_scope = threading.local()

#: ``errorType`` of an invocation failed by an ``error`` fault rule.
INJECTED_ERROR_TYPE = "InjectedFaultError"


@contextmanager
def request_id_scope(request_id: str) -> Iterator[None]:
    """Invocations made by this thread inside the block get ``request_id`` as their request id."""
    previous = getattr(_scope, "request_id", None)
    _scope.request_id = request_id
    try:
        yield
    finally:
        _scope.request_id = previous


def timeout_payload(request_id: str, timeout_s: float) -> dict[str, str]:
    """The payload of an invocation that ran out of time, as Lambda returns it."""
    return {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds",
    }


def _take_fault(fn: Any) -> dict[str, Any] | None:
    state_dir = faults.state_dir_from_env()
    if state_dir is None:
        return None
    try:
        return faults.take_lambda_fault(
            state_dir, str(fn.function_name), str(getattr(fn, "function_arn", "") or "")
        )
    except OSError:
        LOG.exception("could not read the Lambda faults of %s", state_dir)
        return None


def _line(output: str, message: str) -> str:
    """``output`` with ``message`` appended on a line of its own."""
    return output + ("" if output.endswith("\n") or not output else "\n") + message + "\n"


def _finish(
    fn: Any,
    stream: str,
    request_id: str,
    output: str,
    duration_ms: float,
    payload_obj: Any,
    errored: bool,
) -> tuple[str, bool, str]:
    """Write the invocation's log to CloudWatch Logs; return ``(payload, errored, log tail)``."""
    billed = int(-(-duration_ms // 1))
    logs = (
        f"START RequestId: {request_id} Version: {fn.version}\n{output}END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {fn.memory_size} MB\t"
        f"Max Memory Used: {fn.memory_size} MB\n"
    )
    _save_logs(fn, stream, logs)
    # Invoke's LogResult carries the last 4 KB of the log, as in AWS.
    tail = logs.encode("utf-8")[-4096:].decode("utf-8", errors="ignore")
    return json.dumps(payload_obj), errored, tail


def invoke(fn: Any, event: Any) -> tuple[str, bool, str]:
    """Run one invocation of moto ``LambdaFunction`` ``fn``.

    Returns:
        ``(payload JSON text, errored, log text)`` as moto's ``_invoke_lambda`` does.
    """
    request_id = getattr(_scope, "request_id", None) or str(uuid.uuid4())
    now = time.gmtime()
    stream = f"{now.tm_year}/{now.tm_mon:02d}/{now.tm_mday:02d}/[{fn.version}]{uuid.uuid4().hex}"
    timeout_s = float(fn.timeout or 3)
    header = f"START RequestId: {request_id} Version: {fn.version}"
    try:
        code_dir = extract_code(fn.code_bytes, fn.code_sha_256)
        opt = opt_dir(fn)
        path = python_path(code_dir, opt, fn.run_time)
        blocked = binary_import_errors(opt, fn.run_time, (fn.architectures or ["x86_64"])[0])
    except (zipfile.BadZipFile, OSError, LayerUnavailableError) as exc:
        what = "a layer" if isinstance(exc, LayerUnavailableError) else "the deployment package"
        payload = {
            "errorMessage": f"Could not unzip {what}: {exc}",
            "errorType": "Runtime.InvalidEntrypoint",
        }
        _save_logs(fn, stream, f"{header}\n{payload['errorMessage']}")
        return json.dumps(payload), True, payload["errorMessage"]

    fault = _take_fault(fn)
    if fault is not None:
        note = (
            f"[omics-toolkit local] fault injected: mode {fault['mode']} "
            f"(rule {fault['index']} of {fault['file']})"
        )
        if fault["mode"] == "error":
            message = f"RequestId: {request_id} Error: {note}"
            payload_obj: Any = {"errorType": INJECTED_ERROR_TYPE, "errorMessage": message}
            return _finish(fn, stream, request_id, message + "\n", 0.0, payload_obj, True)
        if fault["mode"] == "timeout":
            payload_obj = timeout_payload(request_id, timeout_s)
            output = _line(note, payload_obj["errorMessage"])
            return _finish(fn, stream, request_id, output, timeout_s * 1000, payload_obj, True)

    with tempfile.TemporaryDirectory(prefix="omics-toolkit-invoke-") as tmp:
        result_path = Path(tmp) / "result.json"
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        cmd = [
            sys.executable,
            "-S",  # no site-packages: the runtime is PYTHONPATH's last entry
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
            env={
                **child_environment(fn, code_dir, request_id, stream, path),
                BLOCKED_IMPORTS_VARIABLE: json.dumps(blocked),
            },
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
        output = interpreter_note(fn.run_time) + out.decode("utf-8", errors="replace")

        if timed_out:
            payload_obj = timeout_payload(request_id, timeout_s)
            errored = True
            output = _line(output, payload_obj["errorMessage"])
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

    if fault is not None and fault["mode"] == "timeout_after_handler" and not timed_out:
        # the handler's work is done; the invocation still reports that it ran out of time
        payload_obj = timeout_payload(request_id, timeout_s)
        errored = True
        output = _line(_line(output, note), payload_obj["errorMessage"])
        duration_ms = max(duration_ms, timeout_s * 1000)
    return _finish(fn, stream, request_id, output, duration_ms, payload_obj, errored)


def interpreter_note(run_time: str | None) -> str:
    """The log line saying which interpreter ran a function declared ``run_time`` ("" if the same)."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not run_time or not run_time.startswith("python") or run_time == here:
        return ""
    version = ".".join(map(str, sys.version_info[:3]))
    return f"[omics-toolkit local] {run_time} function run by CPython {version}\n"


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
