"""The main job on real data: NA12878 reads -> local pipeline -> variants checked against GIAB.

Data: Debian's freebayes 1.3.6-2 example (12,356 bp of chr22 as contig ``q``, 1,633 read pairs of
NA12878, and the GIAB truth for that slice: 14 heterozygous SNVs).

Check: every truth record, read by ``bcftools query`` (not by the toolkit's own VCF reader), is
compared on CHROM, POS, REF, ALT and GT with the calls queried through Athena
(:func:`compare_truth`); a record counts only when all five agree.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from omics_toolkit import data
from omics_toolkit.athena import run_query
from omics_toolkit.aws.session import make_context
from omics_toolkit.aws.stepfunctions import execution_arn
from omics_toolkit.config import Settings
from omics_toolkit.constants import DEFAULT_REGION
from omics_toolkit.data import TruthRecord
from omics_toolkit.errors import PipelineError
from omics_toolkit.pipeline.status import ExecutionStatus, wait_for_execution
from omics_toolkit.pipeline.upload import upload_pair
from omics_toolkit.provisioning.provision import Action, Provisioner

if TYPE_CHECKING:
    import pandas as pd

SAMPLE = "NA12878"
DEMO_POLL_SECONDS = 2
TOOLS = ("bwa", "samtools", "bcftools", "tabix")


@dataclass(frozen=True)
class FieldDiff:
    """One field of a truth record that the called variant has differently.

    Attributes:
        field: ``"REF"``, ``"ALT"`` or ``"GT"``.
        truth: the truth's value (ALT comma-joined, GT normalised as in :func:`normalise_gt`).
        called: the called value, written the same way.
    """

    field: str
    truth: str
    called: str


@dataclass(frozen=True)
class TruthCheck:
    """How one truth record compares with the calls.

    Attributes:
        truth: the truth record (from ``bcftools query``, :func:`omics_toolkit.data.truth_records`).
        status: ``"found"`` (CHROM, POS, REF, ALT and GT all equal), ``"missing"`` (no call at
            CHROM and 0-based ``start = POS - 1``) or ``"mismatched"`` (a call there, but REF, ALT
            or GT differs: see ``diffs``).
        diffs: the differing fields of the closest call at that position; empty unless mismatched.
    """

    truth: TruthRecord
    status: str
    diffs: tuple[FieldDiff, ...] = ()

    def describe(self) -> str:
        """One line, e.g. ``"q:186 ALT: truth C, called G"`` or ``"q:186 missing: ..."``."""
        t = self.truth
        if self.status == "missing":
            return (
                f"{t.site} missing: no call at this position "
                f"(truth REF {t.ref}, ALT {_join_alts(t.alts)}, GT {normalise_gt(t.gt)})"
            )
        if self.status == "mismatched":
            return f"{t.site} " + "; ".join(
                f"{d.field}: truth {d.truth}, called {d.called}" for d in self.diffs
            )
        return f"{t.site} found"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``chrom``, ``pos`` (1-based), ``ref``, ``alt``, ``gt``, ``status``,
        ``diffs`` (``[{"field", "truth", "called"}]``), ``message``."""
        t = self.truth
        return {
            "chrom": t.contig,
            "pos": t.pos,
            "ref": t.ref,
            "alt": list(t.alts),
            "gt": t.gt,
            "status": self.status,
            "diffs": [{"field": d.field, "truth": d.truth, "called": d.called} for d in self.diffs],
            "message": self.describe(),
        }


@dataclass
class DemoResult:
    """Outcome of the demo.

    Attributes:
        checks: one comparison per GIAB truth record, in truth file order.
        variants: the sample's variants as returned by Athena.
        execution: the pipeline execution.
        seconds: wall time of each phase.
    """

    checks: list[TruthCheck]
    variants: pd.DataFrame
    execution: ExecutionStatus
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def truth(self) -> list[TruthRecord]:
        """The GIAB truth records."""
        return [c.truth for c in self.checks]

    @property
    def found(self) -> list[TruthCheck]:
        """Truth records matched on CHROM, POS, REF, ALT and GT."""
        return [c for c in self.checks if c.status == "found"]

    @property
    def failed(self) -> list[TruthCheck]:
        """Truth records missing or mismatched."""
        return [c for c in self.checks if c.status != "found"]


def normalise_gt(gt: str | Sequence[Any] | None) -> str:
    """A genotype as sorted allele indexes joined by ``/``, so that ``0|1``, ``1/0`` and
    ``[1, 0]`` all read ``"0/1"``; a missing allele (``.`` or ``-1``) is ``.`` and sorts last;
    no genotype at all is ``"."``.

    Accepts a VCF GT string, or the variants table's ``calls`` (allele indexes, ``-1`` missing)
    as a list or as Athena's text form ``"[0, 1]"``.
    """
    if gt is None or (isinstance(gt, float) and gt != gt):  # SQL NULL
        return "."
    if isinstance(gt, str):
        text = gt.strip()
        if text.startswith("[") and text.endswith("]"):
            alleles = [a.strip() for a in text[1:-1].split(",") if a.strip()]
        else:
            alleles = [a for a in re.split(r"[/|]", text) if a]
    else:
        alleles = [str(a) for a in gt]
    indexes = ["." if a in (".", "-1") else str(int(a)) for a in alleles]
    if not indexes:
        return "."
    return "/".join(sorted(indexes, key=lambda a: (a == ".", int(a) if a != "." else 0)))


