"""The speaker's configuration: a TOML file read into frozen values.

:func:`load_config` reads a file and :func:`parse_config` checks an already-parsed mapping.
Both give a :class:`Config`, or raise one :class:`~evpn.errors.ConfigError` that lists every
problem found, one per line, each as ``FILE: KEY.PATH: why`` -- for example
``config.toml: peers[0].hold_time: 2 is not allowed (0 or 3..65535, RFC 4271 §4.2)``.
Unknown keys are errors at every level, with the closest known key suggested.

The value classes check themselves too, so a :class:`PeerConfig` built in code obeys the
same rules; their errors name the class and field instead (``PeerConfig.asn: ...``).
The schema, with an example and real error output, is in ``docs/configuration.md``.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
import types
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any, Final

import attrs

from evpn.errors import ConfigError
from evpn.types import RouteDistinguisher, ip_bytes, mac_bytes
from evpn.wire.codes import AFI, SAFI
from evpn.wire.extcommunities import RouteTarget
from evpn.wire.prefixes import Prefix

__all__ = [
    "FAMILIES",
    "SINKS",
    "Config",
    "DataplaneConfig",
    "PeerConfig",
    "SpeakerConfig",
    "VniConfig",
    "VrfConfig",
    "auto_rd",
    "auto_target",
    "family_name",
    "load_config",
    "parse_config",
]

FAMILIES: Final[Mapping[str, tuple[int, int]]] = types.MappingProxyType(
    {
        "l2vpn-evpn": (int(AFI.L2VPN), int(SAFI.EVPN)),  # RFC 7432 §7
        "ipv4-unicast": (int(AFI.IPV4), int(SAFI.UNICAST)),  # RFC 4760
        "ipv6-unicast": (int(AFI.IPV6), int(SAFI.UNICAST)),  # RFC 4760, RFC 2545
    }
)
"""The address families a peer may be configured with: name -> (AFI, SAFI)."""

_FAMILY_NAMES: Final = {afi_safi: name for name, afi_safi in FAMILIES.items()}

_BGP_PORT: Final = 179  # IANA "bgp" 179/tcp
_AS_TRANS: Final = 23456  # RFC 6793
_MAX_ASN: Final = 0xFFFFFFFF
_MAX_PASSWORD_BYTES: Final = 80  # Linux TCP_MD5SIG_MAXKEYLEN
_DEFAULT_CONNECT_RETRY: Final = 30.0
_CLASS_E: Final = ipaddress.IPv4Network("240.0.0.0/4")  # reserved, and 255.255.255.255
_MAX_VNI: Final = 0xFFFFFF  # 24 bits (RFC 7348 §5)
_AUTO: Final = "auto"
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_PORT_TEXT: Final = re.compile(r"[0-9]+")


def family_name(afi: int, safi: int) -> str:
    """The configuration name of an (AFI, SAFI) pair, or ``"afi/safi"`` for one without a name."""
    return _FAMILY_NAMES.get((afi, safi), f"{afi}/{safi}")


# --- the rules ---------------------------------------------------------------------------
#
# Each rule takes a value as TOML (or a caller) gives it, returns it checked and normalised,
# or raises _RuleError saying why.  parse_config() puts the file name and key path in front;
# the attrs validators put the class and field name.


class _RuleError(Exception):
    """A value broke a rule.  ``where`` locates it inside the value (``"[1]"``), if needed."""

    def __init__(self, why: str, where: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.where = where


def _quote(text: str) -> str:
    """A string as TOML would write it (a basic string)."""
    if len(text) > 60:
        text = text[:57] + "..."
    return json.dumps(text, ensure_ascii=False)


def _kind(value: object) -> str:
    """The TOML name of a value's type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, datetime.datetime):
        return "date-time"
    if isinstance(value, datetime.date):
        return "date"
    if isinstance(value, datetime.time):
        return "time"
    return type(value).__name__


def _describe(value: object) -> str:
    """A value's type and, for scalars, the value itself: ``string "65001"``."""
    kind = _kind(value)
    if isinstance(value, bool):
        return f"{kind} {str(value).lower()}"
    if isinstance(value, str):
        return f"{kind} {_quote(value)}"
    if isinstance(value, int | float | datetime.date | datetime.time):
        return f"{kind} {value}"
    return kind


def _suggestion(word: str, choices: list[str], *, quote: bool = False) -> str:
    """``did you mean X?`` for the choice closest to ``word``, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        return ""
    return f"did you mean {_quote(close[0]) if quote else close[0]}?"


def _integer(value: object) -> int:
    # bool is a subclass of int; TOML's true is not the number 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _RuleError(f"expected an integer, got {_describe(value)}")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _RuleError(f"expected a boolean (true or false), got {_describe(value)}")
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _RuleError(f"expected a string, got {_describe(value)}")
    return value


def _asn(value: object) -> int:
    asn = _integer(value)
    if asn == 0:
        raise _RuleError("0 is not allowed (AS 0 is reserved and must not appear in an OPEN, RFC 7607)")
    if asn == _AS_TRANS:
        raise _RuleError(
            f"{_AS_TRANS} is not allowed (AS_TRANS only stands in for a 4-octet AS number on the wire, RFC 6793)"
        )
    if not 1 <= asn <= _MAX_ASN:
        raise _RuleError(f"{asn} is out of range (1..{_MAX_ASN}, RFC 6793)")
    return asn


def _hold_time(value: object) -> int:
    hold = _integer(value)
    if hold != 0 and not 3 <= hold <= 0xFFFF:
        raise _RuleError(f"{hold} is not allowed (0 or 3..65535, RFC 4271 §4.2)")
    return hold


def _max_prefixes(value: object) -> int:
    limit = _integer(value)
    if not 1 <= limit <= 0xFFFFFFFF:  # the NOTIFICATION carries it in 4 octets (RFC 4486 §4)
        raise _RuleError(f"{limit} is not allowed (1..4294967295 routes)")
    return limit


def _restart_delay(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _RuleError(f"expected a number of seconds, got {_describe(value)}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise _RuleError(f"{value} is not allowed (a finite number of seconds greater than 0)")
    return seconds


def _port(value: object) -> int:
    port = _integer(value)
    if not 1 <= port <= 0xFFFF:
        raise _RuleError(f"port {port} is out of range (1..65535)")
    return port


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _RuleError(f"expected a number of seconds, got {_describe(value)}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise _RuleError(f"{value} is not allowed (a finite number of seconds greater than 0, RFC 4271 §10)")
    return seconds


def _ip(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = _string(value)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise _RuleError(f"{_quote(text)} is not an IPv4 or IPv6 address") from None


def _host_address(value: object) -> str:
    """A peer's or a local address: one host, so not unspecified, multicast or broadcast."""
    ip = _ip(value)
    if ip.is_unspecified:
        raise _RuleError(f"{ip} is the unspecified address, not the address of a host")
    if ip.is_multicast:
        raise _RuleError(f"{ip} is a multicast address, not the address of a host")
    if ip == ipaddress.IPv4Address("255.255.255.255"):
        raise _RuleError(f"{ip} is the broadcast address, not the address of a host")
    return str(ip)


