//! Certificates as facts (subject, issuer, SAN names, validity, self-signed, where to
//! fetch the issuer) through
//! x509-parser, and host-name matching by the rules of RFC 6125 §6.4.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What one certificate says.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CertFacts {
    #[serde(serialize_with = "crate::sanitize::ser_json_text")]
    pub subject: String,
    #[serde(serialize_with = "crate::sanitize::ser_json_text")]
    pub issuer: String,
    #[serde(serialize_with = "crate::sanitize::ser_json_opt_text")]
    pub common_name: Option<String>,
    /// SAN dNSName entries.
    #[serde(serialize_with = "crate::sanitize::ser_json_texts")]
    pub dns_names: Vec<String>,
    /// SAN iPAddress entries.
    pub ip_addresses: Vec<IpAddr>,
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// Subject equals issuer.
    pub self_issued: bool,
    /// Self-issued and the signature verifies with its own key.
    pub self_signed: bool,
    pub is_ca: bool,
    /// Its Authority Information Access names where to fetch its issuer's certificate
    /// (id-ad-caIssuers), as certificates from public CAs do: a client missing an
    /// intermediate may fetch it there. A leaf without it is more likely signed directly
    /// by a private CA.
    pub aia_ca_issuers: bool,
    pub serial: String,
    /// The algorithm the issuer signed it with: its name for the common ones
    /// (`sha256WithRSAEncryption`, `ecdsa-with-SHA384`, …), else the OID.
    pub signature_algorithm: String,
    /// Set when the DER did not parse; the other fields are then empty.
    pub parse_error: Option<String>,
}

/// Whether the certificate's Authority Information Access extension has a caIssuers
/// entry.
fn names_ca_issuers(cert: &X509Certificate<'_>) -> bool {
    cert.extensions()
        .iter()
        .any(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => aia
                .accessdescs
                .iter()
                .any(|d| d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS),
            _ => false,
        })
}

impl CertFacts {
    /// Parses DER. Never fails: a bad certificate is a fact too.
    pub fn from_der(der: &[u8]) -> CertFacts {
        let cert = match X509Certificate::from_der(der) {
            Ok((_, cert)) => cert,
            Err(e) => {
                return CertFacts {
                    parse_error: Some(format!("certificate does not parse: {e}")),
                    ..Default::default()
                }
            }
        };
        let subject = text(&cert.subject().to_string());
        let issuer = text(&cert.issuer().to_string());
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(text);
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(n) => dns_names.push(text(n)),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            ip_addresses.push(IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            ip_addresses.push(IpAddr::from(a));
                        }
                    }
                    _ => {}
                }
            }
        }
        let self_issued = cert.subject().as_raw() == cert.issuer().as_raw();
        let self_signed = self_issued && cert.verify_signature(None).is_ok();
        CertFacts {
            subject,
            issuer,
            common_name,
            dns_names,
            ip_addresses,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            self_issued,
            self_signed,
            is_ca: cert.is_ca(),
            aia_ca_issuers: names_ca_issuers(&cert),
            serial: cert.raw_serial_as_string(),
            signature_algorithm: signature_algorithm_name(
                &cert.signature_algorithm.algorithm.to_id_string(),
            ),
            parse_error: None,
        }
    }

    /// Every name the certificate is valid for, for evidence.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.dns_names.clone();
        names.extend(self.ip_addresses.iter().map(|a| a.to_string()));
        if names.is_empty() {
            if let Some(cn) = &self.common_name {
                names.push(format!("{cn} (subject CN only)"));
            }
        }
        names
    }

    /// Does this certificate cover `host` (a DNS name or an IP literal)?
    pub fn covers(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.ip_addresses.contains(&ip);
        }
        let host = HostName::of(host);
        if !self.dns_names.is_empty() {
            return self.dns_names.iter().any(|p| host.matched_by(p));
        }
        // No SAN dNSName: legacy clients fall back to the subject CN.
        self.common_name
            .as_deref()
            .is_some_and(|cn| host.matched_by(cn))
    }

    /// Signed with SHA-1 or MD5, which no longer resist collisions: browsers and current
    /// TLS stacks refuse such signatures except on a trust anchor's own certificate.
    pub fn has_weak_signature(&self) -> bool {
        matches!(
            self.signature_algorithm.as_str(),
            "sha1WithRSAEncryption"
                | "ecdsa-with-SHA1"
                | "dsa-with-SHA1"
                | "md5WithRSAEncryption"
                | "md2WithRSAEncryption"
        )
    }

    /// Outside its validity period at `unix_secs`?
    pub fn expired_at(&self, unix_secs: i64) -> bool {
        self.parse_error.is_none() && (unix_secs > self.not_after || unix_secs < self.not_before)
    }
}

