//! Wire values from the IANA TLS registries as newtypes over the integer, so that values
//! outside the registry survive and every use reads as what it is: a
//! [`ProtocolVersion`], a [`CipherSuite`], a [`NamedGroup`]. Names come from
//! [`super::suites`] (tls-parser's registry for suites).

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use super::suites::{is_grease, is_signaling, suite_name, version_name, version_rank};

/// `ProtocolVersion` (RFC 8446 §4.1.2): `legacy_version`, `supported_versions`, the
/// version a ServerHello selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    pub const SSL2: Self = Self(0x0002);
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
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// `CipherSuite` from the IANA registry (GREASE and signalling values included, as
/// they appear on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
        let Some(s) = tls_parser::TlsCipherSuite::from_id(self.0) else {
            return false;
        };
        // EXPORT suites are RC4, RC2 or DES under the hood.
        matches!(
            s.enc,
            Enc::Null | Enc::Des | Enc::TripleDes | Enc::Rc2 | Enc::Rc4
        ) || s.mac == tls_parser::TlsCipherMac::HmacMd5
            || s.au == Au::Null && !matches!(s.kx, Kx::Psk | Kx::Tls13)
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for CipherSuite {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// `NamedGroup` (RFC 8446 §4.2.7): supported_groups and key shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedGroup(pub u16);

impl NamedGroup {
    /// The registry name of the common groups, else `None`.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0017 => "secp256r1",
            0x0018 => "secp384r1",
            0x0019 => "secp521r1",
            0x001d => "x25519",
            0x001e => "x448",
            0x0100 => "ffdhe2048",
            0x0101 => "ffdhe3072",
            0x0102 => "ffdhe4096",
            0x11ec => "X25519MLKEM768",
            0x11eb => "SecP256r1MLKEM768",
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
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(name) => s.serialize_str(name),
            None => s.collect_str(self),
        }
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
