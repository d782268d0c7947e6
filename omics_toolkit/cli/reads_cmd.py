"""``omics-toolkit reads list|show|activate|stats|view|export|serve``: the deployment's read sets,
looked at without downloading them.

``<read set>`` is a HealthOmics read set id or a sample (its newest read set; for ``stats`` and
``view``, its newest aligned BAM or CRAM read set). The logic lives in :mod:`omics_toolkit.reads`;
these commands parse options and render.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omics_toolkit.cli.common import emit_json, err, out, state, table

if TYPE_CHECKING:
    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.reads.locate import ReadSet

app = typer.Typer(
    help="Read sets in the deployment's sequence store: list, show, view a region, "
    "statistics, export, activate archived ones, serve htsget."
)

ReadSetArg = Annotated[
    str,
    typer.Argument(
        help="HealthOmics read set id, or a sample (its newest read set).", show_default=False
    ),
]


@dataclass
class ReadsContext:
    """Clients and the sequence store of the selected deployment."""

    aws: AwsContext
    omics: Any
    store_id: str


def reads_context(ctx: typer.Context) -> ReadsContext:
    """The deployment's sequence store, or :class:`NotProvisionedError`."""
    from omics_toolkit.aws.session import make_context
    from omics_toolkit.errors import NotProvisionedError
    from omics_toolkit.identity import Names
    from omics_toolkit.reads.locate import sequence_store_id

    settings = state(ctx).settings
    aws = make_context(settings)
    names = Names(settings.deployment, aws.account_id, aws.region)
    omics = aws.client("omics")
    store = sequence_store_id(omics, names.sequence_store)
    if store is None:
        raise NotProvisionedError(
            settings.deployment,
            settings.target,
            aws.region,
            f"sequence store {names.sequence_store}",
        )
    return ReadsContext(aws=aws, omics=omics, store_id=store)


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return str(value)  # pragma: no cover - the loop always returns


def _reference(arn: str | None) -> str:
    """``<referenceStoreId>/<referenceId>`` of a reference ARN (the part that tells them apart)."""
    if not arn:
        return ""
    parts = arn.split("/")
    return "/".join(parts[-3::2]) if len(parts) >= 4 else arn


def _created(rs: ReadSet) -> str:
    from omics_toolkit.pipeline.status import iso_time

    return iso_time(rs.creation_time) if rs.creation_time else ""


@app.command("list")
def list_(
    ctx: typer.Context,
    sample: Annotated[
        str | None, typer.Option("--sample", help="Only this sample's read sets.")
    ] = None,
) -> None:
    """The deployment's read sets: sample, subject, type (FASTQ, UBAM, BAM, CRAM), status
    (ACTIVE, ARCHIVED, ACTIVATING...), reference and the read and base counts HealthOmics reports.
    """
    from omics_toolkit.reads.locate import list_read_sets

    rc = reads_context(ctx)
    found = list_read_sets(rc.omics, rc.store_id, sample=sample, with_files=True)
    if state(ctx).json_output:
        emit_json([rs.as_row() for rs in found])
        return
    if not found:
        where = f"for sample {sample} " if sample else ""
        err.print(f"no read sets {where}in sequence store {rc.store_id}")
        return
    table(
        f"read sets in sequence store {rc.store_id}",
        [
            "read set",
            "sample",
            "subject",
            "type",
            "status",
            "reference",
            "reads",
            "bases",
            "size",
            "created",
        ],
        [
            [
                rs.id,
                rs.sample_id,
                rs.subject_id,
                rs.file_type,
                rs.status,
                _reference(rs.reference_arn),
                _count(rs.total_read_count),
                _count(rs.total_base_count),
                _size(rs.size),
                _created(rs),
            ]
            for rs in found
        ],
    )


@app.command()
def show(ctx: typer.Context, read_set: ReadSetArg) -> None:
    """One read set: its metadata, sequence information and files (bytes, GetReadSet parts and
    the S3 URI each file is readable at while ACTIVE)."""
    from omics_toolkit.reads.locate import resolve

    rc = reads_context(ctx)
    rs = resolve(rc.omics, rc.store_id, read_set)
    if state(ctx).json_output:
        emit_json(rs.as_row())
        return
    rows = [
        ["read set", rs.id],
        ["sample", rs.sample_id],
        ["subject", rs.subject_id],
        ["name", rs.name],
        ["type", rs.file_type],
        ["status", rs.status + (f" ({rs.status_message})" if rs.status_message else "")],
        ["reference", rs.reference_arn],
        ["created", f"{_created(rs)} ({rs.creation_type or 'IMPORT'})"],
        ["total reads", _count(rs.total_read_count)],
        ["total bases", _count(rs.total_base_count)],
        ["generated from", rs.generated_from],
        ["alignment", rs.alignment],
        ["size", _size(rs.size)],
    ]
    table(f"read set {rs.id}", ["field", "value"], rows)
    table(
        "files",
        ["file", "bytes", "parts", "S3 URI"],
        [
            [
                f.slot,
                _count(f.content_length),
                _count(f.total_parts),
                f.s3_uri or f"(none while {rs.status})",
            ]
            for f in rs.files.values()
        ],
    )
    if rs.status == "ARCHIVED":
        err.print(
            f"read set {rs.id} is ARCHIVED: `omics-toolkit reads activate {rs.id}` "
            "restores S3 access"
        )


