"""Read set imports check FASTQ (and BAM) content as the service does, on the running local stack.

Each bad input ends in a FAILED source and job whose status message names the file (the object
key's base name) and the problem; good inputs import with their read and base counts.
"""

from __future__ import annotations

import gzip
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.bams import write_bam

from healthomics_emulator.sequences import BGZF_EOF
from tests.support.omics_helpers import ROLE

JOB_DONE = {"COMPLETED", "FAILED", "COMPLETED_WITH_FAILURES"}
FASTA = ">chr1\n" + "ACGT" * 30 + "\n"


def fastq(n: int, mate: str = "/1", length: int = 10, start: int = 0) -> bytes:
    """``n`` records ``@r<i><mate>`` with ``length`` bases each."""
    return "".join(
        f"@r{i}{mate}\n{'ACGT' * (length // 4) + 'A' * (length % 4)}\n+\n{'I' * length}\n"
        for i in range(start, start + n)
    ).encode()


@pytest.fixture(scope="module")
def stack_omics(aws: Any, stack_service_role: str) -> Any:
    return aws.client("omics")


@pytest.fixture(scope="module")
def stack_bucket(aws: Any) -> str:
    name = f"import-validation-{uuid.uuid4().hex[:8]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def store(stack_omics: Any) -> str:
    ident = stack_omics.create_sequence_store(name=f"validation-{uuid.uuid4().hex[:8]}")["id"]
    _wait(lambda: stack_omics.get_sequence_store(id=ident), {"ACTIVE"})
    return str(ident)


@pytest.fixture(scope="module")
def reference_arn(aws: Any, stack_omics: Any, stack_bucket: str) -> str:
    aws.client("s3").put_object(Bucket=stack_bucket, Key="ref/chr1.fa", Body=FASTA.encode())
    ref_store = stack_omics.create_reference_store(name=f"validation-{uuid.uuid4().hex[:8]}")["id"]
    job = stack_omics.start_reference_import_job(
        referenceStoreId=ref_store,
        roleArn=ROLE,
        sources=[{"sourceFile": f"s3://{stack_bucket}/ref/chr1.fa", "name": "chr1"}],
    )
    done = _wait(
        lambda: stack_omics.get_reference_import_job(id=job["id"], referenceStoreId=ref_store),
        JOB_DONE,
    )
    assert done["status"] == "COMPLETED", done
    ref_id = done["sources"][0]["referenceId"]
    return str(stack_omics.get_reference_metadata(referenceStoreId=ref_store, id=ref_id)["arn"])


def _wait(fetch: Callable[[], dict[str, Any]], done: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        result = fetch()
        if result["status"] in done:
            return result
        assert time.monotonic() < deadline, f"still {result['status']}: {result}"
        time.sleep(0.05)


@pytest.fixture
def run_import(
    aws: Any, stack_omics: Any, stack_bucket: str, store: str
) -> Callable[..., dict[str, Any]]:
    """Upload ``{key name: bytes}`` under a unique prefix, import them as sources (a list of
    ``[source1, source2?]`` key names) and return the finished job."""
    s3 = aws.client("s3")

    def go(
        files: dict[str, bytes],
        sources: list[list[str]],
        file_type: str = "FASTQ",
        reference: str | None = None,
    ) -> dict[str, Any]:
        prefix = f"reads/{uuid.uuid4().hex[:8]}"
        for name, body in files.items():
            s3.put_object(Bucket=stack_bucket, Key=f"{prefix}/{name}", Body=body)
        items = []
        for n, names in enumerate(sources):
            item: dict[str, Any] = {
                "sourceFiles": {
                    f"source{i}": f"s3://{stack_bucket}/{prefix}/{name}"
                    for i, name in enumerate(names, 1)
                },
                "sourceFileType": file_type,
                "subjectId": "subject",
                "sampleId": f"sample{n}",
            }
            if reference:
                item["referenceArn"] = reference
            items.append(item)
        job = stack_omics.start_read_set_import_job(
            sequenceStoreId=store, roleArn=ROLE, sources=items
        )
        return _wait(
            lambda: stack_omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store),
            JOB_DONE,
        )

    return go


def _counts(stack_omics: Any, store: str, job: dict[str, Any]) -> list[tuple[int, int]]:
    out = []
    for src in job["sources"]:
        info = stack_omics.get_read_set_metadata(sequenceStoreId=store, id=src["readSetId"])
        seq = info["sequenceInformation"]
        out.append((seq["totalReadCount"], seq["totalBaseCount"]))
    return out


