//! TLS inside tunnels, on captures of the kernel's VXLAN (`captures/record.sh`
//! `tunnel_vxlan`, `tunnel_nested`): the handshakes inside are found with their SNI and
//! verdict, two tenants reusing one inner 5-tuple stay two connections, and packets
//! nested deeper than the decoder goes are counted in a warning, in the library's
//! report and on the command line.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use tlswhy::capture::Source;
use tlswhy::chunks::StreamReader;
use tlswhy::decode::{Decoder, Encapsulation, Tunnel};
use tlswhy::diagnose::Code;
use tlswhy::flow::key_of;
use tlswhy::pipeline::{self, Settings};
use tlswhy::record::Handshake;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn handshakes(report: &tlswhy::record::CaptureReport) -> Vec<&Handshake> {
    let mut hs: Vec<&Handshake> = report.handshakes.iter().collect();
    hs.sort_by_key(|h| h.frame);
    hs
}

/// (client, server, SNI, code) of each handshake in connection order.
fn summary(report: &tlswhy::record::CaptureReport) -> Vec<(SocketAddr, SocketAddr, String, Code)> {
    handshakes(report)
        .into_iter()
        .map(|h| {
            let sni = h.sni.clone().unwrap_or_default();
            (h.client, h.server, sni, h.verdict.code)
        })
        .collect()
}

#[test]
fn two_vxlan_tenants_on_one_five_tuple_are_two_handshakes() {
    let path = common::captures().join("tunnel_vxlan.pcap");
    let want = vec![
        (
            addr("10.1.0.1:40000"),
            addr("10.1.0.2:4433"),
            "emby.example.com".to_string(),
            Code::Ok,
        ),
        (
            addr("10.1.0.1:40000"),
            addr("10.1.0.2:4433"),
            "emby.example.com".to_string(),
            Code::ProtocolVersionMismatch,
        ),
        (
            addr("[fd01::1]:0"),
            addr("[fd01::2]:4434"),
            "emby.example.com".to_string(),
            Code::Ok,
        ),
    ];
    for threads in [1, 2] {
        let settings = Settings {
            threads,
            ..Settings::default()
        };
        let report = pipeline::analyze_source(&Source::File(path.clone()), &settings).unwrap();
        let mut got = summary(&report);
        // The IPv6 client's port is the kernel's pick.
        got[2].0.set_port(0);
        assert_eq!(got, want, "{threads} thread(s)");
        assert!(report.stats.undecoded_encapsulations.is_empty());
        let hs = handshakes(&report);
        assert!(hs[0].established && !hs[1].established);
        assert_eq!(hs[0].version.as_deref(), Some("TLS 1.3"));
        // Tenant 2's whole handshake happened while tenant 1's connection was open.
        assert!(hs[1].frame > hs[0].frame && hs[1].last_frame < hs[0].last_frame);
        // Each tenant's server has a profile of its own: tenant 1's TLS 1.3 is not
        // cited as what tenant 2's server negotiates.
        assert!(
            !hs[1]
                .verdict
                .details
                .iter()
                .any(|d| matches!(d, tlswhy::diagnose::Detail::ProfileVersions { .. })),
            "{:?}",
            hs[1].verdict.details
        );
    }
}

/// The tunnels of the TCP segments to `server` in a capture.
fn tunnels_to(path: &std::path::Path, server: SocketAddr) -> BTreeSet<Tunnel> {
    let mut source = StreamReader::open(&Source::File(path.to_path_buf())).unwrap();
    let mut decoder = Decoder::new();
    let mut seen = BTreeSet::new();
    while let Some(chunk) = source.next_chunk() {
        for at in &chunk.packets {
            if let Ok(seg) = decoder.decode(&at.packet(&chunk.bytes)) {
                if seg.dst == server {
                    seen.insert(seg.tunnel);
                }
            }
        }
        source.recycle(chunk);
    }
    seen
}

#[test]
fn the_vni_is_part_of_the_flow_key() {
    let path = common::captures().join("tunnel_vxlan.pcap");
    let tenants = tunnels_to(&path, addr("10.1.0.2:4433"));
    assert_eq!(tenants.len(), 2, "VNI 100 and VNI 200: {tenants:?}");
    assert!(!tenants.contains(&Tunnel::NONE));
    // Untunnelled traffic keeps the tenant-free key.
    let plain = tunnels_to(
        &common::captures().join("ok_tls13.pcap"),
        addr("127.0.0.1:4433"),
    );
    assert_eq!(plain, BTreeSet::from([Tunnel::NONE]));
}

