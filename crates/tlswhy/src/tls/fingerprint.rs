//! Client fingerprints of a ClientHello: JA4 (FoxIO's TLS client fingerprint, the
//! BSD-3-Clause part of JA4+; the rest of JA4+ is under another licence and is not
//! here) and JA3, its MD5-based predecessor, kept as a legacy field.
//!
//! JA4: `t13d1516h2_8daaf6152771_e5627efa2ab1` — the transport (`t` TCP, `q` QUIC), the
//! highest version offered, `d`/`i` for an SNI or none, the counts of suites and
//! extensions, the first and last characters of the first ALPN; then a truncated
//! SHA-256 of the sorted suites, and one of the sorted extensions (SNI and ALPN left
//! out) followed by the signature algorithms in their order. GREASE values are ignored
//! everywhere. The raw form (`ja4_r`) shows the lists instead of their hashes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::rc::Rc;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use super::hello::{ext, ClientHelloFacts};
use super::suites::is_grease;
use super::wire::{CipherSuite, ProtocolVersion, SignatureScheme};

/// A ClientHello's JA4 and its raw form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ja4 {
    pub ja4: String,
    pub ja4_r: String,
}

/// Distinct fingerprints remembered per thread; past this the cache starts over.
const JA4_CACHE_ENTRIES: usize = 4096;

/// What a JA4 is made of, GREASE left out: its first part, the suites sorted, the
/// extensions sorted without SNI and ALPN, the signature algorithms in order. Kept per
/// thread and refilled for each ClientHello.
#[derive(Default)]
struct Parts {
    a: String,
    suites: Vec<u16>,
    extensions: Vec<u16>,
    signature_algorithms: Vec<u16>,
}

struct Ja4Cache {
    /// The hellos without GREASE seen last, as they were sent, each with its JA4, by
    /// [`Verbatim::slot`]: a client that sends the same hello each time (most do; a
    /// GREASE one never does) is found by comparing its lists, without the key's pass
    /// over every value.
    verbatim: [Option<Verbatim>; VERBATIM_SLOTS],
    parts: Parts,
    /// JA4s by [`Ja4Key`] (a hash already: foldhash's few steps instead of SipHash).
    made: HashMap<u64, Rc<Ja4>, foldhash::fast::FixedState>,
}

thread_local! {
    static JA4_CACHE: RefCell<Ja4Cache> = RefCell::new(Ja4Cache {
        verbatim: Default::default(),
        parts: Parts::default(),
        made: HashMap::default(),
    });
}

/// The seed of every [`Ja4Key`], random, one for the process: a key taken as a hello
/// is parsed is looked up by whichever thread makes its record.
static KEY_SEED: LazyLock<u64> =
    LazyLock::new(|| foldhash::fast::RandomState::default().hash_one(0u8));

/// The key a ClientHello's JA4 is found by ([`ClientHelloFacts::ja4_key`]): a digest of
/// everything its JA4 is made of, GREASE values as one, the suites and extensions in
/// any order. Never 0 (which is no key).
pub fn ja4_key(ch: &ClientHelloFacts, quic: bool) -> u64 {
    Ja4Key::of(ch, quic, *KEY_SEED).max(1)
}

/// JA4 of a ClientHello sent over TCP (`quic`: over QUIC), shared with the other
/// hellos of this thread that have the same one.
pub fn ja4(ch: &ClientHelloFacts, quic: bool) -> Rc<Ja4> {
    JA4_CACHE.with_borrow_mut(|cache| {
        // The key taken as the hello was parsed (its transport, TCP, is in it): found
        // without reading the hello's lists.
        if let (key @ 1.., false) = (ch.ja4_key, quic) {
            return cache.made_by_key(key, ch, quic);
        }
        let slot = (!ch.grease).then(|| Verbatim::slot(ch, quic));
        if let Some(Some(seen)) = slot.map(|i| &cache.verbatim[i]) {
            if seen.is(ch, quic) {
                return seen.ja4.clone();
            }
        }
        let made = cache.made_by_key(ja4_key(ch, quic), ch, quic);
        if let Some(i) = slot {
            cache.verbatim[i] = Some(Verbatim::of(ch, quic, made.clone()));
        }
        made
    })
}

