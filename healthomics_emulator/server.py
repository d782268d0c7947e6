"""HTTP front of the HealthOmics emulator (restJson1, routed from the botocore model).

Usage::

    emu = OmicsEmulator(state_dir, moto_endpoint="http://127.0.0.1:5000")
    url = emu.start()   # "http://127.0.0.1:PORT"; state reloaded from state_dir
    ...                 # boto3.client("omics", endpoint_url=url, config=Config(inject_host_prefix=False))
    emu.stop()          # state persisted; runs in flight are killed (FAILED on next start)

Errors are answered with the model's error shapes: status ``error.httpStatusCode``, header
``x-amzn-ErrorType: <Name>``, body ``{"message": "..."}``.

Control endpoints (not AWS paths): ``GET|POST /_toolkit/options`` (emulator options, persisted),
``GET|POST|DELETE /_toolkit/faults`` (fault injection rules, in memory: see
:mod:`healthomics_emulator.faults`) and ``POST /_toolkit/readsets/archive``
(``{"sequenceStoreId", "readSetIds"}``: archive read sets now, as the service does after 30 days).

Requests addressed to a sequence store's S3 access point alias (``/<...-s3alias>/<key>`` or
``Host: <...-s3alias>.…``) are answered as S3 answers them (:mod:`healthomics_emulator.s3_access`):
the local stack forwards them here from its S3 endpoint.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from healthomics_emulator import readset_jobs, s3_access
from healthomics_emulator.backend import SERVICE_ACCOUNT_ID, Backend
from healthomics_emulator.errors import OmicsError
from healthomics_emulator.faults import FaultRuleError, Rule
from healthomics_emulator.routes import new_backend

log = logging.getLogger(__name__)


#: Emulator control endpoint (options such as ``new_customer``); outside the AWS API paths.
CONTROL_PATH = "/_toolkit/options"
#: Fault injection control endpoint: GET lists, POST ``{"rules": [...]}`` adds, DELETE clears.
FAULTS_PATH = "/_toolkit/faults"
#: Archive read sets now: POST ``{"sequenceStoreId": str, "readSetIds": [str, ...]}``.
ARCHIVE_PATH = "/_toolkit/readsets/archive"
#: Bytes written at once when streaming a file.
CHUNK_BYTES = 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The listen backlog (socketserver's default is 5): a burst of executions polling at once
    # otherwise sees connections reset, which no AWS endpoint does.
    request_queue_size = 512
    backend: Backend

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (htslib closing a keep-alive connection) is not an error."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            log.debug("%s hung up", client_address)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch()

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        backend = self.server.backend
        model = backend.model
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_path, _, query = self.path.partition("?")
        if s3_access.alias_of(self.headers.get("Host") or "", raw_path) is not None:
            self._s3(raw_path, query)
            return
        if raw_path == ARCHIVE_PATH:
            self._archive(body)
            return
        if raw_path == CONTROL_PATH:
            self._control(body)
            return
        if raw_path == FAULTS_PATH:
            self._faults(body)
            return
        operation = "?"
        try:
            route, labels = model.match(self.command, raw_path)
            operation = route.operation
            parsed = model.parse(route, labels, query, dict(self.headers.items()), body)
            fault = backend.faults.take_api(operation, parsed.params)
            if fault is not None and fault.when == "before":
                _inject_before(fault, operation)

            def perform() -> dict[str, Any]:
                model.validate(operation, parsed.params)
                return backend.call(operation, parsed.params)

            if fault is not None and fault.when == "after":
                result = _perform_then_inject(fault, operation, perform)
            else:
                result = perform()
            if isinstance(result.get("payload"), bytes):  # a streaming blob (GetReadSet)
                self._send_bytes(route.response_code, result["payload"])
                return
            payload, headers = model.serialize(operation, result)
            self._send(route.response_code, payload, headers)
            log.debug("%s -> %s", operation, route.response_code)
        except OmicsError as exc:
            status = exc.status or model.error_status(exc.code)
            log.info("%s failed: %s %s", operation, exc.code, exc.message)
            self._send(status, {"message": exc.message}, {"x-amzn-ErrorType": exc.code})
        except Exception as exc:
            log.exception("%s crashed", operation)
            self._send(
                500,
                {"message": f"internal error: {exc}"},
                {"x-amzn-ErrorType": "InternalServerException"},
            )

    def _control(self, body: bytes) -> None:
        """``GET``/``POST /_toolkit/options``: read or change emulator options (not an AWS API)."""
        backend = self.server.backend
        if self.command == "GET":
            self._send(200, dict(backend.options), {})
            return
        try:
            changes = json.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of options")
            self._send(200, backend.set_options(changes), {})
        except ValueError as exc:
            self._send(400, {"message": str(exc)}, {})

    def _faults(self, body: bytes) -> None:
        """``/_toolkit/faults``: ``GET`` lists the rules, ``POST {"rules": [...]}`` adds rules (all
        or none; 400 with the reason otherwise), ``DELETE`` clears them (not an AWS API)."""
        registry = self.server.backend.faults
        if self.command == "GET":
            self._send(200, {"rules": registry.describe()}, {})
        elif self.command == "DELETE":
            self._send(200, {"cleared": registry.clear(), "rules": []}, {})
        elif self.command == "POST":
            try:
                doc = json.loads(body or b"{}")
                if not isinstance(doc, dict) or set(doc) != {"rules"}:
                    raise FaultRuleError('the body must be {"rules": [rule, ...]}')
                self._send(200, {"rules": registry.add(doc["rules"])}, {})
            except ValueError as exc:  # FaultRuleError, or a body that is not JSON
                self._send(400, {"message": str(exc)}, {})
        else:
            self._send(405, {"message": f"{self.command} is not allowed on {FAULTS_PATH}"}, {})

    def _s3(self, raw_path: str, query: str) -> None:
        """An S3 request to an access point alias (:mod:`healthomics_emulator.s3_access`)."""
        try:
            answer = s3_access.handle(
                self.server.backend,
                self.command,
                self.headers.get("Host") or "",
                raw_path,
                query,
                dict(self.headers.items()),
            )
        except Exception as exc:
            log.exception("S3 %s %s crashed", self.command, raw_path)
            answer = s3_access.error(500, "InternalError", f"internal error: {exc}")
        self.send_response(answer.status)
        length = answer.length if answer.file is not None else len(answer.body)
        headers = {"Content-Length": str(length), **answer.headers}
        headers["x-amz-request-id"] = s3_access.REQUEST_ID
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            self._write_answer(answer)
        except (BrokenPipeError, ConnectionResetError):
            # htslib and browsers ask for "bytes=N-" and hang up once they have what they need
            self.close_connection = True

    def _write_answer(self, answer: s3_access.S3Answer) -> None:
        if answer.file is None:
            self.wfile.write(answer.body)
            return
        with answer.file.open("rb") as fh:
            fh.seek(answer.start)
            left = answer.length
            while left > 0:
                chunk = fh.read(min(CHUNK_BYTES, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def _archive(self, body: bytes) -> None:
        """``POST /_toolkit/readsets/archive``: archive read sets now (not an AWS API)."""
        if self.command != "POST":
            self._send(405, {"message": f"{self.command} is not allowed on {ARCHIVE_PATH}"}, {})
            return
        try:
            doc = json.loads(body or b"{}")
            if (
                not isinstance(doc, dict)
                or not isinstance(doc.get("sequenceStoreId"), str)
                or not isinstance(doc.get("readSetIds"), list)
            ):
                raise ValueError('the body must be {"sequenceStoreId": str, "readSetIds": [str]}')
            records = readset_jobs.archive_read_sets(
                self.server.backend, doc["sequenceStoreId"], [str(i) for i in doc["readSetIds"]]
            )
        except ValueError as exc:
            self._send(400, {"message": str(exc)}, {})
            return
        except OmicsError as exc:
            self._send(404, {"message": exc.message}, {"x-amzn-ErrorType": exc.code})
            return
        self._send(200, {"readSets": [{"id": r["id"], "status": r["status"]} for r in records]}, {})

    def _send_bytes(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.end_headers()
        self.wfile.write(data)

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _inject_before(fault: Rule, operation: str) -> None:
    """``when: before``: sleep the rule's delay, then raise its error (delay-only rules return)."""
    fault.pause()
    error = fault.api_error(operation)
    if error is not None:
        raise error


