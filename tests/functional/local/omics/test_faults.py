"""Fault injection on the running local stack: API faults (before/after, delays, wildcard, match),
job faults (runs and imports), and the idempotency tokens that make a lost response harmless.

Every test clears the rules in a finaliser; names are unique so rules target one test's requests.
"""

from __future__ import annotations

import gzip
import io
import json
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from healthomics_emulator.control import add_faults, clear_faults, get_faults
from healthomics_emulator.errors import EmulatorControlError
from healthomics_emulator.server import CONTROL_PATH
from tests.support.omics_helpers import ROLE

JOB_DONE = {"COMPLETED", "FAILED", "COMPLETED_WITH_FAILURES", "CANCELLED"}
RUN_DONE = {"COMPLETED", "FAILED", "CANCELLED"}
#: ``total_max_attempts``, not ``max_attempts``: in a client Config, botocore reads
#: ``max_attempts`` as the number of RETRIES (``{"max_attempts": 1}`` makes two attempts).
NO_RETRIES = {"total_max_attempts": 1}
STANDARD_RETRIES = {"mode": "standard", "total_max_attempts": 3}
#: A workflow without tasks: miniwdl runs it in about a second, no container image involved.
GREET_WDL = """version 1.0
workflow Greet {
  input { String who }
  output { String greeting = "hello " + who }
}
"""
FASTA = ">chr1\n" + "ACGT" * 30 + "\n"
VCF = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=120>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t5\t.\tA\tG\t50\tPASS\t.\n"
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fastq(n: int, mate: str) -> bytes:
    return gzip.compress("".join(f"@r{i}/{mate}\nACGT\n+\nIIII\n" for i in range(n)).encode())


