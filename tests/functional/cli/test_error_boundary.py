"""Every command, as a user types it, through the console entry point ``run()``: before the
deployment is provisioned (on the running local stack), with the local stack stopped, and with
its endpoints broken (an HTTP server answering every request with an HTML 404 page; a port that
refuses connections). Each either succeeds where that is legitimate (listed below) or exits 1
with exactly one ``error:`` line on stderr, and never prints a traceback.

The commands are enumerated from the typer app, so a new command is in the matrix at once; its
required arguments are filled from their types (``ARGS`` overrides where a command needs more).
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from omics_toolkit.cli.main import app, run

FASTQ = "@r1\nACGTACGT\n+\nIIIIIIII\n"
VCF = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def leaf_commands() -> dict[str, Any]:
    """``"runs show"`` -> click command, for every command a user can run (groups that run
    without a subcommand, such as ``runs``, included)."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found[" ".join(path)] = command
            return
        if path and getattr(command, "invoke_without_command", False):
            found[" ".join(path)] = command
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = leaf_commands()

#: Arguments beyond the required ones filled in by :func:`argv` (files are made in ``files``).
ARGS: dict[str, list[str]] = {
    "plan": ["--reference", "{files}/ref.fa"],
    "teardown": ["--yes"],
    "upload": ["{files}/S_R1.fastq", "{files}/S_R2.fastq"],
    "query": ["SELECT 1"],
    "annotations import": ["clinvar", "{files}/clinvar.vcf"],
    "workflows package": ["bcftools-germline", "--out", "{files}/workflow.zip"],
    "workflows register": ["bcftools-germline"],
    "results download": ["S", "--out", "{files}/results"],
    "reads export": ["S", "--out", "{files}/export"],
}

#: Not run at all, with why (they are covered elsewhere).
SKIPPED = {
    "demo": "downloads the demo data, starts a stack and provisions: tests/e2e",
}
#: Not run in one case, with why.
SKIPPED_IN = {
    "unprovisioned": {
        "provision": "provisioning is what the other commands lack: tests/functional/provisioning",
        "local stop": "would stop the session's stack: test_stack_lifecycle.py",
    },
    "stopped": {"local start": "would start a stack: test_stack_lifecycle.py"},
}
#: Commands that legitimately succeed (exit status) in a case: no AWS call, or nothing to do.
SUCCEEDS: dict[str, dict[str, int]] = {
    "unprovisioned": {
        "plan": 0,  # lists what provision would create
        "teardown": 0,  # nothing to delete
        "workflows list": 0,  # "no workflows in deployment"
        "local start": 0,  # already running: no-op
        "local status": 0,
    },
    "stopped": {"local status": 3, "local stop": 0},  # "not running"; "was not running"
    "refused": {"local status": 0, "local start": 0, "local stop": 0},  # the recorded process
    "html404": {"local status": 0, "local start": 0, "local stop": 0},
}
#: No AWS call at all: the same outcome in every case, never an error line.
OFFLINE = {"config show": 0, "workflows lint": 0, "workflows package": 0}
#: Checks this machine (tools, packages); exit 1 when something is missing, as a table.
MACHINE_CHECK = {"doctor"}

#: What each case's error line must say.
SAYS = {
    "unprovisioned": "is not provisioned (in local/us-east-1)",
    "stopped": "omics-toolkit local start",
    "refused": "refuses connections",
    "html404": "HTTP 404",
}


def argv(name: str, files: Path) -> list[str]:
    """The command line of ``name``: its words, required options/arguments, then ``ARGS``."""
    command = COMMANDS[name]
    words = name.split()
    extra = [a.format(files=files) for a in ARGS.get(name, [])]
    given_positionals = [a for a in extra if not a.startswith("--")]
    for param in command.params:
        if not param.required:
            continue
        if param.param_type_name == "option":
            words += [param.opts[0], "S"]
        elif not given_positionals:
            words.append("S")
    return [*words, *extra]


