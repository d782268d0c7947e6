"""The shared VCF reader (:func:`omics_toolkit.tables.vcf.read_vcf`) on hand-written edge cases.

Expected values are the reader's definitions (module docstring of ``omics_toolkit.tables.vcf``):
0-based half-open coordinates, QUAL ``.`` NULL, FILTER ``.`` NULL, INFO flags ``"true"``, GT
``-1`` for a no-call allele, FORMAT vector-end values dropped and missing values NULL, a sample
with no value for a field NULL. GL values are float32 in htslib but stored as written: ``-20.1``
(not ``-20.100000381469727``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from omics_toolkit.tables.schema import ANNOTATION_VCF_COLUMNS, VARIANT_COLUMNS, arrow_schema
from omics_toolkit.tables.vcf import VcfError, read_vcf

HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=q10,Description="Quality below 10">
##FILTER=<ID=s50,Description="Less than 50% of samples have data">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP membership">
##INFO=<ID=H2,Number=0,Type=Flag,Description="HapMap2 membership">
##INFO=<ID=NOTE,Number=1,Type=String,Description="Free text">
##INFO=<ID=ANN,Number=.,Type=String,Description="Annotations">
##INFO=<ID=END,Number=1,Type=Integer,Description="End position">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled likelihoods">
##FORMAT=<ID=GL,Number=G,Type=Float,Description="Log10 likelihoods">
##FORMAT=<ID=SPL,Number=G,Type=Integer,Description="Scaled likelihoods">
##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">
##contig=<ID=chr1,length=1000000>
##contig=<ID=chrX,length=1000000>
##contig=<ID=chrM,length=16569>
"""
SITE_COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
SAMPLE_COLUMNS = SITE_COLUMNS + "\tFORMAT\tS1\tS2\tS3"
RECORDS = [
    # SNV, two IDs, PASS, INFO flags and a value holding '=' ',' and ' '; every FORMAT field.
    "chr1\t100\trs1;rs2\tA\tG\t110.415\tPASS\tDP=30;AF=0.5;DB;H2;NOTE=a=b,c d\t"
    "GT:AD:DP:GQ:PL:GL:SPL:PS\t0/1:10,12:22:99:200,0,180:-20.1,0,-18:200,0,180:100\t"
    "1|1:0,15:15:45:400,45,0:-40,-4.5,0:400,45,0:100\t./.:.:.:.:.:.:.:.",
    # Multi-allelic deletion/insertion, QUAL '.', two FILTERs, partly missing AD/PL, no GL.
    "chr1\t200\t.\tAC\tA,ACC\t.\tq10;s50\tDP=5;AF=0.25,0.125\tGT:AD:DP:GQ:PL:GL\t"
    "1/2:1,2,3:6:12:50,40,30,20,0,10:-5,-4,-3,-2,0,-1\t0|2:.,3,4:7:.:60,.,50,40,30,0:.,.,.,.,.,.\t"
    "2/2:0,0,5:5:20:.:.",
    # Haploid record, INFO '.'.
    "chrX\t300\t.\tG\tT\t12.5\tPASS\t.\tGT:DP\t0:8\t1:9\t.:.",
    # Mixed ploidy, FILTER '.'.
    "chrX\t400\trs3\tT\tC\t99\t.\tNOTE=x\tGT:AD:DP\t0/1:3,4:7\t1\t./.",
    # ALT '.', QUAL '.', FILTER '.', INFO '.', a sample with trailing fields left out.
    "chr1\t500\t.\tG\t.\t.\t.\t.\tGT:DP\t0/0:10\t0/0:11\t0/0",
    # 4-base REF: end = start + 4 (END in INFO is an attribute, not the end).
    "chr1\t600\t.\tTCAG\tT\t30\tPASS\tEND=603;ANN=T|del|HIGH,T|del|LOW\tGT:AD:DP:GQ\t0/1\t"
    "1/1:0,9:9:27\t0|1:4,4:8:30",
    # Three ALTs, vector ends in AD and PL.
    "chr1\t800\t.\tA\tC,G,T\t70\tPASS\tAF=0.1,0.2,0.3\tGT:AD:PL\t3/3:1,2,3,40:.\t"
    "0/1:5,6,.,.:10,0,20,.,.,.,.,.,.,.\t1|2:.,.,.,.:0,1,2,3,4,5,6,7,8,9",
]
SITES = [
    # contigname, start, end, names, REF, ALT, qual, filters, attributes
    (
        "chr1",
        99,
        100,
        ["rs1", "rs2"],
        "A",
        ["G"],
        110.415,  # as written, not the float32 htslib holds (110.41500091552734)
        ["PASS"],
        [("DP", "30"), ("AF", "0.5"), ("DB", "true"), ("H2", "true"), ("NOTE", "a=b,c d")],
    ),
    (
        "chr1",
        199,
        201,
        None,
        "AC",
        ["A", "ACC"],
        None,
        ["q10", "s50"],
        [("DP", "5"), ("AF", "0.25,0.125")],
    ),
    ("chrX", 299, 300, None, "G", ["T"], 12.5, ["PASS"], []),
    ("chrX", 399, 400, ["rs3"], "T", ["C"], 99.0, None, [("NOTE", "x")]),
    ("chr1", 499, 500, None, "G", [], None, None, []),
    (
        "chr1",
        599,
        603,
        None,
        "TCAG",
        ["T"],
        30.0,
        ["PASS"],
        [("END", "603"), ("ANN", "T|del|HIGH,T|del|LOW")],
    ),
    ("chr1", 799, 800, None, "A", ["C", "G", "T"], 70.0, ["PASS"], [("AF", "0.1,0.2,0.3")]),
]
# sampleid, calls, phased, alleledepths, depth, conditionalquality, phredlikelihoods,
# genotypelikelihoods, spl, ps -- per record, per sample
CALLS = [
    [
        ("S1", [0, 1], False, [10, 12], 22, 99, [200, 0, 180], [-20.1, 0.0, -18.0])
        + ([200, 0, 180], 100),
        ("S2", [1, 1], True, [0, 15], 15, 45, [400, 45, 0], [-40.0, -4.5, 0.0], [400, 45, 0], 100),
        ("S3", [-1, -1], False, None, None, None, None, None, None, None),
    ],
    [
        ("S1", [1, 2], False, [1, 2, 3], 6, 12, [50, 40, 30, 20, 0, 10])
        + ([-5.0, -4.0, -3.0, -2.0, 0.0, -1.0], None, None),
        ("S2", [0, 2], True, [None, 3, 4], 7, None, [60, None, 50, 40, 30, 0], None, None, None),
        ("S3", [2, 2], False, [0, 0, 5], 5, 20, None, None, None, None),
    ],
    [
        ("S1", [0], False, None, 8, None, None, None, None, None),
        ("S2", [1], False, None, 9, None, None, None, None, None),
        ("S3", [-1], False, None, None, None, None, None, None, None),
    ],
    [
        ("S1", [0, 1], False, [3, 4], 7, None, None, None, None, None),
        # A haploid call in a diploid record: no separator, unphased (cyvcf2 says phased).
        ("S2", [1], False, None, None, None, None, None, None, None),
        ("S3", [-1, -1], False, None, None, None, None, None, None, None),
    ],
    [
        ("S1", [0, 0], False, None, 10, None, None, None, None, None),
        ("S2", [0, 0], False, None, 11, None, None, None, None, None),
        ("S3", [0, 0], False, None, None, None, None, None, None, None),
    ],
    [
        ("S1", [0, 1], False, None, None, None, None, None, None, None),
        ("S2", [1, 1], False, [0, 9], 9, 27, None, None, None, None),
        ("S3", [0, 1], True, [4, 4], 8, 30, None, None, None, None),
    ],
    [
        ("S1", [3, 3], False, [1, 2, 3, 40], None, None, None, None, None, None),
        ("S2", [0, 1], False, [5, 6, None, None], None, None)
        + ([10, 0, 20, None, None, None, None, None, None, None], None, None, None),
        ("S3", [1, 2], True, None, None, None, list(range(10)), None, None, None),
    ],
]
SITE_NAMES = [
    "contigname",
    "start",
    "end",
    "names",
    "referenceallele",
    "alternatealleles",
    "qual",
    "filters",
    "attributes",
]
CALL_NAMES = [
    "sampleid",
    "calls",
    "phased",
    "alleledepths",
    "depth",
    "conditionalquality",
    "phredlikelihoods",
    "genotypelikelihoods",
    "spl",
    "ps",
]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, newline="")
    return path


