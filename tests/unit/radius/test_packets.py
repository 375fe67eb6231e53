"""radius.packets against pyrad as an independent implementation: authenticators, Message-Authenticator,
User-Password (RFC 2865 §5.2), CHAP (§5.3), and the drop reasons."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyrad.packet import AccessAccept, AcctPacket, AuthPacket, Packet

from radius.clients import REQUIRE, ClientTable, RadiusClient
from radius.dictionary import load_dictionary
from radius.duplicates import PENDING, DuplicateCache
from radius.packets import (
    ACCESS_ACCEPT,
    ACCESS_REJECT,
    ACCOUNTING_RESPONSE,
    DISCONNECT_REQUEST,
    Drop,
    RadiusReply,
    chap_matches,
    check_request,
    check_response,
    encode_reply,
    encode_request,
    pap_password,
)

D = load_dictionary()
SECRET = b"s3cret"
CLIENT = RadiusClient("10.0.0.1", "r1", SECRET)
secrets_ = st.binary(min_size=1, max_size=40)
passwords = st.binary(min_size=1, max_size=64).map(lambda b: b.replace(b"\x00", b"x"))


def access(secret: bytes = SECRET, ma: bool = False, **attrs: object) -> bytes:
    pkt = AuthPacket(id=3, secret=secret, dict=D, message_authenticator=ma)
    for k, v in attrs.items():
        pkt[k.replace("_", "-")] = v
    return pkt.RequestPacket()


@given(secrets_, passwords)
def test_pap_password_decrypts_what_pyrad_hides(secret, password):
    pkt = AuthPacket(id=1, secret=secret, dict=D)
    pkt["User-Name"] = "v"
    pkt["User-Password"] = pkt.PwCrypt(password)
    req = check_request(pkt.RequestPacket(), RadiusClient("10.0.0.1", "r", secret), D)
    assert pap_password(req) == password


@given(passwords, st.binary(min_size=16, max_size=16), st.integers(0, 255))
def test_chap_matches_only_the_right_password(password, challenge, ident):
    pkt = AuthPacket(id=1, secret=SECRET, dict=D)
    pkt["User-Name"] = "v"
    pkt["CHAP-Challenge"] = challenge
    pkt["CHAP-Password"] = bytes([ident]) + hashlib.md5(bytes([ident]) + password + challenge).digest()
    req = check_request(pkt.RequestPacket(), CLIENT, D)
    assert chap_matches(req, password) is True
    assert chap_matches(req, password + b"!") is False


@given(secrets_, st.booleans(), st.sampled_from([ACCESS_ACCEPT, ACCESS_REJECT]), st.text(max_size=50))
def test_replies_verify_in_pyrad_and_access_replies_carry_a_message_authenticator(secret, ma, code, message):
    client = RadiusClient("10.0.0.1", "r", secret)
    raw = access(secret, ma, User_Name="v")
    req = check_request(raw, client, D)
    reply = encode_reply(req, RadiusReply(code, (("Reply-Message", message or "x"), ("Session-Timeout", 60))), D)
    sent = AuthPacket(id=3, secret=secret, dict=D, packet=raw)
    got = Packet(secret=secret, dict=D, packet=reply)
    assert sent.VerifyReply(got, reply)
    got.authenticator = sent.authenticator  # RFC 3579 §3.2: computed with the Request Authenticator
    assert 80 in got and got.verify_message_authenticator(original_authenticator=sent.authenticator)


def test_accounting_request_authenticator_is_checked():
    pkt = AcctPacket(id=9, secret=SECRET, dict=D)
    pkt["Acct-Session-Id"] = "a"
    raw = pkt.RequestPacket()
    assert check_request(raw, CLIENT, D).get("Acct-Session-Id") == "a"
    with pytest.raises(Drop) as info:
        check_request(raw, RadiusClient("10.0.0.1", "r", b"other"), D)
    assert info.value.reason == "bad-authenticator"
    reply = encode_reply(check_request(raw, CLIENT, D), RadiusReply(ACCOUNTING_RESPONSE), D)
    assert check_response(reply, raw, SECRET) == ACCOUNTING_RESPONSE
    assert check_response(reply, raw, b"other") is None


@pytest.mark.parametrize(("raw", "client", "reason"), [
    (b"\x01\x01\x00", CLIENT, "malformed"),
    (access()[:-1], CLIENT, "malformed"),  # Length beyond the datagram
    (b"\x02" + access()[1:], CLIENT, "unexpected-code"),
    (access(), RadiusClient("10.0.0.1", "r", SECRET, message_authenticator=REQUIRE),
     "missing-message-authenticator"),
    (access(ma=True), RadiusClient("10.0.0.1", "r", b"wrong"), "bad-message-authenticator"),
])
def test_drop_reasons(raw, client, reason):
    with pytest.raises(Drop) as info:
        check_request(raw, client, D)
    assert info.value.reason == reason


def test_a_truncated_attribute_is_malformed():
    raw = bytearray(access(User_Name="abc"))
    raw[21] = 200  # the first attribute's length runs past the packet
    with pytest.raises(Drop) as info:
        check_request(bytes(raw), CLIENT, D)
    assert info.value.reason == "malformed"


def test_disconnect_request_verifies_as_pyrad_would_check_it():
    raw = encode_request(DISCONNECT_REQUEST, 5, (("User-Name", "v"), ("Acct-Session-Id", "s")), SECRET, D)
    pkt = Packet(secret=SECRET, dict=D, packet=raw)
    assert pkt.code == DISCONNECT_REQUEST
    assert hashlib.md5(raw[:4] + bytes(16) + raw[20:] + SECRET).digest() == raw[4:20]  # RFC 5176 §3
    pkt.authenticator = bytes(16)
    assert pkt.verify_message_authenticator(original_authenticator=bytes(16))
    ack = Packet(code=41, id=5, secret=SECRET, dict=D, authenticator=raw[4:20])
    ack_raw = ack.ReplyPacket()
    assert check_response(ack_raw, raw, SECRET) == 41


def test_client_table_takes_exact_then_the_longest_prefix():
    table = ClientTable([RadiusClient("10.0.0.0/8", "wide", b"a"), RadiusClient("10.1.0.0/16", "narrow", b"b"),
                         RadiusClient("10.1.2.3", "one", b"c")])
    assert table.lookup("10.1.2.3").name == "one"
    assert table.lookup("10.1.9.9").name == "narrow"
    assert table.lookup("10.9.9.9").name == "wide"
    assert table.lookup("192.0.2.1") is None
    assert table.lookup("not-an-address") is None


def test_duplicate_cache_answers_within_the_window_only():
    cache = DuplicateCache(window=5.0)
    key = ("10.0.0.1", 1000, 1, b"a" * 16)
    assert cache.seen(key, 0.0) is None
    assert cache.seen(key, 1.0) == PENDING
    cache.answered(key, b"reply")
    assert cache.seen(key, 4.0) == b"reply"
    assert cache.seen(key, 5.5) is None  # expired: a new request
    cache.forget(key)
    assert cache.seen(key, 6.0) is None


def test_accept_type_is_access_accept():
    assert AccessAccept == ACCESS_ACCEPT


names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=60)


@given(names, st.integers(0, 2**32 - 1), st.ip_addresses(v=4).map(str), names, st.binary(min_size=1, max_size=60),
       st.sampled_from(["Start", "Stop", "Interim-Update", "Accounting-On"]))
def test_attributes_read_as_pyrad_decodes_them(user, seconds, ip, rate, klass, status):
    pkt = AcctPacket(id=1, secret=SECRET, dict=D)
    pkt["User-Name"] = user
    pkt["Acct-Session-Time"] = seconds
    pkt["Framed-IP-Address"] = ip
    pkt["Mikrotik-Rate-Limit"] = rate  # a vendor attribute (RFC 2865 §5.26)
    pkt["Class"] = klass
    pkt["Acct-Status-Type"] = status
    raw = pkt.RequestPacket()
    req = check_request(raw, CLIENT, D)
    oracle = Packet(secret=SECRET, dict=D, packet=raw)
    for name in ("User-Name", "Acct-Session-Time", "Framed-IP-Address", "Mikrotik-Rate-Limit", "Class",
                 "Acct-Status-Type"):
        assert req.get(name) == oracle[name][0], name
    assert req.get("Calling-Station-Id") is None
