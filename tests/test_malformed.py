"""Malformed input: one regression test per line of ``shared/notes/malformed-inputs.md``,
the corpus' malformed files, every truncation of every golden message, and random bytes.

The contract under test (``evpn.errors``, ``decode_message``): decoding raises
:class:`BGPError` -- and nothing else -- when the session must be reset, with the
NOTIFICATION code/subcode RFC 4271 §6 / RFC 7606 prescribe and data no longer than the
offending field; every other RFC 7606 outcome (attribute discard, treat-as-withdraw,
AFI/SAFI disable) is reported on ``Update.errors``.  Nothing reads past a length and
nothing loops forever.

Messages are built by hand with the helpers below so that each test shows its bytes.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import struct
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from corpus import (
    MALFORMED_TCPDUMP,
    all_golden_messages,
    corpus_params,
    corpus_path,
    frame,
    golden_messages,
    load_vectors,
    split_messages,
    tcp_payloads,
    vector_params,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evpn.errors import Action, BGPError
from evpn.types import RouteDistinguisher
from evpn.wire import (
    AFI,
    SAFI,
    AsPathSegment,
    CapabilityParameter,
    Context,
    ExtendedCommunities,
    FourOctetAS,
    Fqdn,
    IPPrefixRoute,
    MacIpRoute,
    MacMobility,
    MessageReader,
    Multiprotocol,
    Notification,
    Open,
    RouteRefresh,
    UnknownAttribute,
    UnknownRoute,
    Update,
    decode_attributes,
    decode_evpn_nlri,
    decode_ext_community,
    decode_message,
    end_of_rib,
)
from evpn.wire._common import Malformed

TAW, DISCARD, AFI_SAFI, RESET = (
    Action.TREAT_AS_WITHDRAW,
    Action.ATTRIBUTE_DISCARD,
    Action.AFI_SAFI_DISABLE,
    Action.SESSION_RESET,
)
# UPDATE Message Error subcodes (RFC 4271 §6.3)
MALFORMED_LIST, UNRECOGNIZED_WELL_KNOWN, MISSING, FLAGS, LENGTH, BAD_ORIGIN, OPTIONAL_ERROR, NETWORK = (
    1,
    2,
    3,
    4,
    5,
    6,
    9,
    10,
)

RD = RouteDistinguisher.parse("198.51.100.1:2").raw
ESI0 = bytes(10)
MAC = bytes.fromhex("020000000001")
NH4 = bytes([198, 51, 100, 1])
LABEL = (100).to_bytes(3, "big")
TWO_OCTET = Context(four_octet_as=False)


@pytest.fixture(autouse=True, scope="module")
def _no_hang() -> Iterator[None]:
    """Turn a hang (a decoder looping forever) into a failure: the module gets 120 s."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("tests/test_malformed.py ran for more than 120 s: does a decoder loop?")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# --- builders -----------------------------------------------------------------------------


def attr(flags: int, code: int, value: bytes) -> bytes:
    """One path attribute; the extended-length form when flagged or needed."""
    if flags & 0x10 or len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


ORIGIN = attr(0x40, 1, b"\x00")
AS_PATH = attr(0x40, 2, b"\x02\x01" + (65001).to_bytes(4, "big"))
NEXT_HOP = attr(0x40, 3, NH4)
PREFIX = b"\x18\xc6\x13\x00"  # 198.19.0.0/24


def update(*attributes: bytes, nlri: bytes = b"", withdrawn: bytes = b"") -> bytes:
    path_attributes = b"".join(attributes)
    body = (
        struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(path_attributes)) + path_attributes + nlri
    )
    return frame(2, body)


def mp_reach(nlri: bytes, afi: int = 25, safi: int = 70, next_hop: bytes = NH4, flags: int = 0x90) -> bytes:
    return attr(flags, 14, struct.pack("!HBB", afi, safi, len(next_hop)) + next_hop + b"\x00" + nlri)


def mp_unreach(nlri: bytes, afi: int = 25, safi: int = 70, flags: int = 0x90) -> bytes:
    return attr(flags, 15, struct.pack("!HB", afi, safi) + nlri)


def evpn(route_type: int, body: bytes) -> bytes:
    return bytes((route_type, len(body))) + body


def type2(ip: bytes = b"", label2: bool = False) -> bytes:
    body = RD + ESI0 + bytes(4) + b"\x30" + MAC + bytes((len(ip) * 8,)) + ip + LABEL + (LABEL if label2 else b"")
    return evpn(2, body)


TYPE3 = evpn(3, RD + bytes(4) + b"\x20" + NH4)


def evpn_update(nlri: bytes) -> bytes:
    return update(mp_reach(nlri), ORIGIN, AS_PATH)


# --- outcome helpers --------------------------------------------------------------------------


def decode_update(raw: bytes, ctx: Context | None = None) -> Update:
    msg = decode_message(raw, ctx)
    assert isinstance(msg, Update)
    return msg


def only_error(msg: Update) -> BGPError:
    assert len(msg.errors) == 1, msg.errors
    return msg.errors[0]


def assert_error(msg: Update, action: Action, subcode: int, data: bytes) -> None:
    """``msg`` reports exactly one error, with this action, UPDATE subcode and data."""
    error = only_error(msg)
    assert (error.code, error.subcode, error.action, error.data) == (3, subcode, action, data), error
    assert msg.action is action


def assert_raises(
    raw: bytes, code: int, subcode: int, data: bytes | None = None, ctx: Context | None = None
) -> BGPError:
    with pytest.raises(BGPError) as info:
        decode_message(raw, ctx)
    error = info.value
    assert (error.code, error.subcode, error.action) == (code, subcode, RESET), error
    if data is not None:
        assert error.data == data
    return error


def assert_afi_safi_disabled(raw: bytes, attribute: bytes) -> Update:
    """The EVPN MP attribute is malformed: AFI/SAFI disable, data = that attribute (RFC 7606 §7.11)."""
    msg = decode_update(raw)
    assert_error(msg, AFI_SAFI, OPTIONAL_ERROR, attribute)
    assert msg.mp_reach is None and msg.mp_unreach is None
    return msg


# =====================================================================================
# EVPN NLRI
# =====================================================================================

TYPE2_VALID = {(33, 0), (37, 32), (49, 128), (36, 0), (40, 32), (52, 128)}  # (route length, IP length)