def _samples_vcf(tmp_path: Path, records: list[str] = RECORDS) -> Path:
    return _write(
        tmp_path, "samples.vcf", HEADER + SAMPLE_COLUMNS + "\n" + "\n".join(records) + "\n"
    )


def _sites_vcf(tmp_path: Path, newline: str = "\n") -> Path:
    sites = ["\t".join(r.split("\t")[:8]) for r in RECORDS]
    text = HEADER + SITE_COLUMNS + "\n" + "\n".join(sites) + "\n"
    return _write(tmp_path, "sites.vcf", text.replace("\n", newline))


def _rows(batches: list[pa.RecordBatch], names: list[str]) -> list[tuple]:
    table = pa.Table.from_batches(batches)
    return list(zip(*(table.column(n).to_pylist() for n in names), strict=True))


def test_one_row_per_sample_per_record_with_exact_values(tmp_path):
    batches = list(read_vcf(_samples_vcf(tmp_path), job_id="job-7", per_sample=True))
    assert [b.schema for b in batches] == [arrow_schema(VARIANT_COLUMNS)]
    expected_sites = [site for site in SITES for _ in range(3)]
    assert _rows(batches, SITE_NAMES) == expected_sites
    assert _rows(batches, CALL_NAMES) == [call for record in CALLS for call in record]
    assert _rows(batches, ["importjobid", "splitfrommultiallelic"]) == [("job-7", False)] * 21


