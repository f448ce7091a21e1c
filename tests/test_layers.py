"""Each package imports only what its docstring says: data flows one way, config ->
inputs -> plan -> state -> mail -> state, and nothing imports the CLI or the service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support.project import ROOT

PACKAGE = ROOT / "advisory"
# What each part of `advisory` may import of the others (errors: the one tree, for all).
ALLOWED = {
    "domain": set(),
    "errors": set(),
    "logs": {"domain"},
    "extract": {"domain"},
    "inputs": {"domain", "errors"},
    "state": {"domain", "errors"},
    "mail": {"domain", "errors", "inputs"},
    "publishers": {"domain", "errors", "inputs", "state"},
    "run": {"domain", "errors", "inputs", "mail", "publishers", "state"},
    "service": {"domain", "errors", "inputs", "logs", "mail", "publishers", "run", "state"},
}


def imported(path: Path) -> set[str]:
    """The parts of `advisory` a module imports (`advisory.run.plan` -> `run`)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = (
                [node.module]
                if node.module != "advisory"
                else [f"advisory.{alias.name}" for alias in node.names]
            )
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        out |= {name.split(".")[1] for name in names if name.startswith("advisory.")}
    return out


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_what_it_may(part: str) -> None:
    files = (
        sorted((PACKAGE / part).rglob("*.py"))
        if (PACKAGE / part).is_dir()
        else [PACKAGE / f"{part}.py"]
    )
    assert files
    for path in files:
        wrong = imported(path) - ALLOWED[part] - {part} - {"__version__"}  # (a constant)
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


@pytest.mark.parametrize("package", sorted(p.name for p in PACKAGE.iterdir() if p.is_dir()
                                           and p.name != "__pycache__"))  # fmt: skip
def test_every_package_says_what_it_holds_and_must_not_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert doc and "import" in doc.lower(), f"advisory/{package}/__init__.py"