@app.command()
def activate(
    ctx: typer.Context,
    read_set: ReadSetArg,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the activation job finishes.")
    ] = False,
) -> None:
    """Restore an ARCHIVED read set to ACTIVE (StartReadSetActivationJob): its files become
    readable again at the same S3 URIs. Activation takes minutes to hours in AWS; the same
    command twice starts one job."""
    from omics_toolkit.provisioning.core import token
    from omics_toolkit.reads.locate import (
        activation_job,
        activation_job_ids,
        get_read_set,
        resolve,
        start_activation,
    )

    rc = reads_context(ctx)
    rs = resolve(rc.omics, rc.store_id, read_set)
    as_json = state(ctx).json_output
    report: dict[str, Any] = {"read_set_id": rs.id, "sample_id": rs.sample_id}
    if rs.status == "ACTIVE":
        if as_json:
            emit_json({**report, "status": "ACTIVE", "activation_job_id": None})
        else:
            out.print(f"read set {rs.id} (sample {rs.sample_id}) is already ACTIVE; nothing to do")
        return
    if rs.status not in ("ARCHIVED", "ACTIVATING"):
        raise _user_error(f"read set {rs.id} is {rs.status}; only ARCHIVED read sets activate")
    job_id = None
    if rs.status == "ARCHIVED":
        # The token is deterministic for this request (a retried call starts one job) and new
        # for every archival: it names the store's activation jobs so far, which grow by one
        # each time (a finished job's token would return that job, not activate again).
        earlier = activation_job_ids(rc.omics, rc.store_id)
        job_id = start_activation(
            rc.omics, rc.store_id, [rs.id], token(rc.store_id, rs.id, "activate", *earlier)
        )
        err.print(f"activation job {job_id} started for read set {rs.id} (sample {rs.sample_id})")
    else:
        err.print(f"read set {rs.id} (sample {rs.sample_id}) is already ACTIVATING")
    if not wait:
        if as_json:
            emit_json({**report, "status": "ACTIVATING", "activation_job_id": job_id})
        else:
            out.print(f"`omics-toolkit reads show {rs.id}` shows ACTIVE when it is done")
        return
    settings = state(ctx).settings
    delay = float(settings.poll_interval_seconds)
    job = None
    while True:
        if job_id is not None:
            job = activation_job(rc.omics, rc.store_id, job_id)
            done = job.status in ("COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED")
        else:
            done = get_read_set(rc.omics, rc.store_id, rs.id).status != "ACTIVATING"
        if done:
            break
        time.sleep(delay)
        delay = min(delay * 2, float(settings.max_poll_interval_seconds))
    now = get_read_set(rc.omics, rc.store_id, rs.id)
    if as_json:
        emit_json(
            {
                **report,
                "status": now.status,
                "activation_job_id": job_id,
                "job_status": job.status if job else None,
                "sources": job.sources if job else None,
            }
        )
    if now.status != "ACTIVE":
        reason = ""
        if job is not None:
            reason = job.status_message or "; ".join(
                str(s.get("statusMessage")) for s in job.sources if s.get("statusMessage")
            )
        raise _user_error(
            f"read set {rs.id} is still {now.status}"
            + (f" after activation job {job_id} ended {job.status}" if job else "")
            + (f": {reason}" if reason else "")
        )
    if not as_json:
        out.print(f"read set {rs.id} is ACTIVE again")


def _user_error(message: str) -> Exception:
    from omics_toolkit.errors import UserError

    return UserError(message)


RegionArg = Annotated[
    str,
    typer.Argument(
        help="contig:start-end, 1-based inclusive like samtools (chr20:1,000,001-1,001,000); "
        "a contig alone is the whole contig.",
        show_default=False,
    ),
]
ReferenceOpt = Annotated[
    Path | None,
    typer.Option(
        "--reference",
        help="The FASTA a CRAM read set was compressed against (with its .fai beside it).",
        exists=True,
        dir_okay=False,
    ),
]


