"""Shared parts of the accuracy and pipeline benchmarks: the simulated chr20 NA12878 sample, the
hand-run of the workflow's commands, the local pipeline, a memory sampler and tool versions.

The chr20 sample (:func:`prepare_chr20`, :func:`simulate_reads`):

- Reference given to the pipeline: the first 2,100,000 bp of GRCh37 chr20 (Debian
  ``vt-examples`` ``20.fa.gz``), still named ``20``, so every position is a GRCh37 position.
- Truth: NA12878's non-reference genotypes from the 1000 Genomes chr20 genotypes (Debian
  ``shapeit4-example`` ``unphased.vcf.gz``, which starts at 20:1,000,000) in the simulated window
  :data:`SIM_REGION` = 20:950,001-2,050,000; metrics are computed on :data:`EVAL_REGION` =
  20:1,000,000-2,000,000 (1 Mb), 50 kb inside the window on each side, so that coverage has
  reached its mean (fragments are ~500 bp) well before the evaluated region starts.
- Haplotypes: ``bcftools consensus -H 1`` and ``-H 2`` on the window. ``-H 1`` takes the first
  allele written in GT and ``-H 2`` the second, whether the genotype is phased or not (bcftools
  1.16 manual: "1: first allele from GT, regardless of phasing"). So a phased het ``1|0`` goes to
  haplotype 1, ``0|1`` and an unphased ``0/1`` to haplotype 2, and ``1/1`` to both: every het
  lands on exactly one haplotype. The counts are checked: consensus' "Applied N variants" must
  equal the number of records whose first (second) GT allele is ALT, so no variant was skipped
  (e.g. for overlapping another one). (Phase across phase sets is arbitrary; that does not
  matter for a diploid sample's calls.)
- Reads: Debian ``dwgsim`` 2x150 from each haplotype at half the coverage, fragments 500 +- 50 bp
  (outer distance), no simulated mutations (``-r 0 -R 0 -X 0``), no random reads (``-y 0``),
  per-base error rate rising along the read, 0.1 % -> 0.5 % on read 1 and 0.1 % -> 1 % on read
  2, a fixed seed per coverage and haplotype; haplotype 1's reads then haplotype 2's in one gzip
  FASTQ pair.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _compare import Region

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WDL = ROOT / "workflows" / "bcftools-germline" / "main.wdl"

CONTIG = "20"
REFERENCE_END = 2_100_000
"""The pipeline's reference is 20:1-2,100,000 of GRCh37 (positions unchanged)."""
SIM_REGION = Region(CONTIG, 950_001, 2_050_000)
EVAL_REGION = Region(CONTIG, 1_000_000, 2_000_000)
SAMPLE = "NA12878"
READ_LENGTH = 150
DWGSIM_ERRORS = ("0.001-0.005", "0.001-0.01")
"""Per-base error rate of read 1 and read 2 (dwgsim ``-e`` / ``-E``: first base - last base)."""
DWGSIM_FIXED = [
    "-d", "500", "-s", "50",          # outer distance of the pair, its standard deviation
    "-1", str(READ_LENGTH), "-2", str(READ_LENGTH),
    "-r", "0", "-R", "0", "-X", "0",  # no mutations (and so no indels or indel extension)
    "-y", "0",                        # no random-DNA reads
    "-H",                             # haploid: each haplotype is one sequence
    "-o", "1",                        # per-read-end FASTQ (.bwa.read1/.bwa.read2.fastq.gz)
]  # fmt: skip
ALIGN_CPU = 8
"""The workflow's default ``align_cpu`` (bwa mem -t); the pipeline runs with the defaults."""


# ----------------------------------------------------------------------------------- utilities

_T0 = time.perf_counter()


def log(message: str) -> None:
    """Progress on stderr with the seconds since start."""
    import sys

    print(f"[{time.perf_counter() - _T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` with captured text output; raises with stderr on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed: {proc.stderr.strip()[-2000:]}")
    return proc


