"""The local Athena: Athena engine v3 (Trino) SQL really run on DuckDB inside the moto server.

- :mod:`.execution`: one StartQueryExecution (statement kind, run, outcome for moto's record);
- :mod:`.translate`: parameters, parsing and sqlglot translation Athena/Trino -> DuckDB;
- :mod:`.functions`: the Trino function allow-list, rewrites and ``__trino_*`` DuckDB macros;
- :mod:`.engine`: running the translated SQL on DuckDB, DuckDB errors as Athena's;
- :mod:`.results`: Athena's column types, value texts and result CSV;
- :mod:`.unload`: ``UNLOAD ... TO 's3://...'`` (Parquet);
- :mod:`.glue`, :mod:`.s3tables`, :mod:`.catalogs`: tables of the Glue Data Catalog, of S3 Tables
  (``s3tablescatalog/<bucket>``, Iceberg through pyiceberg) and which catalogs exist;
- :mod:`.s3`: reads and writes in moto's S3; :mod:`.errors`: :class:`~.errors.QueryFailed`.

The moto patches :mod:`omics_toolkit.local.patches.athena_sql` (the API operations) and
:mod:`omics_toolkit.local.patches.athena_protocols` (the wire protocols) hook it into moto.
See docs/local-athena.md.
"""