def _aligned(ctx: typer.Context, read_set: str) -> tuple[ReadsContext, ReadSet, Any, Any]:
    from omics_toolkit.reads.locate import read_set_objects, resolve

    rc = reads_context(ctx)
    rs = resolve(rc.omics, rc.store_id, read_set, aligned=True)
    data, index = read_set_objects(rc.aws.client("s3"), rs)
    return rc, rs, data, index


def _transferred(
    bytes_read: int, index_bytes: int, file_size: int, requests: int, seconds: float
) -> str:
    """``N bytes transferred: I of index, D of the F-byte file (P%), in R range requests, S s``."""
    data = max(bytes_read - index_bytes, 0)
    share = 100.0 * data / file_size if file_size else 0.0
    return (
        f"{bytes_read:,} bytes transferred: {index_bytes:,} of index, {data:,} of the "
        f"{file_size:,}-byte file ({share:.2f}%), in {requests} range "
        f"request{'s' if requests != 1 else ''}, {seconds:.2f} s"
    )


@app.command()
def view(
    ctx: typer.Context,
    read_set: ReadSetArg,
    region: RegionArg,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="sam (text, as `samtools view`) or bam (binary, with header: needs --output "
            "or a pipe); default: bam for an --output ending in .bam, else sam.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --output file.")
    ] = False,
    header: Annotated[
        bool, typer.Option("--header", "-h", help="SAM: print the header first (samtools -h).")
    ] = False,
    reference: ReferenceOpt = None,
) -> None:
    """The reads overlapping a region of an aligned read set, as `samtools view FILE REGION`
    gives them, fetched by range requests through the read set's S3 URI and its index: only
    the index, the header and the region's blocks move, never the whole file. Prints the bytes
    transferred against the file's size on stderr."""
    import sys

    from omics_toolkit.errors import UserError
    from omics_toolkit.reads.regions import parse_region
    from omics_toolkit.reads.view import fetch_region

    if fmt is None:
        fmt = "bam" if output is not None and output.suffix.lower() == ".bam" else "sam"
    if fmt not in ("sam", "bam"):
        raise UserError(f"--format {fmt}: use sam or bam")
    wanted = parse_region(region)
    if fmt == "bam" and output is None and sys.stdout.isatty():
        raise UserError("--format bam writes binary: give --output FILE or pipe it")
    if output is not None and output.exists() and not overwrite:
        raise UserError(f"{output} exists; give --overwrite to replace it, or another --output")
    _, rs, data, index = _aligned(ctx, read_set)
    started = time.monotonic()
    if output is not None:
        # written beside the output and renamed at the end: a failure leaves the output as it was
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("wb") as handle:
                fetched = fetch_region(
                    data,
                    index,
                    wanted,
                    fmt,  # type: ignore[arg-type]
                    handle,
                    reference=reference,
                    header=header,
                )
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    else:
        stream = sys.stdout.buffer
        fetched = fetch_region(
            data,
            index,
            wanted,
            fmt,  # type: ignore[arg-type]
            stream,
            reference=reference,
            header=header,
        )
        stream.flush()
    seconds = time.monotonic() - started
    err.print(
        f"read set {rs.id} (sample {rs.sample_id}, {rs.file_type}) {wanted.samtools()}: "
        f"{fetched.records:,} reads; "
        + _transferred(
            fetched.bytes_read, fetched.index_size, fetched.file_size, fetched.requests, seconds
        ),
        highlight=False,
    )


