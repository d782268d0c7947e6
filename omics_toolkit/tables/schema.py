"""Column layouts of the variant and annotation tables, identical in both variant back ends.

Source: the HealthOmics variant-store and VCF annotation-store tables as Athena sees them
(lowercase columns; AWS HealthOmics "Querying variant stores" and the AWS migration guide to
S3 Tables, which keeps this schema). Coordinates are 0-based half-open:
``start = POS - 1``, ``end = start + len(REF)``.

Each column is ``(name, Athena type, Arrow type)``; the variant and VCF annotation columns are
the HealthOmics facts of :mod:`healthomics_facts.schema`.
"""

from __future__ import annotations

import re

import pyarrow as pa

from healthomics_facts import schema as facts

Column = tuple[str, str, pa.DataType]

#: Arrow type of each Athena type of the shared schema (:mod:`healthomics_facts.schema`).
_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "array<string>": pa.list_(pa.string()),
    "array<int>": pa.list_(pa.int32()),
    "array<double>": pa.list_(pa.float64()),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
}

#: The ``variants`` table: one row per sample per VCF record.
VARIANT_COLUMNS: list[Column] = [(n, t, _ARROW[t]) for n, t in facts.VARIANT_COLUMNS]

#: An annotation table from a VCF (e.g. ClinVar): one row per record; INFO in ``attributes``.
ANNOTATION_VCF_COLUMNS: list[Column] = [(n, t, _ARROW[t]) for n, t in facts.ANNOTATION_VCF_COLUMNS]

#: An annotation table from a gene annotation (GFF3 or TSV): one row per feature.
GENE_COLUMNS: list[Column] = [
    ("importjobid", "string", pa.string()),
    ("contigname", "string", pa.string()),
    ("start", "int", pa.int32()),
    ("end", "int", pa.int32()),
    ("strand", "string", pa.string()),
    ("gene_id", "string", pa.string()),
    ("gene_name", "string", pa.string()),
    ("feature", "string", pa.string()),
    ("attributes", "map<string,string>", pa.map_(pa.string(), pa.string())),
]

VARIANTS_TABLE = "variants"
ANNOTATION_PREFIX = "annotations_"
_ANNOTATION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,50}$")


def annotation_table(name: str) -> str:
    """Table name of annotation set ``name``: ``annotations_<name>``.

    Raises:
        ValueError: ``name`` is not lowercase letters, digits and ``_`` starting with a letter
            (at most 51 characters: S3 Tables, Glue and annotation-store names all accept it).
    """
    if not _ANNOTATION_NAME.match(name):
        raise ValueError(
            f"annotation name {name!r} must be lowercase letters, digits or '_', start with a "
            "letter, at most 51 characters (e.g. clinvar, genes)"
        )
    return ANNOTATION_PREFIX + name


def arrow_schema(columns: list[Column]) -> pa.Schema:
    """The Arrow schema of a column list (every field nullable)."""
    return pa.schema([pa.field(name, kind) for name, _, kind in columns])


def glue_columns(columns: list[Column]) -> list[dict[str, str]]:
    """Glue ``StorageDescriptor.Columns`` (``Name``, ``Type``) of a column list."""
    return [{"Name": name, "Type": athena} for name, athena, _ in columns]