impl Ja4Cache {
    /// The JA4 of `ch`, whose [`Ja4Key`] is `key`: made unless it was before.
    fn made_by_key(&mut self, key: u64, ch: &ClientHelloFacts, quic: bool) -> Rc<Ja4> {
        if let Some(known) = self.made.get(&key) {
            return known.clone();
        }
        self.parts.fill(ch, quic);
        let made = Rc::new(self.parts.fingerprint());
        if self.made.len() >= JA4_CACHE_ENTRIES {
            self.made.clear();
        }
        self.made.insert(key, made.clone());
        made
    }
}

/// Hellos kept as they were sent ([`Ja4Cache::verbatim`]).
const VERBATIM_SLOTS: usize = 16;

/// What a JA4 reads of a hello, as it was sent, and that JA4.
struct Verbatim {
    quic: bool,
    legacy_version: u16,
    first_alpn_ends: Option<(u8, u8)>,
    supported_versions: Vec<ProtocolVersion>,
    cipher_suites: Vec<CipherSuite>,
    extensions: Vec<u16>,
    signature_algorithms: Vec<SignatureScheme>,
    ja4: Rc<Ja4>,
}

impl Verbatim {
    fn of(ch: &ClientHelloFacts, quic: bool, ja4: Rc<Ja4>) -> Verbatim {
        Verbatim {
            quic,
            legacy_version: ch.legacy_version.0,
            first_alpn_ends: ch.first_alpn_ends,
            supported_versions: ch.supported_versions.clone(),
            cipher_suites: ch.cipher_suites.clone(),
            extensions: ch.extensions.clone(),
            signature_algorithms: ch.signature_algorithms.clone(),
            ja4,
        }
    }

    /// Where a hello is kept: by its lists' lengths and their first and last values,
    /// mixed.
    fn slot(ch: &ClientHelloFacts, quic: bool) -> usize {
        // A list's first and last values, read where they are (0 for an empty list).
        fn ends<T>(list: &[T], value: impl Fn(&T) -> u16) -> u64 {
            let (first, last) = (
                list.first().map_or(0, &value),
                list.last().map_or(0, &value),
            );
            u64::from(first) << 16 | u64::from(last)
        }
        let lengths = (ch.cipher_suites.len() << 16 | ch.extensions.len() << 8) as u64
            | ch.signature_algorithms.len() as u64;
        let suites = ends(&ch.cipher_suites, |c| c.0);
        let extensions = ends(&ch.extensions, |&e| e);
        let mixed = folded_multiply(lengths ^ u64::from(quic) << 40 ^ suites << 24, K)
            ^ folded_multiply(extensions, K);
        (mixed >> 60) as usize % VERBATIM_SLOTS
    }

    /// The same hello, as far as a JA4 reads it.
    fn is(&self, ch: &ClientHelloFacts, quic: bool) -> bool {
        self.quic == quic
            && self.legacy_version == ch.legacy_version.0
            && self.first_alpn_ends == ch.first_alpn_ends
            && same(&self.cipher_suites, &ch.cipher_suites, |c| c.0)
            && same(&self.extensions, &ch.extensions, |&e| e)
            && same(&self.signature_algorithms, &ch.signature_algorithms, |s| {
                s.0
            })
            && same(&self.supported_versions, &ch.supported_versions, |v| v.0)
    }
}

/// Two lists of the same values: every pair looked at (no early exit), so that the
/// comparison is a few vector instructions.
fn same<T>(a: &[T], b: &[T], value: impl Fn(&T) -> u16) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0u16, |differ, (x, y)| differ | (value(x) ^ value(y)))
            == 0
}

/// A digest of everything a JA4 is made of: the suites and the extensions as sets with
/// their counts (JA4 sorts them), the signature algorithms in order, the highest
/// version, the ALPN's ends, the transport; every GREASE value as one value. One pass
/// over the lists, so that a client that shuffles its extensions or sends fresh GREASE
/// each time has its JA4 made once, without sorting or formatting anything.
struct Ja4Key;

