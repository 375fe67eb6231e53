"""Shared fixtures. Real services come from the environment (scripts/ensure-services.sh prints them):
OCSD_TEST_REDIS_URL (default redis://127.0.0.1:6379/0), OCSD_TEST_PG_DSN (default
postgresql://postgres@127.0.0.1:5432/postgres)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("OCSD_TEST_REDIS_URL", DEFAULT_REDIS_URL)


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    return os.environ.get("OCSD_TEST_PG_DSN", DEFAULT_PG_DSN)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A private 3-primary + 3-replica Redis Cluster for the whole run (tests/support/redis_cluster.py)."""
    from tests.support.redis_cluster import LocalCluster

    if not LocalCluster.available():
        pytest.skip("redis-server / redis-cli not installed")
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
