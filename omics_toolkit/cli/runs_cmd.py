"""``omics-toolkit runs [show|logs|cost|timeline|retry]``: pipeline executions, their HealthOmics
runs (tasks, logs, cost, right-sizing, timeline), and retries.

``<run>`` is a HealthOmics run id, an execution name, or a sample (its newest execution). The logic
lives in :mod:`omics_toolkit.runs` and :mod:`omics_toolkit.pipeline`; these commands parse
options and render.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omics_toolkit.cli.common import emit_json, err, out, state

if TYPE_CHECKING:
    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.pipeline.status import ExecutionStatus
    from omics_toolkit.runs.insight import RunRef, RunView

app = typer.Typer(
    help="Pipeline executions and their HealthOmics runs: list (no subcommand), show one, its "
    "logs, cost and timeline; retry a failed one.",
    invoke_without_command=True,
)

RunArg = Annotated[
    str,
    typer.Argument(
        help="HealthOmics run id, execution name, or a sample (its newest execution).",
        show_default=False,
    ),
]


def _context(ctx: typer.Context) -> AwsContext:
    from omics_toolkit.aws.session import make_context

    return make_context(state(ctx).settings)


def _state_machine(ctx: typer.Context, aws: AwsContext) -> str:
    from omics_toolkit.provisioning.provision import Provisioner
    from omics_toolkit.provisioning.teardown import discover

    dep = discover(Provisioner(aws, state(ctx).settings))
    return str(dep.require("state_machine_arn"))


def _deployment(ctx: typer.Context) -> tuple[Any, str]:
    """(AwsContext, state machine ARN) of the selected deployment."""
    aws = _context(ctx)
    return aws, _state_machine(ctx, aws)


def _execution_finder(ctx: typer.Context, aws: AwsContext) -> Callable[[str], ExecutionStatus]:
    """Execution name or sample -> its status with the HealthOmics run id (deployment looked up
    only when needed)."""

    def find(what: str) -> ExecutionStatus:
        from omics_toolkit.pipeline.status import describe, find_execution

        sfn = aws.client("stepfunctions")
        item = find_execution(sfn, _state_machine(ctx, aws), what)
        return describe(sfn, item["executionArn"], detail=True)

    return find


def _resolve(ctx: typer.Context, what: str) -> tuple[AwsContext, RunRef]:
    from omics_toolkit.runs.insight import resolve_run

    aws = _context(ctx)
    return aws, resolve_run(aws.client("omics"), what, _execution_finder(ctx, aws))


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """A table on stdout whose long cells wrap (never cut: ids, reasons and types must stay
    readable at any terminal width)."""
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    out.print(t)


#: Longest cause shown in the ``runs`` table (``runs show`` shows it whole). A failed run's
#: cause starts with its task and root error, e.g. a VCF contig header line.
MAX_CAUSE_CELL = 400


def _cell(text: str | None, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with ``...``."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _clock(value: Any) -> str:
    """Time of day (the run's date is shown once, with its start)."""
    return value.strftime("%H:%M:%S") if value else "-"


def _short_note(note: str | None) -> str:
    """A table cell's note: a missing price is explained once, under the table."""
    if not note:
        return ""
    return "no price (below)" if note.startswith("no price") else note


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


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
        ["sample", "input", "status", "step", "started", "execution", "cause"],
        [
            [
                i.sample,
                i.input_kind or "-",
                i.status,
                i.step,
                i.started.strftime("%Y-%m-%d %H:%M:%S"),
                i.name,
                _cell(i.cause, MAX_CAUSE_CELL),
            ]
            for i in items
        ],
    )


def _render_run(view: RunView) -> None:
    rows = [
        ("HealthOmics run", view.run_id),
        ("name", view.name or "-"),
        ("status", view.status),
        ("workflow", view.workflow_id or "-"),
        ("started", _time(view.start)),
        ("stopped", _time(view.stop)),
        ("duration", _duration(view.duration_seconds)),
        ("storage", f"{view.storage_type or '-'} {view.storage_capacity or ''}".strip()),
        ("output", view.output_uri or "-"),
    ]
    if "ploidy" in view.parameters:
        rows += [("ploidy", str(view.parameters["ploidy"]))]
    if view.root_error:
        rows += [("root error", f"{view.root_error.task}: {view.root_error.line}")]
    if view.failure_reason:
        rows += [("failure reason", view.failure_reason)]
    if view.status_message and view.status not in ("COMPLETED",):
        rows += [("status message", view.status_message[:2000])]
    table(None, ["", ""], [list(r) for r in rows])
    table(
        f"tasks of run {view.run_id}",
        [
            "task",
            "status",
            "cpus",
            "memory GiB",
            "instance type",
            "start",
            "stop",
            "duration",
            "failure reason",
        ],
        [
            [
                t.name,
                t.status,
                t.cpus,
                t.memory_gib,
                t.instance_type or "-",
                _clock(t.start),
                _clock(t.stop),
                _duration(t.duration_seconds),
                t.failure_reason or "",
            ]
            for t in view.tasks
        ],
    )
    if view.status == "FAILED":
        out.print(
            f"logs of the failure: omics-toolkit runs logs {view.run_id}",
            highlight=False,
            markup=False,
        )


