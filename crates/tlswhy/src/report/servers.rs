//! Handshake attempts by server: how many each server got, how many failed by code, and
//! the first names (SNI) clients asked it for — the text report's per-server table.
//!
//! Memory is bounded: at most [`MAX_SERVERS`] servers are tracked per capture, each
//! with at most [`NAMES_KEPT`] names; the attempts to servers beyond them are added up
//! in one row ([`ServerTable::untracked`]), so the table still adds up to the totals.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use crate::diagnose::Code;

/// The servers of `reports` (their rows merged across captures), the most failures
/// first, then the most handshakes, then by address; and the attempts to servers
/// beyond those tracked, added up.
pub fn most_failed_first(
    reports: &[crate::record::CaptureReport],
) -> (Vec<(SocketAddr, ServerRow)>, ServerRow) {
    let mut merged: HashMap<SocketAddr, ServerRow> = HashMap::new();
    let mut untracked = ServerRow::default();
    for r in reports {
        for (server, row) in r.servers.iter() {
            merged.entry(server).or_default().merge(row);
        }
        untracked.merge(r.servers.untracked());
    }
    let mut rows: Vec<(SocketAddr, ServerRow)> = merged.into_iter().collect();
    rows.sort_by(|a, b| {
        (b.1.failed(), b.1.handshakes)
            .cmp(&(a.1.failed(), a.1.handshakes))
            .then(a.0.cmp(&b.0))
    });
    (rows, untracked)
}

/// Servers tracked per capture.
pub const MAX_SERVERS: usize = 4096;

/// Names (SNI) kept per server.
pub const NAMES_KEPT: usize = 3;

/// The attempts to one server (or to several, added up).
#[derive(Clone, Debug)]
pub struct ServerRow {
    /// Handshake attempts, failed or not.
    pub handshakes: u64,
    /// Failed attempts by code (indexed by `Code as usize`: no allocation per row).
    failures: [u64; Code::ALL.len()],
    /// The first distinct names clients asked for, up to [`NAMES_KEPT`].
    pub names: Vec<String>,
    /// More distinct names were asked for than [`NAMES_KEPT`].
    pub more_names: bool,
}

impl Default for ServerRow {
    fn default() -> Self {
        ServerRow {
            handshakes: 0,
            failures: [0; Code::ALL.len()],
            names: Vec::new(),
            more_names: false,
        }
    }
}

impl ServerRow {
    /// Failed attempts.
    pub fn failed(&self) -> u64 {
        self.failures.iter().sum()
    }

    /// Failed attempts by code, codes without one left out, in catalog order.
    pub fn failures(&self) -> impl Iterator<Item = (Code, u64)> + '_ {
        Code::ALL
            .iter()
            .zip(&self.failures)
            .filter(|(_, &n)| n > 0)
            .map(|(&code, &n)| (code, n))
    }

    fn count(&mut self, code: Code) {
        self.handshakes += 1;
        if code != Code::Ok {
            self.failures[code as usize] += 1;
        }
    }

    fn count_named(&mut self, code: Code, sni: Option<&str>) {
        self.count(code);
        if let Some(name) = sni {
            self.name(name);
        }
    }

    /// Adds `other`'s attempts (and names, within [`NAMES_KEPT`]) to this row.
    pub fn merge(&mut self, other: &ServerRow) {
        self.handshakes += other.handshakes;
        for (mine, theirs) in self.failures.iter_mut().zip(&other.failures) {
            *mine += theirs;
        }
        for name in &other.names {
            self.name(name);
        }
        self.more_names |= other.more_names;
    }

    fn name(&mut self, name: &str) {
        if self.names.iter().any(|n| n == name) {
            return;
        }
        if self.names.len() < NAMES_KEPT {
            self.names.push(name.to_string());
        } else {
            self.more_names = true;
        }
    }
}

/// The servers of one capture.
#[derive(Clone, Debug, Default)]
pub struct ServerTable {
    rows: HashMap<Server, ServerRow, foldhash::fast::RandomState>,
    untracked: ServerRow,
}

/// A server address as a key hashed in one or two words (every attempt looks one up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Server(SocketAddr);

impl Hash for Server {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.0 {
            SocketAddr::V4(a) => {
                state.write_u64(u64::from(a.ip().to_bits()) << 16 | u64::from(a.port()))
            }
            SocketAddr::V6(a) => {
                state.write_u128(a.ip().to_bits());
                state.write_u16(a.port());
            }
        }
    }
}

impl ServerTable {
    /// Counts one handshake attempt to `server`.
    pub fn add(&mut self, server: SocketAddr, code: Code, sni: Option<&str>) {
        let server = Server(server);
        if let Some(row) = self.rows.get_mut(&server) {
            row.count_named(code, sni);
        } else if self.rows.len() >= MAX_SERVERS {
            self.untracked.count(code);
        } else {
            self.rows.entry(server).or_default().count_named(code, sni);
        }
    }

    /// Every server tracked with its row, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, &ServerRow)> {
        self.rows.iter().map(|(server, row)| (server.0, row))
    }

    /// The attempts to servers beyond the first [`MAX_SERVERS`], added up (no names).
    pub fn untracked(&self) -> &ServerRow {
        &self.untracked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_attempts_failures_and_a_few_names() {
        let mut table = ServerTable::default();
        let a: SocketAddr = "192.0.2.1:443".parse().unwrap();
        for (code, sni) in [
            (Code::Ok, Some("a.test")),
            (Code::NoSharedCipher, Some("a.test")),
            (Code::NoSharedCipher, Some("b.test")),
            (Code::CertUnknownCa, None),
            (Code::Ok, Some("c.test")),
            (Code::Ok, Some("d.test")),
        ] {
            table.add(a, code, sni);
        }
        let row = &table.rows[&Server(a)];
        assert_eq!(row.handshakes, 6);
        assert_eq!(row.failed(), 3);
        let failures: Vec<(Code, u64)> = row.failures().collect();
        assert_eq!(
            failures,
            [(Code::NoSharedCipher, 2), (Code::CertUnknownCa, 1)]
        );
        assert_eq!(row.names, ["a.test", "b.test", "c.test"]);
        assert!(row.more_names);
    }

    #[test]
    fn servers_beyond_the_cap_are_added_up() {
        let mut table = ServerTable::default();
        for i in 0..MAX_SERVERS as u16 + 5 {
            let server = SocketAddr::from(([192, 0, 2, 1], 1000 + i));
            table.add(server, Code::ServerResetAfterClientHello, Some("x.test"));
        }
        // A tracked server still gets its own attempts.
        table.add(SocketAddr::from(([192, 0, 2, 1], 1000)), Code::Ok, None);
        assert_eq!(table.iter().count(), MAX_SERVERS);
        assert_eq!(table.untracked().handshakes, 5);
        assert_eq!(table.untracked().failed(), 5);
        assert!(table.untracked().names.is_empty());
        let total: u64 = table.iter().map(|(_, r)| r.handshakes).sum();
        assert_eq!(total + 5, MAX_SERVERS as u64 + 6);
    }
}
