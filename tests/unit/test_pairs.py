import pytest

from omics_toolkit.pipeline.pairs import execution_name, parse_mate


@pytest.mark.parametrize(
    ("key", "sample", "mate", "mate_key"),
    [
        ("fastq/NA12878_R1.fastq.gz", "NA12878", 1, "fastq/NA12878_R2.fastq.gz"),
        ("NA12878_R2.fastq.gz", "NA12878", 2, "NA12878_R1.fastq.gz"),
        ("a/b/s1_1.fq", "s1", 1, "a/b/s1_2.fq"),
        ("s1.R2.fq.gz", "s1", 2, "s1.R1.fq.gz"),
        ("run/NA1_S3_L001_R1_001.fastq.gz", "NA1", 1, "run/NA1_S3_L001_R2_001.fastq.gz"),
    ],
)
def test_parse_mate(key, sample, mate, mate_key):
    m = parse_mate(key)
    assert m is not None
    assert (m.sample, m.mate, m.mate_key) == (sample, mate, mate_key)


@pytest.mark.parametrize("key", ["NA12878.bam", "NA12878_R1.txt", "notes/readme", "x_R3.fastq"])
def test_non_fastq_ignored(key):
    assert parse_mate(key) is None


def test_prefix_sample_never_pairs_with_longer_name():
    assert parse_mate("NA1_R1.fastq.gz").mate_key == "NA1_R2.fastq.gz"
    assert parse_mate("NA12878_R2.fastq.gz").mate_key != "NA1_R1.fastq.gz"


def test_execution_name_is_deterministic_and_content_sensitive():
    a = execution_name("NA12878", ("k1", "e1"), ("k2", "e2"))
    assert a == execution_name("NA12878", ("k1", "e1"), ("k2", "e2"))
    assert a != execution_name("NA12878", ("k1", "e1"), ("k2", "CHANGED"))
    assert a.startswith("NA12878-") and len(a) <= 80
    long = execution_name("x" * 200 + " é", ("k", "e"), ("k", "e"))
    assert len(long) <= 80 and all(c.isalnum() or c in "-_" for c in long)
