"""RabbitMQ for the SMS tests: the machine's broker (OCSD_TEST_AMQP_URL, written by scripts/ensure-rabbitmq.sh)
with uniquely named exchanges and queues per test, and a private node (its own node name, ports and data
directory) that a test may stop and start without touching the shared broker."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import pytest

from ocs.config.sms import SmsConfig
from tests.support.daemon_process import free_port

AMQP_URL = os.environ.get("OCSD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def unique_config(url: str = AMQP_URL, **overrides: Any) -> SmsConfig:
    """An [sms] config whose exchanges and queues no other test (or helper) uses."""
    tag = secrets.token_hex(4)
    values: dict[str, Any] = dict(
        enabled=True, amqp_url=url, billing_exchange=f"billing-{tag}", messaging_exchange=f"messaging-{tag}",
        submit_queue=f"billing_service.submit_sm_resp-{tag}", dlr_queue=f"billing_service.dlr-{tag}",
        dead_letter_exchange=f"billing_service.dlx-{tag}", reconnect_interval=0.3, requeue_delay=0.1,
        default_plan="std", rate_limit=0)
    values.update(overrides)
    return SmsConfig(**values)


async def connect_or_skip(url: str = AMQP_URL) -> aio_pika.abc.AbstractConnection:
    try:
        return await aio_pika.connect(url, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPError) as e:
        pytest.skip(f"RabbitMQ not reachable at {url} ({type(e).__name__}); run scripts/ensure-services.sh")


async def delete_topology(url: str, c: SmsConfig) -> None:
    connection = await aio_pika.connect(url, timeout=5)
    try:
        channel = await connection.channel()
        for q in (c.submit_queue, c.dlr_queue, c.submit_queue + ".dlq", c.dlr_queue + ".dlq"):
            await channel.queue_delete(q)
        for x in (c.billing_exchange, c.messaging_exchange, c.dead_letter_exchange):
            await channel.exchange_delete(x)
    finally:
        await connection.close()


class Jasmin:
    """Publishes as Jasmin does: to its topic exchanges (declared like jasmin/routing/router.py)."""

    def __init__(self, connection: aio_pika.abc.AbstractConnection, config: SmsConfig) -> None:
        self.connection, self.config = connection, config
        self.channel: aio_pika.abc.AbstractChannel | None = None

    async def _exchange(self, name: str) -> aio_pika.abc.AbstractExchange:
        if self.channel is None or self.channel.is_closed:
            self.channel = await self.connection.channel()
        return await self.channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=False)

    async def publish(self, exchange: str, routing_key: str, body: bytes | dict[str, Any], *,
                      message_id: str | None = None, headers: dict[str, Any] | None = None,
                      content_type: str | None = None) -> None:
        name = self.config.billing_exchange if exchange == "billing" else self.config.messaging_exchange
        if isinstance(body, dict):
            body, content_type = json.dumps(body).encode(), content_type or "application/json"
        await (await self._exchange(name)).publish(
            aio_pika.Message(body, message_id=message_id, headers=headers, content_type=content_type,
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=routing_key)

    async def submit_sm_resp(self, message_id: str, status: str, smpp_msgid: str | None = None) -> None:
        await self.publish("billing", "bill_request.submit_sm_resp.jasmin-user-1",
                           {"bid": "b-" + message_id, "user": {"uid": "jasmin-user-1"},
                            "amounts": {"submit_sm": 0.0, "submit_sm_resp": 0.05}, "message_id": message_id,
                            "connector_id": "smsc-ke", "status": status, "smpp_msgid": smpp_msgid})

    async def dlr(self, message_id: str, status: str) -> None:
        await self.publish("messaging", "dlr.deliver_sm",
                           {"message_id": message_id, "status": status, "pdu_type": "deliver_sm",
                            "smpp_msgid": None, "dlr_details": {"stat": status, "err": "000"}})


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


class PrivateNode:
    """A RabbitMQ node of our own on free ports (RABBITMQ_NODENAME, RABBITMQ_NODE_PORT, RABBITMQ_MNESIA_BASE):
    stopped and started by the test; needs rabbitmq-server (and, as root, the rabbitmq user owns the data)."""

    def __init__(self) -> None:
        if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
            pytest.skip("rabbitmq-server is not installed (scripts/ensure-rabbitmq.sh)")
        self.port = free_port()
        self.name = f"ocsdtest{secrets.token_hex(3)}@localhost"
        self.dir = tempfile.mkdtemp(prefix="ocsd-rmq-")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "rabbitmq")
        self.env = dict(os.environ, RABBITMQ_NODENAME=self.name, RABBITMQ_NODE_PORT=str(self.port),
                        RABBITMQ_DIST_PORT=str(free_port()), RABBITMQ_MNESIA_BASE=f"{self.dir}/mnesia",
                        RABBITMQ_LOG_BASE=f"{self.dir}/log", RABBITMQ_PID_FILE=f"{self.dir}/pid",
                        RABBITMQ_ENABLED_PLUGINS_FILE=f"{self.dir}/plugins",
                        RABBITMQ_CONFIG_FILE=f"{self.dir}/none", RABBITMQ_ADVANCED_CONFIG_FILE=f"{self.dir}/adv.config")
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60.0) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True, capture_output=True)
        deadline = time.monotonic() + timeout
        while subprocess.run(["rabbitmqctl", "-n", self.name, "await_startup"], env=self.env,
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"private RabbitMQ {self.name} did not start; logs in {self.dir}/log")
            time.sleep(0.3)

    def stop(self) -> None:
        subprocess.run(["rabbitmqctl", "-n", self.name, "stop"], env=self.env, capture_output=True, timeout=60)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
