"""Reads without downloading genomes: regions, ranged reads of indexed BAM/CRAM/VCF files,
index parsing (BAI, CSI, TBI, CRAI), region views and statistics, htsget.

boto3 is never imported here: S3 clients are passed in (made by :mod:`omics_toolkit.aws`).
"""
