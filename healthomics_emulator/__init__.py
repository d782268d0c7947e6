"""HealthOmics emulator: the ``omics`` API over HTTP, routed and validated from the botocore model.

Entry points: ``healthomics_emulator.server.OmicsEmulator`` in a process, or
``python -m healthomics_emulator --state-dir DIR --moto-endpoint URL`` on its own (see
:mod:`healthomics_emulator.__main__`). Self-contained: it imports nothing
from ``omics_toolkit`` (the code it checks); shared service facts come from ``healthomics_facts``.
"""