/// The name of a certificate signature algorithm (RFC 3279, 4055, 5758, 8410), by OID.
fn signature_algorithm_name(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassa-pss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.3" => "dsa-with-SHA1",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-SHA256",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => oid,
    };
    name.to_string()
}

/// Distinct chains remembered per thread; past this the cache starts over.
const CHAIN_CACHE_ENTRIES: usize = 4096;

/// A cached chain: its DER certificates and their facts.
type CachedChain = (Vec<Box<[u8]>>, Arc<Vec<CertFacts>>);

thread_local! {
    /// Chains already parsed, by a hash of their DER; the DER is kept to rule out
    /// collisions. A busy server sends the same chain to every client: parse it once.
    static CHAIN_CACHE: RefCell<HashMap<u64, CachedChain>> =
        RefCell::new(HashMap::new());
    /// The hash of a chain's DER (foldhash, seeded per thread: kilobytes per
    /// connection, at several times SipHash's speed).
    static CHAIN_HASH: foldhash::fast::RandomState = foldhash::fast::RandomState::default();
}

/// The facts of a chain of DER certificates, parsed once per distinct chain.
pub fn chain_facts(chain: &[&[u8]]) -> Arc<Vec<CertFacts>> {
    let key = CHAIN_HASH.with(|state| {
        let mut hasher = state.build_hasher();
        for der in chain {
            der.hash(&mut hasher);
        }
        hasher.finish()
    });
    CHAIN_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((ders, facts)) = cache.get(&key) {
            if ders.len() == chain.len() && ders.iter().zip(chain).all(|(a, b)| &a[..] == *b) {
                return Arc::clone(facts);
            }
        }
        let facts = Arc::new(
            chain
                .iter()
                .map(|der| CertFacts::from_der(der))
                .collect::<Vec<_>>(),
        );
        if cache.len() >= CHAIN_CACHE_ENTRIES {
            cache.clear();
        }
        let ders = chain.iter().map(|d| Box::<[u8]>::from(*d)).collect();
        cache.insert(key, (ders, Arc::clone(&facts)));
        facts
    })
}

fn text(s: &str) -> String {
    s.to_string()
}

/// RFC 6125 §6.4: case-insensitive; a `*` only as the whole left-most label, matching
/// exactly one label.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    HostName::of(host).matched_by(pattern)
}

/// A host name as certificate names are matched against it: without its final dot,
/// its first label split off once (a certificate may hold a hundred names, and the
/// name of every handshake is checked against its certificate's).
struct HostName<'a> {
    whole: &'a str,
    /// What follows a non-empty first label, the part a wildcard's suffix must equal.
    after_first: Option<&'a str>,
}

