import io
import zipfile

import pytest

from omics_toolkit.errors import ConfigError, UserError
from omics_toolkit.identity import Names, bucket_name_problem, table_bucket_name_problem
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


ACCOUNT = "123456789012"


def _regions():
    import botocore.session

    session = botocore.session.get_session()
    return sorted(
        {
            r
            for p in session.get_available_partitions()
            for r in session.get_available_regions("s3", p)
        }
    )


def test_bucket_names_fit_s3_rules_for_the_longest_deployment_in_every_region():
    # 32 characters in eu-central-1 used to give a 65-character input bucket name
    deployment = "d" * 32
    seen = set()
    for region in _regions():
        n = Names(deployment, ACCOUNT, region)
        for bucket in (n.input_bucket, n.output_bucket):
            assert bucket_name_problem(bucket) is None, (region, bucket)
            assert len(bucket) <= 63
            assert ACCOUNT in bucket
        seen.add((n.input_bucket, n.output_bucket))
    # unique per account and region: no two regions share a name
    assert len(seen) == len(_regions())


def test_names_that_fit_today_are_kept_and_only_too_long_ones_change():
    # 30 characters in eu-central-1: input 62, output 63: both keep the spelled-out form
    kept = Names("a" * 30, ACCOUNT, "eu-central-1")
    assert kept.input_bucket == f"{'a' * 30}-input-{ACCOUNT}-eu-central-1"
    assert kept.output_bucket == f"{'a' * 30}-output-{ACCOUNT}-eu-central-1"
    longer = Names("a" * 32, ACCOUNT, "eu-central-1")
    assert longer.input_bucket == f"{'a' * 32}-input-{ACCOUNT}-bfec3957"
    assert len(longer.output_bucket) == 32 + len("-output-") + 12 + 1 + 8


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "3-63"),
        ("a" * 64, "3-63"),
        ("Upper", "lowercase"),
        ("a_b", "lowercase"),
        ("-ab", "beginning and ending"),
        ("a..b", "adjacent periods"),
        ("192.168.5.4", "IP address"),
        ("xn--abc", "'xn--'"),
        ("sthree-abc", "'sthree-'"),
        ("amzn-s3-demo-abc", "'amzn-s3-demo-'"),
        ("abc-s3alias", "'-s3alias'"),
        ("abc--ol-s3", "'--ol-s3'"),
        ("abc.mrap", "'.mrap'"),
        ("abc--x-s3", "'--x-s3'"),
        ("abc--table-s3", "'--table-s3'"),
    ],
)
def test_bucket_name_rules(name, problem):
    assert problem in bucket_name_problem(name)


def test_valid_bucket_names():
    for name in ("abc", "a" * 63, "my.bucket-1", "1.2.3", "dev-input-123456789012-us-east-1"):
        assert bucket_name_problem(name) is None, name


def test_table_bucket_rules():
    assert table_bucket_name_problem("dev-tables") is None
    assert "'aws'" in table_bucket_name_problem("awsdev-tables")
    assert "letters, digits and '-'" in table_bucket_name_problem("dev.tables")
    assert "3-63" in table_bucket_name_problem("a" * 64)


def test_table_bucket_of_an_aws_prefixed_deployment_is_a_clear_error():
    n = Names("aws-dev", ACCOUNT, "us-east-1")
    assert n.input_bucket.startswith("aws-dev-input-")  # general purpose buckets are fine
    with pytest.raises(ConfigError, match="S3 table bucket name 'aws-dev-tables'.*'aws'"):
        _ = n.table_bucket
    with pytest.raises(ConfigError, match="'aws'"):
        _ = n.table_namespace


@pytest.mark.parametrize("deployment", ["xn--dev", "sthree-dev", "amzn-s3-demo-dev"])
def test_deployment_names_with_reserved_bucket_prefixes_are_refused(deployment):
    with pytest.raises(ConfigError, match="S3 reserves that prefix"):
        Names(deployment, ACCOUNT, "us-east-1")
