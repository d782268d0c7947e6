"""`omics-toolkit workflows register|list|lint` as a user runs them, on the local stack.

One deployment (``ft-wf``, provisioned once for the module with the default bcftools-germline
workflow and no variant store) receives gatk-germline by ``workflows register``: first the
workflow, then nothing for the same content, then a version for changed content (a copy of the
workflows directory named by ``OMICS_TOOLKIT_WORKFLOWS_DIR``).
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.identity import DIGEST_TAG
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.teardown import Teardown
from omics_toolkit.workflows import (
    WORKFLOWS_DIR,
    WORKFLOWS_DIR_ENV,
    content_digest,
    package_workflow,
    parameter_template,
)

DEPLOYMENT = "ft-wf"
GATK = "gatk-germline"
#: A 2-contig reference: enough for the reference store; no run is started here.
REFERENCE = ">chrA\n" + "ACGTTGCA" * 40 + "\n>chrB\n" + "TTGACCAG" * 30 + "\n"


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def _json(*args: str, **env: str) -> Any:
    result = _cli("--json", "-d", DEPLOYMENT, "workflows", *args, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@dataclass
class Registered:
    """The deployment and what each ``workflows register`` answered, in order."""

    ctx: Any
    pipeline_workflow_id: str
    first: dict[str, Any]
    again: dict[str, Any]
    changed: dict[str, Any]
    changed_again: dict[str, Any]
    changed_dir: Path
    listing: dict[str, Any]
    listing_text: str
    big: dict[str, Any]


@pytest.fixture(scope="module")
def registered(local_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("workflows-cli")
    reference = work / "ref.fa"
    reference.write_text(REFERENCE)
    settings = Settings(
        deployment=DEPLOYMENT,
        home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
        variant_backend="none",
        poll_interval_seconds=1,
    )
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    dep = Provisioner(ctx, settings).apply(str(reference))

    try:
        first = _json("register", GATK)
        again = _json("register", GATK)

        changed_dir = work / "workflows"
        shutil.copytree(WORKFLOWS_DIR, changed_dir)
        main = changed_dir / GATK / "main.wdl"
        main.write_text(
            main.read_text().replace("Int scatter_count = 24", "Int scatter_count = 12")
        )
        env = {WORKFLOWS_DIR_ENV: str(changed_dir)}
        changed = _json("register", GATK, **env)
        changed_again = _json("register", GATK, **env)

        # A workflow whose zip is past the 4.4 MB definitionZip limit: an imported file padded
        # with incompressible comments.
        big_dir = changed_dir / "big"
        big_dir.mkdir()
        (big_dir / "main.wdl").write_text(
            'version 1.0\nimport "padding.wdl" as padding\n'
            "workflow Big {\n  input { String word }\n"
            "  call padding.Echo { input: word = word }\n}\n"
        )
        noise = base64.b64encode(random.Random(6).randbytes(4_800_000)).decode()
        comments = "\n".join("# " + noise[i : i + 96] for i in range(0, len(noise), 96))
        (big_dir / "padding.wdl").write_text(
            "version 1.0\n" + comments + "\ntask Echo {\n  input { String word }\n"
            '  command <<<\n    echo "~{word}"\n  >>>\n'
            '  runtime { docker: "quay.io/biocontainers/samtools:1.19--h50ea8bc_0" }\n}\n'
        )
        big = _json("register", "big", **env)

        listing = _json("list")
        text = _cli("-d", DEPLOYMENT, "workflows", "list")
        assert text.returncode == 0, text.stderr
        yield Registered(
            ctx,
            str(dep.workflow_id),
            first,
            again,
            changed,
            changed_again,
            changed_dir,
            listing,
            text.stdout,
            big,
        )
    finally:
        # Teardown deletes every workflow of the deployment, versions first.
        Teardown(ctx, settings).run(force_delete_data=True)
        left = [
            w["name"]
            for page in ctx.client("omics").get_paginator("list_workflows").paginate()
            for w in page["items"]
            if w["name"].startswith(f"{DEPLOYMENT}-")
        ]
        assert left == [], left


def test_register_creates_the_workflow_from_the_shipped_wdl(registered: Registered) -> None:
    first = registered.first
    assert first["action"] == "create" and first["version"] is None
    assert first["name"] == f"{DEPLOYMENT}-{GATK}" and first["workflow"] == GATK
    assert first["zip_sha256"] == content_digest(package_workflow(WORKFLOWS_DIR / GATK))
    assert first["definition"] == "definitionZip"
    assert first["started_by_pipeline"] is False  # the pipeline still runs bcftools-germline

    omics = registered.ctx.client("omics")
    wf = omics.get_workflow(id=first["workflow_id"])
    assert wf["status"] == "ACTIVE" and wf["name"] == f"{DEPLOYMENT}-{GATK}"
    assert wf["parameterTemplate"] == parameter_template(WORKFLOWS_DIR / GATK / "main.wdl")
    mappings = wf["containerRegistryMap"]["registryMappings"]
    assert [m["upstreamRegistryUrl"] for m in mappings] == ["quay.io"]
    assert wf["tags"]["omics-toolkit:deployment"] == DEPLOYMENT
    assert re.fullmatch(r"[0-9a-f]{64}", wf["tags"][DIGEST_TAG])
    assert first["digest"] == wf["tags"][DIGEST_TAG]


def test_register_same_content_again_changes_nothing(registered: Registered) -> None:
    again = registered.again
    assert again["action"] == "unchanged" and again["version"] is None
    assert again["workflow_id"] == registered.first["workflow_id"]
    assert again["digest"] == registered.first["digest"]
    assert again["zip_sha256"] == registered.first["zip_sha256"]


def test_changed_wdl_becomes_a_new_version(registered: Registered) -> None:
    changed, first = registered.changed, registered.first
    assert changed["action"] == "create version"
    assert changed["workflow_id"] == first["workflow_id"]
    assert re.fullmatch(r"sha256-[0-9a-f]{16}", changed["version"])
    assert re.fullmatch(r"[0-9a-f]{64}", changed["digest"])
    assert changed["digest"].startswith(changed["version"].removeprefix("sha256-"))
    assert changed["zip_sha256"] != first["zip_sha256"]
    version = registered.ctx.client("omics").get_workflow_version(
        workflowId=changed["workflow_id"], versionName=changed["version"]
    )
    assert version["status"] == "ACTIVE"
    template = parameter_template(registered.changed_dir / GATK / "main.wdl")
    assert version["parameterTemplate"] == template

    again = registered.changed_again
    assert again["action"] == "unchanged"
    assert (again["workflow_id"], again["version"]) == (first["workflow_id"], changed["version"])


def test_list_shows_workflows_versions_and_what_the_pipeline_starts(
    registered: Registered,
) -> None:
    listing = registered.listing
    pipeline_id = registered.pipeline_workflow_id
    assert listing["pipeline"]["workflow_id"] == pipeline_id
    assert listing["pipeline"]["version"] is None
    workflows = [w for w in listing["workflows"] if w["workflow"] != "big"]
    rows = [(w["workflow"], w["workflow_id"], w["version"]) for w in workflows]
    gatk_id, version = registered.first["workflow_id"], registered.changed["version"]
    assert rows == [
        ("bcftools-germline", pipeline_id, None),
        (GATK, gatk_id, None),
        (GATK, gatk_id, version),
    ]
    assert [w["pipeline"] for w in workflows] == [True, False, False]
    assert {w["status"] for w in listing["workflows"]} == {"ACTIVE"}
    assert all(w["created"] for w in listing["workflows"])
    assert workflows[1]["digest"] == registered.first["digest"]
    assert workflows[2]["digest"] == registered.changed["digest"]

    text = registered.listing_text
    assert gatk_id in text and version in text and "runs" in text


def test_register_errors_say_what_to_fix(local_stack: dict[str, Any]) -> None:
    unknown = _cli("-d", DEPLOYMENT, "workflows", "register", "no-such-workflow")
    assert unknown.returncode == 1
    assert "unknown workflow 'no-such-workflow'" in unknown.stderr and GATK in unknown.stderr
    missing = _cli("-d", "ft-wf-absent", "workflows", "register", GATK)
    assert missing.returncode == 1
    assert "run `omics-toolkit -d ft-wf-absent provision`" in missing.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr


def test_lint_exit_status(tmp_path: Path) -> None:
    ok = _cli("workflows", "lint")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "bcftools-germline/main.wdl" in ok.stdout and "gatk-germline/main.wdl" in ok.stdout

    broken = tmp_path / GATK
    shutil.copytree(WORKFLOWS_DIR / GATK, broken)
    tasks = broken / "tasks" / "gatk.wdl"
    tasks.write_text(tasks.read_text().replace("File dict = ", "File dict_typo = ", 1))
    failed = _cli("workflows", "lint", str(broken))
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "main.wdl" in failed.stdout and "dict" in failed.stdout


def test_a_workflow_past_4_4_mb_goes_through_s3(registered: Registered) -> None:
    big = registered.big
    assert big["definition"] == "definitionUri", big
    omics = registered.ctx.client("omics")
    wf = omics.get_workflow(id=big["workflow_id"])
    assert wf["status"] == "ACTIVE"
    assert wf["definition"].startswith(f"s3://{DEPLOYMENT}-output-"), wf["definition"]
    bucket, key = wf["definition"][len("s3://") :].split("/", 1)
    size = registered.ctx.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"]
    assert size > 4_400_000
