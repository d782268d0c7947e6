"""Athena engine v3 (Trino) functions and constructs on DuckDB, by sqlglot AST rewrites and macros.

The local Athena promises that a query written for Athena engine v3 either returns what Athena
returns or FAILS with Athena's error shape; it never answers differently. This module keeps that
promise for expressions:

- every function call in the tree is checked against an explicit allow-list (``_TYPED`` for the
  classes sqlglot parses Trino functions into, ``_NAMED`` for the names it leaves as
  ``exp.Anonymous``); anything else fails with ``FUNCTION_NOT_FOUND`` (a name Trino does not know)
  or ``NOT_SUPPORTED`` (a Trino function this engine does not implement);
- functions whose DuckDB namesake differs (NULL handling, 0- vs 1-based, out-of-range behaviour)
  are rewritten to the ``__trino_*`` macros of ``MACROS``, installed on the connection by
  :func:`install`;
- ``a[i]`` and ``element_at`` keep Trino's rules (subscript out of range FAILS, ``element_at``
  gives NULL); ``/`` and ``%`` keep integer division and Trino's division-by-zero failure;
- ``UNNEST`` in FROM/JOIN becomes a lateral ``SELECT unnest(...)``, which gives Trino's zip
  semantics for several arrays, ``WITH ORDINALITY`` and map unnesting.

Reference: Trino 4xx "Functions and operators" (https://trino.io/docs/current/functions.html).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.dialects.trino import Trino

from omics_toolkit.local.athena.errors import QueryFailed


class AthenaTrino(Trino):
    """Trino as Athena engine v3 parses it, but with subscripts kept as written (1-based).

    sqlglot's Trino dialect shifts ``a[1]`` to 0-based while parsing, which would also shift map
    keys (``m[1]``); this engine rewrites every subscript itself, so it keeps them verbatim.
    """

    INDEX_OFFSET = 0


_INT_TYPES = "('TINYINT','SMALLINT','INTEGER','BIGINT','HUGEINT','UTINYINT','USMALLINT','UINTEGER','UBIGINT')"
_IS_MAP = "typeof(_x) LIKE 'MAP(%'"

#: DuckDB macros implementing Trino semantics (names start with ``__trino_``).
MACROS: tuple[str, ...] = (
    # a / b: integer division truncates (SET integer_division), division by zero fails, decimal
    # division (Trino rounds to max(scale)) is refused rather than answered in double precision.
    f"""CREATE MACRO __trino_div(_a, _b) AS CASE
      WHEN (typeof(_a) LIKE 'DECIMAL%' AND typeof(_b) NOT IN ('DOUBLE', 'FLOAT'))
        OR (typeof(_b) LIKE 'DECIMAL%' AND typeof(_a) NOT IN ('DOUBLE', 'FLOAT'))
        THEN error('NOT_SUPPORTED: the local Athena does not implement DECIMAL division; CAST an operand to double')
      WHEN typeof(_a) IN {_INT_TYPES} AND typeof(_b) IN {_INT_TYPES} AND _b = 0
        THEN error('DIVISION_BY_ZERO: Division by zero')
      ELSE _a / _b END""",
    f"""CREATE MACRO __trino_mod(_a, _b) AS CASE
      WHEN typeof(_a) IN {_INT_TYPES} AND typeof(_b) IN {_INT_TYPES} AND _b = 0
        THEN error('DIVISION_BY_ZERO: Division by zero')
      ELSE _a % _b END""",
    # a[k]: arrays 1-based, out of range FAILS; maps: missing key FAILS.
    f"""CREATE MACRO __trino_subscript(_x, _k) AS CASE
      WHEN _x IS NULL OR _k IS NULL THEN _x[_k]
      WHEN {_IS_MAP} THEN CASE
        WHEN _x[_k] IS NOT NULL OR list_contains(json_keys(to_json(_x)), CAST(_k AS VARCHAR)) THEN _x[_k]
        ELSE error('INVALID_FUNCTION_ARGUMENT: Key not present in map: ' || CAST(_k AS VARCHAR)) END
      WHEN CAST(_k AS VARCHAR) = '0' THEN error('INVALID_FUNCTION_ARGUMENT: SQL array indices start at 1')
      WHEN starts_with(CAST(_k AS VARCHAR), '-')
        THEN error('INVALID_FUNCTION_ARGUMENT: Array subscript is negative: ' || CAST(_k AS VARCHAR))
      WHEN TRY_CAST(CAST(_k AS VARCHAR) AS BIGINT) > cardinality(_x)
        THEN error('INVALID_FUNCTION_ARGUMENT: Array subscript must be less than or equal to array length: '
                   || CAST(_k AS VARCHAR) || ' > ' || CAST(cardinality(_x) AS VARCHAR))
      ELSE _x[_k] END""",
    # element_at: arrays 1-based, negative from the end, out of range NULL; maps NULL when missing.
    f"""CREATE MACRO __trino_element_at(_x, _k) AS CASE
      WHEN NOT ({_IS_MAP}) AND CAST(_k AS VARCHAR) = '0'
        THEN error('INVALID_FUNCTION_ARGUMENT: SQL array indices start at 1')
      ELSE _x[_k] END""",
    # contains: NULL when not found and the array holds a NULL, or the element is NULL.
    """CREATE MACRO __trino_contains(_a, _e) AS CASE
      WHEN _a IS NULL OR _e IS NULL THEN NULL
      WHEN list_contains(_a, _e) THEN true
      WHEN list_count(_a) < len(_a) THEN NULL
      ELSE false END""",
    # array_position: 0 when not found, bigint.
    """CREATE MACRO __trino_array_position(_a, _e) AS CASE
      WHEN _a IS NULL OR _e IS NULL THEN NULL
      ELSE CAST(coalesce(list_position(_a, _e), 0) AS BIGINT) END""",
    # slice(a, start, length): Trino ArraySliceFunction.
    """CREATE MACRO __trino_slice(_a, _s, _n) AS CASE
      WHEN _s = 0 THEN error('INVALID_FUNCTION_ARGUMENT: SQL array indices start at 1')
      WHEN _n < 0 THEN error('INVALID_FUNCTION_ARGUMENT: length must be greater than or equal to 0')
      WHEN (CASE WHEN _s > 0 THEN _s - 1 ELSE len(_a) + _s END) NOT BETWEEN 0 AND len(_a) - 1
        THEN list_slice(_a, 1, 0)
      ELSE list_slice(_a, (CASE WHEN _s > 0 THEN _s ELSE len(_a) + _s + 1 END),
                      least(len(_a), (CASE WHEN _s > 0 THEN _s - 1 ELSE len(_a) + _s END) + _n)) END""",
    # array_distinct keeps first occurrences in order (and one NULL).
    """CREATE MACRO __trino_array_distinct(_a) AS
      list_filter(_a, lambda _e, _i: list_position(_a, _e) = _i)""",
    # sequence(start, stop[, step]) over integers; Trino's default step is -1 when start > stop.
    f"""CREATE MACRO __trino_sequence(_a, _b, _st) AS CASE
      WHEN typeof(_a) NOT IN {_INT_TYPES} OR typeof(_b) NOT IN {_INT_TYPES}
        THEN error('NOT_SUPPORTED: the local Athena implements sequence() over integers only')
      WHEN coalesce(_st, 0) = 0 AND _st IS NOT NULL THEN error('INVALID_FUNCTION_ARGUMENT: step must not be zero')
      WHEN _st > 0 AND _a > _b THEN error('INVALID_FUNCTION_ARGUMENT: sequence stop value should be greater than or equal to start value if step is greater than zero otherwise stop should be less than or equal to start')
      WHEN _st < 0 AND _a < _b THEN error('INVALID_FUNCTION_ARGUMENT: sequence stop value should be greater than or equal to start value if step is greater than zero otherwise stop should be less than or equal to start')
      WHEN abs(_b - _a) // abs(coalesce(_st, 1)) + 1 > 10000
        THEN error('INVALID_FUNCTION_ARGUMENT: result of sequence function must not have more than 10000 entries')
      ELSE generate_series(CAST(_a AS BIGINT), CAST(_b AS BIGINT),
                           CAST(coalesce(_st, CASE WHEN _a <= _b THEN 1 ELSE -1 END) AS BIGINT)) END""",
    # regexp_extract: NULL when there is no match (DuckDB gives '').
    """CREATE MACRO __trino_regexp_extract(_s, _p, _g) AS CASE
      WHEN regexp_matches(_s, _p) THEN regexp_extract(_s, _p, _g) ELSE NULL END""",
    # regexp_replace with a non-literal replacement: only texts without $ or \\ are exact.
    """CREATE MACRO __trino_regexp_replace(_s, _p, _r) AS CASE
      WHEN contains(_r, '$') OR contains(_r, '\\')
        THEN error('NOT_SUPPORTED: the local Athena needs a literal regexp_replace replacement to translate $n')
      ELSE regexp_replace(_s, _p, _r, 'g') END""",
    # split(s, d, limit): the last element holds the rest of the string.
    """CREATE MACRO __trino_split(_s, _d, _l) AS CASE
      WHEN _d = '' THEN error('NOT_SUPPORTED: the local Athena does not implement split() with an empty delimiter')
      WHEN _l IS NULL THEN string_split(_s, _d)
      WHEN _l <= 0 THEN error('INVALID_FUNCTION_ARGUMENT: Limit must be positive')
      WHEN len(string_split(_s, _d)) <= _l THEN string_split(_s, _d)
      ELSE list_concat(list_slice(string_split(_s, _d), 1, _l - 1),
                       [array_to_string(list_slice(string_split(_s, _d), _l, len(string_split(_s, _d))), _d)]) END""",
    """CREATE MACRO __trino_split_part(_s, _d, _i) AS CASE
      WHEN _i <= 0 THEN error('INVALID_FUNCTION_ARGUMENT: Index must be greater than zero')
      WHEN _d = '' THEN error('NOT_SUPPORTED: the local Athena does not implement split_part() with an empty delimiter')
      WHEN _i > len(string_split(_s, _d)) THEN NULL
      ELSE string_split(_s, _d)[_i] END""",
    # substr(s, start[, length]): start 0 or beyond either end gives ''.
    """CREATE MACRO __trino_substr(_s, _st, _n) AS CASE
      WHEN _s IS NULL OR _st IS NULL THEN NULL
      WHEN _st = 0 OR coalesce(_n, 1) <= 0 OR length(_s) = 0 THEN ''
      WHEN (CASE WHEN _st > 0 THEN _st - 1 ELSE length(_s) + _st END) NOT BETWEEN 0 AND length(_s) - 1 THEN ''
      ELSE substring(_s, (CASE WHEN _st > 0 THEN _st ELSE length(_s) + _st + 1 END),
                     coalesce(_n, length(_s))) END""",
    # replace(s, search, r): an empty search inserts r between characters in Trino.
    """CREATE MACRO __trino_replace(_s, _f, _r) AS CASE
      WHEN _f = '' THEN error('NOT_SUPPORTED: the local Athena does not implement replace() with an empty search string')
      ELSE replace(_s, _f, _r) END""",
    # trim family: Trino strips whitespace, DuckDB only spaces.
    r"""CREATE MACRO __trino_trim(_s) AS regexp_replace(_s, '^[\s\x0B\x1C-\x1F]+|[\s\x0B\x1C-\x1F]+$', '', 'g')""",
    r"""CREATE MACRO __trino_ltrim(_s) AS regexp_replace(_s, '^[\s\x0B\x1C-\x1F]+', '')""",
    r"""CREATE MACRO __trino_rtrim(_s) AS regexp_replace(_s, '[\s\x0B\x1C-\x1F]+$', '')""",
    # width_bucket(x, bound1, bound2, n) (Trino MathFunctions.widthBucket).
    """CREATE MACRO __trino_width_bucket(_x, _b1, _b2, _n) AS CASE
      WHEN _n <= 0 THEN error('INVALID_FUNCTION_ARGUMENT: bucketCount must be greater than 0')
      WHEN _b1 = _b2 THEN error('INVALID_FUNCTION_ARGUMENT: bound1 and bound2 cannot be equal')
      WHEN _b1 < _b2 AND _x < _b1 THEN CAST(0 AS BIGINT)
      WHEN _b1 < _b2 AND _x >= _b2 THEN CAST(_n + 1 AS BIGINT)
      WHEN _b1 > _b2 AND _x > _b1 THEN CAST(0 AS BIGINT)
      WHEN _b1 > _b2 AND _x <= _b2 THEN CAST(_n + 1 AS BIGINT)
      ELSE CAST(trunc((CAST(_x AS DOUBLE) - _b1) * _n / (_b2 - _b1) + 1) AS BIGINT) END""",
)

_Handler = Callable[[Any], exp.Expression]
_TRY_CATCHES = ("INVALID_FUNCTION_ARGUMENT", "DIVISION_BY_ZERO", "INVALID_CAST_ARGUMENT")
_ERRORS_TRY_CATCHES = tuple(f"error('{code}" for code in _TRY_CATCHES)


def _or_null_macro(macro: str) -> str | None:
    """The ``_or_null`` variant of a macro (errors ``try`` catches become NULL), if it has any."""
    if not any(marker in macro for marker in _ERRORS_TRY_CATCHES):
        return None
    out, i = [], 0
    while True:
        starts = [j for j in (macro.find(m, i) for m in _ERRORS_TRY_CATCHES) if j >= 0]
        if not starts:
            out.append(macro[i:])
            break
        j = min(starts)
        out.append(macro[i:j])
        depth, k, quoted = 0, j + len("error"), False
        while True:
            c = macro[k]
            if c == "'":
                quoted = not quoted
            elif not quoted and c == "(":
                depth += 1
            elif not quoted and c == ")":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        out.append("NULL")
        i = k + 1
    text = "".join(out)
    return re.sub(r"CREATE MACRO (__trino_\w+)\(", r"CREATE MACRO \1_or_null(", text, count=1)


_OR_NULL_MACROS = tuple(m for m in (_or_null_macro(x) for x in MACROS) if m)
_OR_NULL = frozenset(
    re.match(r"CREATE MACRO (__trino_\w+)_or_null", m).group(1)  # type: ignore[union-attr]
    for m in _OR_NULL_MACROS
)


def _call(name: str, *args: exp.Expression | None) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=[a if a is not None else exp.Null() for a in args])


def _try(node: Any) -> exp.Expression:
    """Trino ``try(x)``: NULL where ``x`` fails with division by zero, an invalid cast or an
    invalid function argument. The ``__trino_*`` calls inside use their ``_or_null`` variants and
    casts become TRY_CAST; anything else that fails still fails (never a silent NULL)."""
    inner = node.this
    for call in list(inner.find_all(exp.Anonymous)):
        name = str(call.name)
        if name in _OR_NULL:
            call.set("this", name + "_or_null")
        elif name == "error" and call.expressions[0].name.startswith(_TRY_CATCHES):
            call.replace(exp.Null())
    for cast in list(inner.find_all(exp.Cast)):
        if not isinstance(cast, exp.TryCast):
            replacement = exp.TryCast(this=cast.this, to=cast.args["to"])
            if cast is inner:
                inner = replacement
            else:
                cast.replace(replacement)
    return inner


def _cast(node: Any) -> exp.Expression:
    """CAST with Trino's rules: double -> integer rounds half away from zero (DuckDB rounds half
    to even); double -> varchar in scientific notation (>= 1e7, < 1e-3) is refused."""
    to = node.args["to"]
    x = node.this
    floating = exp.condition("typeof(_x) IN ('DOUBLE', 'FLOAT')").transform(
        lambda n: x.copy() if isinstance(n, exp.Column) and n.name == "_x" else n
    )
    kind = type(node)
    if to.is_type(*exp.DataType.INTEGER_TYPES):
        as_double = exp.TryCast(this=x.copy(), to=exp.DataType.build("DOUBLE"))
        rounded = kind(this=_call("round", as_double), to=to.copy())
        as_text = exp.TryCast(this=x.copy(), to=exp.DataType.build("VARCHAR"))
        not_integer_text = exp.and_(
            exp.EQ(this=_call("typeof", x.copy()), expression=exp.Literal.string("VARCHAR")),
            exp.Not(
                this=_call(
                    "regexp_matches",
                    _call("trim", as_text),
                    exp.Literal.string(r"^[+-]?[0-9]+$"),
                )
            ),
        )
        bad_text = (
            exp.Null()
            if kind is exp.TryCast
            else _call(
                "error",
                exp.Literal.string(
                    f"INVALID_CAST_ARGUMENT: Cannot cast varchar to {to.sql(dialect='trino')}"
                ),
            )
        )
        return exp.Case(
            ifs=[
                exp.If(this=floating, true=rounded),
                exp.If(this=not_integer_text, true=kind(this=bad_text, to=to.copy())),
            ],
            default=kind(this=x.copy(), to=to.copy()),
        )
    if to.is_type(*exp.DataType.TEXT_TYPES):
        as_double = exp.TryCast(this=x.copy(), to=exp.DataType.build("DOUBLE"))
        scientific = exp.and_(
            floating,
            exp.or_(
                exp.GTE(this=_call("abs", as_double.copy()), expression=exp.Literal.number("1e7")),
                exp.and_(
                    exp.LT(
                        this=_call("abs", as_double.copy()), expression=exp.Literal.number("1e-3")
                    ),
                    exp.NEQ(this=as_double.copy(), expression=exp.Literal.number(0)),
                ),
            ),
        )
        refused = _call(
            "error",
            exp.Literal.string(
                "NOT_SUPPORTED: the local Athena does not format doubles in scientific notation as varchar"
            ),
        )
        return exp.Case(ifs=[exp.If(this=scientific, true=refused)], default=node.copy())
    return node


def _keep(node: Any) -> exp.Expression:
    return node


def _unsupported(what: str) -> _Handler:
    def handler(node: Any) -> exp.Expression:
        raise QueryFailed(f"NOT_SUPPORTED: the local Athena does not implement {what}")

    return handler


def _reject_args(*names: str, what: str) -> _Handler:
    """Keep the node unless one of ``names`` is set (an argument sqlglot would drop)."""

    def handler(node: Any) -> exp.Expression:
        if any(node.args.get(n) not in (None, False) for n in names):
            raise QueryFailed(f"NOT_SUPPORTED: the local Athena does not implement {what}")
        return node

    return handler


def _regexp_replace(node: Any) -> exp.Expression:
    s, p, r = node.this, node.expression, node.args.get("replacement")
    if r is None:
        return _call("regexp_replace", s, p, exp.Literal.string(""), exp.Literal.string("g"))
    if isinstance(r, exp.Literal) and r.is_string:
        return _call(
            "regexp_replace",
            s,
            p,
            exp.Literal.string(_re2_replacement(r.this)),
            exp.Literal.string("g"),
        )
    if isinstance(r, exp.Lambda):
        raise QueryFailed(
            "NOT_SUPPORTED: the local Athena does not implement regexp_replace with a lambda"
        )
    return _call("__trino_regexp_replace", s, p, r)


def _re2_replacement(text: str) -> str:
    """Java/Trino replacement text (``$1``, ``\\$``) to RE2's (``\\1``, ``\\\\``)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                raise QueryFailed("INVALID_FUNCTION_ARGUMENT: character to be escaped is missing")
            nxt = text[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif c == "$":
            m = re.match(r"\$(\d)(?!\d)", text[i:])
            if not m:
                raise QueryFailed(
                    "NOT_SUPPORTED: the local Athena translates regexp_replace group references $0-$9 only"
                )
            out.append("\\" + m.group(1))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _regexp_extract(node: Any) -> exp.Expression:
    group = node.args.get("group") or exp.Literal.number(0)
    return _call("__trino_regexp_extract", node.this, node.expression, group)


def _regexp_extract_all(node: Any) -> exp.Expression:
    group = node.args.get("group") or exp.Literal.number(0)
    return _call("regexp_extract_all", node.this, node.expression, group)


def _reduce(node: Any) -> exp.Expression:
    reduced = _call("list_reduce", node.this, node.args["merge"], node.args["initial"])
    finish = node.args.get("finish")
    if finish is None:
        return reduced
    applied = _call("list_transform", exp.Array(expressions=[reduced]), finish)
    return _call("list_extract", applied, exp.Literal.number(1))


def _round(node: Any) -> exp.Expression:
    return node


def _approx_quantile(node: Any) -> exp.Expression:
    if node.args.get("weight") is not None or node.args.get("accuracy") is not None:
        raise QueryFailed(
            "NOT_SUPPORTED: the local Athena implements approx_percentile(x, p) and "
            "approx_percentile(x, ARRAY[...]) only"
        )
    return _call("quantile_disc", node.this, node.args["quantile"])


def _arg_extreme(duck: str) -> _Handler:
    def handler(node: Any) -> exp.Expression:
        if node.args.get("count") is not None:
            raise QueryFailed(
                "NOT_SUPPORTED: the local Athena does not implement max_by/min_by with a count"
            )
        return _call(duck, node.this, node.expression)

    return handler


def _trim(node: Any) -> exp.Expression:
    if node.args.get("expression") is not None or node.args.get("collation") is not None:
        return node  # trim(chars FROM s): the same set-of-characters semantics in DuckDB
    position = str(node.args.get("position") or "").upper()
    name = {"LEADING": "__trino_ltrim", "TRAILING": "__trino_rtrim"}.get(position, "__trino_trim")
    return _call(name, node.this)


def _split(node: Any) -> exp.Expression:
    return _call("__trino_split", node.this, node.expression, node.args.get("limit"))


def _strpos(node: Any) -> exp.Expression:
    if node.args.get("position") is not None or node.args.get("occurrence") is not None:
        raise QueryFailed(
            "NOT_SUPPORTED: the local Athena does not implement strpos with an instance"
        )
    return _call("strpos", node.this, node.args["substr"])


def _substr(node: Any) -> exp.Expression:
    return _call("__trino_substr", node.this, node.args["start"], node.args.get("length"))


def _slice(node: Any) -> exp.Expression:
    if node.args.get("step") is not None:
        raise QueryFailed("NOT_SUPPORTED: slice with a step")
    return _call("__trino_slice", node.this, node.args["start"], node.args["end"])


def _sequence(node: Any) -> exp.Expression:
    return _call("__trino_sequence", node.args["start"], node.args["end"], node.args.get("step"))


def _reverse(node: Any) -> exp.Expression:
    if isinstance(node.this, exp.Array):
        return _call("list_reverse", node.this)
    return node  # strings; an array column fails to bind in DuckDB (reverse(VARCHAR) only)


def _array_to_string(node: Any) -> exp.Expression:
    null = node.args.get("null")
    if null is None:
        return _call("array_to_string", node.this, node.expression)
    return node


def _width_bucket(node: Any) -> exp.Expression:
    args = [node.this, node.args.get("min_value"), node.args.get("max_value")]
    if any(a is None for a in args) or node.args.get("num_buckets") is None:
        raise QueryFailed(
            "NOT_SUPPORTED: the local Athena implements width_bucket(x, bound1, bound2, n) only"
        )
    return _call("__trino_width_bucket", *args, node.args["num_buckets"])


def _log(node: Any) -> exp.Expression:
    return node


#: sqlglot classes (from parsing Trino) whose DuckDB output has Trino's semantics, or a rewrite.
_TYPED: dict[type[exp.Expression], _Handler] = {
    # constructs
    exp.Cast: lambda n: _cast(n),
    exp.TryCast: lambda n: _cast(n),
    exp.Case: _keep,
    exp.If: _keep,
    exp.Coalesce: _keep,
    exp.Nullif: _keep,
    exp.Try: lambda n: _try(n),
    exp.Exists: _keep,
    exp.Array: _keep,
    exp.Map: _keep,
    exp.Greatest: _keep,
    exp.Least: _keep,
    exp.Unnest: _keep,  # in FROM/JOIN only; rewritten by rewrite_unnest
    # math
    exp.Abs: _keep,
    exp.Ceil: _keep,
    exp.Floor: _keep,
    exp.Sqrt: _keep,
    exp.Exp: _keep,
    exp.Ln: _keep,
    exp.Log: _log,
    exp.Pow: _keep,
    exp.Round: _round,
    exp.WidthBucket: _width_bucket,
    # arrays and maps
    exp.ArraySize: lambda n: _call("cardinality", n.this),
    exp.ArrayContains: lambda n: _call("__trino_contains", n.this, n.expression),
    exp.ArrayToString: _array_to_string,
    exp.Transform: _keep,
    exp.ArrayFilter: _keep,
    exp.Reduce: _reduce,
    exp.MapKeys: lambda n: _call("map_keys", n.this),
    exp.ArrayPosition: lambda n: _call("__trino_array_position", n.this, n.expression),
    exp.ArraySlice: _slice,
    exp.ArrayDistinct: lambda n: _call("__trino_array_distinct", n.this),
    exp.Flatten: lambda n: _call("flatten", n.this),
    exp.GenerateSeries: _sequence,
    # strings and regular expressions
    exp.RegexpExtractAll: _regexp_extract_all,
    exp.RegexpExtract: _regexp_extract,
    exp.RegexpLike: _reject_args("flag", "full_match", what="regexp_like with flags"),
    exp.RegexpReplace: _regexp_replace,
    exp.Split: _split,
    exp.SplitPart: lambda n: _call(
        "__trino_split_part", n.this, n.args["delimiter"], n.args["part_index"]
    ),
    exp.StrPosition: _strpos,
    exp.Substring: _substr,
    exp.Length: lambda n: _call("length", n.this),
    exp.Lower: _keep,
    exp.Upper: _keep,
    exp.Concat: _keep,
    exp.Pad: _keep,
    exp.Trim: _trim,
    exp.Replace: lambda n: _call(
        "__trino_replace", n.this, n.expression, n.args.get("replacement") or exp.Literal.string("")
    ),
    exp.Reverse: _reverse,
    exp.StartsWith: _keep,
    # aggregates
    exp.Count: _keep,
    exp.Sum: _keep,
    exp.Avg: _keep,
    exp.Min: _keep,
    exp.Max: _keep,
    exp.CountIf: _keep,
    exp.ApproxDistinct: lambda n: exp.Count(this=exp.Distinct(expressions=[n.this])),
    exp.ApproxQuantile: _approx_quantile,
    exp.AnyValue: _keep,
    exp.ArgMax: _arg_extreme("arg_max_null"),
    exp.ArgMin: _arg_extreme("arg_min_null"),
    exp.ArrayAgg: _keep,
    exp.Stddev: _keep,
    exp.StddevSamp: _keep,
    exp.StddevPop: _keep,
    exp.Variance: _keep,
    exp.VariancePop: _keep,
    exp.LogicalAnd: _keep,
    exp.LogicalOr: _keep,
    # window functions
    exp.RowNumber: _keep,
    exp.Rank: _keep,
    exp.DenseRank: _keep,
    exp.PercentRank: _keep,
    exp.CumeDist: _keep,
    exp.Ntile: _keep,
    exp.Lag: _keep,
    exp.Lead: _keep,
    exp.FirstValue: _keep,
    exp.LastValue: _keep,
    exp.NthValue: _keep,
}

#: Trino function names that sqlglot leaves as ``exp.Anonymous`` and that we implement.
_NAMED: dict[str, _Handler] = {
    "map_values": lambda n: _call("map_values", *n.expressions),
    "histogram": lambda n: _call("histogram", *n.expressions),
    "geometric_mean": lambda n: _call("geometric_mean", *n.expressions),
    "every": lambda n: exp.LogicalAnd(this=n.expressions[0]),
}

#: Real Trino functions (parsed as ``exp.Anonymous``) that the local Athena does not implement.
KNOWN_TRINO_FUNCTIONS = frozenset(
    """approx_most_frequent approx_set array_union arrays_overlap all_match any_match none_match
    bit_count checksum codepoint combinations crc32 e from_big_endian_64 hamming_distance
    infinity is_finite is_infinite is_json_scalar json_array_contains json_array_get
    json_array_length json_size luhn_check map_agg map_concat map_entries map_filter
    map_zip_with merge multimap_agg nan ngrams normal_cdf numeric_histogram regr_intercept
    regr_slope spooky_hash_v2_32 tdigest_agg to_big_endian_64 transform_keys transform_values
    trim_array url_decode url_encode url_extract_fragment url_extract_host url_extract_parameter
    url_extract_path url_extract_port url_extract_protocol url_extract_query word_stem
    xxhash64 zip zip_with array_sort array_max array_min array_remove array_intersect
    array_except levenshtein_distance format typeof date_add date_diff date_trunc date_format
    date_parse from_unixtime to_unixtime current_date current_timestamp now year month day
    hour minute second json_extract json_extract_scalar json_parse json_format md5 sha256
    to_hex from_hex to_utf8 from_utf8 chr rand random uuid shuffle repeat array_sum
    concat_ws position log2 log10 ln mod truncate pi soundex normalize kurtosis skewness
    corr covar_samp covar_pop listagg map_from_entries regexp_count regexp_split
    regexp_position to_base64 from_base64 bitwise_and bitwise_or bitwise_xor bitwise_not""".split()
)


def _position(sql: str, name: str) -> str:
    """``line L:C`` of the first call of function ``name`` in ``sql`` (1-based, like Trino)."""
    masked = mask_literals(sql)
    m = re.search(rf"(?<![\w.\"]){re.escape(name)}\s*\(", masked, re.IGNORECASE)
    offset = m.start() if m else 0
    return line_col(sql, offset)


def line_col(sql: str, offset: int) -> str:
    """``line L:C`` of character ``offset`` in ``sql``."""
    line = sql.count("\n", 0, offset) + 1
    col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}:{col}"


