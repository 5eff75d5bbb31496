"""The programs ``bench_ingest.py`` runs inside its network namespaces, one per subcommand.

Each prints one JSON object per line on stdout (flushed) and runs until it gets SIGTERM.

``speaker CONFIG.toml``
    Our speaker (:func:`evpn.open_speaker` on CONFIG), the receiver or route reflector.
    Prints ``ready`` (with its RSS) once it listens, ``peer_up``/``peer_down``, and
    ``end_of_rib`` with the route count, a ``time.time()`` stamp, its RSS, CPU time and time
    spent in the garbage collector; SIGUSR1 prints the same as ``stats``.  It subscribes
    with ``speaker.events(EndOfRib, PeerUp, PeerDown)`` when ``events()`` takes event types,
    else with ``speaker.events()`` and skips the per-route events.  With
    ``EVPN_BENCH_PROFILE=FILE`` in the environment it profiles from the first ``peer_up`` (of
    ``EVPN_BENCH_PROFILE_PEER``, if set) to the first ``end_of_rib`` (or, with
    ``EVPN_BENCH_PROFILE_UNTIL=signal``, to SIGUSR1) and writes the result to FILE: cProfile
    stats, or with ``EVPN_BENCH_PROFILER=sample`` the counts of :class:`Sampler` as JSON.
    ``EVPN_BENCH_GC=off`` or ``=T0,T1,T2`` disables the garbage collector or sets its
    thresholds first (a diagnostic: by default the speaker runs as any program would).

``send --local A --remote B --asn AS --updates FILE``
    A minimal BGP peer that replays pre-encoded UPDATEs: it connects from A to B, sends
    OPEN, waits for the peer's OPEN, sends KEEPALIVE, waits for the peer's KEEPALIVE, then
    writes FILE (whole UPDATE messages) followed by an End-of-RIB for L2VPN/EVPN, as fast as
    the peer takes them.  It prints ``sent`` with ``start`` (``time.time()`` just before the
    first UPDATE byte is written) and ``end``, then keeps reading and discarding what the
    peer sends and sending KEEPALIVEs.

``clients --local A1,A2,... --remote B --asn AS --expect N``
    One process holding one session per local address, all to B: each counts the EVPN routes
    it is sent (those in MP_REACH_NLRI, minus those in MP_UNREACH_NLRI) and prints
    ``complete`` with a ``time.time()`` stamp when it holds N; ``all_complete`` follows the
    last one, with the number of *distinct* routes each session was left with (worked out
    after the clock stopped, from the kept messages; ``verified`` is false if any is short of
    N).  The first UPDATE with routes on each session is also decoded in full with
    :func:`evpn.wire.decode_message` to check that it holds MAC/IP routes as counted.

The BGP side of ``send`` and ``clients`` is one non-blocking :mod:`selectors` loop.  Writes
are queued in whole messages, so a KEEPALIVE never lands inside an UPDATE.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import inspect
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

import trio

from evpn.config import load_config
from evpn.events import EndOfRib, PeerDown, PeerUp
from evpn.speaker import open_speaker
from evpn.wire import MacIpRoute, Update, decode_message
from evpn.wire.capabilities import FourOctetAS, Multiprotocol, RouteRefreshCapability
from evpn.wire.messages import Keepalive, MessageReader, Open, end_of_rib

BGP_PORT = 179
CHUNK = 256 * 1024
"""Octets of whole messages handed to the socket per write."""

_HEADER = struct.Struct("!16sHB")
_MSG_UPDATE, _MSG_NOTIFICATION, _MSG_KEEPALIVE = 2, 3, 4
_ATTR_MP_REACH, _ATTR_MP_UNREACH = 14, 15
_AFI_L2VPN, _SAFI_EVPN = 25, 70
_EVPN = (_AFI_L2VPN, _SAFI_EVPN)


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used so far."""
    times = os.times()
    return times.user + times.system


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def rss_bytes() -> int:
    """This process's resident set size (VmRSS), in octets."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# --- our speaker ----------------------------------------------------------------------------------


class GcClock:
    """Collections and seconds spent in the cyclic garbage collector, per generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.collections[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._started

    def snapshot(self) -> dict[str, Any]:
        return {"collections": list(self.collections), "seconds": [round(s, 4) for s in self.seconds]}


class Sampler:
    """A statistical profiler: a thread samples the main thread's stack every ``interval`` seconds
    and counts each function where it is running (own) and anywhere on the stack (cumulative).
    Unlike cProfile it adds no cost per call, so small hot functions are not inflated."""

    def __init__(self, interval: float = 0.0005) -> None:
        self.interval = interval
        self.samples = 0
        self.own: Counter[str] = Counter()
        self.cumulative: Counter[str] = Counter()
        self._main = threading.main_thread().ident or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    @staticmethod
    def _label(frame: Any) -> str:
        code = frame.f_code
        if code is GcClock._callback.__code__:
            # The collector runs in C holding the GIL; the sampler gets in when it calls back.
            return "(cyclic garbage collector)"
        parts = code.co_filename.rsplit("/", 2)
        return f"{'/'.join(parts[-2:])}:{code.co_firstlineno}({code.co_name})"

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = sys._current_frames().get(self._main)
            if frame is not None:
                self.samples += 1
                self.own[self._label(frame)] += 1
                seen = set()
                while frame is not None:
                    label = self._label(frame)
                    if label not in seen:
                        seen.add(label)
                        self.cumulative[label] += 1
                    frame = frame.f_back
            time.sleep(self.interval)

    def enable(self) -> None:
        self._previous_switch = sys.getswitchinterval()
        sys.setswitchinterval(self.interval / 2)  # let the sampler in promptly
        self._thread.start()

    def disable(self) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._previous_switch)

    def dump_stats(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"samples": self.samples, "own": self.own, "cumulative": self.cumulative}, out)


