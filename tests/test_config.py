"""Tests for the TOML configuration: loading, every validation rule, and the docs' examples."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from evpn.config import (
    FAMILIES,
    Config,
    DataplaneConfig,
    PeerConfig,
    SpeakerConfig,
    VniConfig,
    VrfConfig,
    family_name,
    load_config,
    parse_config,
)
from evpn.errors import ConfigError
from evpn.types import RouteDistinguisher
from evpn.wire.extcommunities import RouteTarget
from evpn.wire.prefixes import Prefix

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

# The example of the issue, byte for byte.
EXAMPLE = """\
[speaker]
asn = 65001
router_id = "198.18.2.1"
listen = "198.18.2.1:179"   # "none" = do not listen
hold_time = 90

[[peers]]
address = "198.18.2.2"
asn = 65002
passive = false             # optional: local_address, password, hold_time, families = ["l2vpn-evpn"]
"""

EXAMPLE_CONFIG = Config(
    speaker=SpeakerConfig(asn=65001, router_id="198.18.2.1", listen=("198.18.2.1", 179), hold_time=90),
    peers=(PeerConfig(address="198.18.2.2", asn=65002, passive=False),),
)


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE)


def errors_of(data: Any, source: str = "config.toml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source)
    return str(info.value).split("\n")


def one_error(data: Any) -> str:
    """The single error ``data`` has (a rule broken once must be reported once)."""
    errors = errors_of(data)
    assert len(errors) == 1, errors
    return errors[0]


# --- the example and the defaults -------------------------------------------------------


def test_example_loads_exactly(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    config = load_config(path)
    assert config == EXAMPLE_CONFIG
    # Spelled out, so that a changed default cannot slip through the equality above.
    assert config.speaker.listen == ("198.18.2.1", 179)
    assert config.speaker.connect_retry == 30.0
    (peer,) = config.peers
    assert (peer.local_address, peer.password, peer.hold_time) == (None, None, None)
    assert peer.families == ("l2vpn-evpn",)
    assert peer.afi_safis == ((25, 70),)
    assert (peer.port, peer.connect_retry) == (179, 30.0)
    assert peer.effective_hold_time(config.speaker) == 90


def test_load_config_takes_str_paths(tmp_path: Path) -> None:
    path = tmp_path / "speaker.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert load_config(str(path)) == EXAMPLE_CONFIG


def test_defaults_spelled_out_equal_defaults_left_out() -> None:
    minimal = {"speaker": {"asn": 65001, "router_id": "198.18.2.1"}, "peers": [{"address": "198.18.2.2", "asn": 65002}]}
    explicit = {
        "speaker": {"asn": 65001, "router_id": "198.18.2.1", "listen": "none", "hold_time": 90, "connect_retry": 30},
        "peers": [
            {
                "address": "198.18.2.2",
                "asn": 65002,
                "passive": False,
                "families": ["l2vpn-evpn"],
                "port": 179,
                "connect_retry": 30.0,
            }
        ],
    }
    expected = Config(SpeakerConfig(65001, "198.18.2.1"), (PeerConfig("198.18.2.2", 65002),))
    assert parse_config(minimal) == parse_config(explicit) == expected
    assert parse_config({"speaker": {"asn": 65001, "router_id": "198.18.2.1"}}).peers == ()


def to_document(config: Config) -> dict[str, Any]:
    """Write a Config back as the TOML document that means it (the inverse of parse_config)."""
    speaker = {
        key: value for key, value in attrs.asdict(config.speaker).items() if value is not None or key == "listen"
    }
    listen = speaker.pop("listen")
    if listen is None:
        speaker["listen"] = "none"
    else:
        host, port = listen
        speaker["listen"] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    peers = []
    for peer in config.peers:
        table = {key: value for key, value in attrs.asdict(peer).items() if value is not None}
        table["families"] = list(table["families"])
        peers.append(table)
    return {"speaker": speaker, "peers": peers}


@pytest.mark.parametrize(
    "config",
    [
        Config(SpeakerConfig(1, "10.0.0.1")),
        Config(SpeakerConfig(65001, "198.18.2.1"), (PeerConfig("198.18.2.2", 65002),)),
        Config(
            SpeakerConfig(
                4200000000,
                "198.18.0.1",
                listen=("2001:db8::1", 1179),
                hold_time=0,
                connect_retry=0.5,
                cluster_id="198.18.0.9",
            ),
            (
                PeerConfig(
                    "2001:db8::2",
                    4294967295,
                    local_address="2001:db8::1",
                    passive=True,
                    password="s3cret",
                    hold_time=3,
                    families=("ipv6-unicast", "l2vpn-evpn"),
                    port=65535,
                    connect_retry=2.5,
                ),
                PeerConfig("198.18.0.3", 65003, families=("ipv4-unicast",)),
                PeerConfig("198.18.0.4", 4200000000, route_reflector_client=True),
            ),
        ),
    ],
    ids=["speaker-only", "defaults", "everything-set"],
)
def test_round_trip(config: Config) -> None:
    assert parse_config(to_document(config)) == config


def test_peers_inherit_the_speakers_connect_retry() -> None:
    data = example()
    data["speaker"]["connect_retry"] = 5
    data["peers"].append({"address": "198.18.2.3", "asn": 65003, "connect_retry": 7.5})
    config = parse_config(data)
    assert [peer.connect_retry for peer in config.peers] == [5.0, 7.5]
    assert isinstance(config.peers[0].connect_retry, float)


def test_route_reflector_client_must_be_ibgp() -> None:
    data = example()
    data["peers"][0]["route_reflector_client"] = True
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert "peers[0].route_reflector_client: AS 65002 is not ours (65001)" in str(info.value)
    data["peers"][0]["asn"] = data["speaker"]["asn"]
    assert parse_config(data).peers[0].route_reflector_client


def test_max_prefixes_and_its_restart() -> None:
    data = example()
    data["peers"][0].update(max_prefixes=20000, max_prefixes_restart=300)
    peer = parse_config(data).peers[0]
    assert (peer.max_prefixes, peer.max_prefixes_restart) == (20000, 300.0)
    data["peers"][0]["max_prefixes_restart"] = -1
    assert errors_of(data) == [
        "config.toml: peers[0].max_prefixes_restart: -1 is not allowed (a finite number of seconds greater than 0)"
    ]
    assert parse_config(example()).peers[0].max_prefixes is None


def test_effective_hold_time() -> None:
    speaker = SpeakerConfig(65001, "198.18.2.1", hold_time=180)
    assert PeerConfig("198.18.2.2", 65002).effective_hold_time(speaker) == 180
    assert PeerConfig("198.18.2.2", 65002, hold_time=9).effective_hold_time(speaker) == 9
    assert PeerConfig("198.18.2.2", 65002, hold_time=0).effective_hold_time(speaker) == 0


def test_families_table() -> None:
    assert dict(FAMILIES) == {"l2vpn-evpn": (25, 70), "ipv4-unicast": (1, 1), "ipv6-unicast": (2, 1)}
    for name, (afi, safi) in FAMILIES.items():
        assert family_name(afi, safi) == name
    assert family_name(1, 128) == "1/128"
    assert family_name(25, 65) == "25/65"
    with pytest.raises(TypeError):
        FAMILIES["ipv4-mpls"] = (1, 4)  # type: ignore[index]
    peer = PeerConfig("198.18.2.2", 65002, families=("ipv4-unicast", "l2vpn-evpn", "ipv6-unicast"))
    assert peer.afi_safis == ((1, 1), (25, 70), (2, 1))


# --- values that are fine ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", None),
        ("198.18.2.1:179", ("198.18.2.1", 179)),
        ("198.18.2.1:1179", ("198.18.2.1", 1179)),
        ("198.18.2.1", ("198.18.2.1", 179)),
        ("0.0.0.0:179", ("0.0.0.0", 179)),
        ("[2001:DB8:0::1]:65535", ("2001:db8::1", 65535)),
        ("[::]", ("::", 179)),
        ("::", ("::", 179)),
        ("2001:db8::1", ("2001:db8::1", 179)),
        ("2001:db8::1:179", ("2001:db8::1:179", 179)),  # no brackets: all of it is the address
        ("[fe80::1%eth0]:179", ("fe80::1%eth0", 179)),
    ],
)
def test_listen_forms(text: str, expected: tuple[str, int] | None) -> None:
    data = example()
    data["speaker"]["listen"] = text
    assert parse_config(data).speaker.listen == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("speaker.asn", 1),
        ("speaker.asn", 4294967295),
        ("speaker.hold_time", 0),
        ("speaker.hold_time", 3),
        ("speaker.hold_time", 65535),
        ("speaker.router_id", "10.255.255.254"),
        ("speaker.connect_retry", 0.001),
        ("peers[0].asn", 65001),  # iBGP
        ("peers[0].asn", 1),
        ("peers[0].asn", 4294967295),
        ("peers[0].hold_time", 0),
        ("peers[0].hold_time", 3),
        ("peers[0].hold_time", 65535),
        ("peers[0].port", 1),
        ("peers[0].port", 65535),
        ("peers[0].passive", True),
        ("peers[0].password", "x"),
        ("peers[0].password", "x" * 80),
        ("peers[0].password", "é" * 40),  # 80 bytes
        ("peers[0].local_address", "198.18.2.1"),
        ("peers[0].families", ["ipv4-unicast", "ipv6-unicast", "l2vpn-evpn"]),
        ("peers[0].address", "198.18.2.1"),  # the router ID and the listen address: fine
        ("peers[0].address", "127.0.0.1"),
    ],
)
def test_accepted_values(key: str, value: Any) -> None:
    config = parse_config(changed(example(), key, value))
    obj: Any = config
    for part in re.findall(r"\w+|\[\d+\]", key):
        obj = obj[int(part[1:-1])] if part.startswith("[") else getattr(obj, part)
    expected = tuple(value) if isinstance(value, list) else value
    assert obj == expected


def test_addresses_are_normalised() -> None:
    data = example()
    data["peers"][0].update(address="2001:DB8:0:0::2", local_address="2001:0db8::0001")
    (peer,) = parse_config(data).peers
    assert (peer.address, peer.local_address) == ("2001:db8::2", "2001:db8::1")
    assert PeerConfig("2001:DB8::2", 1) == PeerConfig("2001:db8:0::2", 1)


# --- every rule, with the key it names --------------------------------------------------

DELETE = object()


def changed(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``key`` (``speaker.asn``, ``peers[0].asn``) set, or deleted."""
    data = copy.deepcopy(data)
    parts: list[str | int] = [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"[^.\[\]]+|\[\d+\]", key)]
    target: Any = data
    for part in parts[:-1]:
        target = target[part]
    if value is DELETE:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return data


