//! QUIC reading on the captures `captures/record.sh` recorded from aioquic and ngtcp2
//! (`quic_*.pcap`): every attempt's client Initials open with the keys of their
//! Destination Connection ID, their CRYPTO frames give the ClientHello with the SNI and
//! the ALPN that tshark read (`expected.json`, key `quic`), and what a passive observer
//! sees in the clear — Retry, Version Negotiation and its versions, a CONNECTION_CLOSE
//! in an Initial with its error code — is what tshark saw.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use tlswhy::capture::{LinkType, PacketReader};
use tlswhy::quic::frames::initial_frames;
use tlswhy::quic::initial::initial_keys;
use tlswhy::quic::packet::{packets, LongType, QuicPacket};
use tlswhy::tls::hello::{parse_client_hello, ClientHelloFacts};

/// What the packets of one UDP flow show.
#[derive(Default, Debug)]
struct Seen {
    client_hello: Option<ClientHelloFacts>,
    /// The version of the client's first Initial, and of the server's first Initial.
    client_version: Option<u32>,
    server_version: Option<u32>,
    retry: bool,
    version_negotiation: Option<Vec<u32>>,
    /// (from the client, error code) of a CONNECTION_CLOSE in an Initial.
    initial_close: Option<(bool, u64)>,
    crypto: BTreeMap<u64, Vec<u8>>,
}

/// The UDP flows of a capture, by (client, server), in order of their first datagram.
fn flows(file: &str) -> Vec<((SocketAddr, SocketAddr), Seen)> {
    let bytes = std::fs::read(common::captures().join(file)).unwrap();
    let mut order: Vec<(SocketAddr, SocketAddr)> = Vec::new();
    let mut seen: BTreeMap<(SocketAddr, SocketAddr), Seen> = BTreeMap::new();
    // The Destination Connection ID of each flow's client's first Initial (its keys
    // open the server's Initials too).
    let mut dcid: BTreeMap<(SocketAddr, SocketAddr), Vec<u8>> = BTreeMap::new();
    for packet in PacketReader::new(&bytes, file).unwrap() {
        let sliced = match packet.link_type {
            LinkType(1) => SlicedPacket::from_ethernet(packet.data),
            _ => SlicedPacket::from_ip(packet.data),
        };
        let Ok(sliced) = sliced else { continue };
        let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) =
            (sliced.net, sliced.transport)
        else {
            continue;
        };
        let src = SocketAddr::new(ip.header().source_addr().into(), udp.source_port());
        let dst = SocketAddr::new(
            ip.header().destination_addr().into(),
            udp.destination_port(),
        );
        let (datagram_packets, _) = packets(udp.payload());
        let from_client = !order.iter().any(|(_, server)| *server == src);
        let key = if from_client { (src, dst) } else { (dst, src) };
        if !order.contains(&key) {
            order.push(key);
        }
        let flow = seen.entry(key).or_default();
        for p in datagram_packets {
            match p {
                QuicPacket::VersionNegotiation { versions, .. } => {
                    flow.version_negotiation = Some(versions);
                }
                QuicPacket::Long(long) if long.kind == LongType::Retry => {
                    // The client's next Initial starts over with new keys.
                    flow.retry = true;
                    dcid.remove(&key);
                }
                QuicPacket::Long(long) if long.kind == LongType::Initial => {
                    if from_client {
                        // The keys come from the client's first Destination Connection
                        // ID (RFC 9001 §5.2), whatever it sends to later.
                        dcid.entry(key).or_insert_with(|| long.dcid.to_vec());
                        flow.client_version.get_or_insert(long.version);
                    } else {
                        flow.server_version.get_or_insert(long.version);
                    }
                    let Some(keys) = dcid.get(&key).and_then(|d| initial_keys(long.version, d))
                    else {
                        continue;
                    };
                    let side = if from_client {
                        &keys.client
                    } else {
                        &keys.server
                    };
                    let opened = long
                        .open(side)
                        .unwrap_or_else(|| panic!("{file}: an Initial that does not open"));
                    let frames = initial_frames(&opened.payload);
                    assert!(!frames.malformed, "{file}: {frames:?}");
                    if let Some(close) = frames.close {
                        flow.initial_close
                            .get_or_insert((from_client, close.error_code));
                    }
                    if from_client {
                        for (offset, data) in frames.crypto {
                            flow.crypto.entry(offset).or_insert_with(|| data.to_vec());
                        }
                    }
                }
                _ => {}
            }
        }
        // The ClientHello, once its CRYPTO bytes are contiguous from offset 0.
        if flow.client_hello.is_none() {
            let mut stream = Vec::new();
            for (&offset, data) in &flow.crypto {
                if offset as usize > stream.len() {
                    break;
                }
                let skip = stream.len() - offset as usize;
                stream.extend_from_slice(data.get(skip..).unwrap_or(&[]));
            }
            if stream.len() >= 4 && stream[0] == 1 {
                let len = u32::from_be_bytes([0, stream[1], stream[2], stream[3]]) as usize;
                if stream.len() >= 4 + len {
                    flow.client_hello = Some(parse_client_hello(&stream[4..4 + len]).unwrap());
                }
            }
        }
    }
    order
        .into_iter()
        .map(|key| (key, seen.remove(&key).unwrap()))
        .collect()
}

