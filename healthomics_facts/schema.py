"""Columns of the HealthOmics variant-store and VCF annotation-store tables, as data.

Source: the HealthOmics variant-store and VCF annotation-store tables as Athena sees them
(lowercase columns; AWS HealthOmics "Querying variant stores" and the AWS migration guide to
S3 Tables, which keeps this schema). Coordinates are 0-based half-open:
``start = POS - 1``, ``end = start + len(REF)``.

Each column is ``(name, Athena type)``; readers map Athena types to their own (e.g. Arrow).
"""

from __future__ import annotations

#: The ``variants`` table: one row per sample per VCF record.
VARIANT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("importjobid", "string"),
    ("contigname", "string"),
    ("start", "int"),
    ("end", "int"),
    ("names", "array<string>"),
    ("referenceallele", "string"),
    ("alternatealleles", "array<string>"),
    ("qual", "double"),
    ("filters", "array<string>"),
    ("splitfrommultiallelic", "boolean"),
    ("attributes", "map<string,string>"),
    ("phased", "boolean"),
    ("calls", "array<int>"),
    ("genotypelikelihoods", "array<double>"),
    ("phredlikelihoods", "array<int>"),
    ("alleledepths", "array<int>"),
    ("conditionalquality", "int"),
    ("spl", "array<int>"),
    ("depth", "int"),
    ("ps", "int"),
    ("sampleid", "string"),
)

#: VCF FORMAT field -> (``variants`` column, shape), in the columns' order of reading: ``ints``
#: a list of ints (``array<int>``), ``floats`` a list of doubles (``array<double>``), ``int`` the
#: field's first value (``int``). GT fills ``calls`` and ``phased``.
FORMAT_COLUMNS: dict[str, tuple[str, str]] = {
    "AD": ("alleledepths", "ints"),
    "DP": ("depth", "int"),
    "GQ": ("conditionalquality", "int"),
    "PL": ("phredlikelihoods", "ints"),
    "GL": ("genotypelikelihoods", "floats"),
    "SPL": ("spl", "ints"),
    "PS": ("ps", "int"),
}

#: Columns of a VCF annotation table (e.g. ClinVar): one row per record; INFO in ``attributes``.
ANNOTATION_VCF_COLUMN_NAMES = frozenset(
    {
        "importjobid",
        "contigname",
        "start",
        "end",
        "names",
        "referenceallele",
        "alternatealleles",
        "qual",
        "filters",
        "splitfrommultiallelic",
        "attributes",
        "sampleid",
    }
)
#: The VCF annotation table's columns, in the variant table's order.
ANNOTATION_VCF_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    c for c in VARIANT_COLUMNS if c[0] in ANNOTATION_VCF_COLUMN_NAMES
)
