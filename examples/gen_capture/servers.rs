//! Servers: their names, addresses, certificate chains (real DER certificates from
//! `benches/data/`) and the suites they pick.

use crate::profiles::*;
use crate::rng::Rng;

pub(crate) const INTERMEDIATE: &[u8] = include_bytes!("../../benches/data/intermediate.der");
pub(crate) const LEAF_RSA: &[u8] = include_bytes!("../../benches/data/leaf-rsa.der");
pub(crate) const LEAF_ECDSA: &[u8] = include_bytes!("../../benches/data/leaf-ecdsa.der");
pub(crate) const LEAF_RSA_TEST: &[u8] = include_bytes!("../../benches/data/leaf-rsa-test.der");
pub(crate) const CORP_LEAF: &[u8] = include_bytes!("../../benches/data/corp-leaf.der");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Rsa,
    Ecdsa,
}

/// Top-level domains of the servers, each with the chain whose leaf covers
/// `*.WORD.TLD` for every word (see benches/data/README.md).
pub(crate) const DOMAINS: [(&str, &[&[u8]], Key); 5] = [
    ("example", &[LEAF_RSA, INTERMEDIATE], Key::Rsa),
    ("example.com", &[LEAF_RSA, INTERMEDIATE], Key::Rsa),
    ("example.net", &[LEAF_ECDSA, INTERMEDIATE], Key::Ecdsa),
    ("example.org", &[LEAF_ECDSA, INTERMEDIATE], Key::Ecdsa),
    ("test", &[LEAF_RSA_TEST, INTERMEDIATE], Key::Rsa),
];
pub(crate) const WORDS: [&str; 20] = [
    "shop", "news", "mail", "cloud", "bank", "video", "maps", "docs", "games", "music", "store",
    "pay", "auth", "cdn", "photos", "travel", "health", "jobs", "sport", "weather",
];
pub(crate) const PREFIXES: [&str; 8] = ["www", "api", "static", "login", "app", "img", "edge", "m"];

#[derive(Clone)]
pub(crate) struct Server {
    pub(crate) name: String,
    pub(crate) ip4: [u8; 4],
    pub(crate) ip6: [u8; 16],
    pub(crate) key: Key,
    pub(crate) chain: &'static [&'static [u8]],
    pub(crate) tls13: bool,
    pub(crate) post_quantum: bool,
    pub(crate) chain_len: usize,
}

impl Server {
    pub(crate) fn addresses(idx: u64) -> ([u8; 4], [u8; 16]) {
        let ip4 = [
            198,
            18 + ((idx >> 16) % 2) as u8,
            (idx >> 8) as u8,
            idx as u8,
        ];
        let mut ip6 = [
            0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        ip6[8..].copy_from_slice(&idx.to_be_bytes());
        (ip4, ip6)
    }

    /// A public server `PREFIX[N].WORD.TLD`: TLD varies fastest, so the popular
    /// servers mix key types.
    pub(crate) fn public(rng: &mut Rng, idx: u64) -> Server {
        let (tld, chain, key) = DOMAINS[(idx % 5) as usize];
        let word = WORDS[(idx / 5 % 20) as usize];
        let prefix = PREFIXES[(idx / 100 % 8) as usize];
        let round = idx / 800;
        let name = if round == 0 {
            format!("{prefix}.{word}.{tld}")
        } else {
            format!("{prefix}{round}.{word}.{tld}")
        };
        let (ip4, ip6) = Server::addresses(idx);
        let tls13 = rng.chance(0.8);
        Server {
            name,
            ip4,
            ip6,
            key,
            chain,
            tls13,
            post_quantum: tls13 && rng.chance(0.5),
            chain_len: chain.iter().map(|d| d.len()).sum(),
        }
    }

    /// An intranet server with a leaf from a private CA, sent alone; TLS 1.2 only.
    pub(crate) fn intranet(i: u64) -> Server {
        const CHAIN: &[&[u8]] = &[CORP_LEAF];
        let (ip4, ip6) = Server::addresses(100_000 + i);
        Server {
            name: format!("intranet{i}.corp.example"),
            ip4,
            ip6,
            key: Key::Ecdsa,
            chain: CHAIN,
            tls13: false,
            post_quantum: false,
            chain_len: CORP_LEAF.len(),
        }
    }

    pub(crate) fn tls12_suite(&self, p: &Profile) -> u16 {
        let prefs: &[u16] = match self.key {
            Key::Rsa => &SERVER12_RSA_SUITES,
            Key::Ecdsa => &SERVER12_ECDSA_SUITES,
        };
        *prefs
            .iter()
            .find(|s| p.suites.contains(s))
            .expect("every TLS 1.2 profile shares a suite with every server")
    }
}