def _files(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    (files / "S_R1.fastq").write_text(FASTQ)
    (files / "S_R2.fastq").write_text(FASTQ)
    (files / "clinvar.vcf").write_text(VCF)
    (files / "ref.fa").write_text(">chr1\n" + "ACGT" * 50 + "\n")
    return files


def invoke(
    words: list[str], capsys: pytest.CaptureFixture[str], deployment: str
) -> tuple[int, str, str]:
    """``omics-toolkit -d <deployment> <words>`` through ``run()``: (exit status, stdout, stderr)."""
    saved = sys.argv
    sys.argv = ["omics-toolkit", "-d", deployment, *words]
    code: Any = 0
    try:
        run()
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # noqa: BLE001 - a raise out of run() is a traceback for a user
        captured = capsys.readouterr()
        return -1, captured.out, captured.err + f"\nTraceback (raised {exc!r})"
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    return int(code or 0), captured.out, captured.err


def check(case: str, name: str, code: int, stdout: str, stderr: str) -> None:
    where = f"{case}: omics-toolkit {name}: exit {code}\nstderr:\n{stderr}\nstdout:\n{stdout}"
    assert "Traceback" not in stderr, where
    assert "internal error" not in stderr, where
    error_lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    if name in MACHINE_CHECK:
        assert code in (0, 1) and not error_lines, where
        return
    expected = OFFLINE.get(name, SUCCEEDS[case].get(name))
    if expected is not None:
        assert code == expected and not error_lines, where
        return
    assert code == 1, where
    assert len(error_lines) == 1, where
    assert SAYS[case] in error_lines[0], where


def cases(case: str) -> list[Any]:
    params = []
    for name in COMMANDS:
        reason = SKIPPED.get(name) or SKIPPED_IN.get(case, {}).get(name)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(name, id=name.replace(" ", "-"), marks=marks))
    return params


def test_matrix_names_real_commands() -> None:
    """The tables above name only real commands (a renamed command must be renamed here)."""
    named = {*ARGS, *SKIPPED, *OFFLINE, *MACHINE_CHECK}
    named |= {n for table in (*SKIPPED_IN.values(), *SUCCEEDS.values()) for n in table}
    assert named <= set(COMMANDS), named - set(COMMANDS)
    assert len(COMMANDS) >= 27 and {"runs", "runs show", "upload", "query"} <= set(COMMANDS)


# ------------------------------------------------------------------ (a) before provisioning


