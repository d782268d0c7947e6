"""``omics-toolkit report``: one sample's variant summary and figures as a self-contained HTML page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from omics_toolkit.cli.common import emit_json, err, out, state


def report(
    ctx: typer.Context,
    sample: Annotated[str, typer.Option("--sample", "-s", help="Sample id (sampleid column).")],
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML file to write (default report-<sample>.html)."),
    ] = None,
) -> None:
    """Write summary statistics and plots of one sample's variants as one offline HTML page.

    Every number comes from Athena SQL (queries/sample_summary.sql, queries/report/*.sql); the
    ploidy asked for comes from the sample's HealthOmics run (else the ploidy setting).
    """
    from omics_toolkit.aws.session import make_context
    from omics_toolkit.report import athena_runner, collect, render_html, run_ploidy

    st = state(ctx)
    settings = st.settings
    aws = make_context(settings)
    data = collect(
        sample,
        athena_runner(aws, settings),
        deployment=settings.deployment,
        variant_backend=settings.variant_backend,
        ploidy=run_ploidy(aws, settings, sample),
    )
    path = out_path or Path(f"report-{re.sub(r'[^A-Za-z0-9._-]', '_', sample)}.html")
    path.write_text(render_html(data), encoding="utf-8")
    if st.json_output:
        emit_json({"sample": sample, "path": str(path), "variants": data.summary.variants})
        return
    err.print(f"report of {sample} ({data.summary.variants:,} variants) written")
    out.print(str(path), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(report)
