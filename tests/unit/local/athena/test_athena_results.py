"""The local Athena's parameter binding and result shapes (value texts, CSV, column types)."""

from __future__ import annotations

import pytest

from omics_toolkit.local.athena import errors, results, translate


def test_bind_parameters_skips_literals_and_comments() -> None:
    sql = "SELECT '?' AS q, \"a?\" FROM t -- ?\nWHERE x = ? AND y = ? /* ? */"
    assert translate.bind_parameters(sql, ["'v'", "100"]).endswith(
        "WHERE x = 'v' AND y = 100 /* ? */"
    )
    with pytest.raises(errors.QueryFailed, match="expected 2 but found 1"):
        translate.bind_parameters(sql, ["1"])


def test_value_formatting_like_athena() -> None:
    import datetime as dt

    f = results.format_value
    assert f(None) is None
    assert f(True) == "true"
    assert f(1.5) == "1.5"
    assert f(1e10) == "1.0E10"
    assert f([1, 2]) == "[1, 2]"
    assert f({"a": 1}) == "{a=1}"
    assert f(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05.000"
    assert (
        results.results_csv([{"Name": "a"}, {"Name": "b"}], [['x"y', None]])
        == b'"a","b"\n"x""y",\n'
    )


def test_athena_type_names() -> None:
    import duckdb

    con = duckdb.connect()
    rel = con.sql(
        "SELECT 'a' s, 1 i, 1::BIGINT b, 1.5::DOUBLE d, true t, [1] l, MAP {'k': 1} m, DATE '2024-01-01' dd, 1.5::DECIMAL(5,2) dec"
    )
    assert [results.athena_type(t)[0] for t in rel.types] == [
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
