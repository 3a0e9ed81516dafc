"""shared/ is used by every service and so may import none of them."""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "src" / "shared"
SERVICES = {p.name for p in (SHARED.parents[2] / "services").iterdir() if p.is_dir()}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_services_are_known() -> None:
    assert {"identity", "diary", "reminders", "outcomes"} == SERVICES


def test_shared_imports_no_service() -> None:
    offenders = {
        str(path.relative_to(SHARED)): sorted(_imported_roots(path) & SERVICES)
        for path in SHARED.rglob("*.py")
        if _imported_roots(path) & SERVICES
    }
    assert offenders == {}


def test_shared_names_no_service_module_in_strings() -> None:
    """Dotted paths in settings strings would import a service at run time just the same."""
    offenders = []
    for path in SHARED.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                head = node.value.split(".")[0]
                if head in SERVICES and "." in node.value and " " not in node.value:
                    offenders.append(f"{path.relative_to(SHARED)}: {node.value}")
    assert offenders == []
