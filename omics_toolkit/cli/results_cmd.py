"""``omics-toolkit results download SAMPLE --out DIR [--url]``: a sample's BAM, VCF and their
indexes from the output bucket (core: :mod:`omics_toolkit.pipeline.results`,
:mod:`omics_toolkit.transfer`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from omics_toolkit.cli.common import emit_json, err, state, table
from omics_toolkit.cli.transfers import download_progress, download_row, resumable

app = typer.Typer(
    help="A sample's pipeline results (the run's BAM, VCF and their indexes).",
    no_args_is_help=True,
)


@app.command("download")
def download_cmd(
    ctx: typer.Context,
    sample: Annotated[
        str,
        typer.Argument(
            help="Sample id (its newest SUCCEEDED execution) or an execution name.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write the files into (created if missing)."),
    ] = None,
    url: Annotated[
        bool,
        typer.Option("--url", help="Print presigned URLs (IGV, a browser) instead of downloading."),
    ] = False,
    expires: Annotated[
        int,
        typer.Option("--expires", help="Seconds the --url URLs stay valid (1 to 604800)."),
    ] = 3600,
    workers: Annotated[
        int, typer.Option("--workers", help="Parts of a file fetched at once.", min=1, max=64)
    ] = 4,
    part_size_mib: Annotated[
        int,
        typer.Option("--part-size-mib", help="MiB per ranged GetObject.", min=1, max=5120),
    ] = 8,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace different files already in --out.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Download SAMPLE's results (parallel ranged parts, checksums verified, an interrupted
    download resumes), or print presigned URLs of them with --url."""
    from omics_toolkit.aws.session import make_context
    from omics_toolkit.errors import UserError
    from omics_toolkit.pipeline.results import presigned_urls, sample_results
    from omics_toolkit.provisioning.provision import Provisioner
    from omics_toolkit.provisioning.teardown import discover

    st = state(ctx)
    as_json = json_output or st.json_output
    if not url and out_dir is None:
        raise UserError("say where to write the files with --out DIR (or print URLs with --url)")
    aws = make_context(st.settings)
    arn = discover(Provisioner(aws, st.settings)).require("state_machine_arn")
    results = sample_results(aws.client("stepfunctions"), arn, sample)
    s3 = aws.client("s3")
    if url:
        rows = presigned_urls(s3, results, expires)
        if as_json:
            emit_json({"sample": results.sample, "execution": results.execution, "files": rows})
        else:
            for row in rows:
                sys.stdout.write(f"{row['name']}\t{row['url']}\n")
        return
    assert out_dir is not None
    err.print(
        f"{results.sample}: results of execution {results.execution} (run {results.run_id}) "
        f"-> {out_dir}"
    )
    done = _download(s3, results, out_dir, workers, part_size_mib << 20, overwrite, as_json)
    if as_json:
        emit_json(
            {
                "sample": results.sample,
                "execution": results.execution,
                "run_id": results.run_id,
                "files": [
                    {"name": f.name, "uri": f.uri, **r.as_dict()}
                    for f, r in zip(results.files, done, strict=True)
                ],
            }
        )
        return
    rows = []
    for f, r in zip(results.files, done, strict=True):
        verified, how = download_row(r)
        rows.append(
            [str(r.dest), f.name, f"{r.bytes_total:,}", f"{r.bytes_fetched:,}", verified, how]
        )
    table(None, ["file", "output", "bytes", "fetched", "verified by", "status"], rows)


def _download(
    s3: Any,
    results: Any,
    out_dir: Path,
    workers: int,
    part_size: int,
    overwrite: bool,
    quiet: bool,
) -> list[Any]:
    from omics_toolkit.pipeline.results import download_results

    with download_progress(quiet) as start, resumable(out_dir):
        return download_results(
            s3,
            results,
            out_dir,
            workers=workers,
            part_size=part_size,
            overwrite=overwrite,
            progress=lambda item, size: start(item.filename, size),
        )
