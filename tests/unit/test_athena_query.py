import pytest

from omics_toolkit.athena import QUERIES_DIR, bind_named, load_query, to_literal
from omics_toolkit.errors import UserError


def test_bind_named_orders_and_quotes():
    sql, params = bind_named(
        "SELECT * FROM v WHERE c = :contig AND s < :end AND e > :start",
        {"contig": "q'1", "start": "10", "end": 20},
        {"start": ("bigint", ""), "end": ("bigint", "")},
    )
    assert sql == "SELECT * FROM v WHERE c = ? AND s < ? AND e > ?"
    assert params == ["q'1", 20, 10]
    assert [to_literal(p) for p in params] == ["'q''1'", "20", "10"]
    assert to_literal(None) == "NULL" and to_literal(True) == "TRUE" and to_literal(1.5) == "1.5"


def test_bind_named_rejects_missing_and_unknown():
    with pytest.raises(UserError, match="missing query parameter"):
        bind_named("SELECT :a", {})
    with pytest.raises(UserError, match="unknown query parameter"):
        bind_named("SELECT :a", {"a": 1, "b": 2})
    with pytest.raises(UserError, match="not a valid bigint"):
        bind_named("SELECT :a", {"a": "x; DROP"}, {"a": ("bigint", "")})


def test_every_query_file_declares_its_parameters():
    for path in QUERIES_DIR.glob("*.sql"):
        qf = load_query(path.stem)
        _, params = bind_named(qf.sql, {name: "1" for name in qf.params}, qf.params)
        assert len(params) >= len(qf.params)


def test_unknown_query_lists_known():
    with pytest.raises(UserError, match="variants_in_region"):
        load_query("nope")


def test_variant_columns_are_checked_and_quoted():
    from omics_toolkit.api import variant_columns_sql

    assert variant_columns_sql(["sampleid", '"end"', "QUAL"]) == '"sampleid", "end", "qual"'
    assert variant_columns_sql(["*"]) == "*"
    assert '"end"' in variant_columns_sql(None)
    for bad in (["sampleid FROM variants; DROP TABLE x --"], ["*", "qual"], ['"a" "b"'], []):
        with pytest.raises(UserError, match="columns"):
            variant_columns_sql(bad)
