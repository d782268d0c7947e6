"""Reads and results without downloading genomes: read sets, region views, index statistics,
exports and the htsget endpoint (see :mod:`omics_toolkit.reads.locate` to start)."""
