"""Top-level commands: plan, provision, teardown, upload, query, demo, doctor (runs: runs_cmd)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from omics_toolkit.cli.common import emit_json, err, out, print_action, state, table
from omics_toolkit.errors import UserError


def _context(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from omics_toolkit.aws.session import make_context

    return make_context(state(ctx).settings)


def _summary(actions: list[Any]) -> str:
    counts: dict[str, int] = {}
    for a in actions:
        counts[a.action] = counts.get(a.action, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def _override(ctx: typer.Context, **flags: Any) -> Any:
    """Apply the command's setting flags (``None``: not given) over the resolved settings."""
    from omics_toolkit.config import check_settings

    st = state(ctx)
    given = {k: v for k, v in flags.items() if v is not None}
    if given:
        st.settings = st.settings.with_overrides(**given)
        st.sources.update({k: "flag" for k in given})
        check_settings(st.settings, st.sources)
    return st


def _prepared(
    ctx: typer.Context, settings: Any, reference: str | None, rename: str | None, *, write: bool
) -> Any:
    """The checked (and, with ``--rename-contigs``, renamed) reference; notes go to stderr.

    A local FASTA is checked before any AWS client is made (so a bad file fails even with the
    local stack stopped or no credentials); an ``s3://`` one is read through S3.
    """
    from omics_toolkit.provisioning.reference import prepare_reference

    if reference is None:
        if rename:
            raise UserError("--rename-contigs needs --reference FASTA (the file to rename)")
        return None
    aws = _context(ctx) if reference.startswith("s3://") else None
    prepared = prepare_reference(aws, settings, reference, rename, write=write)
    for warning in prepared.check.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    if prepared.contig_names:
        verb = "imports" if write else "would import"
        err.print(
            f"{len(prepared.contig_names)} contig(s) renamed; provision {verb} {prepared.source} "
            "(see `omics-toolkit contigs`)",
            soft_wrap=True,
        )
    return prepared


#: ``--rename-contigs`` of plan and provision.
RenameContigs = Annotated[
    str | None,
    typer.Option(
        "--rename-contigs",
        help="Rename sequences whose names SAM/VCF forbid: 'auto' (NCBI gi|..|ref|ACC|.. -> "
        "ACC, else '_' for each forbidden character) or a two-column TSV (original, new). "
        "A renamed copy is imported; your file is not changed.",
    ),
]


def plan(
    ctx: typer.Context,
    reference: Annotated[
        str | None,
        typer.Option(help="Reference FASTA (file or s3:// URI) that provision would import."),
    ] = None,
    rename_contigs: RenameContigs = None,
    destroy: Annotated[
        bool, typer.Option("--destroy", help="Show what teardown would delete instead.")
    ] = False,
    force_delete_data: Annotated[
        bool,
        typer.Option(
            help="With --destroy: show what `teardown --force-delete-data` would delete "
            "(buckets and stores that still hold data too)."
        ),
    ] = False,
    workflow: Annotated[
        str | None,
        typer.Option(help="Workflow the pipeline would run: bcftools-germline or gatk-germline."),
    ] = None,
    known_sites: Annotated[
        list[str] | None,
        typer.Option("--known-sites", help="Known-sites VCF for gatk-germline; repeatable."),
    ] = None,
) -> None:
    """Show what provision (or teardown with --destroy) would do, without changing anything.

    Every resource is listed as create / update (with the differing fields) / unchanged /
    delete / kept / skipped. Only read calls are made. Other run options come from the config
    file or ``OMICS_TOOLKIT_*`` variables.
    """
    from omics_toolkit.provisioning.plan import plan as make_plan

    if force_delete_data and not destroy:
        raise UserError(
            "--force-delete-data goes with --destroy (plan --destroy --force-delete-data)"
        )
    if destroy and (reference or rename_contigs):
        raise UserError(
            "--reference and --rename-contigs mean nothing with --destroy (teardown imports "
            "nothing): drop them"
        )
    st = _override(ctx, workflow=workflow, known_sites=tuple(known_sites) if known_sites else None)
    prepared = (
        None if destroy else _prepared(ctx, st.settings, reference, rename_contigs, write=False)
    )
    actions = make_plan(
        _context(ctx),
        st.settings,
        prepared,
        destroy=destroy,
        force_delete_data=force_delete_data,
        report=None if st.json_output else print_action,
    )
    if st.json_output:
        emit_json([a.__dict__ for a in actions])
        return
    out.print(f"plan for deployment {st.settings.deployment}: {_summary(actions)}")