def test_type2_ip_length_must_agree_with_route_length() -> None:
    """FRR PR #21098 / CVE-2026-37460, CVE-2026-5107: RFC 7432 §7.2 allows route lengths
    33/37/49 (+3 with a second label) for IP lengths 0/32/128 and nothing else."""
    for ip_bits in (0, 32, 128, 8, 24, 64, 127, 129, 255):
        for length in range(64):
            head = RD + ESI0 + bytes(4) + b"\x30" + MAC + bytes((ip_bits,))
            body = (head + bytes(64))[:length]
            nlri = evpn(2, body)
            if (length, ip_bits) in TYPE2_VALID:
                (route,) = decode_evpn_nlri(nlri)
                assert isinstance(route, MacIpRoute) and len(route.ip) == ip_bits // 8
                assert (route.label2 is not None) == (length in (36, 40, 52))
                assert route.encode() == nlri
                assert not decode_update(evpn_update(nlri)).errors
            else:
                with pytest.raises(Malformed):
                    decode_evpn_nlri(nlri)
                assert_afi_safi_disabled(evpn_update(nlri), mp_reach(nlri))


@pytest.mark.parametrize("mac_bits", [0, 8, 47, 49, 96, 255])
def test_type2_mac_length_other_than_48(mac_bits: int) -> None:
    body = RD + ESI0 + bytes(4) + bytes((mac_bits,)) + MAC + b"\x00" + LABEL
    nlri = evpn(2, body)
    assert len(body) == 33  # the length alone would be valid
    assert_afi_safi_disabled(evpn_update(nlri), mp_reach(nlri))


def test_type2_ip_length_255() -> None:
    """openbmp copied 31 bytes into a 16-byte buffer for IP length 255."""
    for length in (33, 37, 49, 61, 64):
        body = (RD + ESI0 + bytes(4) + b"\x30" + MAC + b"\xff" + bytes(64))[:length]
        assert_afi_safi_disabled(evpn_update(evpn(2, body)), mp_reach(evpn(2, body)))


@pytest.mark.parametrize(
    ("route_type", "head", "valid"),
    [
        (3, RD + bytes(4), {(17, 32), (29, 128)}),  # RFC 7432 §7.3: 13 + 4 or 16
        (4, RD + ESI0, {(23, 32), (35, 128)}),  # RFC 7432 §7.4: 19 + 4 or 16
    ],
    ids=["type3", "type4"],
)
def test_type3_type4_ip_length_must_agree_with_route_length(
    route_type: int, head: bytes, valid: set[tuple[int, int]]
) -> None:
    for ip_bits in (0, 8, 32, 64, 128, 255):
        for length in range(48):
            body = (head + bytes((ip_bits,)) + bytes(48))[:length]
            nlri = evpn(route_type, body)
            if (length, ip_bits) in valid:
                (route,) = decode_evpn_nlri(nlri)
                assert route.route_type == route_type and len(route.originator_ip) == ip_bits // 8
                assert route.encode() == nlri
            else:
                with pytest.raises(Malformed):
                    decode_evpn_nlri(nlri)
                assert_afi_safi_disabled(evpn_update(nlri), mp_reach(nlri))


def type5(length: int, prefix_length: int) -> bytes:
    body = RD + ESI0 + bytes(4) + bytes((prefix_length,)) + bytes(64)
    return evpn(5, body[:length])


def test_type5_prefix_length_must_fit_the_layout() -> None:
    """FRR #22353 abort, GoBGP PR #3497: route length 34 is the IPv4 layout (RFC 9136 §3.1),
    so a prefix length of 33..255 there is malformed; 58 is IPv6 (up to 128)."""
    for length in (34, 58):
        for prefix_length in (0, 24, 32, 33, 64, 128, 129, 255):
            nlri = type5(length, prefix_length)
            if prefix_length <= (32 if length == 34 else 128):
                (route,) = decode_evpn_nlri(nlri)
                assert isinstance(route, IPPrefixRoute) and route.prefix_length == prefix_length
                assert len(route.prefix) == len(route.gateway) == (4 if length == 34 else 16)
                assert route.encode() == nlri
            else:
                assert_afi_safi_disabled(evpn_update(nlri), mp_reach(nlri))


@pytest.mark.parametrize("length", [0, 22, 23, 33, 35, 46, 57, 59, 255])
def test_type5_other_lengths_mixed_families(length: int) -> None:
    """IPv4 prefix + IPv6 gateway (or the reverse) is 23 + 4 + 16 + 3 = 46 bytes: neither
    layout; no other length is one either (RFC 9136 §3.1)."""
    nlri = evpn(5, (RD + ESI0 + bytes(4) + b"\x18" + bytes(255))[:length])
    assert_afi_safi_disabled(evpn_update(nlri), mp_reach(nlri))


def test_type5_host_bits_are_kept_but_not_part_of_the_key() -> None:
    """RFC 9136 §3.1: the prefix's host bits are not significant; the route re-encodes
    exactly and its RIB key equals that of the clean prefix."""
    dirty = evpn(5, RD + ESI0 + bytes(4) + b"\x18" + bytes([10, 10, 10, 10]) + bytes(4) + LABEL)
    clean = evpn(5, RD + ESI0 + bytes(4) + b"\x18" + bytes([10, 10, 10, 0]) + bytes(4) + LABEL)
    (route,) = decode_evpn_nlri(dirty)
    (other,) = decode_evpn_nlri(clean)
    assert str(route.network) == "10.10.10.0/24"
    assert route.key == other.key and route != other
    assert route.encode() == dirty
    assert not decode_update(evpn_update(dirty)).errors


@pytest.mark.parametrize("cut", [1, 2, 10, 18])
def test_route_length_larger_than_the_nlri(cut: int) -> None:
    """The route's length byte promises more than the attribute holds."""
    nlri = (type2() + TYPE3)[: len(type2()) + cut]
    assert_afi_safi_disabled(evpn_update(nlri), mp_reach(nlri))


@pytest.mark.parametrize("route_type", [1, 2, 3, 4, 5, 6, 0xFE])
def test_nlri_cut_at_the_route_type_byte(route_type: int) -> None:
    """GoBGP bad-len corpus: MP_UNREACH with one byte of EVPN NLRI (no length byte)."""
    attribute = mp_unreach(bytes((route_type,)))
    assert_afi_safi_disabled(update(attribute), attribute)
    attribute = mp_unreach(TYPE3 + bytes((route_type,)))
    assert_afi_safi_disabled(update(attribute), attribute)


@pytest.mark.parametrize("route_type", [0, 6, 7, 8, 9, 10, 11, 0x7F, 0xFE, 0xFF])
@pytest.mark.parametrize("body", [b"", b"\xaa\xbb\xcc", bytes(255)], ids=["empty", "3-bytes", "255-bytes"])
def test_unknown_route_types_are_kept(route_type: int, body: bytes) -> None:
    """RFC 7606 §5.4 / RFC 7432 §7: an unknown route type is skipped by its length and
    kept opaque; it never resets the session nor spoils the routes around it."""
    nlri = TYPE3 + evpn(route_type, body) + TYPE3
    for raw in (evpn_update(nlri), update(mp_unreach(nlri))):
        msg = decode_update(raw)
        assert not msg.errors
        routes = (msg.mp_reach or msg.mp_unreach).nlri
        assert [r.route_type for r in routes] == [3, route_type, 3]
        assert isinstance(routes[1], UnknownRoute) and routes[1].raw == body
        assert msg.encode() == raw


