"""Fixtures for the interop tests: FRR, GoBGP and our speaker in network namespaces.

They need root, ``ip``, FRR (``/usr/lib/frr/bgpd``) and GoBGP (``gobgpd``).  Without them the tests
are skipped with the reason -- except under ``CI=true``, where a missing prerequisite is a failure:
CI must run them (``.ci/run`` installs the packages).  Lab rules: ``shared/notes/interop-lab.md``.

The speaker driver contract (``tests/interop/speaker_driver.py``; ``EVPN_INTEROP_DRIVER=PATH`` runs
the tests against another program):

* Run as ``python -u speaker_driver.py CONFIG.toml [--announce ROUTES.json]`` inside a namespace.
* CONFIG.toml::

      [speaker]
      asn = 65001
      router_id = "198.18.0.1"
      listen = "198.18.0.1:179"      # or "none": no listening socket at all
      hold_time = 9

      [[peers]]
      address = "198.18.0.2"
      asn = 65002
      passive = false                # true: never connect, only accept
      password = "..."               # optional: TCP MD5 (RFC 2385) key
      hold_time = 3                  # optional: overrides [speaker] hold_time
      families = ["l2vpn-evpn"]

      [[vnis]]                       # optional, any number; and [[vrfs]] (docs/configuration.md)
      vni = 100
      vtep = "198.18.0.1"
      macs = [{ mac = "02:aa:00:00:00:01", ip = "198.19.100.11" }]

  The driver originates the routes of ``[[vnis]]``/``[[vrfs]]`` (type 3 per VNI, type 2 per MAC,
  type 5 per VRF prefix) to every peer, as ``evpn.origination.local_routes`` builds them.
* ROUTES.json: ``{"next_hop": "198.18.0.1", "routes": [ROUTE, ...]}`` with each ROUTE in the JSON
  shape of ``python -m evpn decode --json`` (``evpn.wire.jsonform.nlri_json``), e.g.
  ``{"route_type": 2, "rd": "198.18.0.1:100", "esi": "00:00:00:00:00:00:00:00:00:00",
  "ethernet_tag": 0, "mac": "02:aa:00:00:00:01", "ip": "198.19.100.11", "label1": 100, "label2": null}``
  (``"ip": null`` for MAC-only) or ``{"route_type": 3, "rd": "198.18.0.1:100", "ethernet_tag": 0,
  "originator_ip": "198.18.0.1"}``.  Once a peer is up the driver announces them with next hop
  ``next_hop``, route target ``ASN:VNI`` (our ASN; the VNI is ``label1`` for type 2), encapsulation
  VXLAN, and for type 3 a PMSI tunnel (ingress replication, tunnel id ``next_hop``).  The tests check
  the type-3 route target only as ``RT:OUR_ASN:*`` and the PMSI label not at all.
* stdout, one JSON object per line (other lines are ignored):
  ``{"event": "peer_up", "peer": ADDR, "asn": N, "families": ["l2vpn-evpn"]}``,
  ``{"event": "peer_down", "peer": ADDR, "reason": TEXT}`` (a NOTIFICATION sent or received is named
  in TEXT: "Bad Peer AS" in any spelling, e.g. ``OPEN_MESSAGE/BAD_PEER_AS``, matches),
  ``{"event": "end_of_rib", "peer": ADDR, "family": "l2vpn-evpn", "routes": N}``,
  ``{"event": "route", "action": "add" | "withdraw", "peer": ADDR, "route": ROUTE}``.
* SIGTERM: send a Cease NOTIFICATION to every established peer, then exit with status 0.
* An active peer is connected to as soon as the driver starts (the tests give it 10 s); after a
  session drops, either side may reconnect (the restart tests also listen, so the peer can).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop import lab as lab_module
from interop.lab import Lab

HERE = Path(__file__).parent
# The real driver; EVPN_INTEROP_DRIVER=path runs the tests against another one.
DRIVER = Path(os.environ.get("EVPN_INTEROP_DRIVER") or HERE / "speaker_driver.py").resolve()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"interop_report_{report.when}", report)
    return report


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _require(missing: list[str]) -> None:
    if not missing:
        return
    reason = "interop prerequisites missing: " + "; ".join(missing)
    if _in_ci():
        pytest.fail(reason + " (CI=true: the interop tests must run; .ci/run installs frr and gobgpd)")
    pytest.skip(reason)


def _missing_base() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("not root (network namespaces need it)")
    if not Path(lab_module.IP).exists():
        missing.append("the ip command (iproute2)")
    return missing


def _missing_files(paths: list[str | Path], package: str) -> list[str]:
    absent = [str(p) for p in paths if not (Path(p).exists() or shutil.which(str(p)))]
    return [f"{', '.join(absent)} (apt-get install {package})"] if absent else []


@pytest.fixture(scope="session")
def require_root() -> None:
    """Root and iproute2: every interop test needs them."""
    _require(_missing_base())


@pytest.fixture(scope="session")
def require_frr(require_root: None) -> None:
    _require(_missing_files([lab_module.ZEBRA, lab_module.BGPD, lab_module.VTYSH], "frr"))


@pytest.fixture(scope="session")
def require_gobgp(require_root: None) -> None:
    _require(_missing_files([lab_module.GOBGPD, lab_module.GOBGP], "gobgpd"))


@pytest.fixture
def driver() -> Path:
    """The speaker driver program (``speaker_driver.py``; its absence fails the test, never skips it)."""
    if not DRIVER.exists():
        pytest.fail(f"the speaker driver {DRIVER} does not exist yet")
    return DRIVER


@pytest.fixture
def lab(request: pytest.FixtureRequest, require_root: None, tmp_path: Path) -> Iterator[Lab]:
    """A :class:`Lab` whose namespaces, daemons and speakers are all torn down afterwards, pass or
    fail; a failed test's report gets every log's tail."""
    the_lab = Lab(tmp_path)
    try:
        yield the_lab
    finally:
        report = getattr(request.node, "interop_report_call", None)
        if report is not None and report.failed:
            print(the_lab.diagnostics())
        the_lab.close()
