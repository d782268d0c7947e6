"""Variant import, a 1 Mb region query and a per-sample summary on both variant back ends,
against bcftools and pandas over the same VCF on the same machine.

Usage: ``.venv/bin/python bench/variants.py [REPEATS]`` (default 3). Starts its own local stack
in a temp home and provisions two deployments on it: ``bvar-stores`` (HealthOmics variant store,
emulated: Parquet + Glue) and ``bvar-tables`` (S3 Tables, Apache Iceberg via pyiceberg).

Data: the 10-donor GRCh37 chr22 cohort VCF (:func:`omics_toolkit.data.fetch_cohort_vcf`, 113,300
records x 10 samples = 1,133,000 variant rows), copied to the temp home and indexed there with
``tabix`` (the cache is never written to). Reference of both deployments: a sequence-less
stand-in, one contig ``22`` of chr22's GRCh37 length (51,304,566 bp) all ``N``: the emulator's
variant import checks only contig names (and the store keeps the length), so nothing else of the
reference matters here.

Measured (REPEATS times each; median and every run reported):

1. Import, rows/s. Baseline: ``bcftools query`` printing CHROM POS REF ALT QUAL and every
   sample's GT:DP:GQ to /dev/null (rows = records x samples). S3 Tables:
   :func:`omics_toolkit.tables.loader.load_variants` from the ``s3://`` copy of the VCF, in a
   spawned child process (its peak RSS is reported; the first run fills an empty table, later
   runs replace the samples' rows as a re-import does). Stores: StartVariantImportJob ->
   COMPLETED on the emulator (the first run into the deployment's store, later runs into scratch
   stores on the same reference, deleted afterwards, so the deployment's store holds the rows once).
2. Region 22:20,000,000-21,000,000 (0-based ``[19999999, 21000000)``): ``queries/variants_in_region.sql``
   through Athena (PyAthena, ``omics_toolkit.athena.run_query``; locally DuckDB) on each back end,
   against ``bcftools view -H -r`` on the indexed VCF and pandas reading the whole VCF then
   filtering. Row counts must agree (Athena rows = records in the region x samples).
3. ``queries/sample_summary.sql`` on each back end, against ``bcftools stats -s -`` and pandas
   reading the VCF and computing the query's definitions. The pandas result must equal Athena's
   on every column; bcftools' PSC hom-ref / missing / Ts / Tv / indel counts and its SNV
   het + hom-alt (= ``snvs``; PSC counts het and hom-alt over SNVs only) must equal Athena's.

Ratios: import = our rows/s / bcftools rows/s (below 1: slower); queries = our seconds / the
baseline's seconds (above 1: slower). Writes ``bench/results/variants.json`` and
``bench/results/variants.md`` and prints the table. Exit status 1 when a correctness check fails;
nothing timed is asserted.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from omics_toolkit.local.stack import lifecycle

RESULTS = Path(__file__).resolve().parent / "results"
CONTIG = "22"
#: GRCh37 chr22 length (the VCF header's ##contig=<ID=22,length=51304566>).
CONTIG_LENGTH = 51_304_566
REGION_START, REGION_END = 19_999_999, 21_000_000  # 0-based half-open
BCFTOOLS_REGION = f"{CONTIG}:{REGION_START + 1}-{REGION_END}"
QUERY_FORMAT = "%CHROM\t%POS\t%REF\t%ALT\t%QUAL[\t%GT:%DP:%GQ]\n"
TRANSITIONS = {"AG", "GA", "CT", "TC"}
#: bcftools stats PSC columns (index in the PSC line); compared with sample_summary except the
#: SNV-only het/hom-alt counts, whose sum is compared with ``snvs``.
PSC_COLUMNS = {
    "hom_ref": 3,
    "snv_hom_alt": 4,
    "snv_het": 5,
    "transitions": 6,
    "transversions": 7,
    "indels": 8,
    "no_calls": 13,
}
PSC_COMPARED = ["hom_ref", "snvs", "indels", "transitions", "transversions", "no_calls"]


# --------------------------------------------------------------------------------------- helpers


_T0 = time.perf_counter()


def _log(message: str) -> None:
    """Progress on stderr with the seconds since start."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def _escaped(text: str) -> str:
    """``text`` with tabs and newlines written as ``\\t`` and ``\\n`` (as typed in a shell)."""
    return text.encode("unicode_escape").decode()


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _repeat(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Seconds of each of ``repeats`` calls of ``fn`` and the last call's result."""
    runs, out = [], None
    for _ in range(repeats):
        seconds, out = _timed(fn)
        runs.append(round(seconds, 4))
    return runs, out


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "missing"
    return out.splitlines()[0].strip() if out else "unknown"


def machine_info() -> dict[str, Any]:
    import duckdb
    import pandas
    import pyarrow
    import pyathena
    import pyiceberg

    try:
        import cyvcf2

        cyvcf2_version = cyvcf2.__version__
    except ImportError:
        cyvcf2_version = "missing"
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kib = int(meminfo.read_text().splitlines()[0].split()[1])
        mem = f"{kib / 2**20:.1f} GiB"
    return {
        "cpus": os.cpu_count(),
        "memory": mem,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "bcftools": _version(["bcftools", "--version"]),
        "pyiceberg": pyiceberg.__version__,
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "pyathena": pyathena.__version__,
        "cyvcf2": cyvcf2_version,
    }


def stand_in_reference(path: Path) -> Path:
    """Gzip FASTA with one contig ``22`` of :data:`CONTIG_LENGTH` ``N`` (60 per line)."""
    full, rest = divmod(CONTIG_LENGTH, 60)
    with gzip.open(path, "wt", compresslevel=6) as out:
        out.write(f">{CONTIG} sequence-less stand-in for GRCh37 chr22 (N only)\n")
        line = "N" * 60 + "\n"
        for _ in range(full // 1000):
            out.write(line * 1000)
        out.write(line * (full % 1000))
        if rest:
            out.write("N" * rest + "\n")
    return path


# -------------------------------------------------------------------------------- VCF baselines


def vcf_shape(vcf: Path) -> tuple[int, list[str]]:
    """``(records, samples)`` of the VCF (bcftools)."""
    samples = subprocess.run(
        ["bcftools", "query", "-l", str(vcf)], capture_output=True, text=True, check=True
    ).stdout.split()
    out = subprocess.run(
        ["bcftools", "index", "-n", str(vcf)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip()), samples


def bcftools_query(vcf: Path) -> None:
    with open(os.devnull, "wb") as sink:
        subprocess.run(["bcftools", "query", "-f", QUERY_FORMAT, str(vcf)], stdout=sink, check=True)


def bcftools_region(vcf: Path) -> int:
    """Records ``bcftools view -H -r`` returns for the region (read from its stdout)."""
    out = subprocess.run(
        ["bcftools", "view", "-H", "-r", BCFTOOLS_REGION, str(vcf)],
        capture_output=True,
        check=True,
    ).stdout
    return out.count(b"\n")


def bcftools_stats(vcf: Path) -> dict[str, dict[str, int]]:
    """Per-sample PSC counts of ``bcftools stats -s -`` (see :data:`PSC_COLUMNS`)."""
    out = subprocess.run(
        ["bcftools", "stats", "-s", "-", str(vcf)], capture_output=True, text=True, check=True
    ).stdout
    psc = {}
    for line in out.splitlines():
        if line.startswith("PSC\t"):
            f = line.split("\t")
            counts = {name: int(f[i]) for name, i in PSC_COLUMNS.items()}
            # PSC's nHets and nNonRefHom count SNV genotypes only; indels are nIndels
            counts["snvs"] = counts.pop("snv_het") + counts.pop("snv_hom_alt")
            psc[f[2]] = counts
    return psc


def pandas_read(vcf: Path) -> Any:
    """The whole VCF as a DataFrame (meta lines skipped, ``#CHROM`` header kept)."""
    import pandas as pd

    meta = 0
    with gzip.open(vcf, "rt") as handle:
        for line in handle:
            if not line.startswith("##"):
                break
            meta += 1
    return pd.read_csv(
        vcf,
        sep="\t",
        skiprows=meta,
        compression="gzip",
        dtype={"#CHROM": str, "POS": "int64", "ID": str, "REF": str, "ALT": str},
        na_values={"QUAL": ["."]},
        keep_default_na=False,
    ).rename(columns={"#CHROM": "CHROM"})


def pandas_region(vcf: Path, samples: list[str]) -> Any:
    """Read the whole VCF, keep records overlapping the region, one row per sample."""
    df = pandas_read(vcf)
    start = df["POS"] - 1
    end = start + df["REF"].str.len()
    hit = df[(df["CHROM"] == CONTIG) & (start < REGION_END) & (end > REGION_START)]
    hit = hit.assign(start=hit["POS"] - 1, end=hit["POS"] - 1 + hit["REF"].str.len())
    rows = hit.melt(
        id_vars=["CHROM", "start", "end", "ID", "REF", "ALT", "QUAL", "FILTER", "FORMAT"],
        value_vars=samples,
        var_name="sampleid",
        value_name="call",
    )
    rows["gt"] = rows["call"].str.split(":", n=1).str[0]
    return rows.sort_values(["sampleid", "start", "REF", "ALT"], kind="stable")


def pandas_summary(vcf: Path, samples: list[str]) -> Any:
    """Read the whole VCF and compute ``queries/sample_summary.sql``'s columns per sample.

    Diploid (or haploid) GT; every definition as in the SQL file's header.
    """
    import numpy as np
    import pandas as pd

    df = pandas_read(vcf)
    n = len(df)
    ref = df["REF"].str.upper().to_numpy(dtype=object)
    alts = df["ALT"].str.upper().str.split(",", expand=True)
    n_alt = alts.notna().sum(axis=1).to_numpy()
    # allele strings by index: column 0 REF, column k ALT k
    alleles = np.column_stack([ref, alts.to_numpy(dtype=object)])
    ref_len = df["REF"].str.len().to_numpy()
    qual = pd.to_numeric(df["QUAL"], errors="coerce").to_numpy(dtype=float)
    dp_index = {fmt: fmt.split(":").index("DP") for fmt in df["FORMAT"].unique() if "DP" in fmt}
    rows_ix = np.arange(n)
    out = []
    for sample in samples:
        fields = df[sample].str.split(":", expand=True)
        gt = fields[0]
        depth = np.full(n, np.nan)
        for fmt, i in dp_index.items():
            mask = (df["FORMAT"] == fmt).to_numpy()
            if i in fields.columns:
                dp = pd.to_numeric(fields.loc[mask, i], errors="coerce")
                depth[mask] = dp.to_numpy(dtype=float)
        parts = gt.str.replace("|", "/", regex=False).str.split("/", expand=True)
        calls = parts.replace({".": "-1", "": "-1"}).fillna("-9").astype(int).to_numpy()
        calls = calls[:, :2] if calls.shape[1] >= 2 else np.column_stack([calls[:, 0], calls[:, 0]])
        a0, a1 = calls[:, 0], np.where(calls[:, 1] == -9, calls[:, 0], calls[:, 1])
        missing = (a0 == -1) | (a1 == -1) | gt.isin(["", "."]).to_numpy()
        carried0, carried1 = a0 > 0, (a1 > 0) & (a1 != a0)
        is_variant = carried0 | carried1
        allele0 = np.where(carried0, alleles[rows_ix, np.clip(a0, 0, None)], None)
        allele1 = np.where(carried1, alleles[rows_ix, np.clip(a1, 0, None)], None)

        def snv_ok(a: Any, carried: Any) -> Any:
            return ~carried | np.isin(a, ["A", "C", "G", "T"])

        def indel(a: Any, carried: Any) -> Any:
            text = pd.Series(a, dtype=object).fillna("")
            return (
                carried
                & (text.str.len().to_numpy() != ref_len)
                & (text != "*").to_numpy()
                & ~text.str.startswith("<").to_numpy()
            )

        is_snv = is_variant & (ref_len == 1) & snv_ok(allele0, carried0) & snv_ok(allele1, carried1)
        is_indel = is_variant & (indel(allele0, carried0) | indel(allele1, carried1))
        first = np.where(carried0, allele0, allele1)
        pair = pd.Series(ref, dtype=object) + pd.Series(first, dtype=object).fillna("")
        ti = is_variant & is_snv & (n_alt == 1) & pair.isin(TRANSITIONS).to_numpy()
        tv = is_variant & is_snv & (n_alt == 1) & ~pair.isin(TRANSITIONS).to_numpy()
        called = ~missing
        het = int((called & (a0 != a1)).sum())
        hom_alt = int((called & (a0 == a1) & (a0 > 0)).sum())
        out.append(
            {
                "sampleid": sample,
                "variants": int(is_variant.sum()),
                "snvs": int(is_snv.sum()),
                "indels": int(is_indel.sum()),
                "het": het,
                "hom_alt": hom_alt,
                "het_hom_ratio": het / hom_alt if hom_alt else None,
                "ti_tv": int(ti.sum()) / int(tv.sum()) if tv.any() else None,
                "mean_qual": float(np.nanmean(qual[is_variant])) if is_variant.any() else None,
                "mean_depth": float(np.nanmean(depth[is_variant])) if is_variant.any() else None,
                "records": n,
                "hom_ref": int((called & (a0 == 0) & (a1 == 0)).sum()),
                "no_calls": int(missing.sum()),
                "multiallelic": int((is_variant & (n_alt > 1)).sum()),
                "transitions": int(ti.sum()),
                "transversions": int(tv.sum()),
            }
        )
    return pd.DataFrame(out).sort_values("sampleid").reset_index(drop=True)


# --------------------------------------------------------------------------------------- imports


def _load_in_child(
    moto: str, omics: str, table_bucket_arn: str, namespace: str, uri: str, import_id: str
) -> dict[str, Any]:
    """One ``load_variants`` in a fresh (spawned) process: seconds, rows and peak RSS (MiB)."""
    from omics_toolkit.aws.session import local_context
    from omics_toolkit.tables.loader import load_variants

    ctx = local_context(moto, omics)
    before = _vm_hwm_mib(os.getpid())
    cpu = time.process_time()
    seconds, result = _timed(
        lambda: load_variants(ctx, table_bucket_arn, namespace, uri, import_id)
    )
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "rows": result.rows,
        "files": result.files,
        "rss_before_load_mib": before,
        "peak_rss_mib": _vm_hwm_mib(os.getpid()),
    }


def read_vcf_only(vcf: Path) -> int:
    """Rows of the toolkit's VCF reader alone (cyvcf2 + per-row Python -> Arrow batches)."""
    from omics_toolkit.tables.vcf import read_vcf

    return sum(b.num_rows for b in read_vcf(vcf, job_id="bench", per_sample=True))


def import_tables(
    record: dict[str, Any], bucket_arn: str, namespace: str, uri: str, repeats: int
) -> list[dict[str, Any]]:
    runs = []
    spawn = multiprocessing.get_context("spawn")
    for i in range(repeats):
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            run = pool.submit(
                _load_in_child,
                record["moto"],
                record["omics"],
                bucket_arn,
                namespace,
                uri,
                f"bench-{i}",
            ).result()
        run["kind"] = "into an empty table" if i == 0 else "re-import (replaces the samples)"
        runs.append(run)
    return runs


def _wait_store(omics: Any, name: str) -> None:
    while omics.get_variant_store(name=name)["status"] not in ("ACTIVE", "FAILED"):
        time.sleep(0.1)


def _vm_hwm_mib(pid: int) -> float | None:
    """Peak RSS (``VmHWM``, MiB) of a live process; unlike ``ru_maxrss`` it is not inherited
    from the forking parent across exec."""
    status = Path(f"/proc/{pid}/status")
    if not status.is_file():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process so far (``/proc/<pid>/stat``)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.is_file():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_store(omics: Any, store: str, role_arn: str, uri: str, stack_pid: int) -> dict[str, Any]:
    """StartVariantImportJob -> COMPLETED; seconds from the start call to COMPLETED seen, and
    the CPU seconds the local stack process spent meanwhile (the emulator runs the import)."""
    cpu = _cpu_seconds(stack_pid)
    start = time.perf_counter()
    job_id = omics.start_variant_import_job(
        destinationName=store, roleArn=role_arn, items=[{"source": uri}]
    )["jobId"]
    while True:
        job = omics.get_variant_import_job(jobId=job_id)
        if job["status"] not in ("SUBMITTED", "IN_PROGRESS"):
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    if job["status"] != "COMPLETED":
        raise RuntimeError(f"variant import {job_id}: {job['status']} {job.get('statusMessage')}")
    cpu_after = _cpu_seconds(stack_pid)
    stack_cpu = round(cpu_after - cpu, 3) if cpu is not None and cpu_after is not None else None
    return {"seconds": round(seconds, 3), "stack_cpu_seconds": stack_cpu, "store": store}


def import_stores(
    ctx: Any, dep: Any, ref_arn: str, role_arn: str, uri: str, repeats: int, stack_pid: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    omics = ctx.client("omics")
    runs = []
    hwm_before = _vm_hwm_mib(stack_pid)
    for i in range(repeats):
        store = dep.names.variant_store
        if i:
            store = f"{dep.names.snake}_scratch{i}"
            omics.create_variant_store(name=store, reference={"referenceArn": ref_arn})
            _wait_store(omics, store)
        try:
            run = import_store(omics, store, role_arn, uri, stack_pid)
        finally:
            if i:
                omics.delete_variant_store(name=store, force=True)
        run["kind"] = "deployment's store" if i == 0 else "scratch store"
        runs.append(run)
    memory = {
        "stack_vm_hwm_before_mib": hwm_before,
        "stack_vm_hwm_after_mib": _vm_hwm_mib(stack_pid),
    }
    return runs, memory


# ---------------------------------------------------------------------------------------- report


def _rate(rows: int, runs: list[float]) -> float:
    return round(rows / statistics.median(runs), 1)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3)


def _same(a: Any, b: Any) -> bool:
    import math

    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, float) or isinstance(b, float):
        return b is not None and math.isclose(float(a), float(b), rel_tol=1e-9)
    return bool(a == b)


def compare_summaries(athena: Any, other: Any, columns: list[str]) -> list[str]:
    """Differences ``sample column athena other`` between two per-sample tables."""
    left = athena.set_index("sampleid")
    right = other.set_index("sampleid") if hasattr(other, "set_index") else None
    bad = []
    for sample in left.index:
        for col in columns:
            a = left.loc[sample, col]
            b = right.loc[sample, col] if right is not None else other[sample][col]
            a = None if a is None else a.item() if hasattr(a, "item") else a
            b = None if b is None else b.item() if hasattr(b, "item") else b
            if not _same(a, b):
                bad.append(f"{sample} {col} athena={a} other={b}")
    return bad


def markdown(result: dict[str, Any]) -> str:
    imp, reg, summ = result["import"], result["region_query"], result["sample_summary"]
    m = result["machine"]
    lines = [
        "# Variant back ends vs bcftools and pandas",
        "",
        f"Data: {result['data']['description']}. Region {result['data']['region']}.",
        f"Machine: {m['cpus']} CPUs, {m['memory']} RAM, Python {m['python']}, {m['bcftools']}, "
        f"pyiceberg {m['pyiceberg']}, duckdb {m['duckdb']}, pandas {m['pandas']}, "
        f"pyarrow {m['pyarrow']}, cyvcf2 {m['cyvcf2']}.",
        f"Reference of both deployments: {result['data']['reference']}.",
        "",
        "Import ratio: our rows/s / bcftools rows/s (below 1 = slower). Query ratios: our "
        "seconds / the baseline's seconds (above 1 = slower). Medians of "
        f"{result['repeats']} runs; Athena times are client side (PyAthena through "
        "`omics_toolkit.athena.run_query`, results read back from S3), engine ms is the local "
        "engine's own time (Statistics.EngineExecutionTimeInMillis).",
        "",
        "| step | tool / back end | runs s | median s | rows | rows/s | x bcftools | x pandas "
        "| engine ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def row(step: str, name: str, x: dict[str, Any]) -> str:
        rate = x.get("rows_per_second")
        engine = x.get("engine_ms")
        return (
            f"| {step} | {name} | {', '.join(f'{s:g}' for s in x['runs_seconds'])} | "
            f"{x['median_seconds']:g} | {x.get('rows', ''):,} | "
            f"{f'{rate:,.0f}' if rate else ''} | {x.get('ratio_to_bcftools', '')} | "
            f"{x.get('ratio_to_pandas', '')} | {', '.join(map(str, engine)) if engine else ''} |"
        )

    lines += [
        row("import", "bcftools query (baseline)", imp["bcftools_query"]),
        row("import", "S3 Tables `load_variants`", imp["s3tables"]),
        row("import", "variant store (emulator)", imp["stores"]),
        row("region 1 Mb", "`bcftools view -H -r` (baseline)", reg["bcftools_view"]),
        row("region 1 Mb", "pandas read + filter (baseline)", reg["pandas"]),
        row("region 1 Mb", "Athena on S3 Tables", reg["athena_s3tables"]),
        row("region 1 Mb", "Athena on variant store", reg["athena_stores"]),
        row("sample summary", "`bcftools stats -s -` (baseline)", summ["bcftools_stats"]),
        row("sample summary", "pandas read + compute (baseline)", summ["pandas"]),
        row("sample summary", "Athena on S3 Tables", summ["athena_s3tables"]),
        row("sample summary", "Athena on variant store", summ["athena_stores"]),
    ]
    t_cpu = [r["cpu_seconds"] for r in imp["s3tables"]["details"]]
    s_cpu = [r["stack_cpu_seconds"] for r in imp["stores"]["details"]]
    reader = imp["read_vcf_only"]
    mem = imp["stores"]["memory"]
    failed = [k for k, v in result["checks"].items() if v is not True]
    lines += [
        "",
        f"- Where import time goes: `omics_toolkit.tables.vcf.read_vcf` alone (cyvcf2 plus a "
        f"Python dict per row) takes {reader['seconds']} s ({reader['rows_per_second']:,.0f} "
        f"rows/s), {reader['share_of_s3tables_median']:.0%} of the S3 Tables median and "
        f"{reader['share_of_stores_median']:.0%} of the store median.",
        f"- CPU seconds of the imports (less sensitive to other load on the machine than wall "
        f"time): S3 Tables loader process {t_cpu}; local stack process during the store "
        f"imports {s_cpu}. Load average (1/5/15 min) before {m['load_average_1_5_15_before']}, "
        f"after {m['load_average_1_5_15_after']} on {m['cpus']} CPUs.",
        f"- Memory: S3 Tables loader peak RSS {imp['s3tables']['peak_rss_mib']} MiB in its child "
        f"process ({imp['s3tables']['rss_before_load_mib']} MiB before the load); the local "
        f"stack's peak RSS went {mem['stack_vm_hwm_before_mib']} -> "
        f"{mem['stack_vm_hwm_after_mib']} MiB over the store imports.",
        "- S3 Tables runs: the first fills an empty table, later ones replace the samples' "
        "rows (delete + append in one commit). Store runs: the first into the deployment's "
        "store, later ones into fresh scratch stores.",
        f"- Setup (not compared): {json.dumps(result['setup'])}; whole script "
        f"{result['total_seconds']} s.",
        f"- Checks: {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)} "
        f"({', '.join(result['checks'])}).",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main


def main() -> int:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    from omics_toolkit.data import fetch_cohort_vcf
    from omics_toolkit.files import sha256_file

    cached = fetch_cohort_vcf()  # the user's cache (before OMICS_TOOLKIT_HOME moves)
    began = time.perf_counter()
    info = machine_info()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-variants-") as home_name:
        home = Path(home_name)
        os.environ["OMICS_TOOLKIT_HOME"] = str(home)
        vcf = home / cached.name
        shutil.copyfile(cached, vcf)
        subprocess.run(["tabix", "-f", "-p", "vcf", str(vcf)], check=True)
        records, samples = vcf_shape(vcf)
        rows = records * len(samples)
        reference = stand_in_reference(home / "grch37-chr22-n.fa.gz")
        local_dir = home / "local"
        record = lifecycle.start(local_dir, with_omics=True)
        try:
            result = run_all(record, home, vcf, reference, records, samples, repeats)
        finally:
            lifecycle.stop(local_dir)
    info["load_average_1_5_15_before"] = [round(x, 2) for x in load_before]
    info["load_average_1_5_15_after"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"] = info
    result["repeats"] = repeats
    result["data"] = {
        "description": (
            f"drop-seq-testdata 2.5.2+dfsg-1 10_donors_chr22.selected_sites.vcf.gz, {records:,} "
            f"records x {len(samples)} samples = {rows:,} rows, contig {CONTIG}"
        ),
        "vcf_sha256": sha256_file(cached),
        "records": records,
        "samples": samples,
        "rows": rows,
        "region": f"{BCFTOOLS_REGION} (0-based [{REGION_START}, {REGION_END}))",
        "reference": (
            f"sequence-less stand-in: contig {CONTIG}, {CONTIG_LENGTH:,} bp of N (only the name "
            "and length matter to the import)"
        ),
    }
    result["total_seconds"] = round(time.perf_counter() - began, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "variants.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / "variants.md").write_text(text)
    print(text)
    failed = [k for k, v in result["checks"].items() if v is not True]
    for name in failed:
        print(f"check failed: {name}: {result['checks'][name]}", file=sys.stderr)
    return 1 if failed else 0


def _measure(runs: list[float], **extra: Any) -> dict[str, Any]:
    return {"runs_seconds": runs, "median_seconds": _median(runs), **extra}


def run_all(
    record: dict[str, Any],
    home: Path,
    vcf: Path,
    reference: Path,
    records: int,
    samples: list[str],
    repeats: int,
) -> dict[str, Any]:
    from omics_toolkit.athena import bind_named, load_query, run_query
    from omics_toolkit.aws.session import local_context
    from omics_toolkit.config import Settings
    from omics_toolkit.provisioning import s3tables as s3tables_prov
    from omics_toolkit.provisioning.provision import Provisioner

    rows = records * len(samples)
    ctx = local_context(record["moto"], record["omics"])
    checks: dict[str, Any] = {}

    # -- provisioning (setup, not benchmarked)
    settings = {
        backend: Settings(
            deployment=f"bvar-{'tables' if backend == 's3tables' else 'stores'}",
            home=home,
            poll_interval_seconds=1,
            variant_backend=backend,
        )
        for backend in ("stores", "s3tables")
    }
    setup: dict[str, float] = {}
    deps, provs = {}, {}
    for backend, s in settings.items():
        provs[backend] = Provisioner(ctx, s)
        seconds, deps[backend] = _timed(lambda p=provs[backend]: p.apply(str(reference)))
        _log(f"provisioned {s.deployment} ({backend}) in {seconds:.1f} s")
        setup[f"provision_{backend}_seconds"] = round(seconds, 2)
    s3 = ctx.client("s3")
    uris = {}
    for backend, dep in deps.items():
        key = f"runs/bench/{vcf.name}"
        s3.upload_file(str(vcf), dep.names.output_bucket, key)
        uris[backend] = f"s3://{dep.names.output_bucket}/{key}"

    # -- 1. import
    bcf_runs, _ = _repeat(lambda: bcftools_query(vcf), repeats)
    _log(f"bcftools query: {bcf_runs}")
    bcf_rate = _rate(rows, bcf_runs)
    tables_dep = deps["s3tables"]
    bucket_arn = s3tables_prov.find_table_bucket(provs["s3tables"])
    assert bucket_arn, "the S3 Tables deployment has no table bucket"
    tables_runs = import_tables(
        record, bucket_arn, tables_dep.names.table_namespace, uris["s3tables"], repeats
    )
    checks["s3tables_rows_written"] = all(r["rows"] == rows for r in tables_runs) or [
        r["rows"] for r in tables_runs
    ]
    t_secs = [r["seconds"] for r in tables_runs]
    _log(f"S3 Tables imports: {t_secs}")
    stores_dep = deps["stores"]
    omics = ctx.client("omics")
    ref_arn = omics.get_reference_metadata(
        referenceStoreId=stores_dep.require("reference_store_id"),
        id=stores_dep.require("reference_id"),
    )["arn"]
    role_arn = ctx.client("iam").get_role(RoleName=stores_dep.names.role("omics-import"))["Role"][
        "Arn"
    ]
    store_runs, store_memory = import_stores(
        ctx, stores_dep, ref_arn, role_arn, uris["stores"], repeats, int(record["pid"])
    )
    s_secs = [r["seconds"] for r in store_runs]
    _log(f"variant store imports: {s_secs}")
    reader_seconds, reader_rows = _timed(lambda: read_vcf_only(vcf))
    _log(f"read_vcf alone: {reader_seconds:.1f} s")
    imports = {
        "rows": rows,
        "bcftools_query": _measure(
            bcf_runs,
            rows=rows,
            rows_per_second=bcf_rate,
            command=f"bcftools query -f '{_escaped(QUERY_FORMAT)}' FILE > /dev/null",
        ),
        "s3tables": _measure(
            t_secs,
            rows=rows,
            rows_per_second=_rate(rows, t_secs),
            ratio_to_bcftools=_ratio(_rate(rows, t_secs), bcf_rate),
            details=tables_runs,
            peak_rss_mib=max(r["peak_rss_mib"] for r in tables_runs),
            rss_before_load_mib=tables_runs[0]["rss_before_load_mib"],
            source=uris["s3tables"],
        ),
        "stores": _measure(
            s_secs,
            rows=rows,
            rows_per_second=_rate(rows, s_secs),
            ratio_to_bcftools=_ratio(_rate(rows, s_secs), bcf_rate),
            details=store_runs,
            memory=store_memory,
            source=uris["stores"],
        ),
        "read_vcf_only": {
            "seconds": round(reader_seconds, 3),
            "rows": reader_rows,
            "rows_per_second": round(reader_rows / reader_seconds, 1),
            "share_of_s3tables_median": _ratio(reader_seconds, statistics.median(t_secs)),
            "share_of_stores_median": _ratio(reader_seconds, statistics.median(s_secs)),
            "what": "omics_toolkit.tables.vcf.read_vcf(per_sample=True) alone, one run, "
            "in the benchmark process: the reader both back ends share",
        },
    }

    athena_client = ctx.client("athena")
    engine_ms: dict[str, list[int]] = {}

    def executions() -> set[str]:
        pages = athena_client.get_paginator("list_query_executions").paginate()
        return {i for page in pages for i in page["QueryExecutionIds"]}

    def athena(backend: str, sql: str, params: list[Any] | None = None) -> Any:
        return run_query(ctx, settings[backend], sql, params)

    def athena_timed(label: str, backend: str, sql: str, params: list[Any] | None = None) -> Any:
        """Client-side runs (run_query) and the engine's own time (Statistics, untimed)."""
        runs, df = [], None
        for _ in range(repeats):
            seen = executions()
            seconds, df = _timed(lambda: athena(backend, sql, params))
            runs.append(round(seconds, 4))
            for qid in executions() - seen:
                stats = athena_client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
                ms = stats.get("Statistics", {}).get("EngineExecutionTimeInMillis")
                engine_ms.setdefault(f"{label}_{backend}", []).append(ms)
        return runs, df

    for backend in settings:
        total = athena(backend, "SELECT count(*) AS n FROM variants")
        checks[f"{backend}_table_rows"] = int(total.loc[0, "n"]) == rows or int(total.loc[0, "n"])

    # -- 2. region query
    region_q = load_query("variants_in_region")
    sql, params = bind_named(
        region_q.sql,
        {"contig": CONTIG, "region_start": REGION_START, "region_end": REGION_END},
        region_q.params,
    )
    bv_runs, bv_records = _repeat(lambda: bcftools_region(vcf), repeats)
    pd_runs, pd_rows = _repeat(lambda: pandas_region(vcf, samples), repeats)
    _log(f"bcftools view -r: {bv_runs}; pandas region: {pd_runs}")
    region: dict[str, Any] = {
        "bcftools_view": _measure(bv_runs, rows=bv_records * len(samples), records=bv_records),
        "pandas": _measure(pd_runs, rows=len(pd_rows)),
    }
    expected = bv_records * len(samples)
    for backend in settings:
        runs, df = athena_timed("region", backend, sql, params)
        med = statistics.median(runs)
        _log(f"region query on {backend}: {runs}")
        region[f"athena_{backend}"] = _measure(
            runs,
            rows=len(df),
            ratio_to_bcftools=_ratio(med, statistics.median(bv_runs)),
            ratio_to_pandas=_ratio(med, statistics.median(pd_runs)),
            engine_ms=engine_ms.get(f"region_{backend}"),
        )
        checks[f"region_rows_{backend}"] = len(df) == expected or len(df)
        got = set(zip(df.sampleid, df.start, df["gt"], strict=True))
        # the query writes a missing allele as -1 ('./.' -> '-1/-1')
        pd_gt = pd_rows["gt"].str.replace(".", "-1", regex=False)
        want = set(zip(pd_rows.sampleid, pd_rows.start, pd_gt, strict=True))
        checks[f"region_rows_equal_pandas_{backend}"] = got == want or len(got ^ want)
    checks["region_rows_pandas"] = len(pd_rows) == expected or len(pd_rows)

    # -- 3. per-sample summary
    summary_sql = load_query("sample_summary").sql
    bs_runs, psc = _repeat(lambda: bcftools_stats(vcf), repeats)
    ps_runs, pd_summary = _repeat(lambda: pandas_summary(vcf, samples), repeats)
    _log(f"bcftools stats: {bs_runs}; pandas summary: {ps_runs}")
    summary: dict[str, Any] = {
        "bcftools_stats": _measure(bs_runs, rows=len(psc)),
        "pandas": _measure(ps_runs, rows=len(pd_summary)),
    }
    columns = [c for c in pd_summary.columns if c != "sampleid"]
    for backend in settings:
        runs, df = athena_timed("summary", backend, summary_sql)
        med = statistics.median(runs)
        _log(f"sample summary on {backend}: {runs}")
        summary[f"athena_{backend}"] = _measure(
            runs,
            rows=len(df),
            ratio_to_bcftools=_ratio(med, statistics.median(bs_runs)),
            ratio_to_pandas=_ratio(med, statistics.median(ps_runs)),
            engine_ms=engine_ms.get(f"summary_{backend}"),
        )
        bad_pd = compare_summaries(df, pd_summary, columns)
        bad_bcf = compare_summaries(df, psc, PSC_COMPARED)
        checks[f"summary_equals_pandas_{backend}"] = not bad_pd or bad_pd[:5]
        checks[f"summary_equals_bcftools_psc_{backend}"] = not bad_bcf or bad_bcf[:5]
        if backend == "s3tables":
            first = df.sort_values("sampleid").iloc[0]
            summary["example"] = {
                "sampleid": first["sampleid"],
                "athena": {
                    c: first[c].item() if hasattr(first[c], "item") else first[c]
                    for c in PSC_COMPARED
                },
                "bcftools_psc": psc[first["sampleid"]],
            }
    return {
        "setup": setup,
        "import": imports,
        "region_query": region,
        "sample_summary": summary,
        "checks": checks,
    }


if __name__ == "__main__":
    sys.exit(main())
