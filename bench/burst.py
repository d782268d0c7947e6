"""A burst of FASTQ pairs uploaded at once through the whole local pipeline.

Usage: ``.venv/bin/python bench/burst.py [PAIRS]`` (default 100; starts its own local stack in a
temp home). Every pair is a ~200-read-pair slice of the demo reads (the point is orchestration:
S3 events, Lambdas, Step Functions, imports and miniwdl runs), uploaded by 16 threads with mates in
random order. Reports the wall time from the first upload to the last execution's end, how many
executions and runs exist per pair (must be exactly one each) and their statuses, and as a
baseline one pair alone through the same deployment: the burst's wall time is given as a ratio
of PAIRS x that single pair's time. Writes ``bench/results/burst.json`` and prints a table.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from omics_toolkit.aws.session import local_context
from omics_toolkit.aws.stepfunctions import list_executions
from omics_toolkit.config import Settings
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.local.stack import lifecycle
from omics_toolkit.pipeline.status import describe
from omics_toolkit.provisioning.provision import Provisioner

RESULTS = Path(__file__).resolve().parent / "results"


def _slice(path: Path, records: int = 200) -> bytes:
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    return gzip.compress(b"".join(lines[: records * 4]))


def _wait(sfn: Any, sm: str, prefix: str, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        items = [e for e in list_executions(sfn, sm) if e["name"].startswith(prefix)]
        done = len(items) >= count and all(e["status"] != "RUNNING" for e in items)
        if done or time.monotonic() > deadline:
            return items
        time.sleep(2)


def burst(ctx: Any, bucket: str, sm: str, prefix: str, count: int, r1: bytes, r2: bytes) -> dict:
    """Upload ``count`` pairs at once; wait for their executions; return the figures."""
    s3, sfn, omics = ctx.client("s3"), ctx.client("stepfunctions"), ctx.client("omics")
    samples = [f"{prefix}{i:03d}" for i in range(count)]
    uploads = [(f"burst/{s}_R{m}.fastq.gz", r1 if m == 1 else r2) for s in samples for m in (1, 2)]
    random.Random(7).shuffle(uploads)
    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), uploads))
    uploaded = time.perf_counter() - start
    items = _wait(sfn, sm, prefix, count, timeout=3600)
    seconds = time.perf_counter() - start
    names = [e["name"] for e in items]
    runs = [r["name"] for p in omics.get_paginator("list_runs").paginate() for r in p["items"]]
    per_sample = Counter(n.rsplit("-", 1)[0] for n in names)
    failed = [describe(sfn, e["executionArn"]) for e in items if e["status"] != "SUCCEEDED"]
    return {
        "pairs": count,
        "upload_seconds": round(uploaded, 1),
        "wall_seconds": round(seconds, 1),
        "executions": len(names),
        "samples_with_one_execution": sum(1 for s in samples if per_sample[s] == 1),
        "runs": sum(1 for r in runs if r.startswith(prefix)),
        "statuses": dict(Counter(e["status"] for e in items)),
        "failures": [
            {"execution": f.name, "step": f.step, "error": f.error, "cause": f.cause}
            for f in failed[:10]
        ],
    }


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    demo = fetch_demo_data()
    with tempfile.TemporaryDirectory() as home:
        r1_path, r2_path = bam_to_fastq_pair(demo.bam, Path(home) / "reads", "reads")
        r1, r2 = _slice(r1_path), _slice(r2_path)
        local_dir = Path(home) / "local"
        record = lifecycle.start(local_dir)
        try:
            ctx = local_context(record["moto"], record["omics"])
            settings = Settings(
                deployment="burst",
                home=Path(home),
                poll_interval_seconds=1,
                max_poll_interval_seconds=4,
            )
            dep = Provisioner(ctx, settings).apply(str(demo.reference))
            bucket, sm = dep.names.input_bucket, dep.require("state_machine_arn")
            single = burst(ctx, bucket, sm, "SINGLE", 1, r1, r2)
            many = burst(ctx, bucket, sm, "BURST", count, r1, r2)
        finally:
            lifecycle.stop(local_dir)
    many["ratio_to_pairs_times_single"] = round(
        many["wall_seconds"] / (count * single["wall_seconds"]), 3
    )
    result = {"single": single, "burst": many, "cpus": __import__("os").cpu_count()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "burst.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| run | pairs | wall s | executions | runs | statuses |")
    print("|---|---|---|---|---|---|")
    for name, row in (("single", single), ("burst", many)):
        print(
            f"| {name} | {row['pairs']} | {row['wall_seconds']} | {row['executions']} | "
            f"{row['runs']} | {row['statuses']} |"
        )
    print(f"burst / ({count} x single) = {many['ratio_to_pairs_times_single']}")
    for f in many["failures"]:
        print(f)
    ok = many["samples_with_one_execution"] == count and many["statuses"] == {"SUCCEEDED": count}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