def _perform_then_inject(
    fault: Rule, operation: str, perform: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``when: after``: perform the operation, sleep the rule's delay, then answer the rule's error
    whatever the outcome (a lost response); a delay-only rule answers the real outcome."""
    error = fault.api_error(operation)
    try:
        result = perform()
    except OmicsError as exc:
        if error is None:
            fault.pause()
            raise
        log.info(
            "%s failed under fault %s (answering %s): %s", operation, fault.id, error.code, exc
        )
        result = {}
    fault.pause()
    if error is not None:
        raise error
    return result


class OmicsEmulator:
    """The HealthOmics emulator service.

    Args:
        state_dir: where metadata (``meta/*.json``) and data (references, read sets, runs, stores)
            live; created if missing.
        moto_endpoint: URL of the moto server providing S3, Glue and CloudWatch Logs.
        host, port: listening address; ``port=0`` picks a free port.
        account_id, region: used in ARNs, ``omics://`` URIs and Glue database names.
        service_account_id: the HealthOmics-owned account holding the stores' Glue databases
            (shared into ``account_id`` through AWS RAM; ``backend.SERVICE_ACCOUNT_ID``).
    """

    def __init__(
        self,
        state_dir: Path,
        moto_endpoint: str,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        service_account_id: str = SERVICE_ACCOUNT_ID,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.service_account_id = service_account_id
        self.moto_endpoint = moto_endpoint
        self.host = host
        self.port = port
        self.account_id = account_id
        self.region = region
        self.backend: Backend | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (ValueError when stopped)."""
        if self._server is None:
            raise ValueError("emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Reload state, start serving in a background thread; return the base URL."""
        if self._server is not None:
            return self.url
        self.state_dir.mkdir(parents=True, exist_ok=True)
        backend = new_backend(
            self.state_dir,
            self.moto_endpoint,
            self.account_id,
            self.region,
            service_account_id=self.service_account_id,
        )
        backend.load()
        server = _Server((self.host, self.port), _Handler)
        server.backend = backend
        self.backend = backend
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="omics-emulator", daemon=True
        )
        self._thread.start()
        log.info("HealthOmics emulator listening on %s (state %s)", self.url, self.state_dir)
        return self.url

    def stop(self) -> None:
        """Stop serving, kill runs in flight and persist state."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self.backend is not None:
            self.backend.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        self.backend = None
