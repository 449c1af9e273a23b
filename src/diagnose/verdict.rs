//! The verdict: one code from the catalog (DIAGNOSES.md) with its summary, the evidence
//! that proves it and the fix.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

macro_rules! codes {
    ($($variant:ident => $name:literal,)*) => {
        /// A verdict code from the catalog. The order is the catalog's.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// Every code, in catalog order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The catalog name, as in JSON output.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }
        }

        impl FromStr for Code {
            type Err = String;
            fn from_str(s: &str) -> Result<Code, String> {
                match s { $($name => Ok(Code::$variant),)* _ => Err(format!("unknown verdict code '{s}'")) }
            }
        }
    };
}

codes! {
    Ok => "ok",
    NoSharedCipher => "no_shared_cipher",
    ProtocolVersionMismatch => "protocol_version_mismatch",
    SniMissing => "sni_missing",
    SniIpLiteral => "sni_ip_literal",
    SniUnrecognized => "sni_unrecognized",
    CertNameMismatch => "cert_name_mismatch",
    CertUnknownCa => "cert_unknown_ca",
    CertExpired => "cert_expired",
    CertSelfSigned => "cert_self_signed",
    CertRejected => "cert_rejected",
    ClientCertRequired => "client_cert_required",
    ClientCertRejected => "client_cert_rejected",
    AlpnMismatch => "alpn_mismatch",
    PlaintextToTlsPort => "plaintext_to_tls_port",
    TlsToPlaintextPort => "tls_to_plaintext_port",
    ConnectionRefused => "connection_refused",
    ConnectionTimeout => "connection_timeout",
    NoResponseTimeout => "no_response_timeout",
    ServerResetAfterClientHello => "server_reset_after_client_hello",
    ServerClosedAfterClientHello => "server_closed_after_client_hello",
    ClientAborted => "client_aborted",
    FatalAlert => "fatal_alert",
    MalformedHandshake => "malformed_handshake",
    IncompleteCapture => "incomplete_capture",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Code {
    /// A short title for the report's group headings.
    pub fn title(self) -> &'static str {
        match self {
            Code::Ok => "handshake completed",
            Code::NoSharedCipher => "no cipher suite in common",
            Code::ProtocolVersionMismatch => "TLS versions do not overlap",
            Code::SniMissing => "no server name (SNI) sent",
            Code::SniIpLiteral => "IP address sent as server name",
            Code::SniUnrecognized => "server does not know the requested name",
            Code::CertNameMismatch => "certificate does not cover the name",
            Code::CertUnknownCa => "certificate issuer not trusted",
            Code::CertExpired => "certificate expired or not yet valid",
            Code::CertSelfSigned => "self-signed certificate",
            Code::CertRejected => "server certificate rejected",
            Code::ClientCertRequired => "client certificate required",
            Code::ClientCertRejected => "client certificate rejected",
            Code::AlpnMismatch => "no common application protocol",
            Code::PlaintextToTlsPort => "plain text sent to a TLS port",
            Code::TlsToPlaintextPort => "TLS sent to a plain-text port",
            Code::ConnectionRefused => "connection refused",
            Code::ConnectionTimeout => "connection timed out",
            Code::NoResponseTimeout => "server never answered the ClientHello",
            Code::ServerResetAfterClientHello => "reset after the ClientHello",
            Code::ServerClosedAfterClientHello => "closed after the ClientHello",
            Code::ClientAborted => "client gave up",
            Code::FatalAlert => "fatal alert",
            Code::MalformedHandshake => "malformed handshake",
            Code::IncompleteCapture => "capture incomplete",
        }
    }
}

/// The diagnosis of one handshake attempt.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub code: Code,
    /// One sentence a person can act on.
    pub summary: String,
    /// Facts from the packets, each with where it was seen.
    pub evidence: Vec<String>,
    /// What to change, and on which side.
    pub fix: String,
}

impl Verdict {
    pub fn new(code: Code, summary: impl Into<String>) -> Verdict {
        Verdict {
            code,
            summary: summary.into(),
            evidence: Vec::new(),
            fix: String::new(),
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Verdict {
        self.fix = fix.into();
        self
    }

    pub fn evidence(mut self, items: impl IntoIterator<Item = String>) -> Verdict {
        self.evidence.extend(items);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for &code in Code::ALL {
            assert_eq!(code.as_str().parse::<Code>().unwrap(), code);
        }
        assert_eq!(Code::ALL.len(), 25);
        assert!("nonsense".parse::<Code>().is_err());
    }
}
