"""`make bench`: run every benchmark in bench/ and write docs/benchmarks.md.

Every `bench/*.py` that runs as a program (has a `__main__` block; `pipeline.py` is the shared client) is run
in turn, alone, with the arguments in QUICK (none for most), and its output is copied into the page verbatim:
each benchmark prints its figures beside the baselines it measured in the same run. The page also records the
machine (CPU, cores, kernel, Python, Redis, PostgreSQL), the commit, the command to reproduce, and for each
benchmark the "Reading:" paragraph of its docstring (what limits its figures).

    .venv/bin/python scripts/bench.py [--only NAME ...] [--output docs/benchmarks.md]

Needs Redis and PostgreSQL (as `make test`: scripts/ensure-services.sh, URLs from var/services.env).
A benchmark that fails is reported on the page with its exit status and output; the script then exits 1.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICK: dict[str, list[str]] = {"fuzz_node": ["--seconds", "10"]}  # a fuzzer runs as long as asked
REDIS_URL = os.environ.get("OCSD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("OCSD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def benchmarks(only: list[str]) -> list[Path]:
    found = []
    for path in sorted((ROOT / "bench").glob("*.py")):
        source = path.read_text()
        if "__main__" in source and (not only or path.stem in only):
            found.append(path)
    return found


def docstring(path: Path) -> tuple[str, str]:
    """(first paragraph, the "Reading:" paragraph or "") of a benchmark's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    title = " ".join(doc.split("\n\n")[0].split()) if doc else path.stem
    reading = ""
    for paragraph in doc.split("\n\n"):
        if paragraph.startswith("Reading:"):
            reading = " ".join(paragraph[len("Reading:"):].split())
    return title, reading


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def redis_version() -> str:
    import redis

    try:
        return str(redis.Redis.from_url(REDIS_URL).info("server")["redis_version"])
    except Exception as e:  # noqa: BLE001 - the page says why
        return f"unknown ({e})"


def postgres_version() -> str:
    import asyncpg

    async def ask() -> str:
        conn = await asyncpg.connect(PG_DSN)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    try:
        return asyncio.run(ask())
    except Exception as e:  # noqa: BLE001 - the page says why
        return f"unknown ({e})"


def commit() -> str:
    out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def load() -> str:
    """The 1-minute load average: how busy the machine was besides the benchmark (noise)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def run(path: Path) -> tuple[int, str, float]:
    argv = [sys.executable, str(path.relative_to(ROOT)), *QUICK.get(path.stem, [])]
    print(f"bench: {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    started, before = time.monotonic(), load()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    output = proc.stdout + (f"\n[stderr]\n{proc.stderr}" if proc.returncode and proc.stderr else "")
    output += f"\n[load average before {before}, after {load()} on {os.cpu_count()} cores]"
    return proc.returncode, output.rstrip(), time.monotonic() - started


def page(results: list[tuple[Path, int, str, float]]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (scripts/bench.py): every `bench/*.py` run in turn on this machine, alone. Each",
        "benchmark prints its figures beside baselines it measured **in the same run** (a trivial answerer, the",
        "python-diameter codec, bare pyrad, redis-benchmark of a trivial script, ...): compare a figure with its",
        "baseline, not with another machine's figure. On a shared or virtual machine figures move by 10-30% between",
        "runs; the ratios to the baselines move less.",
        "",
        "## Machine",
        "",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (the daemon and the client are pinned to one core each where",
        "  `taskset` exists; Redis and PostgreSQL share the same cores)",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"Redis {redis_version()}, PostgreSQL {postgres_version()}",
        f"- commit {commit()}, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        "## Reproduce",
        "",
        "    make bench                                  # all of them, rewrites this page",
        "    .venv/bin/python bench/bench_s6a.py --help  # one of them (services: scripts/ensure-services.sh)",
        "",
    ]
    for path, status, output, seconds in results:
        title, reading = docstring(path)
        argv = " ".join(["python", f"bench/{path.name}", *QUICK.get(path.stem, [])])
        lines += [f"## {path.stem}", "", title, "", f"`{argv}` ({seconds:.0f} s"
                  + (f", **failed with exit status {status}**)" if status else ")"), ""]
        if reading:
            lines += [f"What limits it: {reading}", ""]
        lines += ["```", output, "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="benchmark names (bench/NAME.py)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    results = []
    for path in benchmarks(args.only):
        status, output, seconds = run(path)
        results.append((path, status, output, seconds))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page(results))
    print(f"bench: wrote {args.output}", file=sys.stderr)
    return 1 if any(status for _, status, _, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
