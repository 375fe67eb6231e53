"""scripts/bench.py (`make bench`): which benchmarks it runs and the page it writes (issue 15)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_page", ROOT / "scripts" / "bench.py")
assert spec is not None and spec.loader is not None
bench_page = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_page)


def test_every_runnable_bench_script_is_run_and_the_shared_client_is_not():
    names = [p.name for p in bench_page.benchmarks([])]
    assert "bench_s6a.py" in names and "bench_codec.py" in names and "pipeline.py" not in names
    assert names == sorted(p.name for p in (ROOT / "bench").glob("*.py") if "__main__" in p.read_text())


def test_the_page_has_the_machine_the_command_each_output_and_what_limits_it():
    s6a = ROOT / "bench" / "bench_s6a.py"
    text = bench_page.page([(s6a, 0, "AIR/s at 512 in flight   8,544   35,896", 61.0)])
    assert "cores" in text and "Python 3." in text and "Redis " in text and "make bench" in text
    assert "`python bench/bench_s6a.py` (61 s)" in text and "8,544   35,896" in text
    assert "What limits it: the daemon is one Python process" in text
    failed = bench_page.page([(s6a, 2, "Traceback", 1.0)])
    assert "failed with exit status 2" in failed
