from omics_toolkit.local.patches import guard, logs_kms


def test_moto_internals_the_patch_needs_exist():
    assert guard.check((logs_kms,)) is None
