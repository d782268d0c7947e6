"""The deployment's Lambda layer holding the toolkit's own wheel (``<deployment>-toolkit``).

Functions get ``Layers=[<toolkit layer version>, <AWS-managed Powertools layer>]`` (the latter in
AWS only; the local stack's runtime provides Powertools). A new layer version is published only
when no existing version has the same content: versions are compared by Lambda's own
``Content.CodeSha256`` (GetLayerVersion), the base64 SHA-256 of the layer zip, which
:func:`omics_toolkit.provisioning.packaging.toolkit_layer_zip` keeps stable for the same sources.

Lambda layers cannot be tagged (TagResource accepts functions, event source mappings and code
signing configurations only), so teardown identifies the layer by its name alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from omics_toolkit import __version__
from omics_toolkit.errors import AwsError
from omics_toolkit.lambda_facts import FUNCTION_RUNTIME
from omics_toolkit.provisioning.packaging import code_sha256, toolkit_layer_zip

if TYPE_CHECKING:
    from omics_toolkit.provisioning.core import Steps

KIND = "lambda layer"
#: Runtime of the pipeline's functions and of the layers published for them (python3.13 on
#: Amazon Linux 2023; why: :data:`omics_toolkit.lambda_facts.FUNCTION_RUNTIME`).
LAMBDA_RUNTIME = FUNCTION_RUNTIME
#: The toolkit is pure Python: one layer serves both Lambda architectures.
ARCHITECTURES = ["x86_64", "arm64"]


def layer_name(deployment: str) -> str:
    """Name of the deployment's toolkit layer: ``<deployment>-toolkit``."""
    return f"{deployment}-toolkit"


def layer_versions(lam: Any, name: str) -> list[dict[str, Any]]:
    """All versions of layer ``name``, newest first (ListLayerVersions, paginated).

    Returns ``[]`` when the layer does not exist (Lambda answers an empty list, not an error).
    """
    versions: list[dict[str, Any]] = []
    try:
        for page in lam.get_paginator("list_layer_versions").paginate(LayerName=name):
            versions.extend(page.get("LayerVersions", []))
    except AwsError as exc:
        if exc.code != "ResourceNotFoundException":
            raise
    return sorted(versions, key=lambda v: int(v["Version"]), reverse=True)


def ensure_layer(
    prov: Steps,
    name: str,
    data: bytes,
    content: Callable[[], dict[str, str | bytes]],
    detail: str,
    **publish: Any,
) -> str:
    """Publish layer ``name`` unless a version with the same content exists; return its ARN.

    Reads ListLayerVersions then GetLayerVersion (newest first) and compares
    ``Content.CodeSha256`` (the base64 SHA-256 of ``data``) and ``CompatibleRuntimes``;
    PublishLayerVersion only when none matches, with ``Content=content()`` (called only then:
    ``{"ZipFile": ...}`` or an uploaded ``{"S3Bucket", "S3Key"}``) and ``publish`` (Description,
    CompatibleArchitectures, ...). Reports one action ``lambda layer <name>``: ``create`` or
    ``unchanged``.

    Returns:
        The LayerVersionArn; in a dry run that would publish, ``"<new version of <name>>"``.
    """
    sha = code_sha256(data)
    lam = prov.client("lambda")
    for version in layer_versions(lam, name):
        full = lam.get_layer_version(LayerName=name, VersionNumber=int(version["Version"]))
        if full.get("Content", {}).get("CodeSha256") == sha and LAMBDA_RUNTIME in full.get(
            "CompatibleRuntimes", []
        ):
            prov._record(KIND, name, "unchanged", f"version {full['Version']}")
            return str(full["LayerVersionArn"])
    detail = f"{detail}, CodeSha256 {sha}"
    if prov.dry_run:
        prov._record(KIND, name, "create", f"would publish a new version: {detail}")
        return f"<new version of {name}>"
    published = lam.publish_layer_version(
        LayerName=name, Content=content(), CompatibleRuntimes=[LAMBDA_RUNTIME], **publish
    )
    prov._record(KIND, name, "create", f"version {published['Version']}, {detail}")
    return str(published["LayerVersionArn"])


def ensure_toolkit_layer(prov: Steps, data: bytes | None = None) -> str:
    """The toolkit layer ``<deployment>-toolkit`` (see :func:`ensure_layer`); returns its ARN.

    Args:
        data: the layer zip (:func:`toolkit_layer_zip`), built here when omitted.

    Raises:
        UserError: the toolkit's wheel cannot be built (see ``packaging.build_toolkit_wheel``).
    """
    data = data if data is not None else toolkit_layer_zip(prov.settings.home)
    return ensure_layer(
        prov,
        layer_name(prov.names.deployment),
        data,
        lambda: {"ZipFile": data},
        f"{len(data)} bytes",
        Description=f"omics-toolkit {__version__} for deployment {prov.names.deployment}",
        CompatibleArchitectures=ARCHITECTURES,
        LicenseInfo="Apache-2.0",
    )


def delete_toolkit_layer(td: Steps) -> None:
    """Delete every version of the deployment's toolkit layer (see :func:`delete_layer`)."""
    delete_layer(td, layer_name(td.names.deployment))


def delete_layer(td: Steps, name: str) -> None:
    """Delete every version of layer ``name`` (DeleteLayerVersion).

    The layer is found by name (layers carry no tags). Functions that still use a deleted version
    keep working in AWS; delete the functions first anyway. Reports ``delete`` (detail: the
    versions) or ``absent``; in a dry run nothing is deleted and ``delete`` is reported.
    """
    lam = td.client("lambda")
    versions = [int(v["Version"]) for v in layer_versions(lam, name)]
    if not versions:
        td._record(KIND, name, "absent")
        return
    if not td.dry_run:
        for number in versions:
            lam.delete_layer_version(LayerName=name, VersionNumber=number)
    td._record(KIND, name, "delete", "versions " + ", ".join(map(str, sorted(versions))))
