#!/usr/bin/env python3
"""The evpn demo lab: an evpn speaker and FRR as the two VTEPs of a small VXLAN fabric.

Run it with ``sudo examples/frr-lab/run`` (which installs what it needs, see docs/lab.md), or
as root with a Python that has ``evpn`` and ``pyroute2``::

    python lab.py [--evpn-only] [--keep]    build the lab, narrate what happens, tear it down
    python lab.py --teardown                tear down the labs that --keep left running

Everything lives in network namespaces of its own, named ``evlab-ROLE-PID`` (see TOPOLOGY).
VTEP-1 runs ``python -m evpn run`` with the netlink sink (``evpn/vtep1.toml``); VTEP-2 runs FRR's
bgpd and zebra (``frr/*.conf``), or with ``--evpn-only`` a second evpn speaker
(``evpn/vtep2.toml``).  h1 and h2 share VNI 100 (bridged); h3 is in VNI 200, on VTEP-2 only, so
h1 reaches it only by routing through L3 VNI 5000 (symmetric IRB), in the main routing table
when the kernel has no VRF devices, in VRF ``tenant`` when it has.

The lab then narrates the BGP session, the routes, the kernel entries evpn programs, a ping
across VXLAN, ARP suppression, a MAC move and a routed ping, checking each; any failed check
makes the exit status 1.  It stops only the processes it started (by PID) and deletes only the
namespaces it made, in ``finally``; with ``--keep`` it leaves them running and records them in
``/run/evpn-lab/PID/state.json`` for ``--teardown``.

As a template: :func:`build_vtep` and :func:`add_host` are the ``ip``/``bridge`` commands of a
Linux VTEP, the configuration files next to this script are what the daemons run, and each
``step_*`` function shows how to look at one aspect of EVPN.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import os
import shlex
import shutil
import signal
import string
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STATE_ROOT = Path("/run/evpn-lab")  # one directory per lab: configs, logs, captures, state.json
FRR_DAEMONS = Path(os.environ.get("EVPN_LAB_FRR_DIR", "/usr/lib/frr"))  # where zebra and bgpd are
FRR_RUN = Path("/var/run/frr")  # FRR's per-instance run directories (`-N NAME`)
TEARDOWN_COMMAND = "sudo examples/frr-lab/run --teardown"
WAIT = 20.0  # seconds to wait for anything the lab expects to happen

# --- the plan: addresses and names -------------------------------------------------------------

VTEP_IP = {"vtep1": "198.18.0.1", "vtep2": "198.18.0.2"}  # underlay (198.18.0.0/16)
L2VNI, L3VNI = 100, 5000
VRF_NAME, VRF_TABLE = "tenant", 1001
UNUSED_IP = "198.19.100.99"  # nobody has it: an ARP request for it must be flooded
ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class Segment:
    """A VNI on a VTEP: bridge ``brVNI`` with ``vxlanVNI`` in it, the bridge's MAC and, for a
    subnet of hosts, the bridge's address (its SVI, the hosts' gateway)."""

    vni: int
    bridge_mac: str
    svi: str | None = None

    @property
    def bridge(self) -> str:
        """The bridge's name."""
        return f"br{self.vni}"

    @property
    def vxlan(self) -> str:
        """The VXLAN device's name."""
        return f"vxlan{self.vni}"


SEGMENTS = {
    "vtep1": (Segment(100, "02:aa:00:00:01:00", "198.19.100.1/24"), Segment(L3VNI, "02:aa:00:00:50:01")),
    "vtep2": (
        Segment(100, "02:bb:00:00:01:00", "198.19.100.2/24"),
        Segment(200, "02:bb:00:00:02:00", "198.19.200.1/24"),
        Segment(L3VNI, "02:bb:00:00:50:02"),
    ),
}
ROUTER_MAC = {vtep: segments[-1].bridge_mac for vtep, segments in SEGMENTS.items()}  # br5000's MAC


@dataclass(frozen=True)
class Host:
    """A host: its own namespace, plugged into a VTEP's bridge by a veth (``port`` on the VTEP's
    side, ``eth0`` on the host's)."""

    name: str
    vtep: str
    vni: int
    port: str
    mac: str
    ip: str
    gateway: str


H1 = Host("h1", "vtep1", 100, "hp1", "02:00:00:00:01:11", "198.19.100.11", "198.19.100.1")
H2 = Host("h2", "vtep2", 100, "hp2", "02:00:00:00:01:12", "198.19.100.12", "198.19.100.2")
H3 = Host("h3", "vtep2", 200, "hp3", "02:00:00:00:02:13", "198.19.200.13", "198.19.200.1")
HOSTS = (H1, H2, H3)

TOPOLOGY = """\
    h1 198.19.100.11                               h2 198.19.100.12      h3 198.19.200.13
      |                                              |                     |
    VTEP-1: evpn, AS 65001                         VTEP-2: {vtep2}, AS 65002
      br100 198.19.100.1 + vxlan100  <== VNI 100 ==> br100 198.19.100.2 + vxlan100
                                                     br200 198.19.200.1 + vxlan200 (VNI 200)
      br5000 + vxlan5000  <==== L3 VNI 5000 =====>   br5000 + vxlan5000
      eth0 198.18.0.1  --------- underlay --------- eth0 198.18.0.2
"""

# --- narration ---------------------------------------------------------------------------------

STARTED = time.monotonic()


class LabError(Exception):
    """A narrated check failed (or something the lab needs did not happen): the lab stops."""


def say(text: str = "") -> None:
    """A paragraph of narration."""
    print(textwrap.fill(text, 100) if text else "", flush=True)


def heading(text: str) -> None:
    """The title of a step, with the seconds since the start."""
    print(f"\n== {text}  [{time.monotonic() - STARTED:.1f} s] ==", flush=True)


def show(
    where: str,
    command: str,
    output: str,
    *,
    pick: Callable[[str], bool] | None = None,
    note: Callable[[str], str | None] | None = None,
    limit: int = 14,
) -> None:
    """Print ``where# command`` and an excerpt of ``output``: the lines ``pick`` keeps, each with
    what ``note`` says about it.  ``where`` is a namespace's role, or empty for the machine;
    without ``command``, ``where`` is printed as a title (the output of a running program)."""
    print(f"  {where}# {command}" if command else f"  [{where}]")
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    if pick is not None:
        lines = [line for line in lines if pick(line)]
    for line in lines[:limit]:
        remark = note(line) if note is not None else None
        print(f"      {line}" + (f"    <- {remark}" if remark else ""))
    if len(lines) > limit:
        print(f"      ... ({len(lines) - limit} more lines)")
    if not lines:
        print("      (nothing)")


def ok(text: str) -> None:
    """A check that passed."""
    print(f"[ok] {text}", flush=True)


def check(condition: object, failure: str) -> None:
    """Raise :class:`LabError` with ``failure`` unless ``condition`` holds."""
    if not condition:
        raise LabError(failure)


def tail(path: Path, limit: int = 2500) -> str:
    """The end of a log file ('' if there is none)."""
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


# --- commands and namespaces -------------------------------------------------------------------


def run(argv: list[str], *, check: bool = True, timeout: float = 30) -> str:
    """Run a command and return its stdout; with ``check``, a failure raises with its stderr."""
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


