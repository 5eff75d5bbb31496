"""A dataplane of your own: a sink that writes every operation to a JSON-lines file.

The speaker turns what its peers advertise into dataplane operations: remote MACs, the flood
list of remote VTEPs, neighbour entries, VRF routes (``docs/dataplane.md``).  On Linux the
netlink sink programs them into the kernel.  Any other dataplane (a hardware switch's API, a
controller, a file) is a *sink*: an object with three coroutines, ``apply``, ``reconcile`` and
``aclose`` (:class:`evpn.sink.Sink`), handed to ``open_speaker(config, sink=...)``.

:class:`JsonLinesSink` keeps the table of entries it installed and appends every change to a
file, one JSON object per line.  When it opens, it replays the file, so after a restart it
knows what the previous run installed.  The speaker reconciles the sink once its peers have
sent their whole tables (End-of-RIB): the sink then removes what no route justifies any more
and installs what is missing.  Nothing is written twice, so a second run with the same file
writes only what changed.

Here leaf1 (VNI 100) programs a JsonLinesSink.  It connects from 127.0.0.1 to leaf2 (VNI 100,
two hosts), which listens on 127.0.0.2.  Once leaf1's dataplane is reconciled, leaf2 adds a host with ``speaker.add_mac()``
and removes it again, and leaf1's sink follows::

    python examples/custom_sink.py --output ops.jsonl [--port 21791]

Linux routes all of 127.0.0.0/8 to ``lo``, so 127.0.0.2 works without any setup.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from evpn.config import Config, PeerConfig, SpeakerConfig, VniConfig
from evpn.sink import Action, Entry, FdbEntry, FloodEntry, NeighborEntry, Op, OpError, RouteEntry, Sink
from evpn.speaker import open_speaker
from evpn.types import format_ip, format_mac, ip_bytes, mac_bytes

# --- entries as JSON ------------------------------------------------------------------------

KINDS: dict[str, type[Entry]] = {"fdb": FdbEntry, "flood": FloodEntry, "neigh": NeighborEntry, "route": RouteEntry}
MAC_FIELDS = {"mac"}
IP_FIELDS = {"vtep", "ip", "prefix"}


def entry_json(entry: Entry) -> dict[str, Any]:
    """``entry`` as a flat JSON object: its kind (the first item of its key), then its fields."""
    out: dict[str, Any] = {"kind": entry.key[0]}
    for name, value in attrs.asdict(entry, recurse=False).items():
        if name in MAC_FIELDS:
            value = format_mac(value)
        elif name in IP_FIELDS:
            value = format_ip(value)
        elif name == "next_hops":
            value = [format_ip(hop) for hop in value]
        out[name] = value
    return out


def entry_from_json(data: Mapping[str, Any]) -> Entry:
    """The entry :func:`entry_json` wrote."""
    fields = {name: value for name, value in data.items() if name not in ("kind", "action", "via")}
    for name in fields.keys() & MAC_FIELDS:
        fields[name] = mac_bytes(fields[name])
    for name in fields.keys() & IP_FIELDS:
        fields[name] = ip_bytes(fields[name])
    if "next_hops" in fields:
        fields["next_hops"] = tuple(ip_bytes(hop) for hop in fields["next_hops"])
    return KINDS[data["kind"]](**fields)


# --- the sink -------------------------------------------------------------------------------


class JsonLinesSink:
    """A :class:`evpn.sink.Sink` that appends each change to a JSON-lines file.

    :attr:`table` is what it installed (entry key -> entry).  Operations that change nothing
    (installing an entry that is there as it is, removing one that is not) are not written.
    Every line is ``{"action": "replace" | "remove", "via": "apply" | "reconcile", "kind": ..., <the entry's fields>}``.
    Open one with :meth:`open`.
    """

    def __init__(self, path: Path, table: dict[object, Entry], file: Any) -> None:
        self.path = path
        self.table = table
        self.replayed = len(table)
        """How many entries the previous runs left installed."""
        self.written: list[str] = []
        """The lines this sink wrote."""
        self.reconciled = False
        self._file = file
        self._changed = trio.Event()

    @classmethod
    async def open(cls, path: Path) -> JsonLinesSink:
        """A sink appending to ``path``, with the table the lines already there describe."""
        table: dict[object, Entry] = {}
        if path.exists():
            for line in (await trio.Path(path).read_text()).splitlines():
                record = json.loads(line)
                entry = entry_from_json(record)
                if record["action"] == Action.REPLACE.value:
                    table[entry.key] = entry
                else:
                    table.pop(entry.key, None)
        return cls(path, table, await trio.open_file(path, "a"))  # writes run in a thread

    async def apply(self, ops: Sequence[Op]) -> list[OpError]:
        """Carry out ``ops`` in order; none fails."""
        await self._write(ops, "apply")
        return []

    async def reconcile(self, desired: Mapping[object, Entry]) -> list[OpError]:
        """Remove the entries not in ``desired``, install the missing or different ones."""
        ops = [Op(Action.REMOVE, entry) for key, entry in self.table.items() if key not in desired]
        ops += [Op(Action.REPLACE, entry) for key, entry in desired.items() if self.table.get(key) != entry]
        await self._write(ops, "reconcile")
        self.reconciled = True
        self._wake()
        return []

    async def aclose(self) -> None:
        """Close the file (what is installed stays in it)."""
        await self._file.aclose()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds, checking after each change."""
        while not condition():
            changed = self._changed
            await changed.wait()

    async def _write(self, ops: Sequence[Op], via: str) -> None:
        lines = []
        for op in ops:
            key = op.entry.key
            if op.action is Action.REPLACE:
                if self.table.get(key) == op.entry:
                    continue
                self.table[key] = op.entry
            elif self.table.pop(key, None) is None:
                continue
            lines.append(json.dumps({"action": op.action.value, "via": via, **entry_json(op.entry)}))
        if lines:
            # The table says these are installed: finish writing them even if cancelled.
            with trio.CancelScope(shield=True):
                await self._file.write("".join(line + "\n" for line in lines))
                await self._file.flush()
            self.written += lines
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


def describe(entry: Entry) -> str:
    """One entry in a few words."""
    data = entry_json(entry)
    return " ".join(str(data[name]) for name in data if name != "sticky")


# --- two leaves on loopback ---------------------------------------------------------------

VNI = 100
FABRIC_RT = f"65000:{VNI}"  # one route target per VNI, for every leaf
NEW_HOST = ("02:bb:00:00:00:03", "198.19.100.23")


async def main(port: int, output: Path) -> None:
    """leaf1 programs a JsonLinesSink from what leaf2 advertises, while leaf2 adds and removes a host."""
    leaf1 = Config(
        SpeakerConfig(65001, "198.18.0.1", hold_time=9),
        (PeerConfig("127.0.0.2", 65002, port=port, local_address="127.0.0.1", connect_retry=1),),
        vnis=(VniConfig(VNI, "198.18.0.1", "198.18.0.1:100", [FABRIC_RT], [FABRIC_RT]),),
    )
    leaf2 = Config(
        SpeakerConfig(65002, "198.18.0.2", listen=("127.0.0.2", port), hold_time=9),
        (PeerConfig("127.0.0.1", 65001, passive=True),),
        vnis=(
            VniConfig(
                VNI,
                "198.18.0.2",
                "198.18.0.2:100",
                [FABRIC_RT],
                [FABRIC_RT],
                macs=[("02:bb:00:00:00:01", "198.19.100.21"), ("02:bb:00:00:00:02", None)],
            ),
        ),
    )
    sink = await JsonLinesSink.open(output)
    print(f"leaf1: {output}: {sink.replayed} entries installed by earlier runs")
    check: Sink = sink  # what open_speaker() expects: the three coroutines of evpn.sink.Sink
    mac, ip = mac_bytes(NEW_HOST[0]), ip_bytes(NEW_HOST[1])
    new_entries = {("fdb", "vxlan100", mac), ("neigh", "br100", ip)}
    with trio.fail_after(15):
        # leaf1 stops first, as when only it restarts: what its sink installed stays.
        async with open_speaker(leaf2) as two, open_speaker(leaf1, sink=check) as one:
            await one.wait_established("127.0.0.2")
            print("leaf1: peer 127.0.0.2 up")
            # leaf2's routes: its VTEP in the flood list, its two MACs, the IP of one host.
            await sink.wait_until(lambda: sink.reconciled and len(sink.table) == 4)
            print(f"leaf1 dataplane: reconciled, {len(sink.table)} entries")
            for entry in sink.table.values():
                print(f"  {describe(entry)}")
            two.add_mac(VNI, *NEW_HOST)
            print(f"leaf2: add_mac({VNI}, {NEW_HOST[0]}, {NEW_HOST[1]})")
            await sink.wait_until(lambda: new_entries <= sink.table.keys())
            print(f"leaf1 dataplane: {len(sink.table)} entries")
            two.remove_mac(VNI, *NEW_HOST)
            print(f"leaf2: remove_mac({VNI}, {NEW_HOST[0]}, {NEW_HOST[1]})")
            await sink.wait_until(lambda: not new_entries & sink.table.keys())
            print(f"leaf1 dataplane: {len(sink.table)} entries")
    # Leaving open_speaker() closed the sink; its file says what is installed.
    print(f"{output}: {len(sink.written)} operations written by this run")
    for line in sink.written:
        print(f"  {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True, help="the JSON-lines file (appended to)")
    parser.add_argument("--port", type=int, default=21791, help="leaf2's BGP port on 127.0.0.2")
    args = parser.parse_args()
    trio.run(main, args.port, args.output)
