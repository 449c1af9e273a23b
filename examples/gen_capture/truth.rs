//! The truth file: one JSON line per connection with the facts the generator used, in
//! the schema of the Python generator `gen_bench_pcap.py`.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::profiles::*;
use crate::scenario::Attempt;
use crate::tcp::*;

#[derive(Serialize, Clone, Copy)]
pub(crate) struct AlertFact {
    pub(crate) from: &'static str,
    pub(crate) level: u8,
    pub(crate) desc: u8,
}

/// One line of the truth file (the schema of gen_bench_pcap.py).
#[derive(Serialize)]
pub(crate) struct Truth {
    pub(crate) conn: u64,
    pub(crate) ip_version: u8,
    pub(crate) client: String,
    pub(crate) client_port: u16,
    pub(crate) server: String,
    pub(crate) server_port: u16,
    pub(crate) sni: String,
    pub(crate) client_profile: &'static str,
    pub(crate) offered_versions: Vec<&'static str>,
    pub(crate) offered_suites: usize,
    pub(crate) pq_key_share: bool,
    pub(crate) version: Option<&'static str>,
    pub(crate) suite: Option<String>,
    pub(crate) group: Option<&'static str>,
    pub(crate) resumed: bool,
    pub(crate) outcome: &'static str,
    pub(crate) alert: Option<AlertFact>,
    pub(crate) reason: Option<&'static str>,
    pub(crate) cert_chain_bytes: Option<usize>,
    pub(crate) anomalies: Vec<&'static str>,
    /// `quic` for a QUIC attempt (`--quic-ratio`); left out over TCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transport: Option<&'static str>,
}

pub(crate) fn ip_text(addr: &[u8; 16], v6: bool) -> String {
    if v6 {
        Ipv6Addr::from(*addr).to_string()
    } else {
        Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string()
    }
}

pub(crate) fn truth_line(cid: u64, c: &Conn, sni: &str, a: &Attempt) -> Truth {
    let p = a.profile;
    let n = &a.negotiated;
    Truth {
        conn: cid,
        ip_version: if c.v6 { 6 } else { 4 },
        client: ip_text(&c.addr[CLIENT], c.v6),
        client_port: c.port[CLIENT],
        server: ip_text(&c.addr[SERVER], c.v6),
        server_port: c.port[SERVER],
        sni: sni.to_string(),
        client_profile: p.name,
        offered_versions: if p.offers_tls13() {
            p.versions.iter().map(|&v| version_name(v)).collect()
        } else {
            vec![version_name(p.legacy_version)]
        },
        offered_suites: p.suites.len(),
        pq_key_share: a.post_quantum,
        version: n.version,
        suite: n.suite.map(|s| format!("0x{s:04X}")),
        group: n.group,
        resumed: n.resumed,
        outcome: a.outcome.name(),
        alert: n.alert,
        reason: n.reason,
        cert_chain_bytes: (n.version.is_some() && !n.resumed).then_some(a.server.chain_len),
        anomalies: a.anomalies.names(),
        transport: None,
    }
}
