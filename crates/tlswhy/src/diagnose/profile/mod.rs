//! Server profiles: what the other connections of a capture reveal about a server — the
//! suites and versions it picks, the names on the certificates it serves. The diagnosis
//! of a failing connection cites them ("the server picked TLS_RSA_WITH_AES_128_CBC_SHA256
//! for 10.0.0.5:51000; this client offered none of the suites it picks").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use std::sync::Arc;

mod bytes;
pub use bytes::ProfileBytesError;

use crate::capture::Timestamp;
use crate::connection::Connection;
use crate::decode::Tunnel;
use crate::tls::cert::CertFacts;
use crate::tls::wire::ProtocolVersion;

/// Application protocols kept per server: a server selects one or two.
const MAX_ALPN_KEPT: usize = 8;
/// Virtual hosts (server names asked for) whose certificate names are kept per server.
const MAX_VIRTUAL_HOSTS_KEPT: usize = 256;
/// Resumed sessions, and clients that resumed with a pre-shared key, kept per server.
const MAX_RESUMPTIONS_KEPT: usize = 65_536;

/// Times kept per client and leaf of handshakes completed without data
/// ([`ServerProfile::silent_handshakes`]): enough to see a steady interval.
const MAX_SILENT_TIMES: usize = 8;
/// Silent handshakes at a steady interval that make a client a monitor.
const MIN_POLLS: usize = 3;

/// What a capture shows about one server (ip:port).
#[derive(Clone, Debug, Default)]
pub struct ServerProfile {
    /// Suite picked in a ServerHello → how many connections.
    pub suites_picked: BTreeMap<u16, u32>,
    /// Version picked in a ServerHello → how many connections.
    pub versions_picked: BTreeMap<u16, u32>,
    /// A client that offered TLS 1.3 got an older version: the server does not speak it
    /// (seen picking only older versions for clients that offered only those, it may).
    pub declined_tls13: bool,
    /// Names on leaf certificates the server sent.
    pub certificate_names: BTreeSet<String>,
    /// The client of the earliest connection that got a ServerHello (its first frame
    /// and address), for evidence: the same whatever order connections are added in.
    pub example_client: Option<(u64, SocketAddr)>,
    pub server_hellos: u32,
    /// ServerHellos to hellos that asked for a host name, and to hellos that asked for
    /// none (no server_name, or an IP address in it): a server that answers only the
    /// first routes by name (an SNI proxy) and has nothing for the others.
    pub answered_by_host_name: [u32; 2],
    /// Leaf certificates (a digest of serial and issuer, [`leaf_key`]) that some client
    /// accepted: it completed a TLS 1.2 handshake with that leaf and sent application
    /// data.
    pub accepted_leaves: BTreeSet<u64>,
    /// When each client address first accepted each leaf for the name it asked for
    /// (as for `accepted_leaves`; [`acceptance_key`]), for leaves that were expired
    /// when seen: a client seen accepting an expired certificate for a name has a
    /// policy that takes it.
    pub accepted_by_client: HashMap<(u64, IpAddr), Timestamp, foldhash::fast::RandomState>,
    /// When each client address completed a TLS ≤ 1.2 handshake with each leaf
    /// ([`leaf_key`]) and sent nothing after it (the earliest `MAX_SILENT_TIMES`,
    /// sorted): a client that does that again and again at a steady interval polls the
    /// server (a health check, a monitor), it does not reject the certificate each time.
    pub silent_handshakes: HashMap<(u64, IpAddr), Vec<Timestamp>, foldhash::fast::RandomState>,
    /// Names on the leaves this server sent to clients that asked for no host name (no
    /// server_name, or an IP address in it): what such a client could only check
    /// against the address it connected to. Certificates of named virtual hosts are
    /// not mixed in.
    pub names_without_host_name: BTreeSet<String>,
    /// The chain the server sent, by the server name the client asked for: each
    /// virtual host's own certificate (the first seen; at most
    /// `MAX_VIRTUAL_HOSTS_KEPT` hosts). Shared with the chain cache, not copied.
    pub chain_by_server_name: BTreeMap<String, Arc<Vec<CertFacts>>>,
    /// Application protocols the server selected (ALPN), at most a few.
    pub alpn_selected: BTreeSet<String>,
    /// TLS ≤ 1.2 sessions a connection resumed (an abbreviated handshake): the digests
    /// of the session id or ticket it presented. An earlier handshake that issued one
    /// of them was accepted by its client.
    pub resumed_sessions: HashSet<u64, foldhash::fast::RandomState>,
    /// TLS 1.3: when each client address last resumed with a pre-shared key the
    /// server accepted; its earlier completed handshakes got a ticket it kept.
    pub psk_resumed: HashMap<IpAddr, Timestamp, foldhash::fast::RandomState>,
    /// The chain whose names were added last: a server sends the same (shared, see
    /// `tls::cert::chain_facts`) chain to client after client.
    last_chain: Option<Arc<Vec<CertFacts>>>,
}