@app.command()
def stats(
    ctx: typer.Context,
    read_set: ReadSetArg,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Also the flag statistics and coverage of this region (reads its bytes), "
            "contig:start-end, 1-based inclusive.",
        ),
    ] = None,
    reference: ReferenceOpt = None,
) -> None:
    """Per-contig mapped and unmapped read counts from the index alone (what `samtools
    idxstats` gives: no read data moved) and, with --region, the region's flag statistics and
    coverage (as `samtools flagstat` and `samtools coverage -r`, from the region's bytes). Each
    figure says where it came from and how many bytes were read."""
    from omics_toolkit.errors import UserError
    from omics_toolkit.reads.regions import parse_region
    from omics_toolkit.reads.stats import index_stats, region_stats
    from omics_toolkit.reads.view import load_source

    wanted = parse_region(region) if region else None
    _, rs, data, index = _aligned(ctx, read_set)
    cram = rs.file_type == "CRAM"
    if cram and wanted is None:
        raise UserError(
            f"read set {rs.id} is CRAM: a .crai index holds no read counts; give --region "
            "to count a region's reads from its bytes"
        )
    result: dict[str, Any] = {
        "read_set_id": rs.id,
        "sample_id": rs.sample_id,
        "file_type": rs.file_type,
        "file_size": data.size,
    }
    contigs: list[Any] = []
    if not cram:
        # the index, with the contig names of the header (BAI/CSI name none)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="omics-stats-") as tmp:
            _, idx, _ = load_source(data, index, Path(tmp))
        contigs = index_stats(idx)
        result["index"] = {
            "source": "index",
            "bytes_read": data.bytes_read + index.bytes_read,
            "index_bytes": index.bytes_read,
            "requests": data.requests + index.requests,
            "seconds": round(time.monotonic() - started, 3),
            "contigs": [
                {"contig": c.contig, "length": c.length, "mapped": c.mapped, "unmapped": c.unmapped}
                for c in contigs
            ],
        }
    rstats = None
    if wanted is not None:
        started = time.monotonic()
        rstats = region_stats(data, index, wanted, reference=reference)
        result["region"] = {
            "source": "data",
            "region": wanted.samtools(),
            "reads": rstats.records,
            "bytes_read": rstats.bytes_read,
            "requests": rstats.requests,
            "flagstat": {k: list(v) for k, v in rstats.flagstat.items()},
            "coverage": rstats.coverage,
            "seconds": round(time.monotonic() - started, 3),
        }
    if state(ctx).json_output:
        emit_json(result)
        return
    if "index" in result:
        ind = result["index"]
        table(
            f"read set {rs.id} (sample {rs.sample_id}): reads per contig, from the index (no "
            "read data moved)",
            ["contig", "length", "mapped", "unmapped"],
            [[c.contig, _count(c.length), _count(c.mapped), _count(c.unmapped)] for c in contigs],
        )
        err.print(
            "per-contig counts: "
            + _transferred(
                ind["bytes_read"], ind["index_bytes"], data.size, ind["requests"], ind["seconds"]
            ),
            highlight=False,
        )
    if rstats is not None and wanted is not None:
        reg = result["region"]
        table(
            f"{wanted.samtools()}: flag statistics, from the data",
            ["category", "QC-passed", "QC-failed"],
            [[k, _count(v[0]), _count(v[1])] for k, v in rstats.flagstat.items()],
        )
        table(
            f"{wanted.samtools()}: coverage, from the data (as samtools coverage)",
            ["measure", "value"],
            [[k, f"{v:g}"] for k, v in rstats.coverage.items()],
        )
        err.print(
            f"{wanted.samtools()}: "
            + _transferred(
                reg["bytes_read"], index.size, data.size, reg["requests"], reg["seconds"]
            ),
            highlight=False,
        )