@app.command()
def show(ctx: typer.Context, run: RunArg) -> None:
    """One execution (status, step, cause of failure, logs, what a retry reuses) and its
    HealthOmics run with a table of tasks; or a HealthOmics run alone, given its id.

    ``--json``: the execution's fields plus ``run`` (the HealthOmics run with its ``tasks``);
    for a run id, ``{"run": ...}`` only.
    """
    from omics_toolkit.errors import ResourceNotFoundError, UserError
    from omics_toolkit.runs.insight import RUN_ID, resolve_run, run_view

    aws = _context(ctx)
    omics = aws.client("omics")
    status = None
    run_id = None
    if RUN_ID.match(run):
        try:
            run_id = resolve_run(omics, run).run_id
        except UserError:
            run_id = None
    if run_id is None:
        status = _execution_finder(ctx, aws)(run)
        run_id = status.run_id
    view = None
    if run_id:
        try:
            view = run_view(omics, run_id, logs=aws.client("logs"))
        except ResourceNotFoundError:
            err.print(f"[yellow]HealthOmics run {run_id} no longer exists[/yellow]")
    if state(ctx).json_output:
        shown = view.as_dict() if view else None
        emit_json({**status.as_dict(), "run": shown} if status else {"run": shown})
        return
    if status is not None:
        rows = [
            ("execution", status.name),
            ("sample", status.sample),
            ("status", status.status),
            ("step", status.step),
            ("started", status.started.isoformat()),
            ("stopped", status.stopped.isoformat() if status.stopped else "-"),
            ("HealthOmics run", status.run_id or "-"),
            ("input kind", status.input_kind or "-"),
            ("inputs", "\n".join(status.inputs)),
        ]
        if status.status != "SUCCEEDED" and status.error:
            rows += [("error", status.error), ("cause", status.cause or "")]
            rows += [("logs", "\n".join(status.logs) or "-")]
            rows += [("completed steps", ", ".join(status.completed) or "none")]
        table(None, ["", ""], [list(r) for r in rows])
    if view is not None:
        _render_run(view)
    if status is not None and status.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        out.print(f"retry once the cause is fixed: omics-toolkit runs retry {status.name}")


