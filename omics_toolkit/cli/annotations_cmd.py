"""``omics-toolkit annotations import|list``: annotation sets as tables ``annotations_<name>``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omics_toolkit.cli.common import emit_json, err, out, state, table

app = typer.Typer(
    help="Annotation sets (ClinVar VCF, GFF3, gene TSV) queryable as annotations_<name>.",
    no_args_is_help=True,
)


@app.command("import")
def import_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Set name; the table is annotations_<name>.")],
    file: Annotated[
        Path,
        typer.Argument(help="VCF (.vcf[.gz]), GFF3 (.gff3[.gz]) or gene TSV (.tsv/.txt[.gz])."),
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="vcf, gff3 or tsv (default: from the name).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Import FILE as annotation set NAME, replacing its rows; contigs renamed to the variants'."""
    from omics_toolkit.annotations import import_annotations
    from omics_toolkit.aws.session import make_context

    settings = state(ctx).settings
    err.print(f"importing {file} as annotations_{name} ...")
    result = import_annotations(make_context(settings), settings, name, file, fmt)
    if json_output or state(ctx).json_output:
        emit_json(result.to_dict())
        return
    renamed = ", ".join(f"{a}->{b}" for a, b in list(result.contigs_renamed.items())[:6])
    more = len(result.contigs_renamed) - 6
    table(
        f"annotations_{result.name}",
        ["field", "value"],
        [
            ["backend", result.backend],
            ["format", result.format],
            ["rows", result.rows],
            ["location", result.location],
            ["changed", "yes" if result.changed else "no (same content already imported)"],
            [
                "contigs renamed",
                f"{len(result.contigs_renamed)} of {result.contigs}"
                + (f" ({renamed}{', ...' if more > 0 else ''})" if renamed else ""),
            ],
            [
                "contigs unmatched",
                f"{len(result.contigs_unmatched)}"
                + (
                    " (variants is empty: names kept)"
                    if not result.target_contigs
                    else f" ({', '.join(result.contigs_unmatched[:8])})"
                    if result.contigs_unmatched
                    else ""
                ),
            ],
        ],
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """The deployment's annotation sets: table, rows, source file, import time."""
    from omics_toolkit.annotations import list_annotations
    from omics_toolkit.aws.session import make_context

    settings = state(ctx).settings
    sets = list_annotations(make_context(settings), settings)
    if json_output or state(ctx).json_output:
        emit_json([s.to_dict() for s in sets])
        return
    if not sets:
        out.print("no annotation sets; add one with `omics-toolkit annotations import NAME FILE`")
        return
    table(
        "annotation sets",
        ["name", "table", "rows", "source", "imported", "backend", "location"],
        [[s.name, s.table, s.rows, s.source, s.imported_at, s.backend, s.location] for s in sets],
    )
