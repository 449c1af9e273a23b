//! Server profiles: what the other connections of a capture reveal about a server — the
//! suites and versions it picks, the names on the certificates it serves. The diagnosis
//! of a failing connection cites them ("the server picked TLS_RSA_WITH_AES_128_CBC_SHA256
//! for 10.0.0.5:51000; this client offered none of the suites it picks").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;

use std::sync::Arc;

use crate::connection::Connection;
use crate::tls::cert::CertFacts;

/// Application protocols kept per server: a server selects one or two.
const MAX_ALPN_KEPT: usize = 8;

/// What a capture shows about one server (ip:port).
#[derive(Clone, Debug, Default)]
pub struct ServerProfile {
    /// Suite picked in a ServerHello → how many connections.
    pub suites_picked: BTreeMap<u16, u32>,
    /// Version picked in a ServerHello → how many connections.
    pub versions_picked: BTreeMap<u16, u32>,
    /// Names on leaf certificates the server sent.
    pub certificate_names: BTreeSet<String>,
    /// The client of the earliest connection that got a ServerHello (its first frame
    /// and address), for evidence: the same whatever order connections are added in.
    pub example_client: Option<(u64, SocketAddr)>,
    pub server_hellos: u32,
    /// Leaf certificates (a digest of serial and issuer, [`leaf_key`]) that some client
    /// accepted: it completed a TLS 1.2 handshake with that leaf and sent application
    /// data.
    pub accepted_leaves: BTreeSet<u64>,
    /// Names on the leaves this server sent to clients that asked for no host name (no
    /// server_name, or an IP address in it): what such a client could only check
    /// against the address it connected to. Certificates of named virtual hosts are
    /// not mixed in.
    pub names_without_host_name: BTreeSet<String>,
    /// Application protocols the server selected (ALPN), at most a few.
    pub alpn_selected: BTreeSet<String>,
    /// The chain whose names were added last: a server sends the same (shared, see
    /// `tls::cert::chain_facts`) chain to client after client.
    last_chain: Option<Arc<Vec<CertFacts>>>,
}

/// Profiles of every server in a capture (or a set of captures).
#[derive(Clone, Debug, Default)]
pub struct Profiles {
    by_server: HashMap<SocketAddr, ServerProfile, foldhash::fast::RandomState>,
}

/// A leaf's identity for [`ServerProfile::accepted_leaves`]: FNV-1a over its serial and
/// issuer (no allocation per connection; collisions only cost a missed failure).
pub fn leaf_key(leaf: &CertFacts) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in leaf.serial.bytes().chain([0]).chain(leaf.issuer.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl ServerProfile {
    /// Some client accepted `leaf` (see [`ServerProfile::accepted_leaves`]).
    pub fn accepted(&self, leaf: &CertFacts) -> bool {
        self.accepted_leaves.contains(&leaf_key(leaf))
    }
}

impl Profiles {
    /// Builds profiles from connections.
    pub fn build<'a>(connections: impl IntoIterator<Item = &'a Connection>) -> Profiles {
        let mut profiles = Profiles::default();
        for conn in connections {
            profiles.add(conn);
        }
        profiles
    }

    /// Adds what one connection shows.
    pub fn add(&mut self, conn: &Connection) {
        let facts = &conn.tls().facts;
        if facts.server_hello.is_none() && facts.server_certificates.is_none() {
            return;
        }
        let p = self.by_server.entry(conn.server).or_default();
        if let Some(sh) = &facts.server_hello {
            *p.suites_picked.entry(sh.value.cipher_suite.0).or_default() += 1;
            *p.versions_picked.entry(sh.value.version.0).or_default() += 1;
            if let Some(alpn) = &sh.value.alpn {
                if p.alpn_selected.len() < MAX_ALPN_KEPT && !p.alpn_selected.contains(alpn) {
                    p.alpn_selected.insert(alpn.clone());
                }
            }
            p.server_hellos += 1;
            let example = (conn.first.frame, conn.client);
            if p.example_client.is_none_or(|e| e > example) {
                p.example_client = Some(example);
            }
        }
        if let Some(chain) = &facts.server_certificates {
            let chain = &chain.value.certificates;
            let accepted = !facts.negotiated_tls13()
                && facts.finished.iter().all(Option::is_some)
                && facts.encrypted[0].count > 0;
            let no_host_name = facts.client_hello.as_ref().is_some_and(|ch| {
                ch.value.server_name.is_none() || ch.value.server_name_ip().is_some()
            });
            if let (true, Some(leaf)) = (no_host_name, chain.first()) {
                if leaf.parse_error.is_none() {
                    p.names_without_host_name.extend(leaf.names());
                }
            }
            if let (true, Some(leaf)) = (accepted, chain.first()) {
                p.accepted_leaves.insert(leaf_key(leaf));
            }
            if p.last_chain.as_ref().is_some_and(|c| Arc::ptr_eq(c, chain)) {
                return;
            }
            if let Some(leaf) = chain.first() {
                p.certificate_names.extend(leaf.names());
            }
            p.last_chain = Some(Arc::clone(chain));
        }
    }

    /// Merges another capture's profiles (same server address = same server).
    pub fn merge(&mut self, mut other: Profiles) {
        // Keep the larger map and merge the smaller into it: the first shard's profiles
        // move in whole instead of being copied entry by entry into an empty map.
        if other.by_server.len() > self.by_server.len() {
            std::mem::swap(self, &mut other);
        }
        for (server, q) in other.by_server {
            let p = self.by_server.entry(server).or_default();
            for (k, v) in q.suites_picked {
                *p.suites_picked.entry(k).or_default() += v;
            }
            for (k, v) in q.versions_picked {
                *p.versions_picked.entry(k).or_default() += v;
            }
            // A server usually shows every shard the same names: comparing the sorted
            // sets is cheaper than inserting each name again.
            if p.certificate_names != q.certificate_names {
                p.certificate_names.extend(q.certificate_names);
            }
            p.server_hellos += q.server_hellos;
            p.accepted_leaves.extend(q.accepted_leaves);
            p.names_without_host_name.extend(q.names_without_host_name);
            for alpn in q.alpn_selected {
                if p.alpn_selected.len() < MAX_ALPN_KEPT {
                    p.alpn_selected.insert(alpn);
                }
            }
            p.example_client = match (p.example_client, q.example_client) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }

    pub fn get(&self, server: &SocketAddr) -> Option<&ServerProfile> {
        self.by_server.get(server)
    }
}
