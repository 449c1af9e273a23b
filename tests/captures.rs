//! Every handshake in `captures/` (recorded from real TLS programs by
//! `captures/record.sh`) gets the verdict `captures/expected.json` states, and the two
//! stories of DESIGN.md read as DESIGN.md says they must.

mod common;

use std::collections::BTreeSet;

use tlswhy::diagnose::Code;
use tlswhy::record::Handshake;
use tlswhy::report::wording::Worded;

/// Each capture's expected handshakes: over TCP (`handshakes`), then over QUIC
/// (`quic`), each list in the order its attempts start.
fn expected() -> Vec<(String, Vec<serde_json::Value>)> {
    let doc = common::read_json(&common::captures().join("expected.json"));
    doc["captures"]
        .as_array()
        .expect("captures array")
        .iter()
        .map(|c| {
            let mut all = c["handshakes"].as_array().unwrap().clone();
            all.extend(c["quic"].as_array().cloned().unwrap_or_default());
            (c["file"].as_str().unwrap().to_string(), all)
        })
        .collect()
}

/// The handshakes of a capture in the order expected.json lists them: those over TCP
/// by the start of their connections (the report puts verdicts that cite other
/// connections last), then those over QUIC.
fn handshakes_of(file: &str) -> Vec<Handshake> {
    let mut handshakes = common::analyze(&common::captures().join(file)).handshakes;
    handshakes.sort_by_key(|h| (h.quic.is_some(), h.frame));
    handshakes
}

