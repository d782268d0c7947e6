"""Tag merging on the local S3: existing tags are kept, never replaced."""

from omics_toolkit.aws.s3 import merge_object_tags


def test_merge_keeps_existing_tags(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="tag-merge")
    s3.put_object(Bucket="tag-merge", Key="k", Body=b"data", Tagging="owner=lab&project=x")
    merged = merge_object_tags(s3, "s3://tag-merge/k", {"omics-toolkit:lifecycle": "processed"})
    assert merged == {"owner": "lab", "project": "x", "omics-toolkit:lifecycle": "processed"}
    tags = {
        t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket="tag-merge", Key="k")["TagSet"]
    }
    assert tags == merged
    assert s3.get_object(Bucket="tag-merge", Key="k")["Body"].read() == b"data"
