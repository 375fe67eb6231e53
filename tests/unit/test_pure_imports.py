"""The pure core imports no I/O framework (DESIGN §2).

Two checks: a static one of every module's own imports with `ast` (also imports inside functions), and a
dynamic one that imports each pure package and every module in it in a fresh interpreter and looks at
`sys.modules`, which catches an I/O framework pulled in transitively through another package.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = ["ocs/diameter", "ocs/charging", "ocs/subscribers", "ocs/policy", "ocs/apps", "auc", "ocs/config", "radius",
        "ocs/sealing.py", "ocs/provisioning.py"]
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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):  # every import, also those inside functions and TYPE_CHECKING blocks
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def loaded_roots(*modules: str) -> set[str]:
    """The top-level packages in sys.modules after importing `modules` in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _PROBE, *modules], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return set(json.loads(out.stdout))


def package_modules(entry: str) -> list[str]:
    path = ROOT / entry
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
    return [module_name(f) for f in files]


def test_there_are_pure_modules_to_check():
    names = {module_name(p) for p in pure_modules()}
    assert {"ocs.config", "ocs.subscribers", "ocs.apps.dispatch", "ocs.diameter.validate"} <= names


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io_framework(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = imported_roots(tree) & FORBIDDEN
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}; pure modules must not (DESIGN §2)"


@pytest.mark.parametrize("entry", [e for e in PURE if (ROOT / e).exists()])
def test_pure_package_loads_no_io_framework_transitively(entry: str):
    """Each pure package, with every module in it, imported in a fresh interpreter."""
    modules = package_modules(entry)
    assert modules
    bad = loaded_roots(*modules) & FORBIDDEN
    assert not bad, f"importing {entry} loads {sorted(bad)}; pure packages must not, even transitively"


def test_the_check_sees_imports():
    tree = ast.parse("import redis.asyncio\nfrom asyncio import sleep\nfrom . import codes\n"
                     "def f():\n    import click\n")
    assert imported_roots(tree) == {"redis", "asyncio", "click"}


def test_the_fresh_interpreter_check_sees_transitive_imports():
    # ocs.store.redis_client is not pure: the probe must see what it pulls in
    assert {"asyncio", "redis"} <= loaded_roots("ocs.store.redis_client")
