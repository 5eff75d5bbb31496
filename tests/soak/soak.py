"""Soak: many iBGP peers, steady MAC moves, one speaker programming the kernel, for a long time.

    python tests/soak/soak.py --peers 100 --routes 2000 --minutes 30 --moves-per-second 20 --out DIR

Run from the repository root as root (network namespaces), with pyroute2 (the netlink sink) and
matplotlib (the plot; only this script needs it).  Not collected by pytest.

**Topology.**  Two namespaces of this run (``skv-skPID``, ``skp-skPID``) joined by a veth: the VTEP
(198.18.0.1/16, ``br100`` with ``vxlan100``) runs ``python -m evpn run`` with the netlink sink; the
peers' namespace holds ``--peers`` addresses 198.18.1.N/16 and one ``tests/faults/loadgen.py``
process that drives every session (selectors).  Peer N is an iBGP neighbour (AS 65000, passive on
the speaker's side) whose VTEP is 198.18.2.N (198.18.3.N past 255): it advertises a type-3 route
and ``--routes`` type-2 routes behind it, every ``--ip-every``-th with an IPv4 address of
198.19.0.0/16 (MAC+IP: an ARP suppression neighbour).  Nothing but BGP leaves a namespace.

**Moves.**  Once every session is up, every End-of-RIB is in and the kernel holds every remote
MAC, the generator moves ``--moves-per-second`` MACs a second: a random MAC of a random peer goes to
another peer's VTEP with the next MAC mobility sequence number (RFC 7432 §15), announced by the new
peer at once and withdrawn by the old one ``--withdraw-delay`` seconds later.  The latency of a
move runs from the moment the new peer's UPDATE is written to its socket (``time.time()`` in the
generator) to the ``RTM_NEWNEIGH`` notification that puts the MAC on ``vxlan100`` at the new VTEP
(``time.time()`` when a listener thread in the VTEP namespace reads it).

**Recorded** every ``--interval`` seconds: sessions established (the speaker's ``show peers``; it
must stay ``--peers``: no session lost, and the generator must report no session down), the
speaker's RSS and CPU time, moves sent and completed, and the latency percentiles (p50/p90/p99/max)
of the moves completed in that interval.  At the end the moves stop, the last withdrawals go out,
and the kernel is compared entry by entry with the generator's final tables (``tests/faults/kstate.py``):
every remote MAC at its VTEP (and its bridge twin), the flood list, every neighbour.

**Output**: ``DIR/soak.json`` (parameters, time series, summary) and ``DIR/soak.svg`` (RSS and
latency percentiles over time); the exit status is 1 when a session was lost, the kernel differs
from the tables, or the speaker died.  Rules (``shared/notes/interop-lab.md``): only namespaces and
processes made here, removed in ``finally`` (SIGTERM and Ctrl-C included).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "faults"))

import kstate
from convlab import Lab, rss_kib, run, speaker_toml

from evpn.control import query

ASN, VNI = 65000, 100
SPEAKER = "198.18.0.1"


def peer_address(n: int) -> str:
    return f"198.18.{1 + 10 * (n // 250)}.{n % 250 + 1}"


def vtep_address(n: int) -> str:
    return f"198.18.{2 + 10 * (n // 250)}.{n % 250 + 1}"


def tables(peers: int, routes: int, ip_every: int) -> list[dict[str, Any]]:
    out = []
    i = ips = 0
    for n in range(peers):
        macs = []
        for _ in range(routes):
            ip = ""
            if ip_every and i % ip_every == 0:
                ips += 1
                ip = f"198.19.{(ips >> 8) & 255}.{ips & 255}"
            macs.append(
                [
                    f"02:5a:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}",
                    ip,
                    vtep_address(n),
                    0,
                ]
            )
            i += 1
        out.append({"vteps": [vtep_address(n)], "macs": macs})
    if ips > 65000:
        raise SystemExit(f"{ips} MAC+IP routes do not fit 198.19.0.0/16: raise --ip-every")
    return out


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000, 3)

    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": round(ordered[-1] * 1000, 3), "n": len(ordered)}


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Moves:
    """Pairs each move the generator reports with the kernel notification that completes it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, tuple[float, str]] = {}  # MAC -> (sent, VTEP)
        self.kernel: dict[str, tuple[float, str]] = {}  # MAC -> (time, dst) of its last notification
        self.done: list[tuple[float, float]] = []  # (completed at, latency)
        self.sent = self.superseded = 0

    def on_move(self, event: dict[str, Any]) -> None:
        if event.get("event") != "move":
            return
        mac, vtep, sent = event["mac"], event["vtep"], float(event["sent"])
        with self.lock:
            self.sent += 1
            if mac in self.pending:
                self.superseded += 1
            seen = self.kernel.get(mac)
            if seen is not None and seen[1] == vtep and seen[0] >= sent:  # the kernel was first
                self.pending.pop(mac, None)
                self.done.append((seen[0], seen[0] - sent))
            else:
                self.pending[mac] = (sent, vtep)

    def on_kernel(self, now: float, n: kstate.Neigh) -> None:
        if n.lladdr is None or n.lladdr == kstate.ZERO_MAC or n.kind != kstate.RTM_NEWNEIGH or not n.dst:
            return
        with self.lock:
            self.kernel[n.lladdr] = (now, n.dst)
            want = self.pending.get(n.lladdr)
            if want is not None and want[1] == n.dst:
                del self.pending[n.lladdr]
                self.done.append((now, now - want[0]))