def run_speaker(config_path: str) -> None:
    config = load_config(config_path)
    profile_path = os.environ.get("EVPN_BENCH_PROFILE", "")
    profile_peer = os.environ.get("EVPN_BENCH_PROFILE_PEER", "")
    until_signal = os.environ.get("EVPN_BENCH_PROFILE_UNTIL") == "signal"
    profiler: Any = None
    if profile_path:
        profiler = Sampler() if os.environ.get("EVPN_BENCH_PROFILER") == "sample" else cProfile.Profile()
    profiling = False
    gc_clock = GcClock()
    gc_setting = os.environ.get("EVPN_BENCH_GC", "")  # a diagnostic: the speaker's own GC behaviour is the default
    if gc_setting == "off":
        gc.disable()
    elif gc_setting:
        gc.set_threshold(*(int(t) for t in gc_setting.split(",")))

    def takes_types(events: Any) -> bool:
        try:
            parameters = inspect.signature(events).parameters.values()
        except (TypeError, ValueError):
            return False
        return any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)

    def start_profile(peer: str) -> None:
        nonlocal profiling
        if profiler is not None and not profiling and peer == (profile_peer or peer):
            profiling = True
            profiler.enable()

    def stop_profile() -> None:
        nonlocal profiling, profiler
        if profiling:
            profiler.disable()
            profiler.dump_stats(profile_path)
            profiling, profiler = False, None
            emit("profile_written", path=profile_path)

    async def main() -> None:
        async with open_speaker(config) as speaker, trio.open_nursery() as nursery:
            filtered = takes_types(speaker.events)
            stream = speaker.events(EndOfRib, PeerUp, PeerDown) if filtered else speaker.events()

            async def report() -> None:
                async for event in stream:
                    if isinstance(event, EndOfRib):
                        now = time.time()
                        if not until_signal:
                            stop_profile()
                        emit(
                            "end_of_rib", peer=event.peer, family=event.family, routes=event.routes,
                            time=now, rss=rss_bytes(), cpu_seconds=cpu_seconds(), gc=gc_clock.snapshot(),
                        )  # fmt: skip
                    elif isinstance(event, PeerUp):
                        emit(
                            "peer_up", peer=event.peer, time=time.time(), rss=rss_bytes(),
                            cpu_seconds=cpu_seconds(), gc=gc_clock.snapshot(),
                        )  # fmt: skip
                        start_profile(event.peer)
                    elif isinstance(event, PeerDown):
                        emit("peer_down", peer=event.peer, reason=event.reason, time=time.time())

            nursery.start_soon(report)
            await trio.sleep(0)
            emit("ready", pid=os.getpid(), filtered=filtered, time=time.time(), rss=rss_bytes())
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGUSR1) as signals:
                async for signum in signals:
                    if signum != signal.SIGUSR1:
                        break
                    emit("stats", time=time.time(), rss=rss_bytes(), cpu_seconds=cpu_seconds(), gc=gc_clock.snapshot())
                    stop_profile()
            nursery.cancel_scope.cancel()

    trio.run(main)