@pytest.mark.parametrize("per_sample", [True, False])
def test_sites_only_vcf_gives_one_row_per_record(tmp_path, per_sample):
    batches = list(read_vcf(_sites_vcf(tmp_path), job_id="j", per_sample=per_sample))
    columns = VARIANT_COLUMNS if per_sample else ANNOTATION_VCF_COLUMNS
    assert [b.schema for b in batches] == [arrow_schema(columns)]
    assert _rows(batches, SITE_NAMES) == SITES
    assert _rows(batches, ["sampleid"]) == [(None,)] * len(SITES)
    if per_sample:
        assert _rows(batches, CALL_NAMES[1:]) == [(None,) * 9] * len(SITES)


def test_annotation_table_ignores_samples(tmp_path):
    batches = list(read_vcf(_samples_vcf(tmp_path), job_id="j", per_sample=False))
    assert [b.schema for b in batches] == [arrow_schema(ANNOTATION_VCF_COLUMNS)]
    assert _rows(batches, SITE_NAMES) == SITES
    assert _rows(batches, ["sampleid"]) == [(None,)] * len(SITES)


def test_crlf_line_ends_are_not_part_of_info(tmp_path):
    batches = list(read_vcf(_sites_vcf(tmp_path, "\r\n"), job_id="j", per_sample=False))
    assert _rows(batches, ["attributes"]) == [(site[8],) for site in SITES]


def test_batches_end_after_the_record_that_reaches_batch_rows(tmp_path):
    batches = list(read_vcf(_samples_vcf(tmp_path), job_id="j", per_sample=True, batch_rows=7))
    assert [b.num_rows for b in batches] == [9, 9, 3]  # 3 records of 3 samples, never split
    whole = list(read_vcf(_samples_vcf(tmp_path), job_id="j", per_sample=True))
    assert pa.Table.from_batches(batches).equals(pa.Table.from_batches(whole))
    sites = list(read_vcf(_sites_vcf(tmp_path), job_id="j", per_sample=False, batch_rows=1))
    assert [b.num_rows for b in sites] == [1] * len(SITES)


def test_contig_map_and_known_contigs(tmp_path):
    mapped = list(
        read_vcf(
            _samples_vcf(tmp_path),
            job_id="j",
            per_sample=True,
            contig_map=lambda c: c.removeprefix("chr"),
            known_contigs={"1", "X", "M"},
        )
    )
    assert [r[0] for r in _rows(mapped, ["contigname"])] == ["1"] * 6 + ["X"] * 6 + ["1"] * 9


