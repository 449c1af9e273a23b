//! QUIC reading on the captures `captures/record.sh` recorded from aioquic and ngtcp2
//! (`quic_*.pcap`): every attempt's client Initials open with the keys of their
//! Destination Connection ID, their CRYPTO frames give the ClientHello with the SNI and
//! the ALPN that tshark read (`expected.json`, key `quic`), and what a passive observer
//! sees in the clear — Retry, Version Negotiation and its versions, a CONNECTION_CLOSE
//! in an Initial with its error code and reason — is what tshark saw; and
//! `quic::attempt` judges each attempt as `expected.json` says (its `code`, without
//! keys): ok, alpn_mismatch, quic_version_mismatch, cert_rejected, connection_refused
//! (ICMP), udp_blocked and quic_blocked_fell_back_to_tcp (a TCP connection after the
//! first Initial, racing it, or in use beside it), client_aborted.

mod common;

use std::net::SocketAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use tlswhy::capture::{LinkType, PacketReader};
use tlswhy::diagnose::Detail;
use tlswhy::flow::{At, Dir};
use tlswhy::quic::attempt::QuicAttempt;

/// The UDP flows of a capture, by (client, server), in order of their first datagram,
/// each followed by `QuicAttempt` (the client: the side that sent first); and the TCP
/// connections, as (client, server, its SYN, its last packet, whether the server
/// answered the SYN).
struct Flows {
    attempts: Vec<((SocketAddr, SocketAddr), QuicAttempt)>,
    tcp: Vec<(SocketAddr, SocketAddr, At, At, bool)>,
}

fn flows(file: &str) -> Flows {
    let bytes = std::fs::read(common::captures().join(file)).unwrap();
    let mut attempts: Vec<((SocketAddr, SocketAddr), QuicAttempt)> = Vec::new();
    let mut tcp: Vec<(SocketAddr, SocketAddr, At, At, bool)> = Vec::new();
    for (frame, packet) in PacketReader::new(&bytes, file).unwrap().enumerate() {
        let at = At {
            frame: frame as u64 + 1,
            ts: packet.ts,
        };
        let sliced = match packet.link_type {
            LinkType(1) => SlicedPacket::from_ethernet(packet.data),
            _ => SlicedPacket::from_ip(packet.data),
        };
        let Ok(sliced) = sliced else { continue };
        let Some(NetSlice::Ipv4(ip)) = sliced.net else {
            continue;
        };
        let (src_ip, dst_ip) = (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        );
        match sliced.transport {
            Some(TransportSlice::Udp(udp)) => {
                let src = SocketAddr::new(src_ip, udp.source_port());
                let dst = SocketAddr::new(dst_ip, udp.destination_port());
                let (dir, key) = match attempts.iter().position(|(k, _)| *k == (dst, src)) {
                    Some(_) => (Dir::ToClient, (dst, src)),
                    None => (Dir::ToServer, (src, dst)),
                };
                let i = match attempts.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        attempts.push((key, QuicAttempt::default()));
                        attempts.len() - 1
                    }
                };
                attempts[i].1.on_datagram(dir, at, udp.payload());
            }
            Some(TransportSlice::Icmpv4(icmp)) => {
                // Port unreachable (type 3, code 3) quotes the datagram's IPv4 header
                // and its UDP ports.
                if icmp.type_u8() != 3 || icmp.code_u8() != 3 {
                    continue;
                }
                let quoted = icmp.payload();
                let Ok(header) = etherparse::Ipv4HeaderSlice::from_slice(quoted) else {
                    continue;
                };
                let ports = &quoted[header.slice().len()..];
                if ports.len() < 4 {
                    continue;
                }
                let client = SocketAddr::new(
                    header.source_addr().into(),
                    u16::from_be_bytes([ports[0], ports[1]]),
                );
                let server = SocketAddr::new(
                    header.destination_addr().into(),
                    u16::from_be_bytes([ports[2], ports[3]]),
                );
                if let Some((_, attempt)) =
                    attempts.iter_mut().find(|(k, _)| *k == (client, server))
                {
                    attempt.on_port_unreachable(at);
                }
            }
            Some(TransportSlice::Tcp(segment)) => {
                let src = SocketAddr::new(src_ip, segment.source_port());
                let dst = SocketAddr::new(dst_ip, segment.destination_port());
                if segment.syn() && !segment.ack() {
                    tcp.push((src, dst, at, at, false));
                } else if let Some(c) = tcp
                    .iter_mut()
                    .rev()
                    .find(|(c, s, ..)| (*c, *s) == (src, dst) || (*c, *s) == (dst, src))
                {
                    c.3 = at;
                    c.4 |= segment.syn() && (c.0, c.1) == (dst, src);
                }
            }
            _ => {}
        }
    }
    Flows { attempts, tcp }
}