def test_good_fastq_inputs_import_with_their_counts(
    stack_omics: Any, store: str, run_import: Callable[..., dict[str, Any]]
) -> None:
    illumina1 = b"@A00123:8:H3KJ:1:1101:1000:2000 1:N:0:ACGT\nACGTA\n+\nIIIII\n"
    illumina2 = b"@A00123:8:H3KJ:1:1101:1000:2000 2:N:0:ACGT\r\nACG\r\n+\r\nIII\r\n\n"
    job = run_import(
        {
            "G1_R1.fastq.gz": gzip.compress(fastq(30, "/1", 12)),
            "G1_R2.fastq.gz": gzip.compress(fastq(30, "/2", 8)),
            "G2.fastq": fastq(7, "", 5),  # plain, single-ended
            "G3_R1.fq": illumina1,  # Illumina names: mates differ after the space only
            "G3_R2.fq": illumina2,  # CRLF line ends and a trailing blank line
            "G4.fastq": gzip.compress(fastq(4, "", 6)),  # gzip content, name without .gz
        },
        [
            ["G1_R1.fastq.gz", "G1_R2.fastq.gz"],
            ["G2.fastq"],
            ["G3_R1.fq", "G3_R2.fq"],
            ["G4.fastq"],
        ],
    )
    assert job["status"] == "COMPLETED", job
    assert [s["status"] for s in job["sources"]] == ["FINISHED"] * 4
    assert _counts(stack_omics, store, job) == [(60, 30 * 12 + 30 * 8), (7, 35), (2, 8), (4, 24)]


def _truncated_gzip() -> tuple[bytes, int]:
    """A gzip FASTQ cut in the middle and the number of complete reads before the cut."""
    whole = gzip.compress(fastq(400, "", 30))
    cut = whole[: len(whole) // 2]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    return cut, readable.count(b"\n") // 4


TRUNCATED_GZ, COMPLETE_BEFORE_CUT = _truncated_gzip()
BAM_BODY = gzip.compress(b"BAM\x01" + b"\x00" * 40)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"NA1_R1.fastq.gz": fastq(3)},
            "NA1_R1.fastq.gz: named .gz but not gzip-compressed",
            id="named-gz-not-gzip",
        ),
        pytest.param(
            {"NA1_R1.fastq.gz": TRUNCATED_GZ},
            "NA1_R1.fastq.gz: truncated gzip stream (unexpected end of data after "
            f"{COMPLETE_BEFORE_CUT} complete reads)",
            id="truncated-gzip",
        ),
        pytest.param(
            {"H.fastq": fastq(6) + b"r6/1\nACGT\n+\nIIII\n"},
            "H.fastq: record 7: header line does not start with '@'",
            id="bad-header",
        ),
        pytest.param(
            {"S.fastq.gz": gzip.compress(fastq(1) + b"@r1/1\nACGT\n-\nIIII\n" + fastq(2))},
            "S.fastq.gz: record 2: separator line does not start with '+'",
            id="bad-separator",
        ),
        pytest.param(
            {"L.fq": fastq(3) + b"@r3/1\nACGTA\n+\nIIII\n"},
            "L.fq: record 4: sequence length 5 differs from quality length 4",
            id="length-mismatch",
        ),
        pytest.param(
            {"T.fastq.gz": gzip.compress(fastq(9) + b"@r9/1\nACGT\n+\n")},
            "T.fastq.gz: record 10 is truncated (file ends after line 3 of 4)",
            id="truncated-record",
        ),
        pytest.param({"E.fastq.gz": b""}, "E.fastq.gz: empty file (no reads)", id="empty"),
        pytest.param(
            {"E.fastq.gz": gzip.compress(b"")},
            "E.fastq.gz: empty file (no reads)",
            id="empty-gzip",
        ),
        pytest.param(
            {"samples.fastq": b"sample,read1,read2\nNA1,a.fq,b.fq\n"},
            "samples.fastq: not FASTQ (first line does not start with '@')",
            id="csv",
        ),
        pytest.param(
            {"NA1.fastq.gz": BAM_BODY + BGZF_EOF},
            "NA1.fastq.gz: not FASTQ (BAM content)",
            id="bam-renamed",
        ),
    ],
)
def test_bad_fastq_fails_naming_file_and_problem(
    run_import: Callable[..., dict[str, Any]], files: dict[str, bytes], message: str
) -> None:
    job = run_import(files, [list(files)])
    assert job["status"] == "FAILED"
    (source,) = job["sources"]
    assert (source["status"], source["statusMessage"]) == ("FAILED", message)
    assert job["statusMessage"] == message
    assert "readSetId" not in source


