"""The Lambda layer ``<deployment>-tables``: the variant loader's dependencies (pyiceberg, pyarrow,
cyvcf2 and what they require), taken from this environment's installed distributions.

Lambda's Python runtime has boto3 only, so the loader needs these in a layer. The layer is built
from the installed files (the platform must match the function's: CPython 3.11 on Linux
x86_64), minus what the loader never imports (Arrow Flight, headers, Cython
sources, test suites, byte code), and cached per set of installed versions. It is larger than
Lambda's 50 MB direct-upload limit, so it is published from S3 (the deployment's output bucket,
``lambda-layers/``). Lambda's 250 MB limit on unzipped function + layers is checked before
publishing.
"""

from __future__ import annotations

import hashlib
import platform
import re
import sys
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from omics_toolkit.config import default_home
from omics_toolkit.distributions import closure, normalise
from omics_toolkit.errors import UserError
from omics_toolkit.provisioning.layers import ensure_layer
from omics_toolkit.ziputil import deterministic_zip

if TYPE_CHECKING:
    from omics_toolkit.provisioning.core import Steps

KIND = "lambda layer"
DISTRIBUTIONS = ("pyiceberg", "pyarrow", "cyvcf2")
#: Provided by the Lambda Python runtime (boto3 and its dependencies) or another layer.
PROVIDED = ("boto3", "aws-lambda-powertools")
#: Lambda's limit on a function's unzipped code plus layers (bytes).
UNZIPPED_LIMIT = 250 * 1024 * 1024
_PRUNED = re.compile(
    r"(^|/)(__pycache__|tests?|include|src)/|\.(pyc|pyx|pxd|pxi|h|hpp|cc|cpp)$"
    r"|^pyarrow/(lib)?_?(arrow_)?flight"
)


def layer_name(deployment: str) -> str:
    """``<deployment>-tables``."""
    return f"{deployment}-tables"


def distributions() -> list[metadata.Distribution]:
    """The layer's distributions: the closure of :data:`DISTRIBUTIONS` minus :data:`PROVIDED`'s.

    Raises:
        UserError: pyiceberg, pyarrow or cyvcf2 is not installed (``pip install
            'omics-toolkit[tables]'``).
    """
    wanted = closure(DISTRIBUTIONS)
    missing = [d for d in DISTRIBUTIONS if normalise(d) not in wanted]
    if missing:
        raise UserError(
            f"the S3 Tables back end needs {', '.join(missing)} installed to build its Lambda "
            "layer: pip install 'omics-toolkit[tables]'"
        )
    provided = closure(PROVIDED)
    return [wanted[k] for k in sorted(wanted) if k not in provided]


def _files(dists: list[metadata.Distribution]) -> list[tuple[str, Path]]:
    out = []
    for dist in dists:
        for file in dist.files or []:
            rel = PurePosixPath(str(file))
            if rel.parts and rel.parts[0] == ".." or _PRUNED.search(str(rel)):
                continue
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                out.append((str(rel), path))
    return sorted(out)


def check_platform() -> None:
    """The installed binaries must be the function's platform (python3.11, Linux x86_64).

    Raises:
        UserError: another Python or platform.
    """
    here = f"CPython {sys.version_info.major}.{sys.version_info.minor} on {sys.platform} {platform.machine()}"
    if sys.version_info[:2] != (3, 11) or sys.platform != "linux" or platform.machine() != "x86_64":
        raise UserError(
            f"the tables layer is built from installed wheels, which are for {here}; the "
            "variant loader runs on python3.11 Linux x86_64: provision from such a machine "
            '(or set variant_backend = "stores")'
        )


def layer_zip(home: Path | None = None) -> tuple[Path, int]:
    """Build (once per set of installed versions) the layer zip; return its path and unzipped size.

    Files go under ``python/`` (Lambda adds ``/opt/python`` to ``sys.path``), deterministic zip.
    """
    dists = distributions()
    digest = hashlib.sha256(
        "\n".join(f"{d.metadata['Name']}=={d.version}" for d in dists).encode()
    ).hexdigest()[:16]
    cache = (home or default_home()) / "cache" / "tables-layer"
    target = cache / f"{digest}.zip"
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        files = _files(dists)
        data = deterministic_zip((f"python/{rel}", path.read_bytes()) for rel, path in files)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)
    with zipfile.ZipFile(target) as zf:
        size = sum(i.file_size for i in zf.infolist())
    return target, size


def ensure_tables_layer(prov: Steps, bucket: str) -> str:
    """Publish the tables layer from ``s3://bucket/lambda-layers/`` unless the same content exists.

    Compares ``Content.CodeSha256`` of existing versions (ListLayerVersions, GetLayerVersion),
    else PutObject + PublishLayerVersion (``Content.S3Bucket``/``S3Key``). Reports ``lambda layer
    <deployment>-tables`` ``create`` or ``unchanged``.

    Returns:
        The LayerVersionArn (a placeholder in a dry run that would publish).

    Raises:
        UserError: wrong platform (AWS only), missing packages, or above Lambda's 250 MB.
    """
    if prov.ctx.lambda_limits_enforced:
        check_platform()
    path, unzipped = layer_zip(prov.settings.home)
    if unzipped > UNZIPPED_LIMIT and prov.ctx.lambda_limits_enforced:
        raise UserError(
            f"the tables layer unzips to {unzipped // 2**20} MB, above Lambda's 250 MB; "
            'use variant_backend = "stores" where the account has stores'
        )
    data = path.read_bytes()
    name = layer_name(prov.names.deployment)

    def upload() -> dict[str, str | bytes]:
        key = f"lambda-layers/{name}-{hashlib.sha256(data).hexdigest()[:16]}.zip"
        prov.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
        return {"S3Bucket": bucket, "S3Key": key}

    return ensure_layer(
        prov,
        name,
        data,
        upload,
        f"{len(data) // 2**20} MB zipped, {unzipped // 2**20} MB unzipped",
        Description="pyiceberg, pyarrow, cyvcf2 for the omics-toolkit variant loader",
        CompatibleArchitectures=["x86_64"],
    )
