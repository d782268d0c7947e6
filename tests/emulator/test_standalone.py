"""The emulator runs alone (``python -m healthomics_emulator``) and answers a plain boto3 client.

Nothing from ``omics_toolkit`` is imported or started: this is how the emulator would be used as
its own package, beside any moto server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config


def test_runs_alone_and_keeps_its_state(tmp_path: Path) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def start() -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "healthomics_emulator", "--state-dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the emulator printed no address"
        return proc, json.loads(line)["url"]

    def client(url: str):  # noqa: ANN202 - a boto3 client
        return boto3.client(
            "omics",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
        )

    proc, url = start()
    try:
        omics = client(url)
        created = omics.create_sequence_store(name="alone", clientToken="t-1")
        assert created["arn"].startswith("arn:aws:omics:us-east-1:123456789012:sequenceStore/")
        # the model's validation: a name over 127 characters is refused as the service does
        with pytest.raises(omics.exceptions.ClientError) as bad:
            omics.create_sequence_store(name="x" * 128)
        assert bad.value.response["Error"]["Code"] == "ValidationException"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0

    proc, url = start()  # state persisted across a restart
    try:
        names = [s["name"] for s in client(url).list_sequence_stores()["sequenceStores"]]
        assert names == ["alone"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