/// Profiles of every server in a capture (or a set of captures).
#[derive(Clone, Debug, Default)]
pub struct Profiles {
    /// By server address and tunnel tenant: two tenants may reuse one address for two
    /// servers.
    by_server: HashMap<(SocketAddr, Tunnel), ServerProfile, foldhash::fast::RandomState>,
}

/// A leaf's identity for [`ServerProfile::accepted_leaves`]: FNV-1a over its serial and
/// issuer (no allocation per connection; collisions only cost a missed failure).
pub fn leaf_key(leaf: &CertFacts) -> u64 {
    let bytes = leaf.serial.bytes().chain([0]).chain(leaf.issuer.bytes());
    fnv1a(0xcbf2_9ce4_8422_2325, bytes)
}

/// A leaf ([`leaf_key`]) and the server name a client asked for with it, for
/// [`ServerProfile::accepted_by_client`]: the same hash continued over the name.
pub fn acceptance_key(leaf_key: u64, server_name: Option<&str>) -> u64 {
    fnv1a(leaf_key, server_name.unwrap_or_default().bytes().chain([0]))
}

/// FNV-1a (64-bit) from the state `h` over `bytes`.
fn fnv1a(mut h: u64, bytes: impl Iterator<Item = u8>) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `key`'s value in `map` (made by `new` when absent), while the map holds fewer than
/// [`MAX_RESUMPTIONS_KEPT`] keys or already holds this one; `None` when it is full.
fn bounded_entry<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V, foldhash::fast::RandomState>,
    key: K,
    new: impl FnOnce() -> V,
) -> Option<&mut V> {
    if map.len() < MAX_RESUMPTIONS_KEPT || map.contains_key(&key) {
        Some(map.entry(key).or_insert_with(new))
    } else {
        None
    }
}

/// Keeps `t` as `key`'s time in `map` when it is the earliest ([`bounded_entry`]).
fn keep_earliest<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Timestamp, foldhash::fast::RandomState>,
    key: K,
    t: Timestamp,
) {
    if let Some(first) = bounded_entry(map, key, || t) {
        *first = (*first).min(t);
    }
}

/// Adds `t` to `times` (sorted), keeping the earliest [`MAX_SILENT_TIMES`].
fn keep_silent_time(times: &mut Vec<Timestamp>, t: Timestamp) {
    let at = times.partition_point(|&x| x <= t);
    if at < MAX_SILENT_TIMES {
        times.insert(at, t);
        times.truncate(MAX_SILENT_TIMES);
    }
}

impl ServerProfile {
    /// The server answered hellos that asked for a host name and never one that asked
    /// for none ([`ServerProfile::answered_by_host_name`]).
    pub fn answers_only_host_names(&self) -> bool {
        self.answered_by_host_name[0] > 0 && self.answered_by_host_name[1] == 0
    }

    /// Some client accepted `leaf` (see [`ServerProfile::accepted_leaves`]).
    pub fn accepted(&self, leaf: &CertFacts) -> bool {
        self.accepted_leaves.contains(&leaf_key(leaf))
    }

    /// `client` completed handshakes with `leaf` and sent nothing, at least
    /// `MIN_POLLS` times at a steady interval (the longest gap at most 1.5 times the
    /// shortest): it polls the server. A client that retries after a failure backs off
    /// (gaps that double), a person retries by hand.
    pub fn polled_by(&self, leaf: &CertFacts, client: IpAddr) -> bool {
        let Some(times) = self.silent_handshakes.get(&(leaf_key(leaf), client)) else {
            return false;
        };
        if times.len() < MIN_POLLS {
            return false;
        }
        let gaps = times.windows(2).map(|w| w[1].0.saturating_sub(w[0].0));
        let (shortest, longest) = gaps.fold((i64::MAX, 0), |(lo, hi), g| (lo.min(g), hi.max(g)));
        shortest > 0 && longest.saturating_mul(2) <= shortest.saturating_mul(3)
    }