def _router_id(value: object) -> str:
    text = _string(value)
    try:
        ip = ipaddress.IPv4Address(text)
    except ValueError:
        raise _RuleError(
            f"{_quote(text)} is not a dotted IPv4 address (the BGP Identifier is 4 octets, RFC 4271 §4.2)"
        ) from None
    if ip.is_unspecified:
        raise _RuleError("0.0.0.0 is not allowed (the BGP Identifier must be non-zero, RFC 6286 §2.1)")
    if ip.is_multicast or ip in _CLASS_E:
        raise _RuleError(f"{ip} is not a unicast IPv4 address (the BGP Identifier, RFC 4271 §4.2)")
    return str(ip)


def _listen_address(value: object) -> str:
    """Where to listen: a host address or the unspecified address (every address)."""
    ip = _ip(value)
    if ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise _RuleError(f"{ip} is not a unicast address, so nothing can connect to it")
    return str(ip)


def _listen_pair(value: object) -> tuple[str, int]:
    """The ``listen`` value as :class:`SpeakerConfig` holds it: ``(address, port)``."""
    if not isinstance(value, tuple) or len(value) != 2:
        raise _RuleError(f"expected None or an (address, port) tuple, got {value!r}")
    return _listen_address(value[0]), _port(value[1])


_LISTEN_FORMS: Final = 'expected "ADDRESS:PORT", "[IPV6-ADDRESS]:PORT", "ADDRESS" (port 179) or "none"'


def _listen_text(value: object) -> tuple[str, int] | None:
    """Parse ``listen``: ``"ADDR:PORT"``, ``"[v6]:PORT"``, ``"ADDR"`` or ``"none"``."""
    text = _string(value)
    if text == "none":
        return None
    port_text: str | None = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _RuleError(f"{_quote(text)}: {_LISTEN_FORMS}")
        if rest:
            port_text = rest[1:]
        if ":" not in host:
            raise _RuleError(f"{_quote(text)}: brackets are only for IPv6 addresses")
    elif text.count(":") == 1:
        # One colon: IPv4 (or a name) and a port.  Two or more: a bare IPv6 address.
        host, _, port_text = text.partition(":")
    else:
        host = text
    try:
        address = _listen_address(host)
    except _RuleError as exc:
        raise _RuleError(f"{_quote(text)}: {exc.why}; {_LISTEN_FORMS}") from None
    if port_text is None:
        return address, _BGP_PORT
    if not _PORT_TEXT.fullmatch(port_text):
        raise _RuleError(f"{_quote(text)}: port {_quote(port_text)} is not a number")
    port = int(port_text) if len(port_text) <= 5 else 0
    if not 1 <= port <= 0xFFFF:
        shown = port_text if len(port_text) <= 10 else port_text[:10] + "..."
        raise _RuleError(f"{_quote(text)}: port {shown} is out of range (1..65535)")
    return address, port


