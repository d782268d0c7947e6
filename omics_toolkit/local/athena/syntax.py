"""Syntax errors as Athena reports them: rejected by StartQueryExecution in Trino's words.

Athena engine v3 parses a query when it is submitted: a query that does not parse is never run.
StartQueryExecution answers ``InvalidRequestException`` (HTTP 400) with ``AthenaErrorCode``
``MALFORMED_QUERY`` and the parser's message (no query execution is created), e.g.
``line 1:1: mismatched input 'SELEC'. Expecting: 'ALTER', 'ANALYZE', ..., <query>`` (observed
answers quoted in public issue threads, e.g. guardian/athena-cli#39,
aws-well-architected-labs#502, cloud-intelligence-dashboards-framework#1125).

:func:`syntax_error` gives that message for a query the local Athena cannot parse: Trino's form
``line L:C: mismatched input 'X'. Expecting: ...`` with the line and column (1-based) of the
offending token (``'<EOF>'`` when the query ends too soon). The ``Expecting:`` list is what
Trino's grammar allows at that point for the common cases (a statement's first word, an operand,
the clauses after a SELECT list / FROM / WHERE / GROUP BY / HAVING / ORDER BY), not the token
for token list of Trino's parser. Statements other than queries (``CREATE``, ``SHOW``, ...) are
not checked here: the local Athena fails them at run time (``NOT_SUPPORTED``); the query of an
``UNLOAD (query) TO ...`` is (the rest of an UNLOAD is checked when it runs).
"""

from __future__ import annotations

from typing import Any

from omics_toolkit.local.athena.functions import AthenaTrino, line_col, quoted_end

#: ``AthenaErrorCode`` of a query that does not parse (InvalidRequestException).
MALFORMED_QUERY = "MALFORMED_QUERY"

#: Trino's statement keywords (its grammar's ``statement`` alternatives) plus Athena's UNLOAD.
STATEMENT_KEYWORDS = (
    "ALTER ANALYZE CALL COMMENT COMMIT CREATE DEALLOCATE DELETE DENY DESC DESCRIBE DROP EXECUTE "
    "EXPLAIN GRANT INSERT MERGE PREPARE REFRESH RESET REVOKE ROLLBACK SET SHOW START TRUNCATE "
    "UNLOAD UPDATE USE WITH"
).split()
_QUERY_STARTS = {"SELECT", "VALUES", "TABLE", "("}
#: Statements that are not queries: left to the executor (``NOT_SUPPORTED`` there).
_NOT_QUERIES = set(STATEMENT_KEYWORDS) - {"WITH"} | {"MSCK", "OPTIMIZE", "VACUUM"}
_EXPECT_STATEMENT = ", ".join(f"'{k}'" for k in STATEMENT_KEYWORDS) + ", <query>"
_EXPECT_OPERAND = "<expression>"
_EXPECT_SELECT_ITEM = "'*', 'ALL', 'DISTINCT', <expression>"

_SET_OPS = ("EXCEPT", "INTERSECT", "UNION")
_JOINS = ("CROSS", "FULL", "INNER", "JOIN", "LEFT", "NATURAL", "RIGHT")
#: What may follow a complete item of each clause (besides the clauses after it).
_FOLLOW: dict[str, tuple[str, ...]] = {
    "SELECT": (",", "FROM", "GROUP", "HAVING", "LIMIT", "OFFSET", "ORDER", "WHERE", "WINDOW")
    + _SET_OPS,
    "FROM": (",", "GROUP", "HAVING", "LIMIT", "OFFSET", "ORDER", "WHERE", "WINDOW")
    + _SET_OPS
    + _JOINS,
    "WHERE": ("AND", "GROUP", "HAVING", "LIMIT", "OFFSET", "OR", "ORDER", "WINDOW") + _SET_OPS,
    "GROUP": (",", "HAVING", "LIMIT", "OFFSET", "ORDER", "WINDOW") + _SET_OPS,
    "HAVING": ("AND", "LIMIT", "OFFSET", "OR", "ORDER", "WINDOW") + _SET_OPS,
    "ORDER": (",", "ASC", "DESC", "FETCH", "LIMIT", "NULLS", "OFFSET"),
    "LIMIT": ("FETCH", "OFFSET"),
    "OFFSET": ("FETCH", "LIMIT"),
}
_CLAUSE_OF = {"JOIN": "FROM", "ON": "WHERE", "BY": None}