impl<'a> HostName<'a> {
    fn of(host: &'a str) -> HostName<'a> {
        let whole = host.trim_end_matches('.');
        let after_first = whole
            .split_once('.')
            .filter(|(first, _)| !first.is_empty())
            .map(|(_, rest)| rest);
        HostName { whole, after_first }
    }

    /// Does certificate name `pattern` cover this host? Case-insensitive, without
    /// copying; the lengths are compared first, so most names are set aside at once.
    fn matched_by(&self, pattern: &str) -> bool {
        let pattern = pattern.trim_end_matches('.');
        match pattern.strip_prefix("*.") {
            Some(suffix) => {
                self.after_first
                    .is_some_and(|rest| rest.eq_ignore_ascii_case(suffix))
                    && !suffix.contains('*')
                    && suffix.contains('.')
            }
            None => pattern.eq_ignore_ascii_case(self.whole) && !pattern.contains('*'),
        }
    }
}

/// Human date for evidence: `2023-11-29 18:57:22 UTC`.
pub fn format_unix(secs: i64) -> String {
    let mut out = String::with_capacity(23);
    write_unix(&mut out, secs);
    out
}

/// [`format_unix`] at the end of `out`, without the formatting machinery (the evidence
/// of every certificate failure in JSON Lines cites two).
pub fn write_unix(out: &mut String, secs: i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // The year in at least four digits, with its sign when negative (as `{y:04}`).
    if (0..10_000).contains(&y) {
        let mut year = [b'0'; 4];
        let mut n = y;
        for digit in year.iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.push_str(std::str::from_utf8(&year).expect("digits"));
    } else {
        use std::fmt::Write;
        let _ = write!(out, "{y:04}");
    }
    let two = |out: &mut String, sep: char, n: i64| {
        out.push(sep);
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    two(out, '-', i64::from(m));
    two(out, '-', i64::from(d));
    two(out, ' ', rem / 3600);
    two(out, ':', rem % 3600 / 60);
    two(out, ':', rem % 60);
    out.push_str(" UTC");
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_rfc6125() {
        assert!(dns_name_matches("*.example.com", "emby.example.com"));
        assert!(dns_name_matches("EMBY.example.com", "emby.EXAMPLE.com."));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("*.com", "example.com"));
        assert!(!dns_name_matches("f*.example.com", "foo.example.com"));
        assert!(!dns_name_matches("*.example.com", ".example.com"));
        assert!(!dns_name_matches("*.*.example.com", "a.b.example.com"));
        assert!(dns_name_matches("*.example.com.", "A.Example.COM"));
        assert!(!dns_name_matches("*.example.com", "a.example.org"));
        assert!(!dns_name_matches("emby.example.com", "emby.example.co"));
        assert!(!dns_name_matches("*", "localhost"));
    }

    #[test]
    fn covers_ip_only_through_ip_sans() {
        let facts = CertFacts {
            dns_names: vec!["emby.example.com".into()],
            ip_addresses: vec!["127.0.0.3".parse().unwrap()],
            ..Default::default()
        };
        assert!(facts.covers("emby.example.com"));
        assert!(facts.covers("127.0.0.3"));
        assert!(!facts.covers("127.0.0.2"));
        assert!(!facts.covers("other.example.com"));
    }

    #[test]
    fn garbage_der_is_a_fact_not_a_panic() {
        let facts = CertFacts::from_der(&[0x30, 0x82, 0xff, 0xff, 0x01]);
        assert!(facts.parse_error.is_some());
        assert!(!facts.covers("x"));
    }

    #[test]
    fn dates() {
        assert_eq!(format_unix(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_unix(1_543_517_842), "2018-11-29 18:57:22 UTC");
        // As the formatting machinery spells them, far into the past and the future
        // (certificate times come from the wire: any i64 X.509 can hold).
        let spelled = |secs: i64| {
            let days = secs.div_euclid(86_400);
            let rem = secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            )
        };
        let mut secs = -400_000_000_000i64;
        while secs < 400_000_000_000 {
            assert_eq!(format_unix(secs), spelled(secs), "{secs}");
            secs += 7_777_777;
        }
        for secs in [
            -62_135_596_800,
            -62_135_596_801,
            253_402_300_799,
            253_402_300_800,
            -1,
        ] {
            assert_eq!(format_unix(secs), spelled(secs), "{secs}");
        }
    }
}