# --- minimal BGP peers ----------------------------------------------------------------------------


def open_message(asn: int, router_id: str, hold_time: int) -> bytes:
    capabilities = [Multiprotocol(_AFI_L2VPN, _SAFI_EVPN), RouteRefreshCapability(), FourOctetAS(asn)]
    return Open.build(asn, hold_time, router_id, capabilities).encode()


def split_messages(stream: bytes | memoryview, chunk: int = CHUNK) -> list[memoryview]:
    """``stream`` (whole BGP messages) cut into pieces of about ``chunk`` octets, each whole messages."""
    view = memoryview(stream)
    pieces: list[memoryview] = []
    start = pos = 0
    while pos < len(view):
        length = struct.unpack_from("!H", view, pos + 16)[0]
        if length < 19 or pos + length > len(view):
            raise ValueError(f"bad message length {length} at octet {pos}")
        pos += length
        if pos - start >= chunk:
            pieces.append(view[start:pos])
            start = pos
    if pos > start:
        pieces.append(view[start:pos])
    return pieces


def evpn_nlri(message: bytes) -> list[tuple[int, int, int]]:
    """Where an UPDATE's L2VPN/EVPN routes are: ``(attribute code, start, end)`` for its
    MP_REACH_NLRI (14) and MP_UNREACH_NLRI (15)."""
    found = []
    withdrawn_length = struct.unpack_from("!H", message, 19)[0]
    pos = 21 + withdrawn_length
    attributes_end = pos + 2 + struct.unpack_from("!H", message, pos)[0]
    pos += 2
    while pos < attributes_end:
        flags, code = message[pos], message[pos + 1]
        if flags & 0x10:
            length = struct.unpack_from("!H", message, pos + 2)[0]
            pos += 4
        else:
            length = message[pos + 2]
            pos += 3
        end = pos + length
        if code in (_ATTR_MP_REACH, _ATTR_MP_UNREACH) and struct.unpack_from("!HB", message, pos) == _EVPN:
            found.append((code, pos + 5 + message[pos + 3] if code == _ATTR_MP_REACH else pos + 3, end))
        pos = end
    return found


