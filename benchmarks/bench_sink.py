"""Netlink sink benchmark: installing remote MACs and MAC+IPs, evpn against ``bridge -batch``.

Run as root from the repository root::

    python benchmarks/bench_sink.py [--macs N] [--neighbors N] [--vteps N] [--chunk N]
                                    [--repeats N] [--json FILE]

Each run gets a fresh network namespace (``evpnbench-PID-N``, deleted afterwards) holding
``br100`` with ``vxlan100`` (VNI 100, local 198.18.0.1, dstport 4789, nolearning) and the SVI
address 198.19.0.1/16 on ``br100``; nothing is sent anywhere.  Timed:

* iproute2: ``bridge -batch`` of ``--macs`` lines ``fdb replace MAC dev vxlan100 dst VTEP self
  extern_learn``, then ``ip -batch`` of ``--neighbors`` lines ``neigh replace IP lladdr MAC dev
  br100 nud noarp extern_learn`` (one netlink request and acknowledgement per line);
* evpn: the same MACs (behind ``--vteps`` VTEPs) and MAC+IPs (the first ``--neighbors`` MACs)
  as the RIB reports them (``MacChange``/``NeighborChange`` deltas), through
  :class:`~evpn.sink.translate.Translator` and :meth:`~evpn.sink.netlink.NetlinkSink.apply`
  (one ``apply`` of every operation, or one per ``--chunk`` deltas).  evpn's FDB message also
  fills the bridge's FDB (``NTF_SELF|NTF_MASTER``), which ``bridge fdb replace … self`` does not:
  more kernel work per entry.

The evpn case runs a second time with local learning on, as the speaker runs by default: a
:class:`~evpn.sink.netlink.NetlinkWatcher` and a :class:`~evpn.sink.learn.Learner` in the same
process, taking what the kernel notifies (its socket filter drops the notifications of entries
marked ``extern_learn``, our own); that time runs until the learner has taken the last one.

Then a new sink (as after a restart) reconciles to the same entries: it dumps the FDB and
neighbours and finds nothing to do; that time is shown too (the kernel's FDB dump of a device
restarts its walk for every chunk it returns, so it grows faster than linearly with the entries).

Each case runs ``--repeats`` times (taking turns), the best time counts; the entries are
counted in the kernel after every run.  Without root the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

IP = shutil.which("ip") or "/usr/sbin/ip"
BRIDGE = shutil.which("bridge") or "/usr/sbin/bridge"
VNI = 100
LOCAL = "198.18.0.1"
SVI = "198.19.0.1/16"


def mac_of(i: int) -> str:
    return f"02:10:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def vtep_of(i: int, vteps: int) -> str:
    n = i % vteps
    return f"198.18.{1 + n // 250}.{1 + n % 250}"


def neighbor_ip(i: int) -> str:
    return f"198.19.{1 + i // 250}.{1 + i % 250}"


class Namespace:
    serial = 0

    def __init__(self) -> None:
        Namespace.serial += 1
        self.name = f"evpnbench-{os.getpid()}-{Namespace.serial}"
        self.created = False

    def ip(self, *args: str) -> None:
        subprocess.run([IP, "-n", self.name, *args], check=True, capture_output=True, text=True)

    def run(self, *args: str) -> str:
        return subprocess.run(
            [IP, "netns", "exec", self.name, *args], check=True, capture_output=True, text=True
        ).stdout

    def __enter__(self) -> Namespace:
        subprocess.run([IP, "netns", "add", self.name], check=True, capture_output=True)
        self.created = True
        self.ip("link", "set", "lo", "up")
        self.ip("addr", "add", f"{LOCAL}/32", "dev", "lo")
        self.ip("link", "add", f"br{VNI}", "type", "bridge", "stp_state", "0")
        self.ip(
            "link", "add", f"vxlan{VNI}", "type", "vxlan", "id", str(VNI), "local", LOCAL,
            "dstport", "4789", "nolearning",
        )  # fmt: skip
        self.ip("link", "set", f"vxlan{VNI}", "master", f"br{VNI}")
        self.ip("link", "set", f"vxlan{VNI}", "up")
        self.ip("link", "set", f"br{VNI}", "up")
        self.ip("addr", "add", SVI, "dev", f"br{VNI}")
        return self

    def __exit__(self, *_: object) -> None:
        if self.created:
            # Delete the devices (and their entries) now rather than in the kernel's background
            # namespace cleanup, which would compete with the next run; then let it settle.
            for device in (f"vxlan{VNI}", f"br{VNI}"):
                subprocess.run([IP, "-n", self.name, "link", "del", device], check=False, capture_output=True)
            subprocess.run([IP, "netns", "delete", self.name], check=False, capture_output=True)
            self.created = False
            time.sleep(1.0)

    def counts(self) -> tuple[int, int]:
        """Remote MACs in vxlan100's FDB, and neighbours of ours on br100."""
        fdb = json.loads(self.run(BRIDGE, "-j", "fdb", "show", "dev", f"vxlan{VNI}") or "[]")
        remote = sum(1 for e in fdb if e.get("dst") and e["mac"] != "00:00:00:00:00:00")
        neigh = json.loads(self.run(IP, "-j", "neigh", "show", "dev", f"br{VNI}") or "[]")
        return remote, sum(1 for e in neigh if "extern_learn" in e)


