"""One real local deployment with the demo sample run through the real pipeline, shared by the
``reads``/``results`` command tests: the NA12878 pair (from the freebayes demo BAM) is uploaded
with ``omics-toolkit upload`` and followed to SUCCEEDED, so the sequence store holds its FASTQ read
set and the aligned BAM read set the pipeline imported, and the output bucket its VCF and BAM.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from omics_toolkit.aws.stepfunctions import execution_arn, list_executions
from omics_toolkit.cli.main import app
from omics_toolkit.data import DemoData, bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.identity import Names
from omics_toolkit.pipeline.status import wait_for_execution

DEPLOYMENT = "ft-reads"
SAMPLE = "NA12878"


@dataclass(frozen=True)
class DemoSample:
    """The deployment and its demo sample."""

    deployment: str
    names: Names
    sample: str
    demo: DemoData
    execution_name: str


def reads_cli(*args: str, ok: bool = True) -> Any:
    """``omics-toolkit -d ft-reads ARGS`` through typer's CliRunner (stdout and stderr apart)."""
    result = CliRunner().invoke(app, ["-d", DEPLOYMENT, *args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def start_demo_sample(aws: Any, tmp_path_factory: Any) -> DemoSample:
    """Provision ft-reads and run the demo pair to SUCCEEDED (the ``demo_sample`` fixture)."""
    demo = fetch_demo_data()
    reads_cli("provision", "--reference", str(demo.reference))
    names = Names(DEPLOYMENT, aws.account_id, aws.region)
    arn = f"arn:aws:states:{aws.region}:{aws.account_id}:stateMachine:{names.state_machine}"
    r1, r2 = bam_to_fastq_pair(demo.bam, tmp_path_factory.mktemp("reads"), SAMPLE)
    started = json.loads(reads_cli("--json", "upload", str(r1), str(r2)).stdout)
    name = started["execution_name"]
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + 60
    while not any(e["name"] == name for e in list_executions(sfn, arn)):
        assert time.monotonic() < deadline, f"execution {name} never started"
        time.sleep(0.5)
    status = wait_for_execution(
        sfn, execution_arn(arn, name), poll_seconds=0.5, timeout_seconds=300
    )
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    return DemoSample(DEPLOYMENT, names, SAMPLE, demo, name)


def samtools(*args: str | Path) -> str:
    """stdout of Debian's samtools."""
    return subprocess.run(
        ["samtools", *map(str, args)], check=True, capture_output=True, text=True
    ).stdout
