"""Applications hold no numeric AVP codes (issue 12 point 4): they read and build AVPs by name, and the codes
come from dictionaries/. A static check of every module in ocs/apps."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ocs.diameter import codes

APPS = sorted((Path(__file__).resolve().parents[3] / "ocs" / "apps").glob("*.py"))
# the AVP code constants of ocs.diameter.codes: everything that is not a flag, id, command or result code
AVP_CODE_NAMES = {n for n, v in vars(codes).items() if n.isupper() and isinstance(v, int)
                  and not n.startswith(("FLAG_", "AVP_", "APP_", "CMD_", "DIAMETER_", "ADDRESS_FAMILY"))}


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "ocs.diameter.codes":
            found += [f"imports {a.name}" for a in node.names if a.name in AVP_CODE_NAMES]
        if isinstance(node, ast.ImportFrom) and node.module == "ocs.diameter":
            found += [f"imports the AVP constructors ({a.name})" for a in node.names if a.name == "avp"]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Avp":
            found.append(f"builds an Avp by code at line {node.lineno}")
    return found


def test_the_check_sees_codes():
    assert "ORIGIN_HOST" in AVP_CODE_NAMES and "DIAMETER_SUCCESS" not in AVP_CODE_NAMES
    assert violations("from ocs.diameter.codes import ORIGIN_HOST\nfrom ocs.diameter import avp\nAvp(1, 0, 0, b'')")
    assert not violations("from ocs.diameter.codes import DIAMETER_SUCCESS\nfrom ocs.diameter.avp import Avp\n")


@pytest.mark.parametrize("path", APPS, ids=lambda p: p.name)
def test_an_application_holds_no_avp_code(path: Path):
    assert not violations(path.read_text()), path.name
