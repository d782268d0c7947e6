import pytest

from omics_toolkit.local.patches import guard, s3_bucket_names


def test_moto_internals_the_patch_needs_exist():
    assert guard.check((s3_bucket_names,)) is None


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("abc", True),
        ("my.bucket-1", True),
        ("a" * 63, True),
        ("ab", False),
        ("a" * 64, False),
        ("Upper", False),
        ("a_b", False),
        ("-ab", False),
        ("ab-", False),
        ("a..b", False),
        ("192.168.5.4", False),
        ("xn--abc", False),
        ("sthree-abc", False),
        ("amzn-s3-demo-abc", False),
        ("abc-s3alias", False),
        ("abc--ol-s3", False),
        ("abc.mrap", False),
        ("abc--x-s3", False),
        ("abc--table-s3", False),
    ],
)
def test_general_purpose_rules(name, ok):
    assert s3_bucket_names.general_purpose_name_ok(name) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("dev-tables", True),
        ("a" * 64, False),  # moto's own check passes any length
        ("dev_tables", False),  # moto's own check allows '_'
        ("dev.tables", False),
        ("awsdev-tables", False),
        ("dev--table-s3", False),
        ("xn--dev", False),
    ],
)
def test_table_bucket_rules(name, ok):
    assert s3_bucket_names.table_bucket_name_ok(name) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("dev", True),
        ("a_b", True),
        ("a", True),
        ("aws_dev", False),
        ("", False),
        ("_a", False),
        ("a-b", False),
    ],
)
def test_namespace_rules(name, ok):
    assert s3_bucket_names.namespace_name_ok(name) is ok
