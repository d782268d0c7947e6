"""IAM documents are built in one place: ``omics_toolkit/provisioning/iam.py``.

A policy statement is a dict with an ``"Effect"`` key; no other provisioning module may write one
(as a dict display or ``dict(Effect=...)``), so trust, identity and resource policies stay
together, built by the pure functions of :mod:`omics_toolkit.provisioning.iam`.
"""

import ast
from pathlib import Path

import omics_toolkit.provisioning

PACKAGE = Path(omics_toolkit.provisioning.__file__).parent
HOME = PACKAGE / "iam.py"


def _statement_literals(path: Path) -> list[int]:
    """Lines of ``path`` where a dict with an ``"Effect"`` key is written."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Dict) and any(
            isinstance(key, ast.Constant) and key.value == "Effect" for key in node.keys
        ):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "dict"
            and any(kw.arg == "Effect" for kw in node.keywords)
        ):
            lines.append(node.lineno)
    return lines


def test_only_iam_module_writes_policy_statements() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert HOME in modules
    offenders = {
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in modules
        if path != HOME
        for line in _statement_literals(path)
    }
    assert not offenders, f"policy statements outside iam.py: {sorted(offenders)}"


def test_the_check_sees_the_statements_of_iam_module() -> None:
    assert _statement_literals(HOME), "iam.py builds the statements: the check must find them"
