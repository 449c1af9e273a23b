//! Server profiles as bytes, to move them between processes: a cluster job analyzes
//! each capture on some worker, merges the profiles of all of them and hands the result
//! back to the workers whose verdicts cite profiles (`pipeline::Settings::server_profiles`).
//!
//! The format is JSON, versioned (`format`), with every field as the analysis holds it:
//! certificate text is not escaped here (it is, where a report shows it). Sets and maps
//! are written sorted, so equal profiles give equal bytes.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Profiles, ServerProfile};
use crate::capture::Timestamp;
use crate::decode::Tunnel;
use crate::tls::cert::CertFacts;

/// The value of `format` this version writes and reads.
const FORMAT: &str = "tlswhy-profiles/1";

/// Bytes that are not profiles of this format.
#[derive(Debug, thiserror::Error)]
#[error("not server profiles of format {FORMAT}: {0}")]
pub struct ProfileBytesError(String);

#[derive(Serialize, Deserialize)]
struct ProfilesWire {
    format: String,
    servers: Vec<ServerWire>,
}

#[derive(Serialize, Deserialize)]
struct ServerWire {
    server: SocketAddr,
    tunnel: u64,
    suites_picked: Vec<(u16, u32)>,
    versions_picked: Vec<(u16, u32)>,
    /// A client that offered TLS 1.3 got an older version (absent from files written
    /// before it was kept).
    #[serde(default)]
    declined_tls13: bool,
    certificate_names: Vec<String>,
    example_client: Option<(u64, SocketAddr)>,
    server_hellos: u32,
    /// ServerHellos to hellos with a host name and without (absent from files written
    /// before they were counted).
    #[serde(default)]
    answered_by_host_name: [u32; 2],
    accepted_leaves: Vec<u64>,
    /// Leaf, client address, when it first accepted the leaf (absent from files written
    /// before it was kept).
    #[serde(default)]
    accepted_by_client: Vec<(u64, IpAddr, i64)>,
    /// Leaf, client address, when it completed a handshake and sent nothing (absent
    /// from files written before they were kept).
    #[serde(default)]
    silent_handshakes: Vec<(u64, IpAddr, Vec<i64>)>,
    names_without_host_name: Vec<String>,
    chain_by_server_name: Vec<(String, Vec<CertWire>)>,
    alpn_selected: Vec<String>,
    resumed_sessions: Vec<u64>,
    psk_resumed: Vec<(IpAddr, i64)>,
}

/// [`CertFacts`] field for field, unescaped.
#[derive(Serialize, Deserialize)]
struct CertWire {
    subject: String,
    issuer: String,
    common_name: Option<String>,
    dns_names: Vec<String>,
    ip_addresses: Vec<IpAddr>,
    not_before: i64,
    not_after: i64,
    self_issued: bool,
    self_signed: bool,
    is_ca: bool,
    /// Absent from files written before it was kept.
    #[serde(default)]
    aia_ca_issuers: bool,
    serial: String,
    signature_algorithm: String,
    parse_error: Option<String>,
}

impl From<&CertFacts> for CertWire {
    fn from(c: &CertFacts) -> CertWire {
        CertWire {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            common_name: c.common_name.clone(),
            dns_names: c.dns_names.clone(),
            ip_addresses: c.ip_addresses.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            self_issued: c.self_issued,
            self_signed: c.self_signed,
            is_ca: c.is_ca,
            aia_ca_issuers: c.aia_ca_issuers,
            serial: c.serial.clone(),
            signature_algorithm: c.signature_algorithm.clone(),
            parse_error: c.parse_error.clone(),
        }
    }
}

impl From<CertWire> for CertFacts {
    fn from(c: CertWire) -> CertFacts {
        CertFacts {
            subject: c.subject,
            issuer: c.issuer,
            common_name: c.common_name,
            dns_names: c.dns_names,
            ip_addresses: c.ip_addresses,
            not_before: c.not_before,
            not_after: c.not_after,
            self_issued: c.self_issued,
            self_signed: c.self_signed,
            is_ca: c.is_ca,
            aia_ca_issuers: c.aia_ca_issuers,
            serial: c.serial,
            signature_algorithm: c.signature_algorithm,
            parse_error: c.parse_error,
        }
    }
}

fn sorted<T: Ord + Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.into_iter().collect();
    v.sort_unstable();
    v
}

impl ServerWire {
    fn of((server, tunnel): (SocketAddr, Tunnel), p: &ServerProfile) -> ServerWire {
        let mut psk_resumed: Vec<(IpAddr, i64)> =
            p.psk_resumed.iter().map(|(ip, t)| (*ip, t.0)).collect();
        psk_resumed.sort_unstable();
        let mut silent_handshakes: Vec<(u64, IpAddr, Vec<i64>)> = p
            .silent_handshakes
            .iter()
            .map(|((leaf, ip), times)| (*leaf, *ip, times.iter().map(|t| t.0).collect()))
            .collect();
        silent_handshakes.sort_unstable();
        ServerWire {
            server,
            tunnel: tunnel.0,
            suites_picked: p.suites_picked.iter().map(|(k, v)| (*k, *v)).collect(),
            versions_picked: p.versions_picked.iter().map(|(k, v)| (*k, *v)).collect(),
            declined_tls13: p.declined_tls13,
            certificate_names: p.certificate_names.iter().cloned().collect(),
            example_client: p.example_client,
            server_hellos: p.server_hellos,
            answered_by_host_name: p.answered_by_host_name,
            accepted_leaves: p.accepted_leaves.iter().copied().collect(),
            accepted_by_client: sorted(
                p.accepted_by_client
                    .iter()
                    .map(|((leaf, ip), t)| (*leaf, *ip, t.0)),
            ),
            silent_handshakes,
            names_without_host_name: p.names_without_host_name.iter().cloned().collect(),
            chain_by_server_name: p
                .chain_by_server_name
                .iter()
                .map(|(host, chain)| (host.clone(), chain.iter().map(CertWire::from).collect()))
                .collect(),
            alpn_selected: p.alpn_selected.iter().cloned().collect(),
            resumed_sessions: sorted(p.resumed_sessions.iter().copied()),
            psk_resumed,
        }
    }