def _tokens(sql: str) -> list[Any]:
    return list(AthenaTrino().tokenize(sql))


def _word(token: Any) -> str:
    """A keyword or symbol token's text in upper case; ``""`` for literals and identifiers
    (a string ``';'`` or a quoted ``"FROM"`` is neither a separator nor a keyword)."""
    kind = token.token_type.name
    if kind in ("IDENTIFIER", "NUMBER") or kind.endswith("STRING"):
        return ""
    return str(token.text).upper()


def _text(sql: str, token: Any) -> str:
    return sql[token.start : token.end + 1]


def _at(sql: str, offset: int, text: str, expecting: str | None) -> str:
    message = f"{line_col(sql, offset)}: mismatched input '{text}'"
    return f"{message}. Expecting: {expecting}" if expecting else message


def _eof(sql: str, expecting: str) -> str:
    return _at(sql, len(sql.rstrip().rstrip(";").rstrip()), "<EOF>", expecting)


def _unterminated(sql: str) -> str:
    """Trino's lexer message for the first quote that is never closed."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                break
            i = j + 2
        elif c in ("'", '"', "`"):
            j = quoted_end(sql, i)
            if j >= n:
                return f"{line_col(sql, i)}: token recognition error at: '{sql[i:]}'"
            i = j + 1
        else:
            i += 1
    return f"{line_col(sql, min(i, n))}: token recognition error at: '{sql[min(i, n) :]}'"


def _clause_follow(tokens: list[Any], index: int) -> str:
    """The ``Expecting:`` list after a complete item of the clause that holds ``tokens[index]``."""
    depth, clause = 0, "SELECT"
    for token in reversed(tokens[:index]):
        text = _word(token)
        if text == ")":
            depth += 1
        elif text == "(":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (text in _FOLLOW or text in _CLAUSE_OF):
            clause = _CLAUSE_OF.get(text) or text
            if text == "BY":
                continue
            break
    inside = _depth(tokens, index) > 0
    items = sorted(set(_FOLLOW.get(clause, ())) | ({")"} if inside else set()))
    quoted = [f"'{k}'" for k in items]
    return ", ".join(quoted + ([] if inside else ["<EOF>"]))


def _depth(tokens: list[Any], index: int) -> int:
    depth = 0
    for token in tokens[:index]:
        depth += {"(": 1, ")": -1}.get(_word(token), 0)
    return depth


def _lexical_checks(sql: str, tokens: list[Any]) -> str | None:
    """Forms sqlglot accepts and Trino's grammar does not: empty select items."""
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        text = _word(token)
        if text == "SELECT":
            if nxt is None:
                return _eof(sql, _EXPECT_SELECT_ITEM)
            if _word(nxt) in ("FROM", ",", ")"):
                return _at(sql, nxt.start, _text(sql, nxt), _EXPECT_SELECT_ITEM)
        if text == ",":
            if nxt is None:
                return _eof(sql, _EXPECT_OPERAND)
            if _word(nxt) in ("FROM", ",", ")", "WHERE", "GROUP", "ORDER", "LIMIT"):
                return _at(sql, nxt.start, _text(sql, nxt), f"'*', {_EXPECT_OPERAND}")
    return None


_EXPECT_QUERY = "'(', 'SELECT', 'TABLE', 'VALUES', 'WITH'"


def _blank(text: str) -> str:
    return "".join(c if c == "\n" else " " for c in text)


