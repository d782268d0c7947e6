"""Facts about AWS HealthOmics that the toolkit and the emulator both read; stdlib only.

- :mod:`~healthomics_facts.service`: the service principal and the CloudWatch Logs group.
- :mod:`~healthomics_facts.instances`: instance sizes, families and request limits.
- :mod:`~healthomics_facts.prices`: the shipped, dated price table (``healthomics_prices.json``).
- :mod:`~healthomics_facts.schema`: the variant-store / VCF annotation-store columns.

Nothing here imports ``omics_toolkit`` or ``healthomics_emulator``: facts are data both sides
read, so the emulator never borrows the code it checks.
"""
