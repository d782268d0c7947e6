"""Run the HealthOmics emulator on its own: ``python -m healthomics_emulator``.

Usage::

    python -m healthomics_emulator --state-dir DIR --moto-endpoint http://127.0.0.1:5000 \\
        [--host 127.0.0.1] [--port 0] [--account-id 123456789012] [--region us-east-1] \\
        [--service-account-id 444455556666]

Prints one JSON line ``{"url": "http://HOST:PORT", "state_dir": DIR}`` on stdout once it listens,
then serves until SIGINT or SIGTERM, when it stops runs in flight and persists its state. The moto
endpoint serves S3 (read-set and reference sources, run outputs), Glue (variant and annotation
store databases) and CloudWatch Logs (run logs); calls that need none of them (stores, read-set
metadata, workflows) work without one. Clients must disable host-prefix injection
(``botocore.config.Config(inject_host_prefix=False)``).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from healthomics_emulator.backend import SERVICE_ACCOUNT_ID
from healthomics_emulator.server import OmicsEmulator


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, serve until a signal; returns the exit status (0)."""
    parser = argparse.ArgumentParser(
        prog="python -m healthomics_emulator", description="The AWS HealthOmics emulator."
    )
    parser.add_argument("--state-dir", type=Path, required=True, help="metadata and data")
    parser.add_argument(
        "--moto-endpoint",
        default="http://127.0.0.1:5000",
        help="moto server for S3, Glue and CloudWatch Logs (default %(default)s)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--account-id", default="123456789012")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--service-account-id",
        default=SERVICE_ACCOUNT_ID,
        help="HealthOmics-owned account holding the stores' Glue databases (default %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    emulator = OmicsEmulator(
        args.state_dir,
        args.moto_endpoint,
        host=args.host,
        port=args.port,
        account_id=args.account_id,
        region=args.region,
        service_account_id=args.service_account_id,
    )
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    url = emulator.start()
    print(json.dumps({"url": url, "state_dir": str(args.state_dir)}), flush=True)
    try:
        stopped.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