@app.command()
def logs(
    ctx: typer.Context,
    run: RunArg,
    task: Annotated[
        str | None, typer.Option("--task", help="A task's name or id: its log only.")
    ] = None,
    engine: Annotated[
        bool, typer.Option("--engine", help="The workflow engine's log (run/<id>/engine).")
    ] = False,
) -> None:
    """A run's CloudWatch logs: the run's log and, for a failed run, the failed tasks' logs.

    Streams of group /aws/omics/WorkflowLog: run/<id>, run/<id>/engine, run/<id>/task/<taskId>.
    """
    from omics_toolkit.runs.insight import run_logs

    aws, ref = _resolve(ctx, run)
    shown = run_logs(aws.client("omics"), aws.client("logs"), ref.run_id, task=task, engine=engine)
    if state(ctx).json_output:
        emit_json(shown.as_dict())
        return
    view = shown.run
    head = f"run {view.run_id} {view.status}"
    if view.failure_reason:
        head += f": {view.failure_reason}"
    lines = [head]
    for stream in shown.streams:
        label = stream.stream + (f" (task {stream.task_name})" if stream.task_name else "")
        lines.append(f"== {label} ==")
        if not stream.exists:
            lines.append("(no such log stream)")
        lines.extend(stream.messages)
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def cost(
    ctx: typer.Context,
    run: RunArg,
    headroom: Annotated[
        float,
        typer.Option(
            help="Fraction added to the measured maximum cpus and memory before choosing the "
            "recommended instance type (0.2 = 20 %).",
        ),
    ] = 0.2,
    prices: Annotated[
        Path | None,
        typer.Option(help="A price table file instead of the shipped one (same format)."),
    ] = None,
) -> None:
    """What a run cost at the shipped, dated HealthOmics prices, and right-sizing advice.

    Each task: max(seconds, 60) x its instance type's hourly price / 3600; run storage: STATIC
    capacity (or DYNAMIC average use) x run hours x its GB-hour price. Advice from the run
    manifest (manifest/run/<id>/<uuid>): the smallest instance type that fits each task's
    measured maximum cpus and memory plus the headroom, and the saving at the same prices.
    """
    from omics_toolkit.runs.insight import cost_report, instance_specs
    from omics_toolkit.runs.pricing import PriceTable

    aws, ref = _resolve(ctx, run)
    table_ = PriceTable.load(prices)
    report = cost_report(
        aws.client("omics"), aws.client("logs"), ref.run_id, table_, headroom=headroom
    )
    if state(ctx).json_output:
        emit_json(report.as_dict())
        return
    table(
        f"cost of run {report.run_id} ({report.status}, {report.region})",
        ["task", "status", "instance type", "seconds", "billed s", "$/hour", "USD", "note"],
        [
            [
                t.name,
                t.status,
                t.instance_type or "-",
                "-" if t.seconds is None else f"{t.seconds:.1f}",
                f"{t.billed_seconds:.0f}",
                "-" if t.usd_per_hour is None else f"{t.usd_per_hour:.4f}",
                _usd(t.usd),
                _short_note(t.note),
            ]
            for t in report.tasks
        ],
    )
    s = report.storage
    gib = (
        "-"
        if s.gib is None
        else (f"{s.gib:.2f} GiB" if s.gib >= 0.1 else f"{s.gib * 1024:.2f} MiB")
    )
    out.print(
        f"run storage {s.storage_type or '-'}: {gib} ({s.basis}) for "
        f"{_duration(s.seconds)} at "
        f"{'-' if s.usd_per_gb_hour is None else f'${s.usd_per_gb_hour:.7f}'}/GB-hour = "
        f"{_usd(s.usd)}" + (f"  [{s.note}]" if s.note else ""),
        highlight=False,
        markup=False,
    )
    total = f"total {_usd(report.total_usd)} (compute {_usd(report.compute_usd)})"
    if not report.complete:
        total += "  INCOMPLETE: items without a price are left out"
    out.print(total, highlight=False, markup=False)
    for line in report.missing + report.notes:
        out.print(f"  {line}", highlight=False, markup=False)
    if report.advice:
        table(
            f"right-sizing (measured maximum + {report.advice[0].headroom:.0%} headroom)",
            [
                "task",
                "instance type",
                "reserved cpus/GiB",
                "used max cpus/GiB",
                "request cpus/GiB",
                "recommended",
                "USD now",
                "USD then",
                "saving",
                "note",
            ],
            [
                [
                    a.name,
                    a.instance_type or "-",
                    f"{a.reserved_cpus:g}/{a.reserved_memory_gib:g}"
                    if a.reserved_cpus is not None and a.reserved_memory_gib is not None
                    else "-",
                    f"{a.used_cpus:.2f}/{a.used_memory_gib:.2f}",
                    f"{a.request_cpus}/{a.request_memory_gib}",
                    f"{a.recommended or '-'} ({instance_specs(a.recommended)})",
                    _usd(a.usd_now),
                    _usd(a.usd_recommended),
                    _usd(a.saving_usd),
                    _short_note(a.note),
                ]
                for a in report.advice
            ],
        )
        out.print(f"possible saving {_usd(report.saving_usd)}", highlight=False, markup=False)
    out.print(f"prices: {report.prices}", highlight=False, markup=False)


@app.command()
def timeline(
    ctx: typer.Context,
    run: RunArg,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", help="PNG or SVG file to write (default run-<id>-timeline.png here)."
        ),
    ] = None,
) -> None:
    """A Gantt chart of a run's tasks: one bar per task from start to stop, coloured by status,
    on a time axis in minutes from the run's start."""
    from omics_toolkit.runs.insight import run_view
    from omics_toolkit.runs.timeline import default_path, plot_timeline

    aws, ref = _resolve(ctx, run)
    view = run_view(aws.client("omics"), ref.run_id, task_details="none")
    drawn = plot_timeline(view, out_file or default_path(ref.run_id))
    if state(ctx).json_output:
        emit_json(drawn.as_dict())
        return
    note = f", {len(drawn.skipped)} never started" if drawn.skipped else ""
    out.print(f"wrote {drawn.path} ({len(drawn.bars)} tasks{note})", highlight=False, markup=False)


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
    out.print(
        f"{plan.failed} -> {verb} {plan.name}\nreusing: {reused}\nfollow with `omics-toolkit runs`"
    )
