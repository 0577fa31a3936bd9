"""The layering rule of the package docstring, checked: imports point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import connector

PACKAGE = Path(connector.__file__).parent
CORE = {"model", "policy", "plan", "units", "tree", "errors"}
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
