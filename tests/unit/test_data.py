"""Demo-data helpers on small synthetic files (no network: apt-get is faked on PATH)."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from omics_toolkit import data
from omics_toolkit.errors import UserError

needs_samtools = pytest.mark.skipif(shutil.which("samtools") is None, reason="samtools missing")
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb missing")

VCF = """##fileformat=VCFv4.2
##contig=<ID=q,length=12356>
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
q\t186\t.\tT\tC\t50\tPASS\t.\tGT\t0/1
q\t200\t.\tCATA\tCA\t50\tPASS\t.\tGT\t0/1
q\t300\t.\tA\tAT\t50\tPASS\t.\tGT\t0/1
q\t400\t.\tG\tGA,T\t50\tPASS\t.\tGT\t1/2
q\t500\t.\tC\t<DEL>\t50\tPASS\t.\tGT\t0/1
chr2\t7\t.\ta\tg\t50\tPASS\t.\tGT\t1/1
"""

CONTENTS = {
    "q.fa": b">q\nACGT\n",
    "NA12878.chr22.tiny.bam": b"not really a bam",
    "NA12878.chr22.tiny.giab.vcf": VCF.encode(),
}


def test_truth_snvs_plain_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "t.vcf"
    plain.write_text(VCF)
    expected = [("q", 186), ("q", 400), ("chr2", 7)]
    assert data.truth_snvs(plain) == expected
    packed = tmp_path / "t.vcf.gz"
    packed.write_bytes(gzip.compress(VCF.encode()))
    assert data.truth_snvs(packed) == expected


def test_truth_snvs_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.vcf"
    bad.write_text("#header\nq\t1\t.\n")
    with pytest.raises(UserError, match="bad.vcf:2"):
        data.truth_snvs(bad)


def test_require_tools_names_missing_and_package() -> None:
    data.require_tools("sh")
    with pytest.raises(UserError) as info:
        data.require_tools("sh", "no-such-tool-xyz", "bcftools-nope")
    message = str(info.value)
    assert "no-such-tool-xyz" in message and "apt-get install" in message
    assert "sh," not in message


def test_require_tools_maps_executable_to_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="apt-get install tabix"):
        data.require_tools("bgzip")


@needs_samtools
def test_bam_to_fastq_pair_keeps_complete_pairs(tmp_path: Path) -> None:
    seq, qual = "ACGTACGTAC", "IIIIIIIIII"
    header = "@HD\tVN:1.6\tSO:unsorted\n@SQ\tSN:q\tLN:100\n"
    records = [
        # pair r1 (mates far apart in the file), a singleton, a secondary alignment
        f"r1\t99\tq\t1\t60\t10M\t=\t20\t29\t{seq}\t{qual}",
        f"solo\t73\tq\t5\t60\t10M\t=\t5\t0\t{seq}\t{qual}",
        f"r2\t83\tq\t30\t60\t10M\t=\t10\t-30\tTTTTTGGGGG\t{qual}",
        f"r1\t147\tq\t20\t60\t10M\t=\t1\t-29\tGGGGGTCCCC\t{qual}",
        f"r2\t163\tq\t10\t60\t10M\t=\t30\t30\tAAAAACCCCC\t{qual}",
        f"r2\t355\tq\t50\t0\t10M\t=\t30\t0\t{seq}\t{qual}",
    ]
    sam = tmp_path / "in.sam"
    sam.write_text(header + "\n".join(records) + "\n")
    r1, r2 = data.bam_to_fastq_pair(sam, tmp_path / "out", "S1")
    assert (r1.name, r2.name) == ("S1_R1.fastq.gz", "S1_R2.fastq.gz")

    def reads(path: Path) -> dict[str, str]:
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        return {lines[i][1:]: lines[i + 1] for i in range(0, len(lines), 4)}

    first, second = reads(r1), reads(r2)
    assert set(first) == set(second) == {"r1", "r2"}
    # reverse-strand reads come back as sequenced (reverse complement of SEQ)
    assert first["r1"] == seq and second["r1"] == "GGGGACCCCC"
    assert first["r2"] == "CCCCCAAAAA" and second["r2"] == "AAAAACCCCC"


def test_bam_to_fastq_pair_without_samtools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="apt-get install samtools"):
        data.bam_to_fastq_pair(tmp_path / "x.bam", tmp_path, "S1")


def _pin(monkeypatch: pytest.MonkeyPatch, contents: dict[str, bytes]) -> None:
    monkeypatch.setattr(
        data,
        "DEMO_FILES",
        {name: hashlib.sha256(body).hexdigest() for name, body in contents.items()},
    )


def test_cached_files_are_used_without_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pin(monkeypatch, CONTENTS)
    for name, body in CONTENTS.items():
        (tmp_path / name).write_bytes(body)
    monkeypatch.setenv("PATH", "/nonexistent")  # any apt-get call would fail
    demo = data.fetch_demo_data(tmp_path)
    assert demo.reference == tmp_path / "q.fa"
    assert demo.truth_vcf.read_bytes() == CONTENTS["NA12878.chr22.tiny.giab.vcf"]
    assert demo.sample == "NA12878"


def test_default_cache_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMICS_TOOLKIT_HOME", str(tmp_path))
    assert data.demo_data_dir() == tmp_path / "data" / "freebayes-1.3.6-2"


def _fake_apt(tmp_path: Path, deb: Path | None) -> Path:
    """A PATH directory whose apt-get copies ``deb`` into the cwd (or fails when None)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "apt-get"
    if deb is None:
        script.write_text("#!/bin/sh\necho 'E: Version 1.3.6-2 not found' >&2\nexit 100\n")
    else:
        script.write_text(f'#!/bin/sh\n[ "$2" = freebayes=1.3.6-2 ] || exit 1\ncp {deb} .\n')
    script.chmod(0o755)
    return bin_dir


def _build_deb(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: freebayes\nVersion: 1.3.6-2\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: fake\n"
    )
    doc = root / data.DEMO_DOC_DIR
    doc.mkdir(parents=True)
    for name, body in files.items():
        (doc / name).write_bytes(body)
    deb = tmp_path / "freebayes_1.3.6-2_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


@needs_dpkg
def test_fetch_extracts_and_handles_gz_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pin(monkeypatch, CONTENTS)
    files = dict(CONTENTS)
    files["NA12878.chr22.tiny.giab.vcf.gz"] = gzip.compress(
        files.pop("NA12878.chr22.tiny.giab.vcf")
    )
    deb = _build_deb(tmp_path, files)
    monkeypatch.setenv("PATH", f"{_fake_apt(tmp_path, deb)}:{os.environ['PATH']}")
    demo = data.fetch_demo_data(tmp_path / "cache")
    assert demo.truth_vcf.read_bytes() == CONTENTS["NA12878.chr22.tiny.giab.vcf"]
    assert demo.bam.read_bytes() == CONTENTS["NA12878.chr22.tiny.bam"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(CONTENTS)


@needs_dpkg
def test_fetch_rejects_checksum_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pin(monkeypatch, CONTENTS)
    tampered = dict(CONTENTS, **{"q.fa": b">q\nTTTT\n"})
    fake = _fake_apt(tmp_path, _build_deb(tmp_path, tampered))
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    with pytest.raises(UserError, match=r"q\.fa has sha256 .* delete"):
        data.fetch_demo_data(tmp_path / "cache")


@needs_dpkg
def test_fetch_download_failure_says_apt_get_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{_fake_apt(tmp_path, None)}:{os.environ['PATH']}")
    with pytest.raises(UserError, match="apt-get update") as info:
        data.fetch_demo_data(tmp_path / "cache")
    assert "not found" in str(info.value)