class PeerSession:
    """One BGP session of ours: blocking handshake, then driven by :func:`serve`."""

    def __init__(self, local: str, remote: str, port: int, asn: int, hold_time: int) -> None:
        self.local, self.remote, self.port, self.asn = local, remote, port, asn
        self.hold_time = hold_time
        self.reader = MessageReader(4096)
        self.out: deque[memoryview] = deque()
        self.keepalive_interval = 0.0
        self.next_keepalive = float("inf")
        self.sock: socket.socket | None = None
        self.closed = False
        # counting (clients)
        self.expect = 0
        self.messages: list[bytes] = []
        self.added = 0
        self.withdrawn = 0
        self.updates = 0
        self.end_of_rib = False
        self.verified: bool | None = None
        self.complete_time: float | None = None

    def connect(self, timeout: float) -> None:
        """Connect (retrying while nobody listens yet) and exchange OPEN and KEEPALIVE."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.local, 0))
            try:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                sock.connect((self.remote, self.port))
                break
            except OSError:
                sock.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
        sock.settimeout(max(1.0, deadline - time.monotonic()))
        self.sock = sock
        sock.sendall(open_message(self.asn, self.local, self.hold_time))
        peer_open = self._next_message()
        if peer_open[18] != 1:
            raise RuntimeError(f"{self.local}: expected OPEN, got {self._describe(peer_open)}")
        opened = decode_message(peer_open)
        assert isinstance(opened, Open)
        hold = min(self.hold_time, opened.hold_time)
        sock.sendall(Keepalive().encode())
        message = self._next_message()
        if message[18] != _MSG_KEEPALIVE:
            raise RuntimeError(f"{self.local}: expected KEEPALIVE, got {self._describe(message)}")
        if hold:
            self.keepalive_interval = hold / 3
            self.next_keepalive = time.monotonic() + self.keepalive_interval
        sock.setblocking(False)

    def _next_message(self) -> bytes:
        assert self.sock is not None
        while True:
            for message in self.reader:
                return message
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError(f"{self.local}: {self.remote} closed the connection during the handshake")
            self.reader.feed(data)

    @staticmethod
    def _describe(message: bytes) -> str:
        if message[18] == _MSG_NOTIFICATION:
            return f"NOTIFICATION {decode_message(message)}"
        return f"message type {message[18]}"

    def keepalive(self) -> None:
        self.out.append(memoryview(Keepalive().encode()))
        self.next_keepalive = time.monotonic() + self.keepalive_interval

    def received(self, message: bytes) -> None:
        kind = message[18]
        if kind == _MSG_UPDATE:
            self.updates += 1
            if self.expect:
                self.count(message)
        elif kind == _MSG_NOTIFICATION:
            emit("notification", peer=self.local, message=self._describe(message))
            self.closed = True

    def count(self, message: bytes) -> None:
        """Count the EVPN routes of an UPDATE's MP_REACH_NLRI (plus) and MP_UNREACH_NLRI (minus);
        keep the message for :meth:`distinct`."""
        self.messages.append(message)
        for code, nlri, end in evpn_nlri(message):
            if code == _ATTR_MP_UNREACH and nlri == end:
                self.end_of_rib = True
            routes = 0
            while nlri < end:
                nlri += 2 + message[nlri + 1]
                routes += 1
            if code == _ATTR_MP_REACH:
                if routes and self.verified is None:
                    self.verified = self.verify(message, routes)
                self.added += routes
            else:
                self.withdrawn += routes
        if self.complete_time is None and self.added - self.withdrawn >= self.expect:
            self.complete_time = time.time()
            emit("complete", peer=self.local, time=self.complete_time, routes=self.added - self.withdrawn,
                 updates=self.updates, verified=self.verified)  # fmt: skip

    def distinct(self) -> int:
        """The distinct EVPN routes the kept messages leave (replayed in order), off the clock."""
        routes: set[bytes] = set()
        for message in self.messages:
            for code, nlri, end in evpn_nlri(message):
                change = routes.add if code == _ATTR_MP_REACH else routes.discard
                while nlri < end:
                    size = 2 + message[nlri + 1]
                    change(message[nlri : nlri + size])
                    nlri += size
        self.messages.clear()
        return len(routes)

    @staticmethod
    def verify(message: bytes, added: int) -> bool:
        """Decode one UPDATE in full with evpn's codec: MAC/IP routes, as many as counted."""
        update = decode_message(message)
        reach = update.mp_reach if isinstance(update, Update) else None
        return (
            reach is not None
            and not update.errors
            and len(reach.nlri) == added
            and all(type(route) is MacIpRoute for route in reach.nlri)
        )


