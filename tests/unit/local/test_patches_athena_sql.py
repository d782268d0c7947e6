"""Guards for the moto names patched by omics_toolkit.local.patches.athena_sql (moto 5.2.x)."""

from __future__ import annotations

import inspect

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
