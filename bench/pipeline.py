"""End-to-end performance of the local pipeline against the same tools run by a plain script.

Usage: ``.venv/bin/python bench/pipeline.py [REPEATS]`` (default 3 single runs of each; about 10
minutes on 2 CPUs). Needs ``bwa samtools bcftools tabix dwgsim``. Starts its own local stack in
a temporary ``OMICS_TOOLKIT_HOME`` and stops it at the end.

Input: the simulated NA12878 chr20 sample of bench/accuracy.py at 10x (36,666 read pairs of
2x150 from 20:950,001-2,050,000; reference 20:1-2,100,000), chosen so that 16 copies at once
stay within a few minutes on 2 CPUs; and the demo's real GIAB ``tiny`` sample (1,633 pairs on
12,356 bp), where orchestration dominates.

Measured:

1. **Overhead, one sample.** Pipeline: from the start of the upload of the FASTQ pair to the
   sample's rows being returned by :func:`omics_toolkit.api.variants` (Athena; locally DuckDB),
   which the script checks right after the execution SUCCEEDED. Baseline: the hand-run, the
   workflow's task commands in a plain bash script (bench/_germline.py ``HAND_RUN_SH``), run
   in the same script on the same reads. Ratio = pipeline seconds / hand-run seconds (medians
   of REPEATS runs). Where the pipeline's time goes is read from the execution history (reads
   import, workflow run, output imports, tagging) and the run's tasks.
2. **Concurrency.** 1, 4 and 16 copies of the 10x sample under different sample names uploaded
   together; time until every execution SUCCEEDED and every sample's rows are queryable, and the
   peak memory: the summed RSS of the local stack's process tree (moto server + HealthOmics
   emulator process, Lambda child processes, one miniwdl process per run and its task
   processes; sampled every 0.2 s with psutil) and the machine's used memory. Baseline: the same
   number of hand-runs started together (peak RSS summed over their process trees). Ratios:
   pipeline / hand-run for time and peak memory, and the pipeline's time / (N x its one-sample
   time).

The state machine is provisioned with ``poll_interval_seconds=1`` and
``max_poll_interval_seconds=4`` (its waits between status polls: 1, 2, 4, 4, ... s). CPU seconds
(user + system of the process trees, children included) are reported beside wall times: they
are less sensitive to other load on the machine. Writes ``bench/results/pipeline.json`` and
``bench/results/pipeline.md``. Exit 1 when an execution fails or a sample's rows are missing or
differ in number from its VCF's records; nothing timed is asserted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _germline as g

COVERAGE = 10
WAVES = (1, 4, 16)


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _stack_cpu(pid: int) -> float:
    """User + system seconds of the stack process and of the children it has waited for."""
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def hand_wave(
    script: Path, reference: Path, reads: tuple[Path, Path], n: int, work: Path, prefix: str
) -> dict[str, Any]:
    """``n`` hand-runs started together; wall seconds until the last ends, CPU and memory."""
    procs: list[subprocess.Popen[bytes]] = []
    cpu0 = _cpu_children()
    start = time.perf_counter()
    with g.TreeSampler(lambda: [p.pid for p in procs]) as sampler:
        for i in range(n):
            sample = f"{prefix}{i:02d}"
            out = work / sample
            if out.exists():
                shutil.rmtree(out)
            cmd = g.hand_run_command(script, reference, *reads, sample, out)
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        errors = [p.communicate()[1] for p in procs]
    seconds = time.perf_counter() - start
    failed = [
        e.decode(errors="replace")[-500:]
        for p, e in zip(procs, errors, strict=True)
        if p.returncode
    ]
    if failed:
        raise RuntimeError(f"hand-run failed: {failed[0]}")
    vcfs = [g.hand_run_vcf(work / f"{prefix}{i:02d}", f"{prefix}{i:02d}") for i in range(n)]
    return {
        "samples": n,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(_cpu_children() - cpu0, 1),
        "memory": sampler.figures(),
        "vcf_records": g.vcf_records(vcfs[0]),
    }


def pipeline_wave(
    pipe: g.LocalPipeline, dep: str, reads: tuple[Path, Path], n: int, prefix: str
) -> dict[str, Any]:
    """``n`` copies uploaded together; seconds until every execution SUCCEEDED and every
    sample's rows are returned by ``omics_toolkit.api.variants``; CPU, memory, phases."""
    samples = [f"{prefix}{i:02d}" for i in range(n)]
    cpu0 = _stack_cpu(pipe.pid)
    start = time.perf_counter()
    with g.TreeSampler(lambda: [pipe.pid]) as sampler:
        arns = pipe.upload(dep, {s: reads for s in samples})
        uploaded = time.perf_counter() - start
        results = pipe.wait(arns)
        succeeded = time.perf_counter() - start
        ok = all(r["status"] == "SUCCEEDED" for r in results.values())
        rows = pipe.variant_rows(dep, samples) if ok else {}
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {
        "samples": n,
        "seconds": round(seconds, 2),
        "upload_seconds": round(uploaded, 2),
        "all_succeeded_seconds": round(succeeded, 2),
        "query_seconds": round(seconds - succeeded, 2),
        "cpu_seconds": round(_stack_cpu(pipe.pid) - cpu0, 1),
        "memory": sampler.figures(),
        "statuses": sorted({r["status"] for r in results.values()}),
        "rows": rows,
    }
    if not ok:
        out["failures"] = [
            pipe.failure(r["arn"]) for r in results.values() if r["status"] != "SUCCEEDED"
        ][:5]
    else:
        out["phases"] = phases(pipe, results[samples[0]], start)
    return out


