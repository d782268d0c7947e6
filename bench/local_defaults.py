"""Where a demo-size sample's time goes on the local stack, with the old and the new poll defaults.

Usage: ``.venv/bin/python bench/local_defaults.py`` (about 5 minutes on 2 CPUs, most of it the
old defaults' waits). Needs ``bwa samtools bcftools tabix``. Starts its own local stack in a
temporary ``OMICS_TOOLKIT_HOME`` and stops it at the end.

Input: the demo's sample (omics_toolkit/demo.py: Debian freebayes' GIAB NA12878 slice, 1,633
read pairs on 12,356 bp of chr22). Two deployments on one stack, each provisioned with the demo
reference: ``old`` with ``poll_interval_seconds=60``, ``max_poll_interval_seconds=600`` (the
defaults before issue 16, which the local target also used) and ``new`` with the settings as
resolved with nothing configured (:data:`omics_toolkit.config.TARGET_DEFAULTS` for ``local``).

Measured per deployment, from the start of ``upload_pair`` to the execution SUCCEEDED:

- ``upload``: the two PutObject calls (and HeadObject / ListExecutions);
- ``trigger``: upload end to the execution's start (S3 notification, pair-detector Lambda in a
  child process: its interpreter start and imports);
- from the execution history, the time spent in each state type: ``Wait`` (the poll waits),
  ``Task`` split into Lambda invocations and HealthOmics API calls (``aws-sdk:omics``), and
  ``Pass``/``Choice``/``Map``/``Parallel`` bookkeeping; the number of polls (``Get*`` task states);
- the HealthOmics run: start to stop and each task's seconds (miniwdl + bwa/samtools/bcftools).

Writes ``bench/results/local_defaults.json`` and ``.md``. Exit 1 when an execution does not
succeed; nothing timed is asserted anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
OLD = {"poll_interval_seconds": 60, "max_poll_interval_seconds": 600}


def state_times(events: list[dict[str, Any]], definition: dict[str, Any]) -> dict[str, Any]:
    """Seconds spent per state type (entered -> exited of each state), and the number of polls."""
    resources: dict[str, str] = {}

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            resources[name] = state.get("Resource", state["Type"])
            for branch in state.get("Branches", []):
                walk(branch["States"])
            inner = state.get("ItemProcessor") or state.get("Iterator")
            if inner:
                walk(inner["States"])

    walk(definition["States"])
    open_at: dict[str, list[Any]] = defaultdict(list)
    spent: dict[str, float] = defaultdict(float)
    polls = 0
    for e in events:
        entered, exited = e.get("stateEnteredEventDetails"), e.get("stateExitedEventDetails")
        if entered:
            open_at[entered["name"]].append(e["timestamp"])
        elif exited and open_at[exited["name"]]:
            name = exited["name"]
            seconds = (e["timestamp"] - open_at[name].pop()).total_seconds()
            resource = resources.get(name, "?")
            if resource.startswith("arn:aws:states:::lambda") or ":lambda:" in resource:
                kind = "Task: Lambda"
            elif ":aws-sdk:omics:" in resource:
                kind = "Task: HealthOmics API"
                polls += name.startswith("Get")
            elif resource.startswith("arn:"):
                kind = "Task: other AWS API"
            else:
                kind = resource  # Wait, Pass, Choice, Map, Parallel, ...
            spent[kind] += seconds
    return {"seconds_by_state_type": {k: round(v, 2) for k, v in spent.items()}, "polls": polls}


def one(ctx: Any, home: Path, name: str, overrides: dict[str, int], demo: Any) -> dict[str, Any]:
    from omics_toolkit.config import resolve_settings
    from omics_toolkit.data import bam_to_fastq_pair
    from omics_toolkit.pipeline.status import history, wait_for_execution
    from omics_toolkit.pipeline.upload import upload_pair
    from omics_toolkit.provisioning.provision import Provisioner

    settings, sources = resolve_settings(deployment=name, **overrides)
    t = time.perf_counter()
    dep = Provisioner(ctx, settings).apply(str(demo.reference))
    provision_s = time.perf_counter() - t
    r1, r2 = bam_to_fastq_pair(demo.bam, home / name, "NA12878")
    sfn = ctx.client("stepfunctions")
    arn_sm = dep.require("state_machine_arn")
    start = time.perf_counter()
    up = upload_pair(
        ctx.client("s3"), dep.names.input_bucket, r1, r2, sfn=sfn, state_machine_arn=arn_sm
    )
    upload_end = time.perf_counter()
    uploaded_at = dt.datetime.now(dt.UTC)
    arn = arn_sm.replace(":stateMachine:", ":execution:") + ":" + up["execution_name"]
    while True:
        try:
            desc = sfn.describe_execution(executionArn=arn)
            break
        except sfn.exceptions.ExecutionDoesNotExist:
            time.sleep(0.1)
    status = wait_for_execution(sfn, arn, poll_seconds=0.2, timeout_seconds=1800)
    total = time.perf_counter() - start
    desc = sfn.describe_execution(executionArn=arn)
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn_sm)["definition"])
    out: dict[str, Any] = {
        "settings": {k: getattr(settings, k) for k in OLD},
        "sources": {k: sources[k] for k in OLD},
        "provision_seconds": round(provision_s, 2),
        "status": status.status,
        "upload_to_succeeded_seconds": round(total, 2),
        "upload_seconds": round(upload_end - start, 2),
        "trigger_seconds": round((desc["startDate"] - uploaded_at).total_seconds(), 2),
        "execution_seconds": round((desc["stopDate"] - desc["startDate"]).total_seconds(), 2),
        **state_times(history(sfn, arn), definition),
    }
    run_id = (json.loads(desc.get("output") or "{}").get("run") or {}).get("Id")
    if run_id:
        omics = ctx.client("omics")
        run = omics.get_run(id=run_id)
        out["run_start_to_stop"] = round((run["stopTime"] - run["startTime"]).total_seconds(), 2)
        tasks = [
            t for p in omics.get_paginator("list_run_tasks").paginate(id=run_id) for t in p["items"]
        ]
        out["run_tasks"] = {
            t["name"]: round((t["stopTime"] - t["startTime"]).total_seconds(), 2)
            for t in sorted(tasks, key=lambda t: str(t.get("startTime")))
            if t.get("startTime") and t.get("stopTime")
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    rows = result["runs"]
    kinds = sorted({k for r in rows.values() for k in r["seconds_by_state_type"]})
    lines = [
        "# Demo-size sample on the local stack: old vs new poll defaults",
        "",
        f"Date {result['date']}; {result['cpus']} CPUs. Upload start to execution SUCCEEDED, one "
        "run each, same stack. State-type seconds overlap where states run in parallel "
        "(Map, Parallel contain their inner states).",
        "",
        "| | " + " | ".join(rows) + " |",
        "|---|" + "---|" * len(rows),
    ]

    def row(label: str, key: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(str(key(r)) for r in rows.values()) + " |")

    row(
        "poll / max poll s",
        lambda r: (
            f"{r['settings']['poll_interval_seconds']} / "
            f"{r['settings']['max_poll_interval_seconds']} ({r['sources']['poll_interval_seconds']})"
        ),
    )
    row("**upload to SUCCEEDED s**", lambda r: f"**{r['upload_to_succeeded_seconds']}**")
    row("upload s", lambda r: r["upload_seconds"])
    row("trigger (S3 event + pair detector) s", lambda r: r["trigger_seconds"])
    row("execution s", lambda r: r["execution_seconds"])
    for kind in kinds:
        row(f"in {kind} s", lambda r, k=kind: r["seconds_by_state_type"].get(k, 0))
    row("status polls", lambda r: r["polls"])
    row("HealthOmics run start to stop s", lambda r: r.get("run_start_to_stop"))
    row("run tasks s", lambda r: ", ".join(f"{k} {v}" for k, v in r.get("run_tasks", {}).items()))
    return "\n".join(lines) + "\n"


def main() -> int:
    from omics_toolkit import data
    from omics_toolkit.aws.session import local_context
    from omics_toolkit.local.stack import lifecycle

    data.require_tools("bwa", "samtools", "bcftools", "tabix")
    demo = data.fetch_demo_data()
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-defaults-") as name:
        home = Path(name)
        os.environ["OMICS_TOOLKIT_HOME"] = str(home)
        for var in ("POLL_INTERVAL_SECONDS", "MAX_POLL_INTERVAL_SECONDS", "TARGET"):
            os.environ.pop(f"OMICS_TOOLKIT_{var}", None)
        os.chdir(home)  # no omics-toolkit.toml of the caller's
        record = lifecycle.start(home / "local")
        try:
            ctx = local_context(record["moto"], record["omics"])
            result["runs"]["new defaults"] = one(ctx, home, "bdef-new", {}, demo)
            result["runs"]["old defaults (60/600)"] = one(ctx, home, "bdef-old", OLD, demo)
        finally:
            lifecycle.stop(home / "local")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "local_defaults.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    text = markdown(result)
    (RESULTS / "local_defaults.md").write_text(text)
    print(text)
    return 0 if all(r["status"] == "SUCCEEDED" for r in result["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
