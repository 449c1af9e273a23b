//! Wire values from the IANA TLS registries as newtypes over the integer, so that values
//! outside the registry survive and every use reads as what it is: a
//! [`ProtocolVersion`], a [`CipherSuite`], a [`NamedGroup`], a [`SignatureScheme`].
//! Names come from [`super::suites`] (tls-parser's registry for suites). Each is written
//! to JSON as `{"name": …, "code": …}` ([`serialize_named`]): the registry name (the
//! number in hex when the registry has none) and the number on the wire.

use std::borrow::Cow;
use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::suites::{
    is_grease, is_signaling, registry_entry, suite_name, version_name, version_rank,
};

/// `ProtocolVersion` (RFC 8446 §4.1.2): `legacy_version`, `supported_versions`, the
/// version a ServerHello selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    pub const SSL2: Self = Self(0x0002);
    pub const SSL3: Self = Self(0x0300);
    pub const TLS1_1: Self = Self(0x0302);
    pub const TLS1_2: Self = Self(0x0303);
    pub const TLS1_3: Self = Self(0x0304);

    /// `TLS 1.2`, `SSL 3.0`, `TLS 1.3 draft-23`, or the number in hex.
    pub fn name(self) -> Cow<'static, str> {
        version_name(self.0)
    }

    /// TLS 1.3 or one of its drafts: everything after the ServerHello is encrypted.
    /// The one definition the diagnosis and the records use.
    pub fn is_tls13(self) -> bool {
        version_rank(self.0) >= 20
    }

    /// SSL 2.0 and 3.0, TLS 1.0 and 1.1: versions no one should be asked to enable.
    pub fn is_insecure(self) -> bool {
        (1..=ProtocolVersion::TLS1_1.rank()).contains(&self.rank())
    }

    /// Orders versions: SSL 2.0 < SSL 3.0 < TLS 1.0 < … < TLS 1.3; 0 for unknown values.
    pub fn rank(self) -> u32 {
        version_rank(self.0)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(s, &*self.name(), self.0)
    }
}

/// [`serialize_named`] for a value whose registry name may be missing (then the number
/// in hex).
fn serialize_registered<S: Serializer>(
    s: S,
    name: Option<&'static str>,
    code: u16,
) -> Result<S::Ok, S::Error> {
    match name {
        Some(name) => serialize_named(s, name, code),
        None => serialize_named(s, &format_args!("0x{code:04x}"), code),
    }
}

/// Writes a registry value as `{"name": NAME, "code": CODE}`: one shape for versions,
/// suites, groups, signature schemes and alerts.
pub fn serialize_named<S: Serializer, N: Serialize + ?Sized>(
    s: S,
    name: &N,
    code: u16,
) -> Result<S::Ok, S::Error> {
    let mut r = s.serialize_struct("Named", 2)?;
    r.serialize_field("name", name)?;
    r.serialize_field("code", &code)?;
    r.end()
}

/// `CipherSuite` from the IANA registry (GREASE and signalling values included, as
/// they appear on the wire).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    /// The IANA name, or the number in hex when unknown.
    pub fn name(self) -> Cow<'static, str> {
        suite_name(self.0)
    }

    /// A real suite: neither GREASE (RFC 8701) nor a signal (SCSV).
    pub fn is_real(self) -> bool {
        !is_grease(self.0) && !is_signaling(self.0)
    }

    /// A suite no one should be asked to enable: no encryption (NULL), no
    /// authentication (anon), export-grade, RC4, DES or 3DES, or MD5. Unknown values are
    /// not judged insecure.
    pub fn is_insecure(self) -> bool {
        use tls_parser::{TlsCipherAu as Au, TlsCipherEnc as Enc, TlsCipherKx as Kx};
        let Some(s) = registry_entry(self.0) else {
            return false;
        };
        // EXPORT suites are RC4, RC2 or DES under the hood.
        matches!(
            s.enc,
            Enc::Null | Enc::Des | Enc::TripleDes | Enc::Rc2 | Enc::Rc4
        ) || s.mac == tls_parser::TlsCipherMac::HmacMd5
            || s.au == Au::Null && !matches!(s.kx, Kx::Psk | Kx::Tls13)
    }

    /// A suite a fix may name for a side to enable: in the registry (not an unknown or
    /// private value, such as SSL 3.0's FORTEZZA or the old FIPS-DES ones), not
    /// insecure, with forward secrecy (ECDHE, DHE, or TLS 1.3's), and for a certificate
    /// type still issued (not DSA).
    pub fn is_recommendable(self) -> bool {
        use tls_parser::{TlsCipherAu as Au, TlsCipherKx as Kx};
        let Some(s) = registry_entry(self.0) else {
            return false;
        };
        !self.is_insecure() && matches!(s.kx, Kx::Ecdhe | Kx::Dhe | Kx::Tls13) && s.au != Au::Dss
    }
}