    /// `client`, asking for `server_name`, accepted `leaf` on a connection that started
    /// before `before` (see [`ServerProfile::accepted_by_client`]).
    pub fn accepted_earlier_by(
        &self,
        leaf: &CertFacts,
        server_name: Option<&str>,
        client: IpAddr,
        before: Timestamp,
    ) -> bool {
        self.accepted_by_client
            .get(&(acceptance_key(leaf_key(leaf), server_name), client))
            .is_some_and(|&t| t < before)
    }
}

impl ServerProfile {
    /// Remembers what a resumed handshake presented (see
    /// [`ServerProfile::resumed_sessions`] and [`ServerProfile::psk_resumed`]).
    fn note_resumption(&mut self, conn: &Connection) {
        let facts = &conn.tls().facts;
        let (Some(ch), Some(sh)) = (&facts.client_hello, &facts.server_hello) else {
            return;
        };
        if facts.negotiated_tls13() {
            if sh.value.accepted_psk() && self.psk_resumed.len() < MAX_RESUMPTIONS_KEPT {
                let last = self.psk_resumed.entry(conn.client.ip()).or_insert(sh.at.ts);
                *last = (*last).max(sh.at.ts);
            }
            return;
        }
        // Abbreviated: the server went from its hello to ChangeCipherSpec, no certificate.
        let abbreviated =
            facts.server_certificates.is_none() && facts.change_cipher_spec[1].is_some();
        if !abbreviated || self.resumed_sessions.len() >= MAX_RESUMPTIONS_KEPT {
            return;
        }
        let ch = &ch.value;
        if ch.session_id != 0 && ch.session_id == sh.value.session_id {
            self.resumed_sessions.insert(ch.session_id);
        }
        if ch.session_ticket_digest != 0 {
            self.resumed_sessions.insert(ch.session_ticket_digest);
        }
    }

    /// A later connection resumed the session this completed handshake set up: its
    /// client had accepted the server.
    pub fn resumed_later(&self, conn: &Connection) -> bool {
        let facts = &conn.tls().facts;
        let Some(sh) = &facts.server_hello else {
            return false;
        };
        if facts.negotiated_tls13() {
            let finished = crate::diagnose::rules::client_finished(facts);
            return finished.is_some_and(|f| {
                self.psk_resumed
                    .get(&conn.client.ip())
                    .is_some_and(|&t| t > f.ts)
            });
        }
        [sh.value.session_id, facts.issued_ticket]
            .iter()
            .any(|d| *d != 0 && self.resumed_sessions.contains(d))
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
        let p = self
            .by_server
            .entry((conn.server, conn.tunnel))
            .or_default();
        let host_name = facts
            .client_hello
            .as_ref()
            .and_then(|ch| ch.value.host_name());
        let no_host_name = facts.client_hello.is_some() && host_name.is_none();
        if let Some(sh) = &facts.server_hello {
            *p.suites_picked.entry(sh.value.cipher_suite.0).or_default() += 1;
            *p.versions_picked.entry(sh.value.version.0).or_default() += 1;
            if sh.value.version.rank() < ProtocolVersion::TLS1_3.rank()
                && facts
                    .client_hello
                    .as_ref()
                    .is_some_and(|ch| ch.value.offers_version(ProtocolVersion::TLS1_3))
            {
                p.declined_tls13 = true;
            }
            if let Some(alpn) = &sh.value.alpn {
                if p.alpn_selected.len() < MAX_ALPN_KEPT && !p.alpn_selected.contains(alpn) {
                    p.alpn_selected.insert(alpn.clone());
                }
            }
            p.server_hellos += 1;
            p.answered_by_host_name[usize::from(no_host_name)] += 1;
            p.note_resumption(conn);
            let example = (conn.first.frame, conn.client);
            if p.example_client.is_none_or(|e| e > example) {
                p.example_client = Some(example);
            }
        }
        if let Some(chain) = &facts.server_certificates {
            let chain_at = chain.at;
            let chain = &chain.value.certificates;
            // A completed TLS ≤ 1.2 handshake (its certificate in the clear), or a TLS
            // 1.3 one opened with keys, was accepted when the client sent data after
            // it, and silent when it did not.
            let readable = !facts.negotiated_tls13() || facts.decrypted.iter().all(|&d| d);
            let completed = readable && facts.finished.iter().all(Option::is_some);
            let accepted = completed && facts.encrypted[0].count > 0;
            let silent = completed && facts.encrypted[0].count == 0;
            let same_chain = p.last_chain.as_ref().is_some_and(|c| Arc::ptr_eq(c, chain));
            if let Some(host) = host_name {
                let known = &mut p.chain_by_server_name;
                if known.len() < MAX_VIRTUAL_HOSTS_KEPT && !known.contains_key(host) {
                    known.insert(host.to_string(), Arc::clone(chain));
                }
            }
            if let (true, Some(leaf)) = (no_host_name, chain.first()) {
                if leaf.parse_error.is_none() {
                    p.names_without_host_name.extend(leaf.names());
                }
            }
            if let (true, Some(leaf)) = (silent, chain.first()) {
                let key = (leaf_key(leaf), conn.client.ip());
                if let Some(times) = bounded_entry(&mut p.silent_handshakes, key, Vec::new) {
                    keep_silent_time(times, conn.first.ts);
                }
            }
            if let (true, Some(leaf)) = (accepted, chain.first()) {
                let key = leaf_key(leaf);
                p.accepted_leaves.insert(key);
                // Who took it is kept only for a leaf expired when seen: the only
                // leaves a later connection's verdict asks about
                // (`outcome::rejection_after_handshake`), and a cheap test.
                if leaf.parse_error.is_none() && leaf.expired_at(chain_at.ts.as_unix_secs()) {
                    let asked = facts
                        .client_hello
                        .as_ref()
                        .and_then(|ch| ch.value.server_name.as_deref());
                    let client = (acceptance_key(key, asked), conn.client.ip());
                    keep_earliest(&mut p.accepted_by_client, client, conn.first.ts);
                }
            }
            if same_chain {
                return;
            }
            if let Some(leaf) = chain.first() {
                p.certificate_names.extend(leaf.names());
            }
            p.last_chain = Some(Arc::clone(chain));
        }
    }

