#!/usr/bin/env python3
"""Write captures/expected.json from the scenario definitions of record.sh and verify
every capture against them with tshark.

  expected.py SPEC.tsv CAPDIR ORDER [QUIC_SPEC.tsv]

SPEC.tsv has one line per handshake attempt, in the order their TCP connections start:
  file <TAB> server ip:port <TAB> code <TAB> sni or "-" <TAB> alert or "-" <TAB> note
  [<TAB> code with keys or "-" [<TAB> decrypted alerts or "-"]]
The code "not_tls" marks a TCP connection that is not a handshake attempt (another
protocol on a TLS port): it is verified as a connection and listed under "not_attempts".
alert lists, in order, every plaintext (readable) alert of that connection as side:number,
e.g. "server:40" or "client:50,server:40"; "-" for none. Encrypted alerts are not listed.
An alert is fatal unless written side:warning:number (e.g. "client:warning:90"). A trailing
"?" marks an alert that a race between the peers may leave out of the capture (e.g. a
server's answer to the client's alert, lost when the client resets at once); expected.json
then lists the alerts this capture holds.

A capture whose lines have the 7th column is keyed: record.sh wrote its key log NAME.keys
(NSS key log format) and its twin NAME.dsb.pcapng (the same packets, the key log in a
Decryption Secrets Block). The handshake gets "code_with_keys" (the 7th column; "-" means
the same code) and "decrypted_alerts": every alert tshark reads with the keys, plaintext
and decrypted ones, in order, each marked "encrypted" or not. The 8th column, written
like the alerts, lists them (a "?" one may be missing); without it they are recorded as
tshark reads them. The twin is a capture entry of its own, right after its pcap, whose
"code" is the code with keys.

ORDER is the comma-separated canonical list of capture files. Entries of expected.json
for files not in SPEC.tsv are kept as they were (so a partial re-run keeps the rest).

Verification, per capture in SPEC.tsv (fails loudly, exit 1):
  - the TCP connections (tshark tcp.stream and VXLAN VNI, in order of first packet, by
    their innermost addresses, at most MAX_TUNNELS tunnels deep) are exactly the
    listed ones, with the listed servers, in the listed order;
  - the SNI in each connection's ClientHello is the listed one (or there is none);
  - the plaintext alerts of each connection are exactly the listed ones (a "?" one may be
    missing), with their levels;
  - keyed captures, read by tshark with `-o tls.keylog_file:NAME.keys` (the twin: with
    its Decryption Secrets Block only): every connection with a ServerHello has its
    handshake decrypted (TLS 1.3: the server's EncryptedExtensions (8) and Finished (20);
    TLS 1.2: the server's Finished), and the alerts read with the keys are the listed
    decrypted alerts. The twin must read exactly as its pcap does with the key log.

QUIC (QUIC_SPEC.tsv, written by record.sh's expect_quic). QUIC attempts are not TCP
connections, so they have a spec and a check of their own, and go under the "quic" key of
their capture's entry (next to "handshakes", which lists the capture's TCP attempts as
above; a capture with QUIC attempts only has "handshakes": [] and must hold no TCP
connection). One line per attempt, in the order their UDP flows start:
  file <TAB> client ("-", ip or ip:port) <TAB> server ip:port <TAB> code <TAB> sni or "-"
  <TAB> note <TAB> versions <TAB> alpn <TAB> events <TAB> close [<TAB> code with keys]
An attempt is one UDP flow: the client's address and port with the server's (a client
that starts over from another port makes a new attempt; one that goes on with the same
connection from another address or port, as after a NAT rebinding, stays in its attempt:
tshark gives those datagrams the connection's number), plus the ICMP errors that quote
it. tshark reads the capture with its QUIC dissector (`-d udp.port==PORT,quic` for
every listed server port; Initial packets are decrypted without keys; UDP GSO
super-datagrams, several datagrams that tcpdump saw as one, cut apart first by
tools/gso_split.py, as tshark reads only the first of them) and, for a keyed
capture (the lines have the 11th column; record.sh wrote NAME.keys), once more with
`-o tls.keylog_file:NAME.keys`. Verified, per attempt (fails loudly, exit 1):
  - the UDP flows are exactly the listed ones, with those servers (and clients), in order;
  - versions: every QUIC version in the flow's long headers, in order of appearance
    (Version Negotiation's 0 aside), e.g. "0x00000001" or "0x6b3343cf" (a version
    reserved for greasing, 0x?a?a?a?a, is written so, here and in "vn=");
  - sni: the server_name of the client's ClientHello (in its Initial);
  - alpn: "OFFERED/SELECTED": the ClientHello's ALPN list (comma-separated, "-" for none),
    and the protocol of the server's EncryptedExtensions, which only the keys reveal
    ("-": none, or not readable);
  - events: comma-separated, each present if and only if it is listed: "retry" (a Retry
    from the server), "vn=V1+V2..." (a Version Negotiation listing those versions),
    "icmp" (ICMP port unreachable quoting the flow), "undecrypted" (keyed captures: the
    server's EncryptedExtensions stays unreadable even with the keys; without it every
    attempt with a ServerHello must decrypt), "stateless_reset" (a server datagram that
    tshark reads as a Stateless Reset: only with the keys, which hold the server's
    stateless_reset_token). "-" for none;
  - close: every CONNECTION_CLOSE of the flow, read with the keys when there are keys, as
    SIDE:FRAME:ERROR:TRIGGER:SPACES, e.g. "server:0x1c:0x178:0x6:I" (0x1c transport or
    crypto error, 0x1d application error; TRIGGER is the frame type that caused it, "-"
    for 0x1d; SPACES the packet types that carry it, I Initial, H Handshake, 1 1-RTT,
    joined by "+"); the same close sent in several packet spaces counts once. Several
    closes are joined by ","; "-" for none.
expected.json gets, per attempt: client (as listed, null for "-"), server, code
(code_with_keys for keyed captures, "-" in the spec meaning the same), sni, version (the
version the server answered in, null if it never did), versions, alpn {offered,
selected}, retry, version_negotiation (the versions listed, or null), connection_close
(the first one: from, frame, error_code, error (name), tls_alert {description, name}
for a crypto error 0x100-0x1ff, frame_type, reason, packets (the packet types that carry
it), encrypted (only the keys reveal it); null for none), icmp_port_unreachable,
decrypted (keyed captures: the server's EncryptedExtensions read with the keys) and note;
only where they apply: later_connection_closes, stateless_reset (true) and client_paths
(the number of client addresses and ports the attempt used, when more than one).
The capture's entry names its key log in "quic_keylog" (not "keylog", which means a TLS
key log with a twin).
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

import gso_split

ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
    22: "record_overflow", 40: "handshake_failure", 42: "bad_certificate",
    43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
    49: "access_denied", 50: "decode_error", 51: "decrypt_error",
    70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
    110: "unsupported_extension", 112: "unrecognized_name",
    116: "certificate_required", 120: "no_application_protocol",
}

FIELDS = ["frame.number", "tcp.stream", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.ack", "tls.handshake.type",
          "tls.handshake.extensions_server_name", "tls.alert_message.level",
          "tls.alert_message.desc", "ipv6.src", "ipv6.dst", "frame.protocols", "vxlan.vni"]

# Tunnels tlswhy decodes around a packet at most (decode::MAX_TUNNELS): connections
# nested deeper are not attempts it reports (the capture's warning counts them).
MAX_TUNNELS = 4


def innermost(v):
    """Puts the innermost IP addresses of a (possibly tunnelled) packet in ip.src and
    ip.dst (IPv6 in brackets); False when it is nested deeper than MAX_TUNNELS."""
    layers = [p for p in v["frame.protocols"].split(":") if p in ("ip", "ipv6")]
    if len(layers) - 1 > MAX_TUNNELS:
        return False
    if layers and layers[-1] == "ipv6":
        v["ip.src"] = "[" + v["ipv6.src"].split(",")[-1] + "]"
        v["ip.dst"] = "[" + v["ipv6.dst"].split(",")[-1] + "]"
    else:
        v["ip.src"] = v["ip.src"].split(",")[-1]
        v["ip.dst"] = v["ip.dst"].split(",")[-1]
    return True


def spec_rows(path, widths):
    """The tab-separated rows of a spec file, blank lines skipped; a row of another
    width than `widths` is an error."""
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) not in widths:
                raise SystemExit(f"{path}: {len(cols)} columns in {line!r}")
            yield cols


def check_keyed_alike(path, spec, what):
    """Either every line of a capture has a code with keys, or none has."""
    for fname, entries in spec.items():
        if len({"code_with_keys" in e for e in entries}) != 1:
            raise SystemExit(f"{path}: {fname}: some {what} have a code with keys, some not")


def read_spec(path):
    spec = collections.OrderedDict()
    for cols in spec_rows(path, (6, 7, 8)):
        fname, server, code, sni, alert, note = cols[:6]
        h = {"server": server, "code": code}
        if len(cols) > 6:
            h["code_with_keys"] = code if cols[6] == "-" else cols[6]
        h["sni"] = None if sni == "-" else sni
        h["alerts"] = parse_alerts(path, alert)
        if len(cols) > 6:  # filled in from tshark when the 8th column is not given
            h["decrypted_alerts"] = parse_alerts(path, cols[7]) if len(cols) > 7 else None
        h["note"] = note
        spec.setdefault(fname, []).append(h)
    check_keyed_alike(path, spec, "lines")
    return spec


def parse_alerts(path, alert):
    alerts = []
    for a in ([] if alert == "-" else alert.split(",")):
        optional = a.endswith("?")
        parts = a.rstrip("?").split(":")
        side, level, desc = (parts[0], "fatal", parts[1]) if len(parts) == 2 else parts
        if level not in ("fatal", "warning"):
            raise SystemExit(f"{path}: bad alert level in {a!r}")
        entry = {"from": side, "level": level, "description": int(desc),
                 "name": ALERTS.get(int(desc), "unknown")}
        if optional:
            entry["optional"] = True
        alerts.append(entry)
    return alerts


def keyed(hs):
    return "code_with_keys" in hs[0]


def twin_of(fname):
    """keys_tls13.pcap -> keys_tls13.dsb.pcapng"""
    return fname[:-len(".pcap")] + ".dsb.pcapng"


def as_bool(v):
    return v in ("1", "True", "true")


def streams(pcap, ports, keylog=None, fields=FIELDS):
    """The capture's TCP connections in order, each {"packets": [{field: value}], "server"}.
    keylog: None (tshark as it is), "" (only the capture's own Decryption Secrets Block)
    or a key log file."""
    cmd = ["tshark", "-n", "-r", pcap, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    if keylog is not None:
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    for p in sorted(ports):
        cmd += ["-d", f"tcp.port=={p},tls"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    conns = collections.OrderedDict()
    for line in out.splitlines():
        v = dict(zip(fields, line.split("\t")))
        if v["tcp.stream"] == "" or not innermost(v):
            continue
        # Two tenants of VXLAN may reuse one 5-tuple, which tshark takes for one stream:
        # in VXLAN, a connection is its VNIs and its two endpoints.
        key = v["tcp.stream"]
        if v["vxlan.vni"]:
            ends = sorted([(v["ip.src"], v["tcp.srcport"]), (v["ip.dst"], v["tcp.dstport"])])
            key = (v["vxlan.vni"], tuple(ends))
        c = conns.setdefault(key, {"packets": [], "server": None})
        c["packets"].append(v)
        src = f'{v["ip.src"]}:{v["tcp.srcport"]}'
        dst = f'{v["ip.dst"]}:{v["tcp.dstport"]}'
        if c["server"] is None and as_bool(v["tcp.flags.syn"]):
            c["server"] = src if as_bool(v["tcp.flags.ack"]) else dst
    for c in conns.values():
        if c["server"] is None:  # no handshake seen: the lower port is the server's
            v = c["packets"][0]
            a = (v["ip.src"], int(v["tcp.srcport"]))
            b = (v["ip.dst"], int(v["tcp.dstport"]))
            s = a if a[1] < b[1] else b
            c["server"] = f"{s[0]}:{s[1]}"
    return list(conns.values())


def verify(capdir, fname, hs):
    errors = []
    path = os.path.join(capdir, fname)
    if not os.path.exists(path):
        return [f"{fname}: missing"]
    ports = {h["server"].rsplit(":", 1)[1] for h in hs}
    conns = streams(path, ports)
    got = [c["server"] for c in conns]
    want = [h["server"] for h in hs]
    if got != want:
        return [f"{fname}: TCP connections {got}, expected {want}"]
    for i, (c, h) in enumerate(zip(conns, hs)):
        snis = set()
        for p in c["packets"]:
            dst = f'{p["ip.dst"]}:{p["tcp.dstport"]}'
            types = p["tls.handshake.type"].split(",") if p["tls.handshake.type"] else []
            if dst == c["server"] and "1" in types and p["tls.handshake.extensions_server_name"]:
                snis.add(p["tls.handshake.extensions_server_name"])
        want_sni = {h["sni"]} if h["sni"] else set()
        if snis != want_sni:
            errors.append(f"{fname} #{i + 1}: SNI {sorted(snis)}, expected {sorted(want_sni)}")
        seen = [a[1:] for a in alerts_of(c)]
        want = [(a["from"], a["level"], a["description"]) for a in h["alerts"]]
        kept = matching(seen, h["alerts"])
        if kept is None:
            errors.append(f"{fname} #{i + 1}: plaintext alerts {seen}, expected {want}")
        else:
            h["alerts"] = kept
    return errors


def alerts_of(c):
    """The alerts tshark reads in a connection: (frame, side, level, description)."""
    seen = []
    for p in c["packets"]:
        src = f'{p["ip.src"]}:{p["tcp.srcport"]}'
        side = "server" if src == c["server"] else "client"
        descs = p["tls.alert_message.desc"].split(",") if p["tls.alert_message.desc"] else []
        levels = p["tls.alert_message.level"].split(",") if p["tls.alert_message.level"] else []
        for d, lv in zip(descs, levels):
            seen.append((p["frame.number"], side, "fatal" if lv == "2" else "warning", int(d)))
    return seen


KEY_FIELDS = FIELDS + ["tls.handshake.extensions.supported_version"]


def verify_keys(capdir, fname, hs, keylog, pcap):
    """Checks the keyed capture fname read with its keys (keylog: a key log file, or ""
    for the capture's own Decryption Secrets Block); pcap is the capture without keys
    whose packets fname holds (itself, or the pcap of a twin). Returns (errors, the
    alerts read with the keys, per handshake, and the frames of each connection)."""
    path = os.path.join(capdir, fname)
    if not os.path.exists(path):
        return [f"{fname}: missing"], None, None
    ports = {h["server"].rsplit(":", 1)[1] for h in hs}
    plain = streams(os.path.join(capdir, pcap), ports, keylog="")
    keyed_conns = streams(path, ports, keylog=keylog, fields=KEY_FIELDS)
    got = [c["server"] for c in keyed_conns]
    if got != [h["server"] for h in hs] or len(plain) != len(hs):
        return [f"{fname}: TCP connections {got} with keys, expected {[h['server'] for h in hs]}"], None, None
    errors, result = [], []
    for i, (c0, c, h) in enumerate(zip(plain, keyed_conns, hs)):
        where = f"{fname} #{i + 1} (with keys)"
        server_types, version = [], None
        for p in c["packets"]:
            if f'{p["ip.src"]}:{p["tcp.srcport"]}' != c["server"]:
                continue
            types = p["tls.handshake.type"].split(",") if p["tls.handshake.type"] else []
            server_types += types
            if "2" in types:
                sv = p["tls.handshake.extensions.supported_version"]
                version = "1.3" if sv and "0x0304" in sv else (version or "1.2")
        if version == "1.3" and not {"8", "20"} <= set(server_types):
            errors.append(f"{where}: TLS 1.3 handshake not decrypted "
                          f"(server handshake types {server_types})")
        if version == "1.2" and "20" not in server_types:
            errors.append(f"{where}: TLS 1.2 Finished not decrypted "
                          f"(server handshake types {server_types})")
        plaintext = collections.Counter(alerts_of(c0))
        decrypted = []
        for frame, side, level, desc in alerts_of(c):
            encrypted = plaintext[(frame, side, level, desc)] == 0
            if not encrypted:
                plaintext[(frame, side, level, desc)] -= 1
            decrypted.append({"from": side, "level": level, "description": desc,
                              "name": ALERTS.get(desc, "unknown"), "encrypted": encrypted})
        if h.get("decrypted_alerts") is not None:
            want = h["decrypted_alerts"]
            kept = matching([(a["from"], a["level"], a["description"]) for a in decrypted], want)
            if kept is None:
                errors.append(f"{where}: alerts {[(a['from'], a['level'], a['description']) for a in decrypted]}, "
                              f"expected {[(a['from'], a['level'], a['description']) for a in want]}")
        result.append(decrypted)
    frames = [[p["frame.number"] for p in c["packets"]] for c in keyed_conns]
    return errors, result, frames


def matching(seen, alerts):
    """The listed alerts that are in the capture, if the capture holds exactly the listed
    ones (in order) less some optional ones; None otherwise."""
    if not alerts:
        return [] if not seen else None
    a, rest = alerts[0], alerts[1:]
    key = (a["from"], a["level"], a["description"])
    if seen and seen[0] == key:
        kept = matching(seen[1:], rest)
        if kept is not None:
            return [{k: v for k, v in a.items() if k != "optional"}] + kept
    if a.get("optional"):
        return matching(seen, rest)
    return None


# ---------------------------------------------------------------- QUIC ------------------
QUIC_ERRORS = {
    0x0: "NO_ERROR", 0x1: "INTERNAL_ERROR", 0x2: "CONNECTION_REFUSED",
    0x3: "FLOW_CONTROL_ERROR", 0x4: "STREAM_LIMIT_ERROR", 0x5: "STREAM_STATE_ERROR",
    0x6: "FINAL_SIZE_ERROR", 0x7: "FRAME_ENCODING_ERROR", 0x8: "TRANSPORT_PARAMETER_ERROR",
    0x9: "CONNECTION_ID_LIMIT_ERROR", 0xa: "PROTOCOL_VIOLATION", 0xb: "INVALID_TOKEN",
    0xc: "APPLICATION_ERROR", 0xd: "CRYPTO_BUFFER_EXCEEDED", 0xe: "KEY_UPDATE_ERROR",
    0xf: "AEAD_LIMIT_REACHED", 0x10: "NO_VIABLE_PATH", 0x11: "VERSION_NEGOTIATION_ERROR",
}
H3_ERRORS = {0x100: "H3_NO_ERROR", 0x101: "H3_GENERAL_PROTOCOL_ERROR",
             0x102: "H3_INTERNAL_ERROR", 0x10c: "H3_REQUEST_CANCELLED"}
# long header packet types, by version (RFC 9000 17.2, RFC 9369 3.2)
LONG_TYPES = {"v1": {"0": "Initial", "1": "0-RTT", "2": "Handshake", "3": "Retry"},
              "v2": {"1": "Initial", "2": "0-RTT", "3": "Handshake", "0": "Retry"}}
SPACE_ABBREV = {"Initial": "I", "0-RTT": "0", "Handshake": "H", "1-RTT": "1"}
CC_FRAMES = {"28": 0x1c, "29": 0x1d}


def read_quic_spec(path):
    spec = collections.OrderedDict()
    for cols in spec_rows(path, (10, 11)):
        fname, client, server, code, sni, note, versions, alpn, events, close = cols[:10]
        offered, _, selected = alpn.partition("/")
        a = {"client": None if client == "-" else client, "server": server, "code": code,
             "sni": None if sni == "-" else sni, "note": note,
             "want": {"versions": [] if versions == "-" else versions.split(","),
                      "offered": [] if offered == "-" else offered.split(","),
                      "selected": None if selected in ("", "-") else selected,
                      "events": set() if events == "-" else set(events.split(",")),
                      "close": [] if close == "-" else close.split(",")}}
        if len(cols) > 10:
            a["code_with_keys"] = code if cols[10] == "-" else cols[10]
        spec.setdefault(fname, []).append(a)
    check_keyed_alike(path, spec, "QUIC lines")
    return spec


def find(node, key):
    """Every value of `key` anywhere under a tshark JSON node (--no-duplicate-keys turns
    repeated keys into lists), in document order."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                out += v if isinstance(v, list) else [v]
            else:
                out += find(v, key)
    elif isinstance(node, list):
        for v in node:
            out += find(v, key)
    return out


def as_list(v):
    return v if isinstance(v, list) else ([] if v is None else [v])


def reserved(v):
    """Versions reserved for greasing (RFC 9000 15: 0x?a?a?a?a), which servers pick at
    random for their Version Negotiation, are written as that pattern."""
    return "0x?a?a?a?a" if int(v, 16) & 0x0f0f0f0f == 0x0a0a0a0a else v


def quic_packets(layer):
    """The QUIC packets of one datagram: [{type, version, vn, frames, handshake, sni,
    alpn}]."""
    out = []
    for q in as_list(layer):
        if not isinstance(q, dict) or ("quic.header_form" not in q and "quic.short" not in q):
            continue  # not a packet (padding, or bytes tshark cannot place)
        version = q.get("quic.version")
        if q.get("quic.header_form") == "1":
            if version == "0x00000000":
                ptype = "Version Negotiation"
            elif "quic.long.packet_type_v2" in q:
                ptype = LONG_TYPES["v2"].get(q["quic.long.packet_type_v2"], "?")
            else:
                ptype = LONG_TYPES["v1"].get(q.get("quic.long.packet_type"), "?")
        else:
            ptype = "1-RTT"
        frames = []
        for fr in find(q, "quic.frame"):
            for f in as_list(fr):
                t = f.get("quic.frame_type") if isinstance(f, dict) else None
                if t in CC_FRAMES:
                    code = f.get("quic.cc.error_code", f.get("quic.cc.error_code.app"))
                    alert = f.get("quic.cc.error_code.tls_alert")
                    frames.append({
                        "frame": CC_FRAMES[t], "error_code": int(code),
                        "tls_alert": None if alert is None else int(alert),
                        "frame_type": None if t == "29" else int(f.get("quic.cc.frame_type", "0")),
                        "reason": f.get("quic.cc.reason_phrase", "")})
        out.append({"type": ptype, "version": version,
                    "vn": [reserved(v) for v in find(q, "quic.supported_version")]
                    if ptype == "Version Negotiation" else None,
                    "closes": frames,
                    "reset": bool(find(q, "quic.stateless_reset_token")),
                    "handshake": find(q, "tls.handshake.type"),
                    "sni": find(q, "tls.handshake.extensions_server_name"),
                    "alpn": find(q, "tls.handshake.extensions_alpn_str")})
    return out


def endpoint(layers, ip_key="ip", udp=None):
    udp = udp if udp is not None else layers.get("udp", {})
    ip = layers.get("ipv6") or layers.get("ip") or {}
    if "ipv6.src" in ip:
        return (f'[{ip["ipv6.src"]}]:{udp.get("udp.srcport")}', f'[{ip["ipv6.dst"]}]:{udp.get("udp.dstport")}')
    return (f'{ip.get("ip.src")}:{udp.get("udp.srcport")}', f'{ip.get("ip.dst")}:{udp.get("udp.dstport")}')


def quic_flows(pcap, servers, keylog):
    """The capture's UDP flows to the listed servers, in order of their first packet:
    [{"client", "server", "packets": [{"frame", "from", "quic": [...]}], "icmp": n}].
    keylog: "" for none, or a key log file. Errors for UDP or ICMP that is not theirs."""
    # tshark reads a UDP GSO super-datagram (several datagrams that tcpdump saw as one,
    # e.g. Firefox's first flight on loopback) as one datagram and misses all but its
    # first segment: it reads a copy with them cut apart (tools/gso_split.py), where
    # frame numbers may differ from the capture's (they only name frames in errors).
    with tempfile.TemporaryDirectory() as tmp:
        cut = os.path.join(tmp, "cut.pcap")
        if gso_split.split(pcap, cut) == 0:
            cut = pcap
        cmd = ["tshark", "-n", "-r", cut, "-o", f"tls.keylog_file:{keylog}", "-T", "json",
               "--no-duplicate-keys", "-J", "frame ip ipv6 udp icmp icmpv6 quic"]
        for p in sorted({s.rsplit(":", 1)[1] for s in servers}):
            cmd += ["-d", f"udp.port=={p},quic"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    flows, errors = collections.OrderedDict(), []
    moved = {}  # a client's later address and port -> the flow it started from
    for pkt in json.loads(out or "[]"):
        layers = pkt["_source"]["layers"]
        frame = layers["frame"]["frame.number"]
        icmp = layers.get("icmp") or layers.get("icmpv6")
        if icmp is not None:
            if (icmp.get("icmp.type"), icmp.get("icmp.code")) != ("3", "3") or "udp" not in icmp:
                errors.append(f"frame {frame}: ICMP that is not a port unreachable for UDP")
                continue
            src, dst = endpoint(icmp, udp=icmp["udp"])  # the quoted datagram
            if dst not in servers:
                errors.append(f"frame {frame}: ICMP about {src} -> {dst}, not a listed server")
                continue
            f = flows.setdefault(moved.get((src, dst), (src, dst)),
                                 {"client": src, "server": dst, "packets": [], "icmp": 0,
                                  "conns": set(), "paths": [src]})
            f["icmp"] += 1
            continue
        if "udp" not in layers:
            continue  # TCP: verified with the handshakes
        src, dst = endpoint(layers)
        if dst in servers:
            key, side = (src, dst), "client"
        elif src in servers:
            key, side = (dst, src), "server"
        else:
            errors.append(f"frame {frame}: UDP {src} -> {dst}, not to or from a listed server")
            continue
        # A client that goes on from another address or port (NAT rebinding, migration)
        # keeps its connection: tshark knows its connection IDs and gives the datagram
        # the connection's number, so it stays in that flow (one attempt, several paths).
        conns = {n for q in as_list(layers.get("quic")) if isinstance(q, dict)
                 for n in find(q, "quic.connection.number")}
        key = moved.get(key, key)
        if key not in flows:
            old = next((k for k, g in flows.items() if k[1] == key[1] and conns & g["conns"]), None)
            if old is not None:
                moved[key] = old
                flows[old]["paths"].append(key[0])
                key = old
        f = flows.setdefault(key, {"client": key[0], "server": key[1], "packets": [], "icmp": 0,
                                   "conns": set(), "paths": [key[0]]})
        f["conns"] |= conns
        f["packets"].append({"frame": frame, "from": side, "quic": quic_packets(layers.get("quic"))})
    return list(flows.values()), errors


def quic_facts(flow):
    versions, version, vn, retry = [], None, None, False
    sni, offered, selected, decrypted = set(), [], None, False
    closes = []  # [(key, packet types)]
    for p in flow["packets"]:
        for q in p["quic"]:
            if q["version"] and q["version"] != "0x00000000" and reserved(q["version"]) not in versions:
                versions.append(reserved(q["version"]))
            if q["type"] == "Version Negotiation" and p["from"] == "server":
                vn = q["vn"]
            if q["type"] == "Retry" and p["from"] == "server":
                retry = True
            if p["from"] == "server" and q["type"] in ("Initial", "Handshake") and q["version"]:
                version = q["version"]
            if p["from"] == "client" and "1" in q["handshake"]:
                sni.update(q["sni"])
                if not offered:
                    offered = q["alpn"]
            if p["from"] == "server" and "8" in q["handshake"]:
                decrypted = True
                selected = q["alpn"][0] if q["alpn"] else None
            for c in q["closes"]:
                key = (p["from"], c["frame"], c["error_code"], c["frame_type"], c["tls_alert"], c["reason"])
                for k, spaces in closes:
                    if k == key:
                        if q["type"] not in spaces:
                            spaces.append(q["type"])
                        break
                else:
                    closes.append((key, [q["type"]]))
    return {"versions": versions, "version": version, "vn": vn, "retry": retry,
            "sni": sni, "offered": offered, "selected": selected, "decrypted": decrypted,
            "closes": closes, "icmp": flow["icmp"] > 0, "paths": len(flow["paths"]),
            "reset": any(q["reset"] for p in flow["packets"] if p["from"] == "server"
                         for q in p["quic"]),
            "server_hello": any("2" in q["handshake"] for p in flow["packets"]
                                if p["from"] == "server" for q in p["quic"])}


def close_str(key, spaces):
    side, frame, code, trigger, _, _ = key
    return (f"{side}:0x{frame:x}:0x{code:x}:{'-' if trigger is None else f'0x{trigger:x}'}:"
            + "+".join(SPACE_ABBREV.get(s, s) for s in spaces))


def close_json(key, spaces, encrypted):
    side, frame, code, trigger, alert, reason = key
    if frame == 0x1d:
        name = H3_ERRORS.get(code, "application error")
    elif 0x100 <= code <= 0x1ff:
        name = f"CRYPTO_ERROR ({ALERTS.get(code - 0x100, 'unknown')})"
    else:
        name = QUIC_ERRORS.get(code, "unknown")
    c = {"from": side, "frame": frame, "error_code": code, "error": name}
    if frame == 0x1c and 0x100 <= code <= 0x1ff:
        c["tls_alert"] = {"description": code - 0x100, "name": ALERTS.get(code - 0x100, "unknown")}
    c.update({"frame_type": trigger, "reason": reason, "packets": spaces, "encrypted": encrypted})
    return c


def verify_quic(capdir, fname, qs):
    """Checks a capture's QUIC attempts; returns (errors, the attempts for expected.json)."""
    path = os.path.join(capdir, fname)
    if not os.path.exists(path):
        return [f"{fname}: missing"], []
    servers = {a["server"] for a in qs}
    keys = "code_with_keys" in qs[0]
    keylog = os.path.join(capdir, fname[:-len(".pcap")] + ".keys") if keys else ""
    if keys and not os.path.exists(keylog):
        return [f"{fname}: its key log {os.path.basename(keylog)} is missing"], []
    plain, errors = quic_flows(path, servers, "")
    read = plain
    if keys:
        read, kerr = quic_flows(path, servers, keylog)
        errors += kerr
    got = [(f["client"], f["server"]) for f in read]
    if [s for _, s in got] != [a["server"] for a in qs] or len(plain) != len(read):
        return errors + [f"{fname}: UDP flows {got}, expected to {[a['server'] for a in qs]}"], []
    result = []
    for i, (f0, f, a) in enumerate(zip(plain, read, qs)):
        where = f"{fname} QUIC #{i + 1}"
        want, facts, facts0 = a["want"], quic_facts(f), quic_facts(f0)
        if a["client"] and f["client"] != a["client"] and f["client"].rsplit(":", 1)[0] != a["client"]:
            errors.append(f"{where}: client {f['client']}, expected {a['client']}")
        if facts["versions"] != want["versions"]:
            errors.append(f"{where}: versions {facts['versions']}, expected {want['versions']}")
        if facts["sni"] != ({a["sni"]} if a["sni"] else set()):
            errors.append(f"{where}: SNI {sorted(facts['sni'])}, expected {a['sni']}")
        if facts["offered"] != want["offered"] or facts["selected"] != want["selected"]:
            errors.append(f"{where}: ALPN offered {facts['offered']} selected {facts['selected']}, "
                          f"expected {want['offered']} / {want['selected']}")
        events = set()
        if facts["retry"]:
            events.add("retry")
        if facts["vn"] is not None:
            events.add("vn=" + "+".join(facts["vn"]))
        if facts["icmp"]:
            events.add("icmp")
        if keys and facts["server_hello"] and not facts["decrypted"]:
            events.add("undecrypted")
        if facts["reset"]:
            events.add("stateless_reset")
        if events != want["events"]:
            errors.append(f"{where}: events {sorted(events)}, expected {sorted(want['events'])}")
        closes = [close_str(k, s) for k, s in facts["closes"]]
        if closes != want["close"]:
            errors.append(f"{where}: CONNECTION_CLOSE {closes}, expected {want['close']}")
        plain_keys = {k for k, _ in facts0["closes"]}
        cc = [close_json(k, s, k not in plain_keys) for k, s in facts["closes"]]
        entry = {"client": a["client"], "server": a["server"], "code": a["code"]}
        if keys:
            entry["code_with_keys"] = a["code_with_keys"]
        entry.update({
            "sni": a["sni"], "version": facts["version"], "versions": facts["versions"],
            "alpn": {"offered": facts["offered"], "selected": facts["selected"]},
            "retry": facts["retry"], "version_negotiation": facts["vn"],
            "connection_close": cc[0] if cc else None,
            "icmp_port_unreachable": facts["icmp"]})
        if len(cc) > 1:
            entry["later_connection_closes"] = cc[1:]
        if facts["reset"]:
            entry["stateless_reset"] = True
        if facts["paths"] > 1:
            entry["client_paths"] = facts["paths"]
        if keys:
            entry["decrypted"] = facts["decrypted"]
        entry["note"] = a["note"]
        result.append(entry)
    return errors, result


def main():
    spec_path, capdir, order = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    spec = read_spec(spec_path)
    qspec = read_quic_spec(sys.argv[4]) if len(sys.argv) > 4 else collections.OrderedDict()
    out_path = os.path.join(capdir, "expected.json")
    old = collections.OrderedDict()  # file -> its whole capture entry, as it was
    if os.path.exists(out_path):
        with open(out_path) as f:
            for c in json.load(f).get("captures", []):
                old[c["file"]] = c
    # A capture re-recorded without keys loses its twin.
    for n in spec:
        if twin_of(n) in old and not keyed(spec[n]):
            del old[twin_of(n)]
    entries = dict(old)
    errors = []
    for fname, hs in spec.items():
        errs = verify(capdir, fname, hs)
        # Connections that are not handshake attempts (code "not_tls") are verified as
        # TCP connections but listed apart.
        attempts = [h for h in hs if h["code"] != "not_tls"]
        rest = [{"server": h["server"], "note": h["note"]} for h in hs if h["code"] == "not_tls"]
        entry = {"file": fname}
        if keyed(hs):
            keys = fname[:-len(".pcap")] + ".keys"
            entry["keylog"] = keys
            if not os.path.exists(os.path.join(capdir, keys)):
                errs.append(f"{fname}: its key log {keys} is missing")
            else:
                kerrs, decrypted, frames = verify_keys(capdir, fname, hs, os.path.join(capdir, keys), fname)
                errs += kerrs
                twin = twin_of(fname)
                terrs, tdecrypted, tframes = verify_keys(capdir, twin, hs, "", fname)
                errs += terrs
                if not kerrs and not terrs and (tdecrypted, tframes) != (decrypted, frames):
                    errs.append(f"{twin}: reads otherwise than {fname} with {keys}")
                if decrypted is not None:
                    for h, d in zip(hs, decrypted):
                        h["decrypted_alerts"] = d
                twin_hs = []
                for h in attempts:
                    t = {k: v for k, v in h.items() if k != "code_with_keys"}
                    t["code"] = h["code_with_keys"]
                    twin_hs.append(t)
                entries[twin] = {"file": twin, "dsb_of": fname, "handshakes": twin_hs}
        entry["handshakes"] = attempts
        if rest:
            entry["not_attempts"] = rest
        entries[fname] = entry
        print(f"verify {fname}: {len(hs)} handshake attempt(s)"
              f"{', with keys and its twin' if keyed(hs) else ''}: {'OK' if not errs else 'FAILED'}")
        errors += errs
    # QUIC attempts: under "quic" of their capture's entry, which a capture without TCP
    # attempts gets here (and must then hold no TCP connection).
    for fname, qs in qspec.items():
        errs = []
        if fname in spec:
            entry = entries[fname]
        else:
            entry = {"file": fname, "handshakes": []}
            path = os.path.join(capdir, fname)
            if os.path.exists(path) and streams(path, set()):
                errs.append(f"{fname}: TCP connections, but no TCP attempt is listed")
        qerrs, attempts = verify_quic(capdir, fname, qs)
        errs += qerrs
        head = {"file": fname}
        if "code_with_keys" in qs[0]:
            head["quic_keylog"] = fname[:-len(".pcap")] + ".keys"
        entry = {**head, **{k: v for k, v in entry.items() if k != "file"}, "quic": attempts}
        entries[fname] = entry
        print(f"verify {fname}: {len(qs)} QUIC attempt(s)"
              f"{', with keys' if 'code_with_keys' in qs[0] else ''}: {'OK' if not errs else 'FAILED'}")
        errors += errs
    names = [n for n in order if n in entries]
    names += sorted(n for n in entries if n not in order and entries[n].get("dsb_of") is None)
    # each twin right after its pcap
    names = [m for n in names for m in [n] + [t for t in entries
                                              if entries[t].get("dsb_of") == n]]
    doc = {
        "comment": "Expected tlswhy verdicts for the captures in this folder; generated by "
                   "captures/record.sh. Handshake attempts are listed in the order their "
                   "TCP connections start (both legs of a relayed connection are attempts). "
                   "'server' is the TCP server ip:port; 'sni' is the ClientHello's server_name "
                   "(null: none, or no ClientHello in the capture); 'alerts' lists every "
                   "plaintext alert of the connection in order (encrypted alerts are not "
                   "listed); 'note' says what the capture shows. A capture with a 'keylog' "
                   "comes with its TLS secrets (that file, NSS key log format): 'code' is the "
                   "verdict without them, 'code_with_keys' the verdict with them, and "
                   "'decrypted_alerts' every alert read with them (plaintext and decrypted, "
                   "in order; 'encrypted' marks the ones the keys reveal). Its twin, the entry "
                   "with 'dsb_of', holds the same packets and the key log in a pcapng "
                   "Decryption Secrets Block: its 'code' is the verdict with the keys. "
                   "QUIC attempts are UDP flows, not TCP connections: a capture lists them "
                   "under 'quic' (in the order their flows start; see captures/README.md) "
                   "and names their TLS secrets in 'quic_keylog'.",
        "captures": [entries[n] for n in names],
    }
    if errors:
        for e in errors:
            print("ERROR:", e, file=sys.stderr)
        sys.exit("expected.json NOT written: the captures do not match their definitions")
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
