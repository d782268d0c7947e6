import io
import zipfile

import pytest

from omics_toolkit.errors import ConfigError, UserError
from omics_toolkit.identity import Names
from omics_toolkit.provisioning.packaging import LAMBDAS_DIR, code_sha256, lambda_zip
from omics_toolkit.provisioning.provision import FUNCTIONS


def test_names_are_prefixed_and_valid():
    n = Names("dev", "123456789012", "eu-west-1")
    assert n.input_bucket == "dev-input-123456789012-eu-west-1"
    assert n.variant_store == "dev_variants"
    assert len(n.output_bucket) <= 63
    with pytest.raises(ConfigError, match="deployment name"):
        Names("Bad_Name", "1", "r")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_lambda_zip_is_reproducible_and_holds_only_the_handler(function):
    a, b = lambda_zip(function), lambda_zip(function)
    assert a == b and code_sha256(a) == code_sha256(b)
    names = zipfile.ZipFile(io.BytesIO(a)).namelist()
    source = LAMBDAS_DIR / function
    expected = sorted(
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    assert names == expected and "app.py" in names
    # the toolkit comes from the layer, never copied into a function
    assert not any(n.startswith("omics_toolkit") for n in names)


def test_lambda_zip_unknown_function():
    with pytest.raises(UserError, match="no Lambda handler"):
        lambda_zip("no_such_function")