def plot(series: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    t = [s["t"] / 60 for s in series]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6.5))
    rss = [(s["rss_kib"] or 0) / 1024 for s in series]
    top.plot(t, rss, color="tab:blue")
    top.set_ylabel("speaker RSS (MiB)")
    top.set_ylim(0, max(rss, default=1) * 1.15)
    top.grid(alpha=0.3)
    top.set_title(title)
    for key, color in (("p50", "tab:green"), ("p90", "tab:orange"), ("p99", "tab:red"), ("max", "tab:gray")):
        values = [s["latency_ms"][key] for s in series]
        top_t = [x for x, v in zip(t, values, strict=True) if v is not None]
        bottom.plot(top_t, [v for v in values if v is not None], label=key, color=color)
    bottom.set_yscale("log")
    bottom.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    bottom.set_ylabel("move → kernel FDB (ms)")
    bottom.set_xlabel("minutes since the moves started")
    bottom.grid(alpha=0.3, which="both")
    bottom.legend(loc="upper right", ncols=4)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--peers", type=int, default=100)
    parser.add_argument("--routes", type=int, default=2000, help="type-2 routes per peer")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--moves-per-second", type=float, default=20)
    parser.add_argument("--interval", type=float, default=10, help="seconds between samples")
    parser.add_argument("--ip-every", type=int, default=4, help="every N-th route is MAC+IP (0: none)")
    parser.add_argument("--withdraw-delay", type=float, default=0.1)
    parser.add_argument("--hold-time", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("soak: needs root (network namespaces)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    work.mkdir(exist_ok=True)
    lab = Lab(work, "sk")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    try:
        return soak(args, lab, work)
    finally:
        lab.close()  # every namespace and process of this run, whatever happened


def soak(args: argparse.Namespace, lab: Lab, work: Path) -> int:
    log = print
    vtep_ns, peer_ns = lab.netns("skv"), lab.netns("skp")
    lab.veth(vtep_ns, "eth0", f"{SPEAKER}/16", peer_ns, "eth0", f"{peer_address(0)}/16")
    run("ip", "-n", peer_ns.name, "-batch", "-", input="".join(
        f"addr add {peer_address(n)}/16 dev eth0\n" for n in range(1, args.peers)))  # fmt: skip
    vtep_ns.add_vni(VNI, SPEAKER)
    vtep = kstate.Vtep(vtep_ns.name)
    moves = Moves()
    listener = kstate.Listener(vtep_ns.name, vtep.vxlan, moves.on_kernel)
    start_tables = tables(args.peers, args.routes, args.ip_every)
    routes = sum(len(t["macs"]) + len(t["vteps"]) for t in start_tables)
    try:
        speaker, control = lab.speaker(
            vtep_ns,
            speaker_toml(
                asn=ASN,
                address=SPEAKER,
                listen=SPEAKER,
                hold_time=args.hold_time,
                peers=[(peer_address(n), ASN, True) for n in range(args.peers)],
                vni=VNI,
                import_target=f"{ASN}:{VNI}",
            ),
        )
        t0 = time.time()
        gen = lab.loadgen(peer_ns, {
            "remote": SPEAKER, "asn": ASN, "hold_time": args.hold_time, "vni": VNI,
            "route_target": f"{ASN}:{VNI}", "seed": 1,
            "peers": [{"local": peer_address(n), "table": t} for n, t in enumerate(start_tables)],
        })  # fmt: skip
        gen.listeners.append(moves.on_move)
        for address in [peer_address(n) for n in range(args.peers)]:
            speaker.wait_event(
                lambda e, a=address: e.get("event") == "end_of_rib" and e.get("peer") == a,
                600,
                what=f"End-of-RIB from {address}",
            )
        eor = time.time()
        macs = args.peers * args.routes
        deadline = time.monotonic() + 600
        while (count := vtep.count_fdb()) < macs and time.monotonic() < deadline:
            time.sleep(2)
        loaded = time.time()
        log(f"soak: {args.peers} sessions, {routes} routes: every End-of-RIB after {eor - t0:.1f} s, "
            f"{count} remote MACs in the kernel after {loaded - t0:.1f} s", flush=True)  # fmt: skip
        if count < macs:
            raise SystemExit(f"the kernel holds {count} of {macs} remote MACs after 600 s")

        # Moves, sampled every interval.
        downs_before = sum(1 for e in gen.events if e.get("event") == "down")
        gen.command({"cmd": "moves", "rate": args.moves_per_second, "delay": args.withdraw_delay})
        started = time.time()
        end = started + args.minutes * 60
        series: list[dict[str, Any]] = []
        taken = 0
        min_sessions = args.peers
        next_sample = started + args.interval
        while True:
            time.sleep(max(0.0, next_sample - time.time()))
            now = time.time()
            try:
                peers = query(control, {"show": "peers"}, timeout=30)["peers"]
                established = sum(1 for p in peers if p["state"] == "ESTABLISHED")
            except Exception as exc:  # a speaker that does not answer is a failure below
                log(f"soak: show peers failed: {exc}", flush=True)
                established = -1
            with moves.lock:
                window = [lat for _, lat in moves.done[taken:]]
                taken = len(moves.done)
                sent, pending = moves.sent, len(moves.pending)
            downs = sum(1 for e in gen.events if e.get("event") == "down") - downs_before
            min_sessions = min(min_sessions, established)
            sample = {
                "t": round(now - started, 1),
                "sessions": established,
                "sessions_down_reported": downs,
                "rss_kib": rss_kib(speaker.pid),
                "cpu_s": cpu_seconds(speaker.pid),
                "moves_sent": sent,
                "moves_done": taken,
                "moves_pending": pending,
                "latency_ms": percentiles(window),
                "listener_overflows": listener.overflows,
            }
            series.append(sample)
            lat = sample["latency_ms"]
            log(f"soak: t={sample['t']:7.1f}s sessions {established} RSS {sample['rss_kib']} KiB moves {sent} "
                f"done {taken} pending {pending} p50 {lat['p50']} p90 {lat['p90']} p99 {lat['p99']} "
                f"max {lat['max']} ms", flush=True)  # fmt: skip
            if speaker.proc.poll() is not None:
                log(f"soak: the speaker died: {speaker.tail()}", flush=True)
                break
            next_sample += args.interval
            if next_sample > end + 1e-6:
                break

        # The end: no more moves, the last withdrawals out, the kernel quiet; then compare.
        gen.command({"cmd": "moves", "rate": 0})
        stopped = time.time()
        time.sleep(args.withdraw_delay + 2)
        final_path = work / "final-tables.json"
        answer = gen.command({"cmd": "dump", "file": str(final_path)})
        quiet_deadline = time.monotonic() + 120
        while time.monotonic() < quiet_deadline:
            with moves.lock:
                if not moves.pending:
                    break
            time.sleep(0.5)
        time.sleep(3)
        final = json.loads(final_path.read_text())
        want = kstate.Expected()
        for table in final:
            want.flood |= set(table["vteps"])
            for mac, ip, vtep_ip, _seq in table["macs"]:
                want.fdb[mac] = vtep_ip
                if ip:
                    want.neigh[ip] = mac
        compared, problems = kstate.compare(vtep.read(), want)
        downs = sum(1 for e in gen.events if e.get("event") == "down") - downs_before
        with moves.lock:
            all_latencies = [lat for _, lat in moves.done]
            summary = {
                "peers": args.peers,
                "routes": routes,
                "initial_eor_s": round(eor - t0, 2),
                "initial_kernel_s": round(loaded - t0, 2),
                "minutes": round((stopped - started) / 60, 2),
                "moves_sent": moves.sent,
                "moves_completed": len(moves.done),
                "moves_completed_after_last_sample": len(moves.done) - taken,
                "moves_superseded": moves.superseded,
                "moves_never_seen_in_kernel": len(moves.pending),
                "moves_never_seen_examples": {
                    mac: {"sent": sent, "vtep": vtep_ip, "kernel": moves.kernel.get(mac)}
                    for mac, (sent, vtep_ip) in list(moves.pending.items())[:10]
                },
                "pending_withdrawals_at_dump": answer.get("pending_withdrawals"),
                "latency_ms": percentiles(all_latencies),
                "min_sessions": min_sessions,
                "sessions_down_reported": downs,
                "rss_kib_first": series[0]["rss_kib"] if series else None,
                "rss_kib_last": series[-1]["rss_kib"] if series else None,
                "rss_kib_max": max((s["rss_kib"] or 0) for s in series) if series else None,
                "speaker_cpu_s": cpu_seconds(speaker.pid),
                "entries_compared": compared,
                "mismatches": len(problems),
                "mismatch_examples": problems[:20],
                "listener_overflows": listener.overflows,
                "speaker_alive": speaker.proc.poll() is None,
            }
        ok = (
            summary["speaker_alive"]
            and min_sessions == args.peers
            and downs == 0
            and not problems
            and summary["moves_never_seen_in_kernel"] == 0
        )
        summary["ok"] = ok
        params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        (args.out / "soak.json").write_text(
            json.dumps({"parameters": params, "summary": summary, "series": series}, indent=1) + "\n"
        )
        title = (f"evpn soak: {args.peers} peers x {args.routes} routes, {args.moves_per_second:g} moves/s, "
                 f"{summary['minutes']:g} min")  # fmt: skip
        try:
            plot(series, args.out / "soak.svg", title)
        except ImportError:
            log("soak: matplotlib is not installed: no plot (pip install matplotlib)", flush=True)
        log("soak: " + json.dumps({k: v for k, v in summary.items() if k != "mismatch_examples"}), flush=True)
        for problem in problems:
            log(f"soak: mismatch: {problem}", flush=True)
        log(f"soak: {'OK' if ok else 'FAILED'}; {args.out / 'soak.json'}", flush=True)
        return 0 if ok else 1
    finally:
        listener.close()
        vtep.close()


if __name__ == "__main__":
    sys.exit(main())
