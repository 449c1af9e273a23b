//! Cipher suites and protocol versions: names from tls-parser's IANA registry, and the
//! classification of an offer ("only ECDHE key exchange", "no CBC suites") that the
//! diagnosis puts in words.

use std::borrow::Cow;
use std::cell::Cell;

use super::wire::CipherSuite;
use tls_parser::{TlsCipherEncMode, TlsCipherKx, TlsCipherSuite};

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV and TLS_FALLBACK_SCSV: signals, not suites.
pub fn is_signaling(id: u16) -> bool {
    matches!(id, 0x00ff | 0x5600)
}

/// GREASE values (RFC 8701): 0x?a?a with both bytes equal.
pub fn is_grease(id: u16) -> bool {
    id & 0x0f0f == 0x0a0a && (id >> 8) == (id & 0xff)
}

/// tls-parser's registry entry of a suite. The registry is a perfect-hash map whose
/// every lookup hashes the id with SipHash; a capture names few suites, so each thread
/// keeps the entries it looked up last (one per slot, the slot chosen by the id's bits).
pub fn registry_entry(id: u16) -> Option<&'static TlsCipherSuite> {
    type Slot = Cell<(u32, Option<&'static TlsCipherSuite>)>;
    thread_local! {
        static RECENT: [Slot; 64] = const { [const { Cell::new((u32::MAX, None)) }; 64] };
    }
    RECENT.with(|recent| {
        let slot = &recent[usize::from(id ^ id >> 6) % 64];
        let (key, entry) = slot.get();
        if key == u32::from(id) {
            return entry;
        }
        let entry = TlsCipherSuite::from_id(id);
        slot.set((u32::from(id), entry));
        entry
    })
}

/// The IANA name of a suite (borrowed from the registry table), or its number in hex
/// when unknown.
pub fn suite_name(id: u16) -> Cow<'static, str> {
    if is_grease(id) {
        return Cow::Owned(format!("GREASE(0x{id:04x})"));
    }
    match registry_entry(id) {
        Some(s) => Cow::Borrowed(s.name),
        None => Cow::Owned(format!("0x{id:04x}")),
    }
}

/// An SSL 2.0 cipher kind's name (RFC 6101 appendix E; unknown kinds as hex).
pub fn sslv2_cipher_name(kind: u32) -> Cow<'static, str> {
    Cow::Borrowed(match kind {
        0x01_0080 => "SSL_CK_RC4_128_WITH_MD5",
        0x02_0080 => "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
        0x03_0080 => "SSL_CK_RC2_128_CBC_WITH_MD5",
        0x04_0080 => "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
        0x05_0080 => "SSL_CK_IDEA_128_CBC_WITH_MD5",
        0x06_0040 => "SSL_CK_DES_64_CBC_WITH_MD5",
        0x07_00c0 => "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
        _ => return Cow::Owned(format!("0x{kind:06x}")),
    })
}

/// A protocol version's name: `TLS 1.2`, `SSL 3.0`, `TLS 1.3 draft-23` (borrowed for the
/// versions that have one).
pub fn version_name(v: u16) -> Cow<'static, str> {
    match v {
        0x0002 => Cow::Borrowed("SSL 2.0"),
        0x0300 => Cow::Borrowed("SSL 3.0"),
        0x0301 => Cow::Borrowed("TLS 1.0"),
        0x0302 => Cow::Borrowed("TLS 1.1"),
        0x0303 => Cow::Borrowed("TLS 1.2"),
        0x0304 => Cow::Borrowed("TLS 1.3"),
        v if v & 0xff00 == 0x7f00 => Cow::Owned(format!("TLS 1.3 draft-{}", v & 0xff)),
        v if v >> 8 == 0x7e || v == 0xfb1a || v >> 8 == 0xfb => {
            Cow::Owned(format!("TLS 1.3 (experimental 0x{v:04x})"))
        }
        v if is_grease(v) => Cow::Owned(format!("GREASE(0x{v:04x})")),
        v => Cow::Owned(format!("0x{v:04x}")),
    }
}

/// Orders versions: SSL 3.0 < TLS 1.0 < … < TLS 1.3 drafts < TLS 1.3.
pub fn version_rank(v: u16) -> u32 {
    match v {
        0x0002 => 1,
        0x0300..=0x0303 => 10 + (v - 0x0300) as u32,
        v if v & 0xff00 == 0x7f00 || v >> 8 == 0x7e || v >> 8 == 0xfb => 20,
        0x0304 => 30,
        _ => 0,
    }
}

