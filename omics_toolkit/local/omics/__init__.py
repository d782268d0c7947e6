"""HealthOmics emulator: the ``omics`` API over HTTP, routed and validated from the botocore model.

Entry point: ``omics_toolkit.local.omics.server.OmicsEmulator``.
"""