@dataclass(frozen=True)
class Netns:
    """A network namespace: one "container" of the lab, with its own interfaces and tables."""

    role: str  # what the lab calls it: "vtep1", "h1", ...
    name: str  # what the kernel calls it: "evlab-vtep1-4242"

    def argv(self, *args: str) -> list[str]:
        """The command line that runs ``args`` inside the namespace."""
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args: str, check: bool = True) -> str:
        """Run a command inside the namespace and return its stdout."""
        return run(self.argv(*args), check=check)

    def ip(self, *args: str) -> str:
        """``ip -n NAME ARGS``: an ``ip`` command applied to the namespace."""
        return run(["ip", "-n", self.name, *args])

    def sysctl(self, key: str, value: str) -> None:
        """Set a sysctl of the namespace (``net.*`` keys are per namespace)."""
        self.run("sysctl", "-q", "-w", f"{key}={value}")

    def ping(self, address: str) -> str | None:
        """``ping -c 1 -W 1 ADDRESS``: its output when a reply came back, else ``None``."""
        result = subprocess.run(
            self.argv("ping", "-n", "-c", "1", "-W", "1", address),
            capture_output=True, text=True, timeout=10, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return result.stdout if result.returncode == 0 else None


def namespace_names() -> set[str]:
    """The network namespaces ``ip netns`` knows."""
    return {line.split()[0] for line in run(["ip", "netns", "list"]).splitlines() if line.strip()}


# --- the lab's state: what it made, for the teardown -------------------------------------------


@dataclass
class State:
    """Everything a lab made, saved to ``state.json`` whenever it changes, so that the teardown
    (at the end, or later with ``--teardown``) removes exactly that and nothing else."""

    lab_id: int
    workdir: str
    namespaces: list[str] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)  # pid, netns, cmdline, what
    dirs: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        """Where the state is saved."""
        return Path(self.workdir) / "state.json"

    def save(self) -> None:
        """Write the state file (atomically)."""
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(self.path)

    @classmethod
    def load(cls, path: Path) -> State:
        """Read a state file."""
        return cls(**json.loads(path.read_text()))


