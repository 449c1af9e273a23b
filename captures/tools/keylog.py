#!/usr/bin/env python3
"""Write the key log of one capture from the key logs its TLS peers wrote.

  keylog.py CAPTURE OUT KEYLOG...

Each KEYLOG is a file in the NSS key log format (SSLKEYLOGFILE), as written by OpenSSL
(s_client/s_server -keylogfile, curl, Python's SSLContext.keylog_filename) or GnuTLS
(SSLKEYLOGFILE): `LABEL <client random, hex> <secret, hex>` lines. OUT gets the lines
whose client random is that of a ClientHello in CAPTURE, once each, in the order the
capture's connections start, and in each connection in the order of the TLS 1.3 key
schedule (CLIENT_RANDOM for TLS 1.2), after a one-line comment. A client and a server
that both log a secret must agree on it. Every ClientHello of the capture must have
its keys (fails loudly, exit 1, otherwise).

  keylog.py --quic PORTS CAPTURE OUT KEYLOG...

QUIC captures (PORTS: the servers' UDP ports, comma-separated, decoded as QUIC): the
ClientHellos are read from the clients' Initial packets. The KEYLOGs hold the secrets of
that capture's clients only, and OUT gets all of them: first those of the ClientHellos
tshark reads, in connection order, then, after a comment, the secrets of ClientHellos it
does not read (aioquic starts a fresh ClientHello after a Retry and sends it at CRYPTO
offset 0 again, which tshark takes for a retransmission of the first). A ClientHello
without keys is fine (no ServerHello, no secrets); whether the keys open the handshakes
is checked by expected.py.
"""
import collections
import os
import subprocess
import sys
import tempfile

import gso_split

ORDER = ["CLIENT_EARLY_TRAFFIC_SECRET", "EARLY_EXPORTER_SECRET",
         "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
         "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
         "CLIENT_RANDOM"]


def tshark(pcap, args):
    cmd = ["tshark", "-n", "-r", pcap, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"] + args
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def hello_randoms(pcap, decode, conn_field):
    """The ClientHello randoms of the capture by their connection (`conn_field`), in
    order of appearance."""
    randoms = collections.OrderedDict()
    out = tshark(pcap, decode + ["-Y", "tls.handshake.type == 1", "-e", conn_field,
                                 "-e", "tls.handshake.type", "-e", "tls.handshake.random"])
    for line in out.splitlines():
        conn, types, rnds = line.split("\t")
        for t, r in zip(types.split(","), rnds.split(",")):
            if t == "1":
                randoms.setdefault(r.replace(":", "").lower(), conn)
    return randoms


def client_randoms(pcap):
    """The ClientHello randoms of the capture, in the order of its connections."""
    ports = set()
    for line in tshark(pcap, ["-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                              "-e", "tcp.dstport"]).splitlines():
        ports.add(line.strip())
    decode = []
    for p in sorted(ports):
        decode += ["-d", f"tcp.port=={p},tls"]
    return hello_randoms(pcap, decode, "tcp.stream")


def quic_client_randoms(pcap, ports):
    """The ClientHello randoms in the QUIC Initials of the capture, in order, read from a
    copy with its UDP GSO super-datagrams cut apart (tools/gso_split.py: tshark reads
    only the first segment of one)."""
    decode = []
    for p in ports:
        decode += ["-d", f"udp.port=={p},quic"]
    with tempfile.TemporaryDirectory() as tmp:
        cut = os.path.join(tmp, "cut.pcap")
        if gso_split.split(pcap, cut) == 0:
            cut = pcap
        return hello_randoms(cut, decode, "quic.connection.number")


def main():
    quic = sys.argv[1] == "--quic"
    if quic:
        ports = sys.argv[2].split(",")
        del sys.argv[1:3]
    pcap, out_path, logs = sys.argv[1], sys.argv[2], sys.argv[3:]
    secrets = {}  # (client random, label) -> secret
    for path in logs:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split()
                if len(parts) != 3:
                    sys.exit(f"{path}:{n}: not a key log line: {line!r}")
                label, rnd, secret = parts[0], parts[1].lower(), parts[2].lower()
                old = secrets.setdefault((rnd, label), secret)
                if old != secret:
                    sys.exit(f"{path}:{n}: {label} for {rnd} differs from another log's")
    lines, missing = [], []
    if quic:
        seen = quic_client_randoms(pcap, ports)
        unseen = [r for r in dict.fromkeys(r for r, _ in secrets) if r not in seen]
        for rnd in list(seen) + [None] + unseen:
            if rnd is None:
                if unseen:
                    lines.append("# secrets of ClientHellos that tshark does not read "
                                 "(a client's new ClientHello after a Retry)")
                continue
            labels = [lb for (r, lb) in secrets if r == rnd]
            labels.sort(key=lambda lb: (ORDER.index(lb) if lb in ORDER else len(ORDER), lb))
            lines += [f"{lb} {rnd} {secrets[(rnd, lb)]}" for lb in labels]
        if not any(not ln.startswith("#") for ln in lines):
            sys.exit(f"{pcap}: no keys")
        write(pcap, out_path, lines)
        return
    for rnd, stream in client_randoms(pcap).items():
        labels = [lb for (r, lb) in secrets if r == rnd]
        if not labels:
            missing.append(f"tcp.stream {stream} (client random {rnd})")
        labels.sort(key=lambda lb: (ORDER.index(lb) if lb in ORDER else len(ORDER), lb))
        lines += [f"{lb} {rnd} {secrets[(rnd, lb)]}" for lb in labels]
    if missing:
        sys.exit(f"{pcap}: no keys for " + ", ".join(missing))
    write(pcap, out_path, lines)


def write(pcap, out_path, lines):
    with open(out_path, "w") as f:
        f.write(f"# NSS key log for {os.path.basename(pcap)}: throwaway keys of a "
                "recorded test capture (captures/record.sh)\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
