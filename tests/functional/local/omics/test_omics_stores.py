"""Stores and imports on the emulator + moto: references, read sets, variant stores, tags, errors."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from healthomics_emulator.backend import SERVICE_ACCOUNT_ID
from tests.support.omics_helpers import ROLE, wait_for

JOB_DONE = {"COMPLETED", "FAILED", "COMPLETED_WITH_FAILURES", "CANCELLED"}


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_reference_import_copies_fasta_and_records_contigs(
    omics: Any, reference: dict[str, Any], state_dir: Path
) -> None:
    meta = omics.get_reference_metadata(referenceStoreId=reference["storeId"], id=reference["id"])
    assert meta["status"] == "ACTIVE"
    assert meta["arn"].endswith(
        f"referenceStore/{reference['storeId']}/reference/{reference['id']}"
    )
    assert len(reference["storeId"]) == 10 and reference["storeId"].isdigit()
    fasta = state_dir / "references" / reference["id"] / "reference.fasta"
    assert fasta.read_text().startswith(">chr1 test\n")
    assert (fasta.parent / "reference.fasta.fai").exists()
    refs = omics.list_references(referenceStoreId=reference["storeId"])["references"]
    assert [r["id"] for r in refs] == [reference["id"]]


def test_reference_import_of_missing_object_fails_with_s3_error(
    omics: Any, reference: dict[str, Any], bucket: str
) -> None:
    job = omics.start_reference_import_job(
        referenceStoreId=reference["storeId"],
        roleArn=ROLE,
        sources=[{"sourceFile": f"s3://{bucket}/ref/absent.fa", "name": "absent"}],
        clientToken="missing-ref",
    )
    again = omics.start_reference_import_job(
        referenceStoreId=reference["storeId"],
        roleArn=ROLE,
        sources=[{"sourceFile": f"s3://{bucket}/ref/absent.fa", "name": "absent"}],
        clientToken="missing-ref",
    )
    assert again["id"] == job["id"]
    done = wait_for(
        lambda: omics.get_reference_import_job(id=job["id"], referenceStoreId=reference["storeId"]),
        "status",
        JOB_DONE,
    )
    assert done["status"] == "FAILED"
    assert done["sources"][0]["statusMessage"] == f"s3://{bucket}/ref/absent.fa: NoSuchKey"


def _fastq(n: int, tag: str) -> bytes:
    text = "".join(f"@r{i}/{tag}\nACGTACGTAC\n+\nIIIIIIIIII\n" for i in range(n))
    return gzip.compress(text.encode())


def test_read_set_import_of_fastq_pair_makes_one_read_set(
    omics: Any, s3: Any, bucket: str, state_dir: Path
) -> None:
    s3.put_object(Bucket=bucket, Key="reads/S1_R1.fastq.gz", Body=_fastq(3, "1"))
    s3.put_object(Bucket=bucket, Key="reads/S1_R2.fastq.gz", Body=_fastq(3, "2"))
    store = omics.create_sequence_store(name="seqs")
    assert store["status"] == "CREATING"
    wait_for(lambda: omics.get_sequence_store(id=store["id"]), "status", {"ACTIVE"})
    job = omics.start_read_set_import_job(
        sequenceStoreId=store["id"],
        roleArn=ROLE,
        sources=[
            {
                "sourceFiles": {
                    "source1": f"s3://{bucket}/reads/S1_R1.fastq.gz",
                    "source2": f"s3://{bucket}/reads/S1_R2.fastq.gz",
                },
                "sourceFileType": "FASTQ",
                "subjectId": "subj1",
                "sampleId": "S1",
                "name": "S1",
            }
        ],
    )
    done = wait_for(
        lambda: omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store["id"]),
        "status",
        JOB_DONE,
    )
    assert done["status"] == "COMPLETED", done
    read_sets = omics.list_read_sets(sequenceStoreId=store["id"])["readSets"]
    assert len(read_sets) == 1
    rs = omics.get_read_set_metadata(sequenceStoreId=store["id"], id=read_sets[0]["id"])
    assert rs["sampleId"] == "S1" and rs["fileType"] == "FASTQ"
    assert rs["sequenceInformation"]["totalReadCount"] == 6
    assert set(rs["files"]) == {"source1", "source2"}
    files = sorted(p.name for p in (state_dir / "readsets" / rs["id"]).iterdir())
    assert files == ["S1_R1.fastq.gz", "S1_R2.fastq.gz"]
    deleted = omics.batch_delete_read_set(sequenceStoreId=store["id"], ids=[rs["id"], "9999999999"])
    assert [e["id"] for e in deleted["errors"]] == ["9999999999"]
    assert omics.list_read_sets(sequenceStoreId=store["id"])["readSets"] == []


def test_read_set_import_rejects_bad_fastq_and_bam_without_reference(
    omics: Any, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="reads/bad.fastq.gz", Body=b"\x1f\x8bnot really gzip")
    store = omics.create_sequence_store(name="seqs-bad")
    wait_for(lambda: omics.get_sequence_store(id=store["id"]), "status", {"ACTIVE"})
    src = {"sourceFileType": "FASTQ", "subjectId": "s", "sampleId": "s"}
    job = omics.start_read_set_import_job(
        sequenceStoreId=store["id"],
        roleArn=ROLE,
        sources=[dict(src, sourceFiles={"source1": f"s3://{bucket}/reads/bad.fastq.gz"})],
    )
    done = wait_for(
        lambda: omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store["id"]),
        "status",
        JOB_DONE,
    )
    assert done["status"] == "FAILED"
    assert done["sources"][0]["statusMessage"].startswith(
        f"s3://{bucket}/reads/bad.fastq.gz: unreadable FASTQ"
    )
    with pytest.raises(ClientError) as exc:
        omics.start_read_set_import_job(
            sequenceStoreId=store["id"],
            roleArn=ROLE,
            sources=[
                dict(src, sourceFileType="BAM", sourceFiles={"source1": f"s3://{bucket}/x.bam"})
            ],
        )
    assert _code(exc) == "ValidationException"
    assert "referenceArn is required" in str(exc.value)


VCF = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=270>
##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">
##FILTER=<ID=q10,Description="low">
##FORMAT=<ID=GT,Number=1,Type=String,Description="g">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="g">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="g">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="g">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="g">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2
chr1\t186\trs1\tA\tG\t50\tPASS\tDP=10\tGT:AD:DP:GQ:PL\t0/1:5,5:10:30:30,0,40\t1|1:0,8:8:20:50,20,0
chr1\t200\t.\tAC\tA\t.\tq10\tDP=3\tGT\t./.\t0/1
"""


