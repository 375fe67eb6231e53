"""ocs.gctune: the start-up heap frozen and the thresholds raised (issue 15)."""

from __future__ import annotations

import gc

from ocs.gctune import THRESHOLDS, tune_gc


def test_tune_gc_freezes_the_heap_and_raises_the_thresholds():
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == THRESHOLDS and THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() > 1000  # the modules and objects of this process at least
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