impl Ja4Key {
    fn of(ch: &ClientHelloFacts, quic: bool, seed: u64) -> u64 {
        // GREASE values all count as one value (JA4 leaves them out: a hello with
        // another number of them only misses the cache). A sum of mixed values does not
        // depend on their order; each list has a seed of its own.
        let value = |v: u16| if is_grease(v) { 0x0a0a } else { u64::from(v) };
        fn unordered(seed: u64, values: impl Iterator<Item = u64>) -> u64 {
            values.fold(0u64, |sum, v| sum.wrapping_add(folded_multiply(v, seed)))
        }
        let suites = unordered(seed ^ 0x51, ch.cipher_suites.iter().map(|c| value(c.0)));
        let extensions = unordered(seed ^ 0xe7, ch.extensions.iter().map(|&e| value(e)));
        let signature_algorithms = ch
            .signature_algorithms
            .iter()
            .fold(seed, |h, s| folded_multiply(h ^ value(s.0), K));
        let version = offered_version(ch);
        let alpn = ch.first_alpn_ends.map_or(0, |(first, last)| {
            1 << 16 | u64::from(first) << 8 | u64::from(last)
        });
        let head = u64::from(quic) << 40 | u64::from(version) << 24 | alpn;
        [suites, extensions, signature_algorithms]
            .into_iter()
            .fold(folded_multiply(seed ^ head, K), |h, part| {
                folded_multiply(h ^ part, K)
            })
    }
}

/// The version JA4 names: the highest of supported_versions, GREASE left out, else the
/// legacy version.
fn offered_version(ch: &ClientHelloFacts) -> u16 {
    ch.supported_versions
        .iter()
        .map(|v| v.0)
        .filter(|&v| !is_grease(v))
        .max()
        .unwrap_or(ch.legacy_version.0)
}

/// An odd constant with its bits spread (the golden ratio's).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// The folded multiply of foldhash and wyhash: the two halves of the 128-bit product,
/// xored; a value's bits reach the whole word in one multiplication.
fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x ^ 0x2d35_8dcc_aa6c_78a5) * u128::from(y | 1);
    (full as u64) ^ ((full >> 64) as u64)
}

impl Parts {
    fn fill(&mut self, ch: &ClientHelloFacts, quic: bool) {
        let not_grease = |&v: &u16| !is_grease(v);
        self.suites.clear();
        self.suites
            .extend(ch.cipher_suites.iter().map(|c| c.0).filter(not_grease));
        self.extensions.clear();
        self.extensions
            .extend(ch.extensions.iter().copied().filter(not_grease));
        self.signature_algorithms.clear();
        self.signature_algorithms.extend(
            ch.signature_algorithms
                .iter()
                .map(|s| s.0)
                .filter(not_grease),
        );
        let version = match offered_version(ch) {
            0x0304 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            0x0002 => "s2",
            0xfeff => "d1",
            0xfefd => "d2",
            0xfefc => "d3",
            _ => "00",
        };
        let sni = if self.extensions.contains(&ext::SERVER_NAME) {
            'd'
        } else {
            'i'
        };
        self.a.clear();
        self.a.push(if quic { 'q' } else { 't' });
        self.a.push_str(version);
        self.a.push(sni);
        for count in [self.suites.len(), self.extensions.len()] {
            let count = count.min(99);
            self.a.push((b'0' + (count / 10) as u8) as char);
            self.a.push((b'0' + (count % 10) as u8) as char);
        }
        self.a.push_str(&alpn_chars(ch.first_alpn_ends));
        self.suites.sort_unstable();
        self.extensions
            .retain(|&e| e != ext::SERVER_NAME && e != ext::ALPN);
        self.extensions.sort_unstable();
    }

    fn fingerprint(&self) -> Ja4 {
        let b = hex_list(&self.suites);
        let mut c = hex_list(&self.extensions);
        if !self.signature_algorithms.is_empty() {
            c.push('_');
            c.push_str(&hex_list(&self.signature_algorithms));
        }
        let a = &self.a;
        let b_hash = truncated_sha256(&b, self.suites.is_empty());
        let c_hash = truncated_sha256(&c, self.extensions.is_empty());
        Ja4 {
            ja4: format!("{a}_{b_hash}_{c_hash}"),
            ja4_r: format!("{a}_{b}_{c}"),
        }
    }
}

