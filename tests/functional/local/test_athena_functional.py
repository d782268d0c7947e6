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
        "SELECT * FROM analytics.nope": "TABLE_NOT_FOUND: Table 'analytics.nope' does not exist",
        "SELECT no_such_column FROM analytics.variants": "no_such_column",
        "SELEC 1": "SYNTAX_ERROR",
    }
    for sql, reason in cases.items():
        qid = athena.start_query_execution(
            QueryString=sql, ResultConfiguration={"OutputLocation": catalog["staging"]}
        )["QueryExecutionId"]
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        assert status["State"] == "FAILED", sql
        assert reason in status["StateChangeReason"], status
        assert status["AthenaError"]["ErrorCategory"] == 2
        assert reason in status["AthenaError"]["ErrorMessage"]


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