def test_mp_unreach_without_nlri_is_end_of_rib() -> None:
    """RFC 4724 §2: an UPDATE with only an empty MP_UNREACH_NLRI for 25/70 is End-of-RIB."""
    for raw in (update(mp_unreach(b"")), update(mp_unreach(b"", flags=0x80))):
        msg = decode_update(raw)
        assert not msg.errors and msg.end_of_rib == (AFI.L2VPN, SAFI.EVPN)
        assert msg.encode() == raw
    assert end_of_rib().encode() == update(mp_unreach(b"", flags=0x80))


def test_mp_reach_without_nlri_is_not_end_of_rib() -> None:
    msg = decode_update(update(mp_reach(b"")))
    assert not msg.errors  # no routes, so no mandatory attributes are needed
    assert msg.mp_reach is not None and msg.mp_reach.nlri == ()
    assert msg.end_of_rib is None


# =====================================================================================
# Attributes and UPDATE
# =====================================================================================


@pytest.mark.parametrize(
    ("value", "subcode"),
    [
        (struct.pack("!HBB", 25, 70, 255) + NH4, OPTIONAL_ERROR),  # next-hop length runs past the attribute
        (struct.pack("!HBB", 25, 70, 4) + NH4, OPTIONAL_ERROR),  # no reserved byte
        (struct.pack("!HBB", 25, 70, 0) + b"\x00" + TYPE3, OPTIONAL_ERROR),  # EVPN next hop of 0 bytes
        (struct.pack("!HBB", 25, 70, 5) + NH4 + b"\x01\x00" + TYPE3, OPTIONAL_ERROR),  # ... of 5 bytes
        (struct.pack("!HBB", 25, 70, 4) + NH4 + b"\x00" + TYPE3[:-1], OPTIONAL_ERROR),  # NLRI cut
        (struct.pack("!HB", 25, 70), LENGTH),  # AFI/SAFI only: shorter than any MP_REACH_NLRI
        (struct.pack("!HBB", 25, 70, 4), LENGTH),
    ],
    ids=["nh-overrun", "no-reserved", "nh-0", "nh-5", "nlri-cut", "afi-safi-only", "nh-length-only"],
)
def test_mp_reach_malformed(value: bytes, subcode: int) -> None:
    """CVE-2023-46752: RFC 7606 §7.11, AFI/SAFI disable, data = the attribute."""
    attribute = attr(0x90, 14, value)
    msg = decode_update(update(attribute, ORIGIN, AS_PATH))
    assert_error(msg, AFI_SAFI, subcode, attribute)
    assert msg.mp_reach is None


@pytest.mark.parametrize("value", [b"", b"\x00", b"\x00\x19"])
def test_mp_attributes_too_short_for_afi_safi_reset_the_session(value: bytes) -> None:
    """Without a readable AFI/SAFI there is nothing to disable: session reset (RFC 7606 §7.11).
    It is raised, not reported on the UPDATE."""
    for code in (14, 15):
        attribute = attr(0x90, code, value)
        assert_raises(update(attribute, ORIGIN, AS_PATH), 3, LENGTH, attribute)
        flagged = attr(0x50, code, value)  # and with wrong flags too
        assert_raises(update(flagged), 3, FLAGS, flagged)


def test_mp_reach_next_hop_length_must_suit_the_family() -> None:
    """RFC 7606 §7.11: an IPv6 next hop is 16 or 32 bytes (RFC 2545 §3); an IPv4 unicast one
    4, or 16/32 with RFC 8950.  (The FRR vector 'IPv6-nhlen' is this case.)"""
    v6_nlri = b"\x40" + bytes.fromhex("20010db800000001")
    for afi, length, ok in [
        (2, 4, False),
        (2, 5, False),
        (2, 16, True),
        (2, 32, True),
        (2, 24, False),
        (1, 4, True),
        (1, 16, True),
        (1, 32, True),
        (1, 8, False),
        (1, 12, False),
    ]:
        nlri = v6_nlri if afi == 2 else PREFIX
        attribute = mp_reach(nlri, afi, 1, next_hop=bytes(length))
        msg = decode_update(update(attribute, ORIGIN, AS_PATH))
        if ok:
            assert not msg.errors and msg.mp_reach.nlri
        else:
            assert_error(msg, AFI_SAFI, OPTIONAL_ERROR, attribute)


def test_unknown_transitive_attribute_alone() -> None:
    """CVE-2023-46753: no routes, no mandatory attributes needed; the unknown optional
    transitive attribute is kept for re-advertisement with the partial bit (RFC 4271 §5)."""
    raw = update(attr(0xC0, 0xF0, b"\x01\x02"))
    msg = decode_update(raw)
    assert not msg.errors and msg.end_of_rib is None
    (unknown,) = msg.attributes
    assert isinstance(unknown, UnknownAttribute) and unknown.value == b"\x01\x02"
    assert unknown.for_readvertisement().flags == 0xE0
    assert msg.encode() == raw
    non_transitive = decode_update(update(attr(0x80, 0xF0, b"\x01"))).attributes[0]
    assert non_transitive.for_readvertisement() is None


def test_unknown_transitive_attribute_with_routes_lacks_mandatory_ones() -> None:
    msg = decode_update(update(attr(0xC0, 0xF0, b"\x01\x02"), nlri=PREFIX))
    assert [(e.subcode, e.data, e.action) for e in msg.errors] == [(MISSING, bytes((t,)), TAW) for t in (1, 2, 3)]
    msg = decode_update(update(attr(0xC0, 0xF0, b"\x01\x02"), mp_reach(TYPE3)))
    assert [(e.subcode, e.data, e.action) for e in msg.errors] == [(MISSING, bytes((t,)), TAW) for t in (1, 2)]


def test_mp_unreach_plus_ipv4_nlri_without_mandatory_attributes() -> None:
    """CVE-2023-47234: the IPv4 NLRI need ORIGIN, AS_PATH, NEXT_HOP (RFC 4271 §5, RFC 7606
    §3 d: treat-as-withdraw); the withdrawals stay readable so they can be applied."""
    msg = decode_update(update(mp_unreach(TYPE3), nlri=PREFIX))
    assert [(e.subcode, e.data, e.action) for e in msg.errors] == [(MISSING, bytes((t,)), TAW) for t in (1, 2, 3)]
    assert [r.route_type for r in msg.mp_unreach.nlri] == [3]
    assert [str(p) for p in msg.nlri] == ["198.19.0.0/24"]
    assert msg.end_of_rib is None


