"""Load VCFs into the S3 Tables back end (the pipeline's ``LoadVariants`` step and the CLI).

``load_variants`` is idempotent: a sample's rows are replaced by the rows of its newest VCF in
one Iceberg commit (see :func:`omics_toolkit.tables.iceberg.replace_rows`), so running the step
again (a retry, a re-run of the sample) never duplicates rows.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from omics_toolkit.errors import AwsError
from omics_toolkit.tables import iceberg
from omics_toolkit.tables.schema import VARIANT_COLUMNS, VARIANTS_TABLE
from omics_toolkit.tables.vcf import VcfError, read_vcf, vcf_samples

if TYPE_CHECKING:
    from omics_toolkit.aws.session import AwsContext


class VariantLoadError(Exception):
    """The VCF cannot be loaded (unreadable, no samples, bad contig); not worth retrying."""


@dataclass(frozen=True)
class LoadResult:
    """``table`` ``namespace.variants``; ``samples`` replaced; ``rows`` written; ``files`` data
    files in the table; ``snapshot_id`` after the commit; ``attempts`` commits tried;
    ``import_id`` the ``importjobid`` value of the rows."""

    table: str
    samples: list[str]
    rows: int
    files: int
    snapshot_id: int | None
    attempts: int
    import_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fetch(ctx: AwsContext, uri: str, dest_dir: Path) -> Path:
    """A local copy of ``uri`` (``s3://`` downloaded with GetObject; a path is used in place).

    The object's size (HeadObject ``ContentLength``) is compared with the free space of
    ``dest_dir`` first (in Lambda ``/tmp``: the function's ``EphemeralStorage``), so a VCF that
    cannot fit fails at once with the fix, not with a full disk halfway through.

    Raises:
        VariantLoadError: the object does not exist, cannot be read, or is larger than the free
            space of ``dest_dir``.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        path = Path(uri)
        if not path.is_file():
            raise VariantLoadError(f"{uri}: no such file")
        return path
    dest = dest_dir / (Path(parsed.path).name or "input.vcf.gz")
    s3 = ctx.client("s3")
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    try:
        size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except AwsError as exc:
        raise VariantLoadError(f"{uri}: cannot be read ({exc})") from exc
    free = shutil.disk_usage(dest_dir).free
    if size > free:
        raise VariantLoadError(
            f"{uri} is {size:,} bytes but {dest_dir} has {free:,} bytes free: raise the "
            "function's EphemeralStorage (up to 10,240 MB) or split the VCF by contig"
        )
    try:
        s3.download_file(bucket, key, str(dest))
    except AwsError as exc:
        raise VariantLoadError(f"{uri}: cannot be read ({exc})") from exc
    return dest


def load_variants(
    ctx: AwsContext,
    table_bucket_arn: str,
    namespace: str,
    vcf_uri: str,
    import_id: str,
    known_contigs: set[str] | None = None,
) -> LoadResult:
    """Replace the rows of the VCF's samples in ``<namespace>.variants`` with the VCF's rows.

    Args:
        table_bucket_arn: the deployment's S3 table bucket.
        namespace: the table bucket namespace (created with the table when missing).
        vcf_uri: ``s3://`` URI or local path of a VCF/VCF.gz with at least one sample.
        import_id: the ``importjobid`` value for the rows (the pipeline passes its execution
            name; the same input then gives the same rows).
        known_contigs: contigs allowed (``None``: any).

    Returns:
        A :class:`LoadResult`.

    Raises:
        VariantLoadError: unreadable or sites-only VCF, malformed record, unknown contig.
        pyiceberg.exceptions.CommitFailedException: other writers kept winning (retry later).
    """
    from omics_toolkit.aws.s3tables import S3TablesCatalog

    catalog = S3TablesCatalog(ctx, table_bucket_arn)
    iceberg.ensure_table(catalog, namespace, VARIANTS_TABLE, VARIANT_COLUMNS, "sampleid")
    with tempfile.TemporaryDirectory(prefix="omics-toolkit-load-") as tmp:
        local = fetch(ctx, vcf_uri, Path(tmp))
        try:
            samples = vcf_samples(local)
        except VcfError as exc:
            raise VariantLoadError(str(exc).replace(str(local), vcf_uri)) from exc
        if not samples:
            raise VariantLoadError(f"{vcf_uri}: a sites-only VCF has no samples to load")

        def batches() -> Any:
            return read_vcf(
                local,
                job_id=import_id,
                per_sample=True,
                uri=vcf_uri,
                known_contigs=known_contigs,
            )

        try:
            result = iceberg.replace_rows(
                catalog, namespace, VARIANTS_TABLE, batches, ("sampleid", samples)
            )
        except VcfError as exc:
            raise VariantLoadError(str(exc)) from exc
    return LoadResult(
        table=f"{namespace}.{VARIANTS_TABLE}",
        samples=samples,
        rows=result.rows,
        files=result.files,
        snapshot_id=result.snapshot_id,
        attempts=result.attempts,
        import_id=import_id,
    )
