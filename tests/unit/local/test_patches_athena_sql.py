"""Guards for the moto names patched by omics_toolkit.local.patches.athena_sql (moto 5.2.x)."""

from __future__ import annotations

import inspect

import pytest

from omics_toolkit.local.patches import athena_sql


def test_start_query_execution_symbol_and_signature() -> None:
    from moto.athena.models import AthenaBackend

    fn = athena_sql._originals.get("start_query_execution") or AthenaBackend.start_query_execution
    params = list(inspect.signature(fn).parameters)
    assert params == ["self", "query", "context", "config", "workgroup", "execution_parameters"], (
        f"moto.athena.models.AthenaBackend.start_query_execution{params} changed signature; "
        "port omics_toolkit.local.patches.athena_sql"
    )


def test_models_used_by_the_patch() -> None:
    from moto.athena import models, responses

    exec_params = list(inspect.signature(models.Execution.__init__).parameters)
    assert exec_params == [
        "self",
        "query",
        "context",
        "config",
        "workgroup",
        "execution_parameters",
    ], f"moto.athena.models.Execution{exec_params} changed; port athena_sql"
    qr_params = list(inspect.signature(models.QueryResults.__init__).parameters)
    assert qr_params == ["self", "rows", "column_info"], f"moto QueryResults{qr_params} changed"
    for name in ("get_query_execution", "get_query_results", "_get_param", "athena_backend"):
        assert hasattr(responses.AthenaResponse, name), f"moto AthenaResponse.{name} is gone"
    source = inspect.getsource(
        athena_sql._originals.get("get_query_execution")
        or responses.AthenaResponse.get_query_execution
    )
    assert '"Status"' in source and "json.dumps" in source, (
        "AthenaResponse.get_query_execution changed shape"
    )


def test_apply_is_idempotent() -> None:
    from moto.athena.models import AthenaBackend
    from moto.athena.responses import AthenaResponse

    athena_sql.apply()
    athena_sql.apply()
    assert AthenaBackend.start_query_execution is athena_sql.start_query_execution
    assert AthenaResponse.get_query_results is athena_sql.get_query_results
    assert athena_sql._originals["start_query_execution"] is not athena_sql.start_query_execution


def test_bind_parameters_skips_literals_and_comments() -> None:
    sql = "SELECT '?' AS q, \"a?\" FROM t -- ?\nWHERE x = ? AND y = ? /* ? */"
    assert athena_sql.bind_parameters(sql, ["'v'", "100"]).endswith(
        "WHERE x = 'v' AND y = 100 /* ? */"
    )
    with pytest.raises(athena_sql.QueryFailed, match="expected 2 but found 1"):
        athena_sql.bind_parameters(sql, ["1"])


def test_value_formatting_like_athena() -> None:
    import datetime as dt

    f = athena_sql.format_value
    assert f(None) is None
    assert f(True) == "true"
    assert f(1.5) == "1.5"
    assert f(1e10) == "1.0E10"
    assert f([1, 2]) == "[1, 2]"
    assert f({"a": 1}) == "{a=1}"
    assert f(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05.000"
    assert (
        athena_sql.results_csv([{"Name": "a"}, {"Name": "b"}], [['x"y', None]])
        == b'"a","b"\n"x""y",\n'
    )


def test_athena_type_names() -> None:
    import duckdb

    con = duckdb.connect()
    rel = con.sql(
        "SELECT 'a' s, 1 i, 1::BIGINT b, 1.5::DOUBLE d, true t, [1] l, MAP {'k': 1} m, DATE '2024-01-01' dd, 1.5::DECIMAL(5,2) dec"
    )
    assert [athena_sql.athena_type(t)[0] for t in rel.types] == [
        "varchar",
        "integer",
        "bigint",
        "double",
        "boolean",
        "array",
        "map",
        "date",
        "decimal",
    ]