/// Key exchange of a suite in plain words.
pub fn key_exchange(id: u16) -> &'static str {
    match registry_entry(id).map(|s| s.kx) {
        Some(TlsCipherKx::Rsa) => "RSA",
        Some(TlsCipherKx::Dhe) | Some(TlsCipherKx::Dh) => "DHE",
        Some(TlsCipherKx::Ecdhe) | Some(TlsCipherKx::Ecdh) | Some(TlsCipherKx::Aecdh) => "ECDHE",
        Some(TlsCipherKx::Psk) => "PSK",
        Some(TlsCipherKx::Tls13) => "TLS 1.3",
        Some(TlsCipherKx::Null) => "NULL",
        Some(_) => "other",
        None => "unknown",
    }
}

/// True for TLS 1.3 suites (0x13xx), which only work with TLS 1.3.
pub fn is_tls13_suite(id: u16) -> bool {
    matches!(registry_entry(id).map(|s| s.kx), Some(TlsCipherKx::Tls13))
        || (0x1301..=0x13ff).contains(&id)
}

fn is_cbc(id: u16) -> bool {
    matches!(
        registry_entry(id).map(|s| s.enc_mode),
        Some(TlsCipherEncMode::Cbc)
    )
}

/// Describes what an offer of suites covers, for the evidence of `no_shared_cipher`.
pub fn classify_offer(suites: &[CipherSuite]) -> Vec<String> {
    let real: Vec<u16> = suites.iter().filter(|s| s.is_real()).map(|s| s.0).collect();
    let mut notes = Vec::new();
    if real.is_empty() {
        notes.push("no cipher suites at all".to_string());
        return notes;
    }
    let tls13: Vec<u16> = real
        .iter()
        .copied()
        .filter(|&s| is_tls13_suite(s))
        .collect();
    let legacy: Vec<u16> = real
        .iter()
        .copied()
        .filter(|&s| !is_tls13_suite(s))
        .collect();
    if legacy.is_empty() {
        notes.push("only TLS 1.3 suites".to_string());
        return notes;
    }
    let mut kx: Vec<&str> = legacy.iter().map(|&s| key_exchange(s)).collect();
    kx.sort();
    kx.dedup();
    if kx.len() == 1 {
        notes.push(format!("only {} key exchange", kx[0]));
    } else {
        notes.push(format!("key exchange: {}", kx.join(", ")));
        if !kx.contains(&"RSA") {
            notes.push("no RSA key exchange".to_string());
        }
    }
    if !legacy.iter().any(|&s| is_cbc(s)) {
        notes.push("no CBC suites".to_string());
    } else if legacy.iter().all(|&s| is_cbc(s)) {
        notes.push("only CBC suites".to_string());
    }
    if tls13.is_empty() {
        notes.push("no TLS 1.3 suites".to_string());
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The remembered entries are the registry's, whatever was looked up before (every
    /// id twice over, so that each slot is filled, hit and taken over).
    #[test]
    fn registry_entries_are_the_registry_s() {
        for _ in 0..2 {
            for id in 0..=u16::MAX {
                let ours = registry_entry(id).map(|s| s as *const TlsCipherSuite);
                let theirs = TlsCipherSuite::from_id(id).map(|s| s as *const TlsCipherSuite);
                assert_eq!(ours, theirs, "{id:#06x}");
            }
        }
        for id in [0x1301, 0xc02f, 0x1301, 0x1341, 0x1301] {
            assert_eq!(
                registry_entry(id).map(|s| s.name),
                TlsCipherSuite::from_id(id).map(|s| s.name)
            );
        }
    }

    #[test]
    fn names_and_classes() {
        assert_eq!(suite_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(suite_name(0x2a2a), "GREASE(0x2a2a)");
        assert!(is_grease(0xfafa) && !is_grease(0x1301));
        assert_eq!(version_name(0x7f17), "TLS 1.3 draft-23");
        let ecdhe_only = classify_offer(&[0xc02f, 0xc030, 0xcca8, 0x00ff].map(CipherSuite));
        assert!(
            ecdhe_only.contains(&"only ECDHE key exchange".to_string()),
            "{ecdhe_only:?}"
        );
        assert!(ecdhe_only.contains(&"no CBC suites".to_string()));
        assert_eq!(
            classify_offer(&[0x1301, 0x1302].map(CipherSuite)),
            vec!["only TLS 1.3 suites".to_string()]
        );
        assert!(version_rank(0x0304) > version_rank(0x0303));
    }
}
