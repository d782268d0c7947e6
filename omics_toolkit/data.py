"""Real demo data from Debian packages, and the small file conversions the demo needs.

The demo sample is the ``tiny`` example shipped in Debian bookworm's ``freebayes`` 1.3.6-2 package
(``usr/share/doc/freebayes/examples/tiny/``): 12,356 bp of GRCh37 chr22 (contig ``q``), 3,333 real
Illumina reads of NA12878 (~40x) and the Genome in a Bottle truth for the slice (14 heterozygous
SNVs). ``apt-get download`` needs no root, so a fresh machine can fetch it; every file is checked
against a pinned sha256 (see ``/work/shared/notes/data.md``).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from omics_toolkit.config import default_home
from omics_toolkit.errors import UserError

logger = logging.getLogger(__name__)

DEMO_PACKAGE = "freebayes"
DEMO_PACKAGE_VERSION = "1.3.6-2"
DEMO_DOC_DIR = "usr/share/doc/freebayes/examples/tiny"

DEMO_FILES: dict[str, str] = {
    "q.fa": "07ac3fae2b27ae6415165e9bbda7af88247035fa2d0faf275b2320b0a818093d",
    "NA12878.chr22.tiny.bam": "54178b80e198abe7398b3ca5ccc12009b38c466c8ff63794fc030d7f279031a7",
    "NA12878.chr22.tiny.giab.vcf": "90cb4fd80c518dca669c78318ec2792f21c627967346893dff3ff27a2962af21",
}
"""File name -> sha256 (hex) of the uncompressed file, as shipped in freebayes 1.3.6-2."""

DEMO_SAMPLE = "NA12878"

TOOL_PACKAGES: dict[str, str] = {
    "bwa": "bwa",
    "samtools": "samtools",
    "bcftools": "bcftools",
    "tabix": "tabix",
    "bgzip": "tabix",
    "apt-get": "apt",
    "dpkg-deb": "dpkg",
    "dwgsim": "dwgsim",
    "minimap2": "minimap2",
    "freebayes": "freebayes",
    "fastp": "fastp",
}
"""Executable -> Debian package that provides it."""


@dataclass(frozen=True)
class DemoData:
    """Paths of the verified demo files.

    Attributes:
        reference: FASTA, one contig ``q`` (12,356 bp of GRCh37 chr22).
        bam: NA12878 reads aligned to ``reference`` (3,333 reads, 2x151).
        truth_vcf: GIAB truth VCF (14 heterozygous SNVs, contig ``q``).
        sample: sample id of the reads, ``"NA12878"``.
    """

    reference: Path
    bam: Path
    truth_vcf: Path
    sample: str = DEMO_SAMPLE


def demo_data_dir() -> Path:
    """Default cache of the demo data: ``<home>/data/freebayes-1.3.6-2``."""
    return default_home() / "data" / f"{DEMO_PACKAGE}-{DEMO_PACKAGE_VERSION}"


def require_tools(*names: str) -> None:
    """Check that executables are on ``PATH``.

    Raises:
        UserError: naming every missing executable and the ``apt-get install`` line that provides
            them (Debian package names from :data:`TOOL_PACKAGES`).
    """
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    packages = sorted({TOOL_PACKAGES.get(name, name) for name in missing})
    raise UserError(
        f"missing executable(s): {', '.join(missing)}; "
        f"install with: sudo apt-get install {' '.join(packages)}"
    )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cached_ok(dest: Path) -> bool:
    return all(
        (dest / name).is_file() and sha256_file(dest / name) == digest
        for name, digest in DEMO_FILES.items()
    )


def _demo(dest: Path) -> DemoData:
    return DemoData(
        reference=dest / "q.fa",
        bam=dest / "NA12878.chr22.tiny.bam",
        truth_vcf=dest / "NA12878.chr22.tiny.giab.vcf",
    )


def fetch_demo_data(dest: Path | None = None) -> DemoData:
    """Download (once) and verify the freebayes ``tiny`` demo sample.

    Runs ``apt-get download freebayes=1.3.6-2`` and ``dpkg-deb -x`` in a temporary directory
    (no root needed), copies ``q.fa``, ``NA12878.chr22.tiny.bam`` and
    ``NA12878.chr22.tiny.giab.vcf`` (decompressing ``.gz`` doc files if Debian compressed them)
    into ``dest`` and checks their sha256 against :data:`DEMO_FILES`. Files already in ``dest``
    that verify are used without any download.

    Args:
        dest: cache directory; default :func:`demo_data_dir` (``<home>/data/freebayes-1.3.6-2``).

    Returns:
        The verified paths.

    Raises:
        UserError: apt-get/dpkg-deb missing; the download failed (run ``sudo apt-get update``);
            a file is missing from the package or its sha256 differs (delete ``dest`` and retry;
            if it persists the Debian package changed).
    """
    dest = Path(dest) if dest is not None else demo_data_dir()
    if _cached_ok(dest):
        logger.debug("demo data cached and verified in %s", dest)
        return _demo(dest)

    require_tools("apt-get", "dpkg-deb")
    dest.mkdir(parents=True, exist_ok=True)
    spec = f"{DEMO_PACKAGE}={DEMO_PACKAGE_VERSION}"
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp_name:
        tmp = Path(tmp_name)
        logger.info("downloading Debian package %s", spec)
        proc = subprocess.run(
            ["apt-get", "download", spec], cwd=tmp, capture_output=True, text=True, check=False
        )
        debs = sorted(tmp.glob(f"{DEMO_PACKAGE}_*.deb"))
        if proc.returncode != 0 or not debs:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise UserError(
                f"apt-get download {spec} failed ({detail[-1] if detail else 'no output'}); "
                "run `sudo apt-get update` (Debian bookworm sources) and retry"
            )
        root = tmp / "root"
        proc = subprocess.run(
            ["dpkg-deb", "-x", str(debs[0]), str(root)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise UserError(f"dpkg-deb -x {debs[0].name} failed: {proc.stderr.strip()}")
        doc_dir = root / DEMO_DOC_DIR
        for name in DEMO_FILES:
            _extract_doc_file(doc_dir, name, dest / name)

    for name, digest in DEMO_FILES.items():
        actual = sha256_file(dest / name)
        if actual != digest:
            raise UserError(
                f"{dest / name} has sha256 {actual}, expected {digest}: delete {dest} and run "
                f"again; if it persists, the Debian package {spec} changed"
            )
    logger.info("demo data verified in %s", dest)
    return _demo(dest)


def _extract_doc_file(doc_dir: Path, name: str, target: Path) -> None:
    plain, compressed = doc_dir / name, doc_dir / f"{name}.gz"
    partial = target.with_name(target.name + ".partial")
    if plain.is_file():
        shutil.copyfile(plain, partial)
    elif compressed.is_file():
        with gzip.open(compressed, "rb") as src, partial.open("wb") as out:
            shutil.copyfileobj(src, out)
    else:
        raise UserError(
            f"{DEMO_DOC_DIR}/{name} is missing from {DEMO_PACKAGE} {DEMO_PACKAGE_VERSION}; "
            "the Debian package changed"
        )
    partial.replace(target)


def bam_to_fastq_pair(bam: Path, out_dir: Path, sample: str) -> tuple[Path, Path]:
    """Turn a BAM into a gzipped FASTQ pair with ``samtools collate`` + ``samtools fastq``.

    Only complete pairs are kept: singletons, secondary/supplementary alignments and reads that are
    neither READ1 nor READ2 are dropped. Read names lose their ``/1`` ``/2`` suffixes.

    Args:
        bam: input BAM/SAM/CRAM (any sort order).
        out_dir: created if missing.
        sample: file name stem.

    Returns:
        ``(out_dir/<sample>_R1.fastq.gz, out_dir/<sample>_R2.fastq.gz)``.

    Raises:
        UserError: samtools missing (``apt-get install samtools``) or samtools failed.
    """
    require_tools("samtools")
    out_dir.mkdir(parents=True, exist_ok=True)
    r1, r2 = out_dir / f"{sample}_R1.fastq.gz", out_dir / f"{sample}_R2.fastq.gz"
    with tempfile.TemporaryDirectory(prefix=".collate-", dir=out_dir) as tmp:
        collate = subprocess.Popen(
            ["samtools", "collate", "-u", "-O", str(bam), str(Path(tmp) / "collate")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert collate.stdout is not None
        fastq = subprocess.run(
            [
                "samtools",
                "fastq",
                "-n",
                "-c",
                "6",
                "-1",
                str(r1),
                "-2",
                str(r2),
                "-0",
                "/dev/null",
                "-s",
                "/dev/null",
                "-",
            ],  # fmt: skip
            stdin=collate.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        collate.stdout.close()
        collate_err = collate.stderr.read().decode(errors="replace") if collate.stderr else ""
        if collate.stderr:
            collate.stderr.close()
        collate_rc = collate.wait()
    if collate_rc != 0 or fastq.returncode != 0:
        raise UserError(
            f"converting {bam} to FASTQ failed: {(collate_err + fastq.stderr).strip()[-500:]}"
        )
    return r1, r2


def truth_snvs(vcf: Path) -> list[tuple[str, int]]:
    """SNVs of a VCF as ``(contig, POS)`` with 1-based POS, in file order.

    An SNV is a record whose REF is one base and that has at least one one-base ALT allele
    (``A``, ``C``, ``G``, ``T``); symbolic, indel and ``.`` alleles are ignored. Plain or gzip/bgzip
    VCF is accepted. Raises ``UserError`` when a data line has fewer than 5 columns.
    """
    opener = gzip.open if _is_gzip(vcf) else open
    snvs: list[tuple[str, int]] = []
    with opener(vcf, "rt") as handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 5:
                raise UserError(f"{vcf}:{number}: not a VCF data line (fewer than 5 columns)")
            chrom, pos, ref, alts = cols[0], int(cols[1]), cols[3].upper(), cols[4].upper()
            if len(ref) == 1 and any(len(alt) == 1 and alt in "ACGT" for alt in alts.split(",")):
                snvs.append((chrom, pos))
    return snvs


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"
