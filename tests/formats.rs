//! Every capture format and link type gives the same verdicts as the Ethernet pcap it
//! was converted from (`captures/formats.sh` makes `tests/data/formats/`): pcapng,
//! nanosecond pcap, big-endian pcap, raw IP, Linux cooked v1 and v2, BSD null, gzip, and
//! a pcapng whose two interfaces have different link types.

mod common;

use tlswhy::record::Handshake;

fn summary(hs: &[Handshake]) -> Vec<(String, String, &'static str, Option<String>)> {
    hs.iter()
        .map(|h| {
            (
                h.client.to_string(),
                h.server.to_string(),
                h.verdict.code.as_str(),
                h.cipher.as_deref().map(str::to_string),
            )
        })
        .collect()
}

fn formats_dir() -> std::path::PathBuf {
    common::root().join("tests/data/formats")
}

#[test]
fn every_variant_reads_like_its_source() {
    for source in ["no_shared_cipher", "relay_ip_sni"] {
        let want = common::analyze(&common::captures().join(format!("{source}.pcap")));
        assert!(!want.handshakes.is_empty());
        for variant in [
            "pcapng",
            "nsec.pcap",
            "be.pcap",
            "raw.pcap",
            "sll.pcap",
            "sll2.pcap",
            "null.pcap",
            "pcap.gz",
        ] {
            let path = formats_dir().join(format!("{source}.{variant}"));
            let got = common::analyze(&path);
            assert!(got.damage.is_none(), "{}: {:?}", path.display(), got.damage);
            assert!(
                got.stats.unsupported_link_types.is_empty(),
                "{}",
                path.display()
            );
            assert_eq!(got.stats.packets, want.stats.packets, "{}", path.display());
            assert_eq!(
                summary(&got.handshakes),
                summary(&want.handshakes),
                "{}",
                path.display()
            );
            // Timestamps survive the conversion to the microsecond.
            for (g, w) in got.handshakes.iter().zip(&want.handshakes) {
                assert!(
                    (g.ts.0 - w.ts.0).abs() < 1000,
                    "{}: {:?} vs {:?}",
                    path.display(),
                    g.ts,
                    w.ts
                );
            }
        }
    }
}

#[test]
fn pcapng_with_interfaces_of_different_link_types() {
    let mixed = common::analyze(&formats_dir().join("mixed_interfaces.pcapng"));
    let a = common::analyze(&common::captures().join("no_shared_cipher.pcap"));
    let b = common::analyze(&common::captures().join("relay_ip_sni.pcap"));
    let mut want = summary(&a.handshakes);
    want.extend(summary(&b.handshakes));
    want.sort();
    let mut got = summary(&mixed.handshakes);
    got.sort();
    assert_eq!(got, want);
    assert_eq!(mixed.stats.packets, a.stats.packets + b.stats.packets);
}