def test_corrupt_gzip_is_unreadable_and_named_by_its_uri(
    run_import: Callable[..., dict[str, Any]],
) -> None:
    # Gzip magic and header, then bytes that do not inflate: the one message that names the
    # file by its URI (the wording pre-dates the content checks and tests rely on it).
    job = run_import({"C.fastq.gz": b"\x1f\x8b\x08\x00 not deflate data"}, [["C.fastq.gz"]])
    assert job["status"] == "FAILED"
    message = job["sources"][0]["statusMessage"]
    assert message.startswith("s3://") and len(message) <= 127
    assert message.endswith(
        "/C.fastq.gz: unreadable FASTQ (corrupt gzip data after 0 complete reads: "
        "invalid code lengths set)"
    )


def test_mates_with_different_read_counts_fail(run_import: Callable[..., dict[str, Any]]) -> None:
    job = run_import(
        {
            "NA1_R1.fastq.gz": gzip.compress(fastq(1000, "/1")),
            "NA1_R2.fastq.gz": gzip.compress(fastq(999, "/2")),
        },
        [["NA1_R1.fastq.gz", "NA1_R2.fastq.gz"]],
    )
    assert job["status"] == "FAILED"
    assert job["sources"][0]["statusMessage"] == (
        "NA1_R1.fastq.gz has 1000 reads, NA1_R2.fastq.gz has 999: "
        "mates must have the same number of reads"
    )


def test_mates_with_different_read_names_fail_at_the_first_mismatch(
    run_import: Callable[..., dict[str, Any]],
) -> None:
    r2 = fastq(16, "/2") + b"@x16/2\nACGTACGTAC\n+\nIIIIIIIIII\n" + fastq(3, "/2", start=17)
    job = run_import(
        {"NA2_R1.fastq.gz": gzip.compress(fastq(20, "/1")), "NA2_R2.fastq.gz": gzip.compress(r2)},
        [["NA2_R1.fastq.gz", "NA2_R2.fastq.gz"]],
    )
    assert job["status"] == "FAILED"
    assert job["sources"][0]["statusMessage"] == (
        "NA2_R1.fastq.gz and NA2_R2.fastq.gz: read names differ at record 17: 'r16' vs 'x16'"
    )


def test_long_names_are_shortened_to_fit_the_status_message(
    run_import: Callable[..., dict[str, Any]],
) -> None:
    stem = "cohort2024_" + "x" * 100
    job = run_import(
        {f"{stem}_R1.fastq.gz": gzip.compress(fastq(3)), f"{stem}_R2.fastq.gz": fastq(3, "/2")},
        [[f"{stem}_R1.fastq.gz", f"{stem}_R2.fastq.gz"]],
    )
    message = job["sources"][0]["statusMessage"]
    assert len(message) <= 127 and len(job["statusMessage"]) <= 127
    assert message.startswith("cohort2024_x")
    assert message.endswith("x_R2.fastq.gz: named .gz but not gzip-compressed")


def test_one_bad_source_of_two_completes_with_failures(
    stack_omics: Any, store: str, run_import: Callable[..., dict[str, Any]]
) -> None:
    job = run_import(
        {"ok.fastq": fastq(2), "bad.fq": fastq(2) + b"@r2/1\nAC\n"},
        [["ok.fastq"], ["bad.fq"]],
    )
    assert job["status"] == "COMPLETED_WITH_FAILURES"
    assert [s["status"] for s in job["sources"]] == ["FINISHED", "FAILED"]
    assert job["statusMessage"] == "bad.fq: record 3 is truncated (file ends after line 2 of 4)"
    assert _counts(stack_omics, store, {"sources": job["sources"][:1]}) == [(2, 20)]


def test_bam_must_end_with_the_bgzf_eof_block(
    run_import: Callable[..., dict[str, Any]], reference_arn: str, tmp_path: Path
) -> None:
    real = write_bam(tmp_path / "real.bam", reads=20).read_bytes()
    assert real.endswith(BGZF_EOF)
    job = run_import(
        {
            "S1.bam": real,
            "S2.bam": real[: -len(BGZF_EOF)],
            "S3.bam": b"plain text",
            "S4.bam": BAM_BODY + BGZF_EOF,
        },
        [["S1.bam"], ["S2.bam"], ["S3.bam"], ["S4.bam"]],
        file_type="BAM",
        reference=reference_arn,
    )
    assert job["status"] == "COMPLETED_WITH_FAILURES"
    outcomes = [(s["status"], s.get("statusMessage")) for s in job["sources"]]
    assert outcomes[:3] == [
        ("FINISHED", None),
        ("FAILED", "S2.bam: truncated BAM (no BGZF end-of-file block)"),
        ("FAILED", "S3.bam: not a BGZF-compressed BAM file"),
    ]
    # gzip but not BGZF, with an end-of-file block: htslib cannot read it
    assert outcomes[3][0] == "FAILED"
    assert outcomes[3][1].startswith("S4.bam: unreadable BAM (")
