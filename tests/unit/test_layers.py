"""The layering rule of the package docstring, checked: imports point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import connector

PACKAGE = Path(connector.__file__).parent
CORE = {"model", "policy", "plan", "units", "tree", "errors", "acl", "lockinfo", "ber"}
ONLY_IMPORTER = {"ldap3": {"directory"}, "apscheduler": {"scheduler"},
                 "pydantic_settings": {"settings"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_pure_core_imports_no_adapter_and_no_io_library():
    for module in CORE:
        imports = _imports(PACKAGE / f"{module}.py")
        internal = {n.split(".")[1] for n in imports if n.startswith("connector.")}
        assert internal <= CORE, (module, internal - CORE)
        assert not imports & {"ldap3", "loguru", "apscheduler", "pydantic_settings", "click",
                              "subprocess", "socket"}, module


def test_each_external_library_has_one_importer():
    for path in PACKAGE.rglob("*.py"):
        module = path.stem
        roots = {n.split(".")[0] for n in _imports(path)}
        for library, allowed in ONLY_IMPORTER.items():
            if library in roots:
                assert module in allowed, f"{path.name} imports {library}"


LAYERS = [
    CORE,
    {"roster", "directory", "audit", "settings", "resources"},
    {"service", "bootstrap", "check", "runlock"},
    {"cli", "scheduler", "logs", "metrics", "render", "demo", "__main__", "__init__"},
]


def test_every_module_imports_only_from_its_layer_or_below():
    rank = {module: level for level, modules in enumerate(LAYERS) for module in modules}
    for path in PACKAGE.glob("*.py"):
        module = path.stem
        assert module in rank, f"{module} is in no layer: add it to LAYERS and the docstring"
        for name in _imports(path):
            if name.startswith("connector.") and not name.startswith("connector.testing"):
                target = name.split(".")[1]
                assert rank[target] <= rank[module], f"{module} ({rank[module]}) imports " \
                                                     f"{target} ({rank[target]})"
