import pytest

from omics_toolkit.errors import UserError
from omics_toolkit.pipeline.upload import plan_upload


def test_mates_in_either_order_keep_their_own_content(tmp_path):
    r1 = tmp_path / "S1_R1.fastq.gz"
    r2 = tmp_path / "S1_R2.fastq.gz"
    r1.write_text("one")
    r2.write_text("two")
    for first, second in ((r1, r2), (r2, r1)):
        plan = plan_upload(first, second, None)
        assert plan.sample == "S1"
        assert plan.mate1 == (r1, "fastq/S1_R1.fastq.gz")
        assert plan.mate2 == (r2, "fastq/S1_R2.fastq.gz")


def test_sample_option_renames(tmp_path):
    a, b = tmp_path / "a.fq.gz", tmp_path / "b.fq.gz"
    a.write_text("x")
    b.write_text("y")
    plan = plan_upload(a, b, "NA12878")
    assert (
        plan.mate1 == (a, "fastq/NA12878_R1.fastq.gz")
        and plan.mate2[1] == "fastq/NA12878_R2.fastq.gz"
    )


def test_unpaired_names_are_refused_with_advice(tmp_path):
    a, b = tmp_path / "a.fq", tmp_path / "b.fq"
    a.write_text("x")
    b.write_text("y")
    with pytest.raises(UserError, match="--sample"):
        plan_upload(a, b, None)
    with pytest.raises(UserError, match="does not exist"):
        plan_upload(tmp_path / "nope_R1.fq", b, None)