def _password(value: object) -> str:
    # Never echo a password back, not even a wrongly typed one.
    if not isinstance(value, str):
        raise _RuleError(f"expected a string, got {_kind(value)}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise _RuleError("is not valid Unicode text") from None
    if size == 0:
        raise _RuleError("must not be empty (leave the key out for no TCP MD5 signature, RFC 2385)")
    if size > _MAX_PASSWORD_BYTES:
        raise _RuleError(
            f"is {size} bytes long; a TCP MD5 key is at most {_MAX_PASSWORD_BYTES} bytes "
            "(RFC 2385, Linux TCP_MD5SIG_MAXKEYLEN)"
        )
    return value


def _families(value: object) -> tuple[str, ...]:
    known = ", ".join(FAMILIES)
    if not isinstance(value, list | tuple):
        raise _RuleError(f"expected an array of family names, got {_describe(value)}")
    if not value:
        raise _RuleError(f"must not be empty (known families: {known})")
    families: list[str] = []
    for index, item in enumerate(value):
        where = f"[{index}]"
        if not isinstance(item, str):
            raise _RuleError(f"expected a family name (a string), got {_describe(item)}", where)
        if item not in FAMILIES:
            hint = _suggestion(item, list(FAMILIES), quote=True)
            raise _RuleError(
                f"{_quote(item)} is not a known family ({hint + ' ' if hint else ''}known: {known})", where
            )
        if item in families:
            raise _RuleError(f"{_quote(item)} is already listed at [{families.index(item)}]", where)
        families.append(item)
    return tuple(families)


def _same_family(address: str, local_address: str) -> None:
    """``local_address`` must be of the family of ``address``: a TCP connection is one or the other."""
    ip, local = ipaddress.ip_address(address), ipaddress.ip_address(local_address)
    if ip.version != local.version:
        raise _RuleError(f"{local} is IPv{local.version} but the peer address {ip} is IPv{ip.version}")


def _vni(value: object) -> int:
    vni = _integer(value)
    if not 1 <= vni <= _MAX_VNI:
        raise _RuleError(f"{vni} is out of range (1..{_MAX_VNI}, a 24-bit VXLAN VNI, RFC 7348 §5)")
    return vni


def _unicast_mac(value: object) -> bytes:
    """A host's or router's MAC: 6 bytes, not all zeros, not group (multicast/broadcast)."""
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        if len(raw) != 6:
            raise _RuleError(f"expected 6 MAC address bytes, got {len(raw)}")
    else:
        text = _string(value)
        try:
            raw = mac_bytes(text)
        except ValueError:
            raise _RuleError(f"{_quote(text)} is not a MAC address (like 02:aa:00:00:00:01)") from None
    shown = ":".join(f"{b:02x}" for b in raw)
    if raw == bytes(6):
        raise _RuleError(f"{shown} is the zero MAC address, not the address of a host")
    if raw[0] & 1:
        raise _RuleError(f"{shown} is a group (multicast or broadcast) MAC address, not the address of a host")
    return raw


def _vtep(value: object) -> str:
    """A VTEP address: one IPv4 or IPv6 host address (RFC 8365 §5.1.3, the PMSI tunnel endpoint)."""
    return _host_address(value)


def _rd(value: object) -> RouteDistinguisher | str:
    """``"auto"`` or ``"ASN:NN"`` / ``"A.B.C.D:NN"`` (RFC 4364 §4.2)."""
    if isinstance(value, RouteDistinguisher):
        return value
    text = _string(value)
    if text == _AUTO:
        return _AUTO
    try:
        return RouteDistinguisher.parse(text)
    except ValueError:
        raise _RuleError(
            f'{_quote(text)} is not a route distinguisher ("auto", "ASN:NN" or "A.B.C.D:NN", RFC 4364 §4.2)'
        ) from None


def _targets(value: object) -> tuple[RouteTarget | str, ...]:
    """A non-empty array of ``"auto"`` and ``"ASN:NN"`` / ``"A.B.C.D:NN"`` route targets (RFC 4360 §4)."""
    if not isinstance(value, list | tuple):
        raise _RuleError(f"expected an array of route targets, got {_describe(value)}")
    if not value:
        raise _RuleError('must not be empty (use ["auto"] for ASN:VNI)')
    out: list[RouteTarget | str] = []
    for index, item in enumerate(value):
        where = f"[{index}]"
        if isinstance(item, RouteTarget):
            target: RouteTarget | str = item
        elif not isinstance(item, str):
            raise _RuleError(f"expected a route target (a string), got {_describe(item)}", where)
        elif item == _AUTO:
            target = _AUTO
        else:
            try:
                target = RouteTarget.parse(item)
            except ValueError:
                raise _RuleError(
                    f'{_quote(item)} is not a route target ("auto", "ASN:NN" or "A.B.C.D:NN", RFC 4360 §4)', where
                ) from None
        if target in out:
            raise _RuleError(f"{_quote(str(target))} is already listed at [{out.index(target)}]", where)
        out.append(target)
    return tuple(out)


_MAC_KEYS: Final = ("mac", "ip")


def _macs(value: object) -> tuple[tuple[bytes, bytes], ...]:
    """An array of ``{ mac = "..", ip = ".." }`` tables (``ip`` optional): (MAC, IP or b"")."""
    if not isinstance(value, list | tuple):
        raise _RuleError(f"expected an array of {{ mac, ip }} tables, got {_describe(value)}")
    out: list[tuple[bytes, bytes]] = []
    for index, item in enumerate(value):
        where = f"[{index}]"
        if isinstance(item, tuple) and len(item) == 2:
            mac, ip = item
        elif isinstance(item, Mapping):
            for key in item:
                if key not in _MAC_KEYS:
                    hint = _suggestion(str(key), list(_MAC_KEYS)) or "known keys here: mac, ip"
                    raise _RuleError(f"unknown key ({hint})", f"{where}.{key}")
            if "mac" not in item:
                raise _RuleError("required key is missing", f"{where}.mac")
            mac, ip = item["mac"], item.get("ip")
        else:
            raise _RuleError(f"expected a table {{ mac = ..., ip = ... }}, got {_describe(item)}", where)
        try:
            mac_raw = _unicast_mac(mac)
        except _RuleError as exc:
            raise _RuleError(exc.why, f"{where}.mac") from None
        ip_raw = b""
        if ip is not None and ip != b"":
            try:
                ip_raw = ip if isinstance(ip, bytes) and len(ip) in (4, 16) else ip_bytes(_host_address(ip))
            except _RuleError as exc:
                raise _RuleError(exc.why, f"{where}.ip") from None
        pair = (mac_raw, ip_raw)
        if pair in out:
            raise _RuleError(f"this MAC{' and IP' if ip_raw else ''} is already listed at [{out.index(pair)}]", where)
        out.append(pair)
    return tuple(out)


def _vrf_name(value: object) -> str:
    name = _string(value)
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise _RuleError(f"{_quote(name)} is not a VRF name (1..64 characters, no spaces)")
    return name


def _device(value: object) -> str:
    """A Linux network device name: 1..15 characters, none of them '/', ':' or white space."""
    name = _string(value)
    if not 1 <= len(name) <= 15 or name in (".", "..") or any(c in "/:" or c.isspace() for c in name):
        raise _RuleError(f"{_quote(name)} is not a network device name (1..15 characters, no '/', ':' or spaces)")
    return name


def _table(value: object) -> int:
    """A routing table id: 1..4294967295, not 255 (the kernel's local table)."""
    table = _integer(value)
    if not 1 <= table <= 0xFFFFFFFF or table == 255:
        raise _RuleError(f"routing table {table} is out of range (1..4294967295, not 255: the local table)")
    return table


SINKS: Final = ("none", "memory", "netlink")
"""The dataplane sinks ``[dataplane] sink`` may name."""


def _sink(value: object) -> str:
    name = _string(value)
    if name not in SINKS:
        raise _RuleError(f"{_quote(name)} is not a sink (one of {', '.join(map(_quote, SINKS))})")
    return name


def _prefixes(value: object) -> tuple[Prefix, ...]:
    """An array of IPv4/IPv6 prefixes without host bits (RFC 9136 §3.1 advertises networks)."""
    if not isinstance(value, list | tuple):
        raise _RuleError(f"expected an array of prefixes, got {_describe(value)}")
    out: list[Prefix] = []
    for index, item in enumerate(value):
        where = f"[{index}]"
        if isinstance(item, Prefix):
            prefix = item
        elif not isinstance(item, str):
            raise _RuleError(f"expected a prefix (a string), got {_describe(item)}", where)
        else:
            try:
                network = ipaddress.ip_network(item, strict=True)
            except ValueError as exc:
                raise _RuleError(f"{_quote(item)} is not an IP prefix without host bits ({exc})", where) from None
            prefix = Prefix(network.network_address.packed, network.prefixlen)
        if prefix in out:
            raise _RuleError(f"{prefix} is already listed at [{out.index(prefix)}]", where)
        out.append(prefix)
    return tuple(out)


def _optional(rule: Callable[[object], object]) -> Callable[[object], object]:
    def check(value: object) -> object:
        return None if value is None else rule(value)

    return check


def _validator(rule: Callable[[object], object]) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """An attrs validator raising :class:`ConfigError` as ``Class.field: why``."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        try:
            rule(value)
        except _RuleError as exc:
            raise ConfigError(f"{type(instance).__name__}.{attribute.name}{exc.where}: {exc.why}") from None

    return validate


def _normal_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value  # the validator says why


def _normal_optional_address(value: str | None) -> str | None:
    return None if value is None else _normal_address(value)


def _normal_listen(value: tuple[str, int] | None) -> tuple[str, int] | None:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return _normal_address(value[0]), value[1]
    return value


def _families_tuple(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else value


def _convert_mac(value: object) -> object:
    if isinstance(value, str):
        with suppress(ValueError):
            return mac_bytes(value)
    return value


def _hide(value: str | None) -> str:
    return "None" if value is None else "'***'"


# --- the values --------------------------------------------------------------------------


@attrs.frozen
class SpeakerConfig:
    """The local BGP speaker: the ``[speaker]`` table."""

    asn: int = attrs.field(validator=_validator(_asn))
    """Our AS number, 1..4294967295 but not 23456 (AS_TRANS, RFC 6793)."""
    router_id: str = attrs.field(validator=_validator(_router_id))
    """The BGP Identifier as a dotted unicast IPv4 address, not 0.0.0.0 (RFC 4271 §4.2, RFC 6286)."""
    listen: tuple[str, int] | None = attrs.field(
        default=None, converter=_normal_listen, validator=_validator(_optional(_listen_pair))
    )
    """``(address, port)`` to accept connections on, or ``None`` not to listen."""
    hold_time: int = attrs.field(default=90, validator=_validator(_hold_time))
    """The Hold Time we offer in OPEN, seconds: 0 or 3..65535 (RFC 4271 §4.2)."""
    connect_retry: float = attrs.field(default=_DEFAULT_CONNECT_RETRY, validator=_validator(_seconds))
    """ConnectRetryTime in seconds (RFC 4271 §10); in a file, the default for every peer."""
    cluster_id: str | None = attrs.field(default=None, validator=_validator(_optional(_router_id)))
    """Our route-reflector CLUSTER_ID as a dotted IPv4 address (RFC 4456 §7), or ``None`` for the router ID."""


@attrs.frozen
class PeerConfig:
    """One BGP neighbour: a ``[[peers]]`` table."""

    address: str = attrs.field(converter=_normal_address, validator=_validator(_host_address))
    """The peer's IPv4 or IPv6 address, normalised (``2001:db8::1``, not ``2001:DB8:0::1``)."""
    asn: int = attrs.field(validator=_validator(_asn))
    """The peer's AS number, 1..4294967295 but not 23456 (AS_TRANS); equal to ours for iBGP."""
    local_address: str | None = attrs.field(
        default=None,
        converter=_normal_optional_address,
        validator=_validator(_optional(_host_address)),
    )
    """The address to connect from (same family as :attr:`address`), or ``None`` for the kernel's choice."""
    passive: bool = attrs.field(default=False, validator=_validator(_boolean))
    """Only wait for the peer to connect; never connect out (RFC 4271 §8.1.1, PassiveTcpEstablishment)."""
    password: str | None = attrs.field(default=None, repr=_hide, validator=_validator(_optional(_password)))
    """TCP MD5 signature key (RFC 2385), 1..80 bytes as UTF-8; hidden from ``repr()``."""
    hold_time: int | None = attrs.field(default=None, validator=_validator(_optional(_hold_time)))
    """The Hold Time to offer this peer: ``None`` for the speaker's, else 0 or 3..65535 (RFC 4271 §4.2)."""
    families: tuple[str, ...] = attrs.field(
        default=("l2vpn-evpn",), converter=_families_tuple, validator=_validator(_families)
    )
    """Address families to negotiate (names from :data:`FAMILIES`), in order, no duplicates, not empty."""
    port: int = attrs.field(default=_BGP_PORT, validator=_validator(_port))
    """The TCP port to connect to, 1..65535."""
    connect_retry: float = attrs.field(default=_DEFAULT_CONNECT_RETRY, validator=_validator(_seconds))
    """ConnectRetryTime in seconds (RFC 4271 §10), greater than 0."""
    route_reflector_client: bool = attrs.field(default=False, validator=_validator(_boolean))
    """Reflect iBGP routes to and from this iBGP peer (RFC 4456 §6); only for a peer in our AS."""
    max_prefixes: int | None = attrs.field(default=None, validator=_validator(_optional(_max_prefixes)))
    """The most routes accepted from this peer in one address family, or ``None`` for no limit.
    One more ends the session with a Cease/Maximum Number of Prefixes Reached NOTIFICATION
    carrying the AFI, SAFI and this limit (RFC 4486 §4), and drops the peer's routes."""
    max_prefixes_restart: float | None = attrs.field(default=None, validator=_validator(_optional(_restart_delay)))
    """Seconds after which a session ended by :attr:`max_prefixes` starts again, or ``None``: it
    stays down until :meth:`evpn.speaker.Speaker.reset` or a restart of the speaker (as FRR's
    ``maximum-prefix N`` without ``restart``)."""

    @local_address.validator
    def _check_local_family(self, attribute: attrs.Attribute[Any], value: str | None) -> None:
        # Validators run once every field is set, after the address's own validator passed.
        if value is not None:
            _validator(lambda local: _same_family(self.address, str(local)))(self, attribute, value)

    @property
    def afi_safis(self) -> tuple[tuple[int, int], ...]:
        """The (AFI, SAFI) pairs of :attr:`families`, in order, e.g. ``((25, 70),)``."""
        return tuple(FAMILIES[name] for name in self.families)

    def effective_hold_time(self, speaker: SpeakerConfig) -> int:
        """The Hold Time to offer this peer in OPEN: its own, or else the speaker's.

        The session then uses the smaller of this and the peer's (RFC 4271 §4.2).
        """
        return speaker.hold_time if self.hold_time is None else self.hold_time


def _concrete_rd(value: object) -> RouteDistinguisher:
    if not isinstance(value, RouteDistinguisher):
        raise _RuleError(f"expected a RouteDistinguisher, got {value!r}")
    return value


def _concrete_targets(value: object) -> tuple[RouteTarget, ...]:
    if not isinstance(value, tuple):
        raise _RuleError(f"expected a tuple of RouteTarget, got {value!r}")
    targets = _targets(value)
    for index, target in enumerate(targets):
        if not isinstance(target, RouteTarget):
            raise _RuleError(f'expected a RouteTarget, got {target!r} (resolve "auto" first)', f"[{index}]")
    return value


def _to_rd(value: object) -> object:
    if isinstance(value, str) and value != _AUTO:
        with suppress(ValueError):
            return RouteDistinguisher.parse(value)
    return value


def _to_targets(value: object) -> object:
    if isinstance(value, list | tuple):
        out: list[object] = []
        for item in value:
            if isinstance(item, str) and item != _AUTO:
                with suppress(ValueError):
                    item = RouteTarget.parse(item)
            out.append(item)
        return tuple(out)
    return value


def _to_macs(value: object) -> object:
    try:
        return _macs(value)
    except _RuleError:
        return value  # the validator says why


def _to_prefixes(value: object) -> object:
    try:
        return _prefixes(value)
    except _RuleError:
        return value


def auto_rd(router_id: str, index: int) -> RouteDistinguisher:
    """FRR's automatic RD: ``router-id:index`` (type 1, RFC 4364 §4.2), index counted from 1."""
    return RouteDistinguisher.parse(f"{router_id}:{index}")


def auto_target(asn: int, vni: int) -> RouteTarget:
    """FRR's automatic route target ``ASN:VNI``: the AS's low 16 bits, 2-octet-AS type (RFC 4360 §4)."""
    return RouteTarget(asn & 0xFFFF, vni, kind=0)


@attrs.frozen
class VniConfig:
    """A local L2 VNI (a broadcast domain, RFC 8365 §5.1): a ``[[vnis]]`` table."""

    vni: int = attrs.field(validator=_validator(_vni))
    """The VXLAN Network Identifier, 1..16777215; the label of its routes (RFC 8365 §5.1.3)."""
    vtep: str = attrs.field(converter=_normal_address, validator=_validator(_vtep))
    """Our VTEP address: the next hop, originator IP and PMSI tunnel endpoint of the VNI's routes."""
    rd: RouteDistinguisher = attrs.field(converter=_to_rd, validator=_validator(_concrete_rd))
    """The route distinguisher of the VNI's routes (a file's ``"auto"`` is ``router_id:index``)."""
    import_targets: tuple[RouteTarget, ...] = attrs.field(
        converter=_to_targets, validator=_validator(_concrete_targets)
    )
    """Route targets to import (a file's ``"auto"`` is ``ASN:VNI``, the AS's low 16 bits)."""
    export_targets: tuple[RouteTarget, ...] = attrs.field(
        converter=_to_targets, validator=_validator(_concrete_targets)
    )
    """Route targets our routes of this VNI carry (RFC 4360 §4)."""
    macs: tuple[tuple[bytes, bytes], ...] = attrs.field(default=(), converter=_to_macs, validator=_validator(_macs))
    """Local hosts as (6-byte MAC, 4/16-byte IP or ``b""``), each advertised as a type-2 route."""
    vrf: str | None = attrs.field(default=None, validator=_validator(_optional(_vrf_name)))
    """The ``[[vrfs]]`` name this VNI routes through (symmetric IRB, RFC 9135), or ``None``."""
    bridge: str | None = attrs.field(default=None, validator=_validator(_optional(_device)))
    """The bridge the VNI's VXLAN device is a port of (also its SVI), or ``None`` to find it."""
    vxlan: str | None = attrs.field(default=None, validator=_validator(_optional(_device)))
    """The VNI's VXLAN device, or ``None`` to find the one whose VXLAN ID is :attr:`vni`."""


@attrs.frozen
class VrfConfig:
    """A tenant VRF with its L3 VNI (symmetric IRB, RFC 9135; prefixes, RFC 9136): a ``[[vrfs]]`` table."""

    name: str = attrs.field(validator=_validator(_vrf_name))
    """The VRF's name, referred to by ``VniConfig.vrf``."""
    l3vni: int = attrs.field(validator=_validator(_vni))
    """The L3 VNI, 1..16777215: label2 of MAC+IP routes and the label of type-5 routes."""
    router_mac: bytes = attrs.field(converter=_convert_mac, validator=_validator(_unicast_mac))
    """Our router MAC for this VRF (the Router's MAC extended community, RFC 9135 §8.1)."""
    rd: RouteDistinguisher = attrs.field(converter=_to_rd, validator=_validator(_concrete_rd))
    """The RD of the VRF's type-5 routes (a file's ``"auto"`` is ``router_id:(vnis + position)``)."""
    import_targets: tuple[RouteTarget, ...] = attrs.field(
        converter=_to_targets, validator=_validator(_concrete_targets)
    )
    """Route targets to import (a file's ``"auto"`` is ``ASN:L3VNI``)."""
    export_targets: tuple[RouteTarget, ...] = attrs.field(
        converter=_to_targets, validator=_validator(_concrete_targets)
    )
    """Route targets of the VRF's routes, also added to MAC+IP routes of its L2 VNIs."""
    prefixes: tuple[Prefix, ...] = attrs.field(default=(), converter=_to_prefixes, validator=_validator(_prefixes))
    """Prefixes advertised as type-5 routes (RFC 9136 §3.1), host bits clear."""
    vtep: str | None = attrs.field(
        default=None, converter=_normal_optional_address, validator=_validator(_optional(_vtep))
    )
    """Our VTEP address for the L3 VNI, or ``None`` for the speaker's router ID."""
    bridge: str | None = attrs.field(default=None, validator=_validator(_optional(_device)))
    """The L3 VNI's bridge (the L3 SVI), or ``None`` to find it from :attr:`vxlan`."""
    vxlan: str | None = attrs.field(default=None, validator=_validator(_optional(_device)))
    """The L3 VNI's VXLAN device, or ``None`` to find the one whose VXLAN ID is :attr:`l3vni`."""
    vrf: str | None = attrs.field(default=None, validator=_validator(_optional(_device)))
    """The kernel VRF device whose table gets the routes, or ``None`` (see :attr:`table`)."""
    table: int | None = attrs.field(default=None, validator=_validator(_optional(_table)))
    """The routing table that gets the routes.  With :attr:`vrf`, the VRF device's table
    (``None``: read from the kernel); without, ``None`` is 254, the main table."""


def _peers_tuple(value: tuple[PeerConfig, ...] | list[PeerConfig]) -> tuple[PeerConfig, ...]:
    return tuple(value) if isinstance(value, list) else value


def _check_speaker(instance: Config, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, SpeakerConfig):
        raise ConfigError(f"Config.speaker: expected a SpeakerConfig, got {value!r}")


def _check_peers(instance: Config, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise ConfigError(f"Config.peers: expected a tuple of PeerConfig, got {value!r}")
    seen: dict[str, int] = {}
    for index, peer in enumerate(value):
        if not isinstance(peer, PeerConfig):
            raise ConfigError(f"Config.peers[{index}]: expected a PeerConfig, got {peer!r}")
        if peer.address in seen:
            raise ConfigError(
                f"Config.peers[{index}].address: {peer.address} is already the address of peers[{seen[peer.address]}]"
            )
        seen[peer.address] = index


def _tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def _check_vnis(instance: Config, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise ConfigError(f"Config.vnis: expected a tuple of VniConfig, got {value!r}")
    vrfs = (
        {vrf.name for vrf in instance.vrfs if isinstance(vrf, VrfConfig)} if isinstance(instance.vrfs, tuple) else set()
    )
    seen: dict[int, int] = {}
    for index, vni in enumerate(value):
        if not isinstance(vni, VniConfig):
            raise ConfigError(f"Config.vnis[{index}]: expected a VniConfig, got {vni!r}")
        if (why := _vni_clash(vni.vni, seen)) is not None:
            raise ConfigError(f"Config.vnis[{index}].vni: {why}")
        seen[vni.vni] = index
        if vni.vrf is not None and vni.vrf not in vrfs:
            raise ConfigError(f"Config.vnis[{index}].vrf: {_unknown_vrf(vni.vrf, vrfs)}")


def _check_vrfs(instance: Config, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        raise ConfigError(f"Config.vrfs: expected a tuple of VrfConfig, got {value!r}")
    l2 = {vni.vni: i for i, vni in enumerate(instance.vnis) if isinstance(vni, VniConfig)}
    names: dict[str, int] = {}
    l3: dict[int, int] = {}
    for index, vrf in enumerate(value):
        if not isinstance(vrf, VrfConfig):
            raise ConfigError(f"Config.vrfs[{index}]: expected a VrfConfig, got {vrf!r}")
        if vrf.name in names:
            raise ConfigError(
                f"Config.vrfs[{index}].name: {_quote(vrf.name)} is already the name of vrfs[{names[vrf.name]}]"
            )
        names[vrf.name] = index
        if (why := _l3vni_clash(vrf.l3vni, l2, l3)) is not None:
            raise ConfigError(f"Config.vrfs[{index}].l3vni: {why}")
        l3[vrf.l3vni] = index


def _vni_clash(vni: int, seen: Mapping[int, int]) -> str | None:
    if vni in seen:
        return f"{vni} is already the VNI of vnis[{seen[vni]}]"
    return None


def _l3vni_clash(l3vni: int, l2: Mapping[int, int], l3: Mapping[int, int]) -> str | None:
    if l3vni in l2:
        return f"{l3vni} is already the L2 VNI of vnis[{l2[l3vni]}] (an L3 VNI needs its own, RFC 9135 §5)"
    if l3vni in l3:
        return f"{l3vni} is already the L3 VNI of vrfs[{l3[l3vni]}]"
    return None


def _unknown_vrf(name: str, known: set[str]) -> str:
    hint = _suggestion(name, sorted(known), quote=True)
    names = ", ".join(_quote(n) for n in sorted(known)) or "none"
    return f"{_quote(name)} is not the name of a [[vrfs]] table ({hint + ' ' if hint else ''}known: {names})"


@attrs.frozen
class DataplaneConfig:
    """Where the RIB's VNI/VRF state is programmed: the ``[dataplane]`` table."""

    sink: str = attrs.field(default="none", validator=_validator(_sink))
    """``"netlink"`` (the Linux kernel, needs root and pyroute2), ``"memory"`` or ``"none"``."""
    learn: bool = attrs.field(default=True, validator=_validator(_boolean))
    """With the netlink sink: originate type-2 routes for the MACs and neighbours the kernel
    learns on the VNIs' bridges, and type-3 routes only while a VNI's VXLAN device is up."""
    create_devices: bool = attrs.field(default=False, validator=_validator(_boolean))
    """With the netlink sink: create (or fix up) each VNI's and VRF's bridge, VXLAN device and
    VRF device at start (:mod:`evpn.sink.devices`)."""


@attrs.frozen
class Config:
    """A whole configuration: the speaker, its peers (no two with the same address), and
    the local VNIs and VRFs whose routes it originates."""

    speaker: SpeakerConfig = attrs.field(validator=_check_speaker)
    """The ``[speaker]`` table."""
    peers: tuple[PeerConfig, ...] = attrs.field(default=(), converter=_peers_tuple, validator=_check_peers)
    """The ``[[peers]]`` tables, in file order."""
    vnis: tuple[VniConfig, ...] = attrs.field(default=(), converter=_tuple, validator=_check_vnis)
    """The ``[[vnis]]`` tables, in file order: no two with the same VNI."""
    vrfs: tuple[VrfConfig, ...] = attrs.field(default=(), converter=_tuple, validator=_check_vrfs)
    """The ``[[vrfs]]`` tables, in file order: unique names and L3 VNIs, none equal to an L2 VNI."""
    dataplane: DataplaneConfig = attrs.field(factory=DataplaneConfig)
    """The ``[dataplane]`` table."""


# --- reading a file ----------------------------------------------------------------------


@attrs.frozen
class _Key:
    """One key of a table: its rule, and whether it must be there."""

    rule: Callable[[object], object]
    required: bool = False


_SPEAKER_KEYS: Final[Mapping[str, _Key]] = {
    "asn": _Key(_asn, required=True),
    "router_id": _Key(_router_id, required=True),
    "listen": _Key(_listen_text),
    "hold_time": _Key(_hold_time),
    "connect_retry": _Key(_seconds),
    "cluster_id": _Key(_router_id),
}

_PEER_KEYS: Final[Mapping[str, _Key]] = {
    "address": _Key(_host_address, required=True),
    "asn": _Key(_asn, required=True),
    "local_address": _Key(_host_address),
    "passive": _Key(_boolean),
    "password": _Key(_password),
    "hold_time": _Key(_hold_time),
    "families": _Key(_families),
    "port": _Key(_port),
    "connect_retry": _Key(_seconds),
    "route_reflector_client": _Key(_boolean),
    "max_prefixes": _Key(_max_prefixes),
    "max_prefixes_restart": _Key(_restart_delay),
}


def _key_path(path: str, key: str) -> str:
    """``path.key``, quoting ``key`` as TOML does when it is not a bare key."""
    text = key if _BARE_KEY.fullmatch(key) else _quote(key)
    return f"{path}.{text}" if path else text


class _Reader:
    """Collects every problem of one configuration, each as ``SOURCE: KEY.PATH: why``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []

    def fail(self, path: str, why: str) -> None:
        self.errors.append(f"{self.source}: {path}: {why}")

    def unknown_keys(self, path: str, table: Mapping[Any, Any], known: list[str]) -> bool:
        """Report the keys of ``table`` not in ``known``; true when there were none."""
        clean = True
        for key in table:
            if not isinstance(key, str):
                self.fail(path or "(top level)", f"keys must be strings, got {key!r}")
                clean = False
            elif key not in known:
                hint = _suggestion(key, known) or f"known keys here: {', '.join(known)}"
                self.fail(_key_path(path, key), f"unknown key ({hint})")
                clean = False
        return clean

    def table(self, path: str, raw: object, keys: Mapping[str, _Key], form: str) -> tuple[dict[str, Any], bool]:
        """Check a table key by key: the values that passed, and whether all did."""
        if not isinstance(raw, Mapping):
            self.fail(path, f"expected {form}, got {_describe(raw)}")
            return {}, False
        clean = self.unknown_keys(path, raw, list(keys))
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in keys:
                try:
                    values[key] = keys[key].rule(value)
                except _RuleError as exc:
                    self.fail(_key_path(path, key) + exc.where, exc.why)
                    clean = False
        for key, spec in keys.items():
            if spec.required and key not in raw:
                self.fail(_key_path(path, key), "required key is missing")
                clean = False
        return values, clean


def _read_speaker(reader: _Reader, path: str, raw: object, done: Mapping[str, Any]) -> SpeakerConfig | None:
    values, clean = reader.table(path, raw, _SPEAKER_KEYS, f"a table ([{path}])")
    return SpeakerConfig(**values) if clean else None


def _read_peers(reader: _Reader, path: str, raw: object, done: Mapping[str, Any]) -> tuple[PeerConfig, ...] | None:
    if not isinstance(raw, list):
        reader.fail(path, f"expected an array of tables ([[{path}]]), got {_describe(raw)}")
        return None
    speaker = done.get("speaker")
    connect_retry = speaker.connect_retry if isinstance(speaker, SpeakerConfig) else _DEFAULT_CONNECT_RETRY
    peers: list[PeerConfig] = []
    owner: dict[str, int] = {}
    all_clean = True
    for index, item in enumerate(raw):
        where = f"{path}[{index}]"
        values, clean = reader.table(where, item, _PEER_KEYS, f"a table ([[{path}]])")
        address, local_address = values.get("address"), values.get("local_address")
        if address is not None:
            if address in owner:
                reader.fail(f"{where}.address", f"{address} is already the address of {path}[{owner[address]}]")
                clean = False
            else:
                owner[address] = index
        if address is not None and local_address is not None:
            try:
                _same_family(address, local_address)
            except _RuleError as exc:
                reader.fail(f"{where}.local_address", exc.why)
                clean = False
        if values.get("route_reflector_client") and isinstance(speaker, SpeakerConfig):
            asn = values.get("asn")
            if asn is not None and asn != speaker.asn:
                reader.fail(
                    f"{where}.route_reflector_client",
                    f"AS {asn} is not ours ({speaker.asn}): only iBGP peers can be route-reflector clients (RFC 4456 §2)",
                )
                clean = False
        if "max_prefixes_restart" in values and "max_prefixes" not in values:
            reader.fail(f"{where}.max_prefixes_restart", "there is no max_prefixes limit to restart after")
            clean = False
        if clean:
            values.setdefault("connect_retry", connect_retry)
            peers.append(PeerConfig(**values))
        all_clean = all_clean and clean
    return tuple(peers) if all_clean else None


_VNI_KEYS: Final[Mapping[str, _Key]] = {
    "vni": _Key(_vni, required=True),
    "vtep": _Key(_vtep, required=True),
    "rd": _Key(_rd),
    "import_targets": _Key(_targets),
    "export_targets": _Key(_targets),
    "macs": _Key(_macs),
    "vrf": _Key(_vrf_name),
    "bridge": _Key(_device),
    "vxlan": _Key(_device),
}

_VRF_KEYS: Final[Mapping[str, _Key]] = {
    "name": _Key(_vrf_name, required=True),
    "l3vni": _Key(_vni, required=True),
    "router_mac": _Key(_unicast_mac, required=True),
    "rd": _Key(_rd),
    "import_targets": _Key(_targets),
    "export_targets": _Key(_targets),
    "prefixes": _Key(_prefixes),
    "vtep": _Key(_vtep),
    "bridge": _Key(_device),
    "vxlan": _Key(_device),
    "vrf": _Key(_device),
    "table": _Key(_table),
}

_DATAPLANE_KEYS: Final[Mapping[str, _Key]] = {
    "sink": _Key(_sink),
    "learn": _Key(_boolean),
    "create_devices": _Key(_boolean),
}


def _resolve_auto(values: dict[str, Any], speaker: SpeakerConfig, index: int, vni: int) -> str | None:
    """Replace ``"auto"`` (also the default) by FRR's values: RD ``router_id:index``, RT ``ASN:VNI``.

    Returns why the RD cannot be automatic, or ``None``.
    """
    rd = values.get("rd", _AUTO)
    if rd == _AUTO:
        if index > 0xFFFF:
            return (
                f'"auto" would be {speaker.router_id}:{index}, but the assigned number of an IPv4 RD '
                'is at most 65535 (RFC 4364 §4.2): give this table an explicit "rd"'
            )
        rd = auto_rd(speaker.router_id, index)
    values["rd"] = rd
    auto = auto_target(speaker.asn, vni)
    for key in ("import_targets", "export_targets"):
        targets = values.get(key, (_AUTO,))
        resolved: list[RouteTarget] = []
        for target in targets:
            target = auto if target == _AUTO else target
            if target not in resolved:  # "auto" may also be written out
                resolved.append(target)
        values[key] = tuple(resolved)
    return None


def _read_array(reader: _Reader, path: str, raw: object) -> list[Any] | None:
    if not isinstance(raw, list):
        reader.fail(path, f"expected an array of tables ([[{path}]]), got {_describe(raw)}")
        return None
    return raw


def _read_vnis(reader: _Reader, path: str, raw: object, done: Mapping[str, Any]) -> tuple[VniConfig, ...] | None:
    items = _read_array(reader, path, raw)
    if items is None:
        return None
    speaker = done.get("speaker")
    vnis: list[VniConfig] = []
    seen: dict[int, int] = {}
    all_clean = True
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        values, clean = reader.table(where, item, _VNI_KEYS, f"a table ([[{path}]])")
        vni = values.get("vni")
        if vni is not None:
            if (why := _vni_clash(vni, seen)) is not None:
                reader.fail(f"{where}.vni", why.replace("vnis[", f"{path}["))
                clean = False
            else:
                seen[vni] = index
        if clean and isinstance(speaker, SpeakerConfig):
            if (why := _resolve_auto(values, speaker, index + 1, values["vni"])) is None:
                vnis.append(VniConfig(**values))
            else:
                reader.fail(f"{where}.rd", why)
                clean = False
        all_clean = all_clean and clean
    return tuple(vnis) if all_clean and isinstance(speaker, SpeakerConfig) else None


def _read_vrfs(reader: _Reader, path: str, raw: object, done: Mapping[str, Any]) -> tuple[VrfConfig, ...] | None:
    items = _read_array(reader, path, raw)
    if items is None:
        return None
    speaker = done.get("speaker")
    vnis = done.get("vnis", ())
    l2 = {vni.vni: i for i, vni in enumerate(vnis)}
    names: dict[str, int] = {}
    l3: dict[int, int] = {}
    vrfs: list[VrfConfig] = []
    all_clean = True
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        values, clean = reader.table(where, item, _VRF_KEYS, f"a table ([[{path}]])")
        name, l3vni = values.get("name"), values.get("l3vni")
        if name is not None:
            if name in names:
                reader.fail(f"{where}.name", f"{_quote(name)} is already the name of {path}[{names[name]}]")
                clean = False
            else:
                names[name] = index
        if l3vni is not None:
            if (why := _l3vni_clash(l3vni, l2, l3)) is not None:
                reader.fail(f"{where}.l3vni", why)
                clean = False
            else:
                l3[l3vni] = index
        if clean and isinstance(speaker, SpeakerConfig):
            # After the L2 VNIs' RDs (1..len(vnis)), so that every RD of ours is distinct.
            if (why := _resolve_auto(values, speaker, len(vnis) + index + 1, values["l3vni"])) is None:
                vrfs.append(VrfConfig(**values))
            else:
                reader.fail(f"{where}.rd", why)
                clean = False
        all_clean = all_clean and clean
    return tuple(vrfs) if all_clean and isinstance(speaker, SpeakerConfig) else None


def _read_dataplane(reader: _Reader, path: str, raw: object, done: Mapping[str, Any]) -> DataplaneConfig | None:
    values, clean = reader.table(path, raw, _DATAPLANE_KEYS, f"a table ([{path}])")
    if values.get("sink") == "memory":  # only the kernel knows a VRF device's table
        for index, vrf in enumerate(done.get("vrfs") or ()):
            if vrf.vrf is not None and vrf.table is None:
                reader.fail(
                    f"vrfs[{index}].table",
                    f"the memory sink cannot ask the kernel for VRF {_quote(vrf.vrf)}'s table: give `table`",
                )
                clean = False
    return DataplaneConfig(**values) if clean else None


def _check_references(reader: _Reader, data: Mapping[str, Any], done: Mapping[str, Any]) -> None:
    """Each ``vnis[N].vrf`` must name a ``[[vrfs]]`` table (checked once both are read)."""
    if "vnis" not in done or ("vrfs" in data and "vrfs" not in done):
        return  # the tables' own errors are reported; a reference check would only add noise
    known = {vrf.name for vrf in done.get("vrfs", ())}
    for index, vni in enumerate(done["vnis"]):
        if vni.vrf is not None and vni.vrf not in known:
            reader.fail(f"vnis[{index}].vrf", _unknown_vrf(vni.vrf, known))


@attrs.frozen
class _Section:
    """A top-level key: how to read it, and whether it must be there.

    The key is also the name of the :class:`Config` field the result goes to.
    """

    read: Callable[[_Reader, str, object, Mapping[str, Any]], object]
    required: bool = False
    form: str = ""


# Sections are read in this order; each reader sees the values of those before it.
# A new section is one row here and one field of Config.
_SECTIONS: Final[Mapping[str, _Section]] = {
    "speaker": _Section(_read_speaker, required=True, form="[speaker]"),
    "peers": _Section(_read_peers, form="[[peers]]"),
    "vnis": _Section(_read_vnis, form="[[vnis]]"),
    "vrfs": _Section(_read_vrfs, form="[[vrfs]]"),
    "dataplane": _Section(_read_dataplane, form="[dataplane]"),
}


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """Check a parsed TOML document (as :func:`tomllib.loads` returns it) and build the :class:`Config`.

    ``source`` names the document in error messages.  Raises :class:`ConfigError`
    listing every problem, one per line, each naming the key path.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a table at the top level, got {_describe(data)}")
    reader = _Reader(source)
    reader.unknown_keys("", data, list(_SECTIONS))
    done: dict[str, Any] = {}
    for name, section in _SECTIONS.items():
        if name not in data:
            if section.required:
                reader.fail(name, f"required table is missing ({section.form})")
            continue
        value = section.read(reader, name, data[name], done)
        if value is not None:
            done[name] = value
    _check_references(reader, data, done)
    if reader.errors:
        raise ConfigError("\n".join(reader.errors))
    return Config(**done)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a TOML configuration file.

    Raises :class:`ConfigError` when the file cannot be read, is not TOML (the message
    gives the line and column), or breaks a rule (the message names the file and key).
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: the file is not UTF-8 (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return parse_config(data, source)
