"""``omics-toolkit runs [show|retry]``: pipeline executions, their failures, and retries."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from omics_toolkit.cli.common import emit_json, out, state, table

app = typer.Typer(
    help="Pipeline executions: list (no subcommand), show one, retry a failed one.",
    invoke_without_command=True,
)


def _deployment(ctx: typer.Context) -> tuple[Any, str]:
    """(AwsContext, state machine ARN) of the selected deployment."""
    from omics_toolkit.aws.session import make_context
    from omics_toolkit.provisioning.provision import Provisioner
    from omics_toolkit.provisioning.teardown import discover

    aws = make_context(state(ctx).settings)
    dep = discover(Provisioner(aws, state(ctx).settings))
    return aws, dep.require("state_machine_arn")


@app.callback()
def runs(ctx: typer.Context) -> None:
    """List pipeline executions with their sample, current step and status (newest first)."""
    if ctx.invoked_subcommand:
        return
    from omics_toolkit.pipeline.status import list_status

    aws, sm_arn = _deployment(ctx)
    items = list_status(aws.client("stepfunctions"), sm_arn)
    if state(ctx).json_output:
        emit_json([i.as_dict() for i in items])
        return
    table(
        "pipeline executions",
        ["sample", "status", "step", "started", "execution", "cause"],
        [
            [
                i.sample,
                i.status,
                i.step,
                i.started.strftime("%Y-%m-%d %H:%M:%S"),
                i.name,
                (i.cause or "")[:120],
            ]
            for i in items
        ],
    )


@app.command()
def show(
    ctx: typer.Context,
    what: Annotated[
        str, typer.Argument(help="Execution name, or a sample (its newest execution).")
    ],
) -> None:
    """One execution: status, step, cause of failure, where the logs are, what a retry reuses."""
    from omics_toolkit.pipeline.status import describe, find_execution

    aws, sm_arn = _deployment(ctx)
    sfn = aws.client("stepfunctions")
    item = find_execution(sfn, sm_arn, what)
    status = describe(sfn, item["executionArn"], detail=True)
    if state(ctx).json_output:
        emit_json(status.as_dict())
        return
    rows = [
        ("execution", status.name),
        ("sample", status.sample),
        ("status", status.status),
        ("step", status.step),
        ("started", status.started.isoformat()),
        ("stopped", status.stopped.isoformat() if status.stopped else "-"),
        ("HealthOmics run", status.run_id or "-"),
        ("inputs", "\n".join(status.inputs)),
    ]
    if status.status != "SUCCEEDED" and status.error:
        rows += [("error", status.error), ("cause", status.cause or "")]
        rows += [("logs", "\n".join(status.logs) or "-")]
        rows += [("completed steps", ", ".join(status.completed) or "none")]
    table(None, ["", ""], [list(r) for r in rows])
    if status.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        out(f"retry once the cause is fixed: omics-toolkit runs retry {status.name}")


@app.command()
def retry(
    ctx: typer.Context,
    what: Annotated[
        str, typer.Argument(help="Execution name, or a sample (its newest execution).")
    ],
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Run every step again; reuse nothing.")
    ] = False,
) -> None:
    """Retry a failed execution, reusing the results of the steps that completed.

    The retry is named ``<execution>-r<N>``; running the command twice starts it once.
    """
    from omics_toolkit.pipeline.retry import plan_retry, start_retry

    aws, sm_arn = _deployment(ctx)
    sfn = aws.client("stepfunctions")
    plan = start_retry(
        sfn, sm_arn, plan_retry(sfn, aws.client("s3"), sm_arn, what, from_start=from_start)
    )
    if state(ctx).json_output:
        emit_json(
            {
                "failed": plan.failed,
                "execution": plan.name,
                "reused": plan.reused,
                "started": plan.started,
            }
        )
        return
    reused = ", ".join(plan.reused) or "nothing (every step runs again)"
    verb = "started" if plan.started else "already exists:"
    out(f"{plan.failed} -> {verb} {plan.name}\nreusing: {reused}\nfollow with `omics-toolkit runs`")
