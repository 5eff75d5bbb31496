"""A scripted BGP EVPN peer for the fault scenarios, run inside a network namespace.

    python -u bgp_peer.py --local ADDR --remote ADDR --asn N [--port 179] [--hold-time 30] [--table FILE]

It connects from ADDR to the speaker at ADDR:port, again whenever a session ends (after
:data:`RETRY` seconds, unless paused), exchanges OPEN and KEEPALIVE (4-octet AS, L2VPN/EVPN), then
writes its whole table and an End-of-RIB (RFC 4724 §2) as fast as the speaker reads them; a table
loaded while a session is up goes out as the difference (withdrawals, then announcements).  It
reads and discards what the speaker sends, sends KEEPALIVEs every hold time / 3 and ends a session
whose hold timer expires.  Messages are built with ``evpn.wire``.

A table (JSON, written by the tests): ``{"vni": 100, "route_target": "65100:100", "vteps": [...],
"macs": [...]}``, its routes as :mod:`evpn_table` describes them, with an AS_PATH of our AS (eBGP).

Commands, one JSON object per line on stdin; each is answered with a ``command`` event:

``{"cmd": "table", "file": PATH}``
    Load PATH; an established session is sent the difference.
``{"cmd": "flap", "how": "cease" | "close" | "reset"}``
    End the session now: a Cease (Administrative Reset), a plain close, or a TCP RST.
``{"cmd": "flaps", "plan": [{"stage": S, "how": H, "wait": SECONDS}, ...], "count": N}``
    Flap N times, taking the plan's steps in turn: on each new connection, once ``stage`` is reached
    (``"open"``: the speaker's OPEN received, before our KEEPALIVE; ``"transfer"``: half the table
    written; ``"eor"``: the End-of-RIB written) wait ``wait`` seconds and end the session ``how``
    (also ``"silent"``: send nothing more, not even a KEEPALIVE, until the speaker's hold timer
    expires and it closes the connection).  A connection that ends before its stage does not count.  ``flapped``
    reports each flap, ``flaps_done`` the end; the next session stays up.
``{"cmd": "pause"}`` / ``{"cmd": "resume"}``
    Stop connecting (an established session gets a Cease) / start again.
``{"cmd": "quit"}``

Events, one JSON object per line on stdout: ``ready``, ``established`` (``session``: how many so
far), ``table_sent`` (``routes``, ``seconds``, ``time``), ``updated`` (``announced``,
``withdrawn``), ``down`` (``reason``), ``flapped``, ``flaps_done``, ``command``.  Times are
``time.time()``.  SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import selectors
import signal
import socket
import struct
import sys
import time
from collections import deque
from typing import Any

from evpn_table import Encoder, Key, emit, load_table, read_commands

from evpn.wire import (
    AsPath,
    AsPathSegment,
    FourOctetAS,
    Keepalive,
    MessageReader,
    Multiprotocol,
    Notification,
    Open,
    end_of_rib,
)
from evpn.wire.attributes import AS_SEQUENCE
from evpn.wire.codes import AFI, SAFI, CeaseSubcode, ErrorCode

RETRY = 0.2
"""Seconds between connection attempts."""
CONNECT_TIMEOUT = 2.0
"""Seconds a connection attempt may take (a SYN lost on a link that was down is not retried for long)."""
_OPEN, _UPDATE, _NOTIFICATION, _KEEPALIVE = 1, 2, 3, 4


class Table:
    """A table file's routes (:func:`evpn_table.load_table`), encoded for a session of AS ``asn``."""

    def __init__(self, data: dict[str, Any] | None, asn: int) -> None:
        data = data or {"vni": 100, "route_target": "65100:100"}
        self.routes = load_table(data)
        path = AsPath((AsPathSegment(AS_SEQUENCE, (asn,)),))
        self.encoder = Encoder(data["vni"], data["route_target"], [path])

    @classmethod
    def load(cls, path: str, asn: int) -> Table:
        with open(path, encoding="utf-8") as file:
            return cls(json.load(file), asn)

    def announce(self, keys: list[Key]) -> list[bytes]:
        """UPDATEs announcing ``keys``."""
        return self.encoder.announce(self.routes, keys)

    def withdraw(self, keys: list[Key]) -> list[bytes]:
        """UPDATEs withdrawing ``keys``."""
        return self.encoder.withdraw(keys)