def wait(
    fetch: Callable[[], dict[str, Any]], done: set[str], timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if result["status"] in done:
            return result
        assert time.monotonic() < deadline, f"still {result['status']}: {result}"
        time.sleep(0.05)


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    """(code, HTTP status, x-amzn-ErrorType header) of a failed call."""
    meta = exc.value.response["ResponseMetadata"]
    return (
        exc.value.response["Error"]["Code"],
        meta["HTTPStatusCode"],
        meta["HTTPHeaders"].get("x-amzn-errortype", ""),
    )


def fault(url: str, what: str) -> dict[str, Any]:
    """The rule with id ``what`` as the emulator shows it now."""
    return next(r for r in get_faults(url) if r["id"] == what)


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def url(local_stack: dict[str, Any]) -> str:
    return str(local_stack["omics"])


@pytest.fixture(autouse=True)
def no_faults_left(url: str) -> Iterator[None]:
    yield
    clear_faults(url)


def _client(aws: Any, retries: dict[str, Any]) -> Any:
    return aws.session.client(
        "omics",
        endpoint_url=aws.endpoints["omics"],
        config=Config(inject_host_prefix=False, retries=retries),
    )


@pytest.fixture(scope="module")
def omics(aws: Any, stack_service_role: str) -> Any:
    """botocore retries disabled: every injected error reaches the test."""
    return _client(aws, NO_RETRIES)


@pytest.fixture(scope="module")
def retrying(aws: Any, stack_service_role: str) -> Any:
    """botocore's standard retry mode, 3 attempts."""
    return _client(aws, STANDARD_RETRIES)


@pytest.fixture(scope="module")
def s3(aws: Any) -> Any:
    return aws.client("s3")


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    name = unique("faults")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(omics: Any) -> str:
    """A new sequence store (per test: import jobs are counted per store)."""
    ident = str(omics.create_sequence_store(name=unique("faults"))["id"])
    wait(lambda: omics.get_sequence_store(id=ident), {"ACTIVE"})
    return ident


@pytest.fixture(scope="module")
def reads(s3: Any, bucket: str) -> dict[str, str]:
    """A FASTQ pair in S3: ``{"source1": uri, "source2": uri}``."""
    for mate in ("1", "2"):
        s3.put_object(Bucket=bucket, Key=f"reads/F_R{mate}.fastq.gz", Body=fastq(3, mate))
    return {f"source{m}": f"s3://{bucket}/reads/F_R{m}.fastq.gz" for m in ("1", "2")}


@pytest.fixture(scope="module")
def workflow(omics: Any) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("main.wdl", GREET_WDL)
    wf = omics.create_workflow(
        name=unique("greet"),
        engine="WDL",
        main="main.wdl",
        definitionZip=buf.getvalue(),
        parameterTemplate={"who": {"description": "who", "optional": False}},
        requestId=unique("greet"),
    )
    wait(lambda: omics.get_workflow(id=wf["id"]), {"ACTIVE"})
    return str(wf["id"])


@pytest.fixture
def run_args(workflow: str, bucket: str) -> dict[str, Any]:
    return {
        "workflowId": workflow,
        "roleArn": ROLE,
        "outputUri": f"s3://{bucket}/runs/",
        "parameters": {"who": "world"},
        "storageType": "DYNAMIC",
    }


def _import_source(reads: dict[str, str], sample: str = "F") -> dict[str, Any]:
    return {"sourceFiles": reads, "sourceFileType": "FASTQ", "subjectId": "s", "sampleId": sample}


# ---------------------------------------------------------------------- control endpoint
def test_control_endpoint_adds_lists_and_clears(url: str) -> None:
    clear_faults(url)
    added = add_faults(
        url,
        [
            {"operation": "GetRun", "error": "ThrottlingException", "count": None},
            {"job": "run", "fail": "no", "delay_seconds": 2, "match": {"name": "x"}},
        ],
    )
    assert [(r["kind"], r["count"], r["remaining"], r["fired"]) for r in added] == [
        ("api", None, None, 0),
        ("job", 1, 1, 0),
    ]
    assert added[0]["when"] == "before" and added[1]["delay_seconds"] == 2
    assert get_faults(url) == added
    with pytest.raises(EmulatorControlError) as exc:
        add_faults(url, [{"operation": "GetRun", "error": "ConflictException"}, {"job": "x"}])
    assert exc.value.status == 400
    assert exc.value.message.startswith(
        "the emulator refused POST /_toolkit/faults: rule 2: job must be one of run, "
    )
    with pytest.raises(EmulatorControlError) as exc:
        add_faults(url, [{"operation": "CreateSequenceStore", "error": "ConflictException"}])
    assert exc.value.status == 400
    assert "rule 1: CreateSequenceStore does not declare ConflictException" in exc.value.message
    assert get_faults(url) == added  # rejected batches add nothing
    assert clear_faults(url) == 2
    assert get_faults(url) == []
    with pytest.raises(EmulatorControlError) as exc:
        get_faults("http://127.0.0.1:9")
    assert exc.value.status is None and "does not answer" in exc.value.message


# ---------------------------------------------------------------------- API faults
@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("InternalServerException", 500),
        ("ServiceQuotaExceededException", 402),
    ],
)
def test_before_fault_rejects_and_nothing_is_done(
    url: str, omics: Any, code: str, status: int
) -> None:
    name = unique("before")
    (rule,) = add_faults(
        url, [{"operation": "CreateSequenceStore", "error": code, "match": {"name": name}}]
    )
    with pytest.raises(ClientError) as exc:
        omics.create_sequence_store(name=name)
    assert error_of(exc) == (code, status, code)
    assert rule["id"] in exc.value.response["Error"]["Message"]
    assert omics.list_sequence_stores(filter={"name": name})["sequenceStores"] == []
    other = omics.create_sequence_store(name=unique("other"))  # match: other names pass
    assert other["status"] == "CREATING"
    created = omics.create_sequence_store(name=name)  # count 1: used up
    assert created["name"] == name
    assert (fault(url, rule["id"])["fired"], fault(url, rule["id"])["remaining"]) == (1, 0)


def test_wildcard_rule_fires_on_every_operation_until_cleared(url: str, omics: Any) -> None:
    name = unique("wild")
    (rule,) = add_faults(
        url,
        [
            {
                "operation": "*",
                "error": "InternalServerException",
                "message": "simulated outage",
                "count": None,
                "match": {"name": name},
            }
        ],
    )
    for _ in range(2):
        for call in (omics.create_sequence_store, omics.create_reference_store):
            with pytest.raises(ClientError) as exc:
                call(name=name)
            assert error_of(exc)[:2] == ("InternalServerException", 500)
            assert exc.value.response["Error"]["Message"] == "simulated outage"
    assert omics.list_sequence_stores(maxResults=1)  # calls without `name` pass
    shown = fault(url, rule["id"])
    assert (shown["fired"], shown["remaining"], shown["active"]) == (4, None, True)
    clear_faults(url)
    assert omics.create_reference_store(name=name)["name"] == name


@pytest.mark.parametrize("when", ["before", "after"])
def test_delay_alone_slows_the_api_down(url: str, omics: Any, when: str) -> None:
    name = unique("slow")
    add_faults(
        url,
        [
            {
                "operation": "CreateSequenceStore",
                "delay_seconds": 0.6,
                "when": when,
                "match": {"name": name},
            }
        ],
    )
    started = time.monotonic()
    assert omics.create_sequence_store(name=name)["name"] == name
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    omics.create_sequence_store(name=name)  # count 1: the next call is answered at once
    assert time.monotonic() - started < 0.5


