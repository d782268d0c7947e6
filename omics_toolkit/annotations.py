"""Annotation sets: import a ClinVar-format VCF or a gene annotation (GFF3/TSV) as the table
``annotations_<name>`` next to ``variants``, in either variant back end.

Table contract (what ``queries/`` relies on): columns
:data:`~omics_toolkit.tables.schema.ANNOTATION_VCF_COLUMNS` for a VCF source,
:data:`~omics_toolkit.tables.schema.GENE_COLUMNS` for GFF3/TSV; 0-based half-open coordinates;
contig names mapped at import onto the naming of the contigs in ``variants``
(``SELECT DISTINCT contigname FROM variants``; when ``variants`` is empty the names are kept and
the result says so).

Back ends:

- ``s3tables``: the Iceberg table ``<namespace>.annotations_<name>`` in the deployment's table
  bucket; an import replaces every row in one commit (``replace_rows(match=None)``); the
  snapshot summary records the source file name (the snapshot time is the import time); Lake Formation DESCRIBE+SELECT to the
  provisioning principal and every reader of the deployment
  (:meth:`omics_toolkit.provisioning.analytics.AnalyticsSteps.grant_readers`).
- ``stores``: one HealthOmics annotation store per imported content,
  ``<deployment_snake>_ann_<name>_<digest12>`` (the digest is the sha256 of the normalised file,
  so re-importing the same content finds the store and changes nothing; StartAnnotationImportJob
  has no ``clientToken``). The normalised file is uploaded to
  ``s3://<output bucket>/annotations/<name>/<digest>/`` (the user's file is never modified) and
  imported with the deployment's ``omics-import`` role: a VCF into a ``VCF`` store; a gene table
  as a TSV store (``CHR_START_END_ZERO_BASE``, ``formatToHeader`` CHR/START/END ->
  contigname/start/end, a ``schema`` of the gene columns). The Glue resource link
  ``annotations_<name>`` in the deployment's Glue database is then (re)pointed at the new store's
  table (Lake Formation DESCRIBE on the link, DESCRIBE+SELECT on the target, to the provisioning
  principal and every reader of the deployment) and only then is
  the store it pointed at before deleted. A failure deletes nothing: the link keeps serving the
  previous rows.

  HealthOmics TSV schemas only have scalar types, so in a TSV store the gene ``attributes`` are a
  JSON object in a ``string`` column (``CAST(json_parse(attributes) AS map(varchar, varchar))``
  in Athena); every other column matches the Iceberg table.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.errors import AwsError, NotProvisionedError, ToolkitError, UserError
from omics_toolkit.files import sha256_file
from omics_toolkit.identity import Names
from omics_toolkit.principals import grantee
from omics_toolkit.tables.annotations import (
    ContigStats,
    columns_of,
    detect_format,
    read_annotation,
)
from omics_toolkit.tables.schema import VARIANTS_TABLE, annotation_table

if TYPE_CHECKING:
    import pyarrow as pa

    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.config import Settings

log = logging.getLogger(__name__)

#: Tags on an annotation store made by an import.
SET_TAG = "omics-toolkit:annotation-set"
SOURCE_TAG = "omics-toolkit:source"
ROWS_TAG = "omics-toolkit:rows"
#: Snapshot-summary property an import writes (the source file name).
SOURCE_PROPERTY = "omics-toolkit.source"
#: Columns of the gene TSV written for a TSV annotation store (also its header row).
TSV_STORE_SCHEMA: list[tuple[str, str]] = [
    ("contigname", "STRING"),
    ("start", "INT"),
    ("end", "INT"),
    ("strand", "STRING"),
    ("gene_id", "STRING"),
    ("gene_name", "STRING"),
    ("feature", "STRING"),
    ("attributes", "STRING"),
]
#: Seconds to wait for a store to become ACTIVE and for an import job to finish.
WAIT_SECONDS = 3600.0


@dataclass(frozen=True)
class ImportResult:
    """What one import did.

    Attributes:
        name: the annotation set; ``table``: ``annotations_<name>``; ``backend``: ``stores`` or
        ``s3tables``; ``format``: ``vcf``/``gff3``/``tsv``; ``rows``: rows in the table;
        ``contigs``: distinct source contigs; ``contigs_renamed``: ``{source: new}``;
        ``contigs_unmatched``: source contigs absent from ``variants``; ``target_contigs``:
        contigs of ``variants`` (0: nothing to match, names kept); ``changed``: False when the
        same content was already imported; ``location``: the store name or Iceberg table.
    """

    name: str
    table: str
    backend: str
    format: str
    rows: int
    contigs: int
    contigs_renamed: dict[str, str]
    contigs_unmatched: list[str]
    target_contigs: int
    changed: bool
    location: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AnnotationSet:
    """One imported annotation set (``annotations list``)."""

    name: str
    table: str
    backend: str
    rows: int | None
    source: str | None
    imported_at: str | None
    location: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _backend(ctx: AwsContext, settings: Settings) -> str:
    from omics_toolkit.athena import variant_backend

    backend = variant_backend(ctx, settings)
    if backend not in ("stores", "s3tables"):
        raise UserError(
            f"deployment {settings.deployment!r} keeps no variant tables (variant_backend "
            f'{backend!r}); annotations need variant_backend = "stores" or "s3tables"'
        )
    return backend


def variant_contigs(ctx: AwsContext, settings: Settings) -> set[str]:
    """Distinct ``contigname`` of the ``variants`` table (Athena); empty when there is none."""
    from omics_toolkit.athena import run_query

    try:
        df = run_query(ctx, settings, f"SELECT DISTINCT contigname FROM {VARIANTS_TABLE}")
    except UserError as exc:
        log.info("no variants to match contig names against: %s", exc)
        return set()
    return {str(c) for c in df["contigname"].dropna()}


def import_annotations(
    ctx: AwsContext,
    settings: Settings,
    name: str,
    path: Path,
    fmt: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportResult:
    """Import ``path`` as annotation set ``name`` (replacing its rows when it exists).

    Args:
        name: lowercase set name; the table is ``annotations_<name>``.
        path: local VCF (``.vcf[.gz]``), GFF3 (``.gff3``/``.gff`` [``.gz``]) or gene TSV
            (``.tsv``/``.txt`` [``.gz``]).
        fmt: ``vcf``, ``gff3`` or ``tsv`` to override the name-based detection.
        sleep: injectable wait between status polls (stores back end).

    Returns:
        An :class:`ImportResult`.

    Raises:
        UserError: bad name, missing/malformed file (naming file and line), a deployment without
            variant tables or without its output bucket/table bucket.
        ToolkitError: the HealthOmics store or import job failed (nothing was deleted).
    """
    try:
        table = annotation_table(name)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    fmt = detect_format(path, fmt)
    backend = _backend(ctx, settings)
    target = variant_contigs(ctx, settings)
    if backend == "s3tables":
        return _import_s3tables(ctx, settings, name, table, path, fmt, target)
    return _StoresImport(ctx, settings, sleep).run(name, table, path, fmt, target)


def _result(
    name: str,
    table: str,
    backend: str,
    fmt: str,
    rows: int,
    stats: ContigStats,
    changed: bool,
    location: str,
) -> ImportResult:
    return ImportResult(
        name=name,
        table=table,
        backend=backend,
        format=fmt,
        rows=rows,
        contigs=len(stats.seen),
        contigs_renamed=dict(sorted(stats.renamed.items())),
        contigs_unmatched=sorted(stats.unmatched),
        target_contigs=len(stats.target),
        changed=changed,
        location=location,
    )


# ---------------------------------------------------------------------- S3 Tables
def _provisioner(ctx: AwsContext, settings: Settings) -> Any:
    from omics_toolkit.provisioning.provision import Provisioner

    return Provisioner(ctx, settings)


def _table_bucket(prov: Any) -> str:
    from omics_toolkit.provisioning.s3tables import find_table_bucket

    arn = find_table_bucket(prov)
    if not arn:
        raise NotProvisionedError(
            prov.names.deployment, prov.settings.target, prov.names.region, "table bucket"
        )
    return str(arn)


def _import_s3tables(
    ctx: AwsContext,
    settings: Settings,
    name: str,
    table: str,
    path: Path,
    fmt: str,
    target: set[str],
) -> ImportResult:
    from pyiceberg.exceptions import NoSuchTableError

    from omics_toolkit.aws.s3tables import S3TablesCatalog
    from omics_toolkit.tables import iceberg
    from omics_toolkit.tables.schema import arrow_schema

    prov = _provisioner(ctx, settings)
    namespace = prov.names.table_namespace
    catalog = S3TablesCatalog(ctx, _table_bucket(prov))
    columns = columns_of(fmt)
    digest = sha256_file(path)
    job_id = f"{name}-{digest[:12]}"
    # Read once before touching the table: a malformed file changes nothing.
    stats = ContigStats(target)
    for _ in read_annotation(path, fmt, job_id=job_id, contig_map=stats, uri=str(path)):
        pass
    try:
        existing = catalog.load_table((namespace, table))
        wanted = [f.name for f in arrow_schema(columns)]
        if [f.name for f in existing.schema().fields] != wanted:
            # The set changes kind (VCF <-> genes): the old layout cannot take the new rows.
            catalog.drop_table((namespace, table))
    except NoSuchTableError:
        pass
    iceberg.ensure_table(catalog, namespace, table, columns)

    def batches() -> Iterable[pa.RecordBatch]:
        return read_annotation(
            path, fmt, job_id=job_id, contig_map=ContigStats(target), uri=str(path)
        )

    result = iceberg.replace_rows(
        catalog, namespace, table, batches, None, {SOURCE_PROPERTY: path.name}
    )
    prov.grant_readers(prov.reader_grants("s3tables"), grantee(ctx, settings))
    return _result(name, table, "s3tables", fmt, result.rows, stats, True, f"{namespace}.{table}")


# ---------------------------------------------------------------------- HealthOmics stores
def _tsv_value(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        raise UserError(f"a value contains a tab or newline and cannot go into a TSV: {text!r}")
    return text


def write_store_tsv(batches: Iterable[pa.RecordBatch], dest: Path) -> int:
    """Write gene rows as the gzip TSV a TSV annotation store imports; returns the row count.

    Header :data:`TSV_STORE_SCHEMA` names; NULL -> empty field; ``attributes`` as a JSON object
    (keys sorted); gzip with mtime 0 so the same rows give the same bytes (and digest).
    """
    rows = 0
    with gzip.GzipFile(dest, "wb", mtime=0) as raw:
        raw.write(("\t".join(c for c, _ in TSV_STORE_SCHEMA) + "\n").encode())
        for batch in batches:
            lines = []
            for row in batch.to_pylist():
                attrs = dict(row["attributes"] or [])
                row["attributes"] = json.dumps(attrs, sort_keys=True, separators=(",", ":"))
                lines.append("\t".join(_tsv_value(row[c]) for c, _ in TSV_STORE_SCHEMA))
                rows += 1
            if lines:
                raw.write(("\n".join(lines) + "\n").encode())
    return rows


def write_store_vcf(source: Path, dest: Path, rename: dict[str, str]) -> None:
    """Copy a VCF with contigs renamed (records' CHROM and ``##contig`` IDs); gzip, mtime 0."""
    from omics_toolkit.tables.annotations import _open_text

    with _open_text(source) as src, gzip.GzipFile(dest, "wb", mtime=0) as out:
        for line in src:
            if line.startswith("##contig=<ID="):
                head, _, rest = line[len("##contig=<ID=") :].partition(",")
                ident = head.rstrip(">\n")
                if ident in rename:
                    line = line.replace(f"ID={ident}", f"ID={rename[ident]}", 1)
            elif not line.startswith("#"):
                chrom, tab, rest = line.partition("\t")
                if chrom in rename:
                    line = rename[chrom] + tab + rest
            out.write(line.encode())


class _StoresImport:
    """The stores back end's import (see the module docstring)."""

    def __init__(self, ctx: AwsContext, settings: Settings, sleep: Callable[[float], None]) -> None:
        self.ctx = ctx
        self.settings = settings
        self.names = Names(settings.deployment, ctx.account_id, ctx.region)
        self.omics = ctx.client("omics")
        self.sleep = sleep
        self.poll = ctx.job_poll_seconds

    def run(self, name: str, table: str, path: Path, fmt: str, target: set[str]) -> ImportResult:
        with tempfile.TemporaryDirectory(prefix="omics-toolkit-annotations-") as tmp:
            stats = ContigStats(target)
            batches = read_annotation(path, fmt, job_id="", contig_map=stats, uri=str(path))
            if fmt == "vcf":
                rows = sum(b.num_rows for b in batches)
                normalised = Path(tmp) / (path.name.removesuffix(".gz") + ".gz")
                if stats.renamed:
                    write_store_vcf(path, normalised, stats.renamed)
                else:
                    shutil.copyfile(path, normalised)
            else:
                normalised = Path(tmp) / f"{name}.tsv.gz"
                rows = write_store_tsv(batches, normalised)
            digest = hashlib.sha256(fmt.encode() + b"\0" + normalised.read_bytes()).hexdigest()
            store = f"{self.names.snake}_ann_{name}_{digest[:12]}"
            database, changed = self._ensure_store(store, name, fmt, path.name, rows)
            if changed:
                key = f"annotations/{name}/{digest[:12]}/{normalised.name}"
                self.ctx.client("s3").upload_file(str(normalised), self.names.output_bucket, key)
                self._import(store, fmt, f"s3://{self.names.output_bucket}/{key}")
        previous = self._link(table, database, store)
        if previous and previous != store:
            self._delete_previous(previous, name)
        return _result(name, table, "stores", fmt, rows, stats, changed, store)

    # -- store and import
    def _get_store(self, store: str) -> dict[str, Any] | None:
        try:
            return dict(self.omics.get_annotation_store(name=store))
        except AwsError as exc:
            if "NotFound" in exc.code:
                return None
            raise

    def _ensure_store(
        self, store: str, name: str, fmt: str, source: str, rows: int
    ) -> tuple[str, bool]:
        """The store for this content (created when missing, waited ACTIVE); returns its Glue
        database and whether an import is needed (False when a COMPLETED one exists)."""
        found = self._get_store(store)
        if found is None or found.get("status") == "FAILED":
            if found is not None:  # a FAILED store of an earlier attempt: never served, replace
                self.omics.delete_annotation_store(name=store, force=True)
            create: dict[str, Any] = {
                "name": store,
                "description": f"omics-toolkit {self.names.deployment} annotations_{name}",
                "tags": {
                    DEPLOYMENT_TAG: self.names.deployment,
                    SET_TAG: name,
                    SOURCE_TAG: source[:256],
                    ROWS_TAG: str(rows),
                },
            }
            if self.settings.kms_key_arn:
                create["sseConfig"] = {"type": "KMS", "keyArn": self.settings.kms_key_arn}
            if fmt == "vcf":
                create["storeFormat"] = "VCF"
            else:
                create["storeFormat"] = "TSV"
                create["storeOptions"] = {
                    "tsvStoreOptions": {
                        "annotationType": "CHR_START_END_ZERO_BASE",
                        "formatToHeader": {"CHR": "contigname", "START": "start", "END": "end"},
                        "schema": [{c: t} for c, t in TSV_STORE_SCHEMA],
                    }
                }
            self.omics.create_annotation_store(**create)
        info = self._wait(
            f"annotation store {store}",
            lambda: self.omics.get_annotation_store(name=store),
            {"ACTIVE"},
        )
        database = f"annotation_{self.ctx.account_id}_{info['id']}"
        jobs = self.omics.list_annotation_import_jobs(
            filter={"storeName": store, "status": "COMPLETED"}
        ).get("annotationImportJobs", [])
        return database, not jobs

    def _import(self, store: str, fmt: str, source: str) -> None:
        start: dict[str, Any] = {
            "destinationName": store,
            "roleArn": f"arn:{self.ctx.partition()}:iam::{self.ctx.account_id}:role/"
            f"{self.names.role('omics-import')}",
            "items": [{"source": source}],
        }
        if fmt != "vcf":
            start["formatOptions"] = {"tsvOptions": {"readOptions": {"sep": "\t", "header": True}}}
        job = self.omics.start_annotation_import_job(**start)
        self._wait(
            f"annotation import {job['jobId']} into {store}",
            lambda: self.omics.get_annotation_import_job(jobId=job["jobId"]),
            {"COMPLETED"},
        )

    def _wait(self, what: str, get: Callable[[], dict[str, Any]], done: set[str]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            info = get()
            status = str(info.get("status"))
            if status in done:
                return info
            if status in ("FAILED", "CANCELLED", "DELETED", "COMPLETED_WITH_FAILURES"):
                raise ToolkitError(f"{what} ended {status}: {info.get('statusMessage', '')}")
            if time.monotonic() > deadline:
                raise ToolkitError(f"{what} still {status} after {WAIT_SECONDS:.0f} s")
            self.sleep(self.poll)

    # -- Glue link and grants
    def _link(self, table: str, database: str, store: str) -> str | None:
        """Point the resource link at ``database.store`` in the catalog that owns the store's
        database (shared through AWS RAM: :mod:`omics_toolkit.provisioning.sharing`) and grant
        on it; returns the store it pointed at.

        Raises:
            SharingPrerequisiteError, StoreNotSharedError: see
                :func:`~omics_toolkit.provisioning.sharing.ensure_shared_database`.
        """
        from omics_toolkit.provisioning import sharing

        glue = self.ctx.client("glue")
        previous = None
        try:
            current = glue.get_table(DatabaseName=self.names.glue_database, Name=table)["Table"]
            previous = (current.get("TargetTable") or {}).get("Name")
        except AwsError as exc:
            if "EntityNotFound" not in exc.code:
                raise
        prov = _provisioner(self.ctx, self.settings)
        prov.ensure_glue_database()
        # the store's database is shared from HealthOmics's account through AWS RAM
        sharing.check_prerequisites(prov)
        owner = sharing.ensure_shared_database(prov, database)
        prov.ensure_resource_link(table, database, store, owner)
        prov.grant_readers(prov.reader_grants("stores"), grantee(self.ctx, self.settings))
        return previous

    def _delete_previous(self, store: str, name: str) -> None:
        """Delete the store the link served before, if this deployment's import made it."""
        found = self._get_store(store)
        if found is None:
            return
        tags = self.omics.list_tags_for_resource(resourceArn=found["storeArn"])["tags"]
        if tags.get(DEPLOYMENT_TAG) != self.names.deployment or tags.get(SET_TAG) != name:
            log.warning("annotation store %s is not this set's; kept", store)
            return
        self.omics.delete_annotation_store(name=store, force=True)


# ---------------------------------------------------------------------- list
def list_annotations(ctx: AwsContext, settings: Settings) -> list[AnnotationSet]:
    """The deployment's annotation sets (tables ``annotations_<name>``), sorted by name.

    Stores: the Glue resource links ``annotations_*`` of the deployment's database and the tags
    of the stores they point at (rows, source file) and the store's creation time. S3 Tables: the
    Iceberg tables ``annotations_*`` of the namespace, their snapshot's ``total-records`` and
    the properties the import wrote.

    Raises:
        NotProvisionedError: the deployment's state machine does not exist.
        AwsError: from Glue, HealthOmics or S3 Tables.
    """
    from omics_toolkit.provisioning.core import is_provisioned
    from omics_toolkit.tables.schema import ANNOTATION_PREFIX

    if not is_provisioned(ctx, settings):  # an empty list would read as "no sets yet"
        raise NotProvisionedError(settings.deployment, settings.target, ctx.region)
    backend = _backend(ctx, settings)
    names = Names(settings.deployment, ctx.account_id, ctx.region)
    sets: list[AnnotationSet] = []
    if backend == "s3tables":
        from omics_toolkit.aws.s3tables import S3TablesCatalog

        prov = _provisioner(ctx, settings)
        catalog = S3TablesCatalog(ctx, _table_bucket(prov))
        namespace = names.table_namespace
        if (namespace,) not in catalog.list_namespaces():
            return []
        for _, table in catalog.list_tables(namespace):
            if not table.startswith(ANNOTATION_PREFIX):
                continue
            loaded = catalog.load_table((namespace, table))
            snapshot = loaded.current_snapshot()
            summary = (
                snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
            )
            stamp = snapshot.timestamp_ms if snapshot else None
            sets.append(
                AnnotationSet(
                    name=table.removeprefix(ANNOTATION_PREFIX),
                    table=table,
                    backend=backend,
                    rows=int(summary.get("total-records", 0)),
                    source=summary.get(SOURCE_PROPERTY),
                    imported_at=datetime.fromtimestamp(stamp / 1000, UTC).isoformat(
                        timespec="seconds"
                    )
                    if stamp
                    else None,
                    location=f"{namespace}.{table}",
                )
            )
        return sorted(sets, key=lambda s: s.name)
    glue, omics = ctx.client("glue"), ctx.client("omics")
    try:
        pages = list(glue.get_paginator("get_tables").paginate(DatabaseName=names.glue_database))
    except AwsError:
        return []
    for page in pages:
        for table in page["TableList"]:
            target = table.get("TargetTable") or {}
            if not table["Name"].startswith(ANNOTATION_PREFIX) or not target.get("Name"):
                continue
            store_name = target["Name"]
            try:
                store = omics.get_annotation_store(name=store_name)
                tags = omics.list_tags_for_resource(resourceArn=store["storeArn"])["tags"]
            except AwsError:
                store, tags = {}, {}
            created = store.get("creationTime")
            sets.append(
                AnnotationSet(
                    name=table["Name"].removeprefix(ANNOTATION_PREFIX),
                    table=table["Name"],
                    backend=backend,
                    rows=int(tags[ROWS_TAG]) if ROWS_TAG in tags else None,
                    source=tags.get(SOURCE_TAG),
                    imported_at=created.isoformat(timespec="seconds")
                    if isinstance(created, datetime)
                    else created,
                    location=store_name,
                )
            )
    return sorted(sets, key=lambda s: s.name)
