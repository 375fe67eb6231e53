"""Mutation fuzzing of the sans-IO Diameter node for as long as asked: inputs are made from the corpus in
tests/vectors/fuzz/ (flipped bits, rewritten header and AVP lengths, octets inserted, deleted or repeated,
two cases spliced), fed to a fresh `Node` before the CER or over an open peer, whole or cut into random
pieces, and checked by the same rules as the CI run (tests/support/node_fuzz.py): nothing raised, answers
well-formed, unframable streams closed, CER timers honoured, allocation peak linear in the input (measured on one input
in 50). Prints inputs/s and what the node did; exits 1 if any input broke a rule, after writing each such
input (as a corpus case) to --save. The RSS printed grows ~0.7 MiB per 25,000 inputs because of tracemalloc's
own start/stop; with no measuring it stays flat (17.5 MiB over 150,000 inputs), so the node keeps nothing.

Reading: not a speed figure but a robustness run; inputs/s is bounded by the mutation and the node's checks
in one process; its pass mark is zero failing inputs.

    python bench/fuzz_node.py --seconds 60 [--seed N] [--save DIR]
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.node_fuzz import FuzzFailure, load_corpus, run_case, write_case  # noqa: E402


def _u24(rng: random.Random) -> bytes:
    return rng.choice([0, 1, 7, 8, 11, 12, 19, 20, 21, 0x7FFFFF, 0xFFFFFF, rng.randrange(1 << 24)]).to_bytes(3, "big")


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        if op == 0 and b:                                    # flip a bit
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and len(b) >= 4:                        # rewrite a message or AVP length (24 bits)
            i = rng.randrange(0, len(b) - 3, 4) if len(b) > 4 else 0
            b[i + 1:i + 4] = _u24(rng)
        elif op == 2:                                        # insert random octets
            i = rng.randint(0, len(b))
            b[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 3 and b:                                  # delete a run
            i = rng.randrange(len(b))
            del b[i:i + rng.randint(1, 16)]
        elif op == 4 and b:                                  # repeat a slice (nested or doubled AVPs)
            i = rng.randrange(len(b))
            chunk = b[i:i + rng.randint(4, 64)]
            b[i:i] = chunk * rng.randint(1, 8)
        elif op == 5:                                        # splice another case behind or inside
            other = rng.choice(corpus)
            i = rng.randint(0, len(b))
            b[i:i] = other[:rng.randint(0, len(other))]
        elif op == 6 and len(b) >= 8:                        # set flags: R, E, T, V, M, P
            i = rng.randrange(4, len(b), 4)
            b[i] = rng.choice([0x00, 0x20, 0x40, 0x80, 0xA0, 0xC0, 0xE0, 0xFF])
        elif op == 7 and len(b) > 1:                         # truncate
            del b[rng.randint(1, len(b) - 1):]
    return bytes(b)


def _rss_mib() -> float:
    """Resident set size now (Linux /proc), in MiB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return float("nan")
    return pages * resource.getpagesize() / (1 << 20)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--save", type=Path, default=Path("fuzz-failures"))
    ap.add_argument("--measure-every", type=int, default=50, help="measure the allocation peak of one input "
                    "in N (0: never; then RSS shows the node keeps nothing between inputs)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    cases = load_corpus()
    cer = cases["cer_valid"]
    corpus = list(cases.values())
    outcomes: collections.Counter[str] = collections.Counter()
    failures = 0
    peak = 0
    n = 0
    rss0 = _rss_mib()
    start = time.perf_counter()
    deadline = start + args.seconds
    while time.perf_counter() < deadline:
        data = mutate(rng, rng.choice(corpus), corpus)
        opened = rng.random() < 0.5
        chunks = None if rng.random() < 0.5 else [rng.randint(1, 64) for _ in range(4)]
        measure = args.measure_every > 0 and n % args.measure_every == 0
        try:
            out = run_case(data, open_first=cer if opened else None, chunks=chunks, measure=measure, seed=n)
        except FuzzFailure as e:
            failures += 1
            args.save.mkdir(parents=True, exist_ok=True)
            path = write_case(args.save, f"fuzz_{seed}_{n}", f"bench/fuzz_node.py --seed {seed}, input {n}, "
                              f"{'open peer' if opened else 'before CER'}, chunks {chunks}: {e}", data)
            print(f"FAIL input {n}: {e} -> {path}", file=sys.stderr)
        else:
            peak = max(peak, out.peak)
            outcomes["closed" if out.closed else "answered" if out.writes else "delivered" if out.delivered
                     else "logged" if out.notices else "waiting"] += 1
        n += 1
    elapsed = time.perf_counter() - start
    rss1 = _rss_mib()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seed {seed}: {n} inputs in {elapsed:.1f} s ({n / elapsed:,.0f}/s), {failures} failing")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    print(f"allocation peak per input (measured 1 in {args.measure_every or 'none'}): {peak / 1024:.0f} KiB; "
          f"RSS {rss0:.0f} MiB at start, {rss1:.0f} MiB at the end (high-water {peak_rss:.0f} MiB)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
