//! A failure's details and a record's alerts written straight into the line, the bytes
//! their `Serialize` implementations write (tested on every kind written here, and on
//! every record of the bundled captures and the corpus) without going through a
//! serializer: a failure's compact record is mostly its verdict, and its details were
//! the largest part of what writing it cost. A kind whose fields are text to sanitize
//! or rare types (plain text, malformed bytes, QUIC closes, ...) goes through
//! `Serialize`.

use std::net::SocketAddr;

use super::writer::{self, write_int, write_seconds, write_str, write_text};
use crate::diagnose::detail::{CloseKind, Detail};
use crate::flow::{At, Dir};
use crate::report::endpoint::Endpoint;
use crate::tls::alert::{AlertDescription, AlertLevel};
use crate::tls::facts::AlertFacts;
use crate::tls::wire::{CipherSuite, NamedGroup, ProtocolVersion};

/// A value of a detail's field, written as its `Serialize` implementation writes it.
trait Field {
    fn write(&self, out: &mut Vec<u8>);
}

macro_rules! integer_fields {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn write(&self, out: &mut Vec<u8>) {
                write_int(out, *self);
            }
        }
    )*};
}
integer_fields!(u32, u64, usize);

impl Field for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl Field for f64 {
    fn write(&self, out: &mut Vec<u8>) {
        writer::write_f64(out, *self);
    }
}

impl Field for At {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"frame\":");
        write_int(out, self.frame);
        out.extend_from_slice(b",\"ts\":");
        write_seconds(out, self.ts.round_micros());
        out.push(b'}');
    }
}

impl Field for Dir {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self.sender());
    }
}

impl Field for CloseKind {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self {
            CloseKind::Fin => b"\"fin\"",
            CloseKind::Rst => b"\"rst\"",
        });
    }
}

/// `{"name":…,"code":…}`, the form of every registry value.
fn write_named(out: &mut Vec<u8>, name: &str, code: u16) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, name);
    out.extend_from_slice(b",\"code\":");
    write_int(out, code);
    out.push(b'}');
}

impl Field for ProtocolVersion {
    fn write(&self, out: &mut Vec<u8>) {
        write_named(out, &self.name(), self.0);
    }
}

impl Field for CipherSuite {
    fn write(&self, out: &mut Vec<u8>) {
        write_named(out, &self.name(), self.0);
    }
}

impl Field for NamedGroup {
    fn write(&self, out: &mut Vec<u8>) {
        match self.name() {
            Some(name) => write_named(out, name, self.0),
            // Its Display: the number in hex.
            None => write_named(out, &self.to_string(), self.0),
        }
    }
}

impl Field for Option<AlertLevel> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(level) => write_str(out, level.name()),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl Field for Option<AlertDescription> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(d) => write_named(out, &d.record_name(), u16::from(d.0)),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl Field for Option<SocketAddr> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            // Spelled as the record's own endpoints are (an address from the
            // packets has no IPv6 scope, the one thing `Endpoint` leaves out).
            Some(addr) => write_str(out, Endpoint::of(*addr).as_str()),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// Names of the registries' own making (suite classes): written as serde writes any
/// string.
impl Field for String {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

/// Text from the wire (certificate names): sanitized as `sanitize::ser_json_texts`
/// writes it.
struct WireTexts<'a>(&'a [String]);

impl Field for WireTexts<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        write_seq(out, self.0.iter(), |out, text| write_text(out, text));
    }
}

impl<T: Field> Field for Vec<T> {
    fn write(&self, out: &mut Vec<u8>) {
        write_seq(out, self.iter(), |out, item| item.write(out));
    }
}

/// `[a,b,…]`.
fn write_seq<T>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

/// `{"kind":"<kind>","field":value,…}`: the object serde's internally tagged `Detail`
/// writes, its fields in their declared order.
macro_rules! object {
    ($out:ident, $kind:literal $(, $field:ident = $value:expr)* $(,)?) => {{
        $out.extend_from_slice(concat!("{\"kind\":\"", $kind, "\"").as_bytes());
        $(
            $out.extend_from_slice(concat!(",\"", stringify!($field), "\":").as_bytes());
            Field::write($value, $out);
        )*
        $out.push(b'}');
    }};
}

/// A verdict's `details` list.
pub(super) fn write_details(out: &mut Vec<u8>, details: &[Detail]) {
    write_seq(out, details.iter(), write_detail);
}

