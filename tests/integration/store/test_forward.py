"""Requests of ours through the process holding the peer (ocs/services/forward.py), on the shared Redis and on
the test Redis Cluster: two forwarders in this process stand for two workers, each with its own connections."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from ocs.apps.s6a import make_clr
from ocs.diameter.message import Message
from ocs.services.forward import Forwarder
from ocs.services.lease import owner_id
from ocs.store.redis_client import RedisStore
from tests.integration.conftest import REDIS_URL
from tests.support.redis_cluster import delete_prefix, store_for_url

pytestmark = pytest.mark.asyncio


class Identity:
    origin_host = "ocsd.test"
    origin_realm = "test"


@pytest_asyncio.fixture(params=["redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RedisStore]:
    url = request.getfixturevalue("redis_cluster").url if request.param == "cluster" else REDIS_URL
    prefix = "ocsfwd-" + secrets.token_hex(4)
    s = store_for_url(url, prefix)
    await s.start()
    try:
        yield s
    finally:
        await s.close()
        delete_prefix(url, prefix)


async def test_a_request_reaches_the_peer_of_another_process_and_its_answer_comes_back(store: RedisStore) -> None:
    sent: list[tuple[str, Message]] = []

    async def nothing_here(peer: str, message: Message) -> Message:
        raise ConnectionError(f"peer {peer} is not open")

    async def holds_mme_b(peer: str, message: Message) -> Message:
        if peer != "mme-b.test":
            raise ConnectionError(f"peer {peer} is not open")
        sent.append((peer, message))
        return Message(message.command_code, message.application_id, flags=0, hop_by_hop=message.hop_by_hop,
                       end_to_end=message.end_to_end, avps=message.avps[:1])

    one = Forwarder(store, owner_id(1), nothing_here, timeout=5)
    two = Forwarder(store, owner_id(2), holds_mme_b, timeout=5)
    for f in (one, two):
        f.start()
    try:
        two.peer_changed("mme-b.test", True)
        await asyncio.sleep(0.2)  # the registration and both readers' first XREAD
        clr = make_clr(Identity(), "mme-b.test", "test", "001010000000001", "ocsd.test;clr;1")  # type: ignore[arg-type]
        answer: Any = await one.send("mme-b.test", clr)
        assert [p for p, _ in sent] == ["mme-b.test"]
        assert sent[0][1].encode() == clr.encode()  # the owner sent the very request
        assert answer.command_code == 317 and not answer.is_request
        with pytest.raises(ConnectionError):  # nobody holds this peer: refused at once, as a local send would
            await one.send("mme-x.test", clr)
        two.peer_changed("mme-b.test", False)
        await asyncio.sleep(0.1)
        with pytest.raises(ConnectionError):
            await one.send("mme-b.test", clr)
    finally:
        for f in (one, two):
            await f.stop()