#[test]
fn every_handshake_gets_its_expected_verdict() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, want) in expected() {
        let got = handshakes_of(&file);
        if got.len() != want.len() {
            failures.push(format!(
                "{file}: {} handshake attempts, expected {}: {:?}",
                got.len(),
                want.len(),
                got.iter()
                    .map(|h| (&h.server, h.verdict.code.as_str()))
                    .collect::<Vec<_>>()
            ));
            continue;
        }
        for (i, (h, w)) in got.iter().zip(&want).enumerate() {
            checked += 1;
            let code = w["code"].as_str().unwrap();
            if h.verdict.code.as_str() != code {
                failures.push(format!(
                    "{file} #{i} {} → {}: got {} ({}), expected {code}",
                    h.client,
                    h.server,
                    h.verdict.code,
                    Worded::of(h).summary
                ));
            }
            if let Some(server) = w["server"].as_str() {
                if h.server.to_string() != server {
                    failures.push(format!(
                        "{file} #{i}: server {} expected {server}",
                        h.server
                    ));
                }
            }
            if let Some(alerts) = w.get("alerts").and_then(|a| a.as_array()) {
                let want: Vec<(String, u64)> = alerts
                    .iter()
                    .map(|a| {
                        (
                            a["from"].as_str().unwrap().to_string(),
                            a["description"].as_u64().unwrap(),
                        )
                    })
                    .collect();
                let got: Vec<(String, u64)> = h
                    .alerts
                    .iter()
                    .filter(|a| !a.encrypted)
                    .map(|a| {
                        (
                            a.from.sender().to_string(),
                            a.description.map_or(999, |d| d.0 as u64),
                        )
                    })
                    .collect();
                if got != want {
                    failures.push(format!(
                        "{file} #{i}: plaintext alerts {got:?}, expected {want:?}"
                    ));
                }
            }
            if let Some(sni) = w.get("sni") {
                if h.sni.as_deref() != sni.as_str() {
                    failures.push(format!("{file} #{i}: sni {:?} expected {sni}", h.sni));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} handshakes checked");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_catalog_code_is_covered_by_a_capture() {
    let mut covered = BTreeSet::new();
    for (_, want) in expected() {
        for w in want {
            covered.insert(w["code"].as_str().unwrap().to_string());
        }
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "no capture for {missing:?}");
}

#[test]
fn story_no_shared_cipher_names_both_sides() {
    let hs = handshakes_of("no_shared_cipher.pcap");
    let ok = hs
        .iter()
        .find(|h| h.verdict.code == Code::Ok)
        .expect("a successful client");
    let failed = hs
        .iter()
        .find(|h| h.verdict.code == Code::NoSharedCipher)
        .expect("the failing client");
    let picked = ok.cipher.as_deref().expect("negotiated suite");
    assert!(picked.starts_with("TLS_RSA_WITH_AES_"), "{picked}");
    let v = Words::of(failed);
    // The summary says it in those words: what the server accepts, what the client offered.
    assert!(
        v.summary.contains("No cipher suite in common"),
        "{}",
        v.summary
    );
    assert!(
        v.summary.contains(picked),
        "server profile missing: {}",
        v.summary
    );
    assert!(v.summary.contains("handshake_failure"), "{}", v.summary);
    let evidence = v.evidence.join("\n");
    assert!(evidence.contains("only ECDHE key exchange"), "{evidence}");
    assert!(
        evidence.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        "offer not listed: {evidence}"
    );
    assert!(
        evidence.contains("handshake_failure (40) from the server"),
        "{evidence}"
    );
    assert!(
        evidence.contains("frame "),
        "evidence must cite packets: {evidence}"
    );
    assert!(
        v.fix.contains("server") && v.fix.contains("client"),
        "{}",
        v.fix
    );
    assert!(v.fix.contains(picked), "{}", v.fix);
    assert_eq!(failed.version, None);
    assert!(!failed.established);
}

#[test]
fn story_relay_blames_the_server_name() {
    let hs = handshakes_of("relay_ip_sni.pcap");
    let failing: Vec<&Handshake> = hs.iter().filter(|h| h.verdict.code != Code::Ok).collect();
    assert!(failing.len() >= 4, "{failing:?}");
    for h in &failing {
        let v = Words::of(h);
        assert!(
            matches!(v.code, Code::SniIpLiteral | Code::SniMissing),
            "{} → {}: {}",
            h.client,
            h.server,
            v.code
        );
        let all = format!("{}\n{}\n{}", v.summary, v.evidence.join("\n"), v.fix);
        assert!(
            all.contains("emby.example.com"),
            "certificate names not shown: {all}"
        );
        // Where the client's own port is this connection's, the fix spells out
        // `curl --resolve NAME:PORT:IP`; behind the relay (the backend leg) the port the
        // client used is not in this connection, so the fix names a hosts entry instead.
        let direct = h
            .sni
            .as_deref()
            .is_none_or(|sni| sni == h.server.ip().to_string());
        let how = if direct { "--resolve" } else { "hosts entry" };
        assert!(
            v.fix.contains(how),
            "{} → {}: {}",
            h.client,
            h.server,
            v.fix
        );
        assert!(v.fix.contains("emby.example.com"), "{}", v.fix);
        if v.code == Code::SniIpLiteral {
            assert!(v.summary.contains("127.0.0.2"), "{}", v.summary);
            assert!(v.fix.contains("relay"), "{}", v.fix);
        }
    }
    // Connecting by name through the same relay works.
    assert!(hs
        .iter()
        .any(|h| h.verdict.code == Code::Ok && h.sni.as_deref() == Some("emby.example.com")));
}

/// Every connection of every capture in captures/ and the corpus, finished, with the
/// time of the capture's last packet; and whether the corpus was there (see
/// [`common::corpus_if_present`]; `test` names the caller).
#[allow(clippy::type_complexity)]
fn finished_connections_of_all_captures(
    test: &str,
) -> (
    Vec<(
        std::path::PathBuf,
        Vec<tlswhy::connection::Connection>,
        tlswhy::capture::Timestamp,
    )>,
    bool,
) {
    use tlswhy::capture::{PacketReader, Timestamp};
    use tlswhy::connection::FlowTable;
    use tlswhy::decode::Decoder;
    use tlswhy::diagnose::Settings;
    use tlswhy::flow::At;

    let mut files: Vec<_> = std::fs::read_dir(common::captures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let corpus = common::corpus_if_present(&format!("the corpus part of {test}"));
    if let Some(dir) = &corpus {
        files.extend(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()));
    }
    files.sort();
    let settings = Settings::default();
    let mut all = Vec::new();
    for path in files
        .into_iter()
        .filter(|p| tlswhy::inputs::is_capture_name(p))
    {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(reader) = PacketReader::new(&bytes, "t") else {
            continue;
        };
        let mut decoder = Decoder::new();
        let mut table = FlowTable::new(settings.tls_ports.clone(), settings.limits);
        let mut end = Timestamp(0);
        for packet in reader {
            end = end.max(packet.ts);
            if let Ok(segment) = decoder.decode(&packet) {
                let at = At {
                    frame: packet.frame,
                    ts: packet.ts,
                };
                table.on_segment(&segment, at);
            }
        }
        all.push((path, table.finish(), end));
    }
    (all, corpus.is_some())
}

/// The evidence is data that stands on its own: every failure on captures/ and the
/// corpus carries details, each cited frame lies within its connection, the finding
/// belongs to the verdict's code, and the details are in frame order.
#[test]
fn every_failure_carries_its_evidence_as_data() {
    use tlswhy::diagnose::{diagnose, Profiles, Settings};

    let settings = Settings::default();
    let (mut ok, mut failed) = (0, 0);
    let (all, with_corpus) = finished_connections_of_all_captures(
        "tests/captures.rs every_failure_carries_its_evidence_as_data",
    );
    for (path, connections, end) in all {
        let profiles = Profiles::build(&connections);
        for conn in &connections {
            let Some(v) = diagnose(conn, &profiles, &settings, end) else {
                continue;
            };
            let what = format!("{} frame {}", path.display(), conn.first.frame);
            assert_eq!(v.finding.code(), v.code, "{what}: finding of another code");
            if v.code == Code::Ok {
                ok += 1;
                continue;
            }
            failed += 1;
            assert!(!v.details.is_empty(), "{what}: no details");
            let frames: Vec<u64> = v
                .details
                .iter()
                .filter_map(|d| d.at())
                .map(|at| at.frame)
                .collect();
            for &frame in &frames {
                assert!(
                    (conn.first.frame..=conn.last.frame).contains(&frame),
                    "{what}: cites frame {frame} outside the connection"
                );
            }
            assert!(
                frames.windows(2).all(|w| w[0] <= w[1]),
                "{what}: {frames:?}"
            );
        }
    }
    // captures/ alone holds 9 successes, the corpus most of the others.
    let min_ok = if with_corpus { 20 } else { 5 };
    assert!(ok >= min_ok && failed >= 40, "{ok} ok, {failed} failed");
}

/// The workers' server profiles are merged at the end of a capture: whichever way the
/// connections were split and merged, each server's profile is the one made from all
/// of them.
#[test]
fn merged_profiles_equal_the_profiles_of_all_connections() {
    use tlswhy::diagnose::{Profiles, ServerProfile};

    let facts = |p: Option<&ServerProfile>| {
        p.map(|p| {
            (
                p.suites_picked.clone(),
                p.versions_picked.clone(),
                p.certificate_names.clone(),
                p.example_client,
                p.server_hellos,
            )
        })
    };
    let mut servers_compared = 0;
    let (all, with_corpus) = finished_connections_of_all_captures(
        "tests/captures.rs merged_profiles_equal_the_profiles_of_all_connections",
    );
    for (path, connections, _) in all {
        let whole = Profiles::build(&connections);
        let (even, odd): (Vec<_>, Vec<_>) = connections
            .iter()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        let half = |part: &[(usize, &tlswhy::connection::Connection)]| {
            Profiles::build(part.iter().map(|(_, c)| *c))
        };
        let mut even_then_odd = half(&even);
        even_then_odd.merge(half(&odd));
        let mut odd_then_even = half(&odd);
        odd_then_even.merge(half(&even));
        let mut from_empty = Profiles::default();
        from_empty.merge(half(&even));
        from_empty.merge(Profiles::default());
        from_empty.merge(half(&odd));
        for conn in &connections {
            let want = facts(whole.get(conn.server, conn.tunnel));
            let what = format!("{} server {}", path.display(), conn.server);
            assert_eq!(
                facts(even_then_odd.get(conn.server, conn.tunnel)),
                want,
                "{what}"
            );
            assert_eq!(
                facts(odd_then_even.get(conn.server, conn.tunnel)),
                want,
                "{what}"
            );
            assert_eq!(
                facts(from_empty.get(conn.server, conn.tunnel)),
                want,
                "{what}"
            );
            servers_compared += usize::from(want.is_some());
        }
    }
    // captures/ alone gives 39.
    let min_servers = if with_corpus { 50 } else { 30 };
    assert!(servers_compared >= min_servers, "{servers_compared}");
}

/// A verdict in words, for assertions on what a person reads.
struct Words {
    code: Code,
    summary: String,
    evidence: Vec<String>,
    fix: String,
}

impl Words {
    fn of(h: &tlswhy::record::Handshake) -> Words {
        let w = Worded::of(h);
        Words {
            code: h.verdict.code,
            summary: w.summary,
            evidence: w.evidence,
            fix: w.fix,
        }
    }
}

/// A relay's two legs carry the same ClientHello: JSON keeps a record per leg, both with
/// the same `handshake_id`; the text report shows the handshake once, with its path, and
/// counts it once.
#[test]
fn relay_legs_are_one_handshake() {
    let out = common::tlswhy(
        &["analyze", "--format", "json", "captures/relay_ip_sni.pcap"],
        None,
    );
    let records = common::json_lines(&out.stdout);
    assert_eq!(records.len(), 12);
    let mut by_id: std::collections::BTreeMap<String, Vec<&serde_json::Value>> = Default::default();
    for r in &records {
        let id = r["handshake_id"]
            .as_str()
            .expect("a handshake id")
            .to_string();
        assert_eq!(id.len(), 16, "{id}");
        by_id.entry(id).or_default().push(r);
    }
    assert_eq!(by_id.len(), 6, "six handshakes, each on two legs");
    for legs in by_id.values() {
        assert_eq!(legs.len(), 2);
        assert_ne!(
            legs[0]["server"], legs[1]["server"],
            "the relay and the backend"
        );
        assert_eq!(legs[0]["verdict"]["code"], legs[1]["verdict"]["code"]);
    }
    let out = common::tlswhy(
        &[
            "analyze",
            "--all",
            "--color",
            "never",
            "captures/relay_ip_sni.pcap",
        ],
        None,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("6 TLS handshake attempts"),
        "counted once: {}",
        text.lines().last().unwrap_or("")
    );
    // Shown once each with its path: a success (--all) on its own, failures once per
    // group of alike ones (same code and SNI; every first leg goes to the relay).
    let shown: std::collections::BTreeSet<(String, String)> = by_id
        .iter()
        .map(|(id, legs)| {
            let code = legs[0]["verdict"]["code"].as_str().unwrap().to_string();
            let alike = if code == "ok" {
                id.clone()
            } else {
                legs[0]["sni"].to_string()
            };
            (code, alike)
        })
        .collect();
    assert!(shown.len() < by_id.len(), "no alike failures: {shown:?}");
    let relayed = text
        .lines()
        .filter(|l| l.contains("relayed: one handshake seen on 2 connections"))
        .count();
    assert_eq!(relayed, shown.len(), "{text}");
    assert!(text.contains("127.0.0.2:8080 → 127.0.0.3:443"), "{text}");
}

/// A capture taken with a snap length (tcpdump -s 300) cuts the server's flight: the
/// verdict is incomplete_capture, the evidence says the snap length cut the segment and
/// how much was kept — not a guess from the bytes that remain.
#[test]
fn a_snap_length_cut_is_named() {
    let hs = handshakes_of("snaplen_cut.pcap");
    assert_eq!(hs.len(), 1);
    let v = Words::of(&hs[0]);
    assert_eq!(v.code, Code::IncompleteCapture, "{}", v.summary);
    let evidence = v.evidence.join("\n");
    assert!(
        evidence.contains("snap length cut this segment")
            && evidence.contains("payload bytes kept"),
        "{evidence}"
    );
}

/// "ok, but": a completed handshake carries warnings for what is weak; failures carry
/// none; `--fail-on` takes warning names.
#[test]
fn completed_handshakes_carry_their_warnings() {
    let out = common::tlswhy(
        &[
            "analyze",
            "--format",
            "json",
            "captures/no_shared_cipher.pcap",
        ],
        None,
    );
    let records = common::json_lines(&out.stdout);
    for r in &records {
        let warnings: Vec<&str> = r["warnings"]
            .as_array()
            .expect("a warnings list")
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        if r["verdict"]["code"] == "ok" {
            // TLS_RSA_WITH_AES_..._CBC_SHA(256): RSA key exchange.
            assert_eq!(warnings, ["rsa_key_exchange"], "{r}");
        } else {
            assert!(warnings.is_empty(), "{r}");
        }
    }
    let fail = |spec: &str, capture: &str| {
        common::tlswhy(&["analyze", "--fail-on", spec, capture], None)
            .status
            .code()
    };
    assert_eq!(
        fail("rsa_key_exchange", "captures/no_shared_cipher.pcap"),
        Some(1)
    );
    assert_eq!(
        fail("old_version", "captures/no_shared_cipher.pcap"),
        Some(0)
    );
    assert_eq!(fail("rsa_key_exchange", "captures/ok_tls13.pcap"), Some(0));
    let text = common::tlswhy(
        &[
            "analyze",
            "--color",
            "never",
            "captures/no_shared_cipher.pcap",
        ],
        None,
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("ok, but:") && text.contains("rsa_key_exchange 2"),
        "{text}"
    );
    let bad = common::tlswhy(
        &["analyze", "--fail-on", "weak", "captures/ok_tls13.pcap"],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("warnings: old_version"));
}

/// Connections that expected.json lists as not handshake attempts (another protocol on a
/// TLS port, answered in kind; a refused connection beside a QUIC attempt) get no
/// record, yet are counted as TCP connections.
#[test]
fn other_protocols_on_tls_ports_are_not_attempts() {
    let doc = common::read_json(&common::captures().join("expected.json"));
    let mut checked = 0;
    for c in doc["captures"].as_array().unwrap() {
        let Some(others) = c.get("not_attempts").and_then(|o| o.as_array()) else {
            continue;
        };
        let file = c["file"].as_str().unwrap();
        let report = common::analyze(&common::captures().join(file));
        let attempts = c["handshakes"].as_array().unwrap().len();
        // QUIC attempts (listed under "quic") have records of their own.
        let tcp_records = report.handshakes.iter().filter(|h| h.quic.is_none());
        assert_eq!(tcp_records.count(), attempts, "{file}");
        assert_eq!(
            report.stats.connections as usize,
            attempts + others.len(),
            "{file}: every connection is counted"
        );
        for other in others {
            let server = other["server"].as_str().unwrap();
            assert!(
                report
                    .handshakes
                    .iter()
                    .all(|h| h.server.to_string() != server || h.sni.is_some()),
                "{file}: a record for a connection to {server} without a ClientHello"
            );
        }
        checked += others.len();
    }
    assert!(checked >= 2, "only {checked} such connections in captures/");
}

/// A certificate signed with SHA-1 (OpenSSL at security level 0 on both sides): the
/// handshake is ok, with the warning; the same CA's SHA-256 certificate has none.
#[test]
fn a_sha1_signed_certificate_is_a_warning() {
    use tlswhy::diagnose::Warning;
    let hs = handshakes_of("sha1_signature.pcap");
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].verdict.code.as_str(), "ok");
    assert_eq!(hs[0].warnings, [Warning::Sha1Signature]);
    assert_eq!(
        hs[0].certificates[0].signature_algorithm,
        "sha1WithRSAEncryption"
    );
    for h in handshakes_of("ok_tls12.pcap") {
        assert!(!h.warnings.contains(&Warning::Sha1Signature));
        assert_eq!(
            h.certificates[0].signature_algorithm,
            "sha256WithRSAEncryption"
        );
    }
}

