#!/usr/bin/env python3
"""Agreement of tlswhy's JSON Lines with a gen_bench_pcap.py truth file: the verdict code
for the failure kind, the SNI, and for successful connections the negotiated suite.

usage: truth_agreement.py TRUTH.jsonl TLSWHY.jsonl
"""
import json, sys
code = {"ok": "ok", "rst_after_client_hello": "server_reset_after_client_hello",
        "handshake_failure": "no_shared_cipher", "protocol_version": "protocol_version_mismatch",
        "unrecognized_name": "sni_unrecognized", "unknown_ca": "cert_unknown_ca",
        # QUIC attempts (gen_capture --quic-ratio)
        "alpn_mismatch": "alpn_mismatch", "udp_blocked": "udp_blocked"}
if len(sys.argv) != 3:
    sys.exit(__doc__.strip().splitlines()[-1])
truth = {}
for line in open(sys.argv[1]):
    t = json.loads(line)
    if "client_port" not in t:
        sys.exit(f"{sys.argv[1]}: not a truth file (no client_port); " + __doc__.strip().splitlines()[-1])
    truth[(t["client"], t["client_port"])] = t
got = {}
for line in open(sys.argv[2]):
    o = json.loads(line)
    host, port = o["client"].rsplit(":", 1)
    got[(host.strip("[]"), int(port))] = o
checked = wrong = 0
for key, t in truth.items():
    o = got.get(key)
    checked += 1
    if o is None:
        wrong += 1
        continue
    ok = o["verdict"]["code"] == code[t["outcome"]] and o["sni"] == t["sni"]
    if t["outcome"] == "ok" and t.get("suite"):
        sh = o.get("server_hello")
        if sh is None and "schema_version" in o:
            sys.exit(f"{sys.argv[2]}: compact records; run tlswhy with --detail full")
        # A {name, code} object since the JSON schema; a bare number before.
        suite = sh and sh["cipher_suite"]
        suite = suite["code"] if isinstance(suite, dict) else suite
        ok = ok and suite == int(t["suite"], 16)
    wrong += not ok
print(f"tlswhy agreement with the truth file: {checked - wrong}/{checked} = {100 * (checked - wrong) / max(checked, 1):.2f}%")
