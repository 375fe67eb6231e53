"""The pure core imports no I/O framework (DESIGN §2): a static check of every module's imports with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = ["ocs/diameter", "ocs/charging", "ocs/policy", "ocs/apps", "auc", "ocs/config.py", "ocs/sealing.py",
        "ocs/provisioning.py"]
FORBIDDEN = {"asyncio", "redis", "asyncpg", "structlog", "click", "uvloop"}


def pure_modules() -> list[Path]:
    files: list[Path] = []
    for entry in PURE:
        path = ROOT / entry
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.is_file():
            files.append(path)
    return files


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):  # every import, also those inside functions and TYPE_CHECKING blocks
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_there_are_pure_modules_to_check():
    assert (ROOT / "ocs" / "config.py") in pure_modules()


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io_framework(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = imported_roots(tree) & FORBIDDEN
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}; pure modules must not (DESIGN §2)"


def test_the_check_sees_imports():
    tree = ast.parse("import redis.asyncio\nfrom asyncio import sleep\nfrom . import codes\n"
                     "def f():\n    import click\n")
    assert imported_roots(tree) == {"redis", "asyncio", "click"}
