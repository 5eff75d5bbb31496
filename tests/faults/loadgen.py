"""Many scripted iBGP EVPN peers in one process: the load generator of the convergence test and the soak.

    python -u loadgen.py CONFIG.json        (inside the peers' network namespace)

CONFIG: ``{"remote": ADDR, "port": 179, "asn": N, "hold_time": 30, "vni": 100, "route_target":
"65000:100", "seed": 1, "peers": [{"local": ADDR, "table": TABLE}, ...]}``.  Every peer is an iBGP
session (AS ``asn``, the speaker's) from its own ``local`` address; the selectors loop drives them
all.  A session connects, again whenever it ends (after :data:`RETRY` s), exchanges OPEN and
KEEPALIVE, writes its whole table and an End-of-RIB (RFC 4724 §2), then keeps the session up
(KEEPALIVEs every hold time / 3) and reads and discards what the speaker sends.

TABLE: a table in JSON as :mod:`evpn_table` describes it; the routes carry an empty AS_PATH and
LOCAL_PREF 100 (iBGP).

Commands, one JSON object per line on stdin, each answered by a ``command`` event:

``{"cmd": "tables", "file": PATH}``
    PATH holds ``[TABLE, ...]``, one per peer: the new tables; established sessions get the
    difference (withdrawals, then announcements).
``{"cmd": "moves", "rate": R, "delay": D}``
    From now on move R MACs a second (0 stops): a random MAC of a random peer goes to another
    established peer's first VTEP with the next MAC mobility sequence number (RFC 7432 §15): the
    new peer announces it at once, the old one withdraws it D seconds later (as a VTEP does on
    seeing the higher sequence).  Each move is reported by a ``move`` event once the new peer's
    UPDATE is written to its socket (``sent``: ``time.time()`` just before the ``send()`` that
    wrote its last bytes).
``{"cmd": "dump", "file": PATH}``
    Write the current tables to PATH (``[TABLE, ...]``).
``{"cmd": "status"}`` / ``{"cmd": "quit"}``

Events, one JSON object per line on stdout: ``ready``, ``established`` (``peer``: its index,
``session``: how many so far), ``table_sent`` (``peer``, ``routes``), ``down`` (``peer``,
``reason``), ``move`` (``mac``, ``ip``, ``vtep``, ``seq``, ``from``, ``to``, ``sent``),
``command``.  SIGTERM ends it.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import json
import random
import selectors
import signal
import socket
import struct
import sys
import time
from collections import deque
from typing import Any

from evpn_table import Encoder, Key, emit, load_table, read_commands, table_json

from evpn.wire import AsPath, FourOctetAS, Keepalive, LocalPref, MessageReader, Multiprotocol, Open, end_of_rib
from evpn.wire.codes import AFI, SAFI

RETRY = 0.5
"""Seconds between connection attempts of a session."""
_OPEN, _NOTIFICATION, _KEEPALIVE = 1, 3, 4


class Session:
    def __init__(self, gen: Generator, index: int, local: str, table: dict[Key, int], vteps: list[str]) -> None:
        self.gen, self.index, self.local = gen, index, local
        self.table = table
        self.vteps = vteps  # its own VTEPs: moves come to the first
        self.sock: socket.socket | None = None
        self.state = "idle"
        self.next_attempt = 0.0
        self.out: deque[tuple[memoryview, Any]] = deque()
        self.reader = MessageReader()
        self.hold = 0.0
        self.keepalive_due = float("inf")
        self.hold_deadline = float("inf")
        self.sessions = 0

    def connect(self, now: float) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.local, 0))
        sock.setblocking(False)
        code = sock.connect_ex((self.gen.remote, self.gen.port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self.next_attempt = now + RETRY
            return
        self.sock = sock
        self.state = "connecting"
        self.out.clear()
        self.reader = MessageReader()
        self.hold_deadline = now + 60
        self.gen.selector.register(sock, selectors.EVENT_WRITE, self)

    def watch(self) -> None:
        if self.sock is None:
            return
        events = selectors.EVENT_WRITE if self.state == "connecting" else selectors.EVENT_READ
        if self.out:
            events |= selectors.EVENT_WRITE
        self.gen.selector.modify(self.sock, events, self)

    def send(self, messages: list[bytes], tag: Any = None) -> None:
        """Queue ``messages``; ``tag`` (a callable) is called with the time the last one is written."""
        if self.sock is None or not messages:
            return
        for i, message in enumerate(messages):
            self.out.append((memoryview(message), tag if i == len(messages) - 1 else None))
        self.flush()

    def flush(self) -> None:
        assert self.sock is not None
        while self.out:
            piece, tag = self.out[0]
            before = time.time()  # a move's UPDATE leaves with the send() that writes its last bytes
            try:
                sent = self.sock.send(piece)
            except BlockingIOError:
                break
            except OSError as exc:
                self.gone(f"send: {exc}")
                return
            if sent < len(piece):
                self.out[0] = (piece[sent:], tag)
                break
            self.out.popleft()
            if tag is not None:
                tag(before)
        self.watch()

    def on_event(self, mask: int) -> None:
        assert self.sock is not None
        if self.state == "connecting":
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.gone(f"connect: {errno.errorcode.get(code, code)}", quiet=True)
                return
            self.state = "opensent"
            caps = [Multiprotocol(AFI.L2VPN, SAFI.EVPN), FourOctetAS(self.gen.asn)]
            self.send([Open.build(self.gen.asn, self.gen.hold_time, self.local, caps).encode()])
            return
        if mask & selectors.EVENT_READ:
            try:
                data = self.sock.recv(1 << 18)
            except OSError as exc:
                self.gone(f"receive: {exc}")
                return
            if not data:
                self.gone("the speaker closed the connection")
                return
            self.reader.feed(data)
            for message in self.reader:
                self.received(message)
                if self.sock is None:
                    return
        if mask & selectors.EVENT_WRITE and self.sock is not None:
            self.flush()

    def received(self, message: bytes) -> None:
        kind = message[18]
        now = time.monotonic()
        if self.hold:
            self.hold_deadline = now + self.hold
        if kind == _NOTIFICATION:
            self.gone(f"NOTIFICATION {message[19]}/{message[20]} received")
        elif kind == _OPEN and self.state == "opensent":
            self.hold = float(min(self.gen.hold_time, struct.unpack_from("!H", message, 22)[0]))
            self.hold_deadline = now + self.hold if self.hold else float("inf")
            self.state = "openconfirm"
            self.send([Keepalive().encode()])
        elif kind == _KEEPALIVE and self.state == "openconfirm":
            self.state = "established"
            self.sessions += 1
            if self.hold:
                self.keepalive_due = now + self.hold / 3
            emit("established", peer=self.index, session=self.sessions)
            keys = list(self.table)
            routes = len(keys)
            messages = [*self.gen.encoder.announce(self.table, keys), end_of_rib().encode()]
            index = self.index
            self.send(messages, lambda t: emit("table_sent", peer=index, routes=routes, sent=t))

    def timers(self, now: float) -> None:
        if self.sock is None:
            return
        if now >= self.hold_deadline:
            self.gone("hold timer expired")
        elif self.state == "established" and now >= self.keepalive_due:
            self.keepalive_due = now + self.hold / 3
            self.send([Keepalive().encode()])

    def gone(self, reason: str, *, quiet: bool = False) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.gen.selector.unregister(sock)
            sock.close()
        was = self.state
        self.state = "idle"
        self.out.clear()
        self.keepalive_due = self.hold_deadline = float("inf")
        self.next_attempt = time.monotonic() + RETRY
        if not quiet:
            emit("down", peer=self.index, reason=reason, was=was)


class Generator:
    def __init__(self, config: dict[str, Any]) -> None:
        self.remote: str = config["remote"]
        self.port: int = config.get("port", 179)
        self.asn: int = config["asn"]
        self.hold_time: int = config.get("hold_time", 30)
        self.encoder = Encoder(
            config.get("vni", 100), config.get("route_target", "65000:100"), [AsPath(()), LocalPref(100)]
        )
        self.random = random.Random(config.get("seed", 1))
        self.selector = selectors.DefaultSelector()
        self.sessions = [
            Session(self, i, p["local"], load_table(p["table"]), list(p["table"].get("vteps") or [p["local"]]))
            for i, p in enumerate(config["peers"])
        ]
        self.owner: dict[str, tuple[int, Key]] = {}  # MAC -> (peer, key): where it is now
        for s in self.sessions:
            for key in s.table:
                if key[1]:
                    self.owner[key[1]] = (s.index, key)
        self.rate = 0.0
        self.delay = 0.1
        self.next_move = float("inf")
        self.withdrawals: list[tuple[float, int, int, Key]] = []  # (due, n, peer, key)
        self.moves = 0
        self.running = True
        self.stdin = bytearray()

    def run(self) -> None:
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
        emit("ready", peers=len(self.sessions), routes=sum(len(s.table) for s in self.sessions))
        while self.running:
            now = time.monotonic()
            wake = now + 1.0
            for s in self.sessions:
                if s.state == "idle" and now >= s.next_attempt:
                    s.connect(now)
                s.timers(now)
                wake = min(wake, s.keepalive_due, s.hold_deadline, s.next_attempt if s.state == "idle" else wake)
            self.move_due(now)
            wake = min(wake, self.next_move, self.withdrawals[0][0] if self.withdrawals else wake)
            for key, mask in self.selector.select(max(0.0, wake - time.monotonic())):
                if key.data is None:
                    self.read_commands()
                else:
                    key.data.on_event(mask)
        for s in self.sessions:
            s.gone("quit", quiet=True)

    # -- moves --

    def move_due(self, now: float) -> None:
        while self.withdrawals and self.withdrawals[0][0] <= now:
            _, _, peer, key = heapq.heappop(self.withdrawals)
            session = self.sessions[peer]
            if session.state == "established" and key not in session.table:
                session.send(self.encoder.withdraw([key]))
        while self.rate and now >= self.next_move:
            self.next_move += 1.0 / self.rate
            self.move_one(now)

    def move_one(self, now: float) -> None:
        up = [s for s in self.sessions if s.state == "established"]
        if len(up) < 2:
            return
        mac = self.random.choice(list(self.owner)) if len(self.owner) < 4096 else self._random_mac()
        old_peer, old_key = self.owner[mac]
        old = self.sessions[old_peer]
        new = self.random.choice(up)
        while new is old:
            new = self.random.choice(up)
        seq = old.table.pop(old_key) + 1
        key = (new.vteps[0], mac, old_key[2])
        new.table[key] = seq
        self.owner[mac] = (new.index, key)
        self.moves += 1
        fields = {"mac": mac, "ip": key[2], "vtep": key[0], "seq": seq, "from": old_peer, "to": new.index}
        new.send(self.encoder.announce(new.table, [key]), lambda t: emit("move", sent=t, **fields))
        heapq.heappush(self.withdrawals, (now + self.delay, self.moves, old_peer, old_key))

    def _random_mac(self) -> str:
        if not hasattr(self, "_macs") or len(self._macs) != len(self.owner):
            self._macs = list(self.owner)
        return self.random.choice(self._macs)

    # -- commands --

    def read_commands(self) -> None:
        self.running = read_commands(self.stdin, self.command)

    def command(self, request: dict[str, Any]) -> None:
        cmd = request.get("cmd")
        answer: dict[str, Any] = {}
        if cmd == "tables":
            with open(request["file"], encoding="utf-8") as file:
                tables = [load_table(t) for t in json.load(file)]
            announced = withdrawn = 0
            self.owner.clear()
            for s, new in zip(self.sessions, tables, strict=True):
                old, s.table = s.table, new
                for key in new:
                    if key[1]:
                        self.owner[key[1]] = (s.index, key)
                if s.state == "established":
                    gone = [k for k in old if k not in new]
                    changed = [k for k, seq in new.items() if old.get(k) != seq]
                    s.send(self.encoder.withdraw(gone) + self.encoder.announce(new, changed))
                    announced += len(changed)
                    withdrawn += len(gone)
            answer = {"announced": announced, "withdrawn": withdrawn}
        elif cmd == "moves":
            self.rate = float(request["rate"])
            self.delay = float(request.get("delay", self.delay))
            self.next_move = time.monotonic() if self.rate else float("inf")
        elif cmd == "dump":
            with open(request["file"], "w", encoding="utf-8") as file:
                json.dump([table_json(s.table) for s in self.sessions], file)
            answer = {"pending_withdrawals": len(self.withdrawals)}
        elif cmd == "status":
            pass
        elif cmd == "quit":
            self.running = False
        else:
            raise ValueError(f"unknown command {cmd!r}")
        established = sum(s.state == "established" for s in self.sessions)
        emit("command", ok=True, cmd=cmd, established=established, moves=self.moves, **answer)


def main() -> None:
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with open(sys.argv[1], encoding="utf-8") as file:
        config = json.load(file)
    Generator(config).run()


if __name__ == "__main__":
    main()
