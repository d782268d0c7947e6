"""Dependencies among the provisioning modules point one way: core <- areas <- apply/plan/teardown."""

import ast
from pathlib import Path

import omics_toolkit.provisioning

PACKAGE = Path(omics_toolkit.provisioning.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
#: Modules that run the steps; no step module may import them.
ENTRY_POINTS = {"provision", "plan", "teardown"}


def _imports(module: str) -> set[str]:
    """Provisioning modules ``module`` imports, ``if TYPE_CHECKING:`` blocks included."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "omics_toolkit.provisioning":
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("omics_toolkit.provisioning."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("omics_toolkit.provisioning."):
                    found.add(alias.name.split(".")[2])
    return (found & set(MODULES)) - {module}


GRAPH = {m: _imports(m) for m in MODULES}


def test_no_import_cycle_among_provisioning_modules() -> None:
    def visit(module: str, path: list[str]) -> None:
        for dep in sorted(GRAPH[module]):
            assert dep not in path, " -> ".join([*path, dep])
            visit(dep, [*path, dep])

    for module in MODULES:
        visit(module, [module])


def test_core_and_renderer_import_no_other_provisioning_module() -> None:
    assert GRAPH["core"] == set()
    assert GRAPH["statemachine"] == set()


def test_step_modules_never_import_the_entry_points() -> None:
    for module in set(MODULES) - ENTRY_POINTS:
        assert not GRAPH[module] & ENTRY_POINTS, module
    assert "provision" not in GRAPH["teardown"]