def provision(
    ctx: typer.Context,
    reference: Annotated[
        str | None,
        typer.Option(help="Reference FASTA (file or s3:// URI) for the reference store."),
    ] = None,
    rename_contigs: RenameContigs = None,
    workflow: Annotated[
        str | None,
        typer.Option(help="Workflow the pipeline runs: bcftools-germline or gatk-germline."),
    ] = None,
    known_sites: Annotated[
        list[str] | None,
        typer.Option(
            "--known-sites",
            help="Known-sites VCF (bgzipped, .tbi beside it; file or s3:// URI) for GATK base "
            "recalibration; repeat for each.",
        ),
    ] = None,
    ploidy: Annotated[
        int | None,
        typer.Option(
            help="Copies of every contig in a sample: 2 (diploid, default), 1 (haploid: viruses, "
            "bacteria), up to 8 (polyploid, gatk-germline only).",
            show_default=False,
        ),
    ] = None,
    storage_type: Annotated[
        str | None, typer.Option(help="Run storage: DYNAMIC or STATIC.")
    ] = None,
    storage_capacity_gib: Annotated[
        int | None, typer.Option(help="STATIC run storage, GiB (rounded up to 1200s).")
    ] = None,
    run_group_max_cpus: Annotated[
        int | None, typer.Option(help="Run group limit: vCPUs of all runs together.")
    ] = None,
    run_group_max_runs: Annotated[
        int | None, typer.Option(help="Run group limit: concurrent runs.")
    ] = None,
    run_group_max_duration_minutes: Annotated[
        int | None, typer.Option(help="Run group limit: minutes per run.")
    ] = None,
    run_group_max_gpus: Annotated[
        int | None, typer.Option(help="Run group limit: GPUs of all runs together.")
    ] = None,
    cache_behavior: Annotated[
        str | None,
        typer.Option(help="Call caching: off, CACHE_ON_FAILURE or CACHE_ALWAYS."),
    ] = None,
    retention_mode: Annotated[str | None, typer.Option(help="Runs: RETAIN or REMOVE.")] = None,
    log_level: Annotated[
        str | None, typer.Option(help="Run logs: ALL, ERROR, FATAL or OFF.")
    ] = None,
    data_lake_principal: Annotated[
        str | None,
        typer.Option(
            help="Who gets Lake Formation read access to the tables (IAM role or user ARN, with "
            "its path); default: you (an assumed role's session counts as the role)."
        ),
    ] = None,
) -> None:
    """Create or update every resource of the deployment (idempotent: a re-run changes nothing).

    The plan is computed first (read calls only), then applied with a progress display. The run
    options given here override the config file and environment for this provision.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from omics_toolkit.provisioning.plan import plan as make_plan
    from omics_toolkit.provisioning.provision import Provisioner

    st = _override(
        ctx,
        workflow=workflow,
        known_sites=tuple(known_sites) if known_sites else None,
        ploidy=ploidy,
        storage_type=storage_type,
        storage_capacity_gib=storage_capacity_gib,
        run_group_max_cpus=run_group_max_cpus,
        run_group_max_runs=run_group_max_runs,
        run_group_max_duration_minutes=run_group_max_duration_minutes,
        run_group_max_gpus=run_group_max_gpus,
        cache_behavior=cache_behavior,
        retention_mode=retention_mode,
        log_level=log_level,
        data_lake_principal=data_lake_principal,
    )
    prepared = _prepared(ctx, st.settings, reference, rename_contigs, write=True)
    aws = _context(ctx)
    err.print(
        f"provisioning deployment [bold]{st.settings.deployment}[/bold] "
        f"({st.settings.target}, {aws.region})"
    )
    total = len(make_plan(aws, st.settings, prepared))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=st.json_output,
        transient=True,
    ) as progress:
        task = progress.add_task("provisioning", total=total)

        def report(action: Any) -> None:
            progress.update(task, advance=1, description=f"{action.kind}: {action.name}")
            if not st.json_output:
                print_action(action, progress.console)

        prov = Provisioner(aws, st.settings, report=report)
        dep = prov.apply(prepared)
    if st.json_output:
        emit_json(
            {
                "actions": [a.__dict__ for a in prov.actions],
                "state_machine_arn": dep.state_machine_arn,
                "input_bucket": dep.names.input_bucket,
                "output_bucket": dep.names.output_bucket,
                "workflow_id": dep.workflow_id,
                "workflow_version": dep.workflow_version,
            }
        )
        return
    out.print(
        f"{_summary(prov.actions)}. Upload FASTQ pairs to s3://{dep.names.input_bucket}/fastq/"
    )


def teardown(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    force_delete_data: Annotated[
        bool, typer.Option(help="Also delete buckets and stores that still hold data.")
    ] = False,
) -> None:
    """Delete the deployment's resources (only those tagged with its name), dependents first.

    Shows what would be deleted and asks for confirmation unless --yes. Buckets and stores that
    hold data are kept (and reported) unless --force-delete-data.
    """
    from omics_toolkit.provisioning.plan import plan as make_plan
    from omics_toolkit.provisioning.teardown import Teardown

    st = state(ctx)
    aws = _context(ctx)
    if not yes:
        preview = make_plan(
            aws,
            st.settings,
            destroy=True,
            force_delete_data=force_delete_data,
            report=print_action,
        )
        deletions = [a for a in preview if a.action == "delete"]
        if not deletions:
            out.print(f"nothing of deployment {st.settings.deployment!r} to delete")
            return
        if not typer.confirm(
            f"Delete these {len(deletions)} resource(s) of deployment "
            f"{st.settings.deployment!r} ({st.settings.target})?"
        ):
            raise typer.Abort()
    td = Teardown(aws, st.settings, report=None if st.json_output else print_action)
    actions = td.run(force_delete_data=force_delete_data)
    kept = [a for a in actions if a.action == "kept"]
    if st.json_output:
        emit_json([a.__dict__ for a in actions])
        return
    out.print(f"{sum(a.action == 'delete' for a in actions)} deleted, {len(kept)} kept")


def upload(
    ctx: typer.Context,
    r1: Annotated[
        Path | None,
        typer.Argument(
            help="Mate 1 FASTQ (.fastq/.fq, gzip or not); or, alone, an aligned .bam (imported "
            "and called) or a bgzipped .vcf.gz (imported into the variant data)."
        ),
    ] = None,
    r2: Annotated[Path | None, typer.Argument(help="Mate 2 FASTQ.")] = None,
    sample: Annotated[
        str | None, typer.Option(help="Sample id (default: from the file names).")
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="A manifest (manifest.csv, samplesheet.csv, *.manifest.json, ...): validated, "
            "uploaded first, then the files it lists; one run per sample with all its lanes.",
        ),
    ] = None,
    folder: Annotated[
        str | None,
        typer.Option(
            help="S3 folder for --manifest and its files (default fastq/<manifest's directory>/)."
        ),
    ] = None,
) -> None:
    """Upload a FASTQ pair, an aligned BAM, a bgzipped VCF, or a manifest and its files; the
    pipeline starts when all are there."""
    from omics_toolkit.aws.stepfunctions import deployment_state_machine_arn
    from omics_toolkit.identity import Names
    from omics_toolkit.pipeline.pairs import is_fastq
    from omics_toolkit.pipeline.upload import upload_manifest, upload_pair

    st = state(ctx)
    if manifest is not None and (r1 or r2 or sample):
        raise UserError("give either a pair (R1 R2 [--sample]) or --manifest FILE, not both")
    if manifest is None and r1 is not None and r2 is None and not is_fastq(r1.name):
        from omics_toolkit.pipeline.upload import upload_file

        aws = _context(ctx)
        names = Names(st.settings.deployment, aws.account_id, aws.region)
        result = upload_file(aws.client("s3"), names.input_bucket, r1, sample)
        if st.json_output:
            emit_json(result)
        else:
            out.print(
                f"{result['uri']}: {'uploaded' if result['uploaded'] else 'identical, not uploaded'}"
                "; the run starts from it (follow with `omics-toolkit runs`)"
            )
        return
    if manifest is None and (r1 is None or r2 is None):
        raise UserError("give both mates (R1 R2), or a manifest with --manifest FILE")
    if folder is not None and manifest is None:
        raise UserError("--folder goes with --manifest")
    aws = _context(ctx)
    names = Names(st.settings.deployment, aws.account_id, aws.region)
    state_machine_arn = deployment_state_machine_arn(aws, names.state_machine)
    if manifest is None:
        assert r1 is not None and r2 is not None
        result = upload_pair(
            aws.client("s3"),
            names.input_bucket,
            r1,
            r2,
            sample,
            st.settings.pair_pattern,
            sfn=aws.client("stepfunctions"),
            state_machine_arn=state_machine_arn,
        )
        if st.json_output:
            emit_json(result)
        else:
            out.print(_pair_summary(result))
        return
    report = (
        (lambda action, uri: err.print(f"  {action:>9}  {uri}")) if not st.json_output else None
    )
    uploaded = upload_manifest(
        aws.client("s3"),
        names.input_bucket,
        manifest,
        folder=folder,
        sfn=aws.client("stepfunctions"),
        state_machine_arn=state_machine_arn,
        report=report,
    )
    if st.json_output:
        emit_json(uploaded)
        return
    out.print(
        f"manifest {uploaded['manifest']}: {len(uploaded['uploaded'])} uploaded, "
        f"{len(uploaded['unchanged'])} unchanged"
    )
    table(
        "executions (one per sample; follow with `omics-toolkit runs`)",
        ["sample", "lanes", "execution", "status", "supersedes"],
        [
            [
                e["sample"],
                ", ".join(e["lanes"]),
                e["execution_name"],
                e["status"] or "",
                ", ".join(e["supersedes"]),
            ]
            for e in uploaded["executions"]
        ],
    )


def _pair_summary(result: dict[str, Any]) -> str:
    """What ``upload R1 R2`` did, in words: uploaded or identical, and the execution's state."""
    run = result["execution"]
    sample = result["sample"]
    if not result["uploaded"]:
        where = f"{result['r1']} and {result['r2']}"
        if run["status"] == "SUCCEEDED":
            what = f"already SUCCEEDED at {run['stop_date']}; execution {run['name']}"
            todo = ""
        elif run["status"] == "RUNNING":
            what = f"RUNNING since {run['start_date']}; execution {run['name']}"
            todo = "\nfollow with `omics-toolkit runs`"
        else:
            what = f"{run['status']} at {run['stop_date']}; execution {run['name']}"
            todo = (
                f"\nsee why with `omics-toolkit runs show {run['name']}`; once fixed, "
                f"`omics-toolkit runs retry {run['name']}` (to run these files again as they are)"
            )
        return f"{sample}: identical to {where} ({what}); nothing uploaded{todo}"
    lines = [f"uploaded {uri}" for uri in result["uploaded"]]
    lines += [f"unchanged {uri} (identical; not uploaded again)" for uri in result["unchanged"]]
    if run is not None:
        lines.append(
            f"{sample}: this content already ran: execution {run['name']} {run['status']}; "
            "nothing new starts (follow with `omics-toolkit runs`)"
        )
    else:
        lines.append(f"execution: {result['execution_name']} (follow with `omics-toolkit runs`)")
    return "\n".join(lines)