def test_variant_store_glue_table_and_parquet_import(
    omics: Any,
    s3: Any,
    glue: Any,
    service_glue: Any,
    service_ram: Any,
    bucket: str,
    reference: dict[str, Any],
    state_dir: Path,
) -> None:
    s3.put_object(Bucket=bucket, Key="vcf/s.vcf.gz", Body=gzip.compress(VCF.encode()))
    store = omics.create_variant_store(
        name="cohort_vs", reference={"referenceArn": reference["arn"]}
    )
    with pytest.raises(ClientError) as exc:
        omics.create_variant_store(name="cohort_vs", reference={"referenceArn": reference["arn"]})
    assert _code(exc) == "ConflictException"
    wait_for(lambda: omics.get_variant_store(name="cohort_vs"), "status", {"ACTIVE"})
    db = f"variant_123456789012_{store['id']}"
    # the database is HealthOmics's, not the caller's: shared to the caller through AWS RAM
    with pytest.raises(ClientError) as exc:
        glue.get_database(Name=db)
    assert _code(exc) == "EntityNotFoundException"
    shares = service_ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
    share = next(s for s in shares if s["name"] == db)
    assert share["status"] == "ACTIVE" and share["owningAccountId"] == SERVICE_ACCOUNT_ID
    associations = service_ram.get_resource_share_associations(
        associationType="PRINCIPAL", resourceShareArns=[share["resourceShareArn"]]
    )["resourceShareAssociations"]
    assert [a["associatedEntity"] for a in associations] == ["123456789012"]
    table = service_glue.get_table(DatabaseName=db, Name="cohort_vs")["Table"]
    cols = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert (
        cols["start"] == "int"
        and cols["calls"] == "array<int>"
        and cols["attributes"] == "map<string,string>"
    )
    assert (
        table["StorageDescriptor"]["Location"]
        == f"file://{state_dir}/variant-stores/{store['id']}/data/"
    )
    assert table["Parameters"]["classification"] == "parquet"

    job = omics.start_variant_import_job(
        destinationName="cohort_vs", roleArn=ROLE, items=[{"source": f"s3://{bucket}/vcf/s.vcf.gz"}]
    )
    done = wait_for(lambda: omics.get_variant_import_job(jobId=job["jobId"]), "status", JOB_DONE)
    assert done["status"] == "COMPLETED", done
    tbl = pq.read_table(
        state_dir / "variant-stores" / store["id"] / "data" / f"{job['jobId']}.parquet"
    )
    assert str(tbl.schema.field("start").type) == "int32"
    attributes = tbl.schema.field("attributes").type
    assert pa.types.is_map(attributes) and attributes.item_type == pa.string()
    assert tbl.schema.field("calls").type == pa.list_(pa.int32())
    rows = tbl.to_pylist()
    assert len(rows) == 4  # 2 variants x 2 samples
    first = rows[0]
    assert (first["contigname"], first["start"], first["end"], first["sampleid"]) == (
        "chr1",
        185,
        186,
        "S1",
    )
    assert first["calls"] == [0, 1] and first["phased"] is False
    assert (
        first["alleledepths"] == [5, 5]
        and first["depth"] == 10
        and first["conditionalquality"] == 30
    )
    assert (
        first["phredlikelihoods"] == [30, 0, 40]
        and first["filters"] == ["PASS"]
        and first["names"] == ["rs1"]
    )
    assert dict(first["attributes"]) == {"DP": "10"} and first["importjobid"] == job["jobId"]
    assert rows[1]["calls"] == [1, 1] and rows[1]["phased"] is True
    deletion = rows[2]
    assert (deletion["start"], deletion["end"], deletion["calls"], deletion["qual"]) == (
        199,
        201,
        [-1, -1],
        None,
    )
    assert deletion["filters"] == ["q10"]