def tool_versions() -> dict[str, str]:
    """First version line of each tool, and the Debian package versions."""

    def first(cmd: list[str], pattern: str) -> str:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
        except OSError:
            return "missing"
        m = re.search(pattern, p.stdout + p.stderr)
        return m.group(1) if m else "unknown"

    def deb(pkg: str) -> str:
        p = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True
        )
        return p.stdout.strip() or "not installed"

    from importlib.metadata import version

    versions = {
        "bwa": first(["bwa"], r"Version: (\S+)"),
        "samtools": first(["samtools", "--version"], r"samtools (\S+)"),
        "bcftools": first(["bcftools", "--version"], r"bcftools (\S+)"),
        "dwgsim": first(["dwgsim", "-h"], r"Version: (\S+)"),
        "miniwdl": version("miniwdl"),
        "python": platform.python_version(),
    }
    versions["debian_packages"] = ", ".join(  # type: ignore[assignment]
        f"{p} {deb(p)}" for p in ("bwa", "samtools", "bcftools", "dwgsim")
    )
    return versions


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "machine": platform.machine(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


# ------------------------------------------------------------------------------ chr20 sample


@dataclass(frozen=True)
class Chr20:
    """The prepared chr20 inputs (all in one work directory).

    Attributes:
        reference: 20:1-2,100,000 as contig ``20`` (plain FASTA, ``.fai`` beside it).
        truth: NA12878's non-reference genotypes in :data:`SIM_REGION`, one sample, BGZF + tbi.
        haplotypes: the two haplotype FASTAs of :data:`SIM_REGION`.
        applied: variants ``bcftools consensus`` applied to each haplotype.
        sha256: of the two Debian files used.
    """

    reference: Path
    truth: Path
    haplotypes: tuple[Path, Path]
    applied: tuple[int, int]
    sha256: dict[str, str]


def prepare_chr20(work: Path) -> Chr20:
    """Fetch (cached) and cut the chr20 data; build the truth VCF and the two haplotypes.

    Raises:
        RuntimeError: a tool failed, or consensus applied a different number of variants than
            the genotypes call for (a skipped overlapping variant would make the truth wrong).
    """
    from omics_toolkit import data

    ref_gz = data.fetch_chr20_reference()
    genotypes = data.fetch_chr20_genotypes()
    work.mkdir(parents=True, exist_ok=True)
    reference = work / f"GRCh37-chr20-1-{REFERENCE_END}.fa"
    fasta = run(["samtools", "faidx", str(ref_gz), f"{CONTIG}:1-{REFERENCE_END}"]).stdout
    reference.write_text(f">{CONTIG}\n" + fasta.split("\n", 1)[1])
    run(["samtools", "faidx", str(reference)])
    window = work / "window.fa"
    sim = f"{CONTIG}:{SIM_REGION.start}-{SIM_REGION.end}"
    window.write_text(run(["samtools", "faidx", str(reference), sim]).stdout)

    truth = work / f"{SAMPLE}.truth.vcf.gz"
    subset = subprocess.Popen(
        ["bcftools", "view", "-s", SAMPLE, "-r", sim, "-Ou", str(genotypes)],
        stdout=subprocess.PIPE,
    )
    run(["bcftools", "view", "-i", 'GT="alt"', "-Oz", "-o", str(truth), "-"], stdin=subset.stdout)
    assert subset.stdout is not None
    subset.stdout.close()
    if subset.wait() != 0:
        raise RuntimeError(f"bcftools view -s {SAMPLE} -r {sim} {genotypes} failed")
    run(["tabix", "-f", "-p", "vcf", str(truth)])

    gts = run(["bcftools", "query", "-f", "[%GT]\n", str(truth)]).stdout.split()
    alleles = [re.split(r"[/|]", gt) for gt in gts]
    expected = tuple(sum(1 for a in alleles if a[h] not in ("0", ".")) for h in (0, 1))
    haplotypes, applied = [], []
    for h in (1, 2):
        out = work / f"{SAMPLE}.hap{h}.fa"
        proc = run(["bcftools", "consensus", "-H", str(h), "-f", str(window), str(truth)])
        body = proc.stdout.split("\n", 1)[1]
        out.write_text(f">{SAMPLE}_hap{h}\n{body}")
        m = re.search(r"Applied (\d+) variants", proc.stderr)
        applied.append(int(m.group(1)) if m else -1)
        haplotypes.append(out)
    if tuple(applied) != expected:
        raise RuntimeError(
            f"bcftools consensus applied {applied} variants to the haplotypes, the genotypes "
            f"call for {list(expected)}: some were skipped"
        )
    return Chr20(
        reference=reference,
        truth=truth,
        haplotypes=(haplotypes[0], haplotypes[1]),
        applied=(applied[0], applied[1]),
        sha256={
            data.CHR20_REFERENCE.filename: data.sha256_file(ref_gz),
            data.CHR20_GENOTYPES.filename: data.sha256_file(genotypes),
        },
    )


def dwgsim_command(
    haplotype: Path, coverage: float, seed: int, prefix: Path, tag: str
) -> list[str]:
    """The dwgsim command line for one haplotype (see the module docstring)."""
    return [
        "dwgsim",
        "-e", DWGSIM_ERRORS[0], "-E", DWGSIM_ERRORS[1],
        *DWGSIM_FIXED,
        "-C", f"{coverage:g}",
        "-z", str(seed),
        "-P", f"{tag}-",
        str(haplotype),
        str(prefix),
    ]  # fmt: skip


def simulate_reads(chr20: Chr20, coverage: int, out_dir: Path, sample: str) -> tuple[Path, Path]:
    """``coverage``x 2x150 reads of the diploid sample: ``coverage / 2`` from each haplotype
    (seeds ``1000 * coverage + h``), concatenated into ``<sample>_R1/_R2.fastq.gz``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    r1, r2 = out_dir / f"{sample}_R1.fastq.gz", out_dir / f"{sample}_R2.fastq.gz"
    parts = []
    for h, hap in enumerate(chr20.haplotypes, start=1):
        prefix = out_dir / f".{sample}.hap{h}"
        run(dwgsim_command(hap, coverage / 2, 1000 * coverage + h, prefix, f"hap{h}"))
        parts.append(prefix)
    for mate, target in ((1, r1), (2, r2)):
        with target.open("wb") as out:
            for prefix in parts:  # gzip members concatenated: still one valid gzip stream
                with open(f"{prefix}.bwa.read{mate}.fastq.gz", "rb") as src:
                    shutil.copyfileobj(src, out)
    for prefix in parts:
        for leftover in out_dir.glob(f"{prefix.name}*"):
            leftover.unlink()
    return r1, r2


def count_pairs(r1: Path) -> int:
    with gzip.open(r1, "rb") as handle:
        return sum(1 for _ in handle) // 4


# ------------------------------------------------------------------------------------ hand-run

HAND_RUN_SH = r"""#!/usr/bin/env bash
# The bcftools-germline workflow (workflows/bcftools-germline/main.wdl) run by hand: each task's
# command, line for line, in its own directory, in the order the workflow runs them, one lane.
# Usage: hand_run.sh REFERENCE FASTQ_1 FASTQ_2 SAMPLE_NAME OUT_DIR [ALIGN_CPU] [PLOIDY]
# Writes OUT_DIR/CallVariants/<SAMPLE_NAME>.vcf.gz (and .bam in OUT_DIR/MarkDuplicates).
set -euo pipefail
reference=$(realpath "$1"); fastq_1=$(realpath "$2"); fastq_2=$(realpath "$3")
sample_name=$4; out=$5; align_cpu=${6:-8}; ploidy=${7:-2}; lane=1
mkdir -p "$out"; cd "$out"; out=$PWD

mkdir BwaIndex; (cd BwaIndex
    set -euo pipefail
    ln -s "${reference}" ref.fa
    bwa index ref.fa
) 2> BwaIndex.stderr
bwt=$out/BwaIndex/ref.fa.bwt; pac=$out/BwaIndex/ref.fa.pac; ann=$out/BwaIndex/ref.fa.ann
amb=$out/BwaIndex/ref.fa.amb; sa=$out/BwaIndex/ref.fa.sa

mkdir FaidxReference; (cd FaidxReference
    set -euo pipefail
    ln -s "${reference}" ref.fa
    samtools faidx ref.fa
) 2> FaidxReference.stderr
reference_fai=$out/FaidxReference/ref.fa.fai

mkdir BwaMem; (cd BwaMem; cpu=$align_cpu
    set -euo pipefail
    # bwa expects the index files beside the FASTA under one prefix
    ln -s "${reference}" ref.fa
    ln -s "${bwt}" ref.fa.bwt
    ln -s "${pac}" ref.fa.pac
    ln -s "${ann}" ref.fa.ann
    ln -s "${amb}" ref.fa.amb
    ln -s "${sa}" ref.fa.sa
    bwa mem -t ${cpu} -K 100000000 \
      -R "@RG\tID:${sample_name}.${lane}\tSM:${sample_name}\tLB:${sample_name}\tPU:${lane}\tPL:ILLUMINA" \
      ref.fa "${fastq_1}" "${fastq_2}" \
      | gzip -1 > aligned.sam.gz
) 2> BwaMem.stderr
aligned_sams=("$out/BwaMem/aligned.sam.gz")

mkdir MarkDuplicates; (cd MarkDuplicates; cpu=4
    set -euo pipefail
    mkdir -p tmp
    # one header: the first file's @HD/@SQ lines and every lane's @RG line
    samtools view -H "${aligned_sams[0]}" | grep -v -e '^@RG' -e '^@PG' > header.sam
    for f in "${aligned_sams[@]}"; do samtools view -H "$f" | grep '^@RG'; done >> header.sam
    { cat header.sam; for f in "${aligned_sams[@]}"; do samtools view "$f"; done; } \
      | samtools collate -@ ${cpu} -O -u - tmp/collate \
      | samtools fixmate -@ ${cpu} -m -u - - \
      | samtools sort -@ ${cpu} -m 512M -u -T tmp/sort - \
      | samtools markdup -@ ${cpu} -T tmp/markdup - "${sample_name}.bam"
    samtools index -@ ${cpu} "${sample_name}.bam" "${sample_name}.bam.bai"
) 2> MarkDuplicates.stderr
bam=$out/MarkDuplicates/${sample_name}.bam; bam_index=$bam.bai

if [ -n "${ALIGNED_READS:-}" ]; then  # the aligned_reads input (env ALIGNED_READS) replaces the reads
mkdir PrepareAligned; (cd PrepareAligned; cpu=2; aligned=$(realpath "$ALIGNED_READS")
    set -euo pipefail
    mkdir -p tmp
    ln -s "${reference}" ref.fa
    # a CRAM is decoded to BAM with the reference (bcftools reads the BAM below)
    if [ "$(head -c 4 "${aligned}")" = "CRAM" ]; then
      samtools view -@ ${cpu} -b -T ref.fa -o input.bam "${aligned}"
    else
      ln -s "${aligned}" input.bam
    fi
    # bcftools mpileup needs a coordinate-sorted, indexed BAM: sort one that is not
    if samtools view -H input.bam | grep -q '^@HD.*SO:coordinate'; then
      cp -L input.bam "${sample_name}.bam"
    else
      echo "aligned input not sorted by coordinate (@HD SO): sorting" >&2
      samtools sort -@ ${cpu} -m 512M -T tmp/sort -o "${sample_name}.bam" input.bam
    fi
    samtools index -@ ${cpu} "${sample_name}.bam" "${sample_name}.bam.bai"
) 2> PrepareAligned.stderr
bam=$out/PrepareAligned/${sample_name}.bam; bam_index=$bam.bai
fi

mkdir CallVariants; (cd CallVariants; cpu=2
    set -euo pipefail
    case "${ploidy}" in
      1|2) ;;
      *) echo "Error: ploidy ${ploidy}: bcftools call calls ploidy 1 or 2 only" >&2; exit 2 ;;
    esac
    ln -s "${reference}" ref.fa
    ln -s "${reference_fai}" ref.fa.fai
    ln -s "${bam}" in.bam
    ln -s "${bam_index}" in.bam.bai
    # --ignore-RG: one sample whatever the read groups say (an uploaded BAM's SM may differ
    # from the pipeline's sample); reheader names it sample_name
    bcftools mpileup --ignore-RG -f ref.fa -a FORMAT/AD,FORMAT/DP -Ou in.bam \
      | bcftools call -mv --ploidy ${ploidy} --threads ${cpu} -Oz -o called.vcf.gz
    printf '%s\n' "${sample_name}" > samples.txt
    bcftools reheader -s samples.txt -o "${sample_name}.vcf.gz" called.vcf.gz
    bcftools index -t "${sample_name}.vcf.gz"
) 2> CallVariants.stderr
"""
"""Each workflow task's command with ``~{x}`` written ``${x}`` (``~{sep='" "' aligned_sams}`` as
``"${aligned_sams[@]}"``); tests/unit/test_bench_accuracy.py checks that every command line of
the WDL appears here."""


def write_hand_run(path: Path) -> Path:
    path.write_text(HAND_RUN_SH)
    path.chmod(0o755)
    return path


def hand_run_command(
    script: Path, reference: Path, r1: Path, r2: Path, sample: str, out: Path
) -> list[str]:
    return ["bash", str(script), str(reference), str(r1), str(r2), sample, str(out), str(ALIGN_CPU)]


def hand_run_vcf(out: Path, sample: str) -> Path:
    return out / "CallVariants" / f"{sample}.vcf.gz"


def hand_run(
    script: Path, reference: Path, r1: Path, r2: Path, sample: str, out: Path
) -> tuple[Path, float]:
    """Run the hand script once; ``(VCF, wall seconds)``."""
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    run(hand_run_command(script, reference, r1, r2, sample, out))
    return hand_run_vcf(out, sample), time.perf_counter() - start


# ---------------------------------------------------------------------------- memory sampling


class TreeSampler:
    """Peak memory while work runs, sampled every ``interval`` seconds in a thread.

    ``roots()`` returns the pids whose process trees are summed (each process's RSS, so pages
    shared between processes count once per process: an upper bound). Also records the
    machine's used memory (``psutil.virtual_memory().used``) at start and at its peak.
    """

    def __init__(self, roots: Callable[[], list[int]], interval: float = 0.2) -> None:
        import psutil

        self._psutil = psutil
        self._roots = roots
        self._interval = interval
        self._stop = threading.Event()
        self.peak_tree_bytes = 0
        self.peak_processes = 0
        self.used_start_bytes = psutil.virtual_memory().used
        self.peak_used_bytes = self.used_start_bytes
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        ps = self._psutil
        total, count, seen = 0, 0, set()
        for pid in self._roots():
            try:
                root = ps.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except ps.Error:
                continue
            for proc in procs:
                if proc.pid in seen:
                    continue
                seen.add(proc.pid)
                try:
                    total += proc.memory_info().rss
                    count += 1
                except ps.Error:
                    pass
        self.peak_tree_bytes = max(self.peak_tree_bytes, total)
        self.peak_processes = max(self.peak_processes, count)
        self.peak_used_bytes = max(self.peak_used_bytes, ps.virtual_memory().used)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def figures(self) -> dict[str, Any]:
        mib = 2**20
        return {
            "peak_tree_rss_mib": round(self.peak_tree_bytes / mib, 1),
            "peak_processes": self.peak_processes,
            "machine_used_start_mib": round(self.used_start_bytes / mib, 1),
            "machine_used_peak_mib": round(self.peak_used_bytes / mib, 1),
            "machine_used_increase_mib": round(
                (self.peak_used_bytes - self.used_start_bytes) / mib, 1
            ),
        }


# ---------------------------------------------------------------------------- local pipeline


class LocalPipeline:
    """A local stack in ``home/local`` with one deployment per reference.

    The state machine polls every second at first, backing off to at most 4 s
    (``poll_interval_seconds=1``, ``max_poll_interval_seconds=4``, as bench/burst.py).
    """

    def __init__(self, home: Path) -> None:
        from omics_toolkit.aws.session import local_context
        from omics_toolkit.local.stack import lifecycle

        self.home = home
        self.local_dir = home / "local"
        self.record = lifecycle.start(self.local_dir)
        self.pid = int(self.record["pid"])
        self.ctx = local_context(self.record["moto"], self.record["omics"])
        self.deployments: dict[str, Any] = {}
        self.settings: dict[str, Any] = {}

    def stop(self) -> None:
        from omics_toolkit.local.stack import lifecycle

        lifecycle.stop(self.local_dir)

    def provision(self, name: str, reference: Path) -> float:
        """Provision deployment ``name`` with ``reference``; its wall seconds."""
        from omics_toolkit.config import Settings
        from omics_toolkit.provisioning.provision import Provisioner

        settings = Settings(
            deployment=name, home=self.home, poll_interval_seconds=1, max_poll_interval_seconds=4
        )
        start = time.perf_counter()
        self.deployments[name] = Provisioner(self.ctx, settings).apply(str(reference))
        self.settings[name] = settings
        return time.perf_counter() - start

    def upload(self, name: str, samples: dict[str, tuple[Path, Path]]) -> dict[str, str]:
        """Upload every sample's pair at once (8 threads); ``{sample: execution ARN}``."""
        from omics_toolkit.aws.stepfunctions import execution_arn
        from omics_toolkit.pipeline.upload import upload_pair

        dep = self.deployments[name]
        s3 = self.ctx.client("s3")

        def one(item: tuple[str, tuple[Path, Path]]) -> tuple[str, str]:
            sample, (r1, r2) = item
            up = upload_pair(s3, dep.names.input_bucket, r1, r2, sample)
            return sample, execution_arn(dep.require("state_machine_arn"), up["execution_name"])

        with ThreadPoolExecutor(8) as pool:
            return dict(pool.map(one, samples.items()))

    def wait(self, arns: dict[str, str], timeout: float = 3600) -> dict[str, dict[str, Any]]:
        """Poll every 0.5 s until each execution exists and has stopped; ``{sample: {status,
        seconds_after_first_poll, output}}``; raises ``RuntimeError`` on timeout."""
        sfn = self.ctx.client("stepfunctions")
        start = time.perf_counter()
        done: dict[str, dict[str, Any]] = {}
        while len(done) < len(arns):
            for sample, arn in arns.items():
                if sample in done:
                    continue
                try:
                    desc = sfn.describe_execution(executionArn=arn)
                except sfn.exceptions.ExecutionDoesNotExist:
                    continue
                if desc["status"] != "RUNNING":
                    done[sample] = {
                        "status": desc["status"],
                        "seconds": time.perf_counter() - start,
                        "output": json.loads(desc.get("output") or "{}"),
                        "arn": arn,
                    }
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"executions still running after {timeout} s")
            if len(done) < len(arns):
                time.sleep(0.5)
        return done

    def failure(self, arn: str) -> str:
        from omics_toolkit.pipeline.status import describe

        st = describe(self.ctx.client("stepfunctions"), arn)
        return f"{st.status} at {st.step}: {st.error}: {st.cause}"

    def fetch_vcf(self, result: dict[str, Any], dest: Path) -> Path:
        """Download the run's VCF (the execution output's ``outputs.vcf``) to ``dest``."""
        uri = result["output"]["outputs"]["vcf"]
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.ctx.client("s3").download_file(bucket, key, str(dest))
        return dest

    def variant_rows(self, name: str, samples: list[str]) -> dict[str, int]:
        """Rows per sample in the deployment's ``variants`` table, through
        :func:`omics_toolkit.api.variants` (Athena; locally DuckDB)."""
        from omics_toolkit.api import variants

        df = variants(
            samples=samples, columns=["sampleid"], settings=self.settings[name], ctx=self.ctx
        )
        counts = df["sampleid"].value_counts()
        return {s: int(counts.get(s, 0)) for s in samples}


@contextlib.contextmanager
def local_pipeline(home: Path) -> Iterator[LocalPipeline]:
    """:class:`LocalPipeline` stopped on exit (``omics-toolkit local stop`` equivalent)."""
    pipe = LocalPipeline(home)
    try:
        yield pipe
    finally:
        pipe.stop()


def vcf_records(vcf: Path) -> int:
    return len(run(["bcftools", "view", "-H", str(vcf)]).stdout.splitlines())
