import importlib
import inspect

import pytest

from omics_toolkit.local.patches import sfn_json_path


def test_patched_moto_symbol_exists_with_expected_signature():
    module_name, _, name = sfn_json_path.TARGET.rpartition(".")
    module = importlib.import_module(module_name)
    target = getattr(module, name, None)
    assert target is not None, (
        f"moto moved {sfn_json_path.TARGET}: update omics_toolkit/local/patches/sfn_json_path.py"
    )
    assert list(inspect.signature(target).parameters) == ["path", "data"]


@pytest.mark.parametrize(
    ("path", "definite"),
    [
        ("$.a[0].b", True),
        ("$.a.b", True),
        ("$", True),
        ("$.a[*].b", False),
        ("$.a[0:2]", False),
        ("$..b", False),
        ("$.a[?(@.x == 1)]", False),
        ("$.a[0,1]", False),
        ("$.a.*", False),
    ],
)
def test_definite_paths(path, definite):
    assert sfn_json_path.is_definite(path) is definite


def test_values_match_step_functions():
    sfn_json_path.apply()
    from moto.stepfunctions.parser.asl.utils import json_path

    data = {"s": [{"id": "1"}, {"id": "2"}]}
    assert json_path.extract_json("$.s[0].id", data) == "1"
    assert json_path.extract_json("$.s[*].id", data) == ["1", "2"]
    assert json_path.extract_json("$.s[1]", data) == {"id": "2"}
