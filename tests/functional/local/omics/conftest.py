"""Fixtures: a real moto server and a HealthOmics emulator in a temporary state directory."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthomics_emulator.server import OmicsEmulator
from tests.support.omics_helpers import (  # noqa: F401 - fixtures and tests use them
    FASTA,
    ROLE,
    SERVICE_ROLE_POLICY,
    _client,
    create_service_role,
    wait_for,
    zip_wdl,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    mp = pytest.MonkeyPatch()
    mp.setenv("MOTO_PORT", str(port))
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
    mp.undo()


@pytest.fixture(scope="session")
def stack_service_role(local_stack: dict[str, Any]) -> str:
    """``ROLE`` in the moto of the real local stack, for the tests here that use it (``aws``)
    rather than this directory's own moto and emulator."""
    assert (
        create_service_role(local_stack["moto"], ROLE.rsplit("/", 1)[1], SERVICE_ROLE_POLICY)
        == ROLE
    )
    return ROLE


@pytest.fixture(scope="session")
def emulator(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OmicsEmulator]:
    assert create_service_role(moto_url, ROLE.rsplit("/", 1)[1], SERVICE_ROLE_POLICY) == ROLE
    emu = OmicsEmulator(tmp_path_factory.mktemp("omics-state"), moto_url)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def omics(emulator: OmicsEmulator) -> Any:
    return _client("omics", emulator.url)


@pytest.fixture(scope="session")
def s3(moto_url: str) -> Any:
    return _client("s3", moto_url)


@pytest.fixture(scope="session")
def glue(moto_url: str) -> Any:
    return _client("glue", moto_url)


def _service_client(service: str, url: str) -> Any:
    """A client acting in the emulator's HealthOmics service account (moto's account header)."""
    from healthomics_emulator.backend import MOTO_ACCOUNT_HEADER, SERVICE_ACCOUNT_ID

    client = _client(service, url)
    client.meta.events.register(
        "before-send",
        lambda request, **_: request.headers.__setitem__(MOTO_ACCOUNT_HEADER, SERVICE_ACCOUNT_ID),
    )
    return client


@pytest.fixture(scope="session")
def service_glue(moto_url: str) -> Any:
    """Glue of the HealthOmics service account, where the stores' databases live."""
    return _service_client("glue", moto_url)


@pytest.fixture(scope="session")
def service_ram(moto_url: str) -> Any:
    """RAM of the HealthOmics service account, which shares the stores' databases."""
    return _service_client("ram", moto_url)


@pytest.fixture(scope="session")
def logs(moto_url: str) -> Any:
    return _client("logs", moto_url)


@pytest.fixture(scope="session")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="omics-test")
    return "omics-test"


@pytest.fixture(scope="session")
def state_dir(emulator: OmicsEmulator) -> Path:
    return emulator.state_dir


@pytest.fixture(scope="session")
def reference(omics: Any, s3: Any, bucket: str) -> dict[str, Any]:
    """A reference store with one imported reference (contigs chr1 length 270, chr2 length 128)."""
    s3.put_object(Bucket=bucket, Key="ref/genome.fa", Body=FASTA.encode())
    store = omics.create_reference_store(name="refs")
    job = omics.start_reference_import_job(
        referenceStoreId=store["id"],
        roleArn=ROLE,
        sources=[{"sourceFile": f"s3://{bucket}/ref/genome.fa", "name": "genome"}],
    )
    done = wait_for(
        lambda: omics.get_reference_import_job(id=job["id"], referenceStoreId=store["id"]),
        "status",
        {"COMPLETED", "FAILED", "COMPLETED_WITH_FAILURES"},
    )
    assert done["status"] == "COMPLETED", done
    ref_id = done["sources"][0]["referenceId"]
    meta = omics.get_reference_metadata(referenceStoreId=store["id"], id=ref_id)
    return {"storeId": store["id"], "id": ref_id, "arn": meta["arn"]}


@pytest.fixture(scope="session")
def private_image(moto_url: str) -> str:
    """An image URI in this account's private ECR whose policy lets HealthOmics pull (as the
    emulator checks at run time); the task itself runs on the host."""
    ecr = _client("ecr", moto_url)
    name = "test/ubuntu"
    ecr.create_repository(repositoryName=name)
    ecr.set_repository_policy(
        repositoryName=name,
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "HealthOmicsPull",
                        "Effect": "Allow",
                        "Principal": {"Service": "omics.amazonaws.com"},
                        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    }
                ],
            }
        ),
    )
    return f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:22.04"
