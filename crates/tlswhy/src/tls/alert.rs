//! TLS alerts (RFC 5246 §7.2, RFC 8446 §6): the level and the description registry as
//! newtypes over the wire byte, so values outside the registry survive.

use std::borrow::Cow;
use std::fmt;

use super::wire::serialize_named;

/// `AlertDescription` from the IANA TLS Alert registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlertDescription(pub u8);

impl AlertDescription {
    pub const CLOSE_NOTIFY: Self = Self(0);
    pub const UNEXPECTED_MESSAGE: Self = Self(10);
    pub const BAD_RECORD_MAC: Self = Self(20);
    pub const HANDSHAKE_FAILURE: Self = Self(40);
    pub const BAD_CERTIFICATE: Self = Self(42);
    pub const UNSUPPORTED_CERTIFICATE: Self = Self(43);
    pub const CERTIFICATE_REVOKED: Self = Self(44);
    pub const CERTIFICATE_EXPIRED: Self = Self(45);
    pub const CERTIFICATE_UNKNOWN: Self = Self(46);
    pub const ILLEGAL_PARAMETER: Self = Self(47);
    pub const UNKNOWN_CA: Self = Self(48);
    pub const ACCESS_DENIED: Self = Self(49);
    pub const DECODE_ERROR: Self = Self(50);
    pub const DECRYPT_ERROR: Self = Self(51);
    pub const PROTOCOL_VERSION: Self = Self(70);
    pub const INSUFFICIENT_SECURITY: Self = Self(71);
    pub const INTERNAL_ERROR: Self = Self(80);
    pub const USER_CANCELED: Self = Self(90);
    pub const UNRECOGNIZED_NAME: Self = Self(112);
    pub const CERTIFICATE_REQUIRED: Self = Self(116);
    pub const NO_APPLICATION_PROTOCOL: Self = Self(120);

    /// The registry name (`handshake_failure`), or `unknown` for unassigned values.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            21 => "decryption_failed",
            22 => "record_overflow",
            30 => "decompression_failure",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            60 => "export_restriction",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            111 => "certificate_unobtainable",
            112 => "unrecognized_name",
            113 => "bad_certificate_status_response",
            114 => "bad_certificate_hash_value",
            115 => "unknown_psk_identity",
            116 => "certificate_required",
            120 => "no_application_protocol",
            121 => "ech_required",
            _ => "unknown",
        }
    }

    /// The name a record gives it: the registry's, or the number in hex (`0xc9`) when
    /// the registry has none.
    pub fn record_name(self) -> Cow<'static, str> {
        match self.name() {
            "unknown" => Cow::Owned(format!("0x{:02x}", self.0)),
            name => Cow::Borrowed(name),
        }
    }

    /// Alerts a client sends about the server's certificate (and vice versa).
    pub fn is_certificate_complaint(self) -> bool {
        matches!(self.0, 42..=46 | 48 | 49)
    }

    /// Alerts about the form of what the peer sent — bytes that do not parse, a message
    /// out of place, a record that does not decrypt — rather than about what it offered
    /// or presented: unexpected_message, bad_record_mac, record_overflow,
    /// decompression_failure, illegal_parameter, decode_error, decrypt_error.
    pub fn is_about_the_bytes(self) -> bool {
        matches!(self.0, 10 | 20 | 22 | 30 | 47 | 50 | 51)
    }
}

impl fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// `{"name": "handshake_failure", "code": 40}` ([`AlertDescription::record_name`]).
impl serde::Serialize for AlertDescription {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_named(s, &self.record_name(), u16::from(self.0))
    }
}

/// `serialize_with` for an optional level: its name, or null.
pub fn ser_opt_level<S: serde::Serializer>(
    v: &Option<AlertLevel>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(l) => s.serialize_str(l.name()),
        None => s.serialize_none(),
    }
}

/// `serialize_with` for a description: `{"name": "handshake_failure", "code": 40}`.
pub fn ser_description<S: serde::Serializer>(
    v: &AlertDescription,
    s: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(v, s)
}

/// `serialize_with` for an optional description (null when encrypted).
pub fn ser_opt_description<S: serde::Serializer>(
    v: &Option<AlertDescription>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => serde::Serialize::serialize(d, s),
        None => s.serialize_none(),
    }
}

/// `AlertLevel`: warning (1) or fatal (2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlertLevel(pub u8);

impl AlertLevel {
    pub const WARNING: Self = Self(1);
    pub const FATAL: Self = Self(2);

    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "warning",
            2 => "fatal",
            _ => "unknown-level",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_registry() {
        assert_eq!(AlertDescription(40).to_string(), "handshake_failure (40)");
        assert_eq!(AlertDescription(112).name(), "unrecognized_name");
        assert_eq!(AlertDescription(255).name(), "unknown");
        assert!(AlertDescription::UNKNOWN_CA.is_certificate_complaint());
        assert!(!AlertDescription::HANDSHAKE_FAILURE.is_certificate_complaint());
        let json = |d| serde_json::to_string(&AlertDescription(d)).unwrap();
        assert_eq!(json(40), r#"{"name":"handshake_failure","code":40}"#);
        assert_eq!(json(255), r#"{"name":"0xff","code":255}"#);
    }
}