def with_peer(**table: Any) -> dict[str, Any]:
    data = example()
    data["peers"].append(table)
    return data


# (key to change, its new value, the key path the error must name, what the error must say)
RULES: list[tuple[str, Any, str, str]] = [
    # the top level
    ("speaker", DELETE, "speaker", "required table is missing ([speaker])"),
    ("speaker", [{"asn": 65001}], "speaker", "expected a table ([speaker]), got array"),
    ("dataplane", {"kind": "linux"}, "dataplane.kind", "unknown key (known keys here: sink, learn, create_devices)"),
    ("dataplane", {"learn": "yes"}, "dataplane.learn", 'expected a boolean (true or false), got string "yes"'),
    (
        "dataplane",
        {"create_devices": 1},
        "dataplane.create_devices",
        "expected a boolean (true or false), got integer 1",
    ),
    ("dataplane", {"sink": "linux"}, "dataplane.sink", '"linux" is not a sink (one of "none", "memory", "netlink")'),
    ("dataplnae", {}, "dataplnae", "unknown key (did you mean dataplane?)"),
    ("vnis", {"vni": 100}, "vnis", "expected an array of tables ([[vnis]]), got table"),
    ("vrfs", [{"name": "red", "l3vni": 5000}], "vrfs[0].router_mac", "required key is missing"),
    ("peer", [], "peer", "unknown key (did you mean peers?)"),
    # [speaker]
    ("speaker.asn", DELETE, "speaker.asn", "required key is missing"),
    ("speaker.router_id", DELETE, "speaker.router_id", "required key is missing"),
    ("speaker.holdtime", 90, "speaker.holdtime", "unknown key (did you mean hold_time?)"),
    ("speaker.colour", "blue", "speaker.colour", "unknown key (known keys here: asn, router_id, listen, hold_time, "),
    ("speaker.hold time", 90, 'speaker."hold time"', "unknown key"),
    ("speaker.asn", True, "speaker.asn", "expected an integer, got boolean true"),
    ("speaker.asn", "65001", "speaker.asn", 'expected an integer, got string "65001"'),
    ("speaker.asn", 65001.0, "speaker.asn", "expected an integer, got float 65001.0"),
    ("speaker.asn", 0, "speaker.asn", "0 is not allowed (AS 0 is reserved and must not appear in an OPEN, RFC 7607)"),
    ("speaker.asn", 23456, "speaker.asn", "23456 is not allowed (AS_TRANS"),
    ("speaker.asn", 4294967296, "speaker.asn", "4294967296 is out of range (1..4294967295, RFC 6793)"),
    ("speaker.asn", -1, "speaker.asn", "-1 is out of range"),
    ("speaker.router_id", "2001:db8::1", "speaker.router_id", '"2001:db8::1" is not a dotted IPv4 address'),
    ("speaker.router_id", "198.18.2", "speaker.router_id", "is not a dotted IPv4 address"),
    ("speaker.router_id", 3322020353, "speaker.router_id", "expected a string, got integer 3322020353"),
    (
        "speaker.router_id",
        "0.0.0.0",
        "speaker.router_id",
        "0.0.0.0 is not allowed (the BGP Identifier must be non-zero",
    ),
    ("speaker.router_id", "224.0.0.5", "speaker.router_id", "224.0.0.5 is not a unicast IPv4 address"),
    ("speaker.router_id", "240.0.0.1", "speaker.router_id", "is not a unicast IPv4 address"),
    ("speaker.router_id", "255.255.255.255", "speaker.router_id", "is not a unicast IPv4 address"),
    ("speaker.listen", "198.18.2.1:0", "speaker.listen", '"198.18.2.1:0": port 0 is out of range (1..65535)'),
    ("speaker.listen", "198.18.2.1:65536", "speaker.listen", "port 65536 is out of range (1..65535)"),
    ("speaker.listen", "198.18.2.1:1790000", "speaker.listen", "port 1790000 is out of range (1..65535)"),
    ("speaker.listen", "198.18.2.1:" + "9" * 5000, "speaker.listen", "port 9999999999... is out of range"),
    ("speaker.listen", "198.18.2.1:bgp", "speaker.listen", 'port "bgp" is not a number'),
    ("speaker.listen", "198.18.2.1:", "speaker.listen", 'port "" is not a number'),
    ("speaker.listen", "[198.18.2.1]:179", "speaker.listen", "brackets are only for IPv6 addresses"),
    ("speaker.listen", "[2001:db8::1]179", "speaker.listen", 'expected "ADDRESS:PORT"'),
    ("speaker.listen", "[2001:db8::1:179", "speaker.listen", 'expected "ADDRESS:PORT"'),
    ("speaker.listen", "router.example:179", "speaker.listen", '"router.example" is not an IPv4 or IPv6 address'),
    ("speaker.listen", "", "speaker.listen", '"" is not an IPv4 or IPv6 address'),
    ("speaker.listen", "None", "speaker.listen", '"None" is not an IPv4 or IPv6 address'),
    ("speaker.listen", "224.0.0.1:179", "speaker.listen", "224.0.0.1 is not a unicast address"),
    ("speaker.listen", False, "speaker.listen", "expected a string, got boolean false"),
    ("speaker.hold_time", 1, "speaker.hold_time", "1 is not allowed (0 or 3..65535, RFC 4271 §4.2)"),
    ("speaker.hold_time", 2, "speaker.hold_time", "2 is not allowed (0 or 3..65535, RFC 4271 §4.2)"),
    ("speaker.hold_time", 65536, "speaker.hold_time", "65536 is not allowed (0 or 3..65535"),
    ("speaker.hold_time", -3, "speaker.hold_time", "-3 is not allowed"),
    ("speaker.hold_time", 90.0, "speaker.hold_time", "expected an integer, got float 90.0"),
    (
        "speaker.connect_retry",
        0,
        "speaker.connect_retry",
        "0 is not allowed (a finite number of seconds greater than 0",
    ),
    ("speaker.connect_retry", -1.5, "speaker.connect_retry", "-1.5 is not allowed"),
    ("speaker.connect_retry", float("inf"), "speaker.connect_retry", "inf is not allowed"),
    ("speaker.connect_retry", float("nan"), "speaker.connect_retry", "nan is not allowed"),
    ("speaker.connect_retry", "30", "speaker.connect_retry", 'expected a number of seconds, got string "30"'),
    ("speaker.connect_retry", True, "speaker.connect_retry", "expected a number of seconds, got boolean true"),
    # [[peers]]
    ("peers", {"address": "198.18.2.2", "asn": 65002}, "peers", "expected an array of tables ([[peers]]), got table"),
    ("peers", [1], "peers[0]", "expected a table ([[peers]]), got integer 1"),
    ("peers[0].address", DELETE, "peers[0].address", "required key is missing"),
    ("peers[0].asn", DELETE, "peers[0].asn", "required key is missing"),
    ("peers[0].pasive", True, "peers[0].pasive", "unknown key (did you mean passive?)"),
    ("peers[0].hold-time", 90, "peers[0].hold-time", "unknown key (did you mean hold_time?)"),
    ("peers[0].remote-as", 65002, "peers[0].remote-as", "unknown key (known keys here: address, asn, local_address"),
    ("peers[0].address", "198.18.2.256", "peers[0].address", '"198.18.2.256" is not an IPv4 or IPv6 address'),
    ("peers[0].address", "198.18.2.2/32", "peers[0].address", "is not an IPv4 or IPv6 address"),
    ("peers[0].address", "peer.example", "peers[0].address", "is not an IPv4 or IPv6 address"),
    ("peers[0].address", 3322020354, "peers[0].address", "expected a string, got integer"),
    ("peers[0].address", "0.0.0.0", "peers[0].address", "0.0.0.0 is the unspecified address"),
    ("peers[0].address", "::", "peers[0].address", ":: is the unspecified address"),
    ("peers[0].address", "ff02::1", "peers[0].address", "ff02::1 is a multicast address"),
    ("peers[0].address", "255.255.255.255", "peers[0].address", "is the broadcast address"),
    ("peers[0].asn", 0, "peers[0].asn", "0 is not allowed (AS 0 is reserved"),
    ("peers[0].asn", 23456, "peers[0].asn", "23456 is not allowed (AS_TRANS"),
    ("peers[0].asn", 4294967296, "peers[0].asn", "out of range (1..4294967295"),
    ("peers[0].asn", False, "peers[0].asn", "expected an integer, got boolean false"),
    ("peers[0].local_address", "2001:db8::1", "peers[0].local_address", "2001:db8::1 is IPv6 but the peer address"),
    ("peers[0].local_address", "bogus", "peers[0].local_address", '"bogus" is not an IPv4 or IPv6 address'),
    ("peers[0].local_address", "0.0.0.0", "peers[0].local_address", "is the unspecified address"),
    ("peers[0].passive", "yes", "peers[0].passive", 'expected a boolean (true or false), got string "yes"'),
    ("peers[0].passive", 1, "peers[0].passive", "expected a boolean (true or false), got integer 1"),
    ("peers[0].password", "", "peers[0].password", "must not be empty"),
    ("peers[0].password", "x" * 81, "peers[0].password", "is 81 bytes long; a TCP MD5 key is at most 80 bytes"),
    ("peers[0].password", "é" * 41, "peers[0].password", "is 82 bytes long"),
    ("peers[0].password", ["a"], "peers[0].password", "expected a string, got array"),
    ("peers[0].hold_time", 2, "peers[0].hold_time", "2 is not allowed (0 or 3..65535, RFC 4271 §4.2)"),
    ("peers[0].hold_time", 70000, "peers[0].hold_time", "70000 is not allowed"),
    ("peers[0].hold_time", "90", "peers[0].hold_time", "expected an integer"),
    ("peers[0].families", [], "peers[0].families", "must not be empty (known families: l2vpn-evpn, ipv4-unicast"),
    ("peers[0].families", "l2vpn-evpn", "peers[0].families", 'expected an array of family names, got string "l2vpn'),
    ("peers[0].families", ["evpn"], "peers[0].families[0]", '"evpn" is not a known family'),
    ("peers[0].families", ["l2vpn_evpn"], "peers[0].families[0]", 'did you mean "l2vpn-evpn"?'),
    ("peers[0].families", ["ipv4-unicast", "ipv6-unicst"], "peers[0].families[1]", 'did you mean "ipv6-unicast"?'),
    ("peers[0].families", ["L2VPN-EVPN"], "peers[0].families[0]", "is not a known family"),
    ("peers[0].families", ["l2vpn-evpn", 25], "peers[0].families[1]", "expected a family name (a string), got integer"),
    (
        "peers[0].families",
        ["l2vpn-evpn", "ipv4-unicast", "l2vpn-evpn"],
        "peers[0].families[2]",
        '"l2vpn-evpn" is already listed at [0]',
    ),
    ("peers[0].port", 0, "peers[0].port", "port 0 is out of range (1..65535)"),
    ("peers[0].port", 65536, "peers[0].port", "port 65536 is out of range"),
    ("peers[0].port", "179", "peers[0].port", "expected an integer"),
    ("peers[0].connect_retry", 0.0, "peers[0].connect_retry", "0.0 is not allowed"),
    ("peers[0].max_prefixes", 0, "peers[0].max_prefixes", "0 is not allowed (1..4294967295 routes)"),
    ("peers[0].max_prefixes", 1 << 32, "peers[0].max_prefixes", "4294967296 is not allowed"),
    ("peers[0].max_prefixes", True, "peers[0].max_prefixes", "expected an integer, got boolean true"),
    ("peers[0].max_prefix", 10, "peers[0].max_prefix", "unknown key (did you mean max_prefixes?)"),
    ("peers[0].max_prefixes_restart", 60, "peers[0].max_prefixes_restart", "there is no max_prefixes limit"),
    ("peers[1]", {"address": "198.18.2.2", "asn": 65003}, "peers[1].address", "198.18.2.2 is already the address of"),
]


