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
    PeerConfig,
    SpeakerConfig,
    family_name,
    load_config,
    parse_config,
)
from evpn.errors import ConfigError

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
    speaker = attrs.asdict(config.speaker)
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
            SpeakerConfig(4200000000, "198.18.0.1", listen=("2001:db8::1", 1179), hold_time=0, connect_retry=0.5),
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
    ("vnis", [{"vni": 100}], "vnis", "unknown key (known keys here: speaker, peers)"),
    ("vrfs", [{"name": "red"}], "vrfs", "unknown key"),
    ("dataplane", {"kind": "linux"}, "dataplane", "unknown key"),
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
        "vnis": [],
    }
    assert errors_of(data) == [
        "config.toml: vnis: unknown key (known keys here: speaker, peers)",
        "config.toml: speaker.hold: unknown key (did you mean hold_time?)",
        "config.toml: speaker.asn: 0 is not allowed (AS 0 is reserved and must not appear in an OPEN, RFC 7607)",
        "config.toml: peers[0].hold_time: 1 is not allowed (0 or 3..65535, RFC 4271 §4.2)",
        'config.toml: peers[1].asn: expected an integer, got string "x"',
        "config.toml: peers[1].address: 198.18.2.2 is already the address of peers[0]",
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
    assert rows == expected