@pytest.mark.parametrize(
    "attributes",
    [
        [mp_unreach(b""), attr(0x40, 1, b"\x00\x00")],  # malformed ORIGIN dropped
        [attr(0x40, 1, b"\x07")],  # bad ORIGIN value: the UPDATE would be empty
        [attr(0x40, 15, struct.pack("!HB", 25, 70))],  # MP_UNREACH with wrong flags
        [mp_unreach(b""), attr(0x80, 14, struct.pack("!HB", 25, 70))],  # truncated MP_REACH
        [mp_unreach(b"\x02")],  # malformed EVPN NLRI in MP_UNREACH
        [attr(0xC0, 16, bytes(7))],  # bad extended communities
        [mp_unreach(b""), attr(0x40, 1, b"\x00"), attr(0x40, 1, b"\x00")],  # a repeated attribute
    ],
    ids=[
        "unreach+bad-origin",
        "bad-origin-only",
        "unreach-bad-flags",
        "unreach+short-reach",
        "unreach-bad-nlri",
        "bad-extcomm",
        "repeat",
    ],
)
def test_malformed_attribute_never_looks_like_end_of_rib(attributes: list[bytes]) -> None:
    """CVE-2023-47235: dropping a malformed attribute must not turn an UPDATE into an
    End-of-RIB marker or an empty withdraw."""
    msg = decode_update(update(*attributes))
    assert msg.errors and msg.action is not None
    assert msg.end_of_rib is None


@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 16])
def test_next_hop_length_other_than_4(length: int) -> None:
    """CVE-2026-30405: RFC 7606 §7.3, treat-as-withdraw, Attribute Length Error."""
    bad = attr(0x40, 3, bytes(range(1, length + 1)))
    msg = decode_update(update(ORIGIN, AS_PATH, bad, nlri=PREFIX))
    assert_error(msg, TAW, LENGTH, bad)  # and no second "missing NEXT_HOP" error
    assert msg.attribute(3) is None


def as_segment(asns: list[int], width: int) -> bytes:
    return bytes((2, len(asns))) + b"".join(a.to_bytes(width, "big") for a in asns)


def test_as4_path_before_as_path() -> None:
    """CVE-2026-41643: attribute order must not matter when merging AS4_PATH (RFC 6793 §4.2.3)."""
    as_path = attr(0x40, 2, as_segment([65001, 23456, 23456], 2))
    as4_path = attr(0xC0, 17, as_segment([70000, 80000], 4))
    for attributes in ([ORIGIN, as4_path, as_path, NEXT_HOP], [ORIGIN, as_path, as4_path, NEXT_HOP]):
        raw = update(*attributes, nlri=PREFIX)
        msg = decode_update(raw, TWO_OCTET)
        assert not msg.errors
        assert {s.type for s in msg.as_path.segments} == {2} and msg.as_path.length == 3
        assert [asn for s in msg.as_path.segments for asn in s.asns] == [65001, 70000, 80000]
        assert msg.encode(TWO_OCTET) == raw
    longer = attr(0xC0, 17, as_segment([1, 70000, 80000, 90000], 4))  # longer than AS_PATH: ignored
    msg = decode_update(update(ORIGIN, longer, as_path, NEXT_HOP, nlri=PREFIX), TWO_OCTET)
    assert msg.as_path.segments == (AsPathSegment(2, (65001, 23456, 23456)),)
    broken = attr(0xC0, 17, as_segment([70000, 80000], 4)[:-1])  # malformed AS4_PATH: discarded (RFC 6793 §6)
    msg = decode_update(update(ORIGIN, broken, as_path, NEXT_HOP, nlri=PREFIX), TWO_OCTET)
    assert_error(msg, DISCARD, 11, broken)
    assert msg.as_path.segments == (AsPathSegment(2, (65001, 23456, 23456)),)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff" + bytes(2),  # withdrawn length far beyond the message
        b"\x00\x02\x18\xc6",  # withdrawn routes leave no room for the attribute length
        b"\x00\x00\xff\xff" + ORIGIN,  # total path attribute length beyond the message
        b"\x00\x00\x00\x05" + ORIGIN[:3],
    ],
    ids=["withdrawn-ffff", "withdrawn-no-room", "attrs-ffff", "attrs-plus-1"],
)
def test_length_fields_larger_than_the_message(body: bytes) -> None:
    """CVE-2026-37462: Malformed Attribute List, session reset (RFC 4271 §6.3, RFC 7606 §4)."""
    error = assert_raises(frame(2, body), 3, MALFORMED_LIST)
    assert len(error.data) <= len(body)


@pytest.mark.parametrize("length", [0, 1, 7, 9, 15, 17])
def test_extended_communities_length_not_a_multiple_of_8(length: int) -> None:
    """CVE-2026-37461: RFC 7606 §7.14, a non-zero multiple of 8, else treat-as-withdraw."""
    bad = attr(0xC0, 16, bytes.fromhex("0002fde800000064") * 3)[: 3 + length]
    bad = bad[:2] + bytes((length,)) + bad[3:]
    msg = decode_update(update(ORIGIN, AS_PATH, bad, mp_reach(TYPE3)))
    assert_error(msg, TAW, LENGTH, bad)


def test_ipv6_specific_extended_community_is_not_interpreted() -> None:
    """CVE-2011-3327 class: a truncated IPv6-address-specific extended community (type 25,
    RFC 5701).  We do not interpret type 25, so it is an unknown optional transitive
    attribute: kept byte-exact and passed on, never parsed (RFC 4271 §5)."""
    bad = attr(0xC0, 25, bytes(19))
    raw = update(ORIGIN, AS_PATH, bad, mp_reach(TYPE3))
    msg = decode_update(raw)
    assert not msg.errors
    assert isinstance(msg.attribute(25), UnknownAttribute) and msg.attribute(25).value == bytes(19)
    assert msg.encode() == raw


@pytest.mark.parametrize(
    ("value", "subcode"),
    [
        (b"", LENGTH),
        (b"\x00\x06\x00\x00", LENGTH),  # shorter than flags + type + label
        (b"\x00\x06" + LABEL, OPTIONAL_ERROR),  # ingress replication without an endpoint
        (b"\x00\x06" + LABEL + NH4[:3], OPTIONAL_ERROR),  # endpoint of 3 bytes
        (b"\x00\x06" + LABEL + NH4 + b"\x00", OPTIONAL_ERROR),  # 5 bytes
        (b"\x00\x06" + LABEL + bytes(17), OPTIONAL_ERROR),
    ],
    ids=["empty", "4-bytes", "ir-no-endpoint", "ir-3", "ir-5", "ir-17"],
)
def test_pmsi_tunnel_truncated_or_wrong_tunnel_id_length(value: bytes, subcode: int) -> None:
    """tcpdump bgp_pmsi_tunnel-oobr: PMSI_TUNNEL (RFC 6514 §5) shorter than its fixed part,
    or an ingress-replication tunnel id that is not an IPv4/IPv6 address (RFC 8365 §5.1.3)."""
    bad = attr(0xC0, 22, value)
    assert_error(decode_update(update(ORIGIN, AS_PATH, mp_reach(TYPE3), bad)), TAW, subcode, bad)


