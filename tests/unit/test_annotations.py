"""The annotation readers on small excerpts of the real files (no network, no servers).

The TSV and VCF lines are copied from hg19_RefSeq_exon.txt.gz (subread-data) and
643594.clinical.vcf.gz (scout-browser, INFO shortened to the ClinVar keys); the GFF3 lines follow
the NCBI RefSeq GFF3 layout for SOX10.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from omics_toolkit.errors import UserError
from omics_toolkit.tables.annotations import (
    ContigStats,
    columns_of,
    detect_format,
    read_annotation,
    rows_of,
)
from omics_toolkit.tables.schema import ANNOTATION_VCF_COLUMNS, GENE_COLUMNS, arrow_schema

TSV = (
    "GeneID\tChr\tStart\tEnd\tStrand\n"
    "653635\tchr1\t14362\t14829\t-\n"
    "653635\tchr1\t14970\t15038\t-\n"
    "400879\tchr22\t16157306\t16157938\t-\n"
    "100506322\tchr22\t16161506\t16162293\t-\n"
)
VCF = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=1>\n##contig=<ID=22>\n"
    '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="significance">\n'
    '##INFO=<ID=CLNACC,Number=.,Type=String,Description="accession">\n'
    '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="review status">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "1\t156146640\trs41265017\tG\tA\t12083.90\tPASS\t"
    "CLNACC=RCV000003528.4|RCV000174949.1;CLNREVSTAT=no_criteria|mult;CLNSIG=5|2\n"
    "22\t19770232\t.\tA\tT\t0\tLowQual\tCLNSIG=0\n"
)
GFF3 = (
    "##gff-version 3\n"
    "##sequence-region NC_000022.11 1 50818468\n"
    "NC_000022.11\tBestRefSeq\tgene\t38368319\t38383429\t.\t-\t.\t"
    "ID=gene-SOX10;Dbxref=GeneID:6663,HGNC:HGNC:11190;Name=SOX10;"
    "description=SRY-box transcription factor 10;gene_biotype=protein_coding\n"
    "NC_000022.11\tBestRefSeq\texon\t38379363\t38380539\t.\t-\t.\t"
    "ID=exon-NM_006941.4-3;Parent=rna-NM_006941.4;Dbxref=GeneID:6663;gene=SOX10;"
    "product=SRY-box transcription factor 10%2C transcript variant 1\n"
    "chrM\tRefSeq\tgene\t577\t647\t.\t+\t.\tgene_id=MT-TF;gene_name=MT-TF\n"
    "##FASTA\n>NC_000022.11\nACGT\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def test_detect_format():
    assert detect_format(Path("clinvar.vcf.gz")) == "vcf"
    assert detect_format(Path("a.gff3.gz")) == "gff3"
    assert detect_format(Path("a.gff")) == "gff3"
    assert detect_format(Path("hg19_RefSeq_exon.txt.gz")) == "tsv"
    assert detect_format(Path("whatever.bin"), "GFF") == "gff3"
    with pytest.raises(UserError, match="--format"):
        detect_format(Path("genes.bed"))
    with pytest.raises(UserError, match="unknown annotation format"):
        detect_format(Path("a.vcf"), "bed")


def test_gene_tsv_coordinates_contigs_and_schema(tmp_path):
    path = _write(tmp_path, "hg19_RefSeq_exon.txt.gz", TSV)
    stats = ContigStats({"22", "1", "X"})
    batches = list(read_annotation(path, "tsv", job_id="j1", contig_map=stats))
    assert all(b.schema == arrow_schema(GENE_COLUMNS) for b in batches)
    rows = list(rows_of(iter(batches)))
    assert len(rows) == 4
    assert rows[0] == {
        "importjobid": "j1",
        "contigname": "1",
        "start": 14361,  # 1-based 14362 -> 0-based
        "end": 14829,  # inclusive end == half-open end
        "strand": "-",
        "gene_id": "653635",
        "gene_name": None,
        "feature": "exon",
        "attributes": [],
    }
    assert stats.renamed == {"chr1": "1", "chr22": "22"} and not stats.unmatched


def test_gene_tsv_aliases_extra_columns_and_unmatched(tmp_path):
    text = "chrom\tstart\tend\tstrand\tgene_id\tgene_name\tfeature\tsource\nchr22\t1\t10\t+\tG1\tABC\tgene\tme\nchrUn_x\t5\t5\t.\tG2\t\tgene\t\n"
    path = _write(tmp_path, "genes.tsv", text)
    stats = ContigStats({"22"})
    rows = list(rows_of(read_annotation(path, "tsv", job_id="j", contig_map=stats)))
    assert [(r["contigname"], r["start"], r["end"], r["gene_name"]) for r in rows] == [
        ("22", 0, 10, "ABC"),
        ("chrUn_x", 4, 5, None),
    ]
    assert rows[0]["attributes"] == [("source", "me")] and rows[1]["attributes"] == []
    assert stats.unmatched == {"chrUn_x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("GeneID\tChr\tStart\n1\tchr1\t5\n", "line 1: header .* lacks end, strand"),
        ("GeneID\tChr\tStart\tEnd\tStrand\n1\tchr1\t5\n", "line 2: 3 columns"),
        ("GeneID\tChr\tStart\tEnd\tStrand\n1\tchr1\t5\t4\t+\n", "line 2: start 5 and end 4"),
        ("GeneID\tChr\tStart\tEnd\tStrand\n1\tchr1\tfive\t9\t+\n", "line 2: .* not integers"),
        ("GeneID\tChr\tStart\tEnd\tStrand\n1\tchr1\t5\t9\t+\n1\tchr1\t5\t9\tx\n", "line 3: strand"),
    ],
)
def test_gene_tsv_errors_name_file_and_line(tmp_path, text, message):
    path = _write(tmp_path, "bad.tsv", text)
    with pytest.raises(UserError, match=message) as info:
        list(read_annotation(path, "tsv", job_id="j"))
    assert "bad.tsv" in str(info.value)


def test_gff3_ids_names_decoding_and_fasta_stop(tmp_path):
    path = _write(tmp_path, "sox10.gff3.gz", GFF3)
    stats = ContigStats({"chrM", "22"})
    rows = list(rows_of(read_annotation(path, "gff3", job_id="j", contig_map=stats)))
    assert len(rows) == 3  # the ##FASTA section is not features
    gene, exon, mito = rows
    assert (gene["feature"], gene["gene_id"], gene["gene_name"]) == ("gene", "6663", "SOX10")
    assert (gene["start"], gene["end"], gene["strand"]) == (38368318, 38383429, "-")
    assert (exon["feature"], exon["gene_id"], exon["gene_name"]) == ("exon", "6663", "SOX10")
    attrs = dict(exon["attributes"])
    assert attrs["product"] == "SRY-box transcription factor 10, transcript variant 1"
    assert attrs["Parent"] == "rna-NM_006941.4"
    assert (mito["gene_id"], mito["gene_name"], mito["contigname"]) == ("MT-TF", "MT-TF", "chrM")
    assert stats.unmatched == {"NC_000022.11"}  # RefSeq accessions have no chr counterpart


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("chr1\tx\tgene\t5\t9\t.\t+\n", "line 2: 7 tab-separated columns"),
        ("chr1\tx\tgene\t9\t5\t.\t+\t.\tID=a\n", "line 2: start 9 and end 5"),
        ("chr1\tx\tgene\t5\t9\t.\t+\t.\tID\n", "line 2: attribute 'ID' is not tag=value"),
    ],
)
def test_gff3_errors_name_file_and_line(tmp_path, line, message):
    path = _write(tmp_path, "bad.gff3", "##gff-version 3\n" + line)
    with pytest.raises(UserError, match=message) as info:
        list(read_annotation(path, "gff3", job_id="j"))
    assert "bad.gff3" in str(info.value)


def test_clinvar_vcf_one_row_per_record_info_in_attributes(tmp_path):
    path = _write(tmp_path, "clinvar.vcf", VCF)
    stats = ContigStats({"chr1", "chr22"})
    batches = list(read_annotation(path, "vcf", job_id="j", contig_map=stats))
    assert (
        batches[0].schema == arrow_schema(ANNOTATION_VCF_COLUMNS) == arrow_schema(columns_of("vcf"))
    )
    rows = list(rows_of(iter(batches)))
    assert [(r["contigname"], r["start"], r["end"]) for r in rows] == [
        ("chr1", 156146639, 156146640),
        ("chr22", 19770231, 19770232),
    ]
    first = dict(rows[0]["attributes"])
    assert first["CLNSIG"] == "5|2" and first["CLNREVSTAT"] == "no_criteria|mult"
    assert rows[0]["names"] == ["rs41265017"] and rows[0]["sampleid"] is None
    assert stats.renamed == {"1": "chr1", "22": "chr22"}


def test_malformed_vcf_is_a_user_error(tmp_path):
    path = _write(tmp_path, "broken.vcf", "not a vcf\n")
    with pytest.raises(UserError, match="broken.vcf"):
        list(read_annotation(path, "vcf", job_id="j"))


def test_empty_target_keeps_names():
    stats = ContigStats(set())
    assert stats("chr22") == "chr22" and not stats.renamed and not stats.unmatched
