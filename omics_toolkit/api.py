"""The notebook API: SQL over the deployment's variants -> typed pandas DataFrames or Arrow.

    from omics_toolkit import query, variants
    df = query("SELECT sampleid, count(*) AS n FROM variants GROUP BY 1")
    calls = variants(region="22:20,000,001-21,000,000", samples=["HG00096"], min_qual=30)
    for chunk in query("SELECT * FROM variants", chunksize=100_000): ...

Results are fetched the way Athena recommends for large or typed results: the query runs as
``UNLOAD (...) TO 's3://<output bucket>/athena-results/unload/<uuid>/' WITH (format = 'PARQUET')``
and the Parquet files are read with pyarrow (streamed file by file and batch by batch when
``chunksize`` is given). Parameters are bound by Athena (``ExecutionParameters``), never by
string formatting.

Column dtypes (explicit, the same whatever the rows): Athena ``int``/``bigint``/``smallint``/
``tinyint`` -> pandas nullable ``Int32``/``Int64``/``Int16``/``Int8``; ``boolean`` -> ``boolean``;
``double``/``real`` -> ``float64``/``float32`` (NULL -> NaN); ``varchar`` -> ``str``/object;
``array<...>`` -> Python ``list`` per cell (``None`` for NULL); ``map<...>`` -> ``dict``.
Order: UNLOAD keeps the query's ``ORDER BY`` within a file; results spanning several files
(large results in AWS) come file by file, so sort in pandas when order matters.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from omics_toolkit.errors import UserError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.config import Settings

_REGION = re.compile(r"^\s*([^:\s]+)(?::([\d,]+)(?:-([\d,]+))?)?\s*$")


def parse_region(region: str) -> tuple[str, int | None, int | None]:
    """``"22:20,000,001-21,000,000"`` -> ``("22", 20000000, 21000000)``.

    The text is 1-based inclusive (samtools/bcftools region syntax: ``contig``,
    ``contig:pos``, ``contig:start-end``, commas allowed); the result is 0-based half-open
    ``[start, end)`` as in the variants table (``None`` for an open side).

    Raises:
        UserError: not a region, or end before start.
    """
    m = _REGION.match(region)
    if not m:
        raise UserError(f"region {region!r} is not contig, contig:pos or contig:start-end")
    contig = m.group(1)
    start = int(m.group(2).replace(",", "")) if m.group(2) else None
    end = int(m.group(3).replace(",", "")) if m.group(3) else None
    if start is not None and start < 1:
        raise UserError(f"region {region!r}: positions are 1-based")
    if start is not None and end is None and m.group(3) is None and "-" not in region:
        end = start  # contig:pos is one base
    if start is not None and end is not None and end < start:
        raise UserError(f"region {region!r} ends before it starts")
    return contig, (start - 1 if start is not None else None), end


def _context(settings: Settings | None, ctx: AwsContext | None) -> tuple[Settings, AwsContext]:
    from omics_toolkit.aws.session import make_context
    from omics_toolkit.config import load_settings

    settings = settings or load_settings()
    return settings, ctx or make_context(settings)


def _unload_prefix(ctx: AwsContext, settings: Settings) -> str:
    from omics_toolkit.identity import Names

    names = Names(settings.deployment, ctx.account_id, ctx.region)
    return f"{names.athena_output_uri}unload/{uuid.uuid4()}/"


def _athena_arrow() -> dict[str, Any]:
    import pyarrow as pa

    return {
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "boolean": pa.bool_(),
        "double": pa.float64(),
        "real": pa.float32(),
    }


def _execute(
    ctx: AwsContext,
    settings: Settings,
    sql: str,
    parameters: Sequence[Any] | None,
    read: Callable[[Any], Any] = lambda cursor: None,
) -> Any:
    """Run one statement (parameters as Athena ExecutionParameters); return ``read(cursor)``.

    Raises:
        UserError: the query was refused or failed, in Athena's words and codes
            (:func:`omics_toolkit.athena.execute`).
    """
    from omics_toolkit.athena import connect, execute

    conn = connect(ctx, settings)
    try:
        cursor = conn.cursor()
        execute(ctx, cursor, sql, parameters)
        return read(cursor)
    finally:
        conn.close()


def _run_unload(
    ctx: AwsContext, settings: Settings, sql: str, parameters: Sequence[Any] | None
) -> list[str]:
    """Run ``UNLOAD (sql)`` and return the ``s3://`` URIs of the Parquet files written.

    ``sql`` starts on the statement's second line, so Athena's ``line L:C`` positions are the
    user's text's at ``line L-1:C``; errors are reported that way (:func:`_user_positions`).

    Raises:
        UserError: the query was refused or failed (positions in ``sql``).
    """
    target = _unload_prefix(ctx, settings)
    statement = (
        f"UNLOAD (\n{sql}\n) TO '{target}' WITH (format = 'PARQUET', compression = 'SNAPPY')"
    )
    try:
        _execute(ctx, settings, statement, parameters)
    except UserError as exc:
        raise UserError(_user_positions(str(exc), sql)) from exc
    bucket, _, prefix = target.removeprefix("s3://").partition("/")
    keys: list[str] = []
    for page in (
        ctx.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    ):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return [f"s3://{bucket}/{k}" for k in sorted(keys)]


def _user_positions(message: str, sql: str) -> str:
    """``message`` with its first ``line L:C`` moved from the UNLOAD statement to ``sql``.

    Line 1 is ``UNLOAD (`` (left alone); a position past ``sql`` (the closing parenthesis)
    becomes the end of ``sql``, where the user's query ended too soon (``'<EOF>'``).
    """
    found = re.search(r"line (\d+):(\d+)", message)
    if not found or int(found[1]) < 2:
        return message
    lines = sql.split("\n")
    line, col = int(found[1]) - 1, int(found[2])
    head, tail = message[: found.start()], message[found.end() :]
    if line > len(lines):
        line, col = len(lines), len(lines[-1]) + 1
        tail = tail.replace(": mismatched input ')'", ": mismatched input '<EOF>'", 1)
    return f"{head}line {line}:{col}{tail}"


def _filesystem(ctx: AwsContext) -> Any:
    from pyarrow import fs

    from omics_toolkit.aws.s3tables import file_io_properties

    props = file_io_properties(ctx)
    kwargs: dict[str, Any] = {"region": ctx.region}
    if "s3.access-key-id" in props:
        kwargs.update(
            access_key=props["s3.access-key-id"],
            secret_key=props["s3.secret-access-key"],
            session_token=props.get("s3.session-token"),
        )
    if "s3.endpoint" in props:
        endpoint = props["s3.endpoint"]
        kwargs.update(endpoint_override=endpoint, scheme=endpoint.split("://")[0])
    return fs.S3FileSystem(**kwargs)


def to_dataframe(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with the module's explicit dtypes (nullable ints, lists, dicts)."""
    import pandas as pd
    import pyarrow as pa

    mapping = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    df = table.to_pandas(types_mapper=mapping.get, maps_as_pydicts="strict")
    for field in table.schema:
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            df[field.name] = [None if v is None else list(v) for v in df[field.name]]
    return df


def query_arrow_batches(
    sql: str,
    parameters: Sequence[Any] | None = None,
    *,
    chunksize: int = 65_536,
    settings: Settings | None = None,
    ctx: AwsContext | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream a query's result as Arrow record batches of at most ``chunksize`` rows.

    Raises:
        UserError: the query failed (Athena's reason).
    """
    import pyarrow.parquet as pq

    settings, ctx = _context(settings, ctx)
    files = _run_unload(ctx, settings, sql, parameters)
    filesystem = _filesystem(ctx)
    for uri in files:
        with filesystem.open_input_file(uri.removeprefix("s3://")) as handle:
            yield from pq.ParquetFile(handle).iter_batches(batch_size=chunksize)


def query(
    sql: str,
    parameters: Sequence[Any] | dict[str, Any] | None = None,
    *,
    arrow: bool = False,
    chunksize: int | None = None,
    settings: Settings | None = None,
    ctx: AwsContext | None = None,
) -> Any:
    """Run Athena SQL against the deployment's variants (either back end; same SQL).

    Args:
        sql: Athena engine v3 SQL over ``variants`` / ``annotations_<name>``; ``?``
            placeholders with a list of ``parameters``, or ``:name`` ones with a dict.
        arrow: return a ``pyarrow.Table`` (Athena's types) instead of a DataFrame.
        chunksize: return an iterator of DataFrames (or Arrow tables) of at most this many rows,
            streamed from the result files; memory stays bounded by one chunk.
        settings/ctx: deployment and AWS context; default: resolved as the CLI does (local
            stack unless configured otherwise).

    Returns:
        ``pandas.DataFrame`` (dtypes in the module docstring), ``pyarrow.Table``, or an iterator.

    Raises:
        UserError: a parameter is missing or unknown, or the query failed (Athena's reason,
            e.g. ``TABLE_NOT_FOUND``, ``FUNCTION_NOT_FOUND``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from omics_toolkit.athena import bind_named

    values: Sequence[Any] | None
    if isinstance(parameters, dict):
        sql, values = bind_named(sql, parameters)
    else:
        values = parameters
    sql = sql.strip().rstrip(";")
    settings, ctx = _context(settings, ctx)
    if chunksize is not None:
        if chunksize < 1:
            raise UserError("chunksize must be a positive number of rows")
        batches = query_arrow_batches(sql, values, chunksize=chunksize, settings=settings, ctx=ctx)
        if arrow:
            return (pa.Table.from_batches([b]) for b in batches)
        return (to_dataframe(pa.Table.from_batches([b])) for b in batches)
    files = _run_unload(ctx, settings, sql, values)
    if files:
        filesystem = _filesystem(ctx)
        table = pa.concat_tables(
            pq.read_table(uri.removeprefix("s3://"), filesystem=filesystem) for uri in files
        )
    else:  # no result file (Athena writes none for no rows): empty, with the query's columns
        description = _execute(
            ctx,
            settings,
            f"SELECT * FROM ({sql}) LIMIT 0",
            values,
            read=lambda cursor: cursor.description or [],
        )
        table = pa.schema(
            [(col[0], _athena_arrow().get(str(col[1]), pa.string())) for col in description]
        ).empty_table()
    return table if arrow else to_dataframe(table)


VARIANT_COLUMNS_DEFAULT = (
    "sampleid",
    "contigname",
    "start",
    '"end"',
    "names",
    "referenceallele",
    "alternatealleles",
    "qual",
    "filters",
    "calls",
    "phased",
    "depth",
    "conditionalquality",
    "alleledepths",
)


#: Columns the variants table may have beyond the fixed schema: a variant store's optional
#: ``information`` map and ``annotations`` struct (HealthOmics "Querying variant stores").
VARIANT_COLUMNS_OPTIONAL = ("information", "annotations")


def variant_columns_sql(columns: Sequence[str] | None) -> str:
    """The ``SELECT`` list for :func:`variants`: each column checked and double-quoted.

    Args:
        columns: names of columns of the ``variants`` table (case-insensitive; ``end`` may be
            given quoted, ``'"end"'``), or ``["*"]`` for all; ``None`` for the default list.

    Returns:
        e.g. ``'"sampleid", "contigname", "end"'`` or ``"*"``.

    Raises:
        UserError: a column is not one of the table's (``healthomics_facts.schema.VARIANT_COLUMNS``
            plus ``information``/``annotations``), or ``*`` is mixed with names: the text never
            reaches Athena.
    """
    from healthomics_facts.schema import VARIANT_COLUMNS

    if columns is None:
        columns = VARIANT_COLUMNS_DEFAULT
    if isinstance(columns, str):
        columns = [columns]
    if list(columns) == ["*"]:
        return "*"
    known = [name for name, _ in VARIANT_COLUMNS] + list(VARIANT_COLUMNS_OPTIONAL)
    picked: list[str] = []
    for column in columns:
        name = str(column).strip()
        if len(name) > 2 and name[0] == name[-1] == '"':
            name = name[1:-1]
        name = name.lower()
        if name not in known:
            raise UserError(
                f"columns: {column!r} is not a column of the variants table; use some of "
                f"{', '.join(known)} (or ['*'] alone for all)"
            )
        picked.append(f'"{name}"')
    if not picked:
        raise UserError("columns: give at least one column of the variants table (or ['*'])")
    return ", ".join(picked)


def variants(
    region: str | None = None,
    samples: Sequence[str] | str | None = None,
    min_qual: float | None = None,
    *,
    pass_only: bool = False,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
    arrow: bool = False,
    chunksize: int | None = None,
    settings: Settings | None = None,
    ctx: AwsContext | None = None,
) -> Any:
    """Rows of the ``variants`` table (one per sample per variant), filtered in SQL.

    Args:
        region: ``contig[:start[-end]]``, 1-based inclusive like bcftools/samtools
            (``"22:20,000,001-21,000,000"``); a variant overlaps it when
            ``start < end_0 AND "end" > start_0`` in the table's 0-based half-open coordinates.
        samples: sample ids (a string for one).
        min_qual: keep rows with ``qual >= min_qual`` (NULL QUAL is dropped).
        pass_only: keep rows whose FILTER is PASS or missing.
        columns: columns of the ``variants`` table to return (default: the common ones;
            ``["*"]`` for all); checked against the table's schema, never pasted as given.
        limit: at most this many rows.
        arrow, chunksize, settings, ctx: as for :func:`query`.

    Returns:
        As :func:`query`; ordered by sampleid, contigname, start.

    Raises:
        UserError: a bad region, an unknown column, a limit that is not a whole number >= 0, or
            the query failed.
    """
    where: list[str] = []
    params: list[Any] = []
    if region:
        contig, start, end = parse_region(region)
        where.append("contigname = ?")
        params.append(contig)
        if end is not None:
            where.append("start < ?")
            params.append(end)
        if start is not None:
            where.append('"end" > ?')
            params.append(start)
    if samples:
        ids = [samples] if isinstance(samples, str) else list(samples)
        where.append(f"sampleid IN ({', '.join('?' for _ in ids)})")
        params.extend(ids)
    if min_qual is not None:
        where.append("qual >= ?")
        params.append(float(min_qual))
    if pass_only:
        where.append("(filters IS NULL OR cardinality(filters) = 0 OR contains(filters, 'PASS'))")
    sql = f"SELECT {variant_columns_sql(columns)} FROM variants"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY sampleid, contigname, start"
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise UserError(f"limit must be a whole number of rows >= 0, not {limit!r}")
        sql += f" LIMIT {limit}"
    return query(sql, params, arrow=arrow, chunksize=chunksize, settings=settings, ctx=ctx)