def serve(sessions: Sequence[PeerSession], until: Any = None) -> None:
    """Read, count and write for every session; send KEEPALIVEs when due; return when ``until()``
    holds (never if ``None``) or every session is closed."""
    selector = selectors.DefaultSelector()
    for session in sessions:
        assert session.sock is not None
        selector.register(session.sock, selectors.EVENT_READ, session)
    writing: set[PeerSession] = set()
    while True:
        if until is not None and until():
            return
        live = [s for s in sessions if not s.closed]
        if not live:
            return
        now = time.monotonic()
        for session in live:
            if now >= session.next_keepalive:
                session.keepalive()
        for session in live:
            assert session.sock is not None
            want = session in writing
            if session.out and not want:
                selector.modify(session.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, session)
                writing.add(session)
            elif not session.out and want:
                selector.modify(session.sock, selectors.EVENT_READ, session)
                writing.discard(session)
        timeout = max(0.0, min(s.next_keepalive for s in live) - time.monotonic())
        for key, mask in selector.select(min(timeout, 1.0)):
            session = key.data
            sock = session.sock
            if mask & selectors.EVENT_READ:
                try:
                    data = sock.recv(1 << 20)
                except BlockingIOError:
                    data = None
                except OSError as exc:
                    emit("closed", peer=session.local, reason=str(exc))
                    session.closed = True
                    data = None
                if data == b"":
                    emit("closed", peer=session.local, reason="connection closed by the peer")
                    session.closed = True
                elif data:
                    session.reader.feed(data)
                    for message in session.reader:
                        session.received(message)
            if mask & selectors.EVENT_WRITE and session.out and not session.closed:
                while session.out:
                    head = session.out[0]
                    try:
                        sent = sock.send(head)
                    except BlockingIOError:
                        break
                    except OSError as exc:
                        emit("closed", peer=session.local, reason=str(exc))
                        session.closed = True
                        break
                    if sent < len(head):
                        session.out[0] = head[sent:]
                        break
                    session.out.popleft()
            if session.closed:
                selector.unregister(sock)
                writing.discard(session)


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def run_send(args: argparse.Namespace) -> None:

    _stop_on_sigterm()
    with open(args.updates, "rb") as source:
        updates = source.read()
    stream = updates + end_of_rib().encode()
    pieces = split_messages(stream)
    session = PeerSession(args.local, args.remote, args.port, args.asn, args.hold_time)
    session.connect(args.connect_timeout)
    emit("established", peer=args.local, time=time.time())
    sock = session.sock
    assert sock is not None
    # Write the UPDATEs as fast as the peer takes them (KEEPALIVEs in between when due, and
    # whatever the peer sends read and discarded), then keep the session up.
    session.out.extend(pieces)
    start = time.time()
    serve([session], until=lambda: not session.out)
    end = time.time()
    emit("sent", start=start, end=end, octets=len(stream), messages_in=session.updates, cpu_seconds=cpu_seconds())
    serve([session])
    emit("done", closed=session.closed)


def run_clients(args: argparse.Namespace) -> None:
    _stop_on_sigterm()
    sessions = []
    for local in args.local.split(","):
        session = PeerSession(local, args.remote, args.port, args.asn, args.hold_time)
        session.expect = args.expect
        sessions.append(session)
    for session in sessions:
        session.connect(args.connect_timeout)
        session.out.append(memoryview(end_of_rib().encode()))  # nothing to send: End-of-RIB at once
        emit("established", peer=session.local, time=time.time())
    emit("all_established", time=time.time(), rss=rss_bytes())
    serve(sessions, until=lambda: all(s.complete_time is not None for s in sessions))
    done, cpu_counted = time.time(), cpu_seconds()
    distinct = [s.distinct() for s in sessions]  # checked once the clock has stopped
    emit(
        "all_complete", time=max(s.complete_time or 0.0 for s in sessions), seen=done,
        routes=distinct, verified=all(s.verified for s in sessions) and min(distinct) >= args.expect,
        cpu_seconds=cpu_counted,
    )  # fmt: skip
    serve(sessions)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    speaker = commands.add_parser("speaker", help="run our speaker on CONFIG.toml")
    speaker.add_argument("config")
    for name in ("send", "clients"):
        sub = commands.add_parser(name)
        sub.add_argument("--local", required=True, help="local address(es), comma-separated for clients")
        sub.add_argument("--remote", required=True)
        sub.add_argument("--port", type=int, default=BGP_PORT)
        sub.add_argument("--asn", type=int, required=True)
        sub.add_argument("--hold-time", type=int, default=90)
        sub.add_argument("--connect-timeout", type=float, default=30.0)
        if name == "send":
            sub.add_argument("--updates", required=True, help="file of whole UPDATE messages")
        else:
            sub.add_argument("--expect", type=int, required=True, help="routes each client waits for")
    args = parser.parse_args(argv)
    if args.command == "speaker":
        run_speaker(args.config)
    elif args.command == "send":
        run_send(args)
    else:
        run_clients(args)


if __name__ == "__main__":
    main()
    sys.exit(0)