/// One detail.
fn write_detail(out: &mut Vec<u8>, d: &Detail) {
    use Detail::*;
    match d {
        Syn { at, count } => object!(out, "syn", at = at, count = count),
        SynRefused { at } => object!(out, "syn_refused", at = at),
        Silence {
            from,
            secs,
            until_capture_end,
        } => object!(
            out,
            "silence",
            from = from,
            secs = secs,
            until_capture_end = until_capture_end
        ),
        CaptureEndsAfter { secs } => object!(out, "capture_ends_after", secs = secs),
        OneSided { client_packets } => {
            object!(out, "one_sided", client_packets = client_packets)
        }
        ClientChangeCipherSpecUnanswered { at } => {
            object!(out, "client_change_cipher_spec_unanswered", at = at)
        }
        MidStream { at } => object!(out, "mid_stream", at = at),
        SegmentMissing { at, from } => object!(out, "segment_missing", at = at, from = from),
        ClientBytes { at, bytes } => object!(out, "client_bytes", at = at, bytes = bytes),
        NoTlsData { at } => object!(out, "no_tls_data", at = at),
        ClientHello {
            at,
            highest_version,
            suites,
        } => object!(
            out,
            "client_hello",
            at = at,
            highest_version = highest_version,
            suites = suites
        ),
        SuitesOffered {
            classes,
            offered,
            suites,
        } => object!(
            out,
            "suites_offered",
            classes = classes,
            offered = offered,
            suites = suites
        ),
        VersionsOffered {
            versions,
            legacy_only,
        } => object!(
            out,
            "versions_offered",
            versions = versions,
            legacy_only = legacy_only
        ),
        GroupsOffered {
            groups,
            signature_algorithms,
        } => object!(
            out,
            "groups_offered",
            groups = groups,
            signature_algorithms = signature_algorithms
        ),
        ServerHello {
            at,
            version,
            cipher_suite,
        } => object!(
            out,
            "server_hello",
            at = at,
            version = version,
            cipher_suite = cipher_suite
        ),
        Alert {
            at,
            from,
            level,
            description,
            encrypted,
        } => object!(
            out,
            "alert",
            at = at,
            from = from,
            level = level,
            description = description,
            encrypted = encrypted
        ),
        Close { at, from, how } => object!(out, "close", at = at, from = from, how = how),
        ServerCertificate {
            at,
            chain_length,
            certificates,
        } => {
            out.extend_from_slice(b"{\"kind\":\"server_certificate\",\"at\":");
            at.write(out);
            out.extend_from_slice(b",\"chain_length\":");
            chain_length.write(out);
            // The leaf's many fields through `Serialize` (serializing into memory does
            // not fail).
            out.extend_from_slice(b",\"leaf\":");
            let _ = writer::write(out, &certificates.first());
            out.push(b'}');
        }
        LeafOnly { aia_ca_issuers } => object!(out, "leaf_only", aia_ca_issuers = aia_ca_issuers),
        SilentAfterCertificate => object!(out, "silent_after_certificate"),
        NoClientAcceptedLeaf => object!(out, "no_client_accepted_leaf"),
        HelloNotAcknowledged { unacknowledged } => {
            object!(
                out,
                "hello_not_acknowledged",
                unacknowledged = unacknowledged
            )
        }
        NoClientCertificate => object!(out, "no_client_certificate"),
        ProfileSharedSuites { suites } => object!(out, "profile_shared_suites", suites = suites),
        ProfileNoSuites => object!(out, "profile_no_suites"),
        ProfileSuitesPicked {
            server_hellos,
            example_client,
            suites,
        } => object!(
            out,
            "profile_suites_picked",
            server_hellos = server_hellos,
            example_client = example_client,
            suites = suites
        ),
        ProfileVersions { versions } => object!(out, "profile_versions", versions = versions),
        ProfileCertificateNames { names } => {
            object!(out, "profile_certificate_names", names = &WireTexts(names))
        }
        ApplicationData {
            client_records,
            server_records,
        } => object!(
            out,
            "application_data",
            client_records = client_records,
            server_records = server_records
        ),
        ServerFinished { at } => object!(out, "server_finished", at = at),
        ClientFinished { at } => object!(out, "client_finished", at = at),
        EncryptedAlert {
            at,
            from,
            record_length,
            instead_of_finished,
            no_data_sent,
        } => object!(
            out,
            "encrypted_alert",
            at = at,
            from = from,
            record_length = record_length,
            instead_of_finished = instead_of_finished,
            no_data_sent = no_data_sent
        ),
        ClientFlight { at, record_lengths } => object!(
            out,
            "client_flight",
            at = at,
            record_lengths = record_lengths
        ),
        EmptyCertificateBySize => object!(out, "empty_certificate_by_size"),
        CertificateBySize => object!(out, "certificate_by_size"),
        ConflictingOverlaps { from, count } => {
            object!(out, "conflicting_overlaps", from = from, count = count)
        }
        QuicInitial {
            at,
            version,
            datagrams,
            probes,
        } => object!(
            out,
            "quic_initial",
            at = at,
            version = version,
            datagrams = datagrams,
            probes = probes
        ),
        PortUnreachable { at, count } => object!(out, "port_unreachable", at = at, count = count),
        TcpFallback { at } => object!(out, "tcp_fallback", at = at),
        TcpUnanswered { at, count } => object!(out, "tcp_unanswered", at = at, count = count),
        QuicClientStoppedInHandshake { at } => {
            object!(out, "quic_client_stopped_in_handshake", at = at)
        }
        QuicFirstShortPacket { at } => object!(out, "quic_first_short_packet", at = at),
        // Text from the wire to sanitize, optional fields left out, labels, QUIC's rarer
        // facts.
        _ => {
            let _ = writer::write(out, d);
        }
    }
}

