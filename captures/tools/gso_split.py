#!/usr/bin/env python3
"""UDP GSO super-datagrams in a capture, cut into the datagrams they stand for.

  gso_split.py CAPTURE OUT     (prints how many super-datagrams it cut)

A sender using UDP segmentation offload (UDP_SEGMENT, "GSO") hands the kernel one buffer
of several datagrams of one size (the last may be shorter); on loopback tcpdump sees that
buffer as ONE datagram, e.g. Firefox's first flight: two 1252-byte QUIC Initials in one
2512-byte UDP packet. The receiver gets two datagrams. tshark 4.0 reads such a packet as
one datagram: it reads the first Initial, takes the zeros that pad it to 1252 bytes for
the end of the datagram, and never reads the second, so a ClientHello with a CRYPTO
range only there is never whole for it.

A UDP payload is taken for a super-datagram when it opens with QUIC long-header packets
that end before the payload does, zeros follow them, and another long-header packet of
the same version starts where the zeros end: that offset is the segment size, and the
payload is cut at every multiple of it. Anything else is left as it is. Only classic
pcap files (tcpdump -w) with Ethernet or raw IP frames are cut; other files are copied
unchanged. The cut datagrams keep the packet's timestamp; their IP total length and UDP
length are set, their checksums zeroed (not checked by tshark).
"""
import shutil
import struct
import sys


def _varint(b, i):
    n = 1 << (b[i] >> 6)
    v = b[i] & 0x3F
    for j in range(1, n):
        v = (v << 8) | b[i + j]
    return v, i + n


def _long_len(p, i):
    """The length of the QUIC long-header packet at p[i:] (Initial, 0-RTT, Handshake),
    or None."""
    try:
        if p[i] & 0xC0 != 0xC0 or p[i + 1:i + 5] == b"\0\0\0\0":
            return None
        kind = (p[i] >> 4) & 3
        if kind == 3:  # Retry: no length field
            return None
        j = i + 5
        j += 1 + p[j]  # destination connection ID
        j += 1 + p[j]  # source connection ID
        if kind == 0:  # Initial: token
            n, j = _varint(p, j)
            j += n
        n, j = _varint(p, j)
        end = j + n
        return end - i if end <= len(p) else None
    except IndexError:
        return None


def segments(p):
    """The datagrams a UDP payload stands for: [p] unless it is a super-datagram."""
    i = 0
    while i < len(p):
        n = _long_len(p, i)
        if not n:
            break
        i += n
    if i == 0 or i >= len(p) or p[i] != 0:
        return [p]
    k = i
    while k < len(p) and p[k] == 0:
        k += 1
    if k >= len(p) or _long_len(p, k) is None or p[k + 1:k + 5] != p[1:5]:
        return [p]
    return [p[o:o + k] for o in range(0, len(p), k)]


def split(src, dst):
    """Writes src to dst with its super-datagrams cut; returns how many were cut."""
    with open(src, "rb") as f:
        d = f.read()
    magic = d[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        shutil.copyfile(src, dst)
        return 0
    link = struct.unpack(e + "I", d[20:24])[0] & 0xFFFF
    if link not in (1, 101, 228, 229):  # Ethernet, raw IP, raw IPv4, raw IPv6
        shutil.copyfile(src, dst)
        return 0
    out, i, cut = [d[:24]], 24, 0
    while i + 16 <= len(d):
        ts1, ts2, caplen, _ = struct.unpack(e + "IIII", d[i:i + 16])
        pkt = d[i + 16:i + 16 + caplen]
        rec = d[i:i + 16 + caplen]
        i += 16 + caplen
        l2 = 14 if link == 1 else 0
        ethertype = pkt[12:14] if link == 1 else None
        if len(pkt) < l2 + 1:
            out.append(rec)
            continue
        ver = pkt[l2] >> 4
        if ver == 4 and ethertype in (None, b"\x08\x00") and len(pkt) >= l2 + 20 and pkt[l2 + 9] == 17:
            u = l2 + (pkt[l2] & 15) * 4
        elif ver == 6 and ethertype in (None, b"\x86\xdd") and len(pkt) >= l2 + 40 and pkt[l2 + 6] == 17:
            u = l2 + 40
        else:
            out.append(rec)
            continue
        udp_len = struct.unpack(">H", pkt[u + 4:u + 6])[0] if len(pkt) >= u + 8 else 0
        payload = pkt[u + 8:]
        if udp_len != len(payload) + 8:  # cut by the snap length, or not UDP as read
            out.append(rec)
            continue
        segs = segments(payload)
        if len(segs) == 1:
            out.append(rec)
            continue
        cut += 1
        for s in segs:
            ip = bytearray(pkt[l2:u])
            if ver == 4:
                struct.pack_into(">H", ip, 2, len(ip) + 8 + len(s))
                struct.pack_into(">H", ip, 10, 0)
            else:
                struct.pack_into(">H", ip, 4, 8 + len(s))
            udp = bytearray(pkt[u:u + 8])
            struct.pack_into(">H", udp, 4, 8 + len(s))
            struct.pack_into(">H", udp, 6, 0)
            new = pkt[:l2] + bytes(ip) + bytes(udp) + s
            out.append(struct.pack(e + "IIII", ts1, ts2, len(new), len(new)) + new)
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    return cut


if __name__ == "__main__":
    print(split(sys.argv[1], sys.argv[2]))
