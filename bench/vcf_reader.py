"""The shared VCF reader alone: row by row (the baseline) vs columnar (the current reader).

Usage: ``.venv/bin/python bench/vcf_reader.py [REPEATS]`` (default 3). No local stack, no AWS.

Data: the 10-donor GRCh37 chr22 cohort VCF (:func:`omics_toolkit.data.fetch_cohort_vcf`, 113,300
records x 10 samples = 1,133,000 variant rows), read from the cache as the importers read a
downloaded VCF.

Measured, in this one process, REPEATS runs of each reader interleaved (baseline, columnar,
baseline, ...): wall and CPU seconds of ``read_vcf(path, job_id=..., per_sample=True)`` with the
default batch size, every batch consumed and dropped (the importers stream batches on). Rows/s
are rows / median seconds; the ratio is columnar / baseline (above 1: faster). Memory: each
reader once more in its own spawned process, which reports its peak RSS (``VmHWM``), its RSS
before reading (after the imports) and the Arrow memory pool's peak.

Baseline: :func:`baseline_read_vcf` below, a verbatim copy of ``omics_toolkit.tables.vcf.read_vcf``
as of commit e3c57e9 (one Python dict per row from cyvcf2, ``RecordBatch.from_pydict`` per
batch), kept here only to be measured against. Correctness check: both readers' batches over the
whole cohort are equal one for one (``RecordBatch.equals``: schema, values, NULLs, row order,
batch boundaries). Writes ``bench/results/vcf_reader.json`` and ``bench/results/vcf_reader.md``
and prints the table. Exit status 1 when the check fails; nothing timed is asserted.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from omics_toolkit.tables.schema import (
    ANNOTATION_VCF_COLUMNS,
    VARIANT_COLUMNS,
    Column,
    arrow_schema,
)
from omics_toolkit.tables.vcf import VcfError, read_vcf

RESULTS = Path(__file__).resolve().parent / "results"
JOB_ID = "bench"

# ------------------------------------------------------------------------------------------------
# BASELINE ONLY: the row-by-row reader this benchmark compares against, copied verbatim from
# omics_toolkit/tables/vcf.py at commit e3c57e9 (names prefixed ``_b``). Not used by the toolkit.
# ------------------------------------------------------------------------------------------------

_B_INT_MISSING = -2147483648
_B_INT_VECTOR_END = -2147483647
_B_FORMAT_FIELDS = ("AD", "DP", "GQ", "PL", "GL", "SPL", "PS")
_B_BATCH_ROWS = 65_536


def _b_ints(values: Any) -> list[int | None] | None:
    if values is None:
        return None
    out = [
        None if int(x) == _B_INT_MISSING else int(x) for x in values if int(x) != _B_INT_VECTOR_END
    ]
    return out if any(x is not None for x in out) else None


def _b_floats(values: Any) -> list[float | None] | None:
    if values is None:
        return None
    out = [None if math.isnan(float(x)) else float(x) for x in values]
    return out if any(x is not None for x in out) else None


def _b_scalar(values: Any) -> int | None:
    vals = _b_ints(values)
    return vals[0] if vals else None


def _b_attributes(info_text: str) -> list[tuple[str, str]]:
    if info_text in ("", "."):
        return []
    pairs = []
    for item in info_text.split(";"):
        key, sep, value = item.partition("=")
        pairs.append((key, value if sep else "true"))
    return pairs


def _b_format(variant: Any, name: str) -> Any:
    try:
        return variant.format(name)
    except KeyError:
        return None


class _BColumns:
    """Column-wise row buffer flushed as Arrow record batches."""

    def __init__(self, columns: list[Column]) -> None:
        self.columns = columns
        self.schema = arrow_schema(columns)
        self.data: dict[str, list[Any]] = {name: [] for name, _, _ in columns}
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        for name, values in self.data.items():
            values.append(row.get(name))
        self.rows += 1

    def flush(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(self.data, schema=self.schema)
        self.data = {name: [] for name in self.data}
        self.rows = 0
        return batch


def baseline_read_vcf(
    path: Path,
    *,
    job_id: str,
    per_sample: bool,
    uri: str | None = None,
    known_contigs: set[str] | None = None,
    contig_map: Callable[[str], str] | None = None,
    batch_rows: int = _B_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """BASELINE: the row-by-row ``read_vcf`` of commit e3c57e9 (see the module docstring)."""
    from cyvcf2 import VCF

    name = uri or str(path)
    try:
        vcf = VCF(str(path))
    except Exception as exc:  # cyvcf2 raises plain Exception for bad headers
        raise VcfError(f"{name}: not a readable VCF ({exc})") from exc
    samples = list(vcf.samples)
    out = _BColumns(VARIANT_COLUMNS if per_sample else ANNOTATION_VCF_COLUMNS)
    try:
        for v in vcf:
            contig = contig_map(v.CHROM) if contig_map else v.CHROM
            if known_contigs is not None and contig not in known_contigs:
                raise VcfError(
                    f"{name}: contig {v.CHROM} is not in the reference "
                    f"(reference contigs: {', '.join(sorted(known_contigs)[:10])})"
                )
            start = v.POS - 1
            base = {
                "importjobid": job_id,
                "contigname": contig,
                "start": start,
                "end": start + len(v.REF),
                "names": v.ID.split(";") if v.ID else None,
                "referenceallele": v.REF,
                "alternatealleles": list(v.ALT),
                "qual": None if v.QUAL is None else float(v.QUAL),
                "filters": list(v.FILTERS) or None,
                "splitfrommultiallelic": False,
                "attributes": _b_attributes(str(v).split("\t", 8)[7].rstrip("\r\n")),
            }
            if not per_sample or not samples:
                out.add(base)
            else:
                genotypes = v.genotypes
                fmt = {k: _b_format(v, k) for k in _B_FORMAT_FIELDS}
                for i, sample in enumerate(samples):
                    gt = genotypes[i] if genotypes else None
                    row = dict(base)
                    row.update(
                        sampleid=sample,
                        calls=[int(a) for a in gt[:-1]] if gt else None,
                        phased=bool(gt[-1]) if gt else None,
                        alleledepths=_b_ints(fmt["AD"][i]) if fmt["AD"] is not None else None,
                        depth=_b_scalar(fmt["DP"][i]) if fmt["DP"] is not None else None,
                        conditionalquality=_b_scalar(fmt["GQ"][i])
                        if fmt["GQ"] is not None
                        else None,
                        phredlikelihoods=_b_ints(fmt["PL"][i]) if fmt["PL"] is not None else None,
                        genotypelikelihoods=_b_floats(fmt["GL"][i])
                        if fmt["GL"] is not None
                        else None,
                        spl=_b_ints(fmt["SPL"][i]) if fmt["SPL"] is not None else None,
                        ps=_b_scalar(fmt["PS"][i]) if fmt["PS"] is not None else None,
                    )
                    out.add(row)
            if out.rows >= batch_rows:
                yield out.flush()
        if out.rows:
            yield out.flush()
    except VcfError:
        raise
    except Exception as exc:
        raise VcfError(f"{name}: malformed VCF record ({exc})") from exc
    finally:
        vcf.close()


# ------------------------------------------------------------------------------ end of baseline

READERS: dict[str, Callable[..., Iterator[pa.RecordBatch]]] = {
    "baseline": baseline_read_vcf,
    "columnar": read_vcf,
}
LABELS = {
    "baseline": "row by row (baseline, commit e3c57e9)",
    "columnar": "columnar (`omics_toolkit.tables.vcf.read_vcf`)",
}
_T0 = time.perf_counter()


def _log(message: str) -> None:
    """Progress on stderr with the seconds since start."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def _rows(reader: str, vcf: Path) -> int:
    return sum(b.num_rows for b in READERS[reader](vcf, job_id=JOB_ID, per_sample=True))


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _memory_child(reader: str, vcf: str) -> dict[str, Any]:
    """Run in a spawned process: one read, then its peak RSS, RSS before and Arrow pool peak."""
    import cyvcf2  # noqa: F401  (imported before the baseline RSS is taken, as the reader would)
    import numpy  # noqa: F401

    before = _status_mib("VmRSS")
    rows = _rows(reader, Path(vcf))
    return {
        "rows": rows,
        "rss_before_mib": before,
        "peak_rss_mib": _status_mib("VmHWM"),
        "arrow_pool_peak_mib": round(pa.default_memory_pool().max_memory() / 2**20, 1),
    }