def test_after_fault_answers_the_injected_error_whatever_the_outcome(url: str, omics: Any) -> None:
    add_faults(
        url,
        [
            {
                "operation": "GetSequenceStore",
                "error": "ThrottlingException",
                "when": "after",
                "match": {"id": "1234567890"},
            }
        ],
    )
    with pytest.raises(ClientError) as exc:  # the store does not exist: the answer is lost
        omics.get_sequence_store(id="1234567890")
    assert error_of(exc) == ("ThrottlingException", 429, "ThrottlingException")


def test_standard_retries_ride_out_throttling(url: str, omics: Any, retrying: Any) -> None:
    name = unique("throttled")
    (rule,) = add_faults(
        url,
        [
            {
                "operation": "CreateSequenceStore",
                "error": "ThrottlingException",
                "count": 2,
                "match": {"name": name},
            }
        ],
    )
    created = retrying.create_sequence_store(name=name)
    assert created["ResponseMetadata"]["RetryAttempts"] == 2
    assert fault(url, rule["id"])["fired"] == 2
    assert len(omics.list_sequence_stores(filter={"name": name})["sequenceStores"]) == 1


def test_after_fault_on_start_run_then_retry_with_the_same_request_id_makes_one_run(
    url: str, omics: Any, run_args: dict[str, Any]
) -> None:
    name, token = unique("lost"), unique("req")
    add_faults(
        url,
        [
            {
                "operation": "StartRun",
                "error": "InternalServerException",
                "when": "after",
                "match": {"requestId": token},
            }
        ],
    )
    with pytest.raises(ClientError) as exc:
        omics.start_run(**run_args, name=name, requestId=token)
    assert error_of(exc)[:2] == ("InternalServerException", 500)
    (started,) = omics.list_runs(name=name)["items"]  # the run was started all the same
    again = omics.start_run(**run_args, name=name, requestId=token)
    assert again["id"] == started["id"]
    assert [r["id"] for r in omics.list_runs(name=name)["items"]] == [started["id"]]


def test_standard_retries_hide_a_lost_start_run_response(
    url: str, omics: Any, retrying: Any, run_args: dict[str, Any]
) -> None:
    name = unique("retried")
    (rule,) = add_faults(
        url,
        [
            {
                "operation": "StartRun",
                "error": "InternalServerException",
                "when": "after",
                "match": {"name": name},
            }
        ],
    )
    # no requestId: botocore fills the idempotency token once and resends it on the retry
    run = retrying.start_run(**run_args, name=name)
    assert run["ResponseMetadata"]["RetryAttempts"] == 1
    assert fault(url, rule["id"])["fired"] == 1
    assert [r["id"] for r in omics.list_runs(name=name)["items"]] == [run["id"]]


def test_after_fault_on_read_set_import_then_retry_with_the_client_token_makes_one_job(
    url: str, omics: Any, store: str, reads: dict[str, str]
) -> None:
    token = unique("tok")
    add_faults(
        url,
        [
            {
                "operation": "StartReadSetImportJob",
                "error": "InternalServerException",
                "when": "after",
                "match": {"clientToken": token},
            }
        ],
    )
    args = {
        "sequenceStoreId": store,
        "roleArn": ROLE,
        "sources": [_import_source(reads)],
        "clientToken": token,
    }
    with pytest.raises(ClientError) as exc:
        omics.start_read_set_import_job(**args)
    assert error_of(exc)[:2] == ("InternalServerException", 500)
    (job,) = omics.list_read_set_import_jobs(sequenceStoreId=store)["importJobs"]
    assert omics.start_read_set_import_job(**args)["id"] == job["id"]
    assert len(omics.list_read_set_import_jobs(sequenceStoreId=store)["importJobs"]) == 1
    done = wait(
        lambda: omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store), JOB_DONE
    )
    assert done["status"] == "COMPLETED"
    assert len(omics.list_read_sets(sequenceStoreId=store)["readSets"]) == 1


