"""Accuracy of the bcftools germline pipeline against truth sets, and that the pipeline calls
exactly what the same commands run by hand call.

Usage: ``.venv/bin/python bench/accuracy.py`` (about 5 minutes on 2 CPUs). Needs ``bwa samtools
bcftools tabix dwgsim`` (``sudo apt-get install bwa samtools bcftools tabix dwgsim``). Starts its
own local stack in a temporary ``OMICS_TOOLKIT_HOME`` and stops it at the end.

Truth sets:

1. **chr20, simulated NA12878** (see bench/_germline.py for every choice): the 1000 Genomes
   genotypes of NA12878 on GRCh37 chr20 (Debian ``shapeit4-example`` 4.2.2+dfsg-1) put into two
   haplotypes with ``bcftools consensus -H 1/-H 2``, 2x150 reads simulated with ``dwgsim`` (no
   simulated mutations) at 10x, 20x and 30x from 20:950,001-2,050,000, evaluated on
   20:1,000,000-2,000,000 (1 Mb). The pipeline's reference is 20:1-2,100,000 of GRCh37 chr20
   (Debian ``vt-examples`` 0.57721+ds-3), contig ``20``, positions unchanged.
2. **GIAB NA12878 slice**: the demo's real reads (freebayes ``tiny``, 1,633 HiSeq X pairs,
   ~40x; only that coverage exists) on ``q.fa`` (12,356 bp of chr22) against the 14 GIAB SNVs.
   The truth holds SNVs only, so only SNV figures are given.

Each sample goes through the whole local pipeline (upload -> Lambda -> Step Functions ->
HealthOmics emulator running workflows/bcftools-germline/main.wdl with miniwdl -> imports), and
the run's VCF is taken from the output bucket. The same reads also go through
:data:`_germline.HAND_RUN_SH`, the workflow's task commands in a plain bash script. Both VCFs
are compared with the truth after ``bcftools norm -f REF -m -any`` by CHROM, POS, REF and ALT
(bench/_compare.py), and with each other record by record (CHROM, POS, REF, ALT, QUAL, GT; the
number of differing records must be 0). No QUAL or FILTER threshold is applied to the calls.

Writes ``bench/results/accuracy.json`` and ``bench/results/accuracy.md``. Exit status 1 when a
check fails: an execution did not succeed, pipeline and hand-run differ, or SNV precision or
recall on chr20 at 30x is below 0.999.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _germline as g
from _compare import Region, evaluate

COVERAGES = (10, 20, 30)
TARGET = 0.999
"""SNV precision and recall required on chr20 at 30x."""


def main() -> int:
    from omics_toolkit import data

    data.require_tools("bwa", "samtools", "bcftools", "tabix", "dwgsim")
    began = time.perf_counter()
    seconds: dict[str, float] = {}
    # cached downloads in the user's data cache, before OMICS_TOOLKIT_HOME moves
    data.fetch_chr20_reference()
    data.fetch_chr20_genotypes()
    demo = data.fetch_demo_data()
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-") as home_name:
        home = Path(home_name)
        os.environ["OMICS_TOOLKIT_HOME"] = str(home)
        t = time.perf_counter()
        chr20 = g.prepare_chr20(home / "chr20")
        samples: dict[str, dict[str, Any]] = {}
        for cov in COVERAGES:
            name = f"{g.SAMPLE}-{cov}x"
            r1, r2 = g.simulate_reads(chr20, cov, home / "reads", name)
            samples[name] = {
                "truth_set": "chr20 1000 Genomes NA12878 (simulated reads)",
                "coverage": f"{cov}x",
                "reads": (r1, r2),
                "reference": chr20.reference,
                "truth": chr20.truth,
                "region": g.EVAL_REGION,
                "deployment": "bacc-chr20",
                "kinds": ("snv", "indel"),
            }
        giab = f"{g.SAMPLE}-giab"
        giab_reference = home / "giab" / demo.reference.name  # indexes go here, not the cache
        giab_reference.parent.mkdir()
        shutil.copyfile(demo.reference, giab_reference)
        samples[giab] = {
            "truth_set": "GIAB NA12878 chr22 slice (real reads, SNVs only)",
            "coverage": "~40x (the only one available)",
            "reads": data.bam_to_fastq_pair(demo.bam, home / "reads", giab),
            "reference": giab_reference,
            "truth": demo.truth_vcf,
            "region": None,
            "deployment": "bacc-giab",
            "kinds": ("snv",),
        }
        for info in samples.values():
            info["read_pairs"] = g.count_pairs(info["reads"][0])
        seconds["prepare data"] = time.perf_counter() - t
        pairs = ", ".join(f"{s} {i['read_pairs']} pairs" for s, i in samples.items())
        g.log(f"data ready: {pairs}")

        # hand-runs first, while no stack runs
        script = g.write_hand_run(home / "hand_run.sh")
        t = time.perf_counter()
        for name, info in samples.items():
            r1, r2 = info["reads"]
            vcf, secs = g.hand_run(script, info["reference"], r1, r2, name, home / "hand" / name)
            info["hand_vcf"], info["hand_seconds"] = vcf, round(secs, 2)
            g.log(f"hand-run {name}: {secs:.1f} s")
        seconds["hand-runs"] = time.perf_counter() - t

        t = time.perf_counter()
        with g.local_pipeline(home) as pipe:
            for dep, ref in {"bacc-chr20": chr20.reference, "bacc-giab": giab_reference}.items():
                g.log(f"provisioned {dep} in {pipe.provision(dep, ref):.1f} s")
            arns: dict[str, str] = {}
            for dep in ("bacc-chr20", "bacc-giab"):
                arns |= pipe.upload(
                    dep, {s: i["reads"] for s, i in samples.items() if i["deployment"] == dep}
                )
            results = pipe.wait(arns)
            for name, res in results.items():
                info = samples[name]
                info["execution"] = res["arn"].rsplit(":", 1)[-1]
                info["status"] = res["status"]
                g.log(f"pipeline {name}: {res['status']} after {res['seconds']:.1f} s")
                if res["status"] == "SUCCEEDED":
                    info["pipeline_vcf"] = pipe.fetch_vcf(res, home / "pipeline" / f"{name}.vcf.gz")
                    info["pipeline_vcf_uri"] = res["output"]["outputs"]["vcf"]
                else:
                    info["failure"] = pipe.failure(res["arn"])
                    g.log(f"pipeline {name}: {info['failure']}")
        seconds["local pipeline (stack, provision, 4 samples at once)"] = time.perf_counter() - t

        rows = [evaluate_sample(name, info) for name, info in samples.items()]

    thirty = next(r for r in rows if r["sample"] == f"{g.SAMPLE}-30x")
    snv30 = thirty.get("pipeline", {}).get("snv", {})
    checks = {
        "all_executions_succeeded": all(r["status"] == "SUCCEEDED" for r in rows),
        "pipeline_equals_hand_run": all(r.get("differing_records") == 0 for r in rows),
        f"chr20_30x_snv_precision_and_recall_at_least_{TARGET}": bool(
            snv30 and snv30["precision"] >= TARGET and snv30["recall"] >= TARGET
        ),
    }
    result = {
        "date": dt.date.today().isoformat(),
        "tools": g.tool_versions(),
        "machine": g.machine(),
        "data": {
            "chr20_reference": (
                f"Debian vt-examples 0.57721+ds-3 {data.CHR20_REFERENCE.member} (GRCh37 chr20); "
                f"the pipeline's reference is 20:1-{g.REFERENCE_END:,} of it, contig 20"
            ),
            "chr20_truth": (
                f"Debian shapeit4-example 4.2.2+dfsg-1 {data.CHR20_GENOTYPES.member}: NA12878's "
                f"non-reference genotypes in {g.SIM_REGION} (the VCF starts at 20:1,000,000)"
            ),
            "sha256": {
                **chr20.sha256,
                **{name: data.sha256_file(path) for name, path in _demo_files(demo).items()},
            },
            "haplotypes": (
                "bcftools consensus -H 1 / -H 2 on the window: the first / second GT allele "
                "whatever the phasing (1|0 -> hap1; 0|1 and unphased 0/1 -> hap2; 1/1 -> both)"
            ),
            "consensus_applied": {"hap1": chr20.applied[0], "hap2": chr20.applied[1]},
            "simulated_window": str(g.SIM_REGION),
            "evaluated_region": str(g.EVAL_REGION),
            "dwgsim": (
                " ".join(g.dwgsim_command(Path("hapH.fa"), 0, 0, Path("out"), "hapH"))
                .replace("-C 0", "-C <coverage/2>")
                .replace("-z 0", "-z <1000*coverage+H>")
            ),
            "matching": (
                "bcftools norm -f REF -m -any on truth and calls, then CHROM, POS, REF, ALT; "
                "GT ignored for matching; no QUAL/FILTER threshold"
            ),
        },
        "hand_run_script": g.HAND_RUN_SH,
        "samples": rows,
        "checks": checks,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    g.RESULTS.mkdir(exist_ok=True)
    (g.RESULTS / "accuracy.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (g.RESULTS / "accuracy.md").write_text(text)
    print(text)
    failed = [k for k, v in checks.items() if v is not True]
    for name in failed:
        print(f"check failed: {name}", file=sys.stderr)
    return 1 if failed else 0


def _demo_files(demo: Any) -> dict[str, Path]:
    return {p.name: p for p in (demo.reference, demo.bam, demo.truth_vcf)}


def evaluate_sample(name: str, info: dict[str, Any]) -> dict[str, Any]:
    from _compare import differing_records

    from omics_toolkit import data

    region: Region | None = info["region"]
    row: dict[str, Any] = {
        "sample": name,
        "truth_set": info["truth_set"],
        "coverage": info["coverage"],
        "read_pairs": info["read_pairs"],
        "fastq_sha256": [data.sha256_file(p) for p in info["reads"]],
        "truth_sha256": data.sha256_file(info["truth"]),
        "evaluated_region": str(region) if region else "whole reference",
        "kinds": list(info["kinds"]),
        "status": info.get("status"),
        "execution": info.get("execution"),
        "hand_run_seconds": info["hand_seconds"],
    }
    if "failure" in info:
        row["failure"] = info["failure"]
    runs = {"hand_run": info["hand_vcf"]}
    if "pipeline_vcf" in info:
        runs["pipeline"] = info["pipeline_vcf"]
        row["pipeline_vcf"] = info["pipeline_vcf_uri"]
    for run_name, vcf in runs.items():
        got = evaluate(info["truth"], vcf, info["reference"], region)
        row[run_name] = {k: got[k] for k in info["kinds"]}
        row[run_name]["records"] = g.vcf_records(vcf)
    if "pipeline_vcf" in info:
        diff = differing_records(info["pipeline_vcf"], info["hand_vcf"])
        row["differing_records"] = diff["differing"]
        row["record_comparison"] = diff
    return row


def _f(x: Any) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def markdown(result: dict[str, Any]) -> str:
    tools = result["tools"]
    d = result["data"]
    lines = [
        "# Accuracy of the bcftools germline pipeline",
        "",
        f"Date {result['date']}; bwa {tools['bwa']}, samtools {tools['samtools']}, bcftools "
        f"{tools['bcftools']}, dwgsim {tools['dwgsim']}, miniwdl {tools['miniwdl']} "
        f"({tools['debian_packages']}).",
        "",
        f"- chr20: {d['chr20_truth']}; reads simulated from {d['simulated_window']}, evaluated "
        f"on {d['evaluated_region']}; reference: {d['chr20_reference']}.",
        f"- Haplotypes: {d['haplotypes']}; variants applied: {d['consensus_applied']}.",
        f"- Reads: `{d['dwgsim']}` per haplotype.",
        "- GIAB: freebayes 1.3.6-2 `tiny` NA12878 reads (real, ~40x, the only coverage "
        "available) on q.fa (12,356 bp of chr22) against the 14 GIAB SNVs (SNV-only truth).",
        f"- Matching: {d['matching']}. P = precision, R = recall.",
        "- Run: `pipeline` = the whole local pipeline (the VCF from the output bucket); "
        "`hand-run` = the workflow's commands in a bash script on the same reads. Last column: "
        "records (CHROM, POS, REF, ALT, QUAL, GT) differing between the two VCFs.",
        "",
        "| truth set | coverage | run | SNV TP | SNV FP | SNV FN | SNV P | SNV R | SNV F1 "
        "| indel TP | indel FP | indel FN | indel P | indel R | indel F1 | pipeline == hand-run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["samples"]:
        same = (
            f"yes (0 of {row['pipeline']['records']} records differ)"
            if row.get("differing_records") == 0
            else f"NO ({row.get('differing_records')} records differ)"
            if "differing_records" in row
            else f"pipeline {row['status']}"
        )
        truth = "chr20 1 Mb" if row["sample"].endswith("x") else "GIAB chr22 slice"
        for run_name in ("pipeline", "hand_run"):
            if run_name not in row:
                continue
            m = row[run_name]
            cells = [truth, row["coverage"], run_name.replace("_", "-")]
            for k in ("snv", "indel"):
                if k in m:
                    x = m[k]
                    cells += [str(x["tp"]), str(x["fp"]), str(x["fn"])]
                    cells += [_f(x["precision"]), _f(x["recall"]), _f(x["f1"])]
                else:
                    cells += ["n/a"] * 6
            cells.append(same if run_name == "pipeline" else "")
            lines.append("| " + " | ".join(cells) + " |")
    failed = [k for k, v in result["checks"].items() if v is not True]
    fns = {
        r["sample"]: {k: r["pipeline"][k]["fn_sites"] for k in r["kinds"] if r["pipeline"][k]["fn"]}
        for r in result["samples"]
        if "pipeline" in r
    }
    lines += [
        "",
        f"- False negatives of the pipeline (up to 20 per class): {json.dumps(fns)}.",
        f"- Checks: {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)} "
        f"({', '.join(result['checks'])}).",
        f"- Wall time: {json.dumps(result['seconds'])}; whole script {result['total_seconds']} s "
        f"on {result['machine']['cpus']} CPUs.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
