import io
import zipfile

import pytest

from omics_toolkit.errors import ConfigError
from omics_toolkit.provisioning.names import Names
from omics_toolkit.provisioning.packaging import code_sha256, lambda_zip
from omics_toolkit.provisioning.provision import FUNCTIONS


def test_names_are_prefixed_and_valid():
    n = Names("dev", "123456789012", "eu-west-1")
    assert n.input_bucket == "dev-input-123456789012-eu-west-1"
    assert n.variant_store == "dev_variants"
    assert len(n.output_bucket) <= 63
    with pytest.raises(ConfigError, match="deployment name"):
        Names("Bad_Name", "1", "r")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_lambda_zip_is_reproducible_and_self_contained(function):
    a, b = lambda_zip(function), lambda_zip(function)
    assert a == b and code_sha256(a) == code_sha256(b)
    names = zipfile.ZipFile(io.BytesIO(a)).namelist()
    assert "app.py" in names
    assert "omics_toolkit/pipeline/trigger.py" in names
    assert not any(
        n.startswith(("omics_toolkit/local/", "omics_toolkit/cli/", "omics_toolkit/provisioning/"))
        or n in ("omics_toolkit/query.py", "omics_toolkit/workflows.py")
        for n in names
    )