    fn into_profile(self) -> ((SocketAddr, Tunnel), ServerProfile) {
        let profile = ServerProfile {
            suites_picked: self.suites_picked.into_iter().collect(),
            versions_picked: self.versions_picked.into_iter().collect(),
            declined_tls13: self.declined_tls13,
            certificate_names: self.certificate_names.into_iter().collect(),
            example_client: self.example_client,
            server_hellos: self.server_hellos,
            answered_by_host_name: self.answered_by_host_name,
            accepted_leaves: self.accepted_leaves.into_iter().collect(),
            accepted_by_client: self
                .accepted_by_client
                .into_iter()
                .map(|(leaf, ip, t)| ((leaf, ip), Timestamp(t)))
                .collect(),
            silent_handshakes: self
                .silent_handshakes
                .into_iter()
                .map(|(leaf, ip, times)| {
                    let mut times: Vec<Timestamp> = times.into_iter().map(Timestamp).collect();
                    times.sort_unstable();
                    times.truncate(super::MAX_SILENT_TIMES);
                    ((leaf, ip), times)
                })
                .collect(),
            names_without_host_name: self.names_without_host_name.into_iter().collect(),
            chain_by_server_name: self
                .chain_by_server_name
                .into_iter()
                .map(|(host, chain)| {
                    let chain: Vec<CertFacts> = chain.into_iter().map(CertFacts::from).collect();
                    (host, Arc::new(chain))
                })
                .collect::<BTreeMap<_, _>>(),
            alpn_selected: self.alpn_selected.into_iter().collect(),
            resumed_sessions: self.resumed_sessions.into_iter().collect(),
            psk_resumed: self
                .psk_resumed
                .into_iter()
                .map(|(ip, t)| (ip, Timestamp(t)))
                .collect(),
            last_chain: None,
        };
        ((self.server, Tunnel(self.tunnel)), profile)
    }
}

impl Profiles {
    /// The profiles as bytes ([`Profiles::from_bytes`] reads them back), servers in
    /// address order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut servers: Vec<ServerWire> = self
            .by_server
            .iter()
            .map(|(key, p)| ServerWire::of(*key, p))
            .collect();
        servers.sort_unstable_by_key(|s| (s.server, s.tunnel));
        let wire = ProfilesWire {
            format: FORMAT.to_string(),
            servers,
        };
        // Plain data into memory: does not fail.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Reads what [`Profiles::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Profiles, ProfileBytesError> {
        let wire: ProfilesWire =
            serde_json::from_slice(bytes).map_err(|e| ProfileBytesError(e.to_string()))?;
        if wire.format != FORMAT {
            return Err(ProfileBytesError(format!("format is '{}'", wire.format)));
        }
        let mut profiles = Profiles::default();
        profiles
            .by_server
            .extend(wire.servers.into_iter().map(ServerWire::into_profile));
        Ok(profiles)
    }

    /// Servers profiled.
    pub fn len(&self) -> usize {
        self.by_server.len()
    }

    /// No server profiled.
    pub fn is_empty(&self) -> bool {
        self.by_server.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{self, Settings};

    fn profiles_of(capture: &str) -> Profiles {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../captures")
            .join(capture);
        let settings = Settings {
            keep_profiles: true,
            ..Settings::default()
        };
        let report =
            pipeline::analyze_source(&crate::capture::Source::File(path), &settings).unwrap();
        report.profiles.expect("kept")
    }

    #[test]
    fn profiles_read_back_from_their_bytes_are_the_same() {
        for capture in [
            "no_shared_cipher.pcap",
            "relay_ip_sni.pcap",
            "mixed.pcap",
            "cert_name_mismatch.pcap",
            "resumption_proves_acceptance.pcap",
        ] {
            let profiles = profiles_of(capture);
            assert!(!profiles.is_empty(), "{capture}");
            let bytes = profiles.to_bytes();
            let back = Profiles::from_bytes(&bytes).unwrap();
            assert_eq!(back.len(), profiles.len());
            assert_eq!(back.to_bytes(), bytes, "{capture}");
            for (key, p) in &profiles.by_server {
                let q = &back.by_server[key];
                assert_eq!(p.suites_picked, q.suites_picked);
                assert_eq!(p.certificate_names, q.certificate_names);
                assert_eq!(p.accepted_leaves, q.accepted_leaves);
                assert_eq!(p.accepted_by_client, q.accepted_by_client);
                assert_eq!(p.silent_handshakes, q.silent_handshakes);
                assert_eq!(p.answered_by_host_name, q.answered_by_host_name);
                assert_eq!(p.resumed_sessions, q.resumed_sessions);
                assert_eq!(p.psk_resumed, q.psk_resumed);
                assert_eq!(p.chain_by_server_name, q.chain_by_server_name);
            }
        }
    }

    #[test]
    fn other_bytes_are_refused() {
        assert!(Profiles::from_bytes(b"").is_err());
        assert!(Profiles::from_bytes(br#"{"format":"x","servers":[]}"#).is_err());
        let e = Profiles::from_bytes(b"[1,2]").unwrap_err();
        assert!(e.to_string().contains(FORMAT), "{e}");
    }
}