impl fmt::Display for CipherSuite {
    /// As [`CipherSuite::name`], written without an allocation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_grease(self.0) {
            return write!(f, "GREASE(0x{:04x})", self.0);
        }
        match registry_entry(self.0) {
            Some(suite) => f.write_str(suite.name),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for CipherSuite {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match registry_entry(self.0) {
            Some(suite) if !is_grease(self.0) => serialize_named(s, suite.name, self.0),
            // GREASE and unassigned values, spelled without an allocation.
            _ => serialize_named(s, &format_args!("{self}"), self.0),
        }
    }
}

/// `NamedGroup` (RFC 8446 §4.2.7): supported_groups and key shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedGroup(pub u16);

impl NamedGroup {
    /// The registry name of a group (the IANA TLS Supported Groups registry, the
    /// deployed hybrids among them), else `None`.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            // Binary and other legacy curves (RFC 8422 §5.1.1, deprecated), which
            // scanners and old clients still offer.
            0x0001 => "sect163k1",
            0x0002 => "sect163r1",
            0x0003 => "sect163r2",
            0x0004 => "sect193r1",
            0x0005 => "sect193r2",
            0x0006 => "sect233k1",
            0x0007 => "sect233r1",
            0x0008 => "sect239k1",
            0x0009 => "sect283k1",
            0x000a => "sect283r1",
            0x000b => "sect409k1",
            0x000c => "sect409r1",
            0x000d => "sect571k1",
            0x000e => "sect571r1",
            0x000f => "secp160k1",
            0x0010 => "secp160r1",
            0x0011 => "secp160r2",
            0x0012 => "secp192k1",
            0x0013 => "secp192r1",
            0x0014 => "secp224k1",
            0x0015 => "secp224r1",
            0x0016 => "secp256k1",
            0x0017 => "secp256r1",
            0x0018 => "secp384r1",
            0x0019 => "secp521r1",
            0x001d => "x25519",
            0x001a => "brainpoolP256r1",
            0x001b => "brainpoolP384r1",
            0x001c => "brainpoolP512r1",
            0x001e => "x448",
            0x001f => "brainpoolP256r1tls13",
            0x0020 => "brainpoolP384r1tls13",
            0x0021 => "brainpoolP512r1tls13",
            0x0100 => "ffdhe2048",
            0x0101 => "ffdhe3072",
            0x0102 => "ffdhe4096",
            0x0103 => "ffdhe6144",
            0x0104 => "ffdhe8192",
            0x11ec => "X25519MLKEM768",
            0x11eb => "SecP256r1MLKEM768",
            0x11ed => "SecP384r1MLKEM1024",
            0x6399 => "X25519Kyber768Draft00",
            _ => return None,
        })
    }
}

impl fmt::Display for NamedGroup {
    /// The number in hex, as the evidence has always cited groups.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04x}", self.0)
    }
}

impl Serialize for NamedGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_registered(s, self.name(), self.0)
    }
}

/// `SignatureScheme` (RFC 8446 §4.2.3): the ClientHello's signature_algorithms. The
/// TLS 1.2 pairs (RFC 5246 §7.4.1.4.1: hash byte, signature byte) are the same numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignatureScheme(pub u16);