@pytest.mark.parametrize(("client_token", "jobs"), [(True, 1), (False, 2)])
def test_standard_retries_of_a_lost_import_response_need_the_client_token(
    url: str,
    omics: Any,
    retrying: Any,
    store: str,
    reads: dict[str, str],
    client_token: bool,
    jobs: int,
) -> None:
    add_faults(
        url,
        [
            {
                "operation": "StartReadSetImportJob",
                "error": "InternalServerException",
                "when": "after",
                "match": {"sequenceStoreId": store},
            }
        ],
    )
    token = {"clientToken": unique("tok")} if client_token else {}
    job = retrying.start_read_set_import_job(
        sequenceStoreId=store, roleArn=ROLE, sources=[_import_source(reads)], **token
    )
    assert job["ResponseMetadata"]["RetryAttempts"] == 1
    # clientToken is not an idempotency token in the model: botocore does not fill it in, and
    # without it the retry starts a second import of the same reads.
    listed = omics.list_read_set_import_jobs(sequenceStoreId=store)["importJobs"]
    assert len(listed) == jobs and job["id"] in [j["id"] for j in listed]


# ---------------------------------------------------------------------- job faults
def test_run_fault_fails_the_run_once_running_and_spares_the_others(
    url: str, omics: Any, run_args: dict[str, Any]
) -> None:
    doomed, spared = unique("doomed"), unique("spared")
    reason = "Simulated: the instance running this workflow was reclaimed (spot interruption)"
    add_faults(
        url, [{"job": "run", "fail": reason, "delay_seconds": 0.8, "match": {"name": doomed}}]
    )
    run = omics.start_run(**run_args, name=doomed, requestId=unique("req"))
    other = omics.start_run(**run_args, name=spared, requestId=unique("req"))
    assert run["status"] == "PENDING"
    running = wait(lambda: omics.get_run(id=run["id"]), {"RUNNING"} | RUN_DONE)
    assert running["status"] == "RUNNING"  # accepted and running before it fails
    failed = wait(lambda: omics.get_run(id=run["id"]), RUN_DONE)
    assert failed["status"] == "FAILED"
    assert failed["statusMessage"] == reason
    assert failed["failureReason"] == reason[:63] + "…"
    assert failed["startTime"] and failed["stopTime"]
    assert wait(lambda: omics.get_run(id=other["id"]), RUN_DONE)["status"] == "COMPLETED"


def test_read_set_import_fault_fails_each_source_and_the_job_after_it_started(
    url: str, omics: Any, s3: Any, bucket: str, store: str, reads: dict[str, str]
) -> None:
    marked = unique("corrupt")
    s3.put_object(Bucket=bucket, Key=f"{marked}/X_R1.fastq.gz", Body=fastq(2, "1"))
    s3.put_object(Bucket=bucket, Key=f"{marked}/X_R2.fastq.gz", Body=fastq(2, "2"))
    marked_reads = {f"source{m}": f"s3://{bucket}/{marked}/X_R{m}.fastq.gz" for m in "12"}
    (never, rule) = add_faults(
        url,
        [
            {"job": "read_set_import", "fail": "never", "match": {"source_file_type": "BAM"}},
            {
                "job": "read_set_import",
                "fail": "X_R2.fastq.gz: simulated checksum mismatch",
                "delay_seconds": 0.6,
                "match": {"source_contains": marked, "source_file_type": "FASTQ"},
            },
        ],
    )
    job = omics.start_read_set_import_job(
        sequenceStoreId=store,
        roleArn=ROLE,
        sources=[_import_source(reads, "A"), _import_source(marked_reads, "B")],
    )
    assert job["status"] == "SUBMITTED"
    fetch = lambda: omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store)  # noqa: E731
    assert wait(fetch, {"IN_PROGRESS"} | JOB_DONE)["status"] == "IN_PROGRESS"
    done = wait(fetch, JOB_DONE)
    assert done["status"] == "FAILED"
    assert done["statusMessage"] == "X_R2.fastq.gz: simulated checksum mismatch"
    assert [(s["status"], s["statusMessage"]) for s in done["sources"]] == [
        ("FAILED", "X_R2.fastq.gz: simulated checksum mismatch")
    ] * 2
    assert omics.list_read_sets(sequenceStoreId=store)["readSets"] == []
    # the rule is used up and the BAM-only rule never fired: the next import goes through
    again = omics.start_read_set_import_job(
        sequenceStoreId=store, roleArn=ROLE, sources=[_import_source(marked_reads, "B")]
    )
    fetch = lambda: omics.get_read_set_import_job(id=again["id"], sequenceStoreId=store)  # noqa: E731
    assert wait(fetch, JOB_DONE)["status"] == "COMPLETED"
    assert (fault(url, never["id"])["fired"], fault(url, rule["id"])["fired"]) == (0, 1)


