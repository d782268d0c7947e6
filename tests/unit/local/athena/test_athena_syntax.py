"""Trino's parser messages for queries that do not parse (omics_toolkit.local.athena.syntax).

Forms as Athena answers them at StartQueryExecution (``line L:C: mismatched input 'X'.
Expecting: ...``; 1-based line and column of the offending token, ``'<EOF>'`` when the query
ends too soon). Observed answers this mirrors: ``line 1:10: mismatched input '<EOF>'. Expecting:
'ALTER', ...`` (guardian/athena-cli#39), ``line 5:27: mismatched input ')'. Expecting:
<expression>`` (cloud-intelligence-dashboards-framework#1125).
"""

from __future__ import annotations

import pytest

from omics_toolkit.local.athena.syntax import STATEMENT_KEYWORDS, syntax_error

STATEMENTS = ", ".join(f"'{k}'" for k in STATEMENT_KEYWORDS) + ", <query>"
AFTER_SELECT = (
    "',', 'EXCEPT', 'FROM', 'GROUP', 'HAVING', 'INTERSECT', 'LIMIT', 'OFFSET', 'ORDER', "
    "'UNION', 'WHERE', 'WINDOW', <EOF>"
)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC * FROM variants", f"line 1:1: mismatched input 'SELEC'. Expecting: {STATEMENTS}"),
        ("-- a comment\n  SELEC 1", f"line 2:3: mismatched input 'SELEC'. Expecting: {STATEMENTS}"),
        ("", f"line 1:1: mismatched input '<EOF>'. Expecting: {STATEMENTS}"),
        ("SELECT * FROM t WHERE", "line 1:22: mismatched input '<EOF>'. Expecting: <expression>"),
        ("SELECT 1 +", "line 1:11: mismatched input '<EOF>'. Expecting: <expression>"),
        (
            "select 1 from t\nwhere x = = 1",
            "line 2:11: mismatched input '='. Expecting: <expression>",
        ),
        (
            "SELECT a b c FROM t",
            f"line 1:12: mismatched input 'c'. Expecting: {AFTER_SELECT}",
        ),
        (
            "SELECT FROM t",
            "line 1:8: mismatched input 'FROM'. Expecting: '*', 'ALL', 'DISTINCT', <expression>",
        ),
        ("SELECT a,, b FROM t", "line 1:10: mismatched input ','. Expecting: '*', <expression>"),
        ("SELECT a, FROM t", "line 1:11: mismatched input 'FROM'. Expecting: '*', <expression>"),
        ("SELECT (1", "line 1:10: mismatched input '<EOF>'. Expecting: ')'"),
        ("SELECT 'abc FROM t", "line 1:8: token recognition error at: ''abc FROM t'"),
        ("SELECT 1; SELECT 2", "Only one sql statement is allowed. Got: SELECT 1; SELECT 2"),
        (
            "UNLOAD (SELEC * FROM variants) TO 's3://b/p/'",
            "line 1:9: mismatched input 'SELEC'. Expecting: '(', 'SELECT', 'TABLE', 'VALUES', 'WITH'",
        ),
        (
            "UNLOAD (SELECT * FROM t WHERE) TO 's3://b/p/'",
            "line 1:30: mismatched input ')'. Expecting: <expression>",
        ),
    ],
)
def test_malformed_queries_in_trinos_words(sql: str, message: str) -> None:
    assert syntax_error(sql) == message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1;",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "(SELECT 1)",
        "VALUES 1, 2",
        'SELECT * FROM variants WHERE contigname = ? AND "end" > ? LIMIT 5',
        "SELECT * FROM t CROSS JOIN UNNEST(a) WITH ORDINALITY AS u(x, i)",
        "UNLOAD (SELECT * FROM (SELECT 1) LIMIT 0) TO 's3://b/p/' WITH (format = 'PARQUET')",
        "CREATE TABLE x (a int)",  # not a query: left to the executor (NOT_SUPPORTED)
        "MSCK REPAIR TABLE t",
        "DEALLOCATE PREPARE p",
        # separators and keywords inside literals and quoted names are neither
        "SELECT split(x, ';') FROM t WHERE y <> ','",
        "SELECT ')', '(' FROM t",
        'SELECT "from", "select" FROM "where"',
    ],
)
def test_queries_that_parse_are_let_through(sql: str) -> None:
    assert syntax_error(sql) is None
