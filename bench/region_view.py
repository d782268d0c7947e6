"""Bytes and time of one region view by range requests, against reading the whole file.

Usage::

    .venv/bin/python bench/region_view.py                      # the chr20 1 Mb 30x read set
    .venv/bin/python bench/region_view.py BAM BAI REGION [REPEATS]

Without arguments (about 5 minutes on 2 CPUs): the simulated chr20 NA12878 sample of the
accuracy bench at 30x (bench/_germline.py: 20:950,001-2,050,000, 2x150) runs through the real
pipeline on a local stack in a temporary home; its aligned BAM read set is then read through the
sequence store's S3 access point, exactly as ``omics-toolkit reads view`` reads it
(:func:`omics_toolkit.reads.locate.read_set_objects`), for 1 kb regions spread over the evaluated
megabase. Needs Debian's dwgsim, bwa, samtools, bcftools.

With arguments: BAM and BAI are local paths or ``s3://bucket/key`` URIs (read with the S3
client of the process environment). REGION is ``contig:start-end``, 1-based inclusive like
samtools.

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


#: 1 kb regions (1-based inclusive) spread over the chr20 bench's evaluated megabase.
CHR20_REGIONS = (
    "20:1,100,001-1,101,000",
    "20:1,333,001-1,334,000",
    "20:1,500,001-1,501,000",
    "20:1,750,001-1,751,000",
    "20:1,990,001-1,991,000",
)


def chr20_read_set(work: Path) -> tuple[Any, Any, Any, float]:
    """Run the chr20 30x sample through a local pipeline; returns (pipeline, data, index,
    upload-to-SUCCEEDED seconds) with data/index the BAM read set's ranged S3 objects."""
    sys.path.insert(0, str(Path(__file__).parent))
    import _germline as g

    from omics_toolkit.reads.locate import read_set_objects, resolve, sequence_store_id

    chr20 = g.prepare_chr20(work / "chr20")
    reads = g.simulate_reads(chr20, 30, work / "reads", g.SAMPLE)
    pipe = g.LocalPipeline(work / "home")
    pipe.provision("bview", chr20.reference)
    started = time.perf_counter()
    arns = pipe.upload("bview", {g.SAMPLE: reads})
    done = pipe.wait(arns)
    if done[g.SAMPLE]["status"] != "SUCCEEDED":
        pipe.stop()
        raise RuntimeError(pipe.failure(done[g.SAMPLE]["arn"]))
    seconds = time.perf_counter() - started
    omics = pipe.ctx.client("omics")
    store = sequence_store_id(omics, pipe.deployments["bview"].names.sequence_store)
    assert store is not None
    rs = resolve(omics, store, g.SAMPLE, aligned=True)
    data, index = read_set_objects(pipe.ctx.client("s3"), rs)
    return pipe, data, index, seconds


def measure(
    opener: Any, region_text: str, repeats: int
) -> tuple[list[dict[str, Any]], list[dict[str, float]], bool]:
    """``repeats`` region views and baselines of one region; (runs, baseline runs, equal)."""
    region = parse_region(region_text)
    runs: list[dict[str, Any]] = []
    base_runs: list[dict[str, float]] = []
    ok = True
    for _ in range(repeats):
        data, index = opener()
        out = io.BytesIO()
        started = time.perf_counter()
        fetched = fetch_region(data, index, region, "sam", out)
        seconds = time.perf_counter() - started
        runs.append(
            {
                "region": region.samtools(),
                "seconds": seconds,
                "bytes_read": fetched.bytes_read,
                "requests": fetched.requests,
                "records": fetched.records,
                "file_size": fetched.file_size,
                "index_size": fetched.index_size,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "whole.bam"
            download = whole_file(opener()[0], local)
            started = time.perf_counter()
            subprocess.run(["samtools", "index", str(local)], check=True)
            view = subprocess.run(
                ["samtools", "view", str(local), region.samtools()], capture_output=True, check=True
            )
            samtools_seconds = time.perf_counter() - started
            base_runs.append({"download": download, "samtools": samtools_seconds})
            ok = ok and view.stdout == out.getvalue()
    return runs, base_runs, ok


def chr20_main(repeats: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-region-view-") as tmp:
        pipe, data, index, pipeline_seconds = chr20_read_set(Path(tmp))
        try:
            rows = []
            all_ok = True
            for region_text in CHR20_REGIONS:
                runs, base_runs, ok = measure(
                    lambda: (_fresh(data), _fresh(index)), region_text, repeats
                )
                all_ok = all_ok and ok
                med = {
                    k: statistics.median(r[k] for r in runs)
                    for k in ("seconds", "bytes_read", "requests")
                }
                base = {
                    k: statistics.median(r[k] for r in base_runs) for k in ("download", "samtools")
                }
                rows.append(
                    {
                        "region": runs[0]["region"],
                        "records": runs[0]["records"],
                        "file_size": runs[0]["file_size"],
                        "index_size": runs[0]["index_size"],
                        "region_view": med,
                        "baseline": base,
                        "bytes_fraction": med["bytes_read"] / data.size,
                        "equal_to_samtools": ok,
                        "runs": runs,
                        "baseline_runs": base_runs,
                    }
                )
        finally:
            pipe.stop()
    result = {
        "sample": "chr20 NA12878 30x, 20:950,001-2,050,000 (bench/_germline.py)",
        "pipeline_upload_to_succeeded_seconds": pipeline_seconds,
        "bam_bytes": rows[0]["file_size"],
        "bai_bytes": rows[0]["index_size"],
        "repeats": repeats,
        "regions": rows,
        "equal_to_samtools": all_ok,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "region_view.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"BAM read set: {rows[0]['file_size']:,} bytes (BAI {rows[0]['index_size']:,}); "
        f"median of {repeats} runs per region",
        "",
        "| region (1 kb) | reads | bytes read (index+header+data) | share of BAM | requests "
        "| region view s | download whole BAM s | + samtools index+view s | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rv, b = r["region_view"], r["baseline"]
        total = b["download"] + b["samtools"]
        lines.append(
            f"| {r['region']} | {r['records']} | {rv['bytes_read']:,.0f} | "
            f"{100 * r['bytes_fraction']:.2f} % | {rv['requests']:.0f} | {rv['seconds']:.3f} | "
            f"{b['download']:.3f} | {b['samtools']:.3f} | {total / rv['seconds']:.1f}x |"
        )
    lines.append("")
    lines.append(f"equal to samtools view on the whole BAM: {all_ok}")
    (RESULTS / "region_view.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all_ok else 1


def _fresh(obj: Any) -> Any:
    """A new ranged object for the same S3 object (fresh byte and request counters)."""
    from omics_toolkit.reads.ranged import S3Object

    copy = S3Object(obj.client, obj.bucket, obj.key, obj.size)
    copy.name = obj.name
    return copy


def main(argv: list[str]) -> int:
    if not argv or argv[0].isdigit():
        return chr20_main(int(argv[0]) if argv else 3)
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