impl SignatureScheme {
    /// The registry name (`rsa_pss_rsae_sha256`), or `None` when unassigned.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0201 => "rsa_pkcs1_sha1",
            0x0202 => "dsa_sha1",
            0x0203 => "ecdsa_sha1",
            0x0301 => "rsa_pkcs1_sha224",
            0x0302 => "dsa_sha224",
            0x0303 => "ecdsa_sha224",
            0x0401 => "rsa_pkcs1_sha256",
            0x0402 => "dsa_sha256",
            0x0403 => "ecdsa_secp256r1_sha256",
            0x0420 => "rsa_pkcs1_sha256_legacy",
            0x0501 => "rsa_pkcs1_sha384",
            0x0502 => "dsa_sha384",
            0x0503 => "ecdsa_secp384r1_sha384",
            0x0520 => "rsa_pkcs1_sha384_legacy",
            0x0601 => "rsa_pkcs1_sha512",
            0x0602 => "dsa_sha512",
            0x0603 => "ecdsa_secp521r1_sha512",
            0x0620 => "rsa_pkcs1_sha512_legacy",
            0x0704 => "eccsi_sha256",
            0x0705 => "iso_ibs1",
            0x0706 => "iso_ibs2",
            0x0707 => "iso_chinese_ibs",
            0x0708 => "sm2sig_sm3",
            0x0709 => "gostr34102012_256a",
            0x070a => "gostr34102012_256b",
            0x070b => "gostr34102012_256c",
            0x070c => "gostr34102012_256d",
            0x070d => "gostr34102012_512a",
            0x070e => "gostr34102012_512b",
            0x070f => "gostr34102012_512c",
            0x0804 => "rsa_pss_rsae_sha256",
            0x0805 => "rsa_pss_rsae_sha384",
            0x0806 => "rsa_pss_rsae_sha512",
            0x0807 => "ed25519",
            0x0808 => "ed448",
            0x0809 => "rsa_pss_pss_sha256",
            0x080a => "rsa_pss_pss_sha384",
            0x080b => "rsa_pss_pss_sha512",
            0x081a => "ecdsa_brainpoolP256r1tls13_sha256",
            0x081b => "ecdsa_brainpoolP384r1tls13_sha384",
            0x081c => "ecdsa_brainpoolP512r1tls13_sha512",
            0x0904 => "mldsa44",
            0x0905 => "mldsa65",
            0x0906 => "mldsa87",
            _ => return None,
        })
    }
}

impl fmt::Display for SignatureScheme {
    /// The registry name, or the number in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for SignatureScheme {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_registered(s, self.name(), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_survive() {
        assert_eq!(ProtocolVersion(0x0303).to_string(), "TLS 1.2");
        assert!(ProtocolVersion(0x7f17).is_tls13());
        assert!(!ProtocolVersion::TLS1_2.is_tls13());
        assert_eq!(ProtocolVersion(0x1234).to_string(), "0x1234");
        assert_eq!(CipherSuite(0xfefe).to_string(), "0xfefe");
        assert!(!CipherSuite(0x00ff).is_real() && !CipherSuite(0x2a2a).is_real());
        assert_eq!(NamedGroup(0x001d).name(), Some("x25519"));
        assert_eq!(NamedGroup(0x9999).to_string(), "0x9999");
        assert_eq!(SignatureScheme(0x0804).to_string(), "rsa_pss_rsae_sha256");
        assert_eq!(
            SignatureScheme(0x0403).name(),
            Some("ecdsa_secp256r1_sha256")
        );
        assert_eq!(SignatureScheme(0xfafa).to_string(), "0xfafa");
        for weak in [
            0x0005, 0x0004, 0x000a, 0x0002, 0x0018, 0xc011, 0x0003, 0x0009, 0x0034,
        ] {
            assert!(CipherSuite(weak).is_insecure(), "{}", CipherSuite(weak));
        }
        for good in [0x1301, 0xc02f, 0x009c, 0x003c, 0xcca8] {
            assert!(!CipherSuite(good).is_insecure(), "{}", CipherSuite(good));
        }
        assert!(ProtocolVersion(0x0301).is_insecure() && ProtocolVersion(0x0300).is_insecure());
        assert!(!ProtocolVersion::TLS1_2.is_insecure() && !ProtocolVersion(0x1234).is_insecure());
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    fn json<T: Serialize>(v: T) -> String {
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn registry_values_are_name_and_code() {
        assert_eq!(
            json(ProtocolVersion::TLS1_2),
            r#"{"name":"TLS 1.2","code":771}"#
        );
        assert_eq!(
            json(CipherSuite(0x1301)),
            r#"{"name":"TLS_AES_128_GCM_SHA256","code":4865}"#
        );
        assert_eq!(
            json(CipherSuite(0x2a2a)),
            r#"{"name":"GREASE(0x2a2a)","code":10794}"#
        );
        assert_eq!(
            json(CipherSuite(0xfefe)),
            r#"{"name":"0xfefe","code":65278}"#
        );
        assert_eq!(json(NamedGroup(0x001d)), r#"{"name":"x25519","code":29}"#);
        assert_eq!(
            json(NamedGroup(0x9999)),
            r#"{"name":"0x9999","code":39321}"#
        );
        assert_eq!(
            json(SignatureScheme(0x0807)),
            r#"{"name":"ed25519","code":2055}"#
        );
        assert_eq!(
            json(SignatureScheme(0x1234)),
            r#"{"name":"0x1234","code":4660}"#
        );
    }
}
