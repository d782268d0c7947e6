"""Athena on the local stack: SQL really runs (DuckDB) over Glue tables, read through PyAthena."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

COLUMNS = [
    {"Name": "sample_id", "Type": "string"},
    {"Name": "contig", "Type": "string"},
    {"Name": "start", "Type": "bigint"},
    {"Name": "end", "Type": "bigint"},
    {"Name": "alt", "Type": "array<string>"},
    {"Name": "info", "Type": "map<string,string>"},
    {"Name": "qual", "Type": "double"},
]


def _table() -> pa.Table:
    return pa.table(
        {
            "sample_id": ["s1", "s1", "s2"],
            "contig": ["chr1", "chr1", "chr2"],
            "start": pa.array([99, 199, 299], pa.int64()),
            "end": pa.array([100, 201, 300], pa.int64()),
            "alt": [["A"], ["C", "T"], ["G"]],
            "info": pa.array(
                [[("DP", "10")], [("DP", "20"), ("AF", "0.5")], [("DP", "30")]],
                pa.map_(pa.string(), pa.string()),
            ),
            "qual": [50.0, 12.5, 99.0],
        }
    )


@pytest.fixture(scope="module")
def catalog(aws: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = Path(tmp_path_factory.mktemp("variant-store")) / "data"
    data.mkdir()
    pq.write_table(_table(), data / "job1.parquet")
    glue, s3 = aws.client("glue"), aws.client("s3")
    glue.create_database(DatabaseInput={"Name": "variant_123456789012_store1"})
    glue.create_table(
        DatabaseName="variant_123456789012_store1",
        TableInput={
            "Name": "store1",
            "StorageDescriptor": {"Columns": COLUMNS, "Location": f"file://{data}/"},
        },
    )
    glue.create_database(DatabaseInput={"Name": "analytics"})
    glue.create_table(
        DatabaseName="analytics",
        TableInput={
            "Name": "variants",
            "TargetTable": {
                "CatalogId": "123456789012",
                "DatabaseName": "variant_123456789012_store1",
                "Name": "store1",
            },
        },
    )
    s3.create_bucket(Bucket="otk-athena-data")
    s3.create_bucket(Bucket="otk-athena-results")
    buf = io.BytesIO()
    pq.write_table(_table(), buf)
    s3.put_object(Bucket="otk-athena-data", Key="calls/part-0.parquet", Body=buf.getvalue())
    glue.create_table(
        DatabaseName="analytics",
        TableInput={
            "Name": "calls_s3",
            "StorageDescriptor": {"Columns": COLUMNS, "Location": "s3://otk-athena-data/calls/"},
        },
    )
    return {"staging": "s3://otk-athena-results/pyathena/"}


@pytest.fixture()
def connect(aws: Any, catalog: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    import pyathena

    moto = aws.endpoints["default"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    def _connect(**kwargs: Any) -> Any:
        return pyathena.connect(
            s3_staging_dir=catalog["staging"],
            region_name="us-east-1",
            endpoint_url=moto,
            schema_name="analytics",
            **kwargs,
        )

    return _connect


def test_resource_link_parameter_and_quoted_end(connect: Any) -> None:
    cursor = connect().cursor()
    cursor.execute(
        'SELECT sample_id, contig, "end", qual FROM analytics.variants WHERE sample_id = ? ORDER BY "end"',
        ["'s1'"],
        paramstyle="qmark",
    )
    assert [d[0] for d in cursor.description] == ["sample_id", "contig", "end", "qual"]
    assert [d[1] for d in cursor.description] == ["varchar", "varchar", "bigint", "double"]
    assert cursor.fetchall() == [("s1", "chr1", 100, 50.0), ("s1", "chr1", 201, 12.5)]


def test_unnest_element_at_and_pandas(connect: Any) -> None:
    from pyathena.pandas.cursor import PandasCursor

    cursor = connect(cursor_class=PandasCursor).cursor()
    df = cursor.execute(
        """
        SELECT sample_id, a AS alt_allele, element_at(info, 'DP') AS dp, cardinality(alt) AS n_alt
        FROM variants CROSS JOIN UNNEST(alt) AS t(a)
        WHERE qual > 10
        ORDER BY sample_id, a
        """
    ).as_pandas()
    assert df.to_dict("records") == [
        {"sample_id": "s1", "alt_allele": "A", "dp": "10", "n_alt": 1},
        {"sample_id": "s1", "alt_allele": "C", "dp": "20", "n_alt": 2},
        {"sample_id": "s1", "alt_allele": "T", "dp": "20", "n_alt": 2},
        {"sample_id": "s2", "alt_allele": "G", "dp": "30", "n_alt": 1},
    ]


def test_s3_location_and_numeric_parameter(connect: Any) -> None:
    cursor = connect().cursor()
    cursor.execute(
        "SELECT count(*) AS n, sum(qual) AS q FROM analytics.calls_s3 WHERE start >= ?",
        ["199"],
        paramstyle="qmark",
    )
    assert cursor.fetchall() == [(2, 111.5)]


def test_failures_carry_the_reason(aws: Any, catalog: dict[str, str]) -> None:
    athena = aws.client("athena")
    cases = {
        "SELECT * FROM analytics.nope": (
            "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.analytics.nope' does not exist",
            1110,
        ),
        "SELECT no_such_column FROM analytics.variants": (
            "COLUMN_NOT_FOUND: line 1:8: Column 'no_such_column' cannot be resolved or requester "
            "is not authorized to access requested resources",
            1006,
        ),
    }
    for sql, (reason, error_type) in cases.items():
        qid = athena.start_query_execution(
            QueryString=sql, ResultConfiguration={"OutputLocation": catalog["staging"]}
        )["QueryExecutionId"]
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        assert status["State"] == "FAILED", sql
        assert status["StateChangeReason"] == reason, status
        assert status["AthenaError"] == {
            "ErrorCategory": 2,
            "ErrorType": error_type,
            "Retryable": False,
            "ErrorMessage": reason,
        }


def test_a_query_that_does_not_parse_is_refused_at_start(aws: Any, catalog: dict[str, str]) -> None:
    """Athena parses at StartQueryExecution: InvalidRequestException MALFORMED_QUERY, Trino's
    message, and no execution (as observed from AWS: see omics_toolkit.local.athena.syntax)."""
    athena = aws.client("athena")
    before = athena.list_query_executions()["QueryExecutionIds"]
    cases = {
        "SELEC * FROM analytics.variants": "line 1:1: mismatched input 'SELEC'. Expecting: 'ALTER'",
        "SELECT *\nFROM analytics.variants\nWHERE": (
            "line 3:6: mismatched input '<EOF>'. Expecting: <expression>"
        ),
        "SELECT a,, b FROM analytics.variants": (
            "line 1:10: mismatched input ','. Expecting: '*', <expression>"
        ),
    }
    for sql, message in cases.items():
        with pytest.raises(athena.exceptions.InvalidRequestException) as refused:
            athena.start_query_execution(
                QueryString=sql, ResultConfiguration={"OutputLocation": catalog["staging"]}
            )
        assert refused.value.response["AthenaErrorCode"] == "MALFORMED_QUERY"
        assert refused.value.response["Error"]["Message"].startswith(message), sql
    assert athena.list_query_executions()["QueryExecutionIds"] == before


def test_pyathena_raises_on_failure(connect: Any) -> None:
    from pyathena.error import OperationalError

    with pytest.raises(OperationalError, match="TABLE_NOT_FOUND"):
        connect().cursor().execute("SELECT * FROM missing_table")


def test_get_query_results_pagination_and_csv(aws: Any, catalog: dict[str, str]) -> None:
    athena, s3 = aws.client("athena"), aws.client("s3")
    qid = athena.start_query_execution(
        QueryString="SELECT x, 'v' || CAST(x AS varchar) AS s FROM UNNEST(sequence(1, 25)) AS t(x) ORDER BY x",
        ResultConfiguration={"OutputLocation": catalog["staging"]},
    )["QueryExecutionId"]
    rows: list[list[str]] = []
    pages = 0
    for page in athena.get_paginator("get_query_results").paginate(
        QueryExecutionId=qid, PaginationConfig={"PageSize": 10}
    ):
        pages += 1
        rows += [[c.get("VarCharValue") for c in r["Data"]] for r in page["ResultSet"]["Rows"]]
        types = [c["Type"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    assert pages == 3
    assert rows[0] == ["x", "s"] and rows[1] == ["1", "v1"] and rows[-1] == ["25", "v25"]
    assert types == ["integer", "varchar"] or types == ["bigint", "varchar"]
    body = (
        s3.get_object(Bucket="otk-athena-results", Key=f"pyathena/{qid}.csv")["Body"]
        .read()
        .decode()
    )
    assert body.splitlines()[:2] == ['"x","s"', '"1","v1"']


UNLOAD_SQL = (
    'SELECT sample_id, "end", alt, info, qual, CAST(NULLIF("end", 201) AS integer) AS end_int '
    'FROM analytics.variants ORDER BY sample_id, "end"'
)


def test_unload_pandas_cursor_typed_results(connect: Any) -> None:
    from pyathena.pandas.cursor import PandasCursor

    plain = connect(cursor_class=PandasCursor).cursor().execute(UNLOAD_SQL).as_pandas()
    cursor = connect(cursor_class=PandasCursor, cursor_kwargs={"unload": True}).cursor()
    df = cursor.execute(UNLOAD_SQL).as_pandas()
    assert cursor.query.lstrip().startswith("UNLOAD")
    assert list(df.columns) == ["sample_id", "end", "alt", "info", "qual", "end_int"]
    assert [list(a) for a in df["alt"]] == [["A"], ["C", "T"], ["G"]]
    assert [dict(m) for m in df["info"]] == [
        {"DP": "10"},
        {"DP": "20", "AF": "0.5"},
        {"DP": "30"},
    ]
    # an int32 Parquet column with a NULL: pandas' own NULL-able reading (float64 NaN by default,
    # Int32 with dtype_backend="numpy_nullable"), exactly as with Athena's UNLOAD files
    assert df["end_int"].isna().tolist() == [False, True, False]
    assert df["end_int"].dropna().tolist() == [100, 300]
    nullable = cursor.execute(UNLOAD_SQL, dtype_backend="numpy_nullable").as_pandas()
    assert str(nullable["end_int"].dtype) == "Int32"
    assert df["sample_id"].tolist() == plain["sample_id"].tolist()
    assert df["end"].tolist() == plain["end"].tolist() == [100, 201, 300]
    assert df["qual"].tolist() == plain["qual"].tolist()


def test_unload_arrow_cursor_and_manifest(
    connect: Any, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    from pyarrow import fs
    from pyathena.arrow.cursor import ArrowCursor
    from pyathena.arrow.result_set import AthenaArrowResultSetMetadataReader

    # PyAthena builds the pyarrow S3FileSystem it reads UNLOAD files with from the region and
    # credentials only; point it at moto S3 the way a user of the local stack would.
    endpoint = aws.endpoints["default"]
    original = AthenaArrowResultSetMetadataReader._create_s3_file_system

    def local_s3(self: Any) -> Any:
        base = original(self)
        return fs.S3FileSystem(
            region=base.region,
            access_key="testing",
            secret_key="testing",
            endpoint_override=endpoint,
            scheme="http",
        )

    monkeypatch.setattr(AthenaArrowResultSetMetadataReader, "_create_s3_file_system", local_s3)

    cursor = connect(cursor_class=ArrowCursor, cursor_kwargs={"unload": True}).cursor()
    table = cursor.execute(UNLOAD_SQL).as_arrow()
    assert table.column("alt").to_pylist() == [["A"], ["C", "T"], ["G"]]
    assert table.schema.field("end_int").type == pa.int32()
    assert table.schema.field("end").type == pa.int64()
    assert table.column("info").to_pylist()[1] == [("DP", "20"), ("AF", "0.5")]
    athena = aws.client("athena")
    qe = athena.get_query_execution(QueryExecutionId=cursor.query_id)["QueryExecution"]
    assert (qe["StatementType"], qe["SubstatementType"]) == ("DML", "UNLOAD")
    manifest = qe["Statistics"]["DataManifestLocation"]
    assert manifest == f"s3://otk-athena-results/pyathena/{cursor.query_id}-manifest.csv"
    body = aws.client("s3").get_object(
        Bucket="otk-athena-results", Key=f"pyathena/{cursor.query_id}-manifest.csv"
    )["Body"]
    files = body.read().decode().split()
    assert len(files) == 1 and files[0].startswith("s3://otk-athena-results/pyathena/unload/")


def test_unload_to_non_empty_location_fails(aws: Any, catalog: dict[str, str]) -> None:
    athena, s3 = aws.client("athena"), aws.client("s3")
    s3.put_object(Bucket="otk-athena-results", Key="taken/part-0", Body=b"x")
    qid = athena.start_query_execution(
        QueryString="UNLOAD (SELECT 1 AS x) TO 's3://otk-athena-results/taken/' "
        "WITH (format = 'PARQUET')",
        ResultConfiguration={"OutputLocation": catalog["staging"]},
    )["QueryExecutionId"]
    status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith("HIVE_PATH_ALREADY_EXISTS")
    assert status["AthenaError"]["ErrorCategory"] == 2


def test_catalog_in_query_execution_context(aws: Any, catalog: dict[str, str]) -> None:
    athena = aws.client("athena")

    def run(sql: str, catalog_name: str) -> dict[str, Any]:
        qid = athena.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": "analytics", "Catalog": catalog_name},
            ResultConfiguration={"OutputLocation": catalog["staging"]},
        )["QueryExecutionId"]
        return athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]

    assert run("SELECT count(*) FROM variants", "AwsDataCatalog")["State"] == "SUCCEEDED"
    failed = run("SELECT count(*) FROM variants", "nope")
    assert failed["State"] == "FAILED"
    assert failed["StateChangeReason"] == "CATALOG_NOT_FOUND: Catalog 'nope' does not exist"


def test_unsupported_function_fails_through_the_api(connect: Any) -> None:
    from pyathena.error import OperationalError

    with pytest.raises(OperationalError, match="FUNCTION_NOT_FOUND: line 1:8: Function 'foo'"):
        connect().cursor().execute("SELECT foo(qual) FROM variants")