/// The QUIC captures and their expected attempts (expected.json, key `quic`).
fn quic_expectations() -> Vec<(String, Vec<serde_json::Value>)> {
    let doc = common::read_json(&common::captures().join("expected.json"));
    doc["captures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let quic = c["quic"].as_array()?;
            Some((c["file"].as_str().unwrap().to_string(), quic.clone()))
        })
        .collect()
}

fn hex_version(v: &str) -> Option<u32> {
    u32::from_str_radix(v.trim_start_matches("0x"), 16).ok()
}

#[test]
fn quic_initials_show_what_tshark_read() {
    let mut checked = 0;
    for (file, expected) in quic_expectations() {
        let file = file.as_str();
        let Flows { attempts, tcp } = flows(file);
        let flows: Vec<_> = attempts
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
                let got = seen.close.as_ref().expect("a CONNECTION_CLOSE");
                assert_eq!(
                    got.error_code,
                    close["error_code"].as_u64().unwrap(),
                    "{at}"
                );
                assert_eq!(got.from == Dir::ToServer, close["from"] == "client", "{at}");
                if let Some(reason) = close["reason"].as_str() {
                    assert_eq!(got.reason, reason.as_bytes(), "{at}");
                }
            }
            // The verdict from what was seen without keys; a TCP connection from the
            // client to the same server and port that the server answered (SYN-ACK) is
            // its fallback when it started after the first Initial, within RACE_SECS
            // before it (a browser racing the two), or earlier and went on after it (the
            // client stayed on TCP).
            let (client, server) = flows[i].0;
            let first = seen.first.unwrap();
            let tcp_followed = tcp.iter().any(|(c, s, syn, last, answered)| {
                c.ip() == client.ip()
                    && *s == server
                    && *answered
                    && (syn.frame > first.frame
                        || tlswhy::quic::table::raced(*syn, first.ts)
                        || last.ts > first.ts)
            });
            assert_eq!(
                seen.outcome().code_with_fallback(tcp_followed),
                want["code"].as_str().unwrap(),
                "{at}: {} client Initials, {} server datagrams, Handshake packets {:?}, \
                 1-RTT packets {:?}, {} ICMP, close {:?}",
                seen.client_initials,
                seen.server_datagrams,
                seen.handshake_packets,
                seen.short_packets,
                seen.port_unreachable,
                seen.close
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} QUIC attempts checked");
}

/// The generator's QUIC attempts (`gen_capture --quic-ratio`, Initials sealed with the
/// library's own sealing) are read back as it made them: each attempt's verdict is the
/// outcome of its truth line, with its SNI and (for a success) its suite.
#[test]
fn generated_quic_attempts_get_their_truth() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, truth) = (dir.path().join("quic.pcap"), dir.path().join("quic.truth"));
    common::gen_capture(
        &[
            "--connections",
            "400",
            "--quic-ratio",
            "0.5",
            "--failure-ratio",
            "0.3",
            "--seed",
            "7",
        ],
        &pcap,
        &truth,
    );
    let report = common::analyze(&pcap);
    let by_client: std::collections::HashMap<String, &tlswhy::record::Handshake> = report
        .handshakes
        .iter()
        .map(|h| (h.client.to_string(), h))
        .collect();
    let mut quic = std::collections::BTreeMap::<String, usize>::new();
    for line in std::fs::read_to_string(&truth).unwrap().lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        if t["transport"] != "quic" {
            continue;
        }
        let ip: std::net::IpAddr = t["client"].as_str().unwrap().parse().unwrap();
        let client = SocketAddr::new(ip, t["client_port"].as_u64().unwrap() as u16);
        let h = by_client[&client.to_string()];
        assert!(h.quic.is_some(), "{t}");
        let outcome = t["outcome"].as_str().unwrap();
        assert_eq!(h.verdict.code.as_str(), outcome, "{t}");
        assert_eq!(h.sni.as_deref(), t["sni"].as_str(), "{t}");
        if outcome == "ok" {
            let suite =
                u16::from_str_radix(t["suite"].as_str().unwrap().trim_start_matches("0x"), 16);
            let got = h.server_hello.as_ref().map(|sh| sh.cipher_suite.0);
            assert_eq!(got, suite.ok(), "{t}");
        }
        *quic.entry(outcome.to_string()).or_default() += 1;
    }
    assert!(
        quic.len() == 3 && quic.values().all(|&n| n >= 10),
        "outcomes: {quic:?}"
    );
}