@app.command()
def export(
    ctx: typer.Context,
    read_set: ReadSetArg,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write the files into (created if missing)."),
    ] = None,
    url: Annotated[
        bool,
        typer.Option("--url", help="Print presigned URLs of the files (IGV, a browser) instead."),
    ] = False,
    expires: Annotated[
        int, typer.Option("--expires", help="Seconds the --url URLs stay valid (1 to 604800).")
    ] = 3600,
    workers: Annotated[
        int, typer.Option("--workers", help="Parts of a file fetched at once.", min=1, max=64)
    ] = 4,
    part_size_mib: Annotated[
        int, typer.Option("--part-size-mib", help="MiB per ranged GetObject.", min=1, max=5120)
    ] = 8,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace different files already in --out.")
    ] = False,
) -> None:
    """Download a read set's files (BAM or CRAM with its index, a FASTQ pair, a uBAM) through
    its S3 URIs: parallel ranged parts, checksums verified, an interrupted export resumes."""
    from omics_toolkit.aws.s3 import MAX_PRESIGN_SECONDS, presign
    from omics_toolkit.cli.transfers import download_progress, download_row, resumable
    from omics_toolkit.errors import UserError
    from omics_toolkit.reads.export import export_read_set
    from omics_toolkit.reads.locate import require_readable, resolve
    from omics_toolkit.reads.ranged import split_s3_uri

    if not url and out_dir is None:
        raise UserError("say where to write the files with --out DIR (or print URLs with --url)")
    if url and not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise UserError(f"--expires: 1 to {MAX_PRESIGN_SECONDS} seconds (7 days), not {expires}")
    rc = reads_context(ctx)
    rs = resolve(rc.omics, rc.store_id, read_set)
    s3 = rc.aws.client("s3")
    as_json = state(ctx).json_output
    if url:
        rows = []
        for slot, uri in require_readable(rs).items():
            bucket, key = split_s3_uri(uri)
            rows.append(
                {
                    "file": slot,
                    "uri": uri,
                    "bytes": rs.files[slot].content_length,
                    "url": presign(s3, bucket, key, expires),
                    "expires_in": expires,
                }
            )
        if as_json:
            emit_json({"read_set_id": rs.id, "sample_id": rs.sample_id, "files": rows})
        else:
            for row in rows:  # tab-separated: `cut -f2` gives the URL
                sys.stdout.write(f"{row['file']}\t{row['url']}\n")
        return
    assert out_dir is not None
    err.print(f"read set {rs.id} (sample {rs.sample_id}, {rs.file_type}) -> {out_dir}")
    with download_progress(as_json) as start, resumable(out_dir):
        done = export_read_set(
            s3,
            rs,
            out_dir,
            workers=workers,
            part_size=part_size_mib << 20,
            overwrite=overwrite,
            progress=start,
        )
    if as_json:
        emit_json(
            {
                "read_set_id": rs.id,
                "sample_id": rs.sample_id,
                "files": [{"file": slot, **r.as_dict()} for slot, r in done],
            }
        )
        return
    rows = []
    for slot, r in done:
        verified, how = download_row(r)
        rows.append(
            [str(r.dest), slot, f"{r.bytes_total:,}", f"{r.bytes_fetched:,}", verified, how]
        )
    table(None, ["file", "read set file", "bytes", "fetched", "verified by", "status"], rows)


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback unless told).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
    ] = 8080,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="OMICS_TOOLKIT_HTSGET_TOKEN",
            help="Require `Authorization: Bearer TOKEN` on every request.",
        ),
    ] = None,
    expires: Annotated[
        int,
        typer.Option("--expires", help="Seconds the presigned URLs in a ticket stay valid."),
    ] = 3600,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            help="A web origin (e.g. https://igv.org) whose pages may read tickets without a "
            "token; loopback origins always may. Repeatable.",
        ),
    ] = None,
) -> None:
    """A GA4GH htsget 1.3 endpoint for the deployment: /reads/<read set id or sample> (its
    aligned BAM or CRAM) and /variants/<sample> (its newest run's VCF). Tickets point at
    presigned range URLs, so clients (htslib, IGV) stream regions straight from S3; the server
    reads only indexes and headers. Runs until Ctrl-C."""
    from omics_toolkit.aws.s3 import MAX_PRESIGN_SECONDS
    from omics_toolkit.aws.stepfunctions import deployment_state_machine_arn
    from omics_toolkit.errors import UserError
    from omics_toolkit.identity import Names
    from omics_toolkit.reads.serve import LOOPBACK_HOSTS, create_app, serve
    from omics_toolkit.reads.sources import deployment_resolver

    if not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise UserError(f"--expires: 1 to {MAX_PRESIGN_SECONDS} seconds (7 days), not {expires}")
    if host not in LOOPBACK_HOSTS and not token:
        raise UserError(
            f"--host {host} would let anyone who reaches it read the deployment's reads: give "
            "--token (or OMICS_TOOLKIT_HTSGET_TOKEN) as well"
        )
    rc = reads_context(ctx)
    settings = state(ctx).settings
    names = Names(settings.deployment, rc.aws.account_id, rc.aws.region)
    resolver = deployment_resolver(
        omics=rc.omics,
        s3=rc.aws.client("s3"),
        sfn=rc.aws.client("stepfunctions"),
        store_id=rc.store_id,
        state_machine_arn=deployment_state_machine_arn(rc.aws, names.state_machine),
        expires_in=expires,
    )
    _check_port(host, port)
    base = f"http://{host}:{port}"
    err.print(
        f"htsget 1.3 for deployment {settings.deployment}: {base}/reads/<read set or sample>, "
        f"{base}/variants/<sample> (e.g. samtools view '{base}/reads/SAMPLE?referenceName="
        "chr20&start=0&end=1000'); Ctrl-C stops",
        highlight=False,
        soft_wrap=True,
    )
    # bound to loopback, only loopback Host names are answered (DNS rebinding cannot reach it)
    hosts = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else None
    app_ = create_app(resolver, token=token, allowed_hosts=hosts, allowed_origins=allow_origin)
    serve(app_, host, port)


def _check_port(host: str, port: int) -> None:
    """Refuse a port that is taken, with the fix, before uvicorn reports it in its own words."""
    import socket

    from omics_toolkit.errors import UserError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port"
            ) from exc
