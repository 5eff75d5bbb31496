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
from typing import Any, Final

import attrs

from evpn.errors import ConfigError
from evpn.wire.codes import AFI, SAFI

__all__ = [
    "FAMILIES",
    "Config",
    "PeerConfig",
    "SpeakerConfig",
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


@attrs.frozen
class Config:
    """A whole configuration: the speaker and its peers (no two with the same address)."""

    speaker: SpeakerConfig = attrs.field(validator=_check_speaker)
    """The ``[speaker]`` table."""
    peers: tuple[PeerConfig, ...] = attrs.field(default=(), converter=_peers_tuple, validator=_check_peers)
    """The ``[[peers]]`` tables, in file order."""


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
        if clean:
            values.setdefault("connect_retry", connect_retry)
            peers.append(PeerConfig(**values))
        all_clean = all_clean and clean
    return tuple(peers) if all_clean else None


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
