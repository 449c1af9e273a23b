//! "ok, but": what is weak or about to break in a handshake that completed — an old
//! version, an insecure suite, RSA key exchange, a certificate about to expire, a name
//! the certificate does not cover that the client accepted anyway. Read from the
//! handshake's own facts; only successful handshakes carry warnings.

use super::named::named_values;
use crate::tls::facts::TlsFacts;
use crate::tls::suites::key_exchange;

/// A certificate that expires within this many seconds of the capture is about to break.
const EXPIRES_SOON_SECS: i64 = 30 * 24 * 3600;

named_values! {
    /// A warning about a completed handshake ("ok, but").
    pub enum Warning, "warning" {
        OldVersion => "old_version", "SSL or TLS 1.0/1.1 negotiated",
        InsecureCipher => "insecure_cipher", "an insecure cipher suite negotiated (RC4, DES/3DES, NULL, EXPORT, anonymous, MD5)",
        RsaKeyExchange => "rsa_key_exchange", "RSA key exchange (no forward secrecy)",
        CertificateExpiresSoon => "certificate_expires_soon", "the certificate expires within 30 days of the capture",
        NameMismatchAccepted => "name_mismatch_accepted", "the certificate does not cover the name asked for, and the client went on",
        Sha1Signature => "sha1_signature", "a certificate the server sent is signed with SHA-1 (or MD5), which current clients refuse",
    }
}

/// The warnings of a handshake that completed, from its facts.
pub fn warnings_of(facts: &TlsFacts) -> Vec<Warning> {
    let mut out = Vec::new();
    if facts.sslv2 {
        // Every SSL 2.0 cipher is MD5-based, most of them export-grade or RC4.
        out.push(Warning::OldVersion);
        out.push(Warning::InsecureCipher);
        return out;
    }
    let Some(sh) = &facts.server_hello else {
        return out;
    };
    let version = sh.value.version;
    let suite = sh.value.cipher_suite;
    if version.is_insecure() {
        out.push(Warning::OldVersion);
    }
    if suite.is_insecure() {
        out.push(Warning::InsecureCipher);
    }
    if !version.is_tls13() && key_exchange(suite.0) == "RSA" {
        out.push(Warning::RsaKeyExchange);
    }
    if let Some(chain) = &facts.server_certificates {
        if let Some(leaf) = chain
            .value
            .certificates
            .first()
            .filter(|l| l.parse_error.is_none())
        {
            let now = chain.at.ts.as_unix_secs();
            if now <= leaf.not_after && leaf.not_after - now < EXPIRES_SOON_SECS {
                out.push(Warning::CertificateExpiresSoon);
            }
            let name = facts
                .client_hello
                .as_ref()
                .and_then(|ch| ch.value.server_name.as_deref());
            if name.is_some_and(|n| !leaf.covers(n)) {
                out.push(Warning::NameMismatchAccepted);
            }
        }
        // A trust anchor's signature on itself is never checked; every other one is.
        let weak = |c: &crate::tls::cert::CertFacts| c.has_weak_signature() && !c.self_signed;
        if chain.value.certificates.iter().any(weak) {
            out.push(Warning::Sha1Signature);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &w in Warning::ALL {
            assert_eq!(w.as_str().parse::<Warning>().unwrap(), w);
        }
        assert!("ok".parse::<Warning>().is_err());
    }
}