/// The first ALPN value's first and last characters; their hex digits when either is
/// not alphanumeric; `00` without one.
fn alpn_chars(ends: Option<(u8, u8)>) -> String {
    let Some((first, last)) = ends else {
        return "00".into();
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        return format!("{}{}", first as char, last as char);
    }
    format!(
        "{}{}",
        HEX[(first >> 4) as usize] as char,
        HEX[(last & 0xf) as usize] as char
    )
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Four lower-case hex digits per value, comma-separated.
fn hex_list(values: &[u16]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        for shift in [12, 8, 4, 0] {
            s.push(HEX[(v >> shift) as usize & 0xf] as char);
        }
    }
    s
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| {
            [
                HEX[(b >> 4) as usize] as char,
                HEX[(b & 0xf) as usize] as char,
            ]
        })
        .collect()
}

/// The first 12 hex digits of the SHA-256 of `text`; twelve zeros for an empty list.
fn truncated_sha256(text: &str, empty: bool) -> String {
    if empty {
        return "000000000000".into();
    }
    hex_bytes(&Sha256::digest(text.as_bytes())[..6])
}

/// JA3 of a ClientHello: its string (`version,suites,extensions,groups,point formats`,
/// decimal, GREASE left out) and the MD5 of it.
pub fn ja3(ch: &ClientHelloFacts) -> (String, String) {
    fn join(values: impl Iterator<Item = u16>) -> String {
        values.map(|v| v.to_string()).collect::<Vec<_>>().join("-")
    }
    let text = format!(
        "{},{},{},{},{}",
        ch.legacy_version.0,
        join(
            ch.cipher_suites
                .iter()
                .map(|c| c.0)
                .filter(|&c| !is_grease(c))
        ),
        join(ch.extensions.iter().copied().filter(|&e| !is_grease(e))),
        join(ch.supported_groups.iter().map(|g| g.0)),
        join(ch.ec_point_formats.iter().map(|&f| f as u16)),
    );
    let hash = hex_bytes(&md5::Md5::digest(text.as_bytes()));
    (text, hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::wire::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};

    /// The example of the JA4 specification (technical_details/JA4.md), with GREASE
    /// values added where a client puts them: they change nothing.
    fn example() -> ClientHelloFacts {
        let suites = [
            0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let extensions = [
            0x2a2a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
            0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0xfafa,
        ];
        let signatures = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        ClientHelloFacts {
            legacy_version: ProtocolVersion(0x0303),
            supported_versions: vec![ProtocolVersion(0x0304), ProtocolVersion(0x0303)],
            cipher_suites: suites.iter().map(|&c| CipherSuite(c)).collect(),
            extensions: extensions.to_vec(),
            signature_algorithms: signatures.iter().map(|&s| SignatureScheme(s)).collect(),
            first_alpn_ends: Some((b'h', b'2')),
            supported_groups: vec![NamedGroup(29), NamedGroup(23)],
            ..Default::default()
        }
    }

    #[test]
    fn the_specification_example() {
        let fp = ja4(&example(), false);
        assert_eq!(fp.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(
            fp.ja4_r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,\
             cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,\
             ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        // Without signature algorithms the list ends without an underscore.
        let mut no_sigs = example();
        no_sigs.signature_algorithms.clear();
        assert!(ja4(&no_sigs, false).ja4.ends_with("_6d807ffa2a79"));
        assert!(ja4(&example(), true).ja4.starts_with("q13d"));
    }

    #[test]
    fn sni_alpn_and_empty_lists() {
        let mut ch = example();
        ch.extensions.retain(|&e| e != 0);
        ch.first_alpn_ends = None;
        let fp = ja4(&ch, false);
        assert!(fp.ja4.starts_with("t13i151500_"), "{}", fp.ja4);
        let bare = ClientHelloFacts {
            legacy_version: ProtocolVersion(0x0301),
            ..Default::default()
        };
        assert_eq!(
            ja4(&bare, false).ja4,
            "t10i000000_000000000000_000000000000"
        );
    }

    /// The cache's key: hellos that differ only in GREASE values or in the order of
    /// their suites and extensions share a JA4; any change JA4 sees gives another (each
    /// made afresh in a thread of its own, whose cache is empty). Several changes keep
    /// the lists' lengths and ends (the signature algorithms swapped, another ALPN,
    /// fewer versions): those hellos come to the slot of the hello kept as it was sent,
    /// which must not answer for them.
    #[test]
    fn the_cache_follows_what_ja4_reads() {
        let fresh = |ch: ClientHelloFacts| {
            std::thread::spawn(move || (*ja4(&ch, false)).clone())
                .join()
                .unwrap()
        };
        let base = ja4(&example(), false);
        let mut shuffled = example();
        shuffled.cipher_suites.reverse();
        shuffled.extensions.rotate_left(5);
        shuffled.extensions.push(0x3a3a);
        shuffled.cipher_suites.insert(3, CipherSuite(0xdada));
        assert_eq!(*ja4(&shuffled, false), *base);
        let changes: [fn(&mut ClientHelloFacts); 7] = [
            |ch| ch.signature_algorithms.swap(0, 1),
            |ch| ch.cipher_suites.push(CipherSuite(0x00ff)),
            |ch| ch.extensions.retain(|&e| e != 0x0010),
            |ch| ch.extensions.push(0x0015),
            |ch| ch.supported_versions.retain(|v| v.0 != 0x0304),
            |ch| ch.first_alpn_ends = Some((b'h', b'3')),
            |ch| ch.cipher_suites.retain(|c| c.0 != 0x1301),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut ch = example();
            change(&mut ch);
            let cached = (*ja4(&ch, false)).clone();
            assert_ne!(cached, *base, "change {i}");
            assert_eq!(cached, fresh(ch), "change {i}");
        }
    }

    /// A hello whose key was taken as it was parsed ([`ja4_key`], on another thread)
    /// gets the JA4 it gets without one, through the key alone: the same for hellos that
    /// differ only in GREASE and order, another for each change JA4 sees. Over QUIC the
    /// key (taken for TCP) is not used.
    #[test]
    fn a_key_taken_at_parse_time_finds_the_same_ja4() {
        let keyed = |mut ch: ClientHelloFacts| {
            ch.ja4_key = std::thread::spawn({
                let ch = ch.clone();
                move || ja4_key(&ch, false)
            })
            .join()
            .unwrap();
            ch
        };
        let plain = example();
        let with_key = keyed(example());
        assert_eq!(*ja4(&with_key, false), *ja4(&plain, false));
        assert!(ja4(&with_key, true).ja4.starts_with("q13d"));
        let mut shuffled = example();
        shuffled.extensions.rotate_left(3);
        shuffled.cipher_suites.reverse();
        // Another GREASE value in place of the one sent.
        *shuffled.cipher_suites.last_mut().unwrap() = CipherSuite(0x5a5a);
        assert_eq!(ja4_key(&shuffled, false), ja4_key(&plain, false));
        assert_ne!(ja4_key(&plain, true), ja4_key(&plain, false));
        let changes: [fn(&mut ClientHelloFacts); 4] = [
            |ch| ch.signature_algorithms.swap(0, 1),
            |ch| ch.extensions.push(0x0015),
            |ch| ch.first_alpn_ends = None,
            |ch| ch.supported_versions.retain(|v| v.0 != 0x0304),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut ch = example();
            change(&mut ch);
            let want = (*ja4(&ch, false)).clone();
            assert_ne!(want, *ja4(&plain, false), "change {i}");
            assert_eq!(*ja4(&keyed(ch), false), want, "change {i}");
        }
    }

    /// The ALPN rules' examples from the specification.
    #[test]
    fn alpn_that_is_not_alphanumeric_is_shown_in_hex() {
        assert_eq!(alpn_chars(Some((0xab, 0xab))), "ab");
        assert_eq!(alpn_chars(Some((0xab, 0xcd))), "ad");
        assert_eq!(alpn_chars(Some((0x30, 0xab))), "3b");
        assert_eq!(alpn_chars(Some((0x30, 0xcd))), "3d");
        assert_eq!(alpn_chars(Some((0x30, 0x31))), "01");
        assert_eq!(alpn_chars(Some((b'h', b'1'))), "h1");
    }

    #[test]
    fn ja3_leaves_grease_out() {
        let mut ch = example();
        ch.ec_point_formats = [0u8].into_iter().collect();
        let (text, hash) = ja3(&ch);
        assert!(text.starts_with("771,4865-4866-4867-49195-"), "{text}");
        assert!(text.ends_with(",29-23,0"), "{text}");
        assert!(!text.contains("2570") && !text.contains("10794"), "{text}");
        assert_eq!(hash.len(), 32);
    }
}