/// A record's `alerts` list, as [`AlertFacts`]' `Serialize` writes it.
pub(super) fn write_alerts(out: &mut Vec<u8>, alerts: &[AlertFacts]) {
    write_seq(out, alerts.iter(), |out, a| {
        // The place written inline, as `At`'s fields flattened: sharing a writer with
        // `At` cost 2.3M instructions on the 20k benchmark file's JSON Lines.
        out.extend_from_slice(b"{\"frame\":");
        write_int(out, a.at.frame);
        out.extend_from_slice(b",\"ts\":");
        write_seconds(out, a.at.ts.round_micros());
        out.extend_from_slice(b",\"from\":");
        a.from.write(out);
        out.extend_from_slice(b",\"level\":");
        a.level.write(out);
        out.extend_from_slice(b",\"description\":");
        a.description.write(out);
        out.extend_from_slice(if a.encrypted {
            b",\"encrypted\":true"
        } else {
            b",\"encrypted\":false"
        });
        if a.decrypted {
            out.extend_from_slice(b",\"decrypted\":true");
        }
        out.push(b'}');
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::tls::cert::CertFacts;
    use std::sync::Arc;

    /// Every kind written here, with values that take each branch (names the
    /// registries lack, GREASE, a whole second, text to sanitize), as serde_json
    /// writes it; and one left to `Serialize`.
    #[test]
    fn details_are_written_as_serde_json_writes_them() {
        let at = At {
            frame: 874,
            ts: Timestamp(1_735_732_800_130_221_400),
        };
        let whole = At {
            frame: 1,
            ts: Timestamp(1_735_732_800_000_000_000),
        };
        let suites = vec![
            CipherSuite(0xc02f),
            CipherSuite(0x0a0a),
            CipherSuite(0xfefe),
        ];
        let versions = vec![
            ProtocolVersion(0x0304),
            ProtocolVersion(0x0300),
            ProtocolVersion(0x7f1c),
        ];
        let leaf = CertFacts {
            subject: "CN=a\u{7}\"b".into(),
            dns_names: vec!["x.example".into()],
            ..CertFacts::default()
        };
        let details = vec![
            Detail::Syn { at, count: 3 },
            Detail::SynRefused { at: whole },
            Detail::Silence {
                from: Dir::ToServer,
                secs: 3.25,
                until_capture_end: true,
            },
            Detail::CaptureEndsAfter { secs: 0.1 },
            Detail::OneSided { client_packets: 7 },
            Detail::ClientChangeCipherSpecUnanswered { at },
            Detail::MidStream { at },
            Detail::SegmentMissing {
                at,
                from: Dir::ToClient,
            },
            Detail::ClientBytes { at, bytes: 5 },
            Detail::NoTlsData { at },
            Detail::ClientHello {
                at,
                highest_version: ProtocolVersion(0x0303),
                suites: 28,
            },
            Detail::SuitesOffered {
                classes: vec!["only ECDHE key exchange".into()],
                offered: 3,
                suites: suites.clone(),
            },
            Detail::VersionsOffered {
                versions: versions.clone(),
                legacy_only: false,
            },
            Detail::GroupsOffered {
                groups: vec![NamedGroup(29), NamedGroup(0x2a2a), NamedGroup(0x11ec)],
                signature_algorithms: 9,
            },
            Detail::ServerHello {
                at,
                version: ProtocolVersion(0x0303),
                cipher_suite: CipherSuite(0x1301),
            },
            Detail::Alert {
                at,
                from: Dir::ToServer,
                level: Some(AlertLevel(2)),
                description: Some(AlertDescription(48)),
                encrypted: false,
            },
            Detail::Alert {
                at,
                from: Dir::ToClient,
                level: Some(AlertLevel(9)),
                description: Some(AlertDescription(201)),
                encrypted: false,
            },
            Detail::Alert {
                at,
                from: Dir::ToClient,
                level: None,
                description: None,
                encrypted: true,
            },
            Detail::Close {
                at,
                from: Dir::ToClient,
                how: CloseKind::Rst,
            },
            Detail::Close {
                at,
                from: Dir::ToServer,
                how: CloseKind::Fin,
            },
            Detail::ServerCertificate {
                at,
                chain_length: 2,
                certificates: Arc::new(vec![leaf]),
            },
            Detail::ServerCertificate {
                at,
                chain_length: 0,
                certificates: Arc::new(Vec::new()),
            },
            Detail::LeafOnly {
                aia_ca_issuers: true,
            },
            Detail::SilentAfterCertificate,
            Detail::NoClientAcceptedLeaf,
            Detail::HelloNotAcknowledged {
                unacknowledged: 517,
            },
            Detail::NoClientCertificate,
            Detail::ProfileSharedSuites {
                suites: suites.clone(),
            },
            Detail::ProfileNoSuites,
            Detail::ProfileSuitesPicked {
                server_hellos: 12,
                example_client: Some("[2001:db8::1]:50000".parse().unwrap()),
                suites: suites.clone(),
            },
            Detail::ProfileSuitesPicked {
                server_hellos: 0,
                example_client: None,
                suites: Vec::new(),
            },
            Detail::ProfileVersions { versions },
            Detail::ProfileCertificateNames {
                names: vec!["a.example".into(), "b\u{202e}\u{1b}[31m\\".into()],
            },
            Detail::ApplicationData {
                client_records: 4,
                server_records: 0,
            },
            Detail::ServerFinished { at },
            Detail::ClientFinished { at },
            Detail::EncryptedAlert {
                at,
                from: Dir::ToServer,
                record_length: 19,
                instead_of_finished: true,
                no_data_sent: false,
            },
            Detail::ClientFlight {
                at,
                record_lengths: vec![19, 53],
            },
            Detail::EmptyCertificateBySize,
            Detail::CertificateBySize,
            Detail::ConflictingOverlaps {
                from: Dir::ToClient,
                count: 2,
            },
            Detail::QuicInitial {
                at,
                version: 1,
                datagrams: 2,
                probes: 5,
            },
            Detail::PortUnreachable { at, count: 3 },
            Detail::TcpFallback { at },
            Detail::TcpUnanswered { at, count: 2 },
            Detail::QuicClientStoppedInHandshake { at },
            Detail::QuicFirstShortPacket { at },
            // Through `Serialize`.
            Detail::Limit {
                limit: "flow table".into(),
                decided: false,
            },
        ];
        for d in &details {
            let mut written = Vec::new();
            write_detail(&mut written, d);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(d).unwrap()
            );
        }
        let mut written = Vec::new();
        write_details(&mut written, &details);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string(&details).unwrap()
        );
        let mut written = Vec::new();
        write_details(&mut written, &[]);
        assert_eq!(written, b"[]");
    }

    /// Alerts plain, unnamed, encrypted and decrypted, as their `Serialize` writes them.
    #[test]
    fn alerts_are_written_as_serde_json_writes_them() {
        let at = At {
            frame: 9,
            ts: Timestamp(1_735_732_800_218_605_000),
        };
        let alerts = [
            AlertFacts::new(at, Dir::ToServer, Some([2, 48]), false),
            AlertFacts::new(at, Dir::ToClient, Some([1, 250]), false),
            AlertFacts::new(at, Dir::ToClient, None, true),
            AlertFacts::new(at, Dir::ToServer, Some([2, 40]), true),
        ];
        for n in 0..=alerts.len() {
            let mut written = Vec::new();
            write_alerts(&mut written, &alerts[..n]);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&alerts[..n]).unwrap()
            );
        }
    }
}
