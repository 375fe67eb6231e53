"""The S6a application writes, byte for byte, the answers it wrote before its rewrite on typed messages.

tests/vectors/s6a_answers.json was made by the S6a module of commit e20f7d7 (AVP codes held in the module)
from the requests and in-memory collaborators of tests/support/s6a_golden.py: the wire must not change.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ocs.apps import s6a
from ocs.apps.dispatch import Context, Dispatch
from ocs.apps.s6a import ApnProfile, Identity, S6a
from ocs.diameter.message import Message
from tests.support.s6a_golden import CASES, FakeAuc, FakeRegs, request_for

GOLDEN = json.loads((Path(__file__).resolve().parents[2] / "vectors" / "s6a_answers.json").read_text())


def _app() -> S6a:
    return S6a(Identity("hss.test", "test"), FakeAuc(), FakeRegs(), allowed_plmns=frozenset({"00101"}),
               apn_profiles={"ims": ApnProfile("ims", qci=5, arp_priority=1)})


async def _unused(peer: str, message: Message) -> Message:
    raise AssertionError("no request is sent")


@pytest.mark.parametrize("case", sorted(CASES))
def test_answer_bytes_unchanged(case: str):
    kind, kwargs = CASES[case]
    app = _app()
    dispatch = Dispatch("hss.test", "test")
    dispatch.add(app)
    request = request_for(kind, **kwargs)  # type: ignore[arg-type]
    route = dispatch.route(request.application_id, request.command_code)
    assert route is not None
    result = dispatch.dispatch(route, request, Context("mme.test", "test", 1, _unused))
    answer = result if isinstance(result, Message) else asyncio.run(result)  # type: ignore[arg-type]
    assert answer.encode().hex() == GOLDEN[case]


def test_clr_bytes_unchanged():
    clr = s6a.make_clr(Identity("hss.test", "test"), "mme-old.test", "test", "001010000000001", "hss.test;1;1")
    assert clr.encode().hex() == GOLDEN["clr"]
