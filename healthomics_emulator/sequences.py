"""Sequence stores, read sets and read set import jobs.

API operations: CreateSequenceStore, GetSequenceStore, ListSequenceStores, DeleteSequenceStore,
StartReadSetImportJob, GetReadSetImportJob, ListReadSetImportJobs, ListReadSets,
GetReadSetMetadata, BatchDeleteReadSet.

Data: each source item becomes ONE read set (a FASTQ pair: ``source1`` + ``source2``) whose files
are copied to ``<state_dir>/readsets/<readSetId>/`` keeping their S3 base names. FASTQ content is
checked the way the service rejects it (:func:`check_fastq_files`: gzip named ``.gz`` and intact,
every record well formed, mates with the same read count and names, streamed in one pass per
file); BAM/UBAM must be BGZF with the end-of-file block, CRAM must have the CRAM magic, and both
need ``referenceArn``. A failed source has ``status`` FAILED and a ``statusMessage`` (at most 127
characters) naming the file by its key's base name and the problem; the job is FAILED when every
source failed, COMPLETED_WITH_FAILURES when some did.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import shutil
import threading
import zlib
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthomics_emulator.errors import OmicsError, conflict, invalid
from healthomics_emulator.helpers import (
    created_between,
    find_by_client_token,
    get_store_job,
    list_store_jobs,
    paginate,
)
from healthomics_emulator.model import now_iso
from healthomics_emulator.readset_files import (
    PART_SIZE_BYTES,
    ReadSetFileError,
    alignment_details,
    file_information,
    md5_hex,
    object_key,
    store_s3_access,
)
from healthomics_emulator.references import resolve_reference_arn
from healthomics_emulator.s3io import (
    JOB_MESSAGE_MAX,
    SourceError,
    download,
    fit_message,
    is_gzip,
    key_name,
    require_read,
)

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

log = logging.getLogger(__name__)

STORES = "sequenceStores"
READSETS = "readSets"
JOBS = "readSetImportJobs"
STORE_ACTIVATION_SECONDS = 0.2


def readset_dir(b: Backend, read_set_id: str) -> Path:
    """``<state_dir>/readsets/<readSetId>``."""
    return b.state_dir / "readsets" / read_set_id


def create_sequence_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateSequenceStore: CREATING, ACTIVE shortly after; same ``clientToken`` -> same store."""
    token = p.get("clientToken")
    existing = find_by_client_token(b, STORES, token)
    if existing:
        return existing
    ident = b.state.new_numeric_id(STORES, 10)
    now = now_iso()
    rec = {
        "id": ident,
        "arn": b.arn(f"sequenceStore/{ident}"),
        "name": p["name"],
        "description": p.get("description"),
        "sseConfig": p.get("sseConfig") or {"type": "KMS"},
        "creationTime": now,
        "updateTime": now,
        "fallbackLocation": p.get("fallbackLocation"),
        "eTagAlgorithmFamily": p.get("eTagAlgorithmFamily") or "MD5up",
        "status": "CREATING",
        "propagatedSetLevelTags": p.get("propagatedSetLevelTags"),
        "s3Access": store_s3_access(
            b.account_id,
            b.service_account_id,
            b.region,
            ident,
            (p.get("s3AccessConfig") or {}).get("accessLogLocation"),
        ),
        "_clientToken": token,
    }
    b.state.put(STORES, ident, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    timer = threading.Timer(
        STORE_ACTIVATION_SECONDS,
        lambda: b.state.update(STORES, ident, status="ACTIVE", updateTime=now_iso()),
    )
    timer.daemon = True
    timer.start()
    return rec


def get_sequence_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetSequenceStore."""
    return b.require(STORES, p["id"], "Sequence store")


def list_sequence_stores(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListSequenceStores with ``filter`` name/status/created*."""
    flt = p.get("filter") or {}
    items = [
        r
        for r in b.state.values(STORES)
        if (not flt.get("name") or r["name"] == flt["name"])
        and (not flt.get("status") or r["status"] == flt["status"])
        and created_between(r, flt)
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("nextToken"))
    return {"sequenceStores": page, "nextToken": nxt}


def delete_sequence_store(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteSequenceStore; ``ConflictException`` while it still holds read sets."""
    b.require(STORES, p["id"], "Sequence store")
    if any(r["sequenceStoreId"] == p["id"] for r in b.state.values(READSETS)):
        raise conflict(f"Sequence store {p['id']} still contains read sets; delete them first")
    b.state.delete(STORES, p["id"])
    return {}


def start_read_set_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartReadSetImportJob: one read set per source item, copied on a worker thread.

    Errors: ResourceNotFoundException (store), ValidationException (BAM/CRAM without
    ``referenceArn``, ``source2`` on a non-FASTQ source, unknown reference).
    """
    store_id = p["sequenceStoreId"]
    b.require(STORES, store_id, "Sequence store")
    for i, src in enumerate(p["sources"], 1):
        kind = src["sourceFileType"]
        if kind in ("BAM", "CRAM") and not src.get("referenceArn"):
            raise invalid(f"sources.{i}: referenceArn is required for {kind} sources")
        if kind != "FASTQ" and src["sourceFiles"].get("source2"):
            raise invalid(f"sources.{i}: source2 is only allowed for FASTQ sources")
        if src.get("referenceArn") and resolve_reference_arn(b, src["referenceArn"]) is None:
            raise invalid(f"sources.{i}: reference {src['referenceArn']} does not exist")
    token = p.get("clientToken")
    existing = find_by_client_token(b, JOBS, token, sequenceStoreId=store_id)
    if existing:
        return existing
    ident = b.state.new_numeric_id(JOBS, 10)
    sources = [dict(s, status="NOT_STARTED") for s in p["sources"]]
    rec = {
        "id": ident,
        "sequenceStoreId": store_id,
        "roleArn": p["roleArn"],
        "status": "SUBMITTED",
        "creationTime": now_iso(),
        "sources": sources,
        "_clientToken": token,
    }
    b.state.put(JOBS, ident, rec)
    b.submit(_run_import, b, ident)
    return rec


#: Last 28 bytes of every complete BAM: the empty BGZF block that marks the end of the file
#: (SAM/BAM format specification, section 4.1.2 "End-of-file marker").
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
#: Longest FASTQ line read at once; a longer one (or binary data without newlines) is rejected
#: instead of being held in memory.
MAX_LINE_BYTES = 16 * 1024 * 1024


class FastqReader:
    """Streams one FASTQ file (plain or gzip, whatever its name says) record by record.

    :meth:`records` yields each record's read name (header up to the first whitespace, without ``@`` and
    a trailing ``/1``/``/2``) and counts ``reads``/``bases``; problems raise ``SourceError`` whose
    message names the file by the object key's base name (``name``) and says the problem and the
    record number. Memory stays constant (one record at a time).

    Args:
        path: the downloaded file.
        name: the object key's base name, used in messages.
        uri: the source URI (only for errors the reader cannot classify).
    """

    def __init__(self, path: Path, name: str, uri: str) -> None:
        self.path = path
        self.name = name
        self.uri = uri
        self.reads = 0
        self.bases = 0

    def error(self, problem: str) -> SourceError:
        return SourceError(_about(problem, self.name))

    def records(self) -> Generator[bytes, None, None]:
        """Read names, one per record, checking each record (see the class docstring)."""
        if self.path.stat().st_size == 0:
            raise self.error("empty file (no reads)")
        compressed = is_gzip(self.path)
        if self.name.lower().endswith(".gz") and not compressed:
            raise self.error("named .gz but not gzip-compressed")
        opener: Any = gzip.open if compressed else open
        try:
            with opener(self.path, "rb") as fh:
                yield from self._records(fh)
        except EOFError as exc:
            raise self.error(
                f"truncated gzip stream (unexpected end of data after {self.reads} complete reads)"
            ) from exc
        except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            # Named by its URI (shortened in the middle if need be), as this message always was.
            what = "corrupt gzip data" if compressed else "read error"
            detail = str(exc).split("while decompressing data: ")[-1]
            raise SourceError(
                _about(
                    f"unreadable FASTQ ({what} after {self.reads} complete reads: {detail})",
                    self.uri,
                )
            ) from exc
        if self.reads == 0:
            raise self.error("empty file (no reads)")

    def _records(self, fh: Any) -> Generator[bytes, None, None]:
        while True:
            header = self._line(fh)
            number = self.reads + 1
            if not header.strip():
                while header and not header.strip():  # blank lines are allowed at the end only
                    header = self._line(fh)
                if not header:
                    break
                raise self.error(f"record {number}: blank line instead of a header")
            if not header.startswith(b"@"):
                if number == 1:
                    raise self.error(f"not FASTQ ({_content_kind(header)})")
                raise self.error(f"record {number}: header line does not start with '@'")
            lines = [self._line(fh) for _ in range(3)]
            present = next((i for i, line in enumerate(lines) if not line), 3)
            if present < 3:
                raise self.error(
                    f"record {number} is truncated (file ends after line {present + 1} of 4)"
                )
            seq, sep, qual = (line.rstrip(b"\r\n") for line in lines)
            if not sep.startswith(b"+"):
                raise self.error(f"record {number}: separator line does not start with '+'")
            if len(seq) != len(qual):
                raise self.error(
                    f"record {number}: sequence length {len(seq)} differs from "
                    f"quality length {len(qual)}"
                )
            self.reads += 1
            self.bases += len(seq)
            yield read_name(header)

    def _line(self, fh: Any) -> bytes:
        line: bytes = fh.readline(MAX_LINE_BYTES)
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise self.error(
                f"record {self.reads + 1}: line longer than {MAX_LINE_BYTES // 2**20} MiB"
                " (not FASTQ text?)"
            )
        return line


def read_name(header: bytes) -> bytes:
    """A FASTQ header's read name as mates share it: no ``@``, nothing from the first whitespace,
    no trailing ``/1`` or ``/2``."""
    parts = header[1:].split(maxsplit=1)
    name = parts[0] if parts else b""
    return name[:-2] if name.endswith((b"/1", b"/2")) else name


def _content_kind(first: bytes) -> str:
    """What a first line that is not a FASTQ header looks like, for the message."""
    if first.startswith(b"BAM\x01"):
        return "BAM content"
    if first.startswith(b"CRAM"):
        return "CRAM content"
    if first.startswith(b"\x1f\x8b"):
        return "gzip-compressed twice"
    if b"\x00" in first or any(byte > 0x7E for byte in first[:4096]):
        return "binary content"
    return "first line does not start with '@'"


def check_fastq_files(mates: list[tuple[Path, str]]) -> tuple[int, int]:
    """Check a FASTQ source -- one file, or two mates read in lockstep -- in one pass per file.

    Every record must be well formed; mates must have the same number of reads and the same read
    name at each record (compared without ``/1``/``/2`` and anything after the first space).

    Args:
        mates: ``(downloaded path, source URI)`` of ``source1`` and, if any, ``source2``.

    Returns:
        (read count, base count) summed over the files.

    Raises:
        SourceError: the first problem found, naming the file(s) by the key's base name, e.g.
            ``NA1_R1.fastq.gz: record 12: separator line does not start with '+'``.
    """
    readers = [FastqReader(path, key_name(uri), uri) for path, uri in mates]
    if len(readers) == 1:
        for _ in readers[0].records():
            pass
        return readers[0].reads, readers[0].bases
    first, second = readers
    names1, names2 = first.records(), second.records()
    try:
        for a, b in itertools.zip_longest(names1, names2):
            if a is None or b is None:
                continue  # one mate ended: read the other to the end (checked and counted)
            if a != b:
                raise SourceError(
                    _about(
                        f"read names differ at record {first.reads}: {_shown(a)} vs {_shown(b)}",
                        first.name,
                        second.name,
                    )
                )
    finally:
        names1.close()
        names2.close()
    if first.reads != second.reads:
        raise SourceError(
            _about(
                f"{{0}} has {first.reads} reads, {{1}} has {second.reads}: "
                "mates must have the same number of reads",
                first.name,
                second.name,
                lead=False,
            )
        )
    return first.reads + second.reads, first.bases + second.bases


def _shown(name: bytes, width: int = 40) -> str:
    """A read name for a message: printable ASCII, quoted, at most ``width`` characters."""
    text = "".join(ch if ch.isprintable() else "?" for ch in name.decode("ascii", "replace"))
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"'{text}'"


def _about(problem: str, *names: str, lead: bool = True) -> str:
    """``"<name>: <problem>"`` (two names: ``"<a> and <b>: ..."``; ``lead=False``: the problem
    places them itself as ``{0}``/``{1}``) within the job status message limit: file names are
    shortened in the middle when the whole would be too long."""

    def render(shown: list[str]) -> str:
        if not lead:
            return problem.format(*shown)
        return f"{' and '.join(shown)}: {problem}"

    text = render(list(names))
    width = max(len(n) for n in names)
    while len(text) > JOB_MESSAGE_MAX and width > 12:
        width -= 4
        text = render([_middle(n, width) for n in names])
    return fit_message(text)


def _middle(name: str, width: int) -> str:
    if len(name) <= width:
        return name
    keep = width - 1
    return name[: keep // 2] + "…" + name[len(name) - (keep - keep // 2) :]


def _import_source(b: Backend, src: dict[str, Any], rs_id: str, store_id: str) -> dict[str, Any]:
    """Copy a source's files into the read set's folder and describe them as GetReadSetMetadata
    does (``files`` with parts and S3 URIs, ``sequenceInformation``, ``etag``); BAM/CRAM get an
    index (:func:`healthomics_emulator.readset_files.alignment_details`)."""
    folder = readset_dir(b, rs_id)
    s3 = b.client("s3")
    kind = src["sourceFileType"]
    paths: dict[str, str] = {}
    mates: list[tuple[Path, str]] = []
    for slot in ("source1", "source2"):
        uri = src["sourceFiles"].get(slot)
        if not uri:
            continue
        name = uri.rstrip("/").rsplit("/", 1)[-1] or slot
        if slot == "source2" and name == Path(paths.get("source1", "")).name:
            name = f"source2_{name}"
        path = download(s3, uri, folder / name)
        if kind in ("BAM", "UBAM", "CRAM"):
            _check_binary(path, uri, kind)
        mates.append((path, uri))
        paths[slot] = str(path)
    info: dict[str, Any] = {"generatedFrom": src.get("generatedFrom")}
    if kind == "FASTQ":
        reads, bases = check_fastq_files(mates)
        info.update(totalReadCount=reads, totalBaseCount=bases, alignment="UNALIGNED")
    else:
        reference = (
            resolve_reference_arn(b, src["referenceArn"]) if src.get("referenceArn") else None
        )
        fasta = (
            b.state_dir / "references" / reference["id"] / "reference.fasta" if reference else None
        )
        try:
            counts, index = alignment_details(mates[0][0], kind, fasta)
        except ReadSetFileError as exc:
            raise SourceError(_about(str(exc), key_name(mates[0][1]))) from exc
        info.update(counts)
        if index is not None:
            paths["index"] = str(index)
    # GetReadSet part size: the service's 100 MiB unless the emulator option
    # ``read_set_part_size_bytes`` sets another (tests use small parts)
    part_size = int(b.options.get("read_set_part_size_bytes") or PART_SIZE_BYTES)
    files = {
        slot: file_information(
            Path(path).stat().st_size,
            f"s3://{_alias(b, store_id)}/{object_key(b.account_id, store_id, rs_id, Path(path).name)}",
            part_size,
        )
        for slot, path in paths.items()
    }
    family = _store_family(b, store_id)
    # MD5 of every file, once: the S3 ETag of its object, and the read set's etag values
    md5 = {slot: md5_hex(Path(path)) for slot, path in paths.items()}
    etag = {"algorithm": f"{'BAM' if kind == 'UBAM' else kind}_{family}"}
    etag.update({slot: md5[slot] for slot in ("source1", "source2") if slot in md5})
    return {
        "files": files,
        "_paths": paths,
        "_md5": md5,
        "sequenceInformation": info,
        "etag": etag,
    }


def _alias(b: Backend, store_id: str) -> str:
    """The bucket (access point alias) of the store's S3 URIs."""
    uri = b.require(STORES, store_id, "Sequence store")["s3Access"]["s3Uri"]
    return str(uri[len("s3://") :].split("/", 1)[0])


def _store_family(b: Backend, store_id: str) -> str:
    """The store's ETag algorithm family (``MD5up``, ``SHA256up``, ``SHA512up``)."""
    return str(b.require(STORES, store_id, "Sequence store").get("eTagAlgorithmFamily") or "MD5up")


def _check_binary(path: Path, uri: str, kind: str) -> None:
    """BAM/UBAM: BGZF (gzip magic) ending with the BGZF end-of-file block; CRAM: CRAM magic."""
    name = key_name(uri)
    with path.open("rb") as fh:
        head = fh.read(4)
        if kind == "CRAM":
            if head != b"CRAM":
                raise SourceError(_about("not a CRAM file", name))
            return
        if head[:2] != b"\x1f\x8b":
            raise SourceError(_about("not a BGZF-compressed BAM file", name))
        size = path.stat().st_size
        fh.seek(max(size - len(BGZF_EOF), 0))
        if fh.read() != BGZF_EOF:
            raise SourceError(_about("truncated BAM (no BGZF end-of-file block)", name))


def _run_import(b: Backend, job_id: str) -> None:
    job = b.state.get(JOBS, job_id)
    if job is None:
        return
    b.state.update(JOBS, job_id, status="IN_PROGRESS")
    sources = job["sources"]
    hit = b.faults.take_job(
        "read_set_import",
        sources=[(list(s["sourceFiles"].values()), s["sourceFileType"]) for s in sources],
    )
    if hit is not None:
        hit.rule.pause(b.stopping.is_set)
    failures: list[str] = []
    for src in sources:
        src["status"] = "IN_PROGRESS"
        b.state.update(JOBS, job_id, sources=sources)
        rs_id = b.state.new_numeric_id(READSETS, 10)
        try:
            if hit is not None and hit.fail:
                raise SourceError(hit.fail)  # an injected fault fails every source
            for uri in src["sourceFiles"].values():
                if uri:
                    require_read(b, job["roleArn"], uri)
            details = _import_source(b, src, rs_id, job["sequenceStoreId"])
        except SourceError as exc:
            shutil.rmtree(readset_dir(b, rs_id), ignore_errors=True)
            src["status"] = "FAILED"
            src["statusMessage"] = fit_message(str(exc))
            failures.append(str(exc))
            continue
        arn = b.arn(f"sequenceStore/{job['sequenceStoreId']}/readSet/{rs_id}")
        b.state.put(
            READSETS,
            rs_id,
            {
                "id": rs_id,
                "arn": arn,
                "sequenceStoreId": job["sequenceStoreId"],
                "subjectId": src["subjectId"],
                "sampleId": src["sampleId"],
                "status": "ACTIVE",
                "name": src.get("name"),
                "description": src.get("description"),
                "referenceArn": src.get("referenceArn"),
                "fileType": src["sourceFileType"],
                "creationTime": now_iso(),
                "creationType": "IMPORT",
                "creationJobId": job_id,
                **details,
            },
        )
        b.set_tags(arn, src.get("tags"))
        src["status"] = "FINISHED"
        src["readSetId"] = rs_id
    status, message = "COMPLETED", None
    if failures:
        status = "FAILED" if len(failures) == len(sources) else "COMPLETED_WITH_FAILURES"
        joined = hit.fail if hit is not None and hit.fail else "; ".join(failures)
        message = fit_message(joined, JOB_MESSAGE_MAX)
    b.state.update(
        JOBS,
        job_id,
        status=status,
        statusMessage=message,
        sources=sources,
        completionTime=now_iso(),
    )


def get_read_set_import_job(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReadSetImportJob."""
    return get_store_job(
        b, JOBS, p["id"], "sequenceStoreId", p["sequenceStoreId"], "Read set import job"
    )


def list_read_set_import_jobs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReadSetImportJobs with ``filter`` status/created*."""
    return list_store_jobs(
        b, p, jobs=JOBS, stores=STORES, store_key="sequenceStoreId", store_label="Sequence store"
    )


def list_read_sets(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListReadSets with ``filter`` name/status/referenceArn/sampleId/subjectId/generatedFrom."""
    b.require(STORES, p["sequenceStoreId"], "Sequence store")
    flt = p.get("filter") or {}

    def keep(r: dict[str, Any]) -> bool:
        for key in ("name", "status", "referenceArn", "sampleId", "subjectId", "creationType"):
            if flt.get(key) and r.get(key) != flt[key]:
                return False
        gen = flt.get("generatedFrom")
        if gen and (r.get("sequenceInformation") or {}).get("generatedFrom") != gen:
            return False
        return created_between(r, flt)

    items = [
        r
        for r in b.state.values(READSETS)
        if r["sequenceStoreId"] == p["sequenceStoreId"] and keep(r)
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("nextToken"))
    return {"readSets": page, "nextToken": nxt}


def _read_set(b: Backend, store_id: str, rs_id: str) -> dict[str, Any]:
    rs = b.state.get(READSETS, rs_id)
    if rs is None or rs["sequenceStoreId"] != store_id:
        raise OmicsError(
            "ResourceNotFoundException", f"Read set {rs_id} not found in store {store_id}"
        )
    return rs


def get_read_set_metadata(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetReadSetMetadata."""
    return _read_set(b, p["sequenceStoreId"], p["id"])


def batch_delete_read_set(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """BatchDeleteReadSet: per-id errors (``NotFound``) instead of failing the call."""
    b.require(STORES, p["sequenceStoreId"], "Sequence store")
    errors = []
    for rs_id in p["ids"]:
        try:
            _read_set(b, p["sequenceStoreId"], rs_id)
        except OmicsError as exc:
            errors.append({"id": rs_id, "code": "NotFound", "message": exc.message})
            continue
        b.state.delete(READSETS, rs_id)
        shutil.rmtree(readset_dir(b, rs_id), ignore_errors=True)
    return {"errors": errors or None}


def resolve_read_set(b: Backend, store_id: str, rs_id: str) -> dict[str, Any]:
    """The read set record (with ``_paths``) or ``ResourceNotFoundException``."""
    return _read_set(b, store_id, rs_id)


OPERATIONS = {
    "CreateSequenceStore": create_sequence_store,
    "GetSequenceStore": get_sequence_store,
    "ListSequenceStores": list_sequence_stores,
    "DeleteSequenceStore": delete_sequence_store,
    "StartReadSetImportJob": start_read_set_import_job,
    "GetReadSetImportJob": get_read_set_import_job,
    "ListReadSetImportJobs": list_read_set_import_jobs,
    "ListReadSets": list_read_sets,
    "GetReadSetMetadata": get_read_set_metadata,
    "BatchDeleteReadSet": batch_delete_read_set,
}