/// TLS 1.2 ECDHE names its group in the ServerKeyExchange; RSA key exchange has none.
#[test]
fn tls12_group_comes_from_the_server_key_exchange() {
    let group = |h: &Handshake| h.server_hello.as_ref().and_then(|sh| sh.key_share_group);
    for h in handshakes_of("ok_tls12.pcap") {
        assert_eq!(h.version.as_deref(), Some("TLS 1.2"));
        assert_eq!(group(&h).and_then(|g| g.name()), Some("x25519"));
    }
    let rsa: Vec<Handshake> = handshakes_of("no_shared_cipher.pcap")
        .into_iter()
        .filter(|h| h.verdict.code.as_str() == "ok")
        .collect();
    assert!(!rsa.is_empty());
    assert!(rsa.iter().all(|h| group(h).is_none()));
}

/// A hello refused for want of a common key-exchange group is told by its groups: the
/// fix names groups, not suites (real servers: nginx with X25519:prime256v1, Go).
#[test]
fn a_refused_group_is_named_as_the_cause() {
    use tlswhy::diagnose::Fix;
    let hs = handshakes_of("refused_hellos_stacks.pcap");
    let groups: Vec<&Handshake> = hs
        .iter()
        .filter(|h| h.verdict.code.as_str() == "no_shared_cipher")
        .collect();
    assert_eq!(groups.len(), 2);
    for h in groups {
        let Fix::EnableCommonGroup { client_offers } = &h.verdict.fix else {
            panic!("{:?}", h.verdict.fix)
        };
        let offered: Vec<u16> = h
            .client_hello
            .as_ref()
            .unwrap()
            .facts
            .supported_groups
            .iter()
            .map(|g| g.0)
            .collect();
        assert!(!client_offers.is_empty());
        assert!(client_offers.iter().all(|g| offered.contains(&g.0)));
    }
}
