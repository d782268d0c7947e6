"""Bytes and time of one region view by range requests, against reading the whole file.

Usage::

    .venv/bin/python bench/region_view.py BAM BAI REGION [REPEATS]

BAM and BAI are local paths or ``s3://bucket/key`` URIs (read with the S3 client of the
process environment: ``AWS_ENDPOINT_URL`` etc., so the local stack or a read set's access point
both work). REGION is ``contig:start-end``, 1-based inclusive like samtools.

Measured (REPEATS times, default 3; median reported):

1. :func:`omics_toolkit.reads.view.fetch_region` (SAM lines): bytes read (index + header +
   data), range requests, wall time.
2. Baseline: the whole BAM read (the download, for S3; a plain read, for a local file) plus
   ``samtools view BAM REGION`` on the local copy: bytes = the file size, wall time of both.

Correctness check: the SAM lines of 1 equal samtools' (exit 1 otherwise). Writes
``bench/results/region_view.json`` and prints a markdown table. A skeleton: the lead points it
at the chr20 1 Mb 30x read set.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from omics_toolkit.reads.ranged import LocalObject, RangedObject, S3Object
from omics_toolkit.reads.regions import parse_region
from omics_toolkit.reads.view import fetch_region

RESULTS = Path(__file__).parent / "results"


def open_object(location: str) -> RangedObject:
    if location.startswith("s3://"):
        from omics_toolkit.aws.session import environment_context

        return S3Object.from_uri(environment_context().client("s3"), location)
    return LocalObject(location)


def whole_file(obj: RangedObject, dest: Path) -> float:
    """Read the whole object into ``dest`` in 8 MiB pieces; seconds."""
    started = time.perf_counter()
    with dest.open("wb") as out:
        for start in range(0, obj.size, 8 << 20):
            out.write(obj.read(start, start + (8 << 20)))
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    bam, bai, region_text = argv[:3]
    repeats = int(argv[3]) if len(argv) > 3 else 3
    region = parse_region(region_text)
    runs: list[dict[str, Any]] = []
    base_runs: list[dict[str, float]] = []
    ok = True
    for _ in range(repeats):
        data, index = open_object(bam), open_object(bai)
        out = io.BytesIO()
        started = time.perf_counter()
        fetched = fetch_region(data, index, region, "sam", out)
        seconds = time.perf_counter() - started
        runs.append(
            {
                "seconds": seconds,
                "bytes_read": fetched.bytes_read,
                "requests": fetched.requests,
                "records": fetched.records,
                "file_size": fetched.file_size,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "whole.bam"
            download = whole_file(open_object(bam), local)
            subprocess.run(["samtools", "index", str(local)], check=True)
            started = time.perf_counter()
            view = subprocess.run(
                ["samtools", "view", str(local), region.samtools()], capture_output=True, check=True
            )
            samtools_seconds = time.perf_counter() - started
            base_runs.append({"download": download, "samtools": samtools_seconds})
            ok = ok and view.stdout == out.getvalue()
    median = {
        k: statistics.median(r[k] for r in runs) for k in ("seconds", "bytes_read", "requests")
    }
    base = {k: statistics.median(r[k] for r in base_runs) for k in ("download", "samtools")}
    size = runs[0]["file_size"]
    result = {
        "bam": bam,
        "region": region.samtools(),
        "records": runs[0]["records"],
        "file_size": size,
        "region_view": median,
        "baseline": base,
        "bytes_fraction": median["bytes_read"] / size,
        "runs": runs,
        "baseline_runs": base_runs,
        "equal_to_samtools": ok,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "region_view.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| measure | region view | whole file + samtools view |\n|---|---|---|")
    print(
        f"| bytes | {median['bytes_read']:,.0f} ({100 * median['bytes_read'] / size:.2f} %) | {size:,} |"
    )
    print(f"| requests | {median['requests']:.0f} | - |")
    print(
        f"| seconds | {median['seconds']:.3f} | {base['download'] + base['samtools']:.3f} "
        f"({base['download']:.3f} + {base['samtools']:.3f}) |"
    )
    print(f"| records | {runs[0]['records']} | equal to samtools: {ok} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
