"""The log rate limiter: first event logged, the rest counted and summarised once per interval, nothing lost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.transport.ratelimit import RateLimiter, Summary


def test_first_event_logged_rest_counted_then_one_summary():
    rl: RateLimiter[str] = RateLimiter(interval=10.0)
    assert rl.hit("a", 0.0, "127.0.0.1:1001") is True
    assert [rl.hit("a", 0.1 * i, f"127.0.0.1:{1001 + i}") for i in range(1, 100)] == [False] * 99
    assert rl.next_deadline() == 10.0
    assert rl.expire(9.99) == []
    assert rl.expire(10.0) == [Summary("a", 99, "127.0.0.1:1100")]


def test_sources_are_independent():
    rl: RateLimiter[str] = RateLimiter(interval=5.0)
    assert rl.hit("a", 0.0) and rl.hit("b", 0.0)
    assert not rl.hit("a", 1.0)
    assert rl.expire(5.0) == [Summary("a", 1, None)]


def test_sustained_flood_gives_one_line_per_interval():
    rl: RateLimiter[str] = RateLimiter(interval=1.0)
    logged = summaries = 0
    t = 0.0
    while t < 10.0:  # 100 events a second for 10 s, the timer firing as the transport would
        due = rl.next_deadline()
        if due is not None and due <= t:
            summaries += len(rl.expire(t))
        logged += rl.hit("flood", t)
        t += 0.01
    assert logged == 1  # only the very first: after it, every window is a counted one
    assert 9 <= summaries <= 10


def test_quiet_window_is_forgotten_and_next_event_logged():
    rl: RateLimiter[str] = RateLimiter(interval=1.0)
    assert rl.hit("a", 0.0)
    assert rl.expire(1.0) == []
    assert len(rl) == 0
    assert rl.hit("a", 5.0)


def test_window_ended_before_the_timer_fired_keeps_its_count():
    rl: RateLimiter[str] = RateLimiter(interval=1.0)
    rl.hit("a", 0.0)
    rl.hit("a", 0.5, "x")
    assert rl.hit("a", 3.0, "y") is False  # counted in the silent window that follows a suppressing one
    assert rl.next_deadline() == 0.0  # the earlier window's summary is due now
    assert rl.expire(3.0) == [Summary("a", 1, "x")]
    assert rl.expire(4.0) == [Summary("a", 1, "y")]


def test_table_is_bounded_and_evicted_counts_are_reported():
    rl: RateLimiter[int] = RateLimiter(interval=100.0, max_keys=3)
    for k in range(3):
        rl.hit(k, 0.0)
    rl.hit(0, 1.0)  # key 0 suppresses one
    rl.hit(99, 2.0)  # a fourth key evicts the oldest (key 0)
    assert len(rl) == 3
    assert rl.expire(2.0) == [Summary(0, 1, None)]


def test_bad_arguments():
    with pytest.raises(ValueError):
        RateLimiter(interval=0)
    with pytest.raises(ValueError):
        RateLimiter(max_keys=0)


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 5, allow_nan=False)), max_size=200),
       st.floats(0.1, 3.0))
def test_every_event_is_logged_or_counted_once(events, interval):
    """Whatever the order of events and timer firings: logged + sum(suppressed) == events, per key."""
    rl: RateLimiter[int] = RateLimiter(interval=interval, max_keys=2)
    seen: dict[int, int] = {}
    accounted: dict[int, int] = {}
    now = 0.0
    for key, step in events:
        now += step
        seen[key] = seen.get(key, 0) + 1
        if rl.hit(key, now):
            accounted[key] = accounted.get(key, 0) + 1
        if step > 2.5:  # sometimes the timer fires late, sometimes not at all before the next event
            for s in rl.expire(now):
                accounted[s.key] = accounted.get(s.key, 0) + s.suppressed
    for s in rl.expire(now + 1e9):
        accounted[s.key] = accounted.get(s.key, 0) + s.suppressed
    for s in rl.expire(now + 2e9):
        accounted[s.key] = accounted.get(s.key, 0) + s.suppressed
    assert accounted == seen
