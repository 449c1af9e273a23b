#!/usr/bin/env python3
"""Rewrites the link layer of an Ethernet pcap recorded by record.sh, for testing how
tlswhy reads other link types and byte orders. The IP packets are kept byte for byte;
only the framing around them changes (what editcap cannot do, since it cannot add bytes).

usage: relink.py IN.pcap OUT.pcap {sll|sll2|null|be}
  sll   Linux cooked v1 (LINKTYPE_LINUX_SLL, 113): 16-byte header
  sll2  Linux cooked v2 (LINKTYPE_LINUX_SLL2, 276): 20-byte header
  null  BSD loopback (LINKTYPE_NULL, 0): 4-byte address family in host order
  be    the same Ethernet frames, written as a big-endian (swapped) pcap
"""
import struct
import sys


def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit(f"{path}: expected a little-endian pcap")
    header = data[:24]
    link = struct.unpack("<I", data[20:24])[0]
    if link != 1:
        sys.exit(f"{path}: expected Ethernet (1), found {link}")
    records, off = [], 24
    while off + 16 <= len(data):
        ts_sec, ts_frac, caplen, origlen = struct.unpack("<IIII", data[off:off + 16])
        records.append((ts_sec, ts_frac, data[off + 16:off + 16 + caplen], origlen))
        off += 16 + caplen
    return header, records


def main():
    src, dst, kind = sys.argv[1:4]
    header, records = read_pcap(src)
    magic, vmaj, vmin, zone, sigfigs, snaplen, _ = struct.unpack("<IHHiIII", header)
    out = []
    if kind == "be":
        out.append(struct.pack(">IHHiIII", magic, vmaj, vmin, zone, sigfigs, snaplen, 1))
        for ts_sec, ts_frac, frame, origlen in records:
            out.append(struct.pack(">IIII", ts_sec, ts_frac, len(frame), origlen) + frame)
    else:
        link = {"sll": 113, "sll2": 276, "null": 0}[kind]
        out.append(struct.pack("<IHHiIII", magic, vmaj, vmin, zone, sigfigs, snaplen, link))
        for ts_sec, ts_frac, frame, origlen in records:
            ethertype = struct.unpack(">H", frame[12:14])[0]
            ip = frame[14:]
            src_mac = frame[6:12]
            if kind == "sll":
                # packet type 0 (to us), ARPHRD_LOOPBACK 772, address length 6, address
                hdr = struct.pack(">HHH", 0, 772, 6) + src_mac + b"\0\0" + struct.pack(">H", ethertype)
            elif kind == "sll2":
                # protocol, reserved, interface index 1, ARPHRD 772, packet type, addr len, addr
                hdr = struct.pack(">HHIHBB", ethertype, 0, 1, 772, 0, 6) + src_mac + b"\0\0"
            else:
                family = 2 if ethertype == 0x0800 else 30
                hdr = struct.pack("<I", family)
            rec = hdr + ip
            out.append(struct.pack("<IIII", ts_sec, ts_frac, len(rec), origlen - 14 + len(hdr)) + rec)
    open(dst, "wb").write(b"".join(out))


if __name__ == "__main__":
    main()