def test_variant_import_fails_for_contig_not_in_reference(
    omics: Any, s3: Any, bucket: str, reference: dict[str, Any]
) -> None:
    s3.put_object(Bucket=bucket, Key="vcf/chrz.vcf", Body=VCF.replace("chr1\t", "chrZ\t").encode())
    omics.create_variant_store(name="other_vs", reference={"referenceArn": reference["arn"]})
    wait_for(lambda: omics.get_variant_store(name="other_vs"), "status", {"ACTIVE"})
    job = omics.start_variant_import_job(
        destinationName="other_vs", roleArn=ROLE, items=[{"source": f"s3://{bucket}/vcf/chrz.vcf"}]
    )
    done = wait_for(lambda: omics.get_variant_import_job(jobId=job["jobId"]), "status", JOB_DONE)
    assert done["status"] == "FAILED"
    assert "contig chrZ" in done["statusMessage"]


def test_delete_variant_store_removes_only_its_glue_objects(
    omics: Any, service_glue: Any, service_ram: Any, reference: dict[str, Any], state_dir: Path
) -> None:
    a = omics.create_variant_store(name="del_a", reference={"referenceArn": reference["arn"]})
    b = omics.create_variant_store(name="del_b", reference={"referenceArn": reference["arn"]})
    for name in ("del_a", "del_b"):
        wait_for(lambda n=name: omics.get_variant_store(name=n), "status", {"ACTIVE"})
    assert omics.delete_variant_store(name="del_a")["status"] == "DELETING"
    with pytest.raises(ClientError) as exc:
        service_glue.get_database(Name=f"variant_123456789012_{a['id']}")
    assert _code(exc) == "EntityNotFoundException"
    assert (
        service_glue.get_table(DatabaseName=f"variant_123456789012_{b['id']}", Name="del_b")[
            "Table"
        ]["Name"]
        == "del_b"
    )
    status = {
        s["name"]: s["status"]
        for s in service_ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
    }
    assert status[f"variant_123456789012_{a['id']}"] == "DELETED"
    assert status[f"variant_123456789012_{b['id']}"] == "ACTIVE"
    assert not (state_dir / "variant-stores" / a["id"]).exists()
    with pytest.raises(ClientError) as exc:
        omics.get_variant_store(name="del_a")
    assert _code(exc) == "ResourceNotFoundException"


def test_tags_on_create_and_tag_untag(omics: Any) -> None:
    store = omics.create_sequence_store(name="tagged", tags={"a": "1"})
    omics.tag_resource(resourceArn=store["arn"], tags={"b": "2"})
    assert omics.list_tags_for_resource(resourceArn=store["arn"])["tags"] == {"a": "1", "b": "2"}
    omics.untag_resource(resourceArn=store["arn"], tagKeys=["a"])
    assert omics.list_tags_for_resource(resourceArn=store["arn"])["tags"] == {"b": "2"}


def test_errors_use_model_shapes(omics: Any) -> None:
    with pytest.raises(ClientError) as exc:
        omics.get_reference_store(id="1234567890")
    assert _code(exc) == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        omics.get_sequence_store(id="abcdefghijk")
    assert _code(exc) == "ValidationException"
    assert "Member must satisfy regular expression pattern: [0-9]+" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        omics.list_configurations()
    assert _code(exc) == "NotImplementedException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "does not implement ListConfigurations" in str(exc.value)