    /// Merges another capture's profiles (same server address and tenant = same server).
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
            p.declined_tls13 |= q.declined_tls13;
            // A server usually shows every shard the same names: comparing the sorted
            // sets is cheaper than inserting each name again.
            if p.certificate_names != q.certificate_names {
                p.certificate_names.extend(q.certificate_names);
            }
            p.server_hellos += q.server_hellos;
            for (n, m) in p
                .answered_by_host_name
                .iter_mut()
                .zip(q.answered_by_host_name)
            {
                *n += m;
            }
            p.accepted_leaves.extend(q.accepted_leaves);
            for (key, t) in q.accepted_by_client {
                keep_earliest(&mut p.accepted_by_client, key, t);
            }
            for (key, times) in q.silent_handshakes {
                if let Some(kept) = bounded_entry(&mut p.silent_handshakes, key, Vec::new) {
                    for t in times {
                        keep_silent_time(kept, t);
                    }
                }
            }
            p.names_without_host_name.extend(q.names_without_host_name);
            for (host, chain) in q.chain_by_server_name {
                let known = &mut p.chain_by_server_name;
                if known.len() < MAX_VIRTUAL_HOSTS_KEPT {
                    known.entry(host).or_insert(chain);
                }
            }
            for d in q.resumed_sessions {
                if p.resumed_sessions.len() < MAX_RESUMPTIONS_KEPT {
                    p.resumed_sessions.insert(d);
                }
            }
            for (client, t) in q.psk_resumed {
                if let Some(last) = bounded_entry(&mut p.psk_resumed, client, || t) {
                    *last = (*last).max(t);
                }
            }
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

    /// The profile of the server at `server` reached through `tunnel`.
    pub fn get(&self, server: SocketAddr, tunnel: Tunnel) -> Option<&ServerProfile> {
        self.by_server.get(&(server, tunnel))
    }

    /// What each server showed, for reports: at most `limit` servers (those with the
    /// most ServerHellos), tunnel tenants of one address together.
    pub fn summaries(&self, limit: usize) -> BTreeMap<SocketAddr, ProfileSummary> {
        let mut merged: HashMap<SocketAddr, ProfileSummary, foldhash::fast::RandomState> =
            HashMap::default();
        for ((server, _), p) in &self.by_server {
            merged.entry(*server).or_default().add(p);
        }
        let mut all: Vec<(SocketAddr, ProfileSummary)> = merged.into_iter().collect();
        all.sort_by(|a, b| {
            b.1.server_hellos
                .cmp(&a.1.server_hellos)
                .then(a.0.cmp(&b.0))
        });
        all.truncate(limit);
        all.into_iter()
            .map(|(server, mut s)| {
                s.finish();
                (server, s)
            })
            .collect()
    }
}

/// Names on a server's certificates a report lists, at most.
pub const SUMMARY_NAMES: usize = 6;
/// Suites a report lists per server, at most (the most picked).
pub const SUMMARY_SUITES: usize = 4;

