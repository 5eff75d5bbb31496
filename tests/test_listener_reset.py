"""The listener survives a connection that the peer resets before the speaker accepts it.

Found by the fault scenarios (``tests/faults/test_misbehaviour.py::test_reset_before_accept``):
``Speaker._listen`` asks the accepted socket for its peer's address, and for a connection reset
while it waited in the accept queue Linux answers ENOTCONN.  The OSError escaped the listener task,
its nursery took the whole speaker down, and ``evpn run`` exited: any host that can reach the BGP
port could stop the speaker with one SYN and one RST.
"""

from __future__ import annotations

import socket
import struct
import sys

import pytest
import trio

from evpn.config import parse_config
from evpn.speaker import open_speaker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.skipif(sys.platform != "linux", reason="a reset connection left in the accept queue is Linux behaviour")
async def test_a_connection_reset_before_accept_is_dropped() -> None:
    port = free_port()
    config = parse_config(
        {
            "speaker": {"asn": 65001, "router_id": "198.18.0.1", "listen": f"127.0.0.1:{port}"},
            "peers": [{"address": "127.0.0.2", "asn": 65002, "passive": True}],
        }
    )
    async with open_speaker(config) as speaker:
        for _ in range(3):
            # Blocking calls, no checkpoint: the connection is reset before the listener runs.
            with socket.socket() as sock:
                sock.bind(("127.0.0.2", 0))
                sock.connect(("127.0.0.1", port))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await trio.sleep(0.2)
        # Still listening: a real connection is accepted and answered with our OPEN.
        stream = await trio.open_tcp_stream("127.0.0.1", port, local_address="127.0.0.2")
        async with stream:
            with trio.fail_after(5):
                data = await stream.receive_some(4096)
        assert data[18:19] == b"\x01"
        assert speaker.statistics().peers[0].state in ("OPEN_SENT", "ACTIVE", "IDLE")