@pytest.mark.parametrize(("key", "value", "path", "why"), RULES, ids=[f"{r[0]}={r[1]!r}"[:60] for r in RULES])
def test_rule(key: str, value: Any, path: str, why: str) -> None:
    data = example()
    if key == "peers[1]":
        data["peers"].append(value)
    else:
        data = changed(data, key, value)
    error = one_error(data)
    assert error.startswith(f"config.toml: {path}: "), error
    assert why in error, error


def test_the_issues_message_word_for_word() -> None:
    data = changed(example(), "peers[0].hold_time", 2)
    assert errors_of(data) == ["config.toml: peers[0].hold_time: 2 is not allowed (0 or 3..65535, RFC 4271 §4.2)"]


def test_duplicate_addresses_compare_normalised() -> None:
    data = with_peer(address="2001:db8::2", asn=65003)
    data["peers"].append({"address": "2001:DB8:0::2", "asn": 65004})
    assert one_error(data) == "config.toml: peers[2].address: 2001:db8::2 is already the address of peers[1]"


def test_the_same_address_with_another_scope_is_another_peer() -> None:
    data = with_peer(address="fe80::2%eth0", asn=65003)
    data["peers"].append({"address": "fe80::2%eth1", "asn": 65004})
    assert [peer.address for peer in parse_config(data).peers] == ["198.18.2.2", "fe80::2%eth0", "fe80::2%eth1"]


