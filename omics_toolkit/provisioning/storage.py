"""Storage steps: the input and output buckets (encryption, versioning, TLS-only policy,
lifecycle rules, tags), and their deletion.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from omics_toolkit.constants import (
    BOOKKEEPING_KEYS,
    INCARNATION_KEY,
    LIFECYCLE_TAG,
)
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.provisioning import iam
from omics_toolkit.provisioning.core import (
    Steps,
    canon,
    tags_list,
)


def merge_lifecycle_rules(
    current: list[dict[str, Any]], ours: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A bucket's lifecycle rules with ours set and everyone else's kept.

    PutBucketLifecycleConfiguration replaces the whole configuration, so the rules read back
    (GetBucketLifecycleConfiguration) whose ``ID`` is not one of ours are kept, in their order;
    each of ours replaces the rule with its ``ID`` in place, or is appended.
    """
    by_id = {rule["ID"]: rule for rule in ours}
    merged = [by_id.get(rule.get("ID", ""), rule) for rule in current]
    present = {rule.get("ID") for rule in current}
    return merged + [rule for rule in ours if rule["ID"] not in present]


class StorageSteps(Steps):
    """S3 buckets of a deployment (S3 HeadBucket, CreateBucket, Put/GetBucket* calls;
    DeleteObjects, DeleteBucket on teardown)."""

    def ensure_bucket(self, bucket: str, lifecycle: list[dict[str, Any]]) -> None:
        """A private bucket: block public access, SSE-S3 (or SSE-KMS with ``kms_key_arn``),
        versioning, TLS-only policy, the lifecycle rules and the deployment tag (merged with the
        bucket's other tags). Reports the differing fields.

        Raises:
            UserError: the bucket exists but this account cannot read it (another owner).
        """
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=self.ctx.account_id)
        except AwsError as exc:
            if exc.code not in ("404", "NoSuchBucket", "NotFound"):
                raise UserError(
                    f"bucket {bucket} exists but is not accessible to account "
                    f"{self.ctx.account_id} ({exc.code}); choose another --deployment name"
                ) from exc
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.ctx.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.ctx.region}
            self._record("s3 bucket", bucket, "create", self._bucket_summary())
            if self.dry_run:
                return
            s3.create_bucket(**kwargs)
            self._configure_bucket(bucket, lifecycle)
            return
        changes = self._configure_bucket(bucket, lifecycle)
        self._record("s3 bucket", bucket, "update" if changes else "unchanged", ", ".join(changes))

    def incarnation(self) -> str | None:
        """The output bucket's incarnation id: 8 random hex digits in ``INCARNATION_KEY``.

        Written once, when the bucket has none (S3 PutObject with ``IfNoneMatch: "*"``, so two
        concurrent provisions agree on the first one written); read back by every later
        provision (S3 GetObject). ``teardown --force-delete-data`` deletes it with the bucket.
        The bucket's ListBuckets ``CreationDate`` is not used: S3 documents that it "can change
        when making changes to your bucket, such as editing its bucket policy".

        Returns:
            The id, or ``None`` in a dry run (``plan``) when none is written yet.

        Raises:
            AwsError: S3 GetObject or PutObject failed (other than a missing key or bucket).
        """
        s3 = self.client("s3")
        bucket = self.names.output_bucket
        current = self._object_text(bucket, INCARNATION_KEY)
        if current or self.dry_run:
            return current
        try:
            s3.put_object(
                Bucket=bucket,
                Key=INCARNATION_KEY,
                Body=secrets.token_hex(4).encode(),
                ContentType="text/plain",
                IfNoneMatch="*",
            )
        except AwsError as exc:
            if exc.code not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
        return self._object_text(bucket, INCARNATION_KEY)

    def _object_text(self, bucket: str, key: str) -> str | None:
        try:
            body = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except AwsError as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
                return None
            raise
        return body.decode().strip() or None

    def _bucket_summary(self) -> str:
        sse = f"SSE-KMS {self.settings.kms_key_arn}" if self.settings.kms_key_arn else "SSE-S3"
        return f"{sse}, versioned, TLS-only, public access blocked, lifecycle rules"

    def _sse_rule(self) -> dict[str, Any]:
        default: dict[str, Any] = {"SSEAlgorithm": "AES256"}
        if self.settings.kms_key_arn:
            default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.settings.kms_key_arn}
        return {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}

    def _configure_bucket(self, bucket: str, lifecycle: list[dict[str, Any]]) -> list[str]:
        """Bring an existing bucket's settings to the wanted state; returns the changed fields."""
        s3 = self.client("s3")
        changes: list[str] = []
        block = {
            k: True
            for k in (
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            )
        }
        try:
            current_block = s3.get_public_access_block(Bucket=bucket)[
                "PublicAccessBlockConfiguration"
            ]
        except AwsError:
            current_block = {}
        if current_block != block:
            self._change(
                changes,
                "public access block",
                lambda: s3.put_public_access_block(
                    Bucket=bucket, PublicAccessBlockConfiguration=block
                ),
            )
        rule = self._sse_rule()
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
                "Rules"
            ]
            current_sse = rules[0]["ApplyServerSideEncryptionByDefault"]
        except (AwsError, IndexError, KeyError):
            current_sse = {}
        wanted_sse = rule["ApplyServerSideEncryptionByDefault"]
        if {k: current_sse.get(k) for k in wanted_sse} != wanted_sse:
            self._change(
                changes,
                "encryption",
                lambda: s3.put_bucket_encryption(
                    Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]}
                ),
            )
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            self._change(
                changes,
                "versioning",
                lambda: s3.put_bucket_versioning(
                    Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
                ),
            )
        wanted_policy = iam.tls_only_bucket_policy(bucket, self.partition)
        try:
            current_policy = canon(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except AwsError:
            current_policy = None
        if current_policy != canon(wanted_policy):
            self._change(
                changes,
                "TLS-only policy",
                lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted_policy)),
            )
        try:
            current_rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except AwsError:
            current_rules = []
        wanted_rules = merge_lifecycle_rules(current_rules, lifecycle)
        if canon(current_rules) != canon(wanted_rules):
            self._change(
                changes,
                "lifecycle rules",
                lambda: s3.put_bucket_lifecycle_configuration(
                    Bucket=bucket, LifecycleConfiguration={"Rules": wanted_rules}
                ),
            )
        try:
            current_tags = {
                t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
            }
        except AwsError:
            current_tags = {}
        if {**current_tags, **self.tags} != current_tags:
            self._change(
                changes,
                "tags",
                lambda: s3.put_bucket_tagging(
                    Bucket=bucket, Tagging={"TagSet": tags_list({**current_tags, **self.tags})}
                ),
            )
        return changes

    def lifecycle_rules(self, prefix_days: int) -> list[dict[str, Any]]:
        """The deployment's lifecycle rules (PutBucketLifecycleConfiguration ``Rules``).

        - ``processed-to-glacier-ir``: objects the pipeline tagged ``processed`` move to Glacier
          Instant Retrieval after ``prefix_days``; current versions never expire.
        - ``abort-incomplete-uploads``: multipart uploads left unfinished for 7 days.
        - ``expire-noncurrent-versions``: the buckets are versioned, so an overwritten or deleted
          object leaves a noncurrent version; those expire ``noncurrent_version_days`` after
          they became noncurrent (``NoncurrentVersionExpiration``).

        Rules with other IDs (a user's own) are kept (:func:`merge_lifecycle_rules`).
        """
        return [
            {
                "ID": "processed-to-glacier-ir",
                "Status": "Enabled",
                "Filter": {"Tag": {"Key": LIFECYCLE_TAG, "Value": "processed"}},
                "Transitions": [{"Days": prefix_days, "StorageClass": "GLACIER_IR"}],
            },
            {
                "ID": "abort-incomplete-uploads",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            },
            {
                "ID": "expire-noncurrent-versions",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {
                    "NoncurrentDays": self.settings.noncurrent_version_days
                },
            },
        ]

    def delete_bucket(self, bucket: str, force: bool) -> None:
        """Delete ``bucket`` with every object version and delete marker, if this deployment
        tagged it (S3 GetBucketTagging, ListObjectVersions, DeleteObjects, DeleteBucket).

        Reports ``kept`` for a bucket not tagged by this deployment, or one that holds object
        versions while ``force`` is false (the toolkit's own ``BOOKKEEPING_KEYS`` do not count:
        they go with the bucket); nothing for a bucket that does not exist.

        Raises:
            AwsError: from S3 (a missing bucket is not an error).
        """
        s3 = self.client("s3")
        try:
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        except AwsError as exc:
            if exc.code in ("NoSuchBucket", "404"):
                return
            tags = {}
        if not self._ours(tags):
            self._record("s3 bucket", bucket, "kept", "not tagged by this deployment")
            return
        versions: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            versions += [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
        data = [v for v in versions if v["Key"] not in BOOKKEEPING_KEYS]
        if data and not force:
            self._record(
                "s3 bucket",
                bucket,
                "kept",
                f"holds {len(data)} object version(s); use --force-delete-data",
            )
            return

        def delete_bucket() -> None:
            for i in range(0, len(versions), 1000):
                s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": versions[i : i + 1000], "Quiet": True}
                )
            s3.delete_bucket(Bucket=bucket)

        self._delete("s3 bucket", bucket, f"{len(versions)} object version(s)", delete_bucket)