def query(
    ctx: typer.Context,
    sql: Annotated[str | None, typer.Argument(help="SQL (Athena engine v3 dialect).")] = None,
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="queries/<name>.sql or a path.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value for :name placeholders.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Run SQL through Athena against the deployment's variant data."""
    from omics_toolkit.athena import bind_named, load_query, run_query

    st = state(ctx)
    if (sql is None) == (file is None):
        raise UserError("give either SQL text or --file NAME")
    values = {}
    for item in param or []:
        if "=" not in item:
            raise UserError(f"--param {item!r} must be name=value")
        key, value = item.split("=", 1)
        values[key] = value
    if file:
        qf = load_query(file)
        text, params = bind_named(qf.sql, values, qf.params)
    else:
        text, params = bind_named(sql or "", values)
    df = run_query(_context(ctx), st.settings, text, params)
    if st.json_output or fmt == "json":
        out.file.write(df.to_json(orient="records", indent=2, default_handler=str) + "\n")
    elif fmt == "csv":
        out.file.write(df.to_csv(index=False))
    elif fmt == "table":
        table(None, [str(c) for c in df.columns], df.astype(object).values.tolist())
        err.print(f"{len(df)} row(s)")
    else:
        raise UserError(f"--format must be table, csv or json, not {fmt!r}")


def demo(ctx: typer.Context) -> None:
    """Run the whole pipeline on real NA12878 reads on the local stack and check it against GIAB.

    Every GIAB truth record must be called with the same CHROM, POS, REF, ALT and GT; otherwise
    each missing or differing record is printed and the command exits 1.
    """
    from omics_toolkit.demo import run_demo

    st = state(ctx)
    result = run_demo(
        st.settings,
        on_phase=lambda name: err.print(f"[bold cyan]==> {name}[/bold cyan]"),
        on_action=print_action,
        on_step=lambda s: err.print(f"  pipeline {s.name}: {s.status} at {s.step}"),
    )
    found, total = len(result.found), len(result.checks)
    failed = [c.describe() for c in result.failed]
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    if st.json_output:
        emit_json(
            {
                "found": found,
                "total": total,
                "failed": failed,
                "truth": [c.to_dict() for c in result.checks],
                "variants": len(result.variants),
                "seconds": result.seconds,
            }
        )
    else:
        err.print(f"[dim]{timing}[/dim]")
        out.print(f"{len(result.variants)} variant(s) of NA12878 queried through Athena.")
        for line in failed:
            out.print(f"  {line}", markup=False, highlight=False)
        out.print(
            f"GIAB truth SNVs matched (CHROM, POS, REF, ALT, GT): [bold]{found}/{total}[/bold]"
        )
        err.print(
            "The local stack keeps running: try `omics-toolkit runs` or `omics-toolkit query --file "
            "sample_summary`; stop it with `omics-toolkit local stop`."
        )
    if failed:
        raise UserError(
            f"{len(failed)} of {total} GIAB truth record(s) not matched: {'; '.join(failed)}"
        )


def doctor(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option(
            help="Check an account instead of this machine: 'aws' (the profile and region "
            "settings) or 'local' (the running local stack); read-only calls only."
        ),
    ] = None,
) -> None:
    """Check this machine (or, with --target, an account) for what the toolkit needs.

    Without --target: tools, Python packages, installed versions against the lock, the moto
    release and internals the local stack supports. With --target aws|local: region support,
    variant stores, Lake Formation, RAM invitations, the caller's permissions for provision and
    the service quotas a pipeline hits, each with its fix; nothing is created or changed. Exit
    status 1 when something must be fixed.
    """
    st = state(ctx)
    if target is not None:
        _doctor_account(ctx, target)
        return
    from omics_toolkit.doctor import run_checks

    checks = run_checks(st.settings.local_dir)
    if st.json_output:
        emit_json([c.as_dict() for c in checks])
    else:
        rows = [[c.check, c.result, c.fix or ""] for c in checks]
        table("omics-toolkit doctor", ["check", "result", "fix"], rows)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def _doctor_account(ctx: typer.Context, target: str) -> None:
    from omics_toolkit.account_checks import run_account_checks

    st = _override(ctx, target=target)
    checks = run_account_checks(_context(ctx), st.settings)
    if st.json_output:
        emit_json([c.as_dict() for c in checks])
    else:
        rows = [[c.name, c.status, c.detail, c.fix] for c in checks]
        table(f"omics-toolkit doctor --target {target}", ["check", "status", "detail", "fix"], rows)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    for command in (plan, provision, teardown, upload, query, demo, doctor):
        app.command()(command)
