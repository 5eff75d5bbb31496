"""TCP MD5 signatures (RFC 2385) through Linux's ``TCP_MD5SIG`` socket option."""

from __future__ import annotations

import socket
import struct

__all__ = ["TCP_MD5SIG", "md5sig_option", "set_md5sig"]

TCP_MD5SIG = getattr(socket, "TCP_MD5SIG", 14)
"""The Linux socket option number (``include/uapi/linux/tcp.h``)."""

_KEY_MAX = 80  # TCP_MD5SIG_MAXKEYLEN


def _sockaddr_storage(address: str) -> bytes:
    """A ``struct sockaddr_storage`` (128 bytes) holding ``address`` with port 0 (and its zone)."""
    if ":" in address:
        host, _, zone = address.partition("%")
        scope = socket.if_nametoindex(zone) if zone else 0
        raw = struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", 0, 0) + socket.inet_pton(socket.AF_INET6, host)
        raw += struct.pack("=I", scope)
    else:
        raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + socket.inet_pton(socket.AF_INET, address)
    return raw.ljust(128, b"\0")


def md5sig_option(peer: str, password: str) -> bytes:
    """The ``struct tcp_md5sig`` value that sets (or, with an empty password, clears) the key for ``peer``.

    Layout: sockaddr_storage, flags (u8), prefix length (u8), key length (u16), ifindex (u32),
    key (80 bytes).
    """
    key = password.encode()
    if len(key) > _KEY_MAX:
        raise ValueError(f"TCP MD5 password is {len(key)} bytes; at most {_KEY_MAX} (RFC 2385, Linux)")
    return _sockaddr_storage(peer) + struct.pack("=BBHI", 0, 0, len(key), 0) + key.ljust(_KEY_MAX, b"\0")


def set_md5sig(sock: socket.socket, peer: str, password: str) -> None:
    """Require RFC 2385 signatures with ``password`` on ``sock`` for segments to/from ``peer``.

    On a listening socket this applies to connections accepted from ``peer``; on a
    connecting socket it must be set before ``connect()``.
    """
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig_option(peer, password))
