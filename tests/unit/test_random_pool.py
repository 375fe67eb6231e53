"""The RAND source of the AuC service: os.urandom in chunks, never the same slice twice."""

from __future__ import annotations

from ocs.services.auc import RandomPool


def test_random_pool_hands_out_distinct_slices_across_refills():
    draw = RandomPool(chunk=64)
    rands = [draw(16) for _ in range(50)]          # 50 x 16 octets: 12 refills of 64
    assert all(len(r) == 16 for r in rands)
    assert len(set(rands)) == 50
    assert len(draw(100)) == 100                   # more than a chunk at once
