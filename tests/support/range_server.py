"""A stdlib HTTP server answering GET/HEAD with ``Range``, standing in for presigned S3 URLs.

It serves named files (``/<name>``, any query string ignored, as a presigned URL's signature
would be checked and dropped) with ``206 Partial Content`` for ``Range: bytes=a-b`` and counts
requests and bytes sent, so tests can state how much of a file a client moved.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class RangeServer:
    """Counters and the base URL of a running server."""

    url: str
    files: dict[str, Path]
    requests: int = 0
    bytes_sent: int = 0
    ranges: list[tuple[str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.bytes_sent = 0
            self.ranges.clear()


def _handler(state: RangeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def _answer(self, send_body: bool) -> None:
            name = urlsplit(self.path).path.lstrip("/")
            path = state.files.get(name)
            if path is None:
                self.send_error(404)
                return
            data = path.read_bytes()
            wanted = self.headers.get("Range")
            status, start, end = 200, 0, len(data)
            if wanted is not None:
                match = _RANGE.match(wanted.strip())
                if not match or int(match.group(1)) >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(match.group(1))
                end = min(int(match.group(2)) + 1 if match.group(2) else len(data), len(data))
                status = 206
            chunk = data[start:end]
            self.send_response(status)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(chunk)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if send_body:
                self.wfile.write(chunk)
                with state.lock:
                    state.requests += 1
                    state.bytes_sent += len(chunk)
                    state.ranges.append((name, wanted))

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

    return Handler


@contextmanager
def range_server(files: dict[str, Path]) -> Iterator[RangeServer]:
    """Serve ``files`` (URL name -> path) on a free 127.0.0.1 port for the ``with`` block."""
    state = RangeServer(url="", files=dict(files))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