# --- the session ---------------------------------------------------------------------------------


class Peer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.local, self.remote, self.port, self.asn = args.local, args.remote, args.port, args.asn
        self.hold_time: int = args.hold_time
        self.table = Table.load(args.table, self.asn) if args.table else Table(None, self.asn)
        self.selector = selectors.DefaultSelector()
        self.sock: socket.socket | None = None
        self.state = "idle"  # idle, connecting, opensent, openconfirm, established
        self.paused = False
        self.next_attempt = 0.0
        self.out: deque[memoryview] = deque()
        self.reader = MessageReader()
        self.hold = 0.0
        self.keepalive_due = float("inf")
        self.hold_deadline = float("inf")
        self.connect_deadline = float("inf")
        self.sessions = 0
        self.sending_table: tuple[float, int, int] | None = None  # start, routes, octets left to write
        self.table_octets = 0
        self.plan: list[dict[str, Any]] = []
        self.flaps_left = 0
        self.flaps_done = 0
        self.step: dict[str, Any] | None = None  # the plan step of this connection
        self.step_due: float | None = None  # when the step's stage was reached + its wait
        self.stdin_buffer = bytearray()
        self.running = True

    # -- plumbing --

    def run(self) -> None:
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
        emit("ready", local=self.local, remote=self.remote, routes=len(self.table.routes))
        while self.running:
            now = time.monotonic()
            if self.state == "idle" and not self.paused and now >= self.next_attempt:
                self.connect()
            self.timers(now)
            timeout = max(0.0, min(self.next_wakeup(now), 1.0))
            for key, mask in self.selector.select(timeout):
                if key.data == "stdin":
                    self.read_commands()
                elif key.data == "sock":
                    self.on_socket(mask)
                if not self.running:
                    break
        self.drop("quit", "close")

    def next_wakeup(self, now: float) -> float:
        deadlines = [self.keepalive_due, self.hold_deadline]
        if self.state == "connecting":
            deadlines.append(self.connect_deadline)
        if self.state == "idle" and not self.paused:
            deadlines.append(self.next_attempt)
        if self.step_due is not None:
            deadlines.append(self.step_due)
        return min(deadlines) - now

    def watch(self) -> None:
        assert self.sock is not None
        events = selectors.EVENT_READ
        if self.out or self.state == "connecting":
            events |= selectors.EVENT_WRITE
        if self.state == "connecting":
            events = selectors.EVENT_WRITE
        key = self.selector.get_map().get(self.sock.fileno())
        if key is None:
            self.selector.register(self.sock, events, "sock")
        elif key.events != events:
            self.selector.modify(self.sock, events, "sock")

    def connect(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.local, 0))
        sock.setblocking(False)
        code = sock.connect_ex((self.remote, self.port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self.next_attempt = time.monotonic() + RETRY
            return
        self.sock = sock
        self.state = "connecting"
        self.connect_deadline = time.monotonic() + CONNECT_TIMEOUT
        self.out.clear()
        self.reader = MessageReader()
        self.step = None
        self.step_due = None
        if self.flaps_left:
            self.step = self.plan[self.flaps_done % len(self.plan)]
        self.watch()

    def on_socket(self, mask: int) -> None:
        assert self.sock is not None
        if self.state == "connecting":
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.sock_gone(f"connect: {errno.errorcode.get(code, code)}", quiet=True)
                return
            self.state = "opensent"
            self.hold_deadline = time.monotonic() + 240  # RFC 4271 §8: a large value until the OPEN
            self.send(Open.build(self.asn, self.hold_time, self.local, self.capabilities()).encode())
            return
        if mask & selectors.EVENT_READ:
            try:
                data = self.sock.recv(1 << 18)
            except OSError as exc:
                self.sock_gone(f"receive: {exc}")
                return
            if not data:
                self.sock_gone("the speaker closed the connection")
                return
            self.reader.feed(data)
            for message in self.reader:
                self.received(message)
                if self.sock is None:
                    return
        if mask & selectors.EVENT_WRITE and self.sock is not None:
            self.flush()

    def capabilities(self) -> list[Any]:
        return [Multiprotocol(AFI.L2VPN, SAFI.EVPN), FourOctetAS(self.asn)]

    def send(self, data: bytes) -> None:
        if data:
            self.out.append(memoryview(data))
            self.watch()

    def flush(self) -> None:
        assert self.sock is not None
        while self.out:
            piece = self.out[0]
            try:
                sent = self.sock.send(piece)
            except BlockingIOError:
                break
            except OSError as exc:
                self.sock_gone(f"send: {exc}")
                return
            if self.sending_table is not None:
                start, routes, left = self.sending_table
                left -= sent
                self.sending_table = (start, routes, left)
                if (
                    self.step is not None
                    and self.step["stage"] == "transfer"
                    and self.step_due is None
                    and left <= self.table_octets // 2
                ):
                    self.step_due = time.monotonic() + self.step.get("wait", 0.0)
                if left <= 0:
                    self.sending_table = None
                    emit("table_sent", routes=routes, seconds=round(time.time() - start, 3), session=self.sessions)
                    if self.step is not None and self.step["stage"] == "eor":
                        self.step_due = time.monotonic() + self.step.get("wait", 0.0)
            if sent < len(piece):
                self.out[0] = piece[sent:]
                break
            self.out.popleft()
        self.watch()

    def received(self, message: bytes) -> None:
        kind = message[18]
        now = time.monotonic()
        if self.hold:
            self.hold_deadline = now + self.hold
        if kind == _NOTIFICATION:
            notification = Notification(message[19], message[20], message[21:])
            self.sock_gone(f"NOTIFICATION received: {notification.name}")
        elif kind == _OPEN and self.state == "opensent":
            hold = min(self.hold_time, struct.unpack_from("!H", message, 22)[0])
            self.hold = float(hold)
            self.hold_deadline = now + hold if hold else float("inf")
            self.state = "openconfirm"
            if self.step is not None and self.step["stage"] == "open":
                self.step_due = now + self.step.get("wait", 0.0)
                return
            self.send(Keepalive().encode())
        elif kind == _KEEPALIVE and self.state == "openconfirm":
            if self.step is not None and self.step["stage"] == "open":
                return  # our KEEPALIVE is withheld: the speaker stays in OpenConfirm until the flap
            self.established()

    def established(self) -> None:
        self.state = "established"
        self.sessions += 1
        if self.hold:
            self.keepalive_due = time.monotonic() + self.hold / 3
        emit("established", session=self.sessions)
        keys = list(self.table.routes)
        messages = [*self.table.announce(keys), end_of_rib().encode()]
        self.table_octets = sum(len(m) for m in messages)
        # What is still queued ahead of the table (our KEEPALIVE) goes out first: count it, so
        # that "left" reaches 0 only once the End-of-RIB itself is written.
        queued = sum(len(piece) for piece in self.out)
        self.sending_table = (time.time(), len(keys), self.table_octets + queued)
        for message in messages:
            self.out.append(memoryview(message))
        self.flush()

    def timers(self, now: float) -> None:
        if self.sock is None:
            return
        if self.state == "connecting" and now >= self.connect_deadline:
            self.sock_gone("connect: timed out", quiet=True)
            return
        if now >= self.hold_deadline:
            self.drop("hold timer expired", "hold")
            return
        if self.step_due is not None and now >= self.step_due:
            step = self.step or {}
            self.step_due = None
            self.flap_step(step)
            return
        if self.state == "established" and now >= self.keepalive_due:
            self.keepalive_due = now + self.hold / 3
            self.send(Keepalive().encode())

    def flap_step(self, step: dict[str, Any]) -> None:
        how = step["how"]
        self.flaps_done += 1
        self.flaps_left -= 1
        emit("flapped", n=self.flaps_done, stage=step["stage"], how=how)
        if self.flaps_left == 0:
            emit("flaps_done", n=self.flaps_done)
        if how == "silent":
            self.wait_for_hold_timer()
            return
        self.drop(f"flap {self.flaps_done}: {step['stage']} {how}", how)

    def wait_for_hold_timer(self) -> None:
        """Send nothing more (no KEEPALIVE) until the speaker's hold timer expires and it closes
        the connection; everything else waits meanwhile (this peer is meant to be stuck)."""
        assert self.sock is not None
        sock = self.sock
        sock.setblocking(True)
        sock.settimeout(max(self.hold, 3.0) * 3 + 30)
        reader = MessageReader()
        notification = "none"
        with contextlib.suppress(OSError):
            while data := sock.recv(1 << 18):
                reader.feed(data)
                for message in reader:
                    if message[18] == _NOTIFICATION:
                        notification = Notification(message[19], message[20], message[21:]).name
        self.sock_gone(f"the speaker closed the connection, NOTIFICATION {notification}")

    def drop(self, reason: str, how: str) -> None:
        """End the connection ``how``: ``cease`` (a NOTIFICATION first), ``hold`` (a Hold Timer
        Expired NOTIFICATION first, RFC 4271 §6.5), ``close``, ``reset``."""
        sock = self.sock
        if sock is None:
            return
        if how == "hold":
            with contextlib.suppress(OSError):
                sock.send(Notification(ErrorCode.HOLD_TIMER_EXPIRED).encode())  # all or nothing: 21 bytes
        elif how == "cease" and self.state in ("openconfirm", "established"):
            with contextlib.suppress(OSError):
                sock.setblocking(True)
                sock.settimeout(2)
                for piece in self.out:  # whole messages: finish what was started
                    sock.sendall(piece)
                    break
                sock.sendall(Notification.cease(CeaseSubcode.ADMINISTRATIVE_RESET, "fault test").encode())
        elif how == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock_gone(reason)

    def sock_gone(self, reason: str, *, quiet: bool = False) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(sock)
            sock.close()
        was = self.state
        self.state = "idle"
        self.out.clear()
        self.sending_table = None
        self.keepalive_due = self.hold_deadline = float("inf")
        self.step_due = None
        self.next_attempt = time.monotonic() + RETRY
        if not quiet:
            emit("down", reason=reason, was=was)

    # -- commands --

    def read_commands(self) -> None:
        self.running = read_commands(self.stdin_buffer, self.command)

    def command(self, request: dict[str, Any]) -> None:
        cmd = request.get("cmd")
        answer: dict[str, Any] = {}
        if cmd == "table":
            new = Table.load(request["file"], self.asn)
            old = self.table
            self.table = new
            if self.state == "established":
                gone = [k for k in old.routes if k not in new.routes]
                changed = [k for k, seq in new.routes.items() if old.routes.get(k) != seq]
                self.send(b"".join(old.withdraw(gone) + new.announce(changed)))
                answer = {"announced": len(changed), "withdrawn": len(gone)}
                emit("updated", **answer)
            answer["routes"] = len(new.routes)
        elif cmd == "flap":
            self.drop(f"flap: {request['how']}", request["how"])
        elif cmd == "flaps":
            self.plan = list(request["plan"])
            self.flaps_left = int(request["count"])
            self.flaps_done = 0
            if self.sock is not None:
                self.drop("flaps: starting", "cease")
        elif cmd == "pause":
            self.paused = True
            self.drop("paused", "cease")
        elif cmd == "resume":
            self.paused = False
            self.next_attempt = time.monotonic()
        elif cmd == "quit":
            self.running = False
        else:
            raise ValueError(f"unknown command {cmd!r}")
        emit("command", ok=True, cmd=cmd, state=self.state, **answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--local", required=True)
    parser.add_argument("--remote", required=True)
    parser.add_argument("--port", type=int, default=179)
    parser.add_argument("--asn", type=int, required=True)
    parser.add_argument("--hold-time", type=int, default=30)
    parser.add_argument("--table")
    args = parser.parse_args()

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    Peer(args).run()


if __name__ == "__main__":
    main()