def run_iproute2(macs: int, neighbors: int, vteps: int, workdir: Path) -> float:
    fdb_file, neigh_file = workdir / "fdb.batch", workdir / "neigh.batch"
    fdb_file.write_text(
        "".join(
            f"fdb replace {mac_of(i)} dev vxlan{VNI} dst {vtep_of(i, vteps)} self extern_learn\n" for i in range(macs)
        )
    )
    neigh_file.write_text(
        "".join(
            f"neigh replace {neighbor_ip(i)} lladdr {mac_of(i)} dev br{VNI} nud noarp extern_learn\n"
            for i in range(neighbors)
        )
    )
    with Namespace() as ns:
        gc.collect()
        start = time.perf_counter()
        ns.run(BRIDGE, "-batch", str(fdb_file))
        if neighbors:
            ns.run(IP, "-batch", str(neigh_file))
        elapsed = time.perf_counter() - start
        check(ns, macs, neighbors, "iproute2")
    return elapsed


def run_evpn(
    macs: int, neighbors: int, vteps: int, chunk: int, reconcile_times: list[float], *, learning: bool = False
) -> float:
    import trio

    from evpn.rib.deltas import Delta, MacChange, Neighbor, NeighborChange, RemoteMac
    from evpn.sink.learn import Learner, LinkState
    from evpn.sink.netlink import NetlinkSink, NetlinkWatcher
    from evpn.sink.translate import L2Devices, Translator
    from evpn.types import ip_bytes, mac_bytes

    deltas: list[Delta] = []
    for i in range(macs):
        vtep = ip_bytes(vtep_of(i, vteps))
        mac = mac_bytes(mac_of(i))
        deltas.append(MacChange(VNI, mac, None, RemoteMac(vtep, VNI)))
        if i < neighbors:
            deltas.append(NeighborChange(VNI, ip_bytes(neighbor_ip(i)), None, Neighbor(mac, vtep)))

    with Namespace() as ns:
        translator = Translator({VNI: L2Devices(f"vxlan{VNI}", f"br{VNI}")}, {})
        sink = NetlinkSink(netns=ns.name)

        async def learn(ready: trio.Event, last: list[float]) -> None:
            # What the speaker does with [dataplane] learn on: parse every notification our own
            # installs cause and feed the learner (which finds nothing local in them).
            learner = Learner(translator.vnis)
            async for snapshot, records in NetlinkWatcher(netns=ns.name).changes():
                if snapshot:
                    learner.snapshot([r for r in records if isinstance(r, LinkState)], [])
                    ready.set()
                else:
                    for record in records:
                        learner.link(record) if isinstance(record, LinkState) else learner.neighbor(record)
                learner.take()
                last[0] = time.perf_counter()

        async def main() -> float:
            last = [0.0]
            try:
                async with trio.open_nursery() as nursery:
                    if learning:
                        ready = trio.Event()
                        nursery.start_soon(learn, ready, last)
                        await ready.wait()
                    errors = []
                    step = chunk or len(deltas)
                    gc.collect()
                    start = time.perf_counter()
                    for first in range(0, len(deltas), step):
                        ops = []
                        for delta in deltas[first : first + step]:
                            ops += translator.translate(delta)
                        errors += await sink.apply(ops)
                    elapsed = time.perf_counter() - start
                    if learning:  # until the learner has taken every notification
                        while time.perf_counter() - last[0] < 0.5:
                            await trio.sleep(0.1)
                        elapsed = max(elapsed, last[0] - start)
                    nursery.cancel_scope.cancel()
            finally:
                await sink.aclose()
            if errors:
                raise SystemExit(f"evpn: {len(errors)} operations failed, e.g. {errors[0]}")
            return elapsed

        elapsed = trio.run(main)
        check(ns, macs, neighbors, "evpn")

        async def restart() -> float:
            # A new sink (as after a restart) reconciling to the same entries: reads them all back.
            fresh = NetlinkSink(netns=ns.name)
            try:
                start = time.perf_counter()
                errors = await fresh.reconcile(translator.entries)
                seconds = time.perf_counter() - start
            finally:
                await fresh.aclose()
            if errors:
                raise SystemExit(f"evpn reconcile: {len(errors)} operations failed, e.g. {errors[0]}")
            return seconds

        reconcile_times.append(trio.run(restart))
        check(ns, macs, neighbors, "evpn after reconcile")
    return elapsed


