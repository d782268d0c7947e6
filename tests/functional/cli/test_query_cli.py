"""`omics-toolkit query` as a user types it, on the local stack, over both variant back ends.

Athena's answers a user sees: a query that does not parse is refused by StartQueryExecution
(``InvalidRequestException``, ``MALFORMED_QUERY``) with Trino's ``line L:C: mismatched input``
message; an unknown column or table FAILS with Athena v3's wording and error type; either is one
``error:`` line and exit status 1, no traceback. QUAL and GL come back as the VCF wrote them
(``110.415``, not the float32 htslib holds, ``110.41500091552734``) in table, CSV and JSON output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.data import fetch_demo_data

#: Two records on the demo reference's contig ``q`` (REF as in the reference: POS 1 G, POS 4 T),
#: QUAL and GL with decimals a float32 cannot hold exactly.
VCF = """##fileformat=VCFv4.2
##contig=<ID=q,length=16569>
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=GL,Number=G,Type=Float,Description="Genotype likelihoods">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
q\t1\t.\tG\tA\t110.415\tPASS\tDP=10\tGT:GL\t0/1:-20.1,0,-18.3
q\t4\t.\tT\tC\t29.7\tPASS\tDP=5\tGT:GL\t1/1:-40.07,-4.5,0
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    # a wide COLUMNS so that a long line is never wrapped by the console, whatever its default
    env = {**os.environ, "COLUMNS": "10000"}
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _import_into_store(aws: Any, names: Any, vcf: Path) -> None:
    s3, omics = aws.client("s3"), aws.client("omics")
    key = f"runs/query-cli/{vcf.name}"
    s3.upload_file(str(vcf), names.output_bucket, key)
    role = aws.client("iam").get_role(RoleName=names.role("omics-import"))["Role"]["Arn"]
    job = omics.start_variant_import_job(
        destinationName=names.variant_store,
        roleArn=role,
        items=[{"source": f"s3://{names.output_bucket}/{key}"}],
    )["jobId"]
    deadline = time.monotonic() + 300
    while (status := omics.get_variant_import_job(jobId=job))["status"] != "COMPLETED":
        assert status["status"] in ("SUBMITTED", "IN_PROGRESS"), status
        assert time.monotonic() < deadline, status
        time.sleep(0.5)


@pytest.fixture(scope="module", params=["stores", "s3tables"])
def deployment(
    request: pytest.FixtureRequest, aws: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Any]:
    """A provisioned deployment of each back end holding :data:`VCF`; ``(name, Names)``."""
    from omics_toolkit.config import Settings
    from omics_toolkit.provisioning.provision import Provisioner
    from omics_toolkit.provisioning.s3tables import find_table_bucket
    from omics_toolkit.tables.loader import load_variants

    kind = request.param
    name = f"qcli-{kind}"
    settings = Settings(
        deployment=name, home=Path(os.environ["OMICS_TOOLKIT_HOME"]), variant_backend=kind
    )
    prov = Provisioner(aws, settings)
    dep = prov.apply(str(fetch_demo_data().reference))
    vcf = tmp_path_factory.mktemp(name) / "calls.vcf"
    vcf.write_text(VCF)
    if kind == "stores":
        _import_into_store(aws, dep.names, vcf)
    else:
        arn = find_table_bucket(prov)
        assert arn
        load_variants(aws, arn, dep.names.table_namespace, str(vcf), "query-cli")
    return name, dep.names


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: query failed: "), lines
    return lines[0]


def test_syntax_error_is_athenas_mismatched_input(deployment: tuple[str, Any]) -> None:
    name, _ = deployment
    line = _one_error_line(_cli("-d", name, "query", "SELEC * FROM variants"))
    assert line.startswith(
        "error: query failed: line 1:1: mismatched input 'SELEC'. Expecting: 'ALTER', "
    ), line
    assert line.endswith(", <query> (Athena InvalidRequestException MALFORMED_QUERY)"), line

    line = _one_error_line(_cli("-d", name, "query", "SELECT *\nFROM variants\nWHERE"))
    assert "query failed: line 3:6: mismatched input '<EOF>'. Expecting: <expression>" in line


def test_unknown_column_and_table_in_athenas_words(deployment: tuple[str, Any]) -> None:
    name, names = deployment
    line = _one_error_line(_cli("-d", name, "query", "SELECT no_such FROM variants"))
    assert line.startswith(
        "error: query failed: COLUMN_NOT_FOUND: line 1:8: Column 'no_such' cannot be resolved "
        "or requester is not authorized to access requested resources "
        "(Athena error type 1006, user error; query "
    ), line

    line = _one_error_line(_cli("-d", name, "query", "SELECT * FROM nope"))
    catalog = "awsdatacatalog" if name.endswith("stores") else names.athena_catalog.lower()
    database = names.glue_database if name.endswith("stores") else names.table_namespace
    assert (
        f"query failed: TABLE_NOT_FOUND: line 1:15: Table '{catalog}.{database}.nope' does not "
        "exist (Athena error type 1110, user error; query "
    ) in line, line


def test_qual_and_gl_as_the_vcf_wrote_them(deployment: tuple[str, Any]) -> None:
    name, _ = deployment
    sql = (
        "SELECT start, qual, element_at(genotypelikelihoods, 1) AS gl0 FROM variants ORDER BY start"
    )
    as_json = _cli("-d", name, "--json", "query", sql)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {"start": 0, "qual": 110.415, "gl0": -20.1},
        {"start": 3, "qual": 29.7, "gl0": -40.07},
    ]
    as_csv = _cli("-d", name, "query", "--format", "csv", sql)
    assert as_csv.returncode == 0, as_csv.stderr
    assert as_csv.stdout.splitlines() == ["start,qual,gl0", "0,110.415,-20.1", "3,29.7,-40.07"]
    as_table = _cli("-d", name, "query", sql)
    assert as_table.returncode == 0, as_table.stderr
    assert "110.415" in as_table.stdout and "-40.07" in as_table.stdout, as_table.stdout
    assert "110.41500" not in as_table.stdout + as_csv.stdout + as_json.stdout


def test_notebook_api_same_values_and_errors(deployment: tuple[str, Any], aws: Any) -> None:
    """The pandas API (UNLOAD to Parquet): QUAL as written; errors at the user's positions."""
    from omics_toolkit import api
    from omics_toolkit.config import Settings
    from omics_toolkit.errors import UserError

    name, _ = deployment
    settings = Settings(deployment=name, home=Path(os.environ["OMICS_TOOLKIT_HOME"]))
    df = api.query("SELECT start, qual FROM variants ORDER BY start", settings=settings, ctx=aws)
    assert df["qual"].tolist() == [110.415, 29.7]

    with pytest.raises(UserError) as refused:
        api.query("SELEC * FROM variants", settings=settings, ctx=aws)
    assert str(refused.value).startswith(
        "query failed: line 1:1: mismatched input 'SELEC'. Expecting: '(', 'SELECT', "
    ), refused.value
    with pytest.raises(UserError) as failed:
        api.query("SELECT start,\n  no_such FROM variants", settings=settings, ctx=aws)
    assert str(failed.value).startswith(
        "query failed: COLUMN_NOT_FOUND: line 2:3: Column 'no_such' cannot be resolved"
    ), failed.value
    assert "(Athena error type 1006, user error; query " in str(failed.value)
