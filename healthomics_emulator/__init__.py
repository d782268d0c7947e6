"""HealthOmics emulator: the ``omics`` API over HTTP, routed and validated from the botocore model.

Entry point: ``healthomics_emulator.server.OmicsEmulator``. Self-contained: it imports nothing
from ``omics_toolkit`` (the code it checks); shared service facts come from ``healthomics_facts``.
"""
