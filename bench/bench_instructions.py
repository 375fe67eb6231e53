"""Instructions per request in the real daemon, counted by callgrind: S6a AIR (one E-UTRAN vector) and Gy CCR-U
(one MSCC), beside the trivial answerer's CCR in the same run, each after a warm-up, from a pipelining client.

Why: requests/s on a shared or loaded machine move by 10-50% between runs; the instructions the daemon executes
per request do not (callgrind counts them, not time: the same code and inputs give the same count within ~1%,
whatever else runs). This is the figure to compare two commits with (issue 15): `--tree` runs the daemon from
another checkout (e.g. `git worktree add /tmp/before <commit>`) with this checkout's client and harness.

Reading: the trivial answerer's count is the floor of the shared path (event loop, framing, the node's checks,
dispatch, encode, metrics); the gap to it is the application: for an AIR the typed reads, the AuC's one Redis
script call and the vector (Milenage, KASME) and the Authentication-Info; for a CCR-U the MSCC reading, the Gy
script call and the CCA. Instructions are not time (a cache miss or a system call costs more than its count),
so the AIR/s and CCR-U/s of bench_s6a and bench_gy remain the throughput figures.

    python bench/bench_instructions.py [--requests N] [--tree PATH] [--only s6a gy trivial]"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_gy  # noqa: E402
import bench_s6a  # noqa: E402
import redis  # noqa: E402
import uvloop  # noqa: E402
from pipeline import run_client  # noqa: E402

from tests.integration.conftest import REDIS_URL, create_database, drop_database  # noqa: E402
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config  # noqa: E402


class Counted:
    """The daemon (`ocsd run`, or the trivial answerer) under callgrind with counting off until `count`."""

    def __init__(self, config: Path, tree: Path, module: str, out: Path) -> None:
        argv = ([sys.executable, "-c", "from ocs.cli import main; main()", "run"] if module == "ocsd"
                else [sys.executable, "-m", module])
        self.out = out
        env = dict(os.environ, PYTHONPATH=str(tree), PYTHONUNBUFFERED="1")
        self.daemon = DaemonProcess(config, module=module)
        self.daemon.proc = proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg.%p", *argv,
             "-c", str(config)], cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        threading.Thread(target=self.daemon._read, args=(proc.stdout,), daemon=True).start()
        self.daemon.wait_for("started", 600)

    def count(self, load: Callable[[], object], requests: int) -> float:
        """Instructions per request of `load` (which sends `requests` requests)."""
        assert self.daemon.proc is not None
        pid = str(self.daemon.proc.pid)
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        load()
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        dump = max(self.out.glob(f"cg.{pid}*"), key=lambda p: p.stat().st_mtime)
        total = next(int(line.split()[1]) for line in dump.read_text().splitlines()
                     if line.startswith(("summary:", "totals:")))
        return total / requests

    def kill(self) -> None:
        self.daemon.kill()


def trivial(tree: Path, tmp: Path, n: int) -> float:
    config = write_config(tmp / "echo.toml", peers=[bench_s6a.MME], diameter_port=(port := free_port()),
                          admin_port=free_port(), watchdog=30)
    d = Counted(config, tree, "tests.support.echo_daemon", tmp)
    try:
        templates = [bench_s6a.ccr(i) for i in range(100)]
        uvloop.run(run_client(port, bench_s6a.cer_cc(), templates, 1000, 64))
        return d.count(lambda: uvloop.run(run_client(port, bench_s6a.cer_cc(), templates, n, 64)), n)
    finally:
        d.kill()


def s6a(tree: Path, tmp: Path, n: int, dsn: str, prefix: str) -> float:
    imsis = asyncio.run(bench_s6a.provision(dsn, 200))
    templates = [bench_s6a.air(imsi, i) for i, imsi in enumerate(imsis)]
    config = write_config(tmp / "s6a.toml", peers=[bench_s6a.MME], diameter_port=(port := free_port()),
                          admin_port=free_port(), watchdog=30, applications=("s6a",),
                          extra=backends_config(REDIS_URL, prefix, dsn) + '\n[auc]\nhome_plmns = ["00101"]\n')
    d = Counted(config, tree, "ocsd", tmp)
    try:
        uvloop.run(run_client(port, bench_s6a.cer(), templates, 1000, 64, bench_s6a.expect_success))
        return d.count(lambda: uvloop.run(run_client(port, bench_s6a.cer(), templates, n, 64,
                                                     bench_s6a.expect_success)), n)
    finally:
        d.kill()


def gy(tree: Path, tmp: Path, n: int, dsn: str, prefix: str) -> float:
    accounts = 500
    imsis = asyncio.run(bench_gy.provision(dsn, prefix, accounts))
    sessions = [f"{bench_gy.PGW};{i}" for i in range(accounts)]
    updates = [bench_gy.ccr(s, 2, 1 + k, imsi, bench_gy.RGS[:1], bench_gy.USED)
               for k in range(n // accounts + 2) for s, imsi in zip(sessions, imsis, strict=True)]
    extra = (backends_config(REDIS_URL, prefix, dsn) + '\n[charging]\ncurrency = "EUR"\n'
             '\n[gy]\ngrant_octets = 1000000\n')
    config = write_config(tmp / "gy.toml", peers=[bench_gy.PGW], diameter_port=(port := free_port()),
                          admin_port=free_port(), watchdog=30, applications=("gy",), extra=extra)
    d = Counted(config, tree, "ocsd", tmp)
    try:
        initial = [bench_gy.ccr(s, 1, 0, imsi, bench_gy.RGS, 0) for s, imsi in zip(sessions, imsis, strict=True)]
        uvloop.run(run_client(port, bench_gy.cer(), initial, accounts, 64, bench_gy.expect_success, 1))
        uvloop.run(run_client(port, bench_gy.cer(), updates[:accounts], accounts, 64, bench_gy.expect_success))
        rest = updates[accounts:accounts + n]
        return d.count(lambda: uvloop.run(run_client(port, bench_gy.cer(), rest, n, 64, bench_gy.expect_success)),
                       n)
    finally:
        d.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests counted per figure")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose daemon is measured")
    parser.add_argument("--only", nargs="*", default=["trivial", "s6a", "gy"])
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind): no instruction counts")
        return
    tree, n = args.tree.resolve(), args.requests
    print(f"daemon from {tree}; {n} requests counted per figure after a warm-up, window 64, under callgrind")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.monotonic()
        if "trivial" in args.only:
            figures["trivial answerer, CCR (baseline)"] = trivial(tree, tmp, n)
        for name, fn in (("s6a", s6a), ("gy", gy)):
            if name not in args.only:
                continue
            db = "ocsd_bench_" + secrets.token_hex(4)
            prefix = "ocsbench-" + secrets.token_hex(4)
            dsn = asyncio.run(create_database(db))
            try:
                label = "S6a AIR, one E-UTRAN vector" if name == "s6a" else "Gy CCR-U, one MSCC"
                figures[label] = fn(tree, tmp, n, dsn, prefix)
            finally:
                asyncio.run(drop_database(db))
                r = redis.Redis.from_url(REDIS_URL)
                for key in r.scan_iter(match=prefix + ":*", count=1000):
                    r.delete(key)
    print(f"{'request':<44}{'instructions per request':>26}")
    base = figures.get("trivial answerer, CCR (baseline)")
    for label, value in figures.items():
        ratio = f"  ({value / base:.1f}x the trivial answerer)" if base and "baseline" not in label else ""
        print(f"{label:<44}{value / 1e3:>24,.0f} k{ratio}")
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
