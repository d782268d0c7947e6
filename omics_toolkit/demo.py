"""The main job on real data: NA12878 reads -> local pipeline -> variants checked against GIAB.

Data: Debian's freebayes 1.3.6-2 example (12,356 bp of chr22 as contig ``q``, 1,633 read pairs of
NA12878, and the GIAB truth for that slice: 14 heterozygous SNVs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from omics_toolkit import data
from omics_toolkit.athena import run_query
from omics_toolkit.aws.session import make_context
from omics_toolkit.aws.stepfunctions import execution_arn
from omics_toolkit.config import Settings
from omics_toolkit.constants import DEFAULT_REGION
from omics_toolkit.errors import PipelineError
from omics_toolkit.pipeline.status import ExecutionStatus, wait_for_execution
from omics_toolkit.pipeline.upload import upload_pair
from omics_toolkit.provisioning.provision import Action, Provisioner

if TYPE_CHECKING:
    import pandas as pd

SAMPLE = "NA12878"
DEMO_POLL_SECONDS = 2
TOOLS = ("bwa", "samtools", "bcftools", "tabix")


@dataclass
class DemoResult:
    """Outcome of the demo.

    Attributes:
        truth: GIAB truth SNVs as ``(contig, 1-based POS)``.
        found: truth SNVs present in the variant store at 0-based ``start = POS - 1``.
        variants: the sample's variants as returned by Athena.
        execution: the pipeline execution.
        seconds: wall time of each phase.
    """

    truth: list[tuple[str, int]]
    found: list[tuple[str, int]]
    variants: pd.DataFrame
    execution: ExecutionStatus
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def missing(self) -> list[tuple[str, int]]:
        return [t for t in self.truth if t not in self.found]


def truth_found(variants: pd.DataFrame, truth: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Truth SNVs whose 0-based ``start`` (POS - 1) is called as an SNV at that position."""
    called = {
        (str(r.contigname), int(r.start))
        for r in variants.itertuples()
        if len(str(r.referenceallele)) == 1
    }
    return [(contig, pos) for contig, pos in truth if (contig, pos - 1) in called]


def run_demo(
    settings: Settings,
    *,
    on_phase: Callable[[str], None] = lambda _: None,
    on_action: Callable[[Action], None] = lambda _: None,
    on_step: Callable[[ExecutionStatus], None] = lambda _: None,
) -> DemoResult:
    """Fetch the data, start the local stack, provision, upload, follow the run, query, compare.

    Raises:
        UserError: missing tools or data problems (with what to do).
        PipelineError: the execution did not succeed (carries the service's cause).
    """
    seconds: dict[str, float] = {}

    def phase(name: str) -> None:
        seconds[name] = time.monotonic()
        on_phase(name)

    settings = replace(
        settings, poll_interval_seconds=min(settings.poll_interval_seconds, DEMO_POLL_SECONDS)
    )
    phase("check tools")
    data.require_tools(*TOOLS)
    phase("fetch data")
    demo = data.fetch_demo_data()
    r1, r2 = data.bam_to_fastq_pair(demo.bam, settings.home / "data" / "fastq", SAMPLE)
    truth = data.truth_snvs(demo.truth_vcf)
    if settings.target == "local":
        phase("start local stack")
        from omics_toolkit.local import stack

        stack.start(settings.local_dir, region=settings.region or DEFAULT_REGION)
    ctx = make_context(settings)
    phase("provision")
    prov = Provisioner(ctx, settings, report=on_action)
    deployment = prov.apply(reference=str(demo.reference))
    phase("upload")
    uploaded = upload_pair(ctx.client("s3"), prov.names.input_bucket, r1, r2, SAMPLE)
    arn = execution_arn(deployment.require("state_machine_arn"), uploaded["execution_name"])
    phase("pipeline")
    sfn = ctx.client("stepfunctions")
    _wait_until_started(sfn, arn)
    status = wait_for_execution(sfn, arn, on_step=on_step, poll_seconds=1.0)
    if status.status != "SUCCEEDED":
        raise PipelineError(
            f"execution {status.name} {status.status} at {status.step}: "
            f"{status.error}: {status.cause}"
        )
    phase("query")
    variants = run_query(
        ctx,
        settings,
        'SELECT contigname, start, "end", referenceallele, alternatealleles, '
        "qual, calls FROM variants WHERE sampleid = ? ORDER BY contigname, start",
        [SAMPLE],
    )
    phase("done")
    names = list(seconds)
    durations = {a: seconds[b] - seconds[a] for a, b in zip(names, names[1:], strict=False)}
    return DemoResult(
        truth=truth,
        found=truth_found(variants, truth),
        variants=variants,
        execution=status,
        seconds=durations,
    )


def _wait_until_started(sfn: Any, execution_arn: str, timeout_seconds: float = 60) -> None:
    """S3 notifications may be delivered asynchronously: wait for the execution to exist."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            sfn.describe_execution(executionArn=execution_arn)
            return
        except Exception as exc:  # ExecutionDoesNotExist until the Lambda has run
            if time.monotonic() > deadline:
                raise PipelineError(
                    f"no execution {execution_arn.rsplit(':', 1)[-1]} {timeout_seconds:.0f} s after upload: "
                    "check the pair detector's logs (/aws/lambda/<deployment>-pair-detector)"
                ) from exc
            time.sleep(0.5)