def test_pmsi_tunnel_other_types_keep_their_tunnel_id() -> None:
    good = attr(0xC0, 22, b"\x00\x03" + LABEL + NH4 + NH4)  # PIM-SSM tree: (root, group)
    raw = update(ORIGIN, AS_PATH, mp_reach(TYPE3), good)
    msg = decode_update(raw)
    assert not msg.errors and msg.attribute(22).tunnel_id == NH4 + NH4 and msg.attribute(22).endpoint is None
    assert msg.encode() == raw


def test_tunnel_encapsulation_tlv_beyond_the_attribute() -> None:
    """CVE-2024-44070, CVE-2023-38802: we do not interpret attribute 23 (RFC 9012), so a
    TLV length beyond it is never followed: the attribute is kept opaque, byte-exact."""
    bad = attr(0xC0, 23, struct.pack("!HH", 8, 0xFFFF) + b"\x01\x02")
    raw = update(ORIGIN, AS_PATH, mp_reach(TYPE3), bad)
    msg = decode_update(raw)
    assert not msg.errors and msg.attribute(23).value == bad[3:]
    assert msg.encode() == raw


@pytest.mark.parametrize(
    ("code", "value", "flags", "action"),
    [
        (1, b"\x00", 0xC0, TAW),  # ORIGIN marked optional
        (1, b"\x00", 0x00, TAW),  # ... and non-transitive
        (2, b"", 0x60, TAW),  # AS_PATH with the partial bit (RFC 4271 §4.3)
        (3, NH4, 0x80, TAW),  # NEXT_HOP optional
        (4, bytes(4), 0xC0, TAW),  # MED marked transitive
        (5, bytes(4), 0x80, TAW),  # LOCAL_PREF optional
        (6, b"", 0x80, DISCARD),  # ATOMIC_AGGREGATE (RFC 7606 §7.6)
        (7, bytes(8), 0x80, DISCARD),  # AGGREGATOR non-transitive (§7.7)
        (8, bytes(4), 0x80, TAW),  # COMMUNITIES non-transitive
        (9, NH4, 0x40, TAW),  # ORIGINATOR_ID well-known
        (16, bytes(8), 0x40, TAW),  # EXTENDED_COMMUNITIES well-known
        (22, b"\x00\x06" + LABEL + NH4, 0x80, TAW),  # PMSI_TUNNEL non-transitive
    ],
)
def test_attribute_with_wrong_flags(code: int, value: bytes, flags: int, action: Action) -> None:
    """RFC 7606 §3 (c): the attribute is malformed and handled as its type prescribes."""
    bad = attr(flags, code, value)
    others = [a for a in (ORIGIN, AS_PATH, NEXT_HOP) if a[1] != code]
    msg = decode_update(update(*others, bad, nlri=PREFIX))
    errors = [e for e in msg.errors if e.subcode != MISSING]
    assert [(e.subcode, e.action, e.data) for e in errors] == [(FLAGS, action, bad)]
    assert msg.attribute(code) is None


@pytest.mark.parametrize("code", [14, 15])
def test_mp_attribute_with_wrong_flags_disables_the_family(code: int) -> None:
    bad = mp_reach(TYPE3, flags=0xD0) if code == 14 else mp_unreach(TYPE3, flags=0xD0)
    assert_error(decode_update(update(ORIGIN, AS_PATH, bad)), AFI_SAFI, FLAGS, bad)


def test_repeated_attributes() -> None:
    """RFC 7606 §3 (g): repeats of an attribute are discarded; a repeated MP_REACH_NLRI or
    MP_UNREACH_NLRI resets the session (Malformed Attribute List)."""
    second = attr(0x40, 1, b"\x02")
    msg = decode_update(update(ORIGIN, second, AS_PATH, NEXT_HOP, nlri=PREFIX))
    assert_error(msg, DISCARD, MALFORMED_LIST, second)
    assert msg.attribute(1).value == 0
    for repeated in (mp_reach(TYPE3), mp_unreach(TYPE3)):
        assert_raises(update(ORIGIN, AS_PATH, repeated, repeated), 3, MALFORMED_LIST, repeated)


def test_attribute_length_beyond_the_attribute_field() -> None:
    """RFC 7606 §4: the last attribute overruns the path attributes, or too few bytes are
    left for an attribute header: treat-as-withdraw; the data is what is left, never more."""
    overrun = attr(0x40, 5, bytes(4))[:-2]  # LOCAL_PREF declares 4, 2 follow
    msg = decode_update(update(ORIGIN, AS_PATH, NEXT_HOP, overrun, nlri=PREFIX))
    assert_error(msg, TAW, LENGTH, overrun)
    for tail in (b"\x40", b"\x40\x05", b"\x50\x05\x00"):
        msg = decode_update(update(ORIGIN, AS_PATH, NEXT_HOP, tail, nlri=PREFIX))
        assert_error(msg, TAW, MALFORMED_LIST, tail)


@pytest.mark.parametrize("code", [0, 255, 254, 241])
def test_reserved_and_unknown_attribute_types(code: int) -> None:
    """CVE-2019-5892: an unknown optional attribute is kept opaque; an unknown one marked
    well-known is an Unrecognized Well-known Attribute error (RFC 4271 §6.3), data = it."""
    optional = attr(0xC0, code, b"\x00" * 3)
    raw = update(ORIGIN, AS_PATH, optional, mp_reach(TYPE3))
    msg = decode_update(raw)
    assert not msg.errors and isinstance(msg.attribute(code), UnknownAttribute)
    assert msg.encode() == raw
    well_known = attr(0x40, code, b"\x00" * 3)
    assert_raises(update(ORIGIN, AS_PATH, well_known, mp_reach(TYPE3)), 3, UNRECOGNIZED_WELL_KNOWN, well_known)


def test_mac_mobility_sequence_at_its_maximum() -> None:
    """RFC 7432 §7.7/§15: the sequence number is 32 bits; 0xFFFFFFFF decodes and re-encodes,
    and the codec refuses to build the wrapped value (sequence arithmetic is the RIB's job)."""
    raw = bytes.fromhex("06000100ffffffff")
    community = decode_ext_community(raw)
    assert community == MacMobility(0xFFFFFFFF, sticky=True)
    assert community.encode() == raw
    with pytest.raises(ValueError):
        MacMobility(community.sequence + 1)
    message = update(ORIGIN, AS_PATH, attr(0xC0, 16, raw), mp_reach(type2()))
    msg = decode_update(message)
    assert not msg.errors and msg.attribute(16) == ExtendedCommunities([community], flags=0xC0)
    assert msg.encode() == message


def attribute_spans(field: bytes) -> list[bytes]:
    """The byte ranges of the attributes in a path attribute field (each clipped to the field)."""
    spans, pos = [], 0
    while pos < len(field):
        extended = field[pos] & 0x10
        if len(field) - pos < (4 if extended else 3):
            spans.append(field[pos:])
            break
        length = struct.unpack_from("!H", field, pos + 2)[0] if extended else field[pos + 2]
        stop = pos + (4 if extended else 3) + length
        spans.append(field[pos:stop])
        pos = stop
    return spans