def test_a_passwords_value_never_appears() -> None:
    secret = "hunter2" * 12  # 84 bytes: too long
    error = one_error(changed(example(), "peers[0].password", secret))
    assert "hunter2" not in error
    error = one_error(changed(example(), "peers[0].password", 1234567))
    assert error == "config.toml: peers[0].password: expected a string, got integer"
    peer = PeerConfig("198.18.2.2", 65002, password="hunter2")
    assert "hunter2" not in repr(peer)
    assert peer.password == "hunter2"
    assert peer != PeerConfig("198.18.2.2", 65002, password="hunter3")


def test_every_error_is_reported_at_once() -> None:
    data = {
        "speaker": {"asn": 0, "router_id": "198.18.2.1", "hold": 90},
        "peers": [
            {"address": "198.18.2.2", "asn": 65002, "hold_time": 1},
            {"address": "198.18.2.2", "asn": "x"},
        ],
        "dataplane": {"sink": 1},
    }
    assert errors_of(data) == [
        "config.toml: speaker.hold: unknown key (did you mean hold_time?)",
        "config.toml: speaker.asn: 0 is not allowed (AS 0 is reserved and must not appear in an OPEN, RFC 7607)",
        "config.toml: peers[0].hold_time: 1 is not allowed (0 or 3..65535, RFC 4271 §4.2)",
        'config.toml: peers[1].asn: expected an integer, got string "x"',
        "config.toml: peers[1].address: 198.18.2.2 is already the address of peers[0]",
        "config.toml: dataplane.sink: expected a string, got integer 1",
    ]