/// A server's profile as a report shows it: the versions and suites it picked (most
/// picked first, with counts), the protocols it selected, the names on its
/// certificates.
#[derive(Clone, Debug, Default)]
pub struct ProfileSummary {
    pub server_hellos: u32,
    pub versions: Vec<(u16, u32)>,
    pub suites: Vec<(u16, u32)>,
    /// More suites were picked than are listed.
    pub more_suites: bool,
    pub alpn: Vec<String>,
    pub certificate_names: Vec<String>,
    /// More names were on its certificates than are listed.
    pub more_names: bool,
}

impl ProfileSummary {
    fn add(&mut self, p: &ServerProfile) {
        self.server_hellos += p.server_hellos;
        for (&v, &n) in &p.versions_picked {
            add_count(&mut self.versions, v, n);
        }
        for (&s, &n) in &p.suites_picked {
            add_count(&mut self.suites, s, n);
        }
        add_new(&mut self.alpn, &p.alpn_selected);
        add_new(&mut self.certificate_names, &p.certificate_names);
    }

    /// Adds another capture's summary of the same address (the lists stay cut).
    pub fn merge(&mut self, other: &ProfileSummary) {
        self.server_hellos += other.server_hellos;
        for &(v, n) in &other.versions {
            add_count(&mut self.versions, v, n);
        }
        for &(s, n) in &other.suites {
            add_count(&mut self.suites, s, n);
        }
        add_new(&mut self.alpn, &other.alpn);
        add_new(&mut self.certificate_names, &other.certificate_names);
        let (more_suites, more_names) = (
            self.more_suites || other.more_suites,
            self.more_names || other.more_names,
        );
        self.finish();
        self.more_suites |= more_suites;
        self.more_names |= more_names;
    }

    /// Most picked first; the lists cut to what a report shows.
    fn finish(&mut self) {
        self.versions
            .sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        self.suites
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.more_suites = self.suites.len() > SUMMARY_SUITES;
        self.suites.truncate(SUMMARY_SUITES);
        self.certificate_names.sort();
        self.more_names = self.certificate_names.len() > SUMMARY_NAMES;
        self.certificate_names.truncate(SUMMARY_NAMES);
        self.alpn.sort();
    }
}

/// Appends the strings of `from` (in order) not yet in `into`, the first
/// [`SUMMARY_NAMES`] + 1 of them: a summary lists the first few of a sorted set and
/// says whether there were more, so a certificate with thousands of names costs no
/// more than one with seven.
fn add_new<'a>(into: &mut Vec<String>, from: impl IntoIterator<Item = &'a String>) {
    for s in from.into_iter().take(SUMMARY_NAMES + 1) {
        if !into.contains(s) {
            into.push(s.clone());
        }
    }
}

fn add_count(counts: &mut Vec<(u16, u32)>, key: u16, n: u32) {
    match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, c)) => *c += n,
        None => counts.push((key, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Silent handshakes make a client a poller only at a steady interval, three times
    /// at least; the times are kept sorted and bounded whatever order they come in.
    #[test]
    fn only_a_steady_interval_polls() {
        let leaf = CertFacts {
            serial: "01".into(),
            issuer: "CN=test CA".into(),
            ..Default::default()
        };
        let client: IpAddr = [10, 0, 0, 1].into();
        let profile_of = |secs: &[f64]| {
            let mut p = ServerProfile::default();
            let times = p
                .silent_handshakes
                .entry((leaf_key(&leaf), client))
                .or_default();
            for s in secs {
                keep_silent_time(times, Timestamp((s * 1e9) as i64));
            }
            p
        };
        assert!(profile_of(&[3.0, 1.0, 2.05, 4.0]).polled_by(&leaf, client));
        assert!(!profile_of(&[1.0, 2.0]).polled_by(&leaf, client));
        // Backing off: gaps of 0.3 s and 1.6 s.
        assert!(!profile_of(&[0.0, 0.3, 1.9]).polled_by(&leaf, client));
        assert!(!profile_of(&[1.0, 2.0, 3.0]).polled_by(&leaf, [10, 0, 0, 2].into()));
        let many: Vec<f64> = (0..20).rev().map(f64::from).collect();
        let p = profile_of(&many);
        let kept = &p.silent_handshakes[&(leaf_key(&leaf), client)];
        assert_eq!(kept.len(), MAX_SILENT_TIMES);
        assert_eq!(kept[0], Timestamp(0));
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
    }
}