fn hex_version(v: &str) -> Option<u32> {
    u32::from_str_radix(v.trim_start_matches("0x"), 16).ok()
}

#[test]
fn quic_initials_show_what_tshark_read() {
    let doc = common::read_json(&common::captures().join("expected.json"));
    let mut checked = 0;
    for capture in doc["captures"].as_array().unwrap() {
        let Some(expected) = capture["quic"].as_array() else {
            continue;
        };
        let file = capture["file"].as_str().unwrap();
        let flows: Vec<_> = flows(file)
            .into_iter()
            .filter(|(_, s)| s.client_version.is_some())
            .collect();
        assert_eq!(flows.len(), expected.len(), "{file}: QUIC attempts");
        for (i, (((_, server), seen), want)) in flows.iter().zip(expected).enumerate() {
            let at = format!("{file} #{i}");
            assert_eq!(server.to_string(), want["server"].as_str().unwrap(), "{at}");
            let ch = seen
                .client_hello
                .as_ref()
                .unwrap_or_else(|| panic!("{at}: no ClientHello"));
            assert_eq!(ch.server_name.as_deref(), want["sni"].as_str(), "{at}");
            let offered: Vec<&str> = want["alpn"]["offered"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(ch.alpn, offered, "{at}");
            assert_eq!(seen.retry, want["retry"].as_bool().unwrap(), "{at}");
            if let Some(version) = want["version"].as_str() {
                assert_eq!(seen.server_version, hex_version(version), "{at}");
            }
            match want["version_negotiation"].as_array() {
                Some(versions) => {
                    let got = seen
                        .version_negotiation
                        .as_ref()
                        .expect("Version Negotiation");
                    let listed: Vec<Option<u32>> = versions
                        .iter()
                        .map(|v| hex_version(v.as_str().unwrap()))
                        .collect();
                    assert_eq!(got.len(), listed.len(), "{at}");
                    for (g, l) in got.iter().zip(listed) {
                        // A greasing version is listed as 0x?a?a?a?a.
                        match l {
                            Some(v) => assert_eq!(*g, v, "{at}"),
                            None => assert_eq!(g & 0x0f0f_0f0f, 0x0a0a_0a0a, "{at}"),
                        }
                    }
                }
                None => assert!(seen.version_negotiation.is_none(), "{at}"),
            }
            let close = &want["connection_close"];
            let in_initial = close["packets"]
                .as_array()
                .is_some_and(|p| p.iter().any(|t| t == "Initial"));
            if in_initial {
                let (from_client, code) = seen.initial_close.expect("a CONNECTION_CLOSE");
                assert_eq!(code, close["error_code"].as_u64().unwrap(), "{at}");
                assert_eq!(from_client, close["from"] == "client", "{at}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} QUIC attempts checked");
}
