"""Issue 14, Tests: the fuzz corpus (tests/vectors/fuzz/) fed to a sans-IO Node, before the CER and over an
open peer, whole and in small pieces. The node must raise nothing, answer or close (or log) what it gets,
close what cannot be framed, close a CER-less connection at its timer, keep its allocation peak bounded, and
behave the same however the octets are split. The checks live in tests/support/node_fuzz.py, shared with
the long mutation run `bench/fuzz_node.py --seconds N`."""

from __future__ import annotations

import pytest

from tests.support.node_fuzz import frames, load_corpus, run_case

CORPUS = load_corpus()
CER = CORPUS["cer_valid"]
SPLITS = [1, 2, 3, 5, 7, 11, 64]


def test_the_corpus_is_there() -> None:
    assert len(CORPUS) >= 40
    kinds = [frames(data) for data in CORPUS.values()]
    assert sum(f.unframable for f in kinds) >= 5 and sum(f.partial for f in kinds) >= 3
    assert sum(f.requests > 1 for f in kinds) >= 3


@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("opened", [False, True], ids=["before-cer", "open-peer"])
def test_node_handles_the_case(name: str, opened: bool) -> None:
    data = CORPUS[name]
    whole = run_case(data, open_first=CER if opened else None, measure=True)
    pieces = run_case(data, open_first=CER if opened else None, chunks=SPLITS)
    assert pieces.trace == whole.trace  # the same answers and the same close, however the stream is cut


@pytest.mark.parametrize("opened", [False, True], ids=["before-cer", "open-peer"])
def test_a_partial_frame_of_1_mib_is_bounded(opened: bool) -> None:
    """A peer announcing a 1 MiB frame and sending it slowly: the node holds at most what it received."""
    head = bytes.fromhex("01100000") + CER[4:20]
    data = head + b"\0" * ((1 << 20) - 20 - 4)  # 4 octets short of the frame: never complete
    out = run_case(data, open_first=CER if opened else None, chunks=[65536], measure=True)
    assert not out.writes and out.peak < 4 * len(data)
