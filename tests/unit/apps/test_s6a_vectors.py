"""AuthInfoWriter (issue 15) writes the same octets as the by-name builder, for every kind and number of vectors
and for XRES lengths that need padding (TS 33.102 §6.3.2: 4 to 16 octets)."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from auc import EutranVector, GeranVector, UmtsVector
from ocs.apps.s6a import authentication_info
from ocs.apps.s6a_data import _d
from ocs.apps.s6a_vectors import AuthInfoWriter
from ocs.services.auc import Vectors

xres = st.integers(4, 16).map(os.urandom)
eutran = st.builds(lambda x: EutranVector(os.urandom(16), x, os.urandom(16), os.urandom(32)), xres)
utran = st.builds(lambda x: UmtsVector(os.urandom(16), x, os.urandom(16), os.urandom(16), os.urandom(16)), xres)
geran = st.builds(lambda: GeranVector(os.urandom(16), os.urandom(4), os.urandom(8)))


@settings(max_examples=60, deadline=None)
@given(st.lists(eutran, max_size=5), st.lists(utran, max_size=3), st.lists(geran, max_size=3))
def test_the_writer_and_the_builder_agree(e, u, g):
    d = _d(None)
    v = Vectors(tuple(e), tuple(u), tuple(g), (), "active")
    ours = AuthInfoWriter(d)(v)
    assert ours == authentication_info(v, d)
    assert ours.encode() == authentication_info(v, d).encode()
