#!/usr/bin/env python3
"""Turn on BIG TCP for IPv4 on veth devices in network namespaces (Linux >= 6.3), so
that the sender hands the device GSO packets larger than 64 KiB, whose IPv4 total
length field is 0 — what a capture on a host with segmentation offload then shows.

  bigtcp.py SIZE NETNS:DEV [NETNS:DEV ...]

Debian 12's iproute2 has no gso_ipv4_max_size; pyroute2 (python3-pyroute2) sets the
attributes by their numbers from linux/if_link.h, added to its table when it lacks them.
"""
import sys

from pyroute2 import NetNS
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

IFLA_GSO_IPV4_MAX_SIZE = 63
IFLA_GRO_IPV4_MAX_SIZE = 64


def with_ipv4_sizes():
    names = [entry[0] for entry in ifinfmsg.nla_map]
    if "IFLA_GSO_IPV4_MAX_SIZE" in names:
        return
    table = list(ifinfmsg.nla_map)
    while len(table) < IFLA_GSO_IPV4_MAX_SIZE:
        table.append((f"IFLA_UNKNOWN_{len(table)}", "hex"))
    table.append(("IFLA_GSO_IPV4_MAX_SIZE", "uint32"))
    table.append(("IFLA_GRO_IPV4_MAX_SIZE", "uint32"))
    ifinfmsg.nla_map = tuple(table)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    size = int(argv[1])
    with_ipv4_sizes()
    for spec in argv[2:]:
        netns, dev = spec.split(":")
        with NetNS(netns) as ipr:
            index = ipr.link_lookup(ifname=dev)[0]
            ipr.link("set", index=index, gso_max_size=size, gro_max_size=size)
            ipr.link("set", index=index, IFLA_GSO_IPV4_MAX_SIZE=size, IFLA_GRO_IPV4_MAX_SIZE=size)
            link = ipr.get_links(index)[0]
            got = link.get_attr("IFLA_GSO_IPV4_MAX_SIZE")
            if got != size:
                sys.exit(f"{spec}: gso_ipv4_max_size is {got}, not {size} (kernel older than 6.3?)")
            print(f"{spec}: BIG TCP, GSO/GRO up to {size} bytes")


if __name__ == "__main__":
    main(sys.argv)
