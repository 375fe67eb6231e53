"""SMS fixtures: the SMS service over the real Redis and PostgreSQL, with a priced plan."""

from __future__ import annotations

import asyncpg
import pytest_asyncio

from ocs.config.sms import SmsConfig
from ocs.sms.pricing import SmsTariff
from ocs.sms.service import SmsService
from ocs.store.redis_client import RedisStore

PLAN = "std"


@pytest_asyncio.fixture
async def sms(redis_store: RedisStore, pg_pool: asyncpg.Pool) -> SmsService:
    svc = SmsService(redis_store, pg_pool, SmsConfig(default_plan=PLAN, rate_limit=0))
    await svc.load()
    for prefix, price in (("254", 5), ("25471", 3), ("44", 9)):
        await svc.set_tariff(SmsTariff(PLAN, "prefix", prefix, 0, price, "EUR"))
    return svc
