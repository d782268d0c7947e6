"""Variant and annotation tables: the HealthOmics store schema, VCF/annotation readers, and the
Apache Iceberg back end (S3 Tables). Nothing here calls AWS; :mod:`omics_toolkit.aws.s3tables`
does."""