/// With the key log each QUIC capture was recorded with, Handshake packets open: every
/// attempt gets expected.json's `code_with_keys` (the certificate verdicts name the
/// certificate's fault), the ALPN the server selected, and the proof `decrypted` —
/// also after a Retry, where the client's second ClientHello has a random of its own
/// (tshark 4.0 opens none of those).
#[test]
fn quic_handshakes_open_with_their_key_logs() {
    let mut checked = 0;
    for (file, expected) in quic_expectations() {
        let file = file.as_str();
        let keys = common::captures().join(file.replace(".pcap", ".keys"));
        if !keys.exists() {
            continue;
        }
        let (log, _) = tlswhy::keys::KeyLog::from_file(&keys).unwrap();
        let settings = tlswhy::pipeline::Settings {
            keys: Some(std::sync::Arc::new(log)),
            ..Default::default()
        };
        let bytes = std::fs::read(common::captures().join(file)).unwrap();
        let mut report = tlswhy::pipeline::analyze_bytes(&bytes, file, &settings).unwrap();
        report.handshakes.retain(|h| h.quic.is_some());
        report.handshakes.sort_by_key(|h| h.frame);
        assert_eq!(report.handshakes.len(), expected.len(), "{file}");
        for (i, (h, want)) in report.handshakes.iter().zip(expected).enumerate() {
            let Some(code) = want["code_with_keys"].as_str() else {
                continue;
            };
            let at = format!("{file} #{i}");
            assert_eq!(
                h.verdict.code.as_str(),
                code,
                "{at}: {:?}",
                h.verdict.finding
            );
            // An attempt closed in its Initial (no ServerHello) has nothing to open.
            if h.server_hello.is_none() {
                assert_eq!(h.verdict.proof, tlswhy::diagnose::Proof::Inferred, "{at}");
                assert!(h.alpn.is_none(), "{at}");
                continue;
            }
            assert_eq!(h.verdict.proof, tlswhy::diagnose::Proof::Decrypted, "{at}");
            // tshark (whose reading expected.json holds) could not open every one: its
            // ALPN is compared where it did.
            if want["decrypted"] == true {
                assert_eq!(h.alpn.as_deref(), want["alpn"]["selected"].as_str(), "{at}");
            } else {
                assert!(h.alpn.is_some(), "{at}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} attempts checked with keys");
}

/// A fallback links both records: the QUIC attempt cites the TCP SYN, the TCP record
/// the attempt, and the TCP handshake is judged as usual.
#[test]
fn a_fallback_links_both_records() {
    let report = common::analyze(&common::captures().join("quic_tcp_fallback.pcap"));
    let quic = report.handshakes.iter().find(|h| h.quic.is_some()).unwrap();
    let tcp = report.handshakes.iter().find(|h| h.quic.is_none()).unwrap();
    assert_eq!(quic.verdict.code.as_str(), "quic_blocked_fell_back_to_tcp");
    assert_eq!(tcp.verdict.code.as_str(), "ok");
    let syn = quic.quic.as_ref().unwrap().tcp_fallback.expect("the SYN");
    assert_eq!(syn.frame, tcp.frame);
    assert_eq!(
        tcp.fallback_from_quic.expect("the attempt").frame,
        quic.frame
    );
    assert!(report
        .handshakes
        .iter()
        .filter(|h| h.quic.is_some())
        .all(|h| h.fallback_from_quic.is_none()));
}

/// TCP connections the client tried beside an unanswered attempt that the server never
/// answered (refused) are no fallback: the attempt is udp_blocked, and its evidence
/// cites the first of them (after the attempt or racing it) and their number.
#[test]
fn refused_tcp_is_no_fallback() {
    let file = "quic_firefox_refused.pcap";
    let Flows { tcp, .. } = flows(file);
    let report = common::analyze(&common::captures().join(file));
    let quic = report.handshakes.iter().find(|h| h.quic.is_some()).unwrap();
    assert_eq!(quic.verdict.code.as_str(), "udp_blocked");
    assert_eq!(quic.quic.as_ref().unwrap().tcp_fallback, None);
    let start = quic.ts;
    let tried: Vec<&At> = tcp
        .iter()
        .filter(|(.., syn, _, answered)| {
            !answered && (syn.ts > start || tlswhy::quic::table::raced(*syn, start))
        })
        .map(|(_, _, syn, ..)| syn)
        .collect();
    assert!(!tried.is_empty(), "no refused SYN beside the attempt");
    let cited: Vec<(u64, u32)> = quic
        .verdict
        .details
        .iter()
        .filter_map(|d| match d {
            Detail::TcpUnanswered { at, count } => Some((at.frame, *count)),
            _ => None,
        })
        .collect();
    assert_eq!(cited, [(tried[0].frame, tried.len() as u32)]);
}

/// Each QUIC record's ladder has a line per datagram (up to its bound), in frame order
/// within the attempt, the first the client's Initial; a datagram's line names its
/// packets, and a CONNECTION_CLOSE in an Initial its error.
#[test]
fn quic_records_carry_their_ladder() {
    let mut checked = 0;
    for entry in std::fs::read_dir(common::captures()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("quic_") || !name.ends_with(".pcap") {
            continue;
        }
        let report = common::analyze(&path);
        for h in report.handshakes.iter().filter(|h| h.quic.is_some()) {
            let ladder = &h.messages;
            assert!(!ladder.is_empty(), "{name} frame {}: no ladder", h.frame);
            assert!(ladder.len() <= tlswhy::quic::attempt::MAX_EVENTS);
            assert_eq!(ladder[0].at.frame, h.frame, "{name}");
            assert_eq!(ladder[0].from, Dir::ToServer, "{name}");
            assert!(ladder[0].what.to_string().starts_with("Initial (CRYPTO)"));
            assert!(ladder.windows(2).all(|w| w[0].at.frame < w[1].at.frame));
            assert!(ladder.iter().all(|e| e.at.frame <= h.last_frame));
            let quic = h.quic.as_ref().unwrap();
            if let Some(close) = quic
                .connection_close
                .as_ref()
                .filter(|c| c.kind == "transport")
            {
                let line = ladder.iter().find(|e| e.at.frame == close.at.frame);
                if let Some(line) = line.filter(|_| !close_in_handshake(h)) {
                    let error = close.error.as_deref().unwrap();
                    assert!(line.what.to_string().contains(error), "{name}: {line:?}");
                }
            }
            let icmp = ladder
                .iter()
                .filter(|e| e.what.to_string().as_str() == "ICMP port unreachable")
                .count();
            if ladder.len() < tlswhy::quic::attempt::MAX_EVENTS {
                assert_eq!(icmp as u32, quic.icmp_port_unreachable, "{name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} QUIC records");
}

/// A close read in a Handshake packet opened with keys (the ladder names Initials' only).
fn close_in_handshake(h: &tlswhy::record::Handshake) -> bool {
    h.alerts.iter().any(|a| a.decrypted)
}

/// Connection IDs and stateless resets as tshark read them (`expected.json`): an
/// attempt whose client went on from another port (NAT rebinding; tshark's
/// `quic.connection.number` joins them) is one record listing the other address; where
/// tshark saw a stateless reset (its token, with the key log) the record has one, with
/// keys proven by the token; every attempt names the connection IDs of its Initials.
#[test]
fn connection_ids_join_paths_and_resets_are_found() {
    let mut paths = 0;
    let mut resets = 0;
    for (file, expected) in quic_expectations() {
        let keys = common::captures().join(file.replace(".pcap", ".keys"));
        let path = common::captures().join(&file);
        let bytes = std::fs::read(&path).unwrap();
        let mut runs = vec![(false, tlswhy::pipeline::Settings::default())];
        if keys.exists() {
            let (log, _) = tlswhy::keys::KeyLog::from_file(&keys).unwrap();
            let settings = tlswhy::pipeline::Settings {
                keys: Some(std::sync::Arc::new(log)),
                ..Default::default()
            };
            runs.push((true, settings));
        }
        for (keyed, settings) in runs {
            let mut report = tlswhy::pipeline::analyze_bytes(&bytes, &file, &settings).unwrap();
            report.handshakes.retain(|h| h.quic.is_some());
            report.handshakes.sort_by_key(|h| h.frame);
            assert_eq!(report.handshakes.len(), expected.len(), "{file}");
            for (i, (h, want)) in report.handshakes.iter().zip(&expected).enumerate() {
                let at = format!("{file} #{i} (keys: {keyed})");
                let q = h.quic.as_ref().unwrap();
                // tshark follows the connection to the client's new port; the attempt
                // was judged before (the rebinding came after the handshake), so the
                // record names no other path, and the new port's datagrams are no
                // attempt of their own (the count above).
                let client_paths = want["client_paths"].as_u64().unwrap_or(1) as usize;
                assert!(q.migrated_to.is_empty(), "{at}");
                paths += client_paths - 1;
                assert!(
                    q.client_initial_dcid.is_some() && q.client_scid.is_some(),
                    "{at}"
                );
                let reset = q
                    .stateless_reset
                    .as_ref()
                    .filter(|_| h.verdict.code == tlswhy::diagnose::Code::QuicStatelessReset);
                if want["stateless_reset"] == true {
                    let reset = reset.unwrap_or_else(|| panic!("{at}: no reset"));
                    let proof = serde_json::to_value(reset.proof).unwrap();
                    let token = keyed && want["decrypted"] == true;
                    assert_eq!(proof == "token", token, "{at}: {proof}");
                    resets += 1;
                } else {
                    assert!(reset.is_none(), "{at}: {reset:?}");
                }
            }
        }
    }
    assert!(paths >= 2 && resets >= 4, "{paths} paths, {resets} resets");
}

/// The join by connection ID, on the datagrams of the NAT rebinding in
/// `quic_migration.pcap` given to the table in another order: the client's Initial,
/// the server's answer, then the client's first datagram from its new port — which
/// comes while the attempt is still open and is addressed to the server's connection
/// ID — belongs to the attempt, as a second path.
#[test]
fn a_datagram_from_a_new_port_to_the_servers_connection_id_joins_its_attempt() {
    let file = "quic_migration.pcap";
    let bytes = std::fs::read(common::captures().join(file)).unwrap();
    let packets: Vec<_> = PacketReader::new(&bytes, file).unwrap().collect();
    let udp_ports = |p: &tlswhy::capture::Packet<'_>| {
        let sliced = SlicedPacket::from_ethernet(p.data)
            .or_else(|_| SlicedPacket::from_ip(p.data))
            .ok()?;
        match sliced.transport {
            Some(TransportSlice::Udp(u)) => Some((u.source_port(), u.destination_port())),
            _ => None,
        }
    };
    let (client_port, server_port) = udp_ports(&packets[0]).unwrap();
    let new_port = packets
        .iter()
        .find(|p| udp_ports(p).is_some_and(|(s, d)| d == server_port && s != client_port))
        .expect("a datagram from another client port");
    let server_answer = packets
        .iter()
        .find(|p| udp_ports(p).is_some_and(|(s, _)| s == server_port))
        .unwrap();
    let mut table = tlswhy::quic::table::QuicTable::default();
    let first = table
        .on_packet(&packets[0])
        .expect("the Initial starts an attempt");
    assert_eq!(table.on_packet(server_answer), Some(first));
    assert_eq!(
        table.on_packet(new_port),
        Some(first),
        "joined by connection ID"
    );
    let done = table.take_finished(new_port.ts, i64::MAX, true);
    assert_eq!(done.len(), 1);
    let path = &done[0].paths;
    assert_eq!(path.len(), 1);
    assert_ne!(path[0].client.port(), client_port);
    assert_eq!(path[0].at.frame, new_port.frame);
    // Without the server's answer (no connection ID known yet), the same datagram
    // belongs to nothing.
    let mut table = tlswhy::quic::table::QuicTable::default();
    table.on_packet(&packets[0]).unwrap();
    assert_eq!(table.on_packet(new_port), None);
}

/// An attempt quiet for the idle timeout takes no later datagram, whether or not it has
/// been collected in between: on `quic_udp_blocked.pcap` (aioquic's Initials at 0, 0.2,
/// 0.6, 1.4 and 3.0 s, its close at 5 s) with a 1 s timeout, the attempt ends with the
/// Initial at 1.4 s, and the later datagrams are what they would be after it was taken
/// (a retransmitted Initial starts an attempt of its own) — the same attempts, collected
/// at every datagram or only at the end.
#[test]
fn a_quiet_attempt_takes_no_later_datagram_whenever_it_is_collected() {
    let file = "quic_udp_blocked.pcap";
    let bytes = std::fs::read(common::captures().join(file)).unwrap();
    let packets: Vec<_> = PacketReader::new(&bytes, file).unwrap().collect();
    let second = 1_000_000_000;
    let run = |collect_each: bool| {
        let mut table = tlswhy::quic::table::QuicTable::with_idle_timeout(second);
        let mut done = Vec::new();
        for p in &packets {
            table.on_packet(p);
            if collect_each {
                done.extend(table.take_finished(p.ts, second, false));
            }
        }
        done.extend(table.take_finished(packets.last().unwrap().ts, second, true));
        done.sort_by_key(|f| f.attempt.first.map(|at| at.frame));
        done.iter()
            .map(|f| (f.attempt.client_initials, f.attempt.last.map(|at| at.frame)))
            .collect::<Vec<_>>()
    };
    let at_the_end = run(false);
    assert_eq!(at_the_end, run(true));
    // The first attempt: four Initials (0 to 1.4 s), the fifth came 1.6 s later.
    assert_eq!(at_the_end[0].0, 4, "{at_the_end:?}");
}