def quoted_end(sql: str, start: int) -> int:
    """Offset of the quote closing the literal or quoted name opened at ``sql[start]`` (a doubled
    quote inside is an escaped one, as in SQL), or ``len(sql)`` when it is never closed."""
    quote, j, n = sql[start], start + 1, len(sql)
    while j < n:
        if sql[j] == quote:
            if j + 1 < n and sql[j + 1] == quote:
                j += 2
                continue
            return j
        j += 1
    return n


def mask_literals(sql: str) -> str:
    """``sql`` with string literals and comments blanked out (same length)."""

    def blank(m: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    return re.sub(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", blank, sql, flags=re.DOTALL)


def find_identifier(sql: str, name: str) -> str:
    """``line L:C`` of the first mention of identifier ``name`` outside literals and comments."""
    masked = mask_literals(sql)
    m = re.search(rf'(?<![\w])"?{re.escape(name)}"?(?![\w])', masked, re.IGNORECASE)
    return line_col(sql, m.start() if m else 0)


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    text = node.sql(dialect="trino")
    m = re.match(r"\s*([A-Za-z_][\w]*)\s*\(", text)
    return (m.group(1) if m else node.key).lower()


def check_and_rewrite_functions(tree: exp.Expression, sql: str) -> exp.Expression:
    """Apply the allow-list and the Trino rewrites to every function call in ``tree``.

    Raises:
        QueryFailed: FUNCTION_NOT_FOUND for names Trino does not know, NOT_SUPPORTED for Trino
            functions or arguments the local Athena does not implement.
    """
    # Deepest first, so that a handler sees rewritten arguments.
    nodes = [n for n in tree.walk(bfs=False)]
    for node in reversed(nodes):
        if isinstance(node, exp.Bracket):
            _rewrite_bracket(node)
            continue
        if isinstance(node, exp.Div):
            node.replace(_call("__trino_div", node.this, node.expression))
            continue
        if isinstance(node, exp.Mod):
            node.replace(_call("__trino_mod", node.this, node.expression))
            continue
        if not isinstance(node, exp.Func) or isinstance(node, exp.And | exp.Or):
            continue
        if isinstance(node, exp.Anonymous):
            name = str(node.name).lower()
            handler = _NAMED.get(name)
            if handler is None:
                if name in KNOWN_TRINO_FUNCTIONS:
                    raise QueryFailed(
                        f"NOT_SUPPORTED: {_position(sql, name)}: the local Athena does not implement function {name}"
                    )
                raise QueryFailed(
                    f"FUNCTION_NOT_FOUND: {_position(sql, name)}: Function '{name}' not registered"
                )
        else:
            handler = _TYPED.get(type(node))
            if handler is None:
                name = _function_name(node)
                raise QueryFailed(
                    f"NOT_SUPPORTED: {_position(sql, name)}: the local Athena does not implement function {name}"
                )
        replacement = handler(node)
        if replacement is not node:
            node.replace(replacement)
    return tree


def _rewrite_bracket(node: exp.Bracket) -> None:
    if len(node.expressions) != 1:
        raise QueryFailed("SYNTAX_ERROR: a subscript takes exactly one index")
    index = node.expressions[0]
    if node.args.get("safe"):  # element_at(x, k)
        node.replace(_call("__trino_element_at", node.this, index))
    else:
        node.replace(_call("__trino_subscript", node.this, index))


def rewrite_unnest(tree: exp.Expression) -> None:
    """``UNNEST(a, b, ...) [WITH ORDINALITY] AS t(c...)`` to a lateral ``SELECT unnest(...)``.

    One map argument gives two columns (key, value); several arrays are zipped, the shorter padded
    with NULL (Trino semantics); ``WITH ORDINALITY`` adds a 1-based bigint column.
    """
    for unnest in list(tree.find_all(exp.Unnest)):
        parent = unnest.parent
        if not isinstance(parent, exp.From | exp.Join):
            raise QueryFailed(
                "NOT_SUPPORTED: the local Athena supports UNNEST in FROM and JOIN only"
            )
        alias = unnest.args.get("alias")
        columns = [c.name for c in alias.columns] if alias is not None else []
        table_name = alias.name if alias is not None and alias.name else "_unnest"
        args = list(unnest.expressions)
        ordinality = unnest.args.get("offset") or None
        projections: list[exp.Expression] = []
        if len(args) == 1 and len(columns) == 2:
            arg = args[0]
            projections.append(_unnest_col(_call("map_keys", arg.copy()), columns[0]))
            projections.append(_unnest_col(_call("map_values", arg.copy()), columns[1]))
            lengths = [_call("cardinality", arg.copy())]
        else:
            if len(columns) > len(args):
                raise QueryFailed(
                    "NOT_SUPPORTED: the local Athena does not implement UNNEST of arrays of ROW into columns"
                )
            for i, arg in enumerate(args):
                projections.append(
                    _unnest_col(arg.copy(), columns[i] if i < len(columns) else None)
                )
            lengths = [
                _call("coalesce", _call("cardinality", a.copy()), exp.Literal.number(0))
                for a in args
            ]
        if ordinality is not None:
            longest = lengths[0] if len(lengths) == 1 else _call("greatest", *lengths)
            series = _call("generate_series", exp.Literal.number(1), exp.cast(longest, "BIGINT"))
            name = ordinality.name if isinstance(ordinality, exp.Identifier) else "ordinality"
            projections.append(_unnest_col(series, name))
        select = exp.Select(expressions=projections)
        subquery = exp.Subquery(
            this=select, alias=exp.TableAlias(this=exp.to_identifier(table_name, quoted=True))
        )
        unnest.replace(subquery)  # DuckDB binds a correlated subquery in FROM/JOIN laterally


def _unnest_col(arg: exp.Expression, name: str | None) -> exp.Expression:
    call = _call("unnest", arg)
    return exp.alias_(call, name, quoted=True) if name else call


def install(con: Any) -> None:
    """Set Trino-compatible options and create the ``__trino_*`` macros on a DuckDB connection."""
    con.execute("SET integer_division = true")
    con.execute("SET default_null_order = 'nulls_last'")
    for macro in MACROS + _OR_NULL_MACROS:
        con.execute(macro)
