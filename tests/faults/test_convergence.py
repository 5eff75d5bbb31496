"""Convergence of the kernel state after a crash, under load (``EVPN_FAULTS=1 pytest tests/faults/test_convergence.py``).

Two scenarios, each in namespaces of its own (``cvv-*``: the VTEP running ``python -m evpn run``
with the netlink sink on ``vxlan100``/``br100``; ``cvp-*``: the peers; ``cvf-*``: FRR):

* :func:`test_speaker_sigkill_mid_transfer`: two iBGP peers (``loadgen.py``, one process) advertise
  200,000 type-2 routes (every fifth a MAC+IP route) behind eight VTEPs, plus a type-3 route per
  VTEP.  The speaker is killed (SIGKILL) once the kernel holds half the remote MACs.  While it is
  dead the peers withdraw some of the MACs the kernel holds, move others to a VTEP of the other
  peer (MAC mobility sequence + 1), withdraw one VTEP's type-3 route and add new MACs.  Restarted,
  the speaker gets both End-of-RIBs, reconciles, and the kernel must hold exactly what the peers
  advertise: every remote MAC on the VXLAN device at its VTEP and its twin on the bridge, the flood
  list, every ARP suppression neighbour; nothing stale, nothing missing.
* :func:`test_frr_restart_under_load`: FRR (zebra + bgpd) advertises 50,000 local MACs of its
  bridge (some with a neighbour: MAC+IP routes).  bgpd is killed mid-transfer, FRR's table changes
  while it is down (MACs gone, new MACs), bgpd starts again; the speaker's kernel must converge to
  what FRR advertises (read from FRR itself).

Each prints one summary line (``CONVERGENCE ...``) with the figures.  Kernel state is read with raw
netlink dumps (``kstate.py``); times are never asserted, only equality of states.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kstate
import pytest
from convlab import Lab, Netns, Process, speaker_toml

ROUTES = int(os.environ.get("EVPN_CONVERGENCE_ROUTES", "200000"))
FRR_ROUTES = int(os.environ.get("EVPN_CONVERGENCE_FRR_ROUTES", "50000"))
ASN, FRR_AS = 65000, 65002
VNI = 100
SPEAKER = "198.18.0.1"
PEERS = ["198.18.1.1", "198.18.1.2"]
VTEPS = [[f"198.18.{10 + p}.{v}" for v in range(1, 5)] for p in range(len(PEERS))]
SPEAKER_FRR, FRR = "198.18.3.1", "198.18.3.2"
ZEBRA, BGPD, VTYSH = "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/bin/vtysh"
CONVERGE = 240.0  # seconds allowed for the kernel to match; a bound on waiting, never asserted as a figure


def mac_of(i: int, prefix: int = 0xC0) -> str:
    return f"02:{prefix:02x}:00:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def ip_of(j: int) -> str:
    return f"198.19.{(j >> 8) & 255}.{j & 255}"


def expected(tables: list[dict[str, Any]]) -> kstate.Expected:
    want = kstate.Expected()
    for table in tables:
        want.flood |= set(table["vteps"])
        for mac, ip, vtep, _seq in table["macs"]:
            assert mac not in want.fdb, f"{mac} twice in the tables"
            want.fdb[mac] = vtep
            if ip:
                want.neigh[ip] = mac
    return want


def summary(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], name: str, **figures: Any) -> None:
    """One line of figures in the CI log (through the faults conftest's ``fault_summary`` when it has one)."""
    line = ", ".join(f"{k} {v}" for k, v in figures.items())
    try:
        record = request.getfixturevalue("fault_summary")
    except pytest.FixtureLookupError:
        record = None
    if record is not None:
        record(name, line, **figures)
    with capsys.disabled():
        print(f"\nCONVERGENCE {name}: {line}", flush=True)


def wait_converged(
    vtep: kstate.Vtep, watch: Watch, want: kstate.Expected, timeout: float, quiet: float = 3.0
) -> tuple[float, int, list[str], int]:
    """Once the kernel has been quiet for ``quiet`` seconds (no neighbour notification: nothing
    is being installed, and no dump competes with the speaker for the CPU), dump and compare with
    ``want``; again until it matches or ``timeout``.  Returns the time of the last kernel change
    before the matching dump, the entries compared, the differences of the last dump and how
    many dumps it took."""
    deadline = time.monotonic() + timeout
    dumps = 0
    while True:
        while time.time() - watch.last_change < quiet and time.monotonic() < deadline:
            time.sleep(0.2)
        last = watch.last_change
        compared, problems = kstate.compare(vtep.read(), want)
        dumps += 1
        if not problems or time.monotonic() > deadline:
            return last, compared, problems, dumps
        time.sleep(1.0)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("bridge"):
        pytest.skip("needs root, ip and bridge (network namespaces)")
    the_lab = Lab(tmp_path, "cv")
    try:
        yield the_lab
    finally:
        the_lab.close()


class Watch:
    """Counts remote MACs landing on the VXLAN device (notifications) and fires ``when`` once
    ``target`` are in; keeps the time of the last change."""

    def __init__(self, netns: str, vxlan: int, target: int) -> None:
        self.macs: set[str] = set()
        self.vxlan = vxlan
        self.target = target
        self.reached = threading.Event()
        self.last_change = time.time()
        self.listener = kstate.Listener(netns, vxlan, self.on, everything=True)

    def on(self, now: float, n: kstate.Neigh) -> None:
        self.last_change = now
        if n.ifindex != self.vxlan or n.lladdr is None or n.lladdr == kstate.ZERO_MAC:
            return
        if n.kind == kstate.RTM_NEWNEIGH and n.dst:
            self.macs.add(n.lladdr)
        else:
            self.macs.discard(n.lladdr)
        if len(self.macs) >= self.target:
            self.reached.set()


def describe(*processes: Process) -> str:
    return "\n".join(p.tail() for p in processes)


# --- scenario a: our speaker killed mid-transfer --------------------------------------------------------


def make_tables(routes: int) -> list[dict[str, Any]]:
    tables: list[dict[str, Any]] = [{"vteps": list(VTEPS[p]), "macs": []} for p in range(len(PEERS))]
    ips = 0
    for i in range(routes):
        p = i % len(PEERS)
        ip = ""
        if i % 5 == 0:
            ips += 1
            ip = ip_of(ips)
        tables[p]["macs"].append([mac_of(i), ip, VTEPS[p][(i // len(PEERS)) % len(VTEPS[p])], 0])
    for table in tables:  # the transfer goes VTEP by VTEP: half the table is the first VTEPs' MACs
        table["macs"].sort(key=lambda m, vteps=table["vteps"]: vteps.index(m[2]))
    return tables


def change_tables(
    tables: list[dict[str, Any]], kernel: kstate.VniState, rng: random.Random, routes: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """While the speaker is dead: withdraw some MACs the kernel holds, move others to the other
    peer's VTEPs (sequence + 1), withdraw the type-3 of a VTEP in the flood list, add new MACs."""
    installed = sorted(kernel.fdb)
    count = max(10, routes // 60)
    chosen = rng.sample(installed, 2 * count)
    withdraw, move = set(chosen[:count]), set(chosen[count:])
    new: list[dict[str, Any]] = [{"vteps": list(t["vteps"]), "macs": []} for t in tables]
    moved_ips = 0
    for p, table in enumerate(tables):
        other = (p + 1) % len(tables)
        for mac, ip, vtep, seq in table["macs"]:
            if mac in withdraw:
                continue
            if mac in move:
                target = VTEPS[other][rng.randrange(len(VTEPS[other]))]
                new[other]["macs"].append([mac, ip, target, seq + 1])
                moved_ips += bool(ip)
            else:
                new[p]["macs"].append([mac, ip, vtep, seq])
    gone_flood = sorted(kernel.flood & set(new[0]["vteps"]))[0]
    new[0]["vteps"].remove(gone_flood)
    added = count // 2
    for k in range(added):
        new[1]["macs"].append([mac_of(k, 0xC1), "", VTEPS[1][k % 4], 0])
    return new, {
        "withdrawn": len(withdraw),
        "moved": len(move),
        "moved_with_ip": moved_ips,
        "added": added,
        "flood_withdrawn": 1,
    }


def test_speaker_sigkill_mid_transfer(
    lab: Lab, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    vtep_ns, peer_ns = lab.netns("cvv"), lab.netns("cvp")
    lab.veth(vtep_ns, "eth0", f"{SPEAKER}/16", peer_ns, "eth0", f"{PEERS[0]}/16")
    for address in PEERS[1:]:
        peer_ns.ip("addr", "add", f"{address}/16", "dev", "eth0")
    vtep_ns.add_vni(VNI, SPEAKER)
    vtep = kstate.Vtep(vtep_ns.name)
    tables = make_tables(ROUTES)
    want = expected(tables)
    config = speaker_toml(
        asn=ASN,
        address=SPEAKER,
        listen=SPEAKER,
        hold_time=30,
        peers=[(p, ASN, True) for p in PEERS],
        vni=VNI,
        import_target=f"{ASN}:{VNI}",
    )
    gen = lab.loadgen(
        peer_ns,
        {
            "remote": SPEAKER,
            "asn": ASN,
            "hold_time": 30,
            "vni": VNI,
            "route_target": f"{ASN}:{VNI}",
            "peers": [{"local": p, "table": t} for p, t in zip(PEERS, tables, strict=True)],
        },
    )
    watch = Watch(vtep_ns.name, vtep.vxlan, len(want.fdb) * 2 // 5)  # the kill lands at about half
    try:
        # 1. The first speaker: killed once the kernel holds half the remote MACs.
        first, _ = lab.speaker(vtep_ns, config, "speaker1")
        started = time.time()
        if not watch.reached.wait(CONVERGE):
            raise AssertionError(f"the kernel never held half the MACs ({len(watch.macs)}); {describe(first, gen)}")
        status = first.kill()
        killed = time.time()
        assert status == -signal.SIGKILL, describe(first)
        gen.wait_event(lambda e: e.get("event") == "down", 30, what="the sessions to drop")
        time.sleep(0.5)  # the last notifications of the dead speaker's netlink batches
        before = vtep.read()
        assert not before.odd, before.odd
        # BGP is faster than the kernel: both End-of-RIBs are often in before half the MACs are,
        # so this kills the speaker in the middle of programming the kernel (and reconciling).
        eors = sum(1 for e in first.events if e.get("event") == "end_of_rib")

        # 2. While it is dead, the peers' tables change.
        rng = random.Random(7)
        new_tables, changes = change_tables(tables, before, rng, ROUTES)
        new_want = expected(new_tables)
        path = tmp_path / "tables2.json"
        path.write_text(json.dumps(new_tables))
        gen.command({"cmd": "tables", "file": str(path)})
        stale = sum(new_want.fdb.get(mac) != dst for mac, dst in before.fdb.items())
        stale += sum(new_want.neigh.get(ip) != mac for ip, mac in before.neigh.items())
        stale += len(before.flood - new_want.flood)
        assert stale, "no entry of the dead speaker's kernel state went stale: the scenario tests nothing"

        # 3. Restarted: End-of-RIB from both peers, then the kernel must match the new tables.
        second, _ = lab.speaker(vtep_ns, config, "speaker2")
        restarted = time.time()
        for peer in PEERS:
            second.wait_event(
                lambda e, peer=peer: e.get("event") == "end_of_rib" and e.get("peer") == peer,
                CONVERGE,
                what=f"End-of-RIB from {peer}",
            )
        eor = time.time()
        matched, compared, problems, dumps = wait_converged(vtep, watch, new_want, CONVERGE)
        assert not problems, "\n".join(problems) + "\n" + describe(second, gen)
        time.sleep(3)  # still so a moment later (nothing left pending that would undo it)
        compared, problems = kstate.compare(vtep.read(), new_want)
        assert not problems, "\n".join(problems) + "\n" + describe(second, gen)
        assert second.proc.poll() is None, describe(second)
        downs = [e for e in gen.events if e.get("event") == "down" and e["_t"] > restarted]
        assert not downs, f"sessions lost after the restart: {downs}"
        summary(
            request,
            capsys,
            "speaker-sigkill-mid-transfer",
            routes=ROUTES + len(VTEPS[0]) * 2,
            kernel_fdb_at_kill=len(before.fdb),
            killed_after_s=round(killed - started, 2),
            eors_before_kill=eors,
            stale_or_wrong_at_restart=stale,
            **changes,
            eor_after_s=round(eor - restarted, 2),
            converged_after_s=round(matched - restarted, 2),
            dumps=dumps,
            entries_compared=compared,
            mismatches=len(problems),
        )
    finally:
        watch.listener.close()
        vtep.close()


# --- scenario b: FRR's bgpd killed and restarted under load ----------------------------------------


class Frr:
    """zebra and bgpd in ``ns`` (``-N``: their own /var/run/frr/NAME), by PID."""

    def __init__(self, lab: Lab, ns: Netns) -> None:
        self.lab, self.ns = lab, ns
        self.name = ns.name
        # Everything (configuration, pid files, logs) where user frr can reach it: pytest's
        # temporary directories are private to root.
        self.rundir = self.dir = directory = Path("/var/run/frr") / self.name
        directory.mkdir(parents=True, exist_ok=True)
        lab.paths.append(directory)
        shutil.chown(directory, "frr", "frr")
        (directory / "zebra.conf").write_text(f"hostname {self.name}\nlog file {directory}/zebra.log\n")
        (directory / "bgpd.conf").write_text(
            f"""frr defaults datacenter
hostname {self.name}
log file {directory}/bgpd.log
router bgp {FRR_AS}
 bgp router-id {FRR}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor {SPEAKER_FRR} remote-as {ASN}
 neighbor {SPEAKER_FRR} timers connect 1
 address-family l2vpn evpn
  neighbor {SPEAKER_FRR} activate
  advertise-all-vni
 exit-address-family
!
"""
        )
        for f in ("zebra.conf", "bgpd.conf"):
            shutil.chown(directory / f, "frr", "frr")

    def _daemon(self, binary: str, daemon: str, *extra: str) -> Process:
        """The daemon in the foreground, as our child (stopped by its PID)."""
        conf, pidfile = self.dir / f"{daemon}.conf", self.dir / f"{daemon}.pid"
        argv = [binary, "-N", self.name, *extra, "-f", str(conf), "-i", str(pidfile)]
        return self.lab.start(self.ns, argv, daemon)

    def start_zebra(self) -> None:
        self.zebra = self._daemon(ZEBRA, "zebra", "-s", "90000000")
        deadline = time.monotonic() + 20
        while not (self.dir / "zserv.api").exists():
            assert time.monotonic() < deadline and self.zebra.proc.poll() is None, self.log("zebra")
            time.sleep(0.1)

    def start_bgpd(self) -> None:
        self.bgpd = self._daemon(BGPD, "bgpd")
        deadline = time.monotonic() + 20
        while not self.vtysh_json("show bgp summary json"):
            assert time.monotonic() < deadline and self.bgpd.proc.poll() is None, self.log("bgpd")
            time.sleep(0.2)

    def kill_bgpd(self) -> None:
        self.bgpd.kill()

    def vtysh_json(self, command: str, timeout: float = 120) -> Any:
        out = subprocess.run(
            [VTYSH, "-N", self.name, "-c", command], capture_output=True, text=True, timeout=timeout, check=False
        )
        try:
            return json.loads(out.stdout)
        except ValueError:
            return {}

    def log(self, daemon: str) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / f"{daemon}.log").read_text(errors="replace")[-3000:]
        return ""

    def advertised(self) -> kstate.Expected:
        """What bgpd advertises to our speaker, from its own table: its local (``peerId``
        ``(unspec)``) valid type-2 and type-3 routes (``show bgp l2vpn evpn route json``)."""
        want = kstate.Expected()
        data = self.vtysh_json("show bgp l2vpn evpn route json")
        for block in data.values() if isinstance(data, dict) else ():
            if not isinstance(block, dict):
                continue
            for entry in block.values():
                if not isinstance(entry, dict):
                    continue
                for paths in entry.get("paths", []):
                    for path in paths if isinstance(paths, list) else [paths]:
                        if not path.get("valid") or path.get("peerId") != "(unspec)":
                            continue
                        if path.get("routeType") == 2:
                            want.fdb[path["mac"]] = FRR
                            if path.get("ip"):
                                want.neigh[path["ip"]] = path["mac"]
                        elif path.get("routeType") == 3:
                            want.flood.add(FRR)
        return want


def test_frr_restart_under_load(
    lab: Lab, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    if not all(Path(p).exists() for p in (ZEBRA, BGPD, VTYSH)):
        pytest.skip("FRR (zebra, bgpd, vtysh) is not installed")
    vtep_ns, frr_ns = lab.netns("cvv"), lab.netns("cvf")
    lab.veth(vtep_ns, "eth1", f"{SPEAKER_FRR}/24", frr_ns, "eth0", f"{FRR}/24")
    vtep_ns.add_vni(VNI, SPEAKER)
    frr_ns.add_vni(VNI, FRR, bridge_mac="02:bb:00:00:01:00")
    frr_ns.ip("link", "add", "hp0", "type", "veth", "peer", "hp0x")
    frr_ns.ip("link", "set", "hp0", "master", f"br{VNI}")
    for dev in ("hp0", "hp0x"):
        frr_ns.ip("link", "set", dev, "up")
    hosts = FRR_ROUTES // 10  # MACs that also get a neighbour on FRR's SVI: MAC+IP routes
    macs = [mac_of(i, 0xD0) for i in range(FRR_ROUTES)]
    frr_ns.batch("bridge", [f"fdb add {m} dev hp0 master static" for m in macs])
    frr_ns.batch(
        "ip", [f"neigh replace {ip_of(j + 1)} lladdr {macs[j]} dev br{VNI} nud permanent" for j in range(hosts)]
    )

    frr = Frr(lab, frr_ns)
    frr.start_zebra()

    vtep = kstate.Vtep(vtep_ns.name)
    config = speaker_toml(
        asn=ASN,
        address=SPEAKER,
        listen=SPEAKER_FRR,
        hold_time=30,
        peers=[(FRR, FRR_AS, False)],
        vni=VNI,
        import_target=f"{FRR_AS}:{VNI}",
    )
    speaker, _ = lab.speaker(vtep_ns, config, "speaker")
    watch = Watch(vtep_ns.name, vtep.vxlan, FRR_ROUTES // 2)
    try:
        # 1. bgpd starts, the transfer begins; bgpd dies once the kernel holds half of it.
        mark = speaker.mark()
        frr.start_bgpd()
        started = time.time()
        speaker.wait_event(lambda e: e.get("event") == "peer_up", 60, since=mark, what="the session with FRR")
        if not watch.reached.wait(CONVERGE):
            raise AssertionError(f"the kernel never held half of FRR's MACs ({len(watch.macs)}); {describe(speaker)}")
        frr.kill_bgpd()
        killed = time.time()
        held = set(watch.macs)  # the kernel's remote MACs when bgpd died
        eor_first = [e for e in speaker.events[mark:] if e.get("event") == "end_of_rib"]
        speaker.wait_event(lambda e: e.get("event") == "peer_down", 60, since=mark, what="the session to drop")
        time.sleep(1)
        at_kill = vtep.read()

        # 2. FRR's table changes while bgpd is down: MACs the kernel holds go, new MACs come.
        rng = random.Random(11)
        gone = rng.sample(sorted(held & set(macs[hosts:])), max(10, FRR_ROUTES // 25))  # MAC-only hosts
        added = [mac_of(i, 0xD1) for i in range(FRR_ROUTES // 50)]
        frr_ns.batch("bridge", [f"fdb del {m} dev hp0 master static" for m in gone])
        frr_ns.batch("bridge", [f"fdb add {m} dev hp0 master static" for m in added])
        total = FRR_ROUTES - len(gone) + len(added)

        # 3. bgpd again: the kernel must converge to what it advertises.
        mark = speaker.mark()
        frr.start_bgpd()
        restarted = time.time()
        speaker.wait_event(lambda e: e.get("event") == "end_of_rib", CONVERGE, since=mark, what="FRR's End-of-RIB")
        eor = time.time()
        # zebra hands bgpd the MACs while the session is up: wait until bgpd's table is still.
        # (FRR 8.4's zebra keeps MACs deleted from its bridge while bgpd was down, and bgpd
        # advertises them again: what counts is what FRR advertises, read from FRR.)
        deadline = time.monotonic() + CONVERGE
        sizes = [-1]
        while time.monotonic() < deadline:
            want = frr.advertised()
            sizes.append(len(want.fdb) + len(want.neigh) + len(want.flood))
            if sizes[-1] == sizes[-2] and len(want.fdb) >= total:
                break
            time.sleep(2)
        sent = time.time()
        assert len(want.fdb) >= total, f"FRR advertises {len(want.fdb)} MACs, its bridge has {total}"
        matched, compared, problems, dumps = wait_converged(vtep, watch, want, CONVERGE)
        assert not problems, "\n".join(problems) + "\n" + describe(speaker) + frr.log("bgpd")
        time.sleep(3)
        compared, problems = kstate.compare(vtep.read(), frr.advertised())
        assert not problems, "\n".join(problems) + "\n" + describe(speaker)
        summary(
            request,
            capsys,
            "frr-bgpd-sigkill-under-load",
            routes=FRR_ROUTES + hosts + 1,
            kernel_fdb_at_kill=len(held),
            kernel_fdb_while_down=len(at_kill.fdb),
            killed_after_s=round(killed - started, 2),
            eor_before_kill=len(eor_first),
            frr_macs_removed=len(gone),
            frr_macs_added=len(added),
            frr_advertised_macs=len(want.fdb),
            frr_advertised_neighbours=len(want.neigh),
            eor_after_s=round(eor - restarted, 2),
            frr_all_sent_after_s=round(sent - restarted, 2),
            converged_after_s=round(matched - restarted, 2),
            dumps=dumps,
            entries_compared=compared,
            mismatches=len(problems),
        )
    finally:
        watch.listener.close()
        vtep.close()