ATTRIBUTE_PIECES = [
    ORIGIN,
    AS_PATH,
    NEXT_HOP,
    attr(0x40, 1, b"\x00\x00"),
    attr(0x40, 3, b"\x01"),
    attr(0x40, 2, b"\x02\x05\x00"),
    attr(0xC0, 16, bytes(9)),
    attr(0xC0, 8, bytes(3)),
    attr(0x80, 10, bytes(5)),
    attr(0xC0, 22, b"\x00\x06"),
    mp_reach(TYPE3),
    mp_reach(type2()[:-1]),
    mp_unreach(b"\x02"),
    attr(0x40, 0xF1, b"x"),
    attr(0x80, 9, bytes(2)),
    attr(0xC0, 0xF0, bytes(300)),
    attr(0x50, 5, bytes(4)),
    attr(0xC0, 7, bytes(5)),
    attr(0x40, 6, b"\x01"),
    attr(0xC0, 32, bytes(11)),
    attr(0x80, 4, bytes(3)),
    attr(0xC0, 17, b"\x02\x01\x00"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATTRIBUTE_PIECES), max_size=8), st.binary(max_size=6), st.booleans())
def test_notification_data_never_exceeds_the_offending_attribute(pieces: list[bytes], tail: bytes, four: bool) -> None:
    """CVE-2017-15865: a NOTIFICATION echoes the offending attribute and nothing more."""
    field = b"".join(pieces) + tail
    ctx = Context(four_octet_as=four)
    spans = attribute_spans(field)
    try:
        _, errors = decode_attributes(field, ctx)
    except BGPError as exc:
        errors = [exc]
    for error in errors:
        assert error.data in spans, (error, field.hex())
        assert len(Notification.from_error(error).encode()) == 21 + len(error.data)


# =====================================================================================
# OPEN and framing
# =====================================================================================


def open_message(opt: bytes, opt_len: int | None = None) -> bytes:
    head = struct.pack("!BHH4s", 4, 65001, 90, NH4)
    return frame(1, head + bytes((len(opt) if opt_len is None else opt_len,)) + opt)


CAPS = [Multiprotocol(25, 70), FourOctetAS(4200000001), Fqdn("leaf1", "example.net")]


def test_open_with_extended_optional_parameters_length() -> None:
    """CVE-2022-40302/40318: RFC 9072 §2, 0xFF marker, 2-byte lengths."""
    msg = Open(65001, 90, "198.51.100.1", [CapabilityParameter(CAPS)], extended_parameters=True)
    raw = msg.encode()
    assert raw[28:30] == b"\xff\xff"
    decoded = decode_message(raw)
    assert decoded == msg and decoded.encode() == raw
    params = raw[32:]
    malformed = [  # what follows an optional-parameters length of 255
        b"\xff",  # the RFC 9072 marker, no extended length
        b"\xff\x00",  # one byte of it
        b"\xff" + struct.pack("!H", len(params) + 1) + params,  # length beyond the message
        b"\xff" + struct.pack("!H", len(params) - 1) + params,  # length short of it
        b"\xff" + struct.pack("!H", 4) + b"\x02\x00\x09\x01",  # parameter length runs past
        b"\xff" + struct.pack("!H", 2) + b"\x02\x00",  # parameter header (3 bytes) cut
    ]
    for rest in malformed:
        assert_raises(open_message(rest, opt_len=0xFF), 2, 0)


def test_open_ending_at_the_optional_parameters_length() -> None:
    """CVE-2022-43681: a 29-byte OPEN is complete with length 0 and malformed otherwise."""
    assert decode_message(open_message(b"")) == Open(65001, 90, "198.51.100.1")
    for claimed in (1, 2, 254, 255):
        assert_raises(open_message(b"", opt_len=claimed), 2, 0)


@pytest.mark.parametrize(
    "opt",
    [
        b"\x02\x04\x41\x04\x00\x00",  # 4-octet AS capability of 4 bytes in a 4-byte parameter
        b"\x02\x02\x41\x04",  # capability length past the parameter
        b"\x02\x01\x41",  # capability header cut
        b"\x02\x05\x01\x03\x00\x19\x46",  # multiprotocol value of 3 bytes
        b"\x02\x03\x49\x01\x05",  # FQDN whose host name runs past
        b"\x02\x07\x49\x05\x02ab\x09c",  # FQDN domain length lying (9, 1 follows)
        b"\x02\x07\x49\x05\x02ab\x00\xff",  # FQDN with a byte after the domain
        b"\x02\x04\x41\x02\x00\x01",  # 4-octet AS of 2 bytes
        b"\x02\x06\x45\x04\x00\x19\x46\x04",  # ADD-PATH send/receive 4
    ],
)
def test_malformed_capabilities(opt: bytes) -> None:
    """CVE-2026-5122 and kin: OPEN Message Error (RFC 5492 §3 lengths, RFC 7911 §4)."""
    assert_raises(open_message(opt), 2, 0)


@pytest.mark.parametrize("length", [0, 1, 18])
def test_message_length_below_19(length: int) -> None:
    raw = frame(4, b"")[:16] + struct.pack("!HB", length, 4)
    assert_raises(raw, 1, 2, struct.pack("!H", length))
    reader = MessageReader()
    reader.feed(raw)
    with pytest.raises(BGPError) as info:
        next(reader)
    assert (info.value.code, info.value.subcode) == (1, 2)


def test_message_length_above_the_maximum() -> None:
    """RFC 4271 §6.1 (4096), RFC 8654 §4 (65535 once negotiated; OPEN/KEEPALIVE stay 4096)."""
    big = update(ORIGIN, AS_PATH, mp_reach(TYPE3 * 256))
    assert len(big) > 4096
    assert_raises(big, 1, 2, big[16:18])
    assert decode_message(big, Context(extended_message=True)).encode(Context(extended_message=True)) == big
    big_open = with_length(open_message(b"\x09\xff" + bytes(255), opt_len=0) + bytes(4096))  # OPEN of 4384 bytes
    assert_raises(big_open, 1, 2, big_open[16:18], ctx=Context(extended_message=True))
    for msg_type, body in ((4, b"\x00"), (3, b"")):  # KEEPALIVE of 20, NOTIFICATION of 19
        assert_raises(frame(msg_type, body), 1, 2)
    reader = MessageReader(max_size=4096)
    reader.feed(big[:19])
    with pytest.raises(BGPError):
        next(reader)


def test_marker_not_all_ones() -> None:
    raw = b"\xfe" + frame(4, b"")[1:]
    assert_raises(raw, 1, 1)
    reader = MessageReader()
    reader.feed(raw)
    with pytest.raises(BGPError) as info:
        list(reader)
    assert (info.value.code, info.value.subcode) == (1, 1)


