"""The local Athena answers both wire protocols: AWS JSON 1.1 and REST-JSON.

botocore 1.44.14 moved Athena's model from the JSON protocol to REST-JSON. The same calls go
through a client of each protocol: the installed botocore's own, and one built from the same model
rewritten to the other protocol (what botocore up to 1.44.13 shipped: ``POST /`` with
``X-Amz-Target: AmazonAthena.<Operation>``). Every request is captured on its way out, which
proves the protocol each client spoke.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import Loader

from omics_toolkit.local.patches import athena_protocols

API_VERSION = "2017-05-18"


def _installed_model() -> dict[str, Any]:
    return Loader().load_service_model("athena", "service-2", API_VERSION)


def _as_json_protocol(model: dict[str, Any]) -> dict[str, Any]:
    """A REST-JSON Athena model rewritten to the JSON protocol (botocore <= 1.44.13's form)."""
    out = copy.deepcopy(model)
    meta = out["metadata"]
    meta.update(
        protocol="json",
        protocols=["json"],
        jsonVersion="1.1",
        targetPrefix=athena_protocols.JSON_TARGET_PREFIX,
    )
    for operation in out["operations"].values():
        operation["http"] = {"method": "POST", "requestUri": "/"}
    for shape in out["shapes"].values():
        for member in (shape.get("members") or {}).values():
            member.pop("location", None)
            member.pop("locationName", None)
    return out


def _protocol(model: dict[str, Any]) -> str:
    return str(model["metadata"]["protocol"])


def _client(local_stack: dict[str, Any], model: dict[str, Any] | None, tmp: Path) -> Any:
    session = botocore.session.get_session()
    if model is not None:
        folder = tmp / "athena" / API_VERSION
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "service-2.json").write_text(json.dumps(model))
        session = botocore.session.Session()
        session.get_component("data_loader").search_paths.insert(0, str(tmp))
    return boto3.Session(
        botocore_session=session,
        region_name=local_stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).client(
        "athena",
        endpoint_url=local_stack["moto"],
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def clients(
    local_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """``{"json": client, "rest-json": client}``: the installed one and its counterpart."""
    installed = _installed_model()
    found = {_protocol(installed): _client(local_stack, None, Path("."))}
    if _protocol(installed) == "rest-json":
        other = _as_json_protocol(installed)
        found["json"] = _client(local_stack, other, tmp_path_factory.mktemp("json-model"))
    return found


def _record(client: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def header(request: Any, name: str) -> str | None:
        value = request.headers.get(name)
        return value.decode() if isinstance(value, bytes) else value

    def before_send(request: Any, **_: Any) -> None:
        sent.append(
            {
                "method": request.method,
                "url": request.url,
                "target": header(request, "X-Amz-Target"),
                "content_type": header(request, "Content-Type"),
            }
        )

    client.meta.events.register("before-send.athena", before_send)
    return sent


@pytest.mark.parametrize("protocol", ["json", "rest-json"])
def test_the_same_calls_work_on_each_protocol(
    protocol: str, clients: dict[str, Any], aws: Any
) -> None:
    if protocol not in clients:
        pytest.skip(
            "the installed botocore's Athena model is JSON-only: no REST-JSON routes to serve"
        )
    client = clients[protocol]
    sent = _record(client)
    bucket = f"otk-protocols-{protocol}"
    aws.client("s3").create_bucket(Bucket=bucket)
    workgroup = f"wg-{protocol}-{uuid.uuid4().hex[:6]}"
    client.create_work_group(
        Name=workgroup,
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{bucket}/results/"}},
        Tags=[{"Key": "protocol", "Value": protocol}],
    )
    assert client.get_work_group(WorkGroup=workgroup)["WorkGroup"]["Name"] == workgroup
    names = [w["Name"] for w in client.list_work_groups()["WorkGroups"]]
    assert workgroup in names
    arn = f"arn:aws:athena:{aws.region}:{aws.account_id}:workgroup/{workgroup}"
    # an ARN with ':' and '/' as a URI label in REST-JSON
    tags = client.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert tags == [{"Key": "protocol", "Value": protocol}]

    qid = client.start_query_execution(
        QueryString="SELECT x, x * 2 AS y FROM (VALUES 1, 2, 3) AS t(x) ORDER BY x",
        WorkGroup=workgroup,
    )["QueryExecutionId"]
    status = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
    assert status["State"] == "SUCCEEDED", status
    # MaxResults is a querystring integer in REST-JSON
    first = client.get_query_results(QueryExecutionId=qid, MaxResults=2)
    rows = [[d.get("VarCharValue") for d in r["Data"]] for r in first["ResultSet"]["Rows"]]
    assert rows == [["x", "y"], ["1", "2"]]
    rest = client.get_query_results(QueryExecutionId=qid, NextToken=first["NextToken"])
    rows = [[d.get("VarCharValue") for d in r["Data"]] for r in rest["ResultSet"]["Rows"]]
    assert rows == [["2", "4"], ["3", "6"]]

    # a query that does not parse is refused with the model's error shape, AthenaErrorCode kept
    with pytest.raises(client.exceptions.InvalidRequestException) as refused:
        client.start_query_execution(QueryString="SELEC 1", WorkGroup=workgroup)
    assert refused.value.response["AthenaErrorCode"] == "MALFORMED_QUERY"
    assert refused.value.response["Error"]["Message"].startswith(
        "line 1:1: mismatched input 'SELEC'. Expecting: 'ALTER', "
    )
    failed = client.start_query_execution(QueryString="SELECT nope", WorkGroup=workgroup)
    status = client.get_query_execution(QueryExecutionId=failed["QueryExecutionId"])
    assert status["QueryExecution"]["Status"]["State"] == "FAILED"

    client.delete_work_group(WorkGroup=workgroup, RecursiveDeleteOption=True)

    # the proof of the protocol spoken: every request of this client had its wire form
    assert sent, "no request was captured"
    if protocol == "json":
        assert all(s["method"] == "POST" for s in sent), sent
        assert all(s["url"].rstrip("/") == aws_endpoint(client) for s in sent), sent
        assert all(str(s["target"]).startswith("AmazonAthena.") for s in sent), sent
        assert {s["content_type"] for s in sent} == {"application/x-amz-json-1.1"}
    else:
        assert all(s["target"] is None for s in sent), sent
        paths = {s["method"] + " " + s["url"][len(aws_endpoint(client)) :] for s in sent}
        assert f"GET /workgroups/{workgroup}" in paths
        assert "POST /query-executions" in paths
        assert f"DELETE /workgroups/{workgroup}?RecursiveDeleteOption=true" in paths


def aws_endpoint(client: Any) -> str:
    return str(client.meta.endpoint_url).rstrip("/")


@pytest.mark.parametrize("protocol", ["json", "rest-json"])
def test_errors_carry_the_model_error_shape(protocol: str, clients: dict[str, Any]) -> None:
    if protocol not in clients:
        pytest.skip("the installed botocore's Athena model is JSON-only")
    client = clients[protocol]
    with pytest.raises(ClientError) as missing_wg:
        client.get_work_group(WorkGroup="no-such-workgroup")
    error = missing_wg.value.response["Error"]
    assert error["Code"] == "InvalidRequestException"
    assert error["Message"] == "WorkGroup no-such-workgroup is not found."
    assert missing_wg.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    with pytest.raises(ClientError) as missing_qe:
        client.get_query_execution(QueryExecutionId="00000000-0000-0000-0000-000000000000")
    error = missing_qe.value.response["Error"]
    assert error["Code"] == "InvalidRequestException"
    assert "was not found" in error["Message"]

    with pytest.raises(ClientError) as bad_page:
        client.get_query_results(QueryExecutionId="x", MaxResults=1)
    assert bad_page.value.response["Error"]["Code"] == "InvalidRequestException"


def test_unrouted_rest_request_is_an_unknown_operation(local_stack: dict[str, Any]) -> None:
    """A path no operation has answers 404 UnknownOperationException, not moto's HTML page."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = local_stack["moto"] + "/no-such-thing"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("testing", "testing"), "athena", local_stack["region"]).add_auth(request)
    prepared = request.prepare()
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(
            urllib.request.Request(url, headers=dict(prepared.headers), method="GET"), timeout=10
        )
    assert answer.value.code == 404
    assert answer.value.headers["X-Amzn-ErrorType"] == "UnknownOperationException"
    expected = (
        "no Athena operation is GET /no-such-thing"
        if athena_protocols.routes()
        else "the installed botocore's Athena model speaks the JSON protocol only"
    )
    assert expected in answer.value.read().decode()


def test_routes_come_from_the_model() -> None:
    model = _installed_model()
    routes = athena_protocols.routes()
    if _protocol(model) != "rest-json":
        assert routes == ()
        return
    assert {r.operation for r in routes} == set(model["operations"])
    assert athena_protocols.match_route("GET", "/workgroups/wg1") == (
        "GetWorkGroup",
        {"WorkGroup": "wg1"},
    )
    assert athena_protocols.match_route("GET", "/workgroups/wg1/notebooks") is None or (
        athena_protocols.match_route("GET", "/workgroups/wg1/notebooks")[0]  # type: ignore[index]
        != "GetWorkGroup"
    )
    assert athena_protocols.match_route("POST", "/query-executions/q1/stop") == (
        "StopQueryExecution",
        {"QueryExecutionId": "q1"},
    )
