#!/usr/bin/env python3
"""Write captures/expected.json from the scenario definitions of record.sh and verify
every capture against them with tshark.

  expected.py SPEC.tsv CAPDIR ORDER

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
"""
import collections
import json
import os
import subprocess
import sys

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


def read_spec(path):
    spec = collections.OrderedDict()
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) not in (6, 7, 8):
                raise SystemExit(f"{path}: {len(cols)} columns in {line!r}")
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
    for fname, hs in spec.items():
        if len({"code_with_keys" in h for h in hs}) != 1:
            raise SystemExit(f"{path}: {fname}: some lines have a code with keys, some not")
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


def main():
    spec_path, capdir, order = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    spec = read_spec(spec_path)
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
                   "Decryption Secrets Block: its 'code' is the verdict with the keys.",
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