def phases(pipe: g.LocalPipeline, result: dict[str, Any], start: float) -> dict[str, Any]:
    """Where one execution's time went, from its history and its HealthOmics run."""
    from omics_toolkit.pipeline.status import history

    sfn = pipe.ctx.client("stepfunctions")
    desc = sfn.describe_execution(executionArn=result["arn"])
    events = history(sfn, result["arn"])
    entered: dict[str, Any] = {}
    for e in events:
        d = e.get("stateEnteredEventDetails")
        if d and d["name"] not in entered:
            entered[d["name"]] = e["timestamp"]

    def span(a: Any, b: Any) -> float | None:
        return round((b - a).total_seconds(), 2) if a and b else None

    t0 = desc["startDate"]
    out: dict[str, Any] = {
        "execution": span(t0, desc.get("stopDate")),
        "reads_import": span(entered.get("PrepareReadsImport", t0), entered.get("PrepareRun")),
        "workflow_run": span(entered.get("PrepareRun"), entered.get("FindRunOutputs")),
        "bam_vcf_imports": span(entered.get("FindRunOutputs"), entered.get("TagObjects")),
        "tagging": span(entered.get("TagObjects"), desc.get("stopDate")),
    }
    run_id = (result["output"].get("run") or {}).get("Id")
    if run_id:
        omics = pipe.ctx.client("omics")
        run = omics.get_run(id=run_id)
        out["run_start_to_stop"] = span(run.get("startTime"), run.get("stopTime"))
        tasks = [
            t for p in omics.get_paginator("list_run_tasks").paginate(id=run_id) for t in p["items"]
        ]
        out["run_tasks"] = {
            t["name"]: span(t.get("startTime"), t.get("stopTime"))
            for t in sorted(tasks, key=lambda t: str(t.get("startTime")))
        }
    return out


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (the lower middle one of an even number)."""
    return sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2)


def main() -> int:
    from omics_toolkit import data

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    data.require_tools("bwa", "samtools", "bcftools", "tabix", "dwgsim")
    began = time.perf_counter()
    data.fetch_chr20_reference()
    data.fetch_chr20_genotypes()
    demo = data.fetch_demo_data()
    info = g.machine()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as home_name:
        home = Path(home_name)
        os.environ["OMICS_TOOLKIT_HOME"] = str(home)
        chr20 = g.prepare_chr20(home / "chr20")
        name = f"{g.SAMPLE}-{COVERAGE}x"
        inputs = {
            "chr20": {
                "reads": g.simulate_reads(chr20, COVERAGE, home / "reads", name),
                "reference": chr20.reference,
                "what": f"simulated NA12878 chr20 1 Mb at {COVERAGE}x",
            },
            "giab": {
                "reads": data.bam_to_fastq_pair(demo.bam, home / "reads", "giab"),
                "reference": home / "giab" / demo.reference.name,
                "what": "GIAB NA12878 tiny chr22 slice (real reads)",
            },
        }
        inputs["giab"]["reference"].parent.mkdir()
        shutil.copyfile(demo.reference, inputs["giab"]["reference"])
        for x in inputs.values():
            x["read_pairs"] = g.count_pairs(x["reads"][0])
            x["fastq_bytes"] = sum(p.stat().st_size for p in x["reads"])
        script = g.write_hand_run(home / "hand_run.sh")

        # ---- baselines: hand-runs, no stack running
        hand: dict[str, Any] = {}
        for key, x in inputs.items():
            runs = [
                hand_wave(script, x["reference"], x["reads"], 1, home / "hand", f"H-{key}-{r}-")
                for r in range(repeats)
            ]
            hand[f"single_{key}"] = {
                "runs": runs,
                "median_seconds": _median([r["seconds"] for r in runs]),
                "median_cpu_seconds": _median([r["cpu_seconds"] for r in runs]),
            }
            g.log(f"hand-run {key}: {[r['seconds'] for r in runs]} s")
        for n in WAVES[1:]:
            chr20_in = inputs["chr20"]
            hand[f"wave_{n}"] = hand_wave(
                script, chr20_in["reference"], chr20_in["reads"], n, home / "hand", f"W-{n}-"
            )
            g.log(f"hand-runs x{n}: {hand[f'wave_{n}']['seconds']} s")
        hand["wave_1"] = _median_run(hand["single_chr20"]["runs"])

        # ---- the pipeline
        pipe_out: dict[str, Any] = {}
        with g.local_pipeline(home) as pipe:
            setup = {
                "provision_chr20_seconds": round(pipe.provision("bperf", chr20.reference), 1),
                "provision_giab_seconds": round(
                    pipe.provision("bperf-giab", inputs["giab"]["reference"]), 1
                ),
            }
            time.sleep(2)
            idle = g.TreeSampler(lambda: [pipe.pid])
            with idle:
                time.sleep(1)
            setup["stack_idle"] = idle.figures()
            for key, dep in (("chr20", "bperf"), ("giab", "bperf-giab")):
                runs = []
                for r in range(repeats):
                    runs.append(pipeline_wave(pipe, dep, inputs[key]["reads"], 1, f"S-{key}-{r}-"))
                    g.log(f"pipeline {key} run {r}: {runs[-1]['seconds']} s")
                pipe_out[f"single_{key}"] = {
                    "runs": runs,
                    "median_seconds": _median([r["seconds"] for r in runs]),
                    "median_cpu_seconds": _median([r["cpu_seconds"] for r in runs]),
                }
            for n in WAVES[1:]:
                pipe_out[f"wave_{n}"] = pipeline_wave(
                    pipe, "bperf", inputs["chr20"]["reads"], n, f"C-{n}-"
                )
                g.log(f"pipeline x{n}: {pipe_out[f'wave_{n}']['seconds']} s")
            pipe_out["wave_1"] = _median_run(pipe_out["single_chr20"]["runs"])

    # ---- ratios and checks
    overhead = {}
    for key in inputs:
        p, h = pipe_out[f"single_{key}"], hand[f"single_{key}"]
        overhead[key] = {
            "what": inputs[key]["what"],
            "read_pairs": inputs[key]["read_pairs"],
            "pipeline_seconds": p["median_seconds"],
            "hand_run_seconds": h["median_seconds"],
            "ratio": _ratio(p["median_seconds"], h["median_seconds"]),
            "pipeline_cpu_seconds": p["median_cpu_seconds"],
            "hand_run_cpu_seconds": h["median_cpu_seconds"],
            "cpu_ratio": _ratio(p["median_cpu_seconds"], h["median_cpu_seconds"]),
            "phases": _median_run(p["runs"]).get("phases"),
        }
    single = pipe_out["single_chr20"]["median_seconds"]
    concurrency = []
    for n in WAVES:
        p, h = pipe_out[f"wave_{n}"], hand[f"wave_{n}"]
        concurrency.append(
            {
                "samples": n,
                "pipeline_seconds": p["seconds"],
                "hand_run_seconds": h["seconds"],
                "ratio_to_hand_run": _ratio(p["seconds"], h["seconds"]),
                "ratio_to_n_x_single": _ratio(p["seconds"], n * single),
                "pipeline_cpu_seconds": p["cpu_seconds"],
                "hand_run_cpu_seconds": h["cpu_seconds"],
                "pipeline_peak_tree_rss_mib": p["memory"]["peak_tree_rss_mib"],
                "hand_run_peak_tree_rss_mib": h["memory"]["peak_tree_rss_mib"],
                "memory_ratio_to_hand_run": _ratio(
                    p["memory"]["peak_tree_rss_mib"], h["memory"]["peak_tree_rss_mib"]
                ),
                "pipeline_peak_processes": p["memory"]["peak_processes"],
                "pipeline_machine_used_increase_mib": p["memory"]["machine_used_increase_mib"],
                "hand_run_machine_used_increase_mib": h["memory"]["machine_used_increase_mib"],
                "pipeline_machine_used_peak_mib": p["memory"]["machine_used_peak_mib"],
            }
        )
    all_waves = [
        *(r for k in inputs for r in pipe_out[f"single_{k}"]["runs"]),
        *(pipe_out[f"wave_{n}"] for n in WAVES[1:]),
    ]
    expected = {"chr20": hand["wave_1"]["vcf_records"]}
    checks = {
        "all_executions_succeeded": all(w["statuses"] == ["SUCCEEDED"] for w in all_waves),
        "every_sample_queryable_with_its_vcf_records": all(
            rows == expected["chr20"]
            for n in WAVES[1:]
            for rows in pipe_out[f"wave_{n}"]["rows"].values()
        )
        and all(
            rows == expected["chr20"]
            for r in pipe_out["single_chr20"]["runs"]
            for rows in r["rows"].values()
        )
        and all(v > 0 for r in pipe_out["single_giab"]["runs"] for v in r["rows"].values()),
    }
    info["load_average_1_5_15_after"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "date": dt.date.today().isoformat(),
        "tools": g.tool_versions(),
        "machine": info,
        "repeats": repeats,
        "inputs": {
            k: {
                kk: str(vv) if isinstance(vv, Path) else vv for kk, vv in x.items() if kk != "reads"
            }
            for k, x in inputs.items()
        },
        "settings": "poll_interval_seconds=1, max_poll_interval_seconds=4; workflow defaults "
        "(align_cpu 8: bwa mem -t 8); the emulator admits tasks by declared cpu (capped at the "
        "host's) per run",
        "setup": setup,
        "overhead": overhead,
        "concurrency": concurrency,
        "pipeline": pipe_out,
        "hand_run": hand,
        "checks": checks,
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    g.RESULTS.mkdir(exist_ok=True)
    (g.RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    text = markdown(result)
    (g.RESULTS / "pipeline.md").write_text(text)
    print(text)
    failed = [k for k, v in checks.items() if v is not True]
    for k in failed:
        print(f"check failed: {k}", file=sys.stderr)
    return 1 if failed else 0


def markdown(result: dict[str, Any]) -> str:
    t, m = result["tools"], result["machine"]
    lines = [
        "# The local pipeline against the same tools run by a script",
        "",
        f"Date {result['date']}; {m['cpus']} CPUs, {m['memory_gib']} GiB; bwa {t['bwa']}, "
        f"samtools {t['samtools']}, bcftools {t['bcftools']}, miniwdl {t['miniwdl']}, "
        f"Python {t['python']}. Settings: {result['settings']}.",
        "",
        "## One sample: upload to queryable variants vs the hand-run",
        "",
        f"Medians of {result['repeats']} runs each. Pipeline: upload start to the sample's rows "
        "returned by `omics_toolkit.api.variants`. Hand-run: the workflow's task commands in a "
        "bash script. Ratio = pipeline / hand-run.",
        "",
        "| input | read pairs | hand-run s | pipeline s | ratio | hand-run CPU s | pipeline "
        "CPU s | CPU ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in result["overhead"].values():
        lines.append(
            f"| {o['what']} | {o['read_pairs']:,} | {o['hand_run_seconds']} | "
            f"{o['pipeline_seconds']} | {o['ratio']} | {o['hand_run_cpu_seconds']} | "
            f"{o['pipeline_cpu_seconds']} | {o['cpu_ratio']} |"
        )
    lines += ["", "Where one pipeline run's time goes (the median run; seconds):", ""]
    for o in result["overhead"].values():
        ph = o["phases"] or {}
        tasks = ", ".join(f"{k} {v}" for k, v in (ph.get("run_tasks") or {}).items())
        lines.append(
            f"- {o['what']}: execution {ph.get('execution')} = reads import "
            f"{ph.get('reads_import')} + workflow run {ph.get('workflow_run')} (the run itself "
            f"{ph.get('run_start_to_stop')}; tasks: {tasks}) + BAM/VCF imports "
            f"{ph.get('bam_vcf_imports')} + tagging {ph.get('tagging')}."
        )
    lines += [
        "",
        "## Concurrency: N copies of the 10x chr20 sample uploaded together",
        "",
        "Seconds until every execution SUCCEEDED and every sample's rows are queryable (hand-run: "
        "N scripts started together, until the last ends). Peak RSS summed over the process "
        "tree (pipeline: the local stack's; hand-run: the scripts'); RSS of processes sharing "
        "pages counts once per process. The machine's used memory also moves with any other "
        "work on the machine, so its increase is only indicative.",
        "",
        "| N | hand-run s | pipeline s | x hand-run | x (N x one sample) | hand-run CPU s | "
        "pipeline CPU s | hand-run peak RSS MiB | pipeline peak RSS MiB | x hand-run | "
        "pipeline processes | machine used +MiB (pipeline / hand-run) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in result["concurrency"]:
        lines.append(
            f"| {c['samples']} | {c['hand_run_seconds']} | {c['pipeline_seconds']} | "
            f"{c['ratio_to_hand_run']} | {c['ratio_to_n_x_single']} | "
            f"{c['hand_run_cpu_seconds']} | {c['pipeline_cpu_seconds']} | "
            f"{c['hand_run_peak_tree_rss_mib']} | {c['pipeline_peak_tree_rss_mib']} | "
            f"{c['memory_ratio_to_hand_run']} | {c['pipeline_peak_processes']} | "
            f"{c['pipeline_machine_used_increase_mib']} / "
            f"{c['hand_run_machine_used_increase_mib']} |"
        )
    idle = result["setup"]["stack_idle"]
    failed = [k for k, v in result["checks"].items() if v is not True]
    lines += [
        "",
        f"- The idle local stack (after provisioning two deployments) holds "
        f"{idle['peak_tree_rss_mib']} MiB RSS in {idle['peak_processes']} processes; the "
        "pipeline's peaks above include it.",
        f"- Setup (not compared): provision {result['setup']['provision_chr20_seconds']} s and "
        f"{result['setup']['provision_giab_seconds']} s. Load average before "
        f"{m['load_average_1_5_15']}, after {m['load_average_1_5_15_after']}.",
        f"- Checks: {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)} "
        f"({', '.join(result['checks'])}). Whole script {result['total_seconds']} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