def _unload_error(sql: str, tokens: list[Any]) -> str | None:
    """The message for ``UNLOAD (query) TO ...`` whose query does not parse, else ``None``.

    The query is checked in place (positions are the statement's); a query ending too soon
    meets the closing ``)``, as Trino's parser does.
    """
    if len(tokens) < 2 or _word(tokens[1]) != "(":
        nxt = tokens[1] if len(tokens) > 1 else None
        if nxt is None:
            return _eof(sql, "'('")
        return _at(sql, nxt.start, _text(sql, nxt), "'('")
    depth, close = 0, None
    for i, token in enumerate(tokens[1:], start=1):
        depth += {"(": 1, ")": -1}.get(_word(token), 0)
        if depth == 0:
            close = i
            break
    if close is None:
        return _eof(sql, "')'")
    begin, end = tokens[1].end + 1, tokens[close].start
    inner = _blank(sql[:begin]) + sql[begin:end] + _blank(sql[end:])
    message = syntax_error(inner, nested=True)
    if message and "mismatched input '<EOF>'" in message:
        expecting = message.split(". Expecting: ", 1)[1] if ". Expecting: " in message else None
        return _at(sql, end, ")", expecting)
    return message


def syntax_error(sql: str, nested: bool = False) -> str | None:
    """Trino's parser message for ``sql``, or ``None`` when it parses (or is not a query).

    Args:
        sql: the QueryString as submitted (``?`` placeholders unbound, as Athena checks it).
        nested: ``sql`` is the query inside an UNLOAD (only a query may start it).

    Returns:
        ``line L:C: mismatched input 'X'. Expecting: ...``, ``line L:C: token recognition error
        at: '...'`` (an unterminated quote) or ``Only one sql statement is allowed. Got: ...``;
        ``None`` if the query parses or is a statement other than a query (an UNLOAD's query
        is checked).
    """
    import sqlglot

    try:
        tokens = _tokens(sql)
    except sqlglot.errors.TokenError:
        return _unterminated(sql)
    if tokens and _word(tokens[-1]) == ";":
        tokens = tokens[:-1]
    if not tokens:
        return _eof(sql, _EXPECT_STATEMENT)
    first = tokens[0]
    first_word = (_word(first).split() or [""])[0]  # sqlglot joins some, e.g. DEALLOCATE PREPARE
    if nested:
        if first_word not in _QUERY_STARTS and first_word != "WITH":
            return _at(sql, first.start, _text(sql, first), _EXPECT_QUERY)
    elif first_word == "UNLOAD":
        return _unload_error(sql, tokens)
    elif first_word in _NOT_QUERIES:
        return None
    elif first_word not in _QUERY_STARTS and first_word != "WITH":
        return _at(sql, first.start, _text(sql, first), _EXPECT_STATEMENT)
    if any(_word(t) == ";" for t in tokens):
        return f"Only one sql statement is allowed. Got: {sql}"
    lexical = _lexical_checks(sql, tokens)
    if lexical:
        return lexical
    try:
        sqlglot.parse(sql, read=AthenaTrino)
    except sqlglot.errors.ParseError as exc:
        return _from_parse_error(sql, tokens, (exc.errors or [{}])[0])
    except sqlglot.errors.SqlglotError as exc:
        return f"line 1:1: {exc}"
    return None


def _from_parse_error(sql: str, tokens: list[Any], err: dict[str, Any]) -> str:
    description = str(err.get("description") or "")
    line, col = err.get("line"), err.get("col")
    index = next(
        (i for i, t in enumerate(tokens) if t.line == line and t.col == col), len(tokens) - 1
    )
    token = tokens[index]
    unexpected = description.startswith("Invalid expression / Unexpected token")
    if description.startswith("Expecting "):
        expecting = f"'{description.removeprefix('Expecting ').strip()}'"
    elif unexpected:
        expecting = _clause_follow(tokens, index)
    else:
        expecting = _EXPECT_OPERAND
    if not unexpected and index == len(tokens) - 1:
        return _eof(sql, expecting)
    return _at(sql, token.start, _text(sql, token), expecting)
