"""The local stack process: patched moto server + HealthOmics emulator.

Usage::

    python -m omics_toolkit.local.stack.server --state-dir DIR [--moto-port N] [--omics-port N]
                                         [--region R] [--without-omics]

Sets, for itself and its children (Lambda handlers): ``MOTO_PORT``, ``AWS_ENDPOINT_URL_OMICS``,
``AWS_DISABLE_HOST_PREFIX_INJECTION=true``, ``OMICS_TOOLKIT_LAMBDA_CACHE=DIR/lambda-cache``; for
itself (the patches), ``OMICS_TOOLKIT_LOCAL_STATE_DIR=DIR`` (fault files, async failures).
Restores the moto snapshot (``DIR/moto``), applies the patches, starts the asynchronous Lambda
queue, moto and the emulator, and writes ``DIR/stack.json`` once both answer::

    {"pid": int, "moto": "http://127.0.0.1:P1", "omics": "http://127.0.0.1:P2" | null,
     "region": str, "started_at": iso, "log": str, "restored": [service, ...],
     "not_restored": [description, ...]}

On a fresh state (no Lake Formation snapshot), the local account is set up as the HealthOmics
guide asks a user to set up theirs (setting-up-lf.html, permissions-resource.html): the local
caller (``arn:aws:iam::123456789012:user/omics-toolkit-local``, the IAM user owning the local key) is a data lake
administrator and "Use only IAM access control for new databases/tables" is off
(PutDataLakeSettings with empty ``CreateDatabaseDefaultPermissions`` and
``CreateTableDefaultPermissions``). moto's own defaults are AWS's for a new account (no
administrators, ``IAM_ALLOWED_PRINCIPALS`` defaults on).

On SIGTERM/SIGINT: stops the emulator, the asynchronous Lambda queue (events still queued are
recorded as dropped) and moto, saves the moto snapshot, removes ``stack.json`` and exits 0. ``--without-omics`` (tests only) runs moto alone and records ``"omics": null``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from omics_toolkit.constants import DEFAULT_REGION, LOCAL_ACCOUNT_ID
from omics_toolkit.errors import LocalStackError

LOG = logging.getLogger("omics_toolkit.local.stack.server")

STACK_FILE = "stack.json"
#: The IAM identity behind the local credentials (:mod:`omics_toolkit.local.patches.local_identity`).
LOCAL_CALLER_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:user/omics-toolkit-local"
#: The administrator a stack of an earlier version made (moto's own identity for the local key).
LEGACY_CALLER_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:user/moto"


def set_up_lake_formation(moto_url: str, region: str, fresh: bool = True) -> None:
    """Make the local caller a data lake administrator and turn the IAM-only defaults off
    (Lake Formation GetDataLakeSettings, PutDataLakeSettings), keeping the other settings.

    ``fresh=False`` (settings restored from a snapshot) changes only an administrator entry an
    earlier version made (:data:`LEGACY_CALLER_ARN`, replaced by :data:`LOCAL_CALLER_ARN`), so
    settings a user or test changed are kept.
    """
    import boto3

    lf = boto3.client(
        "lakeformation",
        endpoint_url=moto_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    admins = settings.get("DataLakeAdmins") or []
    if not fresh:
        names = [a.get("DataLakePrincipalIdentifier") for a in admins]
        if LEGACY_CALLER_ARN not in names:
            return
        settings["DataLakeAdmins"] = [
            {"DataLakePrincipalIdentifier": LOCAL_CALLER_ARN if n == LEGACY_CALLER_ARN else n}
            for n in names
        ]
        lf.put_data_lake_settings(DataLakeSettings=settings)
        return
    if LOCAL_CALLER_ARN not in [a.get("DataLakePrincipalIdentifier") for a in admins]:
        admins.append({"DataLakePrincipalIdentifier": LOCAL_CALLER_ARN})
    settings.update(
        DataLakeAdmins=admins, CreateDatabaseDefaultPermissions=[], CreateTableDefaultPermissions=[]
    )
    lf.put_data_lake_settings(DataLakeSettings=settings)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (racy by nature; the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, timeout_seconds: float = 2.0) -> bool:
    """True when an HTTP server answers at ``url`` (any status code)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


