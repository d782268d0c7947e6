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

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from omics_toolkit.aws.s3 import parse_s3_uri
from omics_toolkit.config import Settings
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.references import (
    FastaCheck,
    auto_mapping,
    check_fasta,
    describe_problems,
    mapping_tsv,
    parse_mapping_tsv,
    read_mapping,
    write_renamed,
)

#: Key of the contig-name mapping in the deployment's output bucket.
CONTIG_NAMES_KEY = "reference/contig-names.tsv"


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
    digest = hashlib.sha256()
    folder = renamed_dir(settings)
    if write:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{_stem(reference)}.{os.getpid()}.tmp"
        try:
            with tmp.open("wb") as out:

                def sink(data: bytes) -> None:
                    digest.update(data)
                    out.write(data)

                write_renamed(open_source, mapping, sink)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    else:
        write_renamed(open_source, mapping, digest.update)
    target = folder / f"{_stem(reference)}.renamed-{digest.hexdigest()[:12]}.fa"
    if write:
        tmp.replace(target)
        target.with_suffix(".contigs.tsv").write_text(mapping_tsv(mapping))
    return PreparedReference(str(target), reference, check, mapping)


def ensure_contig_names(steps: Any, prepared: PreparedReference | None) -> None:
    """Keep the deployment's contig-name mapping in its output bucket (S3 Get/Put/DeleteObject).

    With renamed sequences: put ``reference/contig-names.tsv`` unless it already holds the same
    text (``create``/``update``/``unchanged``). With a reference that needs no renaming: delete
    a mapping left by an earlier reference. Without a reference (``None``): leave it as it is.
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