@pytest.mark.parametrize("msg_type", [0, 6, 7, 128, 255])
def test_unknown_message_type(msg_type: int) -> None:
    assert_raises(frame(msg_type, bytes(8)), 1, 3, bytes((msg_type,)))


def test_stream_stopping_in_the_middle_of_a_message() -> None:
    raw = evpn_update(type2() + TYPE3)
    stream = frame(4, b"") + raw
    for cut in range(len(stream)):
        reader = MessageReader()
        reader.feed(stream[:cut])
        got = list(reader)
        assert got == ([frame(4, b"")] if cut >= 19 else [])
        assert reader.pending == cut - 19 * len(got)
        reader.feed(stream[cut:])
        assert list(reader) == ([raw] if cut >= 19 else [frame(4, b""), raw])
        assert reader.pending == 0


def test_route_refresh_with_orf_entries() -> None:
    """A subtype-0 ROUTE-REFRESH may carry ORF entries (RFC 5291 §4): kept opaque."""
    raw = frame(5, struct.pack("!HBB", 1, 0, 1) + b"\x01")
    assert decode_message(raw) == RouteRefresh(1, 1, 0, b"\x01")
    for subtype in (1, 2):
        assert decode_message(frame(5, struct.pack("!HBB", 25, subtype, 70))) == RouteRefresh(25, 70, subtype)


@pytest.mark.parametrize("subtype", [1, 2])
def test_borr_eorr_with_a_wrong_length(subtype: int) -> None:
    """RFC 7313 §5: a BoRR/EoRR whose body is not 4 bytes is a ROUTE-REFRESH Message Error /
    Invalid Message Length, with the whole message as data."""
    bad = frame(5, struct.pack("!HBB", 25, subtype, 70) + b"\x00")
    assert_raises(bad, 7, 1, bad)


# =====================================================================================
# Corpus malformed inputs
# =====================================================================================


@pytest.mark.corpus
@pytest.mark.parametrize("name", corpus_params("gobgp-bad-len", "*"))
def test_gobgp_bad_len(name: str) -> None:
    """GoBGP's fuzz crashers: their marker is ASCII '0'*16, a Connection Not Synchronized
    error at the header (RFC 4271 §6.1).  With the marker repaired they still decode to a
    message or a BGPError; the EVPN ones (MP_UNREACH 25/70, NLRI cut after the route type)
    with the attribute length repaired too disable EVPN (RFC 7606 §7.12)."""
    data = corpus_path("gobgp-bad-len", name).read_bytes()
    assert_raises(data, 1, 1)
    reader = MessageReader()
    reader.feed(data)
    with pytest.raises(BGPError):
        list(reader)
    repaired = b"\xff" * 16 + data[16:]
    with contextlib.suppress(BGPError):
        decode_message(repaired)
    start = data.find(bytes.fromhex("800f05001946"))
    if start >= 0:
        attribute = data[start : start + 8]
        assert attribute[6] in (1, 2, 3, 4) and attribute[7] == 0  # type, zero length
        assert_afi_safi_disabled(update(attribute), attribute)


FRR_DISAGREEMENTS = {
    # We do not decode labelled VPN NLRI (SAFI 128): they are kept opaque, so FRR's
    # prefix-length checks on them cannot fail here.
    "IPv4-VPNv4-bogus-plen": "VPN NLRI opaque",
    "IPv4-VPNv4-plen1-short (plen 89)": "VPN NLRI opaque",
    "IPv4-VPNv4-plen1-long (plen 120)": "VPN NLRI opaque",
    "IPv4-VPNv4-plenn-long (trailing plen 89)": "VPN NLRI opaque",
    "IPv4-VPNv4-plenn-short (2nd plen 90)": "VPN NLRI opaque",
    "IPv4-VPNv4-0-nlri (3rd NLRI plen 0 bogus)": "VPN NLRI opaque",
    # FRR's test declares an attribute length longer than the bytes it gives (the ::/0
    # NLRI is "missing"); the transcribed value alone is a well-formed MP_REACH_NLRI with
    # a 32-byte next hop and no NLRI.
    "IPv6-bug (bug#385, nh 32, missing ::/0 NLRI)": "declared length lost in transcription",
}


@pytest.mark.corpus
@pytest.mark.parametrize("vector", vector_params("malformed_vectors.txt"))
def test_malformed_vector(vector: Any) -> None:
    text = vector.meaning
    if "ExtComm attr value of 9 bytes" in text:  # yabgp: UPDATE error subcode 5
        bad = attr(0xC0, 16, vector.data)
        assert_error(decode_update(update(ORIGIN, AS_PATH, bad, mp_reach(TYPE3))), TAW, LENGTH, bad)
    elif "gobgp" in vector.source:
        name = vector.source.split("bad-len/")[1].split("@")[0]
        assert vector.data == corpus_path("gobgp-bad-len", name).read_bytes()
        assert_raises(vector.data, 1, 1)
    elif "FRRouting" in vector.source:
        case = text.split("case '")[1].split("', expected")[0]
        code = 14 if text.startswith("MP_REACH") else 15
        attribute = attr(0x90, code, vector.data)
        msg = decode_update(update(attribute, ORIGIN, AS_PATH))
        parsed = not msg.errors
        if case in FRR_DISAGREEMENTS:
            assert parsed and "SHOULD_ERR" in text  # a known, documented disagreement
        elif "SHOULD_PARSE" in text:
            assert parsed, msg.errors
            assert msg.encode() == update(attribute, ORIGIN, AS_PATH)
        else:
            assert "SHOULD_ERR" in text
            assert_error(msg, AFI_SAFI, only_error(msg).subcode, attribute)
    else:
        pytest.fail(f"no checker for {text!r}")


@pytest.mark.corpus
@pytest.mark.parametrize("name", MALFORMED_TCPDUMP)
def test_tcpdump_malformed_capture(name: str) -> None:
    """tcpdump's out-of-bounds-read regression inputs: each packet's TCP payload, from the
    start and from every marker in it, decodes to messages or BGPError -- nothing else."""
    payloads = tcp_payloads(corpus_path("tcpdump", name))
    assert payloads
    outcomes: Counter[str] = Counter()
    for _, payload in payloads:
        starts = {0} | {i for i in range(len(payload)) if payload.startswith(b"\xff" * 16, i)}
        for start in sorted(starts):
            messages, _, framing_error = split_messages(payload[start:])
            outcomes["framing error" if framing_error else "framed"] += 1
            for raw in messages:
                for ctx in (Context(), TWO_OCTET):
                    try:
                        decode_message(raw, ctx)
                        outcomes["decoded"] += 1
                    except BGPError:
                        outcomes["BGPError"] += 1
    assert outcomes["decoded"] + outcomes["BGPError"] + outcomes["framing error"] > 0