def test_unknown_contig_fails_at_its_record_after_earlier_batches(tmp_path):
    records = [*RECORDS[:2], RECORDS[2].replace("chrX", "chrM"), "chr9" + RECORDS[0][4:]]
    got: list[pa.RecordBatch] = []
    with pytest.raises(VcfError) as info:
        for batch in read_vcf(
            _samples_vcf(tmp_path, records),
            job_id="j",
            per_sample=True,
            uri="s3://bucket/cohort.vcf.gz",
            known_contigs={"chr1", "chrM"},
            batch_rows=3,
        ):
            got.append(batch)
    assert str(info.value) == (
        "s3://bucket/cohort.vcf.gz: contig chr9 is not in the reference "
        "(reference contigs: chr1, chrM)"
    )
    assert [b.num_rows for b in got] == [3, 3, 3]


def test_record_without_gt_is_malformed(tmp_path):
    records = [RECORDS[0], "chr1\t150\t.\tA\tC\t10\tPASS\tDP=1\tDP:GQ\t5:10\t6:11\t7:12"]
    with pytest.raises(VcfError, match=r"samples\.vcf: malformed VCF record \(error parsing"):
        list(read_vcf(_samples_vcf(tmp_path, records), job_id="j", per_sample=True))


def test_unreadable_header_names_the_file(tmp_path):
    path = _write(tmp_path, "broken.vcf", "not a vcf\n")
    with pytest.raises(VcfError, match=r"^s3://b/broken\.vcf: not a readable VCF"):
        list(read_vcf(path, job_id="j", per_sample=True, uri="s3://b/broken.vcf"))


def test_format_field_declared_with_another_type_is_converted_value_by_value(tmp_path):
    header = HEADER.replace("ID=AD,Number=R,Type=Integer", "ID=AD,Number=R,Type=Float").replace(
        "ID=GL,Number=G,Type=Float", "ID=GL,Number=G,Type=Integer"
    )
    records = [
        "chr1\t100\t.\tA\tG\t50\tPASS\t.\tGT:AD:DP:GL\t0/1:1.5,2.7:12:1,2,3\t0/0:0,1:7:4,5,6\t"
        "1/1:3,9.9:15:7,8,9",
        "chr1\t200\t.\tA\tC\t50\tPASS\t.\tGT:DP\t0/1:13\t0/0:.\t1/1:8",
    ]
    path = _write(tmp_path, "typed.vcf", header + SAMPLE_COLUMNS + "\n" + "\n".join(records) + "\n")
    batches = list(read_vcf(path, job_id="j", per_sample=True))
    assert _rows(batches, ["alleledepths", "depth", "genotypelikelihoods"]) == [
        ([1, 2], 12, [1.0, 2.0, 3.0]),  # int() of each float; float() of each int
        ([0, 1], 7, [4.0, 5.0, 6.0]),
        ([3, 9], 15, [7.0, 8.0, 9.0]),
        (None, 13, None),
        (None, None, None),
        (None, 8, None),
    ]


def test_undeclared_format_field_appearing_mid_file(tmp_path):
    header = "".join(line + "\n" for line in HEADER.splitlines() if "ID=PS," not in line)
    records = [
        "chr1\t100\t.\tA\tG\t50\tPASS\t.\tGT:DP\t0/1:12\t0/0:7\t1/1:15",
        "chr1\t200\t.\tA\tC\t50\tPASS\t.\tGT:PS\t0|1:5\t0|0:3\t1|1:7",  # htslib adds PS, String
    ]
    path = _write(
        tmp_path, "undeclared.vcf", header + SAMPLE_COLUMNS + "\n" + "\n".join(records) + "\n"
    )
    batches = list(read_vcf(path, job_id="j", per_sample=True))
    assert _rows(batches, ["depth", "ps"]) == [
        (12, None),
        (7, None),
        (15, None),
        (None, 5),
        (None, 3),
        (None, 7),
    ]


def test_as_written_is_the_shortest_decimal_of_each_float32() -> None:
    from omics_toolkit.tables.vcf import as_written

    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.uniform(-100, 0, 20_000),
            np.exp(rng.uniform(-70, 70, 20_000)),  # beyond 1e-14 / 1e22 too
            [110.415, -20.1, 0.1, 5321.21, 16777217, 3.4e38, 1e-45, 0.0, -0.0, np.inf, np.nan],
        ]
    ).astype(np.float32)
    got = as_written(values)
    expected = values.astype(str).astype(np.float64)  # numpy's shortest text of each float32
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    assert same.all(), list(zip(values[~same][:5], got[~same][:5], strict=True))
    assert as_written(np.float32([110.415])).tolist() == [110.415]
