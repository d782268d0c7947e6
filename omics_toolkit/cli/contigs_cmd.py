"""`omics-toolkit contigs`: the deployment's contig names, as imported and as in the user's FASTA."""

from __future__ import annotations

import typer

from omics_toolkit.cli.common import emit_json, out, state, table


def contigs(ctx: typer.Context) -> None:
    """Show the contigs renamed by --rename-contigs: the name in results, and the original.

    Results (VCFs, the variants table, reports) use the renamed names; this is the way back to
    the names of the FASTA you gave. Reads s3://<output bucket>/reference/contig-names.tsv.
    """
    from omics_toolkit.aws.session import make_context
    from omics_toolkit.identity import Names
    from omics_toolkit.provisioning.reference import read_contig_names

    st = state(ctx)
    aws = make_context(st.settings)
    names = Names(st.settings.deployment, aws.account_id, aws.region)
    mapping = read_contig_names(aws, names.output_bucket)
    rows = [{"contig": new, "original": old} for old, new in mapping.items()]
    if st.json_output:
        emit_json(rows)
        return
    if not rows:
        out.print(
            f"deployment {st.settings.deployment}: no contig was renamed; results use the "
            "reference's own names"
        )
        return
    table(
        f"contigs renamed in deployment {st.settings.deployment}",
        ["contig (in results)", "original (in your FASTA)"],
        [[r["contig"], r["original"]] for r in rows],
    )
