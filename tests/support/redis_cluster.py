"""A private Redis Cluster for tests: 3 primaries and 3 replicas (`redis-server --cluster-enabled yes` on free
loopback ports in a temporary directory, joined by `redis-cli --cluster create`), and the store a test uses for
a URL (a `ClusterStore` when the URL is one of these clusters' seed, a `RedisStore` otherwise)."""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocs.store.redis_client import RedisStore
from ocs.store.redis_cluster import make_store

CLUSTER_URLS: set[str] = set()  # seeds of the clusters started by this test run


def store_for_url(url: str, prefix: str) -> RedisStore:
    """The store a test helper opens on `url`: slot-routed on a test cluster, plain otherwise."""
    return make_store(url, prefix, cluster=url in CLUSTER_URLS)


def _port_pair_free(port: int) -> bool:
    for p in (port, port + 10000):  # the cluster bus listens on port + 10000
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def _free_ports(n: int) -> list[int]:
    while True:
        base = random.randrange(20000, 30000, 10)
        ports = list(range(base, base + n))
        if all(_port_pair_free(p) for p in ports):
            return ports


def _cli(port: int, *args: str, timeout: float = 10.0) -> str:
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=timeout)
    return out.stdout


@dataclass
class LocalCluster:
    directory: Path
    primaries: int = 3
    replicas: int = 1
    ports: list[int] = field(default_factory=list)
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def _start_node(self, port: int) -> None:
        d = self.directory / str(port)
        d.mkdir(parents=True, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d), "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000", "--appendonly", "yes",
             "--appendfsync", "everysec", "--save", "", "--protected-mode", "no", "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self, timeout: float = 30.0) -> None:
        n = self.primaries * (1 + self.replicas)
        self.ports = _free_ports(n)
        for port in self.ports:
            self._start_node(port)
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while "PONG" not in _cli(port, "ping"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on {port} did not start")
                time.sleep(0.05)
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                        "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=timeout)
        self.wait_ok(deadline - time.monotonic())
        CLUSTER_URLS.add(self.url)

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Until every live node says cluster_state:ok and every slot has a primary."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [p for p in self.ports if self.procs[p].poll() is None]
            replication = [_cli(p, "info", "replication") for p in live]
            if all("cluster_state:ok" in _cli(p, "cluster", "info") for p in live) and all(
                    "master_link_status:up" in r for r in replication if "role:slave" in r):
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def primary_ports(self) -> list[int]:
        out = []
        for p in self.ports:
            if self.procs[p].poll() is None and "role:master" in _cli(p, "info", "replication"):
                out.append(p)
        return out

    def primary_of(self, key: str) -> int:
        slot = int(_cli(self.live_port(), "cluster", "keyslot", key).strip())
        for line in _cli(self.live_port(), "cluster", "nodes").splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2]:
                for r in f[8:]:
                    lo, _, hi = r.partition("-")
                    if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                        return int(f[1].split(":")[1].split("@")[0])
        raise LookupError(slot)

    def live_port(self) -> int:
        return next(p for p in self.ports if self.procs[p].poll() is None)

    def kill(self, port: int) -> None:
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        CLUSTER_URLS.discard(self.url)
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def client(url: str) -> Any:
    """A synchronous redis-py client for `url`: a cluster client on a test cluster."""
    import redis
    from redis.cluster import RedisCluster

    if url in CLUSTER_URLS:
        return RedisCluster.from_url(url)
    return redis.Redis.from_url(url)


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key of `prefix` (on every primary of a test cluster)."""
    r = client(url)
    if url in CLUSTER_URLS:
        for key in r.scan_iter(match=prefix + ":*", target_nodes=r.PRIMARIES):  # type: ignore[attr-defined]
            r.delete(key)
    else:
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)
    r.close()
