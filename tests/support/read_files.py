"""Real indexed files for the region tests, built once per session from the demo sample.

- ``tiny``: the demo BAM (contig ``q``, 3,333 reads) sorted and indexed with samtools.
- ``big``: a 6 MB BAM built with pysam from the demo reads: 22 shifted copies on contig
  ``big`` (9 Mb, so several 16 kb windows, level-4 and level-2 bins and copies straddling the
  2^17, 2^20 and 2^23 bin edges), reads with 30 kb deletions (higher-level bins), one copy on
  ``second``, and the demo's unmapped reads both placed (beside their mates) and unplaced (at
  the end: ``n_no_coor``). Indexed as BAI and CSI; also a CRAM (small slices) with its CRAI.
- ``vcf``: the GIAB truth records of the demo shifted over ``big`` (several thousand records),
  bgzipped, with TBI and CSI.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysam
import pytest

from omics_toolkit.data import fetch_demo_data

OFFSETS = [*range(0, 200_000, 10_000), 131_072 - 6_000, 1_048_576 - 6_000, 8_388_608 - 6_000]
BIG_LEN = 9_000_000


def _run(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@dataclass(frozen=True)
class ReadFiles:
    tiny: Path
    big: Path
    big_csi: Path
    cram: Path
    tiny_cram: Path
    reference: Path
    big_reference: Path
    vcf: Path
    vcf_csi: Path


def _big_bam(src: Path, dest: Path) -> None:
    unsorted = dest.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(src)) as inp:
        reads = list(inp.fetch(until_eof=True))
        header = {
            "HD": {"VN": "1.6", "SO": "coordinate"},
            # q keeps the demo's SAM lines parseable; it stays empty (idxstats shows 0 0)
            "SQ": [
                {"SN": "big", "LN": BIG_LEN},
                {"SN": "second", "LN": 50_000},
                {"SN": "q", "LN": 12_356},
            ],
            "RG": [dict(r) for r in inp.header.to_dict().get("RG", [])],
        }
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:

        def put(read: pysam.AlignedSegment, tid: int, shift: int, tag: str) -> None:
            new = pysam.AlignedSegment.fromstring(read.to_string(), inp_header)
            new.query_name = f"{read.query_name}/{tag}"
            if read.is_unmapped and read.reference_id < 0:
                new.reference_id, new.reference_start = -1, -1
            else:
                new.reference_id = tid
                new.reference_start = read.reference_start + shift
            new.next_reference_id, new.next_reference_start = -1, -1
            out.write(new)

        inp_header = out.header
        for copy, shift in enumerate(OFFSETS):
            for read in reads:
                put(read, 0, shift, f"c{copy}")
        for read in reads[:400]:
            put(read, 1, 20_000, "second")
        # long deletions put these reads in level-3/level-2 bins spanning many windows
        for n, read in enumerate(reads[:40]):
            if read.is_unmapped:
                continue
            new = pysam.AlignedSegment.fromstring(read.to_string(), inp_header)
            new.query_name = f"{read.query_name}/long{n}"
            new.reference_id = 0
            new.reference_start = 60_000 + n * 1_000
            length = new.query_length
            new.cigarstring = f"{length // 2}M30000D{length - length // 2}M"
            new.next_reference_id, new.next_reference_start = -1, -1
            new.template_length = 0
            out.write(new)
        for read in reads:
            if read.is_unmapped:
                new = pysam.AlignedSegment.fromstring(read.to_string(), inp_header)
                new.query_name = f"{read.query_name}/unplaced"
                new.reference_id, new.reference_start = -1, -1
                new.next_reference_id, new.next_reference_start = -1, -1
                new.template_length = 0
                out.write(new)
    pysam.sort("-o", str(dest), str(unsorted))
    unsorted.unlink()


def _big_reference(q_fa: Path, dest: Path) -> None:
    seq = "".join(line.strip() for line in q_fa.read_text().splitlines()[1:])
    big = (seq * (BIG_LEN // len(seq) + 1))[:BIG_LEN]
    second = (seq * 5)[:50_000]
    with dest.open("w") as out:
        for name, s in (("big", big), ("second", second)):
            out.write(f">{name}\n")
            for i in range(0, len(s), 60):
                out.write(s[i : i + 60] + "\n")
    pysam.faidx(str(dest))


def _big_vcf(truth: Path, dest: Path) -> None:
    lines = truth.read_text().splitlines()
    head = [line for line in lines if line.startswith("##") and not line.startswith("##contig")]
    cols = next(line for line in lines if line.startswith("#CHROM"))
    body = [line.split("\t") for line in lines if not line.startswith("#")]
    text = [*head, f"##contig=<ID=big,length={BIG_LEN}>", "##contig=<ID=second,length=50000>", cols]
    for shift in range(0, 4_000_000, 12_356 * 3):
        for fields in body:
            text.append("\t".join(["big", str(int(fields[1]) + shift), *fields[2:]]))
    for fields in body:
        text.append("\t".join(["second", *fields[1:]]))
    plain = dest.with_suffix("")
    plain.write_text("\n".join(text) + "\n")
    pysam.tabix_compress(str(plain), str(dest), force=True)
    pysam.tabix_index(str(dest), preset="vcf", force=True)
    pysam.tabix_index(str(dest), preset="vcf", force=True, csi=True, keep_original=True)
    plain.unlink()


def build_read_files(tmp_path_factory: Any) -> ReadFiles:
    for tool in ("samtools", "tabix", "bcftools"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install {tool}): it is the reference")
    demo = fetch_demo_data()
    root = tmp_path_factory.mktemp("reads")
    tiny = root / "tiny.bam"
    _run("samtools", "sort", "-o", str(tiny), str(demo.bam))
    _run("samtools", "index", str(tiny))
    big = root / "big.bam"
    _big_bam(demo.bam, big)
    _run("samtools", "index", str(big))
    big_csi = root / "bigcsi.bam"
    shutil.copy(big, big_csi)
    _run("samtools", "index", "-c", str(big_csi))
    ref = root / "big.fa"
    _big_reference(demo.reference, ref)
    cram = root / "big.cram"
    _run(
        "samtools",
        "view",
        "-C",
        "-T",
        str(ref),
        "--output-fmt-option",
        "seqs_per_slice=2000",
        "-o",
        str(cram),
        str(big),
    )
    _run("samtools", "index", str(cram))
    tiny_cram = root / "tiny.cram"
    _run("samtools", "view", "-C", "-T", str(demo.reference), "-o", str(tiny_cram), str(tiny))
    _run("samtools", "index", str(tiny_cram))
    vcf = root / "truth.vcf.gz"
    _big_vcf(demo.truth_vcf, vcf)
    return ReadFiles(tiny, big, big_csi, cram, tiny_cram, demo.reference, ref, vcf, vcf)
