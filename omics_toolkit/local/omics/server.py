"""HTTP front of the HealthOmics emulator (restJson1, routed from the botocore model).

Usage::

    emu = OmicsEmulator(state_dir, moto_endpoint="http://127.0.0.1:5000")
    url = emu.start()   # "http://127.0.0.1:PORT"; state reloaded from state_dir
    ...                 # boto3.client("omics", endpoint_url=url, config=Config(inject_host_prefix=False))
    emu.stop()          # state persisted; runs in flight are killed (FAILED on next start)

Errors are answered with the model's error shapes: status ``error.httpStatusCode``, header
``x-amzn-ErrorType: <Name>``, body ``{"message": "..."}``.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from omics_toolkit.local.omics.backend import Backend
from omics_toolkit.local.omics.errors import OmicsError

log = logging.getLogger(__name__)


#: Emulator control endpoint (options such as ``new_customer``); outside the AWS API paths.
CONTROL_PATH = "/_toolkit/options"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    backend: Backend


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
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
        if raw_path == CONTROL_PATH:
            self._control(body)
            return
        operation = "?"
        try:
            route, labels = model.match(self.command, raw_path)
            operation = route.operation
            parsed = model.parse(route, labels, query, dict(self.headers.items()), body)
            model.validate(operation, parsed.params)
            result = backend.call(operation, parsed.params)
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


class OmicsEmulator:
    """The HealthOmics emulator service.

    Args:
        state_dir: where metadata (``meta/*.json``) and data (references, read sets, runs, stores)
            live; created if missing.
        moto_endpoint: URL of the moto server providing S3, Glue and CloudWatch Logs.
        host, port: listening address; ``port=0`` picks a free port.
        account_id, region: used in ARNs, ``omics://`` URIs and Glue database names.
    """

    def __init__(
        self,
        state_dir: Path,
        moto_endpoint: str,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = "123456789012",
        region: str = "us-east-1",
    ) -> None:
        self.state_dir = Path(state_dir)
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
        backend = Backend(self.state_dir, self.moto_endpoint, self.account_id, self.region)
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