def _alleles(value: Any) -> list[str]:
    """ALT alleles of a called row, upper-case: a list, Athena's text form of an array
    (``"[C, T]"``) or a comma-joined string (``"C,T"``, as ``array_join`` gives); NULL is ``[]``."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return [a.strip().upper() for a in text.split(",") if a.strip() and a.strip() != "."]
    return [str(a).upper() for a in value]


def _join_alts(alts: Sequence[str]) -> str:
    return ",".join(alts) if alts else "."


def compare_truth(variants: pd.DataFrame, truth: Sequence[TruthRecord]) -> list[TruthCheck]:
    """Compare each truth record's CHROM, POS, REF, ALT and GT with the calls.

    A call is at a truth record's site when ``contigname == CHROM`` and ``start == POS - 1``
    (the table is 0-based half-open), so a wrong CHROM or POS shows as ``missing``. REF and ALT
    are compared case-insensitively, ALT as the ordered list of alleles (GT indexes refer to it);
    GT after :func:`normalise_gt` (phase and allele order ignored). With several calls at one
    site, one that matches wins; otherwise the one with the fewest differing fields is reported.

    Args:
        variants: the sample's calls with columns ``contigname``, ``start``, ``referenceallele``,
            ``alternatealleles`` (array, its text form, or comma-joined) and ``calls`` (allele
            indexes) or ``gt`` (text such as ``"0/1"``).
        truth: truth records, e.g. from :func:`omics_toolkit.data.truth_records`.

    Returns:
        One :class:`TruthCheck` per truth record, in the order given.
    """
    gt_column = "calls" if "calls" in variants.columns else "gt"
    at_site: dict[tuple[str, int], list[tuple[str, list[str], str]]] = {}
    for contig, start, ref, alts, gt in zip(
        variants["contigname"],
        variants["start"],
        variants["referenceallele"],
        variants["alternatealleles"],
        variants[gt_column],
        strict=True,
    ):
        at_site.setdefault((str(contig), int(start)), []).append(
            (str(ref).upper(), _alleles(alts), normalise_gt(gt))
        )
    checks: list[TruthCheck] = []
    for record in truth:
        calls = at_site.get((record.contig, record.pos - 1), [])
        if not calls:
            checks.append(TruthCheck(record, "missing"))
            continue
        want = (record.ref.upper(), [a.upper() for a in record.alts], normalise_gt(record.gt))
        diffs = min((_diffs(want, call) for call in calls), key=len)
        checks.append(TruthCheck(record, "mismatched" if diffs else "found", diffs))
    return checks


def _diffs(
    truth: tuple[str, list[str], str], called: tuple[str, list[str], str]
) -> tuple[FieldDiff, ...]:
    diffs: list[FieldDiff] = []
    if truth[0] != called[0]:
        diffs.append(FieldDiff("REF", truth[0], called[0]))
    if truth[1] != called[1]:
        diffs.append(FieldDiff("ALT", _join_alts(truth[1]), _join_alts(called[1])))
    if truth[2] != called[2]:
        diffs.append(FieldDiff("GT", truth[2], called[2]))
    return tuple(diffs)


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
    truth = data.truth_records(demo.truth_vcf, demo.sample)
    if settings.target == "local":
        phase("start local stack")
        from omics_toolkit.local.stack import lifecycle

        lifecycle.start(settings.local_dir, region=settings.region or DEFAULT_REGION)
    ctx = make_context(settings)
    phase("provision")
    prov = Provisioner(ctx, settings, report=on_action)
    deployment = prov.apply(reference=str(demo.reference))
    phase("upload")
    sfn = ctx.client("stepfunctions")
    state_machine_arn = deployment.require("state_machine_arn")
    uploaded = upload_pair(
        ctx.client("s3"),
        prov.names.input_bucket,
        r1,
        r2,
        SAMPLE,
        sfn=sfn,
        state_machine_arn=state_machine_arn,
    )
    arn = execution_arn(
        state_machine_arn, (uploaded["execution"] or {}).get("name") or uploaded["execution_name"]
    )
    phase("pipeline")
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
    checks = compare_truth(variants, truth)
    phase("done")
    names = list(seconds)
    durations = {a: seconds[b] - seconds[a] for a, b in zip(names, names[1:], strict=False)}
    return DemoResult(
        checks=checks,
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