/// VXLAN headers around a frame of the nested capture, read independently of the
/// decoder: the kernel's layers there are always Ethernet, IPv4 without options, UDP to
/// port 4789 and VXLAN (50 bytes each).
fn vxlan_levels(frame: &[u8]) -> usize {
    let mut at = 0;
    let mut levels = 0;
    while frame.get(at + 12..at + 14) == Some(&[0x08, 0x00])
        && frame.get(at + 14) == Some(&0x45)
        && frame.get(at + 23) == Some(&17)
        && frame.get(at + 36..at + 38) == Some(&4789u16.to_be_bytes())
    {
        levels += 1;
        at += 50;
    }
    levels
}

/// Packets of `tunnel_nested.pcap` carried more than four tunnels deep: those of its
/// second connection (and the ARP and neighbour discovery before it).
fn nested_too_deep() -> u64 {
    let path = common::captures().join("tunnel_nested.pcap");
    let mut source = StreamReader::open(&Source::File(path)).unwrap();
    let mut n = 0;
    while let Some(chunk) = source.next_chunk() {
        for at in &chunk.packets {
            if vxlan_levels(at.packet(&chunk.bytes).data) > 4 {
                n += 1;
            }
        }
        source.recycle(chunk);
    }
    n
}

#[test]
fn tunnels_nested_too_deep_are_counted_not_decoded() {
    let report = common::analyze(&common::captures().join("tunnel_nested.pcap"));
    assert_eq!(
        summary(&report)
            .into_iter()
            .map(|(_, s, sni, code)| (s, sni, code))
            .collect::<Vec<_>>(),
        vec![(
            addr("10.251.4.2:4433"),
            "emby.example.com".to_string(),
            Code::Ok
        )],
        "four deep is decoded"
    );
    let name = Encapsulation::NestedTooDeep.name();
    assert!(
        nested_too_deep() >= 20,
        "the second connection's packets at least"
    );
    assert_eq!(
        report.stats.undecoded_encapsulations.get(name),
        Some(&nested_too_deep()),
        "{:?}",
        report.stats.undecoded_encapsulations
    );
    assert_eq!(report.stats.undecoded_encapsulations.len(), 1);
}

#[test]
fn the_command_line_names_what_it_did_not_decode() {
    let out = common::tlswhy(&["analyze", "captures/tunnel_nested.pcap"], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let count = format!(
        "{} packet(s) inside tunnels nested more than 4 deep",
        nested_too_deep()
    );
    assert!(
        stderr.contains(&format!("warning: captures/tunnel_nested.pcap: {count}")),
        "{stderr}"
    );
    assert!(stdout.contains("not decoded:"), "{stdout}");
    assert!(stdout.contains(&count), "{stdout}");
    let quiet = common::tlswhy(&["analyze", "-q", "captures/tunnel_nested.pcap"], None);
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("not decoded"),
        "-q keeps standard error quiet"
    );
    // Nothing to say about a capture whose tunnels were all decoded.
    let all = common::tlswhy(&["analyze", "captures/tunnel_vxlan.pcap"], None);
    assert!(!String::from_utf8_lossy(&all.stderr).contains("not decoded"));
    assert!(!String::from_utf8_lossy(&all.stdout).contains("not decoded"));
}

#[test]
fn a_tenant_key_equals_no_untunnelled_key_and_no_other_tenant() {
    let (a, b) = (addr("10.1.0.1:40000"), addr("10.1.0.2:4433"));
    // The untunnelled key is the address pair as it is, in either direction.
    assert_eq!(key_of(a, b, Tunnel::NONE), (a, b));
    assert_eq!(key_of(b, a, Tunnel::NONE), (a, b));
    let (t1, t2) = (Tunnel(1), Tunnel(1 << 32));
    assert_eq!(key_of(a, b, t1), key_of(b, a, t1));
    assert_ne!(key_of(a, b, t1), key_of(a, b, t2));
    assert_ne!(key_of(a, b, t1), key_of(a, b, Tunnel::NONE));
    // Nor the untunnelled key of the IPv4-mapped IPv6 addresses.
    let (a6, b6) = (
        addr("[::ffff:10.1.0.1]:40000"),
        addr("[::ffff:10.1.0.2]:4433"),
    );
    assert_ne!(key_of(a, b, t1), key_of(a6, b6, Tunnel::NONE));
    assert_eq!(key_of(a, b, t1), key_of(a6, b6, t1));
}
