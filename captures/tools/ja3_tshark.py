#!/usr/bin/env python3
"""Write captures/ja3.json: the JA3 of every ClientHello in captures/*.pcap and
*.pcapng as tshark computes it (tls.handshake.ja3, ja3_full), by frame number, so that
tests/fingerprints.rs can check tlswhy's JA3 against an independent implementation.

  ja3_tshark.py [CAPDIR]     (default: the folder above this script)

Needs tshark (Debian: tshark). Run it again after recording captures.
"""
import json
import os
import subprocess
import sys


def main():
    capdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    out = {}
    for name in sorted(os.listdir(capdir)):
        if not name.endswith((".pcap", ".pcapng")):
            continue
        fields = subprocess.run(
            ["tshark", "-n", "-r", os.path.join(capdir, name), "-Y", "tls.handshake.type == 1",
             "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f",
             "-e", "frame.number", "-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3_full"],
            check=True, capture_output=True, text=True).stdout
        hellos = []
        for line in fields.splitlines():
            frame, ja3, full = (line.split("\t") + ["", ""])[:3]
            if ja3:
                hellos.append({"frame": int(frame), "ja3_hash": ja3, "ja3": full})
        if hellos:
            out[name] = hellos
    doc = {
        "comment": "JA3 of every ClientHello in these captures as tshark computes it "
                   "(tls.handshake.ja3 and ja3_full), by frame; written by tools/ja3_tshark.py.",
        "tshark": subprocess.run(["tshark", "-v"], capture_output=True, text=True)
                  .stdout.splitlines()[0],
        "captures": out,
    }
    with open(os.path.join(capdir, "ja3.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"ja3.json: {sum(len(v) for v in out.values())} ClientHellos in {len(out)} captures")


if __name__ == "__main__":
    main()