@pytest.mark.corpus
def test_tcpdump_pmsi_tunnel_oobr_is_a_session_reset() -> None:
    """The capture holds 46 bytes of a 45-byte UPDATE whose total path attribute length
    (1714) runs past it: Malformed Attribute List (RFC 4271 §6.3)."""
    ((_, payload),) = tcp_payloads(corpus_path("tcpdump", "bgp_pmsi_tunnel-oobr.pcap"))
    messages, trailing, error = split_messages(payload)
    assert len(messages) == 1 and len(messages[0]) == 45 and len(trailing) == 1 and error is None
    assert_raises(messages[0], 3, MALFORMED_LIST)


# =====================================================================================
# Every truncation of every golden message; random bytes
# =====================================================================================


def with_length(raw: bytes | bytearray) -> bytes:
    """``raw`` with its header length set to its size."""
    return bytes(raw[:16]) + struct.pack("!H", len(raw)) + bytes(raw[18:])


def consistent_truncations(raw: bytes) -> list[bytes]:
    """Cut each attribute value of an UPDATE at every point, fixing the attribute length,
    the total path attribute length and the header; for an OPEN, cut the optional
    parameters and fix their length.  These reach the attribute and NLRI decoders, where
    plain cuts mostly stop at the total length check."""
    out = []
    if raw[18] == 2:
        withdrawn_len = struct.unpack_from("!H", raw, 19)[0]
        start = 21 + withdrawn_len
        if start + 2 > len(raw):
            return out
        attr_len = struct.unpack_from("!H", raw, start)[0]
        field = raw[start + 2 : start + 2 + attr_len]
        nlri = raw[start + 2 + attr_len :]
        pos = 0
        for span in attribute_spans(field):
            head = 4 if span[0] & 0x10 else 3
            for cut in range(max(len(span) - head, 0)):
                value = span[head : head + cut]
                new = span[:2] + (struct.pack("!H", cut) if head == 4 else bytes((cut,))) + value
                new_field = field[:pos] + new + field[pos + len(span) :]
                out.append(with_length(raw[:start] + struct.pack("!H", len(new_field)) + new_field + nlri))
            pos += len(span)
    elif raw[18] == 1 and raw[28] != 0xFF:
        for cut in range(29, len(raw)):
            out.append(with_length(raw[:28] + bytes((cut - 29,)) + raw[29:cut]))
    return out


@pytest.mark.corpus
def test_every_truncation_of_every_golden_message() -> None:
    """Every golden message cut at every byte (header length fixed), plus the consistent
    cuts above: a message or a BGPError, never another exception."""
    outcomes: Counter[str] = Counter()
    golden = all_golden_messages()
    assert len(golden) > 500
    for raw, ctx in golden.items():
        cuts = [with_length(raw[:n]) for n in range(19, len(raw))] + consistent_truncations(raw)
        for cut in cuts:
            try:
                msg = decode_message(cut, ctx)
            except BGPError as exc:
                outcomes[f"{exc.code}/{exc.subcode}"] += 1
                continue
            outcomes["update errors" if getattr(msg, "errors", ()) else "decoded"] += 1
    # the cuts reached past the length checks into the attribute and NLRI decoders
    assert outcomes["update errors"] > 1000 and outcomes["decoded"] > 1000, outcomes


@pytest.mark.corpus
def test_message_reader_on_truncated_golden_streams() -> None:
    """A stream cut anywhere yields the whole messages before the cut and keeps the rest."""
    golden = list(all_golden_messages())
    for raw in golden:
        for n in range(len(raw)):
            reader = MessageReader(65535)
            reader.feed(raw[:n])
            assert list(reader) == [] and reader.pending == n
    stream = b"".join(golden[:40])
    bounds = [0]
    for raw in golden[:40]:
        bounds.append(bounds[-1] + len(raw))
    for n in range(0, len(stream), 7):
        reader = MessageReader(65535)
        reader.feed(stream[:n])
        count = sum(1 for _ in reader)
        assert count == sum(1 for b in bounds[1:] if b <= n)


@settings(max_examples=400, deadline=None)
@given(
    st.binary(max_size=200),
    st.sampled_from([Context(), TWO_OCTET, Context(extended_message=True, add_path={(25, 70), (1, 1)})]),
)
def test_random_bytes_decode_or_raise_bgp_error(data: bytes, ctx: Context) -> None:
    """Random bytes, and random bytes behind a valid marker and length."""
    for raw in (data, with_length(b"\xff" * 18 + data)):
        try:
            msg = decode_message(raw, ctx)
        except BGPError:
            continue
        msg.encode(ctx)  # whatever decoded can be encoded again


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5), st.binary(max_size=300), st.sampled_from([Context(), TWO_OCTET]))
def test_random_bodies_of_every_type(msg_type: int, body: bytes, ctx: Context) -> None:
    with contextlib.suppress(BGPError):
        decode_message(frame(msg_type, body), ctx)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_evpn_nlri_raise_only_malformed(data: bytes, add_path: bool) -> None:
    try:
        routes = decode_evpn_nlri(data, add_path)
    except Malformed:
        return
    assert b"".join(r.encode() for r in routes) == data


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=10))
def test_message_reader_any_chunking_terminates(chunks: list[bytes]) -> None:
    """Feeding arbitrary chunks: every call returns, messages are whole, nothing is lost."""
    reader = MessageReader()
    fed = taken = 0
    for chunk in chunks:
        reader.feed(b"\xff" * 16 + chunk if len(chunk) % 2 else chunk)
        fed += len(chunk) + (16 if len(chunk) % 2 else 0)
        try:
            for raw in reader:
                assert raw[:16] == b"\xff" * 16 and struct.unpack_from("!H", raw, 16)[0] == len(raw)
                taken += len(raw)
        except BGPError:
            return
        assert taken + reader.pending == fed


@pytest.mark.corpus
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_golden_messages(data: st.DataObject) -> None:
    """A few bytes of a golden EVPN message changed: a message or a BGPError."""
    raw = bytearray(data.draw(st.sampled_from(evpn_golden())))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(19, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        msg = decode_message(bytes(raw), data.draw(st.sampled_from([Context(), TWO_OCTET])))
    except BGPError:
        return
    msg.encode(Context(extended_message=True))


@functools.cache
def evpn_golden() -> list[bytes]:
    """The EVPN UPDATEs of the golden captures and vectors."""
    out = [evpn_update(type2(NH4) + TYPE3)]
    for name in (
        "tcpdump/bgp-evpn-pkt-1.pcap",
        "tcpdump/bgp-evpn-pkt-2.pcap",
        "tcpdump/bgp-encap.pcap",
        "ryu/evpn_nlri_ip_prefix.pcap",
    ):
        out += [raw for raw, _ in golden_messages(name)]
    out += [v.data for v in load_vectors("evpn_update_and_attr_vectors.txt") if v.meaning.startswith("FULL UPDATE")]
    return out
