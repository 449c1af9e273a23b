#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/.

capture_reader, analyze: the capture files themselves (gzip ones inflated).
capture_stream:           the same, after two bytes choosing the chunk size.
packets_to_flows:         each capture's packets in the target's own framing
                          (selector byte for the link type, 2-byte lengths).
tls_conversation:         each TCP connection's payloads in capture order, as
                          [direction][2-byte length][bytes] chunks.
tls_keyed_conversation:   the same for the keyed captures (captures/keys_*.pcap), after
                          [2-byte length][the capture's key log].
quic_attempt:             each UDP flow's datagrams in capture order, as
                          [direction][2-byte length][bytes] chunks.
quic_keyed_attempt:       the same for the QUIC captures with a key log, after
                          [2-byte length][the capture's key log].

Sources: captures/*.pcap and tests/data/formats/*, and with --corpus DIR also the
captures in DIR (run.sh passes the third-party corpus when it is there). Only the standard library is used.
"""
import argparse
import glob
import gzip
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Link type → selector of the packets_to_flows target (Ethernet, raw, SLL, SLL2, NULL).
SELECTOR = {1: 0, 101: 1, 12: 1, 14: 1, 228: 1, 229: 1, 113: 2, 276: 3, 0: 4, 108: 4}


def packets(data):
    """Yields (link_type, bytes) for every packet of a pcap or pcapng file."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from pcapng_packets(data)
        return
    else:
        return
    link = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack(end + "I", data[off + 8 : off + 12])[0]
        yield link, data[off + 16 : off + 16 + caplen]
        off += 16 + caplen


def pcapng_packets(data):
    off = 0
    end = "<"
    ifaces = []
    while off + 12 <= len(data):
        btype = data[off : off + 4]
        if btype == b"\x0a\x0d\x0d\x0a":
            end = ">" if data[off + 8 : off + 12] == b"\x1a\x2b\x3c\x4d" else "<"
            ifaces = []
        blen = struct.unpack(end + "I", data[off + 4 : off + 8])[0]
        if blen < 12:
            return
        body = data[off + 8 : off + blen - 4]
        t = struct.unpack(end + "I", data[off : off + 4])[0]
        if t == 1:
            ifaces.append(struct.unpack(end + "H", body[:2])[0])
        elif t == 6:
            if_id, _, _, caplen, _ = struct.unpack(end + "IIIII", body[:20])
            if if_id < len(ifaces):
                yield ifaces[if_id], body[20 : 20 + caplen]
        elif t == 3 and ifaces:
            yield ifaces[0], body[4:]
        off += blen


def ip_of(link, pkt):
    """The IP packet inside a frame, or None."""
    if link == 1:
        off, et = 12, None
        while off + 2 <= len(pkt):
            et = struct.unpack(">H", pkt[off : off + 2])[0]
            if et in (0x8100, 0x88A8, 0x9100):
                off += 4
                continue
            if et == 0x8864:  # PPPoE session: 6-byte header, 2-byte PPP protocol
                proto = pkt[off + 8 : off + 10]
                return pkt[off + 10 :] if proto in (b"\x00\x21", b"\x00\x57") else None
            break
        return pkt[off + 2 :] if et in (0x0800, 0x86DD) else None
    if link in (101, 12, 14, 228, 229):
        return pkt
    if link == 113:
        return pkt[16:]
    if link == 276:
        return pkt[20:]
    if link in (0, 108):
        return pkt[4:]
    return None


def carried(ip, protocol):
    """(src address, dst address, payload) of an unfragmented IPv4 or IPv6 packet
    carrying `protocol` (no extension headers), or None."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        if ip[9] != protocol or struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
            return None
        return ip[12:16], ip[16:20], ip[ihl : max(total, ihl)]
    if v == 6 and len(ip) >= 40:
        if ip[6] != protocol:
            return None
        plen = struct.unpack(">H", ip[4:6])[0]
        return ip[8:24], ip[24:40], ip[40 : 40 + plen]
    return None


def udp_of(ip):
    """(src, dst, payload) of a UDP datagram, or None."""
    found = carried(ip, 17)
    if found is None or len(found[2]) < 8:
        return None
    src, dst, udp = found
    sport, dport = struct.unpack(">HH", udp[:4])
    return (src, sport), (dst, dport), udp[8:]


def datagram_flows(pkts):
    """UDP payloads per flow, in capture order, as (to_client, bytes); the client is
    the side that sent first."""
    flows = {}
    for link, pkt in pkts:
        d = udp_of(ip_of(link, pkt))
        if d is None:
            continue
        src, dst, payload = d
        f = flows.setdefault(tuple(sorted([src, dst])), {"client": src, "chunks": []})
        f["chunks"].append((src != f["client"], payload))
    return [f["chunks"] for f in flows.values() if f["chunks"]]


def tcp_of(ip):
    """(src, dst, flags, payload) of a TCP packet, or None (fragments ignored)."""
    found = carried(ip, 6)
    if found is None:
        return None
    src, dst, tcp = found
    if len(tcp) < 20:
        return None
    sport, dport = struct.unpack(">HH", tcp[:4])
    doff = (tcp[12] >> 4) * 4
    return (src, sport), (dst, dport), tcp[13], tcp[doff:]


def conversations(pkts):
    """TCP payloads per connection, in capture order, as (to_client, bytes)."""
    conns = {}
    for link, pkt in pkts:
        seg = tcp_of(ip_of(link, pkt))
        if seg is None:
            continue
        src, dst, flags, payload = seg
        key = tuple(sorted([src, dst]))
        c = conns.setdefault(key, {"client": None, "chunks": []})
        if c["client"] is None:
            syn, ack = flags & 2, flags & 16
            c["client"] = dst if (syn and ack) else src
        if payload:
            c["chunks"].append((src != c["client"], payload))
    return [c["chunks"] for c in conns.values() if c["chunks"]]


def framed(chunks):
    """(to_client, bytes) chunks as the conversation targets read them:
    [direction][2-byte length][bytes] (chunks of 64 KiB or more left out)."""
    return b"".join(bytes([int(d)]) + struct.pack(">H", len(p)) + p
                    for d, p in chunks if len(p) < 65536)


def write(dirname, blob):
    if not blob:
        return
    os.makedirs(dirname, exist_ok=True)
    name = hashlib.sha1(blob).hexdigest()
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(blob)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "seeds"))
    ap.add_argument("--corpus", action="append", default=[],
                    help="more capture folders to take seeds from")
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(ROOT, "captures", "*.pcap")))
    files += sorted(glob.glob(os.path.join(ROOT, "tests", "data", "formats", "*")))
    extra = []
    for d in args.corpus:
        extra += sorted(glob.glob(os.path.join(d, "*.pcap*")))
    counts = {}

    def seed(target, blob):
        """Writes one seed of `target` and counts it."""
        write(os.path.join(args.out, target), blob)
        counts[target] = counts.get(target, 0) + 1

    def keyed(target, path, blob):
        """A seed of `target`: the capture's key log (when it has one) before `blob`."""
        keylog = path[: -len(".pcap")] + ".keys"
        if path.endswith(".pcap") and os.path.exists(keylog):
            with open(keylog, "rb") as f:
                lines = f.read()[:65535]
            seed(target, struct.pack(">H", len(lines)) + lines + blob)

    for path in files + extra:
        with open(path, "rb") as f:
            raw = f.read()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        for target in ("capture_reader", "analyze"):
            seed(target, data)
        for chunk in (0, 437, 4035):
            seed("capture_stream", struct.pack("<H", chunk) + data)
        pkts = list(packets(data))
        by_link = {}
        for link, pkt in pkts:
            if link in SELECTOR:
                by_link.setdefault(link, []).append(pkt)
        for link, group in by_link.items():
            seed("packets_to_flows", bytes([SELECTOR[link]]) + b"".join(
                struct.pack(">H", len(p)) + p for p in group if len(p) < 65536))
        for chunks in conversations(pkts):
            blob = framed(chunks)
            seed("tls_conversation", blob)
            keyed("tls_keyed_conversation", path, blob)
        for chunks in datagram_flows(pkts):
            blob = framed(chunks)
            seed("quic_attempt", blob)
            keyed("quic_keyed_attempt", path, blob)
    for target, n in sorted(counts.items()):
        print(f"seeds: {target}: {n} written to {os.path.join(args.out, target)}")


if __name__ == "__main__":
    sys.exit(main())
