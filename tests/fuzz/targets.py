"""Fuzz targets shared by the atheris harness and the regression replay test."""

from __future__ import annotations

from evpn.errors import BGPError
from evpn.wire import (
    AsPath,
    AsPathSegment,
    Context,
    Encapsulation,
    ExtendedCommunities,
    FourOctetAS,
    Fqdn,
    GracefulRestart,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    LocalPref,
    MacIpRoute,
    MacMobility,
    MessageReader,
    Multiprotocol,
    Notification,
    Open,
    Origin,
    PmsiTunnel,
    RouteRefresh,
    RouteTarget,
    decode_attributes,
    decode_message,
    end_of_rib,
    pack_updates,
    pack_withdrawals,
)
from evpn.wire.routes import EthernetADRoute, EthernetSegmentRoute, decode_evpn_nlri

CONTEXTS = [
    Context(),
    Context(four_octet_as=False),
    Context(add_path={(25, 70), (1, 1)}, extended_message=True),
]


def run_target(data: bytes) -> None:
    """Decode ``data`` with the decoder its first byte selects; only BGPError may escape."""
    if not data:
        return
    selector, payload = data[0], data[1:]
    ctx = CONTEXTS[selector % len(CONTEXTS)]
    target = (selector >> 2) % 4
    try:
        if target == 0:
            decode_message(payload, ctx)
        elif target == 1:
            reader = MessageReader(ctx.max_message_size)
            for cut in range(0, len(payload), 7):
                reader.feed(payload[cut : cut + 7])
                for message in reader:
                    decode_message(message, ctx)
        elif target == 2:
            decode_attributes(payload, ctx)
        else:
            decode_evpn_nlri(payload, bool(selector & 0x80))
    except BGPError:
        pass
    except Exception as exc:
        if target == 3 and type(exc).__name__ == "Malformed":
            return  # the NLRI decoder's internal signal; its callers turn it into BGPError
        raise


def seed_messages() -> list[bytes]:
    """Valid inputs for every target, built with the project's encoder."""
    rd = "198.18.0.2:2"
    routes = [
        MacIpRoute(rd=rd, mac="02:00:00:00:00:01", ip="198.19.0.1", label1=100, label2=5000),
        MacIpRoute(rd=rd, mac="02:00:00:00:00:02", label1=100),
        MacIpRoute(rd=rd, mac="02:00:00:00:00:03", ip="2001:db8::3", label1=100),
        InclusiveMulticastRoute(rd=rd, originator_ip="198.18.0.2"),
        IPPrefixRoute(rd=rd, prefix="198.19.5.0", prefix_length=24, label=5000),
        IPPrefixRoute(rd=rd, prefix="2001:db8::", prefix_length=64, label=5000),
        EthernetADRoute(rd=rd, esi=bytes([1] * 10), ethernet_tag=5, label=100),
        EthernetSegmentRoute(rd=rd, esi=bytes([3] * 10), originator_ip="198.18.0.2"),
    ]
    attributes = [
        Origin(0),
        AsPath([AsPathSegment(2, [65001, 4200000000])]),
        LocalPref(100),
        ExtendedCommunities([RouteTarget.parse("65001:100"), Encapsulation(8), MacMobility(3, True)]),
        PmsiTunnel(6, 100, bytes([198, 18, 0, 2])),
    ]
    messages = pack_updates(attributes, routes, next_hop=bytes([198, 18, 0, 2]))
    messages += pack_withdrawals(routes)
    messages.append(end_of_rib().encode())
    caps = [
        Multiprotocol(25, 70),
        FourOctetAS(4200000000),
        Fqdn("vtep1", "lab"),
        GracefulRestart(120, families=[(25, 70, 0x80)]),
    ]
    messages.append(Open.build(4200000000, 90, "198.18.0.2", caps).encode())
    messages.append(Notification.cease(2, "maintenance").encode())
    messages.append(RouteRefresh(25, 70).encode())
    seeds = []
    for message in messages:
        seeds.append(bytes([0]) + message)
        seeds.append(bytes([4]) + message)
    update = messages[0]
    attr_len = int.from_bytes(update[21:23], "big")
    seeds.append(bytes([8]) + update[23 : 23 + attr_len])
    seeds.append(bytes([12]) + b"".join(r.encode() for r in routes))
    return seeds