class LocalStack:
    """moto + emulator in this process.

    Args:
        state_dir: the stack's state directory (``<home>/local``).
        moto_port, omics_port: fixed ports, or ``None`` for free ones.
        region: the stack's region.
        with_omics: start the HealthOmics emulator.
    """

    def __init__(
        self,
        state_dir: Path,
        moto_port: int | None = None,
        omics_port: int | None = None,
        region: str = DEFAULT_REGION,
        with_omics: bool = True,
    ) -> None:
        self.state_dir = state_dir
        self.moto_port = moto_port or free_port()
        self.omics_port = omics_port or free_port()
        self.region = region
        self.with_omics = with_omics
        self.moto_url = f"http://127.0.0.1:{self.moto_port}"
        self.omics_url: str | None = None
        self._moto: Any = None
        self._emulator: Any = None
        self._stopped = threading.Event()

    def start(self) -> dict[str, Any]:
        """Start both servers and write ``stack.json``; return the record."""
        from moto.core.config import default_user_config
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        from omics_toolkit.local import faults
        from omics_toolkit.local.patches import apply_all, local_identity, s3_notifications
        from omics_toolkit.local.stack import snapshot

        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.environ[faults.STATE_DIR_ENV] = str(self.state_dir)
        os.environ["MOTO_PORT"] = str(self.moto_port)
        os.environ["AWS_ENDPOINT_URL_OMICS"] = f"http://127.0.0.1:{self.omics_port}"
        os.environ["AWS_DISABLE_HOST_PREFIX_INJECTION"] = "true"
        os.environ["OMICS_TOOLKIT_LAMBDA_CACHE"] = str(self.state_dir / "lambda-cache")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", self.region)
        default_user_config["stepfunctions"]["execute_state_machine"] = True

        apply_all()
        s3_notifications.start()
        restored, not_restored = snapshot.restore(self.state_dir / "moto")
        if restored:
            LOG.info("restored moto state: %s", ", ".join(restored))
        LOG.info("local credentials are IAM user %s", local_identity.seed(self.region))
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        LOG.info("moto listening on %s", self.moto_url)

        if self.with_omics:
            from healthomics_emulator.server import OmicsEmulator

            self._emulator = OmicsEmulator(
                state_dir=self.state_dir / "omics",
                moto_endpoint=self.moto_url,
                host="127.0.0.1",
                port=self.omics_port,
                account_id=LOCAL_ACCOUNT_ID,
                region=self.region,
            )
            self.omics_url = str(self._emulator.start())
            os.environ["AWS_ENDPOINT_URL_OMICS"] = self.omics_url
            LOG.info("HealthOmics emulator listening on %s", self.omics_url)

        deadline = time.monotonic() + 30
        urls = [self.moto_url + "/moto-api/"] + ([self.omics_url] if self.omics_url else [])
        while not all(answers(u) for u in urls):
            if time.monotonic() > deadline:
                raise RuntimeError(f"servers did not answer: {urls}")
            time.sleep(0.1)

        set_up_lake_formation(self.moto_url, self.region, fresh="lakeformation" not in restored)

        record = {
            "pid": os.getpid(),
            "moto": self.moto_url,
            "omics": self.omics_url,
            "region": self.region,
            "started_at": dt.datetime.now(dt.UTC).isoformat(),
            "log": str(self.state_dir / "stack.log"),
            "restored": restored,
            "not_restored": not_restored,
        }
        _write_json_atomic(self.state_dir / STACK_FILE, record)
        return record

    def stop(self, save: bool = True) -> None:
        """Stop the emulator and moto, save the moto snapshot (if ``save``), remove ``stack.json``."""
        from omics_toolkit.local.stack import snapshot

        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._emulator is not None:
            try:
                self._emulator.stop()
            except Exception:  # noqa: BLE001 - keep shutting down
                LOG.exception("emulator did not stop cleanly")
        try:
            from omics_toolkit.local.patches import s3_notifications

            dropped = s3_notifications.stop()
            if dropped:
                LOG.warning("%d queued asynchronous Lambda event(s) dropped", dropped)
        except Exception:  # noqa: BLE001
            LOG.exception("asynchronous Lambda queue did not stop cleanly")
        if self._moto is not None:
            try:
                self._moto.stop()
            except Exception:  # noqa: BLE001
                LOG.exception("moto did not stop cleanly")
        if not save:
            (self.state_dir / STACK_FILE).unlink(missing_ok=True)
            return
        try:
            not_saved = snapshot.save(self.state_dir / "moto")
            if not_saved:
                LOG.warning("moto state not saved for: %s", ", ".join(not_saved))
            else:
                LOG.info("moto state saved to %s", self.state_dir / "moto")
        except Exception:  # noqa: BLE001
            LOG.exception("could not save moto state")
        (self.state_dir / STACK_FILE).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m omics_toolkit.local.stack.server``; blocks until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m omics_toolkit.local.stack.server")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--moto-port", type=int, default=None)
    parser.add_argument("--omics-port", type=int, default=None)
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--without-omics", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stack = LocalStack(
        args.state_dir.resolve(),
        args.moto_port,
        args.omics_port,
        args.region,
        with_omics=not args.without_omics,
    )
    stop_requested = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        LOG.info("received signal %s, stopping", signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        stack.start()
    except LocalStackError as exc:  # e.g. moto internals the patches need are missing
        LOG.error("local stack refused to start: %s", exc)
        stack.stop(save=False)
        return 1
    except Exception:
        LOG.exception("local stack failed to start")
        stack.stop(save=False)
        return 1
    LOG.info("local stack ready (%s)", args.state_dir / STACK_FILE)
    while not stop_requested.wait(1.0):
        pass
    stack.stop()
    LOG.info("local stack stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
