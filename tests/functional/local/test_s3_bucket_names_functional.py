"""S3 and S3 Tables naming rules on the local stack (patch s3_bucket_names)."""

import uuid

import pytest

from omics_toolkit.errors import AwsError


@pytest.mark.parametrize(
    "name",
    ["Upper-case-bucket", "a..b-bucket", "192.168.5.4", "xn--bucket", "bucket--table-s3", "b" * 64],
)
def test_create_bucket_refuses_names_s3_refuses(aws, name):
    s3 = aws.client("s3")
    with pytest.raises(AwsError) as raised:
        s3.create_bucket(Bucket=name)
    assert raised.value.code == "InvalidBucketName"
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_bucket_accepts_a_63_character_name(aws):
    s3 = aws.client("s3")
    name = f"ok-{uuid.uuid4().hex}".ljust(63, "x")
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize("name", ["aws-tables-x", "a" * 64, "with_underscore"])
def test_create_table_bucket_refuses_names_s3_tables_refuses(aws, name):
    with pytest.raises(AwsError) as raised:
        aws.client("s3tables").create_table_bucket(name=name)
    assert raised.value.code == "BadRequestException"


def test_create_namespace_refuses_the_aws_prefix(aws):
    tables = aws.client("s3tables")
    arn = tables.create_table_bucket(name=f"ns-{uuid.uuid4().hex[:12]}")["arn"]
    with pytest.raises(AwsError) as raised:
        tables.create_namespace(tableBucketARN=arn, namespace=["awsdata"])
    assert raised.value.code == "BadRequestException"
    tables.create_namespace(tableBucketARN=arn, namespace=["data"])
