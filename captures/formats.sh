#!/usr/bin/env bash
# Makes tests/data/formats/: the same recorded handshakes in every capture format and link
# type tlswhy reads, converted from captures/no_shared_cipher.pcap (Ethernet, microsecond
# pcap, as tcpdump -i lo writes it) and captures/relay_ip_sni.pcap. tests/formats.rs checks
# that each variant gets the same verdicts as its source.
#
# Uses editcap/mergecap (Wireshark) where they can do the conversion, and
# tools/relink.py where a link-layer header must grow (cooked v1/v2, BSD null) or the
# byte order must change, which editcap cannot do.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../tests/data/formats"
mkdir -p "$out"
command -v editcap >/dev/null || { echo "formats.sh needs editcap (Debian: wireshark-common)" >&2; exit 1; }

for name in no_shared_cipher relay_ip_sni; do
    src="$here/$name.pcap"
    editcap -F pcapng "$src" "$out/$name.pcapng"
    editcap -F nsecpcap "$src" "$out/$name.nsec.pcap"
    editcap -C 14 -T rawip "$src" "$out/$name.raw.pcap"
    python3 "$here/tools/relink.py" "$src" "$out/$name.sll.pcap" sll
    python3 "$here/tools/relink.py" "$src" "$out/$name.sll2.pcap" sll2
    python3 "$here/tools/relink.py" "$src" "$out/$name.null.pcap" null
    python3 "$here/tools/relink.py" "$src" "$out/$name.be.pcap" be
    gzip -9nc "$src" > "$out/$name.pcap.gz"
done
# One pcapng, two interfaces with different link types (Ethernet and cooked v2).
mergecap -F pcapng -w "$out/mixed_interfaces.pcapng" "$here/no_shared_cipher.pcap" "$out/relay_ip_sni.sll2.pcap"
ls -l "$out"