def check(ns: Namespace, macs: int, neighbors: int, who: str) -> None:
    got = ns.counts()
    if got != (macs, neighbors):
        raise SystemExit(
            f"{who}: the kernel holds {got[0]} remote MACs and {got[1]} neighbours, not {macs} and {neighbors}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--macs", type=int, default=100_000, help="remote MACs (default 100,000)")
    parser.add_argument("--neighbors", type=int, default=10_000, help="MAC+IPs among them (default 10,000)")
    parser.add_argument("--vteps", type=int, default=50, help="remote VTEPs the MACs are behind (default 50)")
    parser.add_argument(
        "--chunk", type=int, default=0, help="deltas translated and applied per apply() call (default: all at once)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per case, the best counts (default 3)")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE as JSON")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_sink: skipped: needs root (network namespaces)")
        return 0
    if args.neighbors > args.macs:
        parser.error("--neighbors must not exceed --macs")
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        print("bench_sink: skipped: pyroute2 is not installed (pip install evpn[netlink])")
        return 0

    times: dict[str, list[float]] = {"iproute2": [], "evpn": [], "evpn_learning": []}
    reconcile_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench_sink-") as tmp:
        for _ in range(args.repeats):
            times["iproute2"].append(run_iproute2(args.macs, args.neighbors, args.vteps, Path(tmp)))
            times["evpn"].append(run_evpn(args.macs, args.neighbors, args.vteps, args.chunk, reconcile_times))
            times["evpn_learning"].append(
                run_evpn(args.macs, args.neighbors, args.vteps, args.chunk, [], learning=True)
            )

    entries = args.macs + args.neighbors
    best = {name: min(values) for name, values in times.items()}
    rate = {name: entries / seconds for name, seconds in best.items()}
    ratio = rate["evpn"] / rate["iproute2"]
    print(
        f"\n{args.macs:,} remote MACs + {args.neighbors:,} MAC+IPs behind {args.vteps} VTEPs, "
        f"best of {args.repeats} ({platform.node()}, {os.cpu_count()} CPUs, Linux {platform.release()})\n"
    )
    print("| case | seconds | entries/s | FDB entries/s |")
    print("|---|---:|---:|---:|")
    labels = {
        "iproute2": "`bridge -batch` + `ip -batch` (one round trip per entry)",
        "evpn": f"`Translator` + `NetlinkSink.apply` ({f'{args.chunk:,} deltas' if args.chunk else 'all'} per call)",
    }
    labels["evpn_learning"] = labels["evpn"] + ", with local learning on (`NetlinkWatcher` + `Learner`)"
    for name in ("iproute2", "evpn", "evpn_learning"):
        print(f"| {labels[name]} | {best[name]:.2f} | {rate[name]:,.0f} | {args.macs / best[name]:,.0f} |")
    entries_read = 2 * args.macs + args.neighbors  # the kernel dumps each MAC twice (VXLAN and bridge)
    print(
        f"| `NetlinkSink.reconcile` after a restart (all present: reads the {entries_read:,} kernel entries, "
        f"changes nothing) | {min(reconcile_times):.2f} | {entries / min(reconcile_times):,.0f} | |"
    )
    print(f"\nevpn / iproute2: {ratio:.2f}  (all runs: " + "; ".join(
        f"{name} " + ", ".join(f"{t:.2f}" for t in values) for name, values in times.items()
    ) + " s)")  # fmt: skip
    if args.json:
        result: dict[str, Any] = {
            "macs": args.macs,
            "neighbors": args.neighbors,
            "vteps": args.vteps,
            "repeats": args.repeats,
            "seconds": times,
            "best_seconds": best,
            "entries_per_second": rate,
            "fdb_entries_per_second": {name: args.macs / seconds for name, seconds in best.items()},
            "ratio": ratio,
            "reconcile_seconds": reconcile_times,
            "kernel": platform.release(),
            "python": sys.version.split()[0],
        }
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