def _identical(vcf: Path) -> dict[str, Any]:
    """Both readers' batches over the whole VCF, compared one for one."""
    old = baseline_read_vcf(vcf, job_id=JOB_ID, per_sample=True)
    new = read_vcf(vcf, job_id=JOB_ID, per_sample=True)
    batches = rows = 0
    equal = True
    for a in old:
        b = next(new, None)
        equal = equal and b is not None and a.schema == b.schema and a.equals(b)
        batches, rows = batches + 1, rows + a.num_rows
    equal = equal and next(new, None) is None
    return {"identical_batches": equal, "batches": batches, "rows": rows}


def machine_info() -> dict[str, Any]:
    import cyvcf2
    import numpy

    kib = int(Path("/proc/meminfo").read_text().splitlines()[0].split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory": f"{kib / 2**20:.1f} GiB",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cyvcf2": cyvcf2.__version__,
        "pyarrow": pa.__version__,
        "numpy": numpy.__version__,
    }


def measure(vcf: Path, repeats: int) -> dict[str, Any]:
    """Timings (interleaved, this process), memory (spawned processes) and the equality check."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in READERS}
    rows = 0
    for i in range(repeats):
        for name in READERS:
            wall, cpu = time.perf_counter(), time.process_time()
            rows = _rows(name, vcf)
            runs[name].append(
                {
                    "seconds": round(time.perf_counter() - wall, 3),
                    "cpu_seconds": round(time.process_time() - cpu, 3),
                }
            )
            _log(f"run {i + 1}/{repeats} {name}: {runs[name][-1]} ({rows:,} rows)")
    out: dict[str, Any] = {}
    ctx = multiprocessing.get_context("spawn")
    for name in READERS:
        with ctx.Pool(1) as pool:
            memory = pool.apply(_memory_child, (name, str(vcf)))
        _log(f"memory {name}: {memory}")
        seconds = statistics.median(r["seconds"] for r in runs[name])
        cpu_seconds = statistics.median(r["cpu_seconds"] for r in runs[name])
        out[name] = {
            "what": LABELS[name],
            "runs_seconds": [r["seconds"] for r in runs[name]],
            "runs_cpu_seconds": [r["cpu_seconds"] for r in runs[name]],
            "median_seconds": round(seconds, 3),
            "median_cpu_seconds": round(cpu_seconds, 3),
            "rows": rows,
            "rows_per_second": round(rows / seconds),
            "rows_per_cpu_second": round(rows / cpu_seconds),
            **{k: v for k, v in memory.items() if k != "rows"},
        }
    old, new = out["baseline"], out["columnar"]
    out["ratio_columnar_over_baseline"] = {
        "rows_per_second": round(new["rows_per_second"] / old["rows_per_second"], 2),
        "rows_per_cpu_second": round(new["rows_per_cpu_second"] / old["rows_per_cpu_second"], 2),
        "peak_rss": round(new["peak_rss_mib"] / old["peak_rss_mib"], 2),
    }
    _log("checking that both readers give identical batches")
    out["checks"] = _identical(vcf)
    return out


def markdown(result: dict[str, Any]) -> str:
    info, data = result["machine"], result["data"]
    lines = [
        "# Shared VCF reader: row by row vs columnar",
        "",
        f"Data: {data['name']}, {data['records']:,} records x {data['samples']} samples = "
        f"{data['rows']:,} rows, `read_vcf(per_sample=True)`, default batch size, batches "
        "consumed and dropped.",
        f"Machine: {info['cpus']} CPUs, {info['memory']} RAM, Python {info['python']}, "
        f"cyvcf2 {info['cyvcf2']}, pyarrow {info['pyarrow']}, numpy {info['numpy']}. "
        f"Load average (1/5/15 min) before {result['load_average_1_5_15_before']}, after "
        f"{result['load_average_1_5_15_after']}.",
        "",
        f"{result['repeats']} interleaved runs of each reader in one process; rows/s = rows / "
        "median. Ratio = columnar / baseline (above 1: faster; for memory, above 1: more). "
        "Memory: one more read of each in its own spawned process (peak RSS includes the "
        "interpreter and imports; the RSS before reading is given).",
        "",
        "| reader | runs s | CPU s | median s | rows/s | rows/CPU-s | peak RSS MiB | RSS before "
        "MiB | Arrow pool peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in READERS:
        r = result[name]
        lines.append(
            f"| {r['what']} | {', '.join(map(str, r['runs_seconds']))} | "
            f"{', '.join(map(str, r['runs_cpu_seconds']))} | {r['median_seconds']} | "
            f"{r['rows_per_second']:,} | {r['rows_per_cpu_second']:,} | {r['peak_rss_mib']} | "
            f"{r['rss_before_mib']} | {r['arrow_pool_peak_mib']} |"
        )
    ratio, checks = result["ratio_columnar_over_baseline"], result["checks"]
    lines += [
        "",
        f"- Ratio columnar / baseline: rows/s x{ratio['rows_per_second']}, rows/CPU-s "
        f"x{ratio['rows_per_cpu_second']}, peak RSS x{ratio['peak_rss']}.",
        f"- Check: the two readers' {checks['batches']} batches ({checks['rows']:,} rows) are "
        f"{'identical' if checks['identical_batches'] else 'NOT identical'} "
        "(`RecordBatch.equals`, one for one).",
        f"- Whole script {result['script_seconds']} s.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    from omics_toolkit.data import fetch_cohort_vcf

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    vcf = fetch_cohort_vcf()
    from cyvcf2 import VCF

    reader = VCF(str(vcf))
    samples, records = len(reader.samples), sum(1 for _ in reader)
    reader.close()
    load_before = [round(x, 2) for x in os.getloadavg()]
    result: dict[str, Any] = {
        "data": {
            "name": vcf.name,
            "records": records,
            "samples": samples,
            "rows": records * samples,
        },
        "machine": machine_info(),
        "repeats": repeats,
        "load_average_1_5_15_before": load_before,
    }
    result.update(measure(vcf, repeats))
    result["load_average_1_5_15_after"] = [round(x, 2) for x in os.getloadavg()]
    result["script_seconds"] = round(time.perf_counter() - _T0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "vcf_reader.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / "vcf_reader.md").write_text(text)
    print(text)
    return 0 if result["checks"]["identical_batches"] else 1


if __name__ == "__main__":
    sys.exit(main())