def test_read_set_import_delay_keeps_the_job_in_progress(
    url: str, omics: Any, store: str, reads: dict[str, str]
) -> None:
    add_faults(url, [{"job": "read_set_import", "delay_seconds": 0.8}])
    started = time.monotonic()
    job = omics.start_read_set_import_job(
        sequenceStoreId=store, roleArn=ROLE, sources=[_import_source(reads)]
    )
    fetch = lambda: omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store)  # noqa: E731
    assert wait(fetch, {"IN_PROGRESS"} | JOB_DONE)["status"] == "IN_PROGRESS"
    assert wait(fetch, JOB_DONE)["status"] == "COMPLETED"
    assert time.monotonic() - started >= 0.8


@pytest.fixture
def existing_customer(url: str) -> Iterator[None]:
    """Variant and annotation stores need an account that HealthOmics still serves."""

    def options(changes: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            url + CONTROL_PATH,
            data=json.dumps(changes).encode() if changes else None,
            method="POST" if changes else "GET",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return dict(json.loads(response.read()))

    before = options()["new_customer"]
    if before:
        options({"new_customer": False})
    yield
    if before:
        options({"new_customer": True})


def test_reference_variant_and_annotation_import_faults(
    url: str, omics: Any, s3: Any, bucket: str, existing_customer: None
) -> None:
    s3.put_object(Bucket=bucket, Key="ref/chr1.fa", Body=FASTA.encode())
    s3.put_object(Bucket=bucket, Key="vcf/a.vcf", Body=VCF.encode())
    s3.put_object(Bucket=bucket, Key="vcf/b.vcf", Body=VCF.encode())
    add_faults(
        url,
        [
            {"job": "reference_import", "fail": "simulated: reference too large"},
            {
                "job": "variant_import",
                "fail": "simulated: b.vcf unreadable",
                "match": {"source_contains": "vcf/b.vcf"},
            },
            {"job": "annotation_import", "fail": "simulated: annotation import failed"},
        ],
    )
    ref_store = omics.create_reference_store(name=unique("faults"))["id"]
    source = {"sourceFile": f"s3://{bucket}/ref/chr1.fa", "name": "chr1"}
    ref_job = omics.start_reference_import_job(
        referenceStoreId=ref_store, roleArn=ROLE, sources=[source]
    )
    fetch = lambda: omics.get_reference_import_job(id=ref_job["id"], referenceStoreId=ref_store)  # noqa: E731
    failed = wait(fetch, JOB_DONE)
    assert (failed["status"], failed["statusMessage"]) == (
        "FAILED",
        "simulated: reference too large",
    )
    assert failed["sources"][0]["status"] == "FAILED"
    assert failed["sources"][0]["statusMessage"] == "simulated: reference too large"
    # the rule was used: the same import now succeeds
    ref_job = omics.start_reference_import_job(
        referenceStoreId=ref_store, roleArn=ROLE, sources=[source]
    )
    done = wait(fetch, JOB_DONE)
    assert done["status"] == "COMPLETED", done
    ref_arn = omics.get_reference_metadata(
        referenceStoreId=ref_store, id=done["sources"][0]["referenceId"]
    )["arn"]

    variant_store = f"faults_vs_{uuid.uuid4().hex[:8]}"
    annotation_store = f"faults_as_{uuid.uuid4().hex[:8]}"
    omics.create_variant_store(name=variant_store, reference={"referenceArn": ref_arn})
    omics.create_annotation_store(name=annotation_store, storeFormat="VCF")
    wait(lambda: omics.get_variant_store(name=variant_store), {"ACTIVE"})
    wait(lambda: omics.get_annotation_store(name=annotation_store), {"ACTIVE"})
    items = [{"source": f"s3://{bucket}/vcf/a.vcf"}, {"source": f"s3://{bucket}/vcf/b.vcf"}]
    job = omics.start_variant_import_job(destinationName=variant_store, roleArn=ROLE, items=items)
    failed = wait(lambda: omics.get_variant_import_job(jobId=job["jobId"]), JOB_DONE)
    assert (failed["status"], failed["statusMessage"]) == ("FAILED", "simulated: b.vcf unreadable")
    assert [(i["jobStatus"], i.get("statusMessage")) for i in failed["items"]] == [
        ("CANCELLED", None),
        ("FAILED", "simulated: b.vcf unreadable"),
    ]
    job = omics.start_annotation_import_job(
        destinationName=annotation_store, roleArn=ROLE, items=items[:1]
    )
    failed = wait(lambda: omics.get_annotation_import_job(jobId=job["jobId"]), JOB_DONE)
    assert (failed["status"], failed["statusMessage"]) == (
        "FAILED",
        "simulated: annotation import failed",
    )
    assert [r["fired"] for r in get_faults(url)] == [1, 1, 1]