@pytest.fixture(scope="module")
def unprovisioned(local_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A deployment name nobody provisioned on the session's running stack, and input files."""
    return f"np{uuid.uuid4().hex[:8]}", _files(tmp_path_factory.mktemp("unprovisioned"))


@pytest.mark.parametrize("name", cases("unprovisioned"))
def test_before_provisioning(
    name: str, unprovisioned: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    deployment, files = unprovisioned
    monkeypatch.chdir(files)
    code, stdout, stderr = invoke(argv(name, files), capsys, deployment)
    check("unprovisioned", name, code, stdout, stderr)
    if code == 1:
        assert f"run `omics-toolkit -d {deployment} provision`" in stderr


# ------------------------------------------------------------------ (b) the stack stopped


@pytest.mark.parametrize("name", cases("stopped"))
def test_stack_stopped(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """A home whose local stack is not running (no ``stack.json``): never the session's."""
    monkeypatch.setenv("OMICS_TOOLKIT_HOME", str(tmp_path / "home"))
    files = _files(tmp_path)
    monkeypatch.chdir(files)
    code, stdout, stderr = invoke(argv(name, files), capsys, "dev")
    check("stopped", name, code, stdout, stderr)


# ------------------------------------------------------------------ (c) broken endpoints


class _Html404(http.server.BaseHTTPRequestHandler):
    """Answers every request as a web server that knows no AWS API: 404 and an HTML page."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"<!doctype html><html><head><title>404 Not Found</title></head><body>nope</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def html404() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html404)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def refused() -> str:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _broken_stack(home: Path, url: str) -> subprocess.Popen[bytes]:
    """Record a 'running' local stack at ``url`` in ``home``; its process is a sleeping child of
    this test (so ``local stop`` stops only it)."""
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    local = home / "local"
    local.mkdir(parents=True)
    record = {"pid": process.pid, "moto": url, "omics": url, "region": "us-east-1"}
    (local / "stack.json").write_text(json.dumps(record))
    return process


@pytest.mark.parametrize("endpoint", ["refused", "html404"])
@pytest.mark.parametrize("name", cases("broken"))
def test_broken_endpoint(
    name: str,
    endpoint: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: Any,
) -> None:
    url = request.getfixturevalue(endpoint)
    home = tmp_path / "home"
    process = _broken_stack(home, url)
    try:
        monkeypatch.setenv("OMICS_TOOLKIT_HOME", str(home))
        files = _files(tmp_path)
        monkeypatch.chdir(files)
        started = time.monotonic()
        code, stdout, stderr = invoke(argv(name, files), capsys, "dev")
        check(endpoint, name, code, stdout, stderr)
        assert time.monotonic() - started < 10, f"{name} took too long against {endpoint}"
    finally:
        process.kill()
        process.wait()


def test_html_404_names_the_endpoint_and_status(
    html404: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """The drifted-install case: one line naming the endpoint, the call and the status, no HTML."""
    process = _broken_stack(tmp_path / "home", html404)
    try:
        monkeypatch.setenv("OMICS_TOOLKIT_HOME", str(tmp_path / "home"))
        code, _, stderr = invoke(["runs"], capsys, "dev")
    finally:
        process.kill()
        process.wait()
    assert code == 1
    assert stderr.startswith(
        f"error: the endpoint {html404} answered sts:GetCallerIdentity with HTTP 404"
    )
    assert "<html" not in stderr and len(stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: Any) -> None:
    """``--debug`` re-raises (a subprocess of the console script: the traceback is Python's)."""
    env = {**os.environ, "OMICS_TOOLKIT_HOME": str(tmp_path)}
    plain = subprocess.run(
        [sys.executable, "-m", "omics_toolkit", "runs"], capture_output=True, text=True, env=env
    )
    debug = subprocess.run(
        [sys.executable, "-m", "omics_toolkit", "--debug", "runs"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert "LocalStackError" in debug.stderr


# ------------------------------------------------------------------ service errors


@pytest.mark.parametrize(
    ("error", "count", "says"),
    [
        ("ThrottlingException", 5, "still throttled after retries; wait a minute"),
        ("AccessDeniedException", 1, "access denied: omics:ListWorkflows failed with"),
        ("InternalServerException", 5, "the service failed; run it again later"),
    ],
)
def test_service_errors_are_one_line(
    error: str,
    count: int,
    says: str,
    local_stack: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: Any,
    tmp_path: Path,
) -> None:
    """HealthOmics answering an error on every attempt (the emulator's fault rules; botocore
    makes 5 attempts of throttling and 5xx errors, 1 of access denied): one line, no traceback."""
    from healthomics_emulator import control

    monkeypatch.chdir(tmp_path)
    control.clear_faults(local_stack["omics"])
    rule = {"operation": "ListWorkflows", "error": error, "message": "injected", "count": count}
    control.add_faults(local_stack["omics"], [rule])
    try:
        code, _, stderr = invoke(["workflows", "list"], capsys, "faulted")
        fired = [r["fired"] for r in control.get_faults(local_stack["omics"])]
    finally:
        control.clear_faults(local_stack["omics"])
    assert fired == [count]  # every attempt was answered with the error
    assert code == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith("error: ") and len(stderr.strip().splitlines()) == 1, stderr
    assert says in stderr and f"{error}: injected" in stderr, stderr


# ------------------------------------------------------------------ credentials (target aws)


class _ExpiredToken(http.server.BaseHTTPRequestHandler):
    """An endpoint answering every STS call as AWS does for an expired session token."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code>"
            b"<Message>The security token included in the request is expired</Message>"
            b"</Error><RequestId>r</RequestId></ErrorResponse>"
        )
        self.send_response(400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _aws_env(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("OMICS_TOOLKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_missing_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    _aws_env(monkeypatch, tmp_path)
    code, _, stderr = invoke(["--target", "aws", "--region", "us-east-1", "runs"], capsys, "dev")
    assert code == 1 and "Traceback" not in stderr
    assert stderr.startswith("error: Unable to locate credentials: run `aws configure`")


def test_expired_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    _aws_env(monkeypatch, tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ExpiredToken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE00")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
        argv = ["--target", "aws", "--region", "us-east-1", "runs"]
        code, _, stderr = invoke(argv, capsys, "dev")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1 and "Traceback" not in stderr
    assert stderr == (
        "error: sts:GetCallerIdentity failed with ExpiredToken: The security token included in "
        "the request is expired: refresh your credentials (e.g. `aws sso login`) or check the "
        "profile\n"
    )


# ------------------------------------------------------------------ Ctrl-C


def test_interrupt_is_not_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) while a call waits on an endpoint that never answers: status 130 and no
    traceback (typer turns KeyboardInterrupt into Exit(130); a subprocess of the console entry
    point, as a user's shell runs it)."""
    import signal

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    home = tmp_path / "home"
    sleeper = _broken_stack(home, url)
    env = {**os.environ, "OMICS_TOOLKIT_HOME": str(home)}
    code = "from omics_toolkit.cli.main import run; run()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "runs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        listener.settimeout(5)
        for _ in range(2):  # make_context's checks that the ports (moto, omics) accept connections
            probe, _ = listener.accept()
            probe.close()
        listener.settimeout(60)
        call, _ = listener.accept()  # the first API call: never answered
        call.recv(65536)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        call.close()
    finally:
        proc.kill()
        listener.close()
        sleeper.kill()
        sleeper.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "error" not in stderr
