"""The reference FASTA before import: checked (:func:`prepare_reference`), renamed when asked
(``--rename-contigs``), and the contig-name mapping kept with the deployment
(:func:`ensure_contig_names`, :func:`read_contig_names`).

Where things go:

- the renamed copy: ``<home>/references/<deployment>/<stem>.renamed-<sha256[:12]>.fa``
  (uncompressed; the digest of its bytes is in the name, so the same file and mapping give the
  same copy and the same reference name: a second ``provision`` imports nothing);
- the mapping: ``s3://<output bucket>/reference/contig-names.tsv`` (``#original<TAB>renamed``,
  one row per renamed sequence; :func:`omics_toolkit.references.mapping_tsv`), beside the
  uploaded reference, and the same TSV next to the local copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from omics_toolkit.aws.s3 import parse_s3_uri
from omics_toolkit.config import Settings
from omics_toolkit.constants import CONTIG_NAMES_KEY, REFERENCE_CONTIGS_KEY
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.references import (
    FastaCheck,
    auto_mapping,
    check_fasta,
    describe_problems,
    mapping_tsv,
    parse_mapping_tsv,
    read_mapping,
    renamed_digest,
    write_renamed,
)


@dataclass
class PreparedReference:
    """A checked reference: ``source`` is what gets imported (the user's file or URI, or the
    renamed copy), ``original`` what the user gave, ``contig_names`` ``{original: renamed}``
    (empty: nothing renamed), ``check`` the findings."""

    source: str
    original: str
    check: FastaCheck
    contig_names: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.source

    @property
    def final_names(self) -> list[str]:
        """The contig names as imported (after renaming), in FASTA order."""
        return [self.contig_names.get(n, n) for n in self.check.names]


def _opener(ctx: Any, reference: str) -> Any:
    if reference.startswith("s3://"):
        bucket, key = parse_s3_uri(reference)

        def open_s3() -> BinaryIO:
            try:
                body = ctx.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
            except AwsError as exc:
                raise UserError(
                    f"reference {reference} cannot be read ({exc.code}: {exc.message}); "
                    "check the URI and that you may s3:GetObject it"
                ) from exc
            return body  # type: ignore[no-any-return]

        return open_s3
    path = Path(reference)
    if not path.is_file():
        raise UserError(f"reference FASTA {path} does not exist; pass --reference FILE or s3://URI")
    return lambda: path.open("rb")


def renamed_dir(settings: Settings) -> Path:
    """``<home>/references/<deployment>``: where renamed copies and their mappings are written."""
    return settings.home / "references" / settings.deployment


def _stem(reference: str) -> str:
    name = reference.rsplit("/", 1)[-1]
    for suffix in (".gz", ".bgz", ".fasta", ".fa", ".fna", ".fas", ".fsa", ".txt", ".seq"):
        name = name.removesuffix(suffix)
    return name or "reference"


def prepare_reference(
    ctx: Any,
    settings: Settings,
    reference: str,
    rename_contigs: str | None = None,
    *,
    write: bool = True,
) -> PreparedReference:
    """Check ``reference`` (a FASTA file or ``s3://`` URI) and, with ``rename_contigs``, make the
    renamed copy to import instead.

    Args:
        ctx: AWS clients (S3 GetObject, streamed, for an ``s3://`` reference).
        settings: the deployment (``home`` and ``deployment`` place the renamed copy).
        reference: the user's FASTA (plain, gzip or bgzip).
        rename_contigs: ``None``, ``"auto"`` or the path of a two-column TSV (original, new).
        write: write the renamed copy (``False`` for ``plan``: its name and digest are computed
            without writing anything).

    Returns:
        A :class:`PreparedReference`; its ``source`` is the path of the renamed copy when
        sequences were renamed.

    Raises:
        UserError: the file is missing or unreadable; it has content problems; it has invalid
            names and no ``rename_contigs`` (the message lists each name with its reason and
            offers ``--rename-contigs``); the mapping file is invalid (see
            :func:`~omics_toolkit.references.read_mapping`).
    """
    open_source = _opener(ctx, reference)
    check = check_fasta(open_source, reference)
    if check.content_problems or (check.bad_names and not rename_contigs):
        raise UserError(describe_problems(check, rename_hint=not rename_contigs))
    if not rename_contigs:
        return PreparedReference(reference, reference, check)
    if rename_contigs == "auto":
        mapping = auto_mapping(check)
    else:
        mapping = read_mapping(Path(rename_contigs), check)
    if not mapping:
        return PreparedReference(reference, reference, check)
    # the renamed copy is written uncompressed: the plain-gzip advice is about a file not imported
    check.warnings = [w for w in check.warnings if ": plain gzip;" not in w]
    folder = renamed_dir(settings)
    if write:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{_stem(reference)}.{os.getpid()}.tmp"
        try:
            with tmp.open("wb") as out:
                digest = write_renamed(open_source, mapping, out.write)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    else:
        digest = renamed_digest(open_source, mapping)
    target = folder / f"{_stem(reference)}.renamed-{digest[:12]}.fa"
    if write:
        tmp.replace(target)
        target.with_suffix(".contigs.tsv").write_text(mapping_tsv(mapping))
    return PreparedReference(str(target), reference, check, mapping)


def ensure_contig_names(steps: Any, prepared: PreparedReference | None) -> None:
    """Keep the deployment's contig-name mapping in its output bucket (S3 Get/Put/DeleteObject).

    With renamed sequences: put ``reference/contig-names.tsv`` unless it already holds the same
    text (``create``/``update``/``unchanged``). With a reference that needs no renaming: delete
    a mapping left by an earlier reference. Without a reference (``None``): leave it as it is.

    Raises:
        AwsError: S3 refused the GetObject (other than no such key or bucket), PutObject or
            DeleteObject (e.g. ``AccessDenied``).
    """
    if prepared is None:
        return
    s3 = steps.client("s3")
    bucket = steps.names.output_bucket
    try:
        current: str | None = (
            s3.get_object(Bucket=bucket, Key=CONTIG_NAMES_KEY)["Body"].read().decode()
        )
    except AwsError as exc:  # no such key, or (plan) no bucket yet
        if exc.code not in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
            raise
        current = None
    uri = f"s3://{bucket}/{CONTIG_NAMES_KEY}"
    if not prepared.contig_names:
        if current is not None:
            if not steps.dry_run:
                s3.delete_object(Bucket=bucket, Key=CONTIG_NAMES_KEY)
            steps._record("contig names", uri, "delete", "the reference keeps its own names")
        return
    text = mapping_tsv(prepared.contig_names)
    detail = f"{len(prepared.contig_names)} renamed"
    if current == text:
        steps._record("contig names", uri, "unchanged", detail)
        return
    if not steps.dry_run:
        s3.put_object(
            Bucket=bucket,
            Key=CONTIG_NAMES_KEY,
            Body=text.encode(),
            ContentType="text/tab-separated-values",
        )
    steps._record("contig names", uri, "create" if current is None else "update", detail)


def read_contig_names(ctx: Any, output_bucket: str) -> dict[str, str]:
    """The deployment's ``{original: renamed}`` contig names (S3 GetObject of
    ``reference/contig-names.tsv``); empty when nothing was renamed.

    Raises:
        UserError: the output bucket does not exist (the deployment is not provisioned).
    """
    try:
        body = ctx.client("s3").get_object(Bucket=output_bucket, Key=CONTIG_NAMES_KEY)["Body"]
    except AwsError as exc:
        if exc.code == "NoSuchBucket":
            raise UserError(
                f"bucket {output_bucket} does not exist: the deployment is not provisioned; "
                "run `omics-toolkit provision`"
            ) from exc
        if exc.code in ("NoSuchKey", "404", "NotFound"):
            return {}
        raise
    return parse_mapping_tsv(body.read().decode())


def _get_text(s3: Any, bucket: str, key: str) -> str | None:
    """The object's text, or ``None`` when the bucket or key does not exist (S3 GetObject)."""
    try:
        return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
    except AwsError as exc:
        if exc.code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
            return None
        raise


def check_reference_binding(
    steps: Any, prepared: PreparedReference | None, existing_name: str | None
) -> None:
    """Refuse a reference whose contig names differ from those the deployment is bound to.

    The variant and annotation stores (CreateVariantStore ``reference.referenceArn``) and the
    S3 Tables loader's contig check keep the reference of the first ``provision``; a new
    reference with other contig names would be imported, and every later sample would then
    fail at ImportVcf ("contig X is not in the reference"). Called before anything is created.

    The bound names are read from ``reference/contigs.txt`` in the output bucket (written by
    :func:`record_reference_contigs`); a deployment provisioned before that record existed is
    compared by reference name (``existing_name``, the store's ACTIVE reference).

    Args:
        steps: the provisioner (its S3 client and names).
        prepared: the reference given to ``plan``/``provision`` (``None``: none given).
        existing_name: name of the reference store's ACTIVE reference, ``None`` if none.

    Raises:
        UserError: the contig names differ (listed), saying to use a new deployment
            (``-d NAME``) or to ``teardown --force-delete-data`` first.
    """
    if prepared is None:
        return
    from omics_toolkit.provisioning.healthomics import reference_name

    recorded = _get_text(steps.client("s3"), steps.names.output_bucket, REFERENCE_CONTIGS_KEY)
    new = prepared.final_names
    if recorded is not None:
        old = [line for line in recorded.splitlines() if line]
        if set(old) == set(new):
            return
        gone, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        what = "; ".join(
            part
            for part in (
                f"not in the new one: {', '.join(gone[:10])}" if gone else "",
                f"new: {', '.join(added[:10])}" if added else "",
            )
            if part
        )
    elif existing_name is not None and existing_name != reference_name(prepared.source):
        what = (
            f"the deployment holds reference {existing_name}, whose contig names are not recorded"
        )
    else:
        return
    deployment = steps.names.deployment
    raise UserError(
        f"reference {prepared.original}"
        + (f" (renamed by --rename-contigs to {prepared.source})" if prepared.contig_names else "")
        + f" has other contig names than the reference deployment {deployment} is bound to "
        f"({what}). Its variant store and variant tables keep the first reference, so every "
        "later sample would fail to import. Nothing was changed. To use this reference, "
        f"provision a new deployment (`omics-toolkit -d NEW_NAME provision --reference ...`), or "
        f"delete this one with its data first (`omics-toolkit -d {deployment} teardown "
        "--force-delete-data`); to keep this one, drop --reference (or give the same reference "
        "and --rename-contigs as before)"
    )


def record_reference_contigs(steps: Any, prepared: PreparedReference | None) -> None:
    """Write the imported reference's contig names to ``reference/contigs.txt`` in the output
    bucket (S3 GetObject/PutObject), read back by :func:`check_reference_binding`. Without a
    reference (``None``) or in a dry run: nothing."""
    if prepared is None or steps.dry_run:
        return
    s3 = steps.client("s3")
    bucket = steps.names.output_bucket
    text = "".join(f"{n}\n" for n in prepared.final_names)
    if _get_text(s3, bucket, REFERENCE_CONTIGS_KEY) != text:
        s3.put_object(
            Bucket=bucket, Key=REFERENCE_CONTIGS_KEY, Body=text.encode(), ContentType="text/plain"
        )