class Lab:
    """The namespaces, processes and directories of one lab run, recorded in its :class:`State`."""

    def __init__(self, lab_id: int) -> None:
        self.id = lab_id
        self.workdir = STATE_ROOT / str(lab_id)
        self.state = State(lab_id, str(self.workdir))
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.watched: dict[int, tuple[str, Path]] = {}  # processes that must not exit: what, log

    def open(self) -> Lab:
        """Make the lab's directory and its state file."""
        STATE_ROOT.mkdir(mode=0o755, exist_ok=True)
        self.workdir.mkdir(mode=0o755)
        self.state.dirs.append(str(self.workdir))
        self.state.save()
        return self

    def path(self, name: str) -> Path:
        """A file in the lab's directory."""
        return self.workdir / name

    def namespace(self, role: str) -> Netns:
        """A new network namespace ``evlab-ROLE-ID``, with its loopback up."""
        ns = Netns(role, f"evlab-{role}-{self.id}")
        run(["ip", "netns", "add", ns.name])
        self.state.namespaces.append(ns.name)
        self.state.save()
        ns.ip("link", "set", "lo", "up")
        return ns

    def add_dir(self, path: Path) -> None:
        """Record a directory the teardown must remove."""
        self.state.dirs.append(str(path))
        self.state.save()

    def spawn(
        self, ns: Netns, argv: list[str], *, what: str, log: Path, stdout: Path | None = None, unbuffered: bool = False
    ) -> int:
        """Start ``argv`` inside ``ns`` in the background (``ip netns exec`` execs it, so the PID
        we get is the program's own), record it, and return its PID.  stderr (and stdout, unless
        it goes to ``stdout``) goes to ``log``; ``unbuffered``: a Python program writes at once."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"} if unbuffered else None
        with open(log, "ab") as err, open(stdout or log, "ab") as out:
            proc = subprocess.Popen(
                ns.argv(*argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, start_new_session=True
            )
        self.children[proc.pid] = proc
        self.state.processes.append({"pid": proc.pid, "netns": ns.name, "cmdline": argv, "what": what})
        self.state.save()
        return proc.pid

    def watch(self, pid: int, log: Path) -> None:
        """From now on, :meth:`check_alive` fails if this process has exited (showing ``log``)."""
        record = next(p for p in self.state.processes if p["pid"] == pid)
        self.watched[pid] = (record["what"], log)

    def check_alive(self) -> None:
        """Raise :class:`LabError` if a daemon of the lab has exited."""
        for pid, (what, log) in self.watched.items():
            code = self.children[pid].poll()
            if code is not None:
                raise LabError(f"{what} (PID {pid}) exited with status {code}; its log ends with:\n{tail(log)}")

    def stop(self, pid: int) -> None:
        """Stop one of the lab's processes now and forget it."""
        self.watched.pop(pid, None)
        record = next(p for p in self.state.processes if p["pid"] == pid)
        stop_process(record, self.children.pop(pid, None))
        self.state.processes.remove(record)
        self.state.save()

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
        """Poll ``probe`` until it returns something true and return that; fail after
        ``timeout`` seconds, or at once if a daemon exits."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            self.check_alive()
            try:
                value = probe()
                if value:
                    return value
                last = value
            except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise LabError(f"timed out after {timeout:g} s waiting for {what} (last seen: {last!r:.600})")
            time.sleep(0.2)


# --- teardown ----------------------------------------------------------------------------------


def is_lab_process(record: dict[str, Any]) -> bool | None:
    """Whether PID still is the process the lab started: same command line, in the lab's namespace.
    ``None`` when no process has that PID any more."""
    pid = record["pid"]
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except OSError:
        return None
    netns = run(["ip", "netns", "identify", str(pid)], check=False).strip()
    return bool([c.decode(errors="replace") for c in cmdline] == record["cmdline"] and netns == record["netns"])


def stop_process(record: dict[str, Any], child: subprocess.Popen[bytes] | None) -> str | None:
    """SIGTERM one process the lab started (SIGKILL after 5 s); ``child`` when it is ours to reap.
    Without ``child`` (a kept lab) the PID is only signalled if it still is the lab's process.
    Returns a problem to report, if any."""
    pid = record["pid"]
    if child is None and (mine := is_lab_process(record)) is not True:
        return None if mine is None else f"PID {pid} is no longer the lab's {record['what']}: left alone"
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if child is not None and child.poll() is not None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if (child.poll() is not None) if child is not None else not Path(f"/proc/{pid}").exists():
                return None
            time.sleep(0.05)
    return f"PID {pid} ({record['what']}) did not exit"


def teardown(state: State, children: dict[int, subprocess.Popen[bytes]] | None = None) -> list[str]:
    """Stop the lab's processes (the newest first), delete its namespaces and its directories.
    Returns the problems met (the teardown goes on regardless)."""
    problems = []
    for record in reversed(state.processes):
        problem = stop_process(record, (children or {}).get(record["pid"]))
        if problem:
            problems.append(problem)
    existing = namespace_names()
    for name in reversed(state.namespaces):
        if name in existing:
            result = subprocess.run(["ip", "netns", "delete", name], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                problems.append(f"ip netns delete {name}: {result.stderr.strip()}")
    for directory in reversed(state.dirs):
        shutil.rmtree(directory, ignore_errors=True)
    with contextlib.suppress(OSError):
        STATE_ROOT.rmdir()  # only when no other lab is kept
    return problems


def teardown_kept() -> int:
    """``--teardown``: tear down every lab that ``--keep`` left running."""
    states = sorted(STATE_ROOT.glob("*/state.json"))
    if not states:
        print(f"No lab to tear down ({STATE_ROOT} has no state.json).")
        return 0
    status = 0
    for path in states:
        state = State.load(path)
        problems = teardown(state)
        print(
            f"Lab {state.lab_id} torn down: stopped {len(state.processes)} processes "
            f"(PIDs {', '.join(str(p['pid']) for p in state.processes) or 'none'}), "
            f"deleted {len(state.namespaces)} namespaces ({', '.join(state.namespaces)})."
        )
        for problem in problems:
            print(f"  problem: {problem}")
            status = 1
    return status


# --- building the topology ---------------------------------------------------------------------


def vrf_devices_supported(ns: Netns) -> bool:
    """Whether the kernel has VRF devices: try to make one in a lab namespace (and remove it)."""
    result = subprocess.run(
        ["ip", "-n", ns.name, "link", "add", "vrf-probe", "type", "vrf", "table", str(VRF_TABLE)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return False
    ns.ip("link", "del", "vrf-probe")
    return True


def quiet_and_routing(ns: Netns, *, routes: bool) -> None:
    """No IPv6 (no router solicitations, DAD or MLD noise on the bridges); IPv4 forwarding on a
    VTEP that routes between its subnets and the L3 VNI."""
    ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
    ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
    if routes:
        ns.sysctl("net.ipv4.ip_forward", "1")


def build_underlay(vtep1: Netns, vtep2: Netns) -> None:
    """A veth between the two VTEPs: ``eth0`` on each, 198.18.0.1/24 and 198.18.0.2/24."""
    vtep1.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", vtep2.name)
    for ns in (vtep1, vtep2):
        ns.ip("addr", "add", f"{VTEP_IP[ns.role]}/24", "dev", "eth0")
        ns.ip("link", "set", "eth0", "up")


def build_vtep(ns: Netns, *, vrf: bool) -> None:
    """The VTEP's VNIs as docs/dataplane.md describes them: per VNI a bridge (STP off) with a
    VXLAN device in it (local address = the VTEP's, UDP 4789, no data-plane learning) whose port
    has ``neigh_suppress on learning off``; the subnet's gateway address on the bridge.  With
    ``vrf``, the bridges are in VRF ``tenant`` (table 1001)."""
    if vrf:
        ns.ip("link", "add", VRF_NAME, "type", "vrf", "table", str(VRF_TABLE))
        ns.ip("link", "set", VRF_NAME, "up")
    for seg in SEGMENTS[ns.role]:
        ns.ip("link", "add", seg.bridge, "type", "bridge", "stp_state", "0")
        ns.ip("link", "set", seg.bridge, "address", seg.bridge_mac)
        if vrf:
            ns.ip("link", "set", seg.bridge, "master", VRF_NAME)
        ns.ip(
            "link", "add", seg.vxlan, "type", "vxlan", "id", str(seg.vni), "local", VTEP_IP[ns.role],
            "dstport", "4789", "nolearning",
        )  # fmt: skip
        ns.ip("link", "set", seg.vxlan, "master", seg.bridge)
        ns.run("bridge", "link", "set", "dev", seg.vxlan, "neigh_suppress", "on", "learning", "off")
        if seg.svi is not None:
            ns.ip("addr", "add", seg.svi, "dev", seg.bridge)
            # The neighbour table is shared by every namespace of the machine: keep the hosts'
            # entries (and so their MAC+IP routes) even when the machine has many.
            ns.sysctl(f"net.ipv4.neigh.{seg.bridge}.gc_stale_time", "3600")
        ns.ip("link", "set", seg.vxlan, "up")
        ns.ip("link", "set", seg.bridge, "up")


def plug(vtep: Netns, host: Netns, *, port: str, ifname: str, mac: str, address: str, gateway: str) -> None:
    """A veth from ``vtep``'s bridge of the host's VNI (``port``) to ``host`` (``ifname``, with
    ``mac`` and ``address``, default route via ``gateway``)."""
    bridge = "br" + str(next(h.vni for h in HOSTS if h.mac == mac))
    vtep.ip("link", "add", port, "type", "veth", "peer", "name", ifname, "netns", host.name)
    host.ip("link", "set", ifname, "address", mac)
    host.ip("addr", "add", address, "dev", ifname)
    host.ip("link", "set", ifname, "up")
    host.ip("route", "add", "default", "via", gateway)
    vtep.ip("link", "set", port, "master", bridge)
    vtep.ip("link", "set", port, "up")


def add_host(vtep: Netns, host_ns: Netns, host: Host) -> None:
    """A host plugged into its VTEP's bridge.  Nothing about it is configured on the VTEP: the
    bridge learns its MAC, and the SVI its IP, from its traffic (see :func:`greet`)."""
    quiet_and_routing(host_ns, routes=False)
    plug(vtep, host_ns, port=host.port, ifname="eth0", mac=host.mac, address=f"{host.ip}/24", gateway=host.gateway)


def greet(lab: Lab, ns: Netns, gateway: str) -> None:
    """The host pings its gateway: its VTEP's bridge learns its MAC, the SVI its IP and MAC,
    which the VTEP's control plane advertises as type-2 routes."""
    lab.wait_for(f"{ns.role} to ping its gateway {gateway}", lambda: ns.ping(gateway), timeout=10)


def build(lab: Lab, *, evpn_only: bool) -> tuple[dict[str, Netns], bool]:
    """Every namespace, link and address of the lab; returns the namespaces by role and whether
    the L3 VNI is in a VRF (the kernel has VRF devices)."""
    ns = {role: lab.namespace(role) for role in ("vtep1", "vtep2", "h1", "h2", "h3")}
    vrf = vrf_devices_supported(ns["vtep1"])
    for role in ("vtep1", "vtep2"):
        quiet_and_routing(ns[role], routes=True)
    build_underlay(ns["vtep1"], ns["vtep2"])
    for role in ("vtep1", "vtep2"):
        build_vtep(ns[role], vrf=vrf)
    for host in HOSTS:
        add_host(ns[host.vtep], ns[host.name], host)
    return ns, vrf


# --- routes and MACs as either control plane reports them --------------------------------------


@dataclass(frozen=True)
class Route:
    """An EVPN route as a VTEP holds it: its type, what it is about (a MAC and IP, a VTEP, a
    prefix) and where it came from ("local" or the peer)."""

    type: int
    what: str
    source: str


@dataclass(frozen=True)
class MacView:
    """Where a VTEP's control plane has a MAC: "local", or behind a remote VTEP; and the MAC
    mobility sequence number of the route it uses."""

    where: str
    sequence: int


def route_counts(routes: list[Route]) -> str:
    """``type-2: 4, type-3: 1`` for a list of routes."""
    counts = Counter(r.type for r in routes)
    return ", ".join(f"type-{t}: {counts[t]}" for t in sorted(counts)) or "none"


class ControlPlane(Protocol):
    """What the narration needs from a VTEP's control plane (:class:`EvpnSpeaker`, :class:`Frr`)."""

    title: str
    ns: Netns

    def start(self) -> None:
        """Start it."""

    def session_up(self) -> bool:
        """Whether its session with the other VTEP is established."""

    def narrate_session(self) -> None:
        """Show the session as the control plane shows it."""

    def routes(self) -> list[Route]:
        """Its EVPN routes, best paths only."""

    def narrate_routes(self) -> None:
        """Show its routes as it shows them."""

    def mac(self, mac: str) -> MacView | None:
        """Where it has ``mac`` (in VNI 100)."""

    def narrate_mac(self, mac: str) -> None:
        """Show ``mac`` as it shows it."""


class EvpnSpeaker:
    """``python -m evpn run`` in a VTEP's namespace: its events (stdout, one JSON object per
    line), its log (stderr) and its control socket (for ``python -m evpn show``)."""

    def __init__(self, lab: Lab, ns: Netns, *, vrf: bool) -> None:
        self.lab, self.ns, self.vrf = lab, ns, vrf
        self.title = "evpn"
        self.peer = VTEP_IP["vtep2" if ns.role == "vtep1" else "vtep1"]
        self.config = lab.path(f"{ns.role}.toml")
        self.socket = lab.path(f"{ns.role}.sock")
        self.events_file = lab.path(f"{ns.role}.events")
        self.log = lab.path(f"{ns.role}.log")

    def write_config(self) -> None:
        """``evpn/ROLE.toml`` with the L3 VNI bound to the main table or to VRF ``tenant``."""
        binding = f'vrf = "{VRF_NAME}"' if self.vrf else "table = 254                    # the main table"
        template = string.Template((HERE / "evpn" / f"{self.ns.role}.toml").read_text())
        self.config.write_text(template.substitute(l3_binding=binding))

    def argv(self, display: bool = False) -> list[str]:
        """The command line that runs the speaker (``display``: as the narration prints it)."""
        python = "python" if display else sys.executable
        config = self.config.name if display else str(self.config)
        return [python, "-m", "evpn", "run", "-c", config, "--json", "--routes", "--control", str(self.socket)]

    def start(self) -> None:
        """Start the speaker and wait for its control socket."""
        self.write_config()
        say(
            f"{self.ns.role} runs evpn with the netlink sink (configuration: examples/frr-lab/evpn/{self.ns.role}.toml):"
        )
        print(f"  {self.ns.role}# {shlex.join(self.argv(display=True))} &")
        what = f"{self.ns.role}'s evpn"
        pid = self.lab.spawn(self.ns, self.argv(), what=what, log=self.log, stdout=self.events_file, unbuffered=True)
        self.lab.watch(pid, self.log)
        self.lab.wait_for(f"the control socket of {self.ns.role}'s evpn", lambda: self.socket.exists(), timeout=15)

    def output(self) -> list[str]:
        """Every line the speaker has printed so far: one event each, as JSON."""
        return tail(self.events_file, limit=10**8).splitlines()

    def event_lines(self, kinds: set[str], *, since: int = 0) -> str:
        """The speaker's output lines for events of ``kinds``, from line ``since`` on."""
        return "\n".join(line for line in self.output()[since:] if any(f'"event": "{k}"' in line for k in kinds))

    def show_argv(self, what: str, *args: str, display: bool = False) -> list[str]:
        """``python -m evpn show WHAT ARGS --socket SOCKET``."""
        python = "python" if display else sys.executable
        return [python, "-m", "evpn", "show", what, *args, "--socket", str(self.socket)]

    def show(self, what: str, *args: str) -> str:
        """Ask the speaker (``evpn show``) and return the text it prints."""
        return run(self.show_argv(what, *args))

    def show_json(self, what: str, *args: str) -> Any:
        """Ask the speaker (``evpn show --json``) and return its answer."""
        return json.loads(self.show(what, *args, "--json"))

    def narrate(self, what: str, *args: str, **excerpt: Any) -> str:
        """Run ``evpn show WHAT`` and show its output."""
        text = self.show(what, *args)
        show("", shlex.join(self.show_argv(what, *args, display=True)), text, **excerpt)
        return text

    def session_up(self) -> bool:
        """Whether ``evpn show peers`` says ESTABLISHED."""
        peers = self.show_json("peers").get("peers", [])
        return any(p.get("address") == self.peer and p.get("state") == "ESTABLISHED" for p in peers)

    def narrate_session(self) -> None:
        """The speaker's own output (peer up, End-of-RIB) and ``evpn show peers``."""
        show(f"{self.ns.role}: what evpn run printed", "", self.event_lines({"peer_up", "end_of_rib"}), limit=4)
        self.narrate("peers")

    def routes(self) -> list[Route]:
        """The best path of every route of ``evpn show routes --json`` (each route once)."""
        answer = self.show_json("routes")
        seen: dict[str, Route] = {}
        for table in answer.get("vnis", []) + answer.get("vrfs", []):
            for entry in table.get("routes", []):
                route, paths = entry["route"], entry.get("paths", [])
                best = next((p for p in paths if p.get("best")), paths[0] if paths else {})
                seen[json.dumps(route, sort_keys=True)] = Route(
                    route["route_type"], evpn_route_what(route), str(best.get("from"))
                )
        return list(seen.values())

    def narrate_routes(self) -> None:
        """``evpn show routes``."""
        self.narrate("routes", limit=24)

    def mac(self, mac: str) -> MacView | None:
        """The best path of the MAC-only route for ``mac`` in VNI 100."""
        for table in self.show_json("routes", "--vni", str(L2VNI)).get("vnis", []):
            for entry in table.get("routes", []):
                route = entry["route"]
                if route.get("route_type") == 2 and route.get("mac") == mac and not route.get("ip"):
                    best: dict[str, Any] = next((p for p in entry.get("paths", []) if p.get("best")), {})
                    where = "local" if best.get("from") == "local" else str(best.get("next_hop"))
                    return MacView(where, mac_mobility(best.get("attributes", {})))
        return None

    def narrate_mac(self, mac: str) -> None:
        """``evpn show routes --vni 100``, the lines of ``mac``, and its sequence number."""
        self.narrate("routes", "--vni", str(L2VNI), pick=lambda line: mac in line or "Route" in line)
        view = self.mac(mac)
        if view is not None:
            print(f"      (MAC mobility sequence number of the best route: {view.sequence})")


def evpn_route_what(route: dict[str, Any]) -> str:
    """What a route (in evpn's JSON form) is about: 'MAC IP', the originating VTEP, a prefix."""
    if route["route_type"] == 2:
        return " ".join(filter(None, (route.get("mac"), route.get("ip"))))
    if route["route_type"] == 3:
        return str(route.get("originator_ip"))
    return str(route.get("prefix", ""))


def mac_mobility(attributes: dict[str, Any]) -> int:
    """The MAC mobility sequence number in evpn's JSON attributes (0 without the community)."""
    for community in attributes.get("extended_communities", []):
        if isinstance(community, dict) and community.get("type") == "mac-mobility":
            return int(community.get("sequence", 0))
    return 0


class Frr:
    """FRR's zebra and bgpd in VTEP-2's namespace, as an instance of their own (``-N NAME``: run
    directory ``/var/run/frr/NAME``), in the foreground as our children; ``vtysh -N NAME``."""

    def __init__(self, lab: Lab, ns: Netns, *, vrf: bool) -> None:
        self.lab, self.ns, self.vrf = lab, ns, vrf
        self.title = "FRR"
        self.peer = VTEP_IP["vtep1"]
        self.dir = lab.path("frr")
        self.run_dir = FRR_RUN / ns.name

    def write_configs(self) -> None:
        """``frr/zebra.conf`` and ``frr/bgpd.conf`` (``-vrf`` variants with a VRF), with this
        instance's hostname and log files, readable by user frr."""
        self.dir.mkdir()
        self.lab.add_dir(self.dir)
        suffix = "-vrf" if self.vrf else ""
        for daemon in ("zebra", "bgpd"):
            template = string.Template((HERE / "frr" / f"{daemon}{suffix}.conf").read_text())
            text = template.substitute(hostname=self.ns.name, log_file=self.dir / f"{daemon}.log")
            (self.dir / f"{daemon}.conf").write_text(text)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.lab.add_dir(self.run_dir)
        for path in (self.dir, self.run_dir, *self.dir.iterdir()):
            shutil.chown(path, "frr", "frr")

    def start_daemon(self, daemon: str, *options: str) -> None:
        """Start one daemon in the foreground; it is watched from then on."""
        argv = [str(FRR_DAEMONS / daemon), "-N", self.ns.name, *options]
        argv += ["-f", str(self.dir / f"{daemon}.conf"), "-i", str(self.dir / f"{daemon}.pid")]
        pid = self.lab.spawn(self.ns, argv, what=f"FRR {daemon}", log=self.dir / f"{daemon}.stdout")
        self.lab.watch(pid, self.dir / f"{daemon}.log")

    def start(self) -> None:
        """zebra (with Debian's netlink buffer size), then bgpd once zebra's API socket is up."""
        self.write_configs()
        suffix = "-vrf" if self.vrf else ""
        say(f"vtep2 runs FRR (configuration: examples/frr-lab/frr/zebra{suffix}.conf and bgpd{suffix}.conf):")
        for daemon in ("zebra", "bgpd"):
            print(f"  vtep2# /usr/lib/frr/{daemon} -N {self.ns.name} -f {daemon}.conf ... &")
        self.start_daemon("zebra", "-s", "90000000")
        self.lab.wait_for("zebra's API socket", lambda: (self.run_dir / "zserv.api").exists(), timeout=15)
        self.start_daemon("bgpd")
        self.lab.wait_for("bgpd to answer vtysh", lambda: self.vtysh("show bgp summary json"), timeout=15)

    def vtysh_argv(self, command: str) -> list[str]:
        """``vtysh -N NAME -c COMMAND`` (vtysh talks to the instance's sockets: no netns needed)."""
        return ["vtysh", "-N", self.ns.name, "-c", command]

    def vtysh(self, command: str) -> str:
        """Run a vtysh command and return its output."""
        return run(self.vtysh_argv(command), timeout=15)

    def vtysh_json(self, command: str) -> Any:
        """Run a vtysh ``... json`` command and return its answer."""
        return json.loads(self.vtysh(command) or "{}")

    def narrate(self, command: str, **excerpt: Any) -> str:
        """Run a vtysh command and show its output."""
        text = self.vtysh(command)
        show("", shlex.join(self.vtysh_argv(command)), text, **excerpt)
        return text

    def session_up(self) -> bool:
        """Whether ``show bgp l2vpn evpn summary json`` says Established."""
        peers = self.vtysh_json("show bgp l2vpn evpn summary json").get("peers", {})
        return bool(peers.get(self.peer, {}).get("state") == "Established")

    def narrate_session(self) -> None:
        """``show bgp l2vpn evpn summary``."""
        self.narrate("show bgp l2vpn evpn summary", pick=lambda line: line.startswith(("Neighbor", self.peer)))

    def routes(self) -> list[Route]:
        """The best paths of ``show bgp l2vpn evpn json``."""
        out = []
        for prefixes in self.vtysh_json("show bgp l2vpn evpn json").values():
            if not isinstance(prefixes, dict):
                continue  # bgpTableVersion, localAS, ...
            for prefix, entry in prefixes.items():
                if not isinstance(entry, dict):
                    continue  # "rd"
                for path in flat_paths(entry.get("paths", [])):
                    if path.get("bestpath") and path.get("valid"):
                        source = path.get("peerId", "")
                        source = "local" if source in ("(unspec)", "") else source
                        out.append(Route(int(path["routeType"]), frr_route_what(path, prefix), source))
        return out

    def narrate_routes(self) -> None:
        """``show bgp l2vpn evpn``: the route lines and their communities."""
        self.narrate(
            "show bgp l2vpn evpn",
            pick=lambda line: line.startswith(("Route Distinguisher", "*>", "*")) or "RT:" in line,
            limit=24,
        )

    def mac(self, mac: str) -> MacView | None:
        """zebra's view of ``mac``: ``show evpn mac vni 100 mac MAC json``."""
        entry = self.vtysh_json(f"show evpn mac vni {L2VNI} mac {mac} json").get(mac)
        if not isinstance(entry, dict):
            return None
        if entry.get("type") == "local":
            return MacView("local", int(entry.get("localSequence", 0)))
        return MacView(str(entry.get("remoteVtep")), int(entry.get("remoteSequence", 0)))

    def narrate_mac(self, mac: str) -> None:
        """``show evpn mac vni 100 mac MAC``."""
        keep = ("MAC:", "Intf:", "Remote VTEP:", "Local Seq:")
        self.narrate(f"show evpn mac vni {L2VNI} mac {mac}", pick=lambda line: line.strip().startswith(keep))


def flat_paths(paths: list[Any]) -> list[dict[str, Any]]:
    """FRR's ``paths``: a list of paths, or of lists of paths."""
    return [p for group in paths for p in (group if isinstance(group, list) else [group])]


def frr_route_what(path: dict[str, Any], prefix: str) -> str:
    """What an FRR path is about, in the same words as :func:`evpn_route_what`."""
    if path.get("routeType") == 2:
        return " ".join(filter(None, (path.get("mac"), path.get("ip"))))
    if path.get("routeType") == 3:
        return str(path.get("ip"))
    parts = [p.strip("[]") for p in prefix.split(":[")]
    return f"{parts[-1]}/{parts[-2]}" if len(parts) >= 2 else prefix


# --- packet captures ---------------------------------------------------------------------------


@contextlib.contextmanager
def capture(lab: Lab, ns: Netns, name: str) -> Iterator[Path]:
    """``tcpdump -w`` of the VXLAN packets (UDP 4789) on ``ns``'s underlay link while the block
    runs; the block gets the capture file (read it with :func:`vxlan_packets` afterwards)."""
    pcap, log = lab.path(f"{name}.pcap"), lab.path(f"{name}.tcpdump.log")
    argv = ["tcpdump", "-i", "eth0", "-n", "--immediate-mode", "-U", "-w", str(pcap), "udp", "port", "4789"]
    pid = lab.spawn(ns, argv, what="tcpdump", log=log)
    try:
        lab.wait_for("tcpdump to listen", lambda: "listening on" in tail(log), timeout=10)
        yield pcap
        time.sleep(0.3)  # the last packets
    finally:
        lab.stop(pid)


def vxlan_packets(pcap: Path) -> list[str]:
    """The captured VXLAN packets, one line each: ``OUTER-SRC > OUTER-DST vni N: INNER``
    (from ``tcpdump -r``, which prints the outer and the inner packet on two lines)."""
    lines = run(["tcpdump", "-r", str(pcap), "-n"]).splitlines()
    packets = []
    for outer, inner in itertools.pairwise(lines):
        if ": VXLAN," in outer:
            words = outer.split()
            source, destination = words[2].rsplit(".", 1)[0], words[4].rsplit(".", 1)[0]
            packets.append(f"{source} > {destination} vni {outer.rsplit('vni ', 1)[-1]}: {inner.strip()}")
    return packets


# --- kernel entries and what they come from ----------------------------------------------------


def field_after(words: list[str], key: str) -> str | None:
    """The word after ``key`` in ``words``."""
    return words[words.index(key) + 1] if key in words[:-1] else None


def explain_fdb(line: str) -> str | None:
    """Which route a ``bridge fdb`` line comes from."""
    words = line.split()
    dst = field_after(words, "dst")
    if "extern_learn" not in words:
        return "learned by the bridge: a local host, advertised by evpn" if "permanent" not in words else None
    if words[0] == ZERO_MAC:
        return f"type-3 from {dst}: flood list, BUM traffic goes to {dst}"
    if words[0] == ROUTER_MAC["vtep2"]:
        return f"VTEP-2's Router's MAC (from its type-2/type-5 routes) behind {dst}" if dst else "the same, in br5000"
    return f"type-2 MAC route: the MAC is behind {dst}" if dst else "the bridge's half of the same entry"


def explain_neighbor(line: str) -> str | None:
    """Which route an ``ip neigh`` line comes from."""
    words = line.split()
    if "extern_learn" not in words:
        return "learned by the SVI: a local host, advertised by evpn as MAC+IP"
    if words[0] == VTEP_IP["vtep2"]:
        return "VTEP-2 -> its Router's MAC: how the L3 VNI reaches VTEP-2"
    return "type-2 MAC+IP route: ARP suppression answers from this entry"


def explain_route(line: str) -> str | None:
    """Which route an ``ip route`` line comes from."""
    if "proto 235" not in line:
        return None
    if "/" in line.split()[0]:
        return "type-5 prefix route, through the L3 VNI"
    return "type-2 MAC+IP route with label2 5000: host route through the L3 VNI"


def grep(text: str, needle: str) -> list[str]:
    """The lines of ``text`` that contain ``needle``."""
    return [line.strip() for line in text.splitlines() if needle in line]


# --- the narrated steps ------------------------------------------------------------------------


@dataclass
class Demo:
    """The running lab: its namespaces, the VTEPs' control planes and where routes go."""

    lab: Lab
    ns: dict[str, Netns]
    vrf: bool
    vtep1: EvpnSpeaker
    vtep2: ControlPlane

    def route_table(self) -> list[str]:
        """The ``ip route show`` arguments for the L3 VNI's routes: the VRF, or the main table."""
        return ["vrf", VRF_NAME] if self.vrf else []


def step_build(lab: Lab, *, evpn_only: bool) -> tuple[dict[str, Netns], bool]:
    """Step 1: the namespaces, links, bridges and VXLAN devices."""
    heading("1. Building the lab")
    ns, vrf = build(lab, evpn_only=evpn_only)
    names = ", ".join(n.name for n in ns.values())
    say(f"Network namespaces (the lab's 'containers'): {names}.")
    where = f"in VRF {VRF_NAME} (table {VRF_TABLE})" if vrf else "in the main routing table (no VRF devices here)"
    say(f"L3 VNI 5000 is bound {where}.")
    say(
        "Each VTEP has a bridge per VNI with a VXLAN device in it (nolearning; port flags neigh_suppress on, "
        "learning off): remote MACs, flood lists and ARP answers can only come from EVPN routes."
    )
    for role in ("vtep1", "vtep2"):
        show(role, "ip -br addr", ns[role].run("ip", "-br", "addr"), pick=lambda line: not line.startswith("lo"))
    return ns, vrf


def step_start(demo: Demo, *, evpn_only: bool) -> None:
    """Step 2: VTEP-2's control plane, then VTEP-1's evpn; the hosts say hello."""
    heading("2. Starting the control planes")
    demo.vtep2.start()
    greet(demo.lab, demo.ns["h2"], H2.gateway)
    greet(demo.lab, demo.ns["h3"], H3.gateway)
    demo.vtep1.start()
    greet(demo.lab, demo.ns["h1"], H1.gateway)
    say(
        "Each host pinged its gateway, so its VTEP's bridge learned its MAC and the SVI its IP address: "
        "nothing about the hosts is configured in the control planes."
    )


def step_session(demo: Demo) -> None:
    """Step 3: the BGP session, from both sides."""
    heading("3. The BGP EVPN session comes up")
    demo.lab.wait_for("VTEP-1's session to be established", demo.vtep1.session_up)
    demo.lab.wait_for("VTEP-2's session to be established", demo.vtep2.session_up)
    say(f"VTEP-2 ({demo.vtep2.title}) sees VTEP-1:")
    demo.vtep2.narrate_session()
    say("VTEP-1 (evpn) sees VTEP-2:")
    demo.vtep1.narrate_session()
    ok("BGP session up: VTEP-1 (evpn, AS 65001) and VTEP-2 (AS 65002) are Established")


def expected_routes(vtep1: list[Route], vtep2: list[Route]) -> list[str]:
    """What is still missing from what each side should have learned from the other."""
    want1 = [(3, VTEP_IP["vtep2"]), (2, f"{H2.mac} {H2.ip}"), (2, f"{H3.mac} {H3.ip}"), (5, "198.19.200.0/24")]
    want2 = [(3, VTEP_IP["vtep1"]), (2, f"{H1.mac} {H1.ip}")]
    have1 = {(r.type, r.what) for r in vtep1 if r.source == VTEP_IP["vtep2"]}
    have2 = {(r.type, r.what) for r in vtep2 if r.source == VTEP_IP["vtep1"]}
    missing = [f"VTEP-1: type-{t} {w}" for t, w in want1 if (t, w) not in have1]
    return missing + [f"VTEP-2: type-{t} {w}" for t, w in want2 if (t, w) not in have2]


def step_routes(demo: Demo) -> None:
    """Step 4: the routes each side learned from the other."""
    heading("4. The routes each side learned")

    def complete() -> tuple[list[Route], list[Route]] | None:
        routes1, routes2 = demo.vtep1.routes(), demo.vtep2.routes()
        return None if expected_routes(routes1, routes2) else (routes1, routes2)

    try:
        routes1, routes2 = demo.lab.wait_for("the routes of both VTEPs", complete, timeout=30)
    except LabError as exc:
        missing = expected_routes(demo.vtep1.routes(), demo.vtep2.routes())
        raise LabError(f"{exc}; missing: {', '.join(missing)}") from exc
    learned1 = [r for r in routes1 if r.source == VTEP_IP["vtep2"]]
    learned2 = [r for r in routes2 if r.source == VTEP_IP["vtep1"]]
    say(
        f"VTEP-2 ({demo.vtep2.title}) learned {len(learned2)} routes from VTEP-1 ({route_counts(learned2)}): "
        "a type-3 route (VTEP-1 takes part in VNI 100: send it broadcast, unknown unicast and multicast) "
        "and type-2 routes for h1 (MAC, and MAC+IP with L3 VNI 5000 and VTEP-1's Router's MAC)."
    )
    demo.vtep2.narrate_routes()
    say(
        f"VTEP-1 (evpn) learned {len(learned1)} routes from VTEP-2 ({route_counts(learned1)}): type-3 for "
        "VNI 100, type-2 for h2 and h3, and a type-5 route for h3's subnet 198.19.200.0/24."
    )
    demo.vtep1.narrate_routes()
    ok(f"routes learned: VTEP-1 {route_counts(learned1)}; VTEP-2 {route_counts(learned2)}")


def vtep1_kernel_missing(demo: Demo) -> list[str]:
    """What VTEP-1's kernel still lacks of what VTEP-2's routes call for."""
    v1, vtep2 = demo.ns["vtep1"], VTEP_IP["vtep2"]
    fdb, fdb_l3 = (
        v1.run("bridge", "fdb", "show", "dev", "vxlan100"),
        v1.run("bridge", "fdb", "show", "dev", "vxlan5000"),
    )
    neigh, neigh_l3 = v1.run("ip", "neigh", "show", "dev", "br100"), v1.run("ip", "neigh", "show", "dev", "br5000")
    routes = v1.run("ip", "route", "show", *demo.route_table())
    wanted = {
        f"flood entry to {vtep2}": f"{ZERO_MAC} dst {vtep2}" in fdb,
        f"h2's MAC behind {vtep2}": f"{H2.mac} dst {vtep2}" in fdb,
        "h2's ARP suppression entry": any(H2.mac in line and "extern_learn" in line for line in grep(neigh, H2.ip)),
        "VTEP-2's Router's MAC": f"{ROUTER_MAC['vtep2']} dst {vtep2}" in fdb_l3 and ROUTER_MAC["vtep2"] in neigh_l3,
        "the route to 198.19.200.0/24": any(vtep2 in line for line in grep(routes, "198.19.200.0/24")),
        "h3's host route": any(vtep2 in line for line in grep(routes, f"{H3.ip} ")),
    }
    return [what for what, there in wanted.items() if not there]


def step_kernel(demo: Demo) -> None:
    """Step 5: what evpn's netlink sink wrote into VTEP-1's kernel, and which route each comes from."""
    heading("5. What evpn programmed into VTEP-1's kernel")
    demo.lab.wait_for("VTEP-1's kernel entries", lambda: not vtep1_kernel_missing(demo) or None)
    v1 = demo.ns["vtep1"]
    say("Entries marked extern_learn (and, for neighbours and routes, proto 235) are evpn's:")
    show("vtep1", "bridge fdb show dev vxlan100", v1.run("bridge", "fdb", "show", "dev", "vxlan100"), note=explain_fdb)
    show("vtep1", "ip neigh show dev br100", v1.run("ip", "neigh", "show", "dev", "br100"), note=explain_neighbor)
    route_command = " ".join(["ip", "route", "show", *demo.route_table()])
    show("vtep1", route_command, v1.run("ip", "route", "show", *demo.route_table()), note=explain_route)
    show(
        "vtep1", "bridge fdb show dev vxlan5000", v1.run("bridge", "fdb", "show", "dev", "vxlan5000"), note=explain_fdb
    )
    show("vtep1", "ip neigh show dev br5000", v1.run("ip", "neigh", "show", "dev", "br5000"), note=explain_neighbor)
    ok("kernel entries programmed: flood list, remote MACs, ARP suppression entries and L3 VNI routes on VTEP-1")


def ping_shown(demo: Demo, source: Netns, target: str, what: str) -> None:
    """``ping`` until a reply comes back (failing after the usual wait), and show the reply."""
    output = demo.lab.wait_for(what, lambda: source.ping(target), timeout=10)
    show(source.role, f"ping -c 1 {target}", output, pick=lambda line: "bytes from" in line or "received" in line)


def step_ping(demo: Demo) -> None:
    """Step 6: h1 pings h2, bridged across VXLAN in VNI 100."""
    heading("6. h1 pings h2 across the VXLAN tunnel (VNI 100)")
    with capture(demo.lab, demo.ns["vtep1"], "ping") as pcap:
        ping_shown(demo, demo.ns["h1"], H2.ip, "h1 to ping h2")
    packets = [p for p in vxlan_packets(pcap) if "ICMP" in p]
    show("vtep1", "tcpdump -n -i eth0 udp port 4789", "\n".join(packets), limit=4)
    check(
        any(f"vni {L2VNI}: IP {H1.ip} > {H2.ip}: ICMP echo request" in p for p in packets),
        f"the echo request from h1 to h2 was not seen in VXLAN VNI {L2VNI} on VTEP-1's underlay: {packets}",
    )
    ok(f"ping h1 -> h2 across VXLAN: echo request and reply in VNI {L2VNI} between 198.18.0.1 and 198.18.0.2")


def step_arp(demo: Demo) -> None:
    """Step 7: ARP suppression: VTEP-1's bridge answers h1's ARP request for h2 itself."""
    heading("7. ARP suppression: h1's ARP request for h2 is answered by VTEP-1")
    h1, v1 = demo.ns["h1"], demo.ns["vtep1"]
    say(
        f"h1 forgets every neighbour, then pings h2 ({H2.ip}, known from a MAC+IP route) and {UNUSED_IP} "
        "(nobody has it: the control). We watch VTEP-1's underlay for ARP requests inside VXLAN."
    )
    show("vtep1", f"ip neigh show {H2.ip}", v1.run("ip", "neigh", "show", H2.ip, "dev", "br100"), note=explain_neighbor)
    h1.ip("neigh", "flush", "all")
    with capture(demo.lab, v1, "arp") as pcap:
        ping_shown(demo, h1, H2.ip, "h1 to ping h2 after forgetting its MAC")
        h1.ping(UNUSED_IP)
    arps = [p for p in vxlan_packets(pcap) if "ARP" in p]
    show("vtep1", "tcpdump -n -i eth0 udp port 4789 (the ARP packets)", "\n".join(arps), limit=6)
    show("h1", f"ip neigh show {H2.ip}", h1.run("ip", "neigh", "show", H2.ip))
    check(
        any(H2.mac in line for line in grep(h1.run("ip", "neigh", "show"), H2.ip)),
        f"h1 did not learn h2's MAC {H2.mac}",
    )
    check(
        any(f"who-has {UNUSED_IP}" in p for p in arps),
        f"the control failed: the ARP request for {UNUSED_IP} should have been flooded over VXLAN: {arps}",
    )
    check(not any(f"who-has {H2.ip}" in p for p in arps), f"an ARP request for h2 went over VXLAN: {arps}")
    ok(
        f"ARP answered locally: h1 got h2's MAC and no ARP request for {H2.ip} crossed the tunnel "
        f"(the one for {UNUSED_IP} was flooded)"
    )


def fdb_lines(ns: Netns, mac: str) -> str:
    """``bridge fdb show br br100 | grep MAC``."""
    return "\n".join(grep(ns.run("bridge", "fdb", "show", "br", "br100"), mac))


def move_h2_to_vtep1(demo: Demo) -> None:
    """Like a live migration: h2's old link (to VTEP-2) falls silent but stays up, so VTEP-2
    keeps its entry; a new link to VTEP-1's br100 gets h2's MAC and IP, and h2 greets its new
    gateway."""
    h2, v1 = demo.ns["h2"], demo.ns["vtep1"]
    h2.ip("addr", "flush", "dev", "eth0")
    plug(v1, h2, port="hp2", ifname="eth1", mac=H2.mac, address=f"{H2.ip}/24", gateway=H1.gateway)
    for command in (
        "ip addr flush dev eth0   (the old link to VTEP-2 stays up, silent)",
        f"ip link set eth1 address {H2.mac}; ip addr add {H2.ip}/24 dev eth1   (a new link to VTEP-1's br100)",
        f"ip route add default via {H1.gateway}; ping -c 1 {H1.gateway}",
    ):
        print(f"  h2# {command}")
    greet(demo.lab, h2, H1.gateway)


def step_move(demo: Demo) -> None:
    """Step 8: h2 moves from VTEP-2 to VTEP-1; MAC mobility sequence numbers settle who has it."""
    heading("8. A MAC move: h2 moves from VTEP-2 to VTEP-1")
    v1, v2 = demo.ns["vtep1"], demo.ns["vtep2"]
    before = demo.lab.wait_for("VTEP-2 to have h2's MAC", lambda: demo.vtep2.mac(H2.mac))
    check(before.where == "local", f"VTEP-2 should have h2's MAC locally before the move: {before}")
    say(f"Before: h2's MAC is local to VTEP-2, sequence number {before.sequence}; VTEP-1 sends it to VTEP-2.")
    demo.vtep2.narrate_mac(H2.mac)
    show("vtep1", f"bridge fdb show br br100 | grep {H2.mac}", fdb_lines(v1, H2.mac), note=explain_fdb)
    mark = len(demo.vtep1.output())
    move_h2_to_vtep1(demo)
    want = MacView(VTEP_IP["vtep1"], before.sequence + 1)
    demo.lab.wait_for(f"VTEP-2 to see h2's MAC behind VTEP-1 with sequence {want.sequence}",
                      lambda: demo.vtep2.mac(H2.mac) == want)  # fmt: skip
    demo.lab.wait_for("VTEP-2's kernel to send h2's MAC to VTEP-1",
                      lambda: f"dst {VTEP_IP['vtep1']}" in fdb_lines(v2, H2.mac))  # fmt: skip
    demo.lab.wait_for("VTEP-1's kernel to have h2's MAC on hp2",
                      lambda: "dev hp2 " in fdb_lines(v1, H2.mac) and "dst" not in fdb_lines(v1, H2.mac))  # fmt: skip
    ours = demo.vtep1.mac(H2.mac)
    check(
        ours == MacView("local", want.sequence),
        f"VTEP-1 should advertise h2's MAC with sequence {want.sequence}: {ours}",
    )
    say(
        f"After: VTEP-1 learned h2's MAC on hp2 and advertised it with sequence number {want.sequence}; VTEP-2 "
        "withdrew its own route. VTEP-1's run output shows its remote entry for the MAC go:"
    )
    show("vtep1: what evpn run printed", "", demo.vtep1.event_lines({"mac", "route"}, since=mark),
         pick=lambda line: H2.mac in line and f'"ip": "{H2.ip}"' not in line, limit=4)  # fmt: skip
    demo.vtep1.narrate_mac(H2.mac)
    say(f"VTEP-2 ({demo.vtep2.title}) now has h2's MAC behind VTEP-1, and its kernel sends it there:")
    demo.vtep2.narrate_mac(H2.mac)
    show("vtep2", f"bridge fdb show br br100 | grep {H2.mac}", fdb_lines(v2, H2.mac), note=explain_fdb)
    show("vtep1", f"bridge fdb show br br100 | grep {H2.mac}", fdb_lines(v1, H2.mac), note=explain_fdb)
    ok(f"MAC move seen: h2's MAC {H2.mac} is behind VTEP-1, sequence {before.sequence} -> {want.sequence}")
    demo.ns["h2"].ip("link", "del", "eth0")
    print("  h2# ip link del eth0   (the old link is unplugged)")
    ping_shown(demo, demo.ns["h1"], H2.ip, "h1 to ping h2 at its new place")


def step_routed(demo: Demo) -> None:
    """Step 9: h1 pings h3, routed through the L3 VNI (symmetric IRB)."""
    heading("9. h1 pings h3, routed through L3 VNI 5000 (symmetric IRB)")
    v1 = demo.ns["vtep1"]
    say(
        "h3 is in VNI 200, which only VTEP-2 has. VTEP-1 routes h1's packets to h3 by the routes evpn "
        "installed from VTEP-2's type-5 and MAC+IP routes: through br5000 to VTEP-2, in VNI 5000, with "
        "VTEP-2's Router's MAC as the inner destination."
    )
    route_command = " ".join(["ip", "route", "show", *demo.route_table()])
    show("vtep1", route_command, v1.run("ip", "route", "show", *demo.route_table()),
         pick=lambda line: "proto 235" in line, note=explain_route)  # fmt: skip
    with capture(demo.lab, v1, "routed") as pcap:
        ping_shown(demo, demo.ns["h1"], H3.ip, "h1 to ping h3")
    packets = [p for p in vxlan_packets(pcap) if "ICMP" in p]
    show("vtep1", "tcpdump -n -i eth0 udp port 4789", "\n".join(packets), limit=4)
    check(
        any(f"vni {L3VNI}: IP {H1.ip} > {H3.ip}: ICMP echo request" in p for p in packets)
        and any(f"vni {L3VNI}: IP {H3.ip} > {H1.ip}: ICMP echo reply" in p for p in packets),
        f"the ping from h1 to h3 did not cross the underlay in VNI {L3VNI} both ways: {packets}",
    )
    ok(f"routed ping h1 -> h3 through L3 VNI {L3VNI}: echo request and reply in VNI {L3VNI}")


# --- the whole run -----------------------------------------------------------------------------


def intro(lab: Lab, *, evpn_only: bool) -> None:
    """What the lab is about to do."""
    vtep2 = "a second evpn speaker (--evpn-only)" if evpn_only else "FRR (bgpd + zebra)"
    print(f"evpn demo lab {lab.id}: VTEP-1 runs evpn, VTEP-2 runs {vtep2}.\n")
    print(TOPOLOGY.format(vtep2="evpn" if evpn_only else "FRR"))
    say(
        f"Commands are shown as ROLE# COMMAND, run in that namespace: ip netns exec evlab-ROLE-{lab.id} COMMAND "
        "(a bare # is the machine itself). The lab's files are in " + str(lab.workdir) + "."
    )


def narrate(lab: Lab, *, evpn_only: bool) -> Demo:
    """Build the lab and run every narrated step; raise :class:`LabError` at the first failure."""
    ns, vrf = step_build(lab, evpn_only=evpn_only)
    vtep2: ControlPlane = EvpnSpeaker(lab, ns["vtep2"], vrf=vrf) if evpn_only else Frr(lab, ns["vtep2"], vrf=vrf)
    demo = Demo(lab, ns, vrf, EvpnSpeaker(lab, ns["vtep1"], vrf=vrf), vtep2)
    step_start(demo, evpn_only=evpn_only)
    for step in (step_session, step_routes, step_kernel, step_ping, step_arp, step_move, step_routed):
        step(demo)
    return demo


def diagnostics(lab: Lab) -> None:
    """The ends of the daemons' logs, after a failure."""
    for path in sorted(lab.workdir.rglob("*")):
        if path.suffix in (".log", ".events", ".stdout") and path.is_file() and "tcpdump" not in path.name:
            lines = [line[:400] for line in tail(path, 10**6).strip().splitlines()[-8:]]
            if lines:
                print(f"--- {path} (the end):", *lines, sep="\n")


def kept(lab: Lab) -> None:
    """With --keep: what is left running, how to look at it and how to remove it."""
    heading("The lab is still running (--keep)")
    print(f"State file: {lab.state.path}")
    print("Look around (as root, from the repository's top directory):")
    python = shlex.quote(
        os.path.relpath(sys.executable, REPO) if sys.executable.startswith(f"{REPO}/") else sys.executable
    )
    commands = [
        f"ip netns exec evlab-vtep1-{lab.id} bridge fdb show dev vxlan100",
        f"ip netns exec evlab-h1-{lab.id} ping -c 1 {H3.ip}",
        f"{python} -m evpn show routes --socket {lab.path('vtep1.sock')}",
    ]
    if lab.path("frr").exists():
        commands.append(f"vtysh -N evlab-vtep2-{lab.id} -c 'show bgp l2vpn evpn'")
    else:
        commands.append(f"{python} -m evpn show routes --socket {lab.path('vtep2.sock')}")
    for command in commands:
        print(f"  sudo {command}")
    print("Tear it down with:")
    print(f"  {TEARDOWN_COMMAND}")


def preflight(evpn_only: bool) -> str | None:
    """What is missing to run the lab, if anything."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces): run it with sudo"
    for tool in ("ip", "bridge", "ping", "tcpdump", "sysctl"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (examples/frr-lab/run installs it)"
    for module in ("evpn", "pyroute2"):
        if importlib.util.find_spec(module) is None:
            return f"this Python ({sys.executable}) lacks {module}: use examples/frr-lab/run, which installs it"
    frr = all((FRR_DAEMONS / daemon).exists() for daemon in ("zebra", "bgpd")) and shutil.which("vtysh")
    if not evpn_only and not frr:
        return "FRR is missing (apt-get install frr), or run with --evpn-only"
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="The evpn demo lab (docs/lab.md).")
    parser.add_argument("--evpn-only", action="store_true", help="VTEP-2 runs a second evpn speaker, not FRR")
    parser.add_argument("--keep", action="store_true", help="leave the lab running; tear it down with --teardown")
    parser.add_argument("--teardown", action="store_true", help="tear down the labs --keep left running")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the lab (or tear down kept ones); 0 when every check passed."""
    args = parse_args(argv)
    if args.teardown:
        return teardown_kept()
    problem = preflight(args.evpn_only)
    if problem:
        print(f"lab: {problem}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the teardown in finally
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    lab = Lab(os.getpid()).open()
    intro(lab, evpn_only=args.evpn_only)
    status = 1
    try:
        narrate(lab, evpn_only=args.evpn_only)
        status = 0
        heading(f"All checks passed in {time.monotonic() - STARTED:.1f} s")
    except LabError as exc:
        print(f"\n[FAILED] {exc}", flush=True)
        diagnostics(lab)
    except KeyboardInterrupt:
        print("\n[FAILED] interrupted", flush=True)
    except Exception as exc:  # a command the lab needs failed: say which, then tear down
        print(f"\n[FAILED] {type(exc).__name__}: {exc}", flush=True)
        diagnostics(lab)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let the teardown finish
        if args.keep:
            kept(lab)
        else:
            status = finish(lab, status)
    return status


def finish(lab: Lab, status: int) -> int:
    """Tear the lab down and say so; a problem on the way makes the status 1."""
    problems = teardown(lab.state, lab.children)
    print(f"\nTorn down: stopped {len(lab.state.processes)} processes, deleted {len(lab.state.namespaces)} namespaces.")
    for problem in problems:
        print(f"  problem: {problem}")
    return 1 if problems else status


if __name__ == "__main__":
    sys.exit(main())