def test_the_source_names_the_document() -> None:
    data = changed(example(), "speaker.asn", 0)
    with pytest.raises(ConfigError, match=r"^<config>: speaker\.asn: "):
        parse_config(data)
    with pytest.raises(ConfigError, match=r"^/etc/evpn\.toml: speaker\.asn: "):
        parse_config(data, "/etc/evpn.toml")


@pytest.mark.parametrize("data", [[], "speaker", None])
def test_the_top_level_must_be_a_table(data: Any) -> None:
    with pytest.raises(ConfigError, match=r"^config\.toml: expected a table at the top level, got "):
        parse_config(data, "config.toml")


def test_keys_must_be_strings() -> None:
    data = example()
    data["speaker"][7] = 1
    assert one_error(data) == "config.toml: speaker: keys must be strings, got 7"


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_config({})


# --- load_config ------------------------------------------------------------------------


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[speaker]\nasn = 65001\nrouter_id = 198.18.2.1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 3" in message
    assert isinstance(info.value.__cause__, tomllib.TOMLDecodeError)


def test_toml_duplicate_key_is_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE + "[speaker]\nasn = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*twice .at line 11"):
        load_config(path)


def test_load_config_reports_key_errors_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE.replace("hold_time = 90", "hold_time = 2"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: speaker.hold_time: 2 is not allowed (0 or 3..65535, RFC 4271 §4.2)"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=r"absent\.toml: cannot read the file: No such file"):
        load_config(path)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(EXAMPLE.encode().replace(b"speaker]", b"sp\xe9aker]"))
    with pytest.raises(ConfigError, match=r"config\.toml: not valid TOML: the file is not UTF-8 \(byte 3\)"):
        load_config(path)


# --- the classes check themselves -------------------------------------------------------

CONSTRUCTED: list[tuple[Callable[[], object], str]] = [
    (lambda: SpeakerConfig(0, "198.18.2.1"), "SpeakerConfig.asn: 0 is not allowed"),
    (lambda: SpeakerConfig(True, "198.18.2.1"), "SpeakerConfig.asn: expected an integer, got boolean true"),
    (lambda: SpeakerConfig(65001, "0.0.0.0"), "SpeakerConfig.router_id: 0.0.0.0 is not allowed"),
    (lambda: SpeakerConfig(65001, "198.18.2.1", listen=("198.18.2.1", 0)), "SpeakerConfig.listen: port 0"),
    (lambda: SpeakerConfig(65001, "198.18.2.1", listen="198.18.2.1:179"), "SpeakerConfig.listen: expected None or"),  # type: ignore[arg-type]
    (lambda: SpeakerConfig(65001, "198.18.2.1", hold_time=2), "SpeakerConfig.hold_time: 2 is not allowed"),
    (lambda: SpeakerConfig(65001, "198.18.2.1", connect_retry=0), "SpeakerConfig.connect_retry: 0 is not allowed"),
    (lambda: PeerConfig("198.18.2.x", 65002), 'PeerConfig.address: "198.18.2.x" is not an IPv4 or IPv6 address'),
    (lambda: PeerConfig("198.18.2.2", 23456), "PeerConfig.asn: 23456 is not allowed"),
    (lambda: PeerConfig("198.18.2.2", 65002, local_address="::1"), "PeerConfig.local_address: ::1 is IPv6"),
    (lambda: PeerConfig("198.18.2.2", 65002, passive=1), "PeerConfig.passive: expected a boolean"),  # type: ignore[arg-type]
    (lambda: PeerConfig("198.18.2.2", 65002, password=""), "PeerConfig.password: must not be empty"),
    (lambda: PeerConfig("198.18.2.2", 65002, hold_time=1), "PeerConfig.hold_time: 1 is not allowed"),
    (lambda: PeerConfig("198.18.2.2", 65002, families=()), "PeerConfig.families: must not be empty"),
    (lambda: PeerConfig("198.18.2.2", 65002, families=("x",)), 'PeerConfig.families[0]: "x" is not a known family'),
    (lambda: PeerConfig("198.18.2.2", 65002, port=0), "PeerConfig.port: port 0 is out of range"),
    (lambda: PeerConfig("198.18.2.2", 65002, connect_retry=-1), "PeerConfig.connect_retry: -1 is not allowed"),
    (lambda: Config(PeerConfig("198.18.2.2", 65002)), "Config.speaker: expected a SpeakerConfig"),  # type: ignore[arg-type]
    (
        lambda: Config(SpeakerConfig(1, "10.0.0.1"), (PeerConfig("10.0.0.2", 2), PeerConfig("10.0.0.2", 3))),
        "Config.peers[1].address: 10.0.0.2 is already the address of peers[0]",
    ),
]


@pytest.mark.parametrize(("build", "message"), CONSTRUCTED)
def test_constructors_check_their_fields(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value).startswith(message), str(info.value)


def test_constructors_convert_lists_to_tuples() -> None:
    peer = PeerConfig("198.18.2.2", 65002, families=["ipv4-unicast"])
    assert peer.families == ("ipv4-unicast",)
    config = Config(SpeakerConfig(1, "10.0.0.1"), [peer])
    assert config.peers == (peer,)
    hash(config)  # frozen and hashable all the way down


def test_values_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        EXAMPLE_CONFIG.speaker.asn = 1  # type: ignore[misc]


# --- docs/configuration.md --------------------------------------------------------------


def doc_blocks(heading: str) -> list[tuple[str, str]]:
    """The fenced blocks, as (language, text), of the docs' ``## heading`` section."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```(\w*)\n(.*?)^```$", section, flags=re.M | re.S)


def test_docs_example_is_the_issues_example() -> None:
    (toml_language, text), (python_language, loaded), *_ = doc_blocks("Example")
    assert (toml_language, python_language) == ("toml", "python")
    assert text == EXAMPLE
    assert parse_config(tomllib.loads(text)) == EXAMPLE_CONFIG
    names = {"Config": Config, "SpeakerConfig": SpeakerConfig, "PeerConfig": PeerConfig}
    assert eval(loaded, names) == EXAMPLE_CONFIG


def test_docs_error_output_is_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = doc_blocks("Errors")
    assert [language for language, _ in blocks] == ["toml", "text", "toml", "text"]
    monkeypatch.chdir(tmp_path)
    for (_, bad), (_, output) in zip(blocks[::2], blocks[1::2], strict=True):
        Path("config.toml").write_text(bad, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config("config.toml")
        assert str(info.value) + "\n" == output


def test_docs_constructor_error_is_real() -> None:
    ((_, session),) = doc_blocks("Building a configuration in code")
    call, output = session.removeprefix(">>> ").splitlines()
    with pytest.raises(ConfigError) as info:
        eval(call, {"PeerConfig": PeerConfig})
    assert output == f"evpn.errors.ConfigError: {info.value}"


def test_docs_reference_table_lists_every_key() -> None:
    rows = re.findall(r"^\| `([\w.\[\]]+)` \|", DOCS.read_text(encoding="utf-8"), flags=re.M)
    expected = [f"speaker.{f.name}" for f in attrs.fields(SpeakerConfig)]
    expected += [f"peers[N].{f.name}" for f in attrs.fields(PeerConfig)]
    expected += [f"vnis[N].{f.name}" for f in attrs.fields(VniConfig)]
    expected += [f"vrfs[N].{f.name}" for f in attrs.fields(VrfConfig)]
    expected += [f"dataplane.{f.name}" for f in attrs.fields(DataplaneConfig)]
    assert rows == expected


# --- [[vnis]] and [[vrfs]] --------------------------------------------------------------

# The issue's local-origination example, byte for byte (docs/configuration.md, "Local VNIs and VRFs").
EVPN_EXAMPLE = """\
[[vnis]]
vni = 100
vtep = "198.18.2.1"
rd = "auto"
import_targets = ["auto"]        # or explicit "ASN:NN" strings
export_targets = ["auto"]
macs = [{ mac = "02:aa:00:00:00:01", ip = "198.19.100.11" }, { mac = "02:aa:00:00:00:02" }]

[[vrfs]]
name = "tenant1"
l3vni = 5000
router_mac = "02:aa:00:00:50:00"
rd = "auto"
import_targets = ["auto"]
export_targets = ["auto"]
prefixes = ["198.19.50.0/24"]
"""

RT100 = RouteTarget(65001, 100, kind=0)
RT5000 = RouteTarget(65001, 5000, kind=0)
MAC1, MAC2 = bytes.fromhex("02aa00000001"), bytes.fromhex("02aa00000002")
EVPN_VNI = VniConfig(
    vni=100,
    vtep="198.18.2.1",
    rd=RouteDistinguisher.parse("198.18.2.1:1"),
    import_targets=(RT100,),
    export_targets=(RT100,),
    macs=((MAC1, bytes([198, 19, 100, 11])), (MAC2, b"")),
)
EVPN_VRF = VrfConfig(
    name="tenant1",
    l3vni=5000,
    router_mac=bytes.fromhex("02aa00005000"),
    rd=RouteDistinguisher.parse("198.18.2.1:2"),
    import_targets=(RT5000,),
    export_targets=(RT5000,),
    prefixes=(Prefix(bytes([198, 19, 50, 0]), 24),),
)


def evpn_example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE + "\n" + EVPN_EXAMPLE)


def test_evpn_example_loads_exactly() -> None:
    config = parse_config(evpn_example())
    assert config == attrs.evolve(EXAMPLE_CONFIG, vnis=(EVPN_VNI,), vrfs=(EVPN_VRF,))
    (vni,), (vrf,) = config.vnis, config.vrfs
    assert str(vni.rd) == "198.18.2.1:1" and str(vrf.rd) == "198.18.2.1:2"
    assert [str(t) for t in vni.export_targets + vrf.export_targets] == ["65001:100", "65001:5000"]
    assert (vni.vrf, vrf.vtep) == (None, None)


def test_docs_evpn_example_is_the_issues_example() -> None:
    blocks = doc_blocks("Example")
    assert blocks[2] == ("toml", EVPN_EXAMPLE)


def test_evpn_defaults_are_auto() -> None:
    data = example()
    data["vnis"] = [{"vni": 100, "vtep": "198.18.2.1"}, {"vni": 200, "vtep": "2001:DB8::1"}]
    data["vrfs"] = [{"name": "a", "l3vni": 5000, "router_mac": "02:aa:00:00:50:00"}]
    config = parse_config(data)
    assert [str(v.rd) for v in config.vnis] == ["198.18.2.1:1", "198.18.2.1:2"]
    assert str(config.vrfs[0].rd) == "198.18.2.1:3"  # after the VNIs' RDs: all distinct
    assert config.vnis[1].vtep == "2001:db8::1"
    assert config.vnis[1].import_targets == (RouteTarget(65001, 200, kind=0),)
    assert config.vnis[0].macs == () and config.vrfs[0].prefixes == ()


def test_auto_route_target_takes_the_low_16_bits_of_a_4_octet_as() -> None:
    data = changed(example(), "speaker.asn", 4200000001)  # 0xFA56EA01: low 16 bits 59905
    data["vnis"] = [{"vni": 100, "vtep": "198.18.2.1"}]
    (vni,) = parse_config(data).vnis
    assert vni.export_targets == (RouteTarget(59905, 100, kind=0),)
    assert vni.export_targets[0].encode() == bytes.fromhex("0002ea0100000064")


def test_explicit_targets_and_rd() -> None:
    data = evpn_example()
    data["vnis"][0] |= {"rd": "65001:7", "import_targets": ["auto", "65001:100", "4200000000:9", "198.18.2.1:5"]}
    data["vnis"][0]["export_targets"] = ["65099:1"]
    (vni,) = parse_config(data).vnis
    assert str(vni.rd) == "65001:7"
    # "auto" written out again is the same target, listed once
    assert vni.import_targets == (RT100, RouteTarget(4200000000, 9, kind=2), RouteTarget("198.18.2.1", 5))
    assert vni.export_targets == (RouteTarget(65099, 1, kind=0),)


def test_vni_bound_to_a_vrf() -> None:
    data = changed(evpn_example(), "vnis[0].vrf", "tenant1")
    assert parse_config(data).vnis[0].vrf == "tenant1"


# (key to change in the EVPN example, its new value, the key path the error must name, what it must say)
EVPN_RULES: list[tuple[str, Any, str, str]] = [
    ("vnis[0].vni", DELETE, "vnis[0].vni", "required key is missing"),
    ("vnis[0].vni", 0, "vnis[0].vni", "0 is out of range (1..16777215, a 24-bit VXLAN VNI, RFC 7348 §5)"),
    ("vnis[0].vni", 16777216, "vnis[0].vni", "16777216 is out of range"),
    ("vnis[0].vni", True, "vnis[0].vni", "expected an integer, got boolean true"),
    ("vnis[0].vni", 5000, "vrfs[0].l3vni", "5000 is already the L2 VNI of vnis[0] (an L3 VNI needs its own"),
    ("vnis[0].vtep", "vtep1", "vnis[0].vtep", '"vtep1" is not an IPv4 or IPv6 address'),
    ("vnis[0].vtep", "224.0.0.1", "vnis[0].vtep", "is a multicast address"),
    ("vnis[0].rd", "65001", "vnis[0].rd", '"65001" is not a route distinguisher'),
    ("vnis[0].rd", 1, "vnis[0].rd", "expected a string, got integer 1"),
    ("vnis[0].import_targets", [], "vnis[0].import_targets", "must not be empty"),
    ("vnis[0].import_targets", "auto", "vnis[0].import_targets", "expected an array of route targets"),
    ("vnis[0].export_targets", ["auto", "65001:x"], "vnis[0].export_targets[1]", '"65001:x" is not a route target'),
    ("vnis[0].export_targets", ["1:1", "1:1"], "vnis[0].export_targets[1]", '"1:1" is already listed at [0]'),
    ("vnis[0].export_targets", [100], "vnis[0].export_targets[0]", "expected a route target (a string)"),
    ("vnis[0].macs", [{"mac": "zz"}], "vnis[0].macs[0].mac", '"zz" is not a MAC address'),
    ("vnis[0].macs", [{"mac": "01:00:5e:00:00:01"}], "vnis[0].macs[0].mac", "is a group (multicast or broadcast)"),
    ("vnis[0].macs", [{"mac": "ff:ff:ff:ff:ff:ff"}], "vnis[0].macs[0].mac", "is a group"),
    ("vnis[0].macs", [{"mac": "00:00:00:00:00:00"}], "vnis[0].macs[0].mac", "is the zero MAC address"),
    ("vnis[0].macs", [{"ip": "198.19.100.11"}], "vnis[0].macs[0].mac", "required key is missing"),
    ("vnis[0].macs", [{"mac": "02:aa:00:00:00:01", "ipp": "x"}], "vnis[0].macs[0].ipp", "unknown key (did you mean ip?)"),
    ("vnis[0].macs", [{"mac": "02:aa:00:00:00:01", "ip": "198.19.100.300"}], "vnis[0].macs[0].ip", "not an IPv4"),
    ("vnis[0].macs", [{"mac": "02:aa:00:00:00:01", "ip": "0.0.0.0"}], "vnis[0].macs[0].ip", "unspecified"),
    ("vnis[0].macs", ["02:aa:00:00:00:01"], "vnis[0].macs[0]", "expected a table { mac = ..., ip = ... }"),
    (
        "vnis[0].macs",
        [{"mac": "02:aa:00:00:00:01"}, {"mac": "02-AA-00-00-00-01"}],
        "vnis[0].macs[1]",
        "this MAC is already listed at [0]",
    ),
    ("vnis[0].vrf", "tenant2", "vnis[0].vrf", '"tenant2" is not the name of a [[vrfs]] table (did you mean "tenant1"?'),
    ("vnis[0].vrf", "", "vnis[0].vrf", "is not a VRF name"),
    ("vnis[0].vnid", 10, "vnis[0].vnid", "unknown key (did you mean vni?)"),
    ("vnis[1]", {"vni": 100, "vtep": "198.18.2.1"}, "vnis[1].vni", "100 is already the VNI of vnis[0]"),
    ("vrfs[0].name", DELETE, "vrfs[0].name", "required key is missing"),
    ("vrfs[0].l3vni", 0, "vrfs[0].l3vni", "0 is out of range"),
    ("vrfs[0].router_mac", "ff:ff:ff:ff:ff:ff", "vrfs[0].router_mac", "is a group"),
    ("vrfs[0].router_mac", 1, "vrfs[0].router_mac", "expected a string, got integer 1"),
    ("vrfs[0].rd", "198.18.2.1:70000", "vrfs[0].rd", "is not a route distinguisher"),
    ("vrfs[0].prefixes", ["198.19.50.1/24"], "vrfs[0].prefixes[0]", "is not an IP prefix without host bits"),
    ("vrfs[0].prefixes", ["tenant"], "vrfs[0].prefixes[0]", "is not an IP prefix"),
    ("vrfs[0].prefixes", ["2001:db8::/64", "2001:db8::/64"], "vrfs[0].prefixes[1]", "is already listed at [0]"),
    ("vrfs[0].vtep", "0.0.0.0", "vrfs[0].vtep", "unspecified"),
    ("vrfs[0].l2vni", 100, "vrfs[0].l2vni", "unknown key (did you mean l3vni?)"),
    ("vrfs[1]", EVPN_EXAMPLE_VRF2 := {"name": "tenant1", "l3vni": 5001, "router_mac": "02:00:00:00:00:01"},
     "vrfs[1].name", '"tenant1" is already the name of vrfs[0]'),
    ("vrfs[1]", EVPN_EXAMPLE_VRF2 | {"name": "t2", "l3vni": 5000}, "vrfs[1].l3vni", "is already the L3 VNI of vrfs[0]"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "value", "path", "why"), EVPN_RULES, ids=[f"{r[0]}={r[1]!r}"[:60] for r in EVPN_RULES])
def test_evpn_rule(key: str, value: Any, path: str, why: str) -> None:
    data = evpn_example()
    if key.endswith("[1]"):
        data[key[:-3]].append(value)
    else:
        data = changed(data, key, value)
    error = one_error(data)
    assert error.startswith(f"config.toml: {path}: "), error
    assert why in error, error


def test_vrf_reference_without_any_vrf() -> None:
    data = changed(evpn_example(), "vnis[0].vrf", "red")
    del data["vrfs"]
    assert one_error(data) == 'config.toml: vnis[0].vrf: "red" is not the name of a [[vrfs]] table (known: none)'


EVPN_CONSTRUCTED: list[tuple[Callable[[], object], str]] = [
    (lambda: attrs.evolve(EVPN_VNI, vni=0), "VniConfig.vni: 0 is out of range"),
    (lambda: attrs.evolve(EVPN_VNI, vtep="x"), 'VniConfig.vtep: "x" is not an IPv4 or IPv6 address'),
    (lambda: attrs.evolve(EVPN_VNI, rd="auto"), "VniConfig.rd: expected a RouteDistinguisher"),
    (lambda: attrs.evolve(EVPN_VNI, export_targets=["auto"]), 'VniConfig.export_targets[0]: expected a RouteTarget'),
    (lambda: attrs.evolve(EVPN_VNI, macs=[("01:00:00:00:00:01", None)]), "VniConfig.macs[0].mac: 01:00:00:00:00:01 is a group"),
    (lambda: attrs.evolve(EVPN_VRF, router_mac="x"), 'VrfConfig.router_mac: "x" is not a MAC address'),
    (lambda: attrs.evolve(EVPN_VRF, prefixes=["198.19.50.1/24"]), "VrfConfig.prefixes[0]: "),
    (lambda: Config(EXAMPLE_CONFIG.speaker, vnis=(EVPN_VNI, EVPN_VNI)), "Config.vnis[1].vni: 100 is already the VNI of vnis[0]"),
    (lambda: Config(EXAMPLE_CONFIG.speaker, vnis=(attrs.evolve(EVPN_VNI, vrf="x"),)), 'Config.vnis[0].vrf: "x" is not the name'),
    (
        lambda: Config(EXAMPLE_CONFIG.speaker, vnis=(attrs.evolve(EVPN_VNI, vni=5000),), vrfs=(EVPN_VRF,)),
        "Config.vrfs[0].l3vni: 5000 is already the L2 VNI of vnis[0]",
    ),
    (lambda: Config(EXAMPLE_CONFIG.speaker, vrfs=(EVPN_VRF, EVPN_VRF)), 'Config.vrfs[1].name: "tenant1" is already the name'),
]  # fmt: skip


@pytest.mark.parametrize(("build", "message"), EVPN_CONSTRUCTED)
def test_evpn_constructors_check_their_fields(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value).startswith(message), str(info.value)


def test_evpn_constructors_convert_text() -> None:
    vni = VniConfig(100, "198.18.2.1", "198.18.2.1:1", ["65001:100"], ("65001:100",), [("02:aa:00:00:00:01", None)])
    assert vni == attrs.evolve(EVPN_VNI, macs=((MAC1, b""),))
    vrf = VrfConfig(
        "tenant1", 5000, "02:aa:00:00:50:00", "198.18.2.1:2", ["65001:5000"], ["65001:5000"], ["198.19.50.0/24"]
    )
    assert vrf == EVPN_VRF
    hash(Config(EXAMPLE_CONFIG.speaker, vnis=[attrs.evolve(vni, vrf="tenant1")], vrfs=[vrf]))


def test_auto_rd_needs_a_16_bit_index() -> None:
    """A type-1 RD's assigned number is 16 bits (RFC 4364 §4.2): the 65536th table needs an explicit RD."""
    data = example()
    data["vnis"] = [{"vni": n, "vtep": "198.18.2.1"} for n in range(1, 65536)]
    data["vrfs"] = [{"name": "a", "l3vni": 70000, "router_mac": "02:aa:00:00:50:00"}]
    assert one_error(data) == (
        'config.toml: vrfs[0].rd: "auto" would be 198.18.2.1:65536, but the assigned number of an IPv4 RD '
        'is at most 65535 (RFC 4364 §4.2): give this table an explicit "rd"'
    )
    data["vrfs"][0]["rd"] = "65001:70000"
    assert str(parse_config(data).vnis[-1].rd) == "198.18.2.1:65535"


def test_a_vrf_device_with_the_memory_sink_needs_its_table() -> None:
    data = changed(evpn_example(), "vrfs[0].vrf", "vrf-t1")
    data["dataplane"] = {"sink": "memory"}
    assert one_error(data) == (
        'config.toml: vrfs[0].table: the memory sink cannot ask the kernel for VRF "vrf-t1"\'s table: give `table`'
    )
    vrf = parse_config(changed(data, "vrfs[0].table", 1001)).vrfs[0]
    assert (vrf.vrf, vrf.table) == ("vrf-t1", 1001)
    data["dataplane"] = {"sink": "netlink"}  # the netlink sink reads it from the kernel
    assert parse_config(data).vrfs[0].table is None
