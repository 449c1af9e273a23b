//! ClientHello and ServerHello (and HelloRetryRequest) as facts: what each side offered
//! and picked. ClientHello bodies go through tls-parser; each extension is framed here and
//! decoded by tls-parser's extension parser, so one odd extension does not hide the rest.
//! The SSLv2-compatible ClientHello and TLS 1.3 draft ServerHellos are read by hand.

use std::net::IpAddr;

use serde::Serialize;
use tls_parser::{SNIType, TlsExtension};

use super::suites::is_grease;
use super::wire::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};

/// Extension type numbers used below (IANA TLS ExtensionType registry).
pub mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const EC_POINT_FORMATS: u16 = 11;
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    pub const ALPN: u16 = 16;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const SESSION_TICKET: u16 = 35;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const KEY_SHARE: u16 = 51;
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
    pub const RENEGOTIATION_INFO: u16 = 0xff01;
}

/// What a ClientHello offered.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientHelloFacts {
    /// `legacy_version` (the record-era version field).
    pub legacy_version: ProtocolVersion,
    /// `supported_versions`, GREASE removed, in the client's order.
    pub supported_versions: Vec<ProtocolVersion>,
    /// Offered suites in the client's order (GREASE and SCSVs included).
    pub cipher_suites: Vec<CipherSuite>,
    /// `server_name` host name, as text (non-UTF-8 bytes escaped).
    #[serde(serialize_with = "crate::sanitize::ser_json_opt_text")]
    pub server_name: Option<String>,
    #[serde(serialize_with = "crate::sanitize::ser_json_texts")]
    pub alpn: Vec<String>,
    /// `supported_groups`, GREASE removed.
    pub supported_groups: Vec<NamedGroup>,
    /// The groups of the key shares sent, GREASE removed.
    pub key_share_groups: Vec<NamedGroup>,
    pub signature_algorithms: Vec<SignatureScheme>,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// `ec_point_formats`, in order (the first four; for JA3).
    #[serde(skip)]
    pub ec_point_formats: arrayvec::ArrayVec<u8, 4>,
    /// The first ALPN protocol's first and last bytes (for JA4, which reads the raw
    /// bytes); `None` without one.
    #[serde(skip)]
    pub first_alpn_ends: Option<(u8, u8)>,
    pub session_ticket: bool,
    pub pre_shared_key: bool,
    pub early_data: bool,
    pub extended_master_secret: bool,
    pub renegotiation_info: bool,
    pub encrypted_client_hello: bool,
    pub grease: bool,
    /// Identifies the handshake: the last 8 bytes of the client random (random in every
    /// version; the first 4 were a clock before TLS 1.3). Two legs of a relay carrying the
    /// same ClientHello share it.
    #[serde(skip)]
    pub handshake_id: u64,
    /// The digest its JA4 is found by in a thread's cache
    /// ([`ja4_key`](super::fingerprint::ja4_key)), taken as a connection's first hello is
    /// parsed when the records will carry a JA4 (the lists it reads are then in the
    /// cache, where by the record's time they seldom are); 0 otherwise (no key is 0), and
    /// the JA4 finds it then.
    #[serde(skip)]
    pub ja4_key: u64,
    /// Sent in the SSL 2.0-compatible format.
    pub sslv2_format: bool,
    /// The session id offered ([`session_digest`]; 0: none), to resume a TLS ≤ 1.2
    /// session.
    #[serde(skip)]
    pub session_id: u64,
    /// The session ticket offered ([`session_digest`]; 0: none, or an empty extension).
    #[serde(skip)]
    pub session_ticket_digest: u64,
}

/// A session id or ticket as a 64-bit digest (0 stands for none): enough to tell which
/// earlier handshake a later one resumes. foldhash with a fixed seed, so digests agree
/// across threads and shards; tickets run to hundreds of bytes, hashed 16 at a time.
pub fn session_digest(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    if bytes.is_empty() {
        return 0;
    }
    foldhash::fast::FixedState::with_seed(0x7e55_10f1)
        .hash_one(bytes)
        .max(1)
}

impl ClientHelloFacts {
    /// The ladder's line of this hello, `ClientHello (TLS 1.3, SNI example.com, 16
    /// suites, ALPN h2,http/1.1)`: spelled piece by piece, not formatted (the
    /// formatting machinery took 3% of the analysis when every hello was spelled).
    pub fn ladder_label(&self) -> String {
        let version = self.highest_version().name();
        let sni = self.server_name.as_deref().unwrap_or("none");
        let alpn: usize = self.alpn.iter().map(|p| p.len() + 1).sum();
        let mut label = String::with_capacity(48 + version.len() + sni.len() + alpn);
        label.push_str("ClientHello (");
        label.push_str(&version);
        label.push_str(", SNI ");
        label.push_str(sni);
        label.push_str(", ");
        label.push_str(itoa::Buffer::new().format(self.cipher_suites.len()));
        label.push_str(" suites");
        for (i, protocol) in self.alpn.iter().enumerate() {
            label.push_str(if i == 0 { ", ALPN " } else { "," });
            label.push_str(protocol);
        }
        label.push(')');
        label
    }

    /// Moves the lists to allocations of their exact size (allocators keep a shrunk block
    /// in place).
    pub fn trim_lists(&mut self) {
        use super::trim::trim;
        trim(&mut self.supported_versions);
        trim(&mut self.cipher_suites);
        trim(&mut self.supported_groups);
        trim(&mut self.key_share_groups);
        trim(&mut self.signature_algorithms);
        trim(&mut self.extensions);
        trim(&mut self.alpn);
    }

    /// The suites offered, without GREASE and signalling values.
    pub fn real_suites(&self) -> impl Iterator<Item = CipherSuite> + '_ {
        self.cipher_suites.iter().copied().filter(|s| s.is_real())
    }

    /// The highest version the client offers.
    pub fn highest_version(&self) -> ProtocolVersion {
        self.supported_versions
            .iter()
            .copied()
            .chain(std::iter::once(self.legacy_version))
            .max_by_key(|v| v.rank())
            .unwrap_or(self.legacy_version)
    }

    /// The lowest version the client offers (from supported_versions when present).
    pub fn lowest_version(&self) -> ProtocolVersion {
        if self.supported_versions.is_empty() {
            return self.legacy_version;
        }
        self.supported_versions
            .iter()
            .copied()
            .min_by_key(|v| v.rank())
            .unwrap_or(self.legacy_version)
    }

    /// True when the client offers `version`.
    pub fn offers_version(&self, version: ProtocolVersion) -> bool {
        if self.supported_versions.is_empty() {
            // Pre-1.3 negotiation: any version up to legacy_version.
            version.rank() <= self.legacy_version.rank() && version.rank() > 0
        } else {
            self.supported_versions.contains(&version)
        }
    }

    /// The host name asked for: the server_name, unless it holds an IP address.
    pub fn host_name(&self) -> Option<&str> {
        self.server_name
            .as_deref()
            .filter(|_| self.server_name_ip().is_none())
    }

    /// The server_name when it holds an IP address literal (RFC 6066 §3 forbids it).
    pub fn server_name_ip(&self) -> Option<IpAddr> {
        let name = self.server_name.as_deref()?;
        let trimmed = name.trim_start_matches('[').trim_end_matches(']');
        // Host names hold letters past 'f' or other characters an address has not: most
        // are told without parsing (this runs for every hello the profiles see).
        let address_characters = trimmed
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
        if !address_characters {
            return None;
        }
        trimmed.parse().ok()
    }
}

/// What a ServerHello (or HelloRetryRequest) picked.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerHelloFacts {
    pub legacy_version: ProtocolVersion,
    /// The negotiated version: `supported_versions` when present, else `legacy_version`.
    pub version: ProtocolVersion,
    pub cipher_suite: CipherSuite,
    #[serde(serialize_with = "crate::sanitize::ser_json_opt_text")]
    pub alpn: Option<String>,
    /// The key-exchange group: the key_share (TLS 1.3), or the named curve of the
    /// ServerKeyExchange that follows (TLS ≤ 1.2 ECDHE).
    pub key_share_group: Option<NamedGroup>,
    pub extensions: Vec<u16>,
    pub hello_retry_request: bool,
    /// The server echoed a non-empty session id (resumption, or TLS 1.3 middlebox compat).
    pub session_id_echoed: bool,
    /// The session id ([`session_digest`]; 0: none).
    #[serde(skip)]
    pub session_id: u64,
}

impl ServerHelloFacts {
    /// TLS 1.3: the server accepted one of the client's pre-shared keys (a resumption).
    pub fn accepted_psk(&self) -> bool {
        self.extensions.contains(&ext::PRE_SHARED_KEY)
    }
}

/// RFC 8446 §4.1.3: the ServerHello.random of a HelloRetryRequest.
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Splits an extensions block into (type, data) pairs; stops at the first bad length.
pub fn split_extensions(block: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    Extensions(block).map(|e| (e.ty, e.data))
}

/// One extension of a block: its type, its data, and the whole of it with its type and
/// length (what tls-parser's extension parser reads).
struct Extension<'a> {
    ty: u16,
    data: &'a [u8],
    framed: &'a [u8],
}

/// The extensions of a block, in order, up to the first bad length.
struct Extensions<'a>(&'a [u8]);

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    fn next(&mut self) -> Option<Extension<'a>> {
        let block = self.0;
        let header = block.get(..4)?;
        let len = u16::from_be_bytes([header[2], header[3]]) as usize;
        let Some(framed) = block.get(..4 + len) else {
            self.0 = &[];
            return None;
        };
        self.0 = &block[4 + len..];
        Some(Extension {
            ty: u16::from_be_bytes([header[0], header[1]]),
            data: &framed[4..],
            framed,
        })
    }
}

/// The protocol a server's ALPN extension selects (ServerHello before TLS 1.3,
/// EncryptedExtensions in it): a protocol_name_list with exactly one entry.
pub fn selected_alpn(data: &[u8]) -> Option<String> {
    let len = *data.get(2)? as usize;
    let name = data.get(3..3 + len)?;
    Some(crate::sanitize::text_from_wire(name))
}

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHelloFacts, String> {
    let (_, ch) = tls_parser::parse_tls_handshake_client_hello(body)
        .map_err(|e| format!("ClientHello does not parse ({})", short_err(&e)))?;
    let mut facts = ClientHelloFacts {
        legacy_version: ProtocolVersion(ch.version.0),
        cipher_suites: ch.ciphers.iter().map(|c| CipherSuite(c.0)).collect(),
        handshake_id: id_of_random(ch.random),
        session_id: ch.session_id.map_or(0, session_digest),
        ..Default::default()
    };
    facts.grease = facts.cipher_suites.iter().any(|c| is_grease(c.0));
    if let Some(block) = ch.ext {
        facts.extensions.reserve(Extensions(block).count());
        for extension in Extensions(block) {
            facts.extensions.push(extension.ty);
            if is_grease(extension.ty) {
                facts.grease = true;
                continue;
            }
            apply_client_extension(&mut facts, extension);
        }
    }
    Ok(facts)
}

fn apply_client_extension(facts: &mut ClientHelloFacts, extension: Extension) {
    let Extension { ty, data, framed } = extension;
    match ty {
        ext::SESSION_TICKET => {
            facts.session_ticket = true;
            facts.session_ticket_digest = session_digest(data);
        }
        ext::PRE_SHARED_KEY => facts.pre_shared_key = true,
        ext::EARLY_DATA => facts.early_data = true,
        ext::EXTENDED_MASTER_SECRET => facts.extended_master_secret = true,
        ext::RENEGOTIATION_INFO => facts.renegotiation_info = true,
        ext::ENCRYPTED_CLIENT_HELLO => facts.encrypted_client_hello = true,
        ext::KEY_SHARE => facts.key_share_groups = key_share_groups(data),
        ext::SUPPORTED_VERSIONS => {
            // A one-byte length, then two bytes per version.
            if let Some((&len, rest)) = data.split_first() {
                let list = &rest[..(len as usize).min(rest.len())];
                facts.supported_versions = not_grease(
                    list.chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]])),
                    ProtocolVersion,
                );
                if list
                    .chunks_exact(2)
                    .any(|c| is_grease(u16::from_be_bytes([c[0], c[1]])))
                {
                    facts.grease = true;
                }
            }
        }
        // tls-parser reads the four whose contents are kept; the others (key shares of
        // a kilobyte and more, padding) are not copied or parsed for nothing.
        ext::SERVER_NAME | ext::ALPN | ext::SUPPORTED_GROUPS | ext::SIGNATURE_ALGORITHMS => {
            if ty == ext::ALPN {
                // protocol_name_list: a 2-byte length, then length-prefixed names.
                if let Some(&len) = data.get(2) {
                    let name = data.get(3..3 + len as usize).unwrap_or(&[]);
                    facts.first_alpn_ends = name.first().map(|&f| (f, *name.last().unwrap_or(&f)));
                }
            }
            apply_parsed_extension(facts, framed)
        }
        ext::EC_POINT_FORMATS => {
            if let Some((&len, rest)) = data.split_first() {
                let formats = &rest[..(len as usize).min(rest.len())];
                facts.ec_point_formats = formats.iter().copied().take(4).collect();
            }
        }
        _ => {}
    }
}

/// Reads an extension's contents with tls-parser (`framed`: with its type and length).
fn apply_parsed_extension(facts: &mut ClientHelloFacts, framed: &[u8]) {
    let Ok((_, parsed)) = tls_parser::parse_tls_extension(framed) else {
        return;
    };
    match parsed {
        TlsExtension::SNI(names) => {
            facts.server_name = names
                .iter()
                .find(|(t, _)| *t == SNIType::HostName)
                .map(|(_, name)| crate::sanitize::text_from_wire(name));
        }
        TlsExtension::ALPN(protos) => {
            facts.alpn = protos
                .iter()
                .map(|p| crate::sanitize::text_from_wire(p))
                .collect();
        }
        TlsExtension::EllipticCurves(groups) => {
            facts.supported_groups = not_grease(groups.iter().map(|g| g.0), NamedGroup);
        }
        TlsExtension::SignatureAlgorithms(algs) => {
            // Same layout: the list is converted in place.
            facts.signature_algorithms = algs.into_iter().map(SignatureScheme).collect();
        }
        _ => {}
    }
}

/// The values of a list that are not GREASE, as `T`s: room for them all is made at
/// once (a filtered iterator's collect starts at four and doubles).
fn not_grease<T>(values: impl ExactSizeIterator<Item = u16>, make: fn(u16) -> T) -> Vec<T> {
    let mut out = Vec::with_capacity(values.len());
    out.extend(values.filter(|&v| !is_grease(v)).map(make));
    out
}

fn key_share_groups(data: &[u8]) -> Vec<NamedGroup> {
    // client_shares<0..2^16-1>: group(2) key_exchange<1..2^16-1>
    let mut out = Vec::new();
    let Some(list) = data.get(2..) else {
        return out;
    };
    let mut rest = list;
    while rest.len() >= 4 {
        let group = u16::from_be_bytes([rest[0], rest[1]]);
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        if !is_grease(group) {
            out.push(NamedGroup(group));
        }
        match rest.get(4 + len..) {
            Some(r) => rest = r,
            None => break,
        }
    }
    out
}

/// The handshake id: the last 8 bytes of the random (or challenge), big-endian.
fn id_of_random(random: &[u8]) -> u64 {
    let tail = &random[random.len().saturating_sub(8)..];
    tail.iter().fold(0u64, |id, &b| (id << 8) | u64::from(b))
}

/// Parses an SSL 2.0-format ClientHello record (RFC 6101 appendix E.2) whose 2-byte
/// header has already been checked. `record` starts at the header.
pub fn parse_sslv2_client_hello(record: &[u8]) -> Result<ClientHelloFacts, String> {
    let body = record.get(2..).ok_or("SSLv2 record too short")?;
    if body.first() != Some(&1) || body.len() < 9 {
        return Err("SSLv2 record is not a CLIENT-HELLO".into());
    }
    let version = u16::from_be_bytes([body[1], body[2]]);
    let spec_len = u16::from_be_bytes([body[3], body[4]]) as usize;
    let session_len = u16::from_be_bytes([body[5], body[6]]) as usize;
    let challenge_len = u16::from_be_bytes([body[7], body[8]]) as usize;
    let specs = body
        .get(9..9 + spec_len)
        .ok_or("SSLv2 CLIENT-HELLO cut short")?;
    let challenge_at = 9 + spec_len + session_len;
    let challenge = body
        .get(challenge_at..challenge_at + challenge_len)
        .unwrap_or(&[]);
    let mut facts = ClientHelloFacts {
        legacy_version: ProtocolVersion(version),
        sslv2_format: true,
        handshake_id: id_of_random(challenge),
        ..Default::default()
    };
    for spec in specs.chunks_exact(3) {
        if spec[0] == 0 {
            facts
                .cipher_suites
                .push(CipherSuite(u16::from_be_bytes([spec[1], spec[2]])));
        }
    }
    Ok(facts)
}

/// Parses a ServerHello body. Handles TLS 1.3 drafts and HelloRetryRequest.
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHelloFacts, String> {
    if body.len() < 2 + 32 + 2 {
        return Err("ServerHello too short".into());
    }
    let legacy_version = u16::from_be_bytes([body[0], body[1]]);
    let random = &body[2..34];
    let mut facts = ServerHelloFacts {
        legacy_version: ProtocolVersion(legacy_version),
        version: ProtocolVersion(legacy_version),
        hello_retry_request: random == HRR_RANDOM,
        ..Default::default()
    };
    if legacy_version & 0xff00 == 0x7f00 && (legacy_version & 0xff) < 22 {
        // Drafts before 22: version, random, cipher_suite, extensions.
        facts.cipher_suite = CipherSuite(u16::from_be_bytes([body[34], body[35]]));
    } else {
        let (_, sh) = tls_parser::parse_tls_handshake_server_hello(body)
            .map_err(|e| format!("ServerHello does not parse ({})", short_err(&e)))?;
        facts.cipher_suite = CipherSuite(sh.cipher.0);
        facts.session_id_echoed = sh.session_id.is_some_and(|s| !s.is_empty());
        facts.session_id = sh.session_id.map_or(0, session_digest);
    }
    let ext_block = server_extensions_block(body, legacy_version);
    for (ty, data) in split_extensions(ext_block) {
        facts.extensions.push(ty);
        match ty {
            ext::SUPPORTED_VERSIONS if data.len() == 2 => {
                facts.version = ProtocolVersion(u16::from_be_bytes([data[0], data[1]]));
            }
            ext::KEY_SHARE if data.len() >= 2 => {
                facts.key_share_group = Some(NamedGroup(u16::from_be_bytes([data[0], data[1]])));
            }
            ext::ALPN => {
                if let Some(alpn) = selected_alpn(data) {
                    facts.alpn = Some(alpn);
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}

/// The extensions block (without its length) of a ServerHello body.
fn server_extensions_block(body: &[u8], legacy_version: u16) -> &[u8] {
    let after_fixed = if legacy_version & 0xff00 == 0x7f00 && (legacy_version & 0xff) < 22 {
        36
    } else {
        let sid_len = body.get(34).copied().unwrap_or(0) as usize;
        35 + sid_len + 3
    };
    let Some(len_bytes) = body.get(after_fixed..after_fixed + 2) else {
        return &[];
    };
    let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
    body.get(after_fixed + 2..after_fixed + 2 + len)
        .unwrap_or(&[])
}

fn short_err<E: std::fmt::Debug>(e: &tls_parser::nom::Err<E>) -> String {
    match e {
        tls_parser::nom::Err::Incomplete(_) => "cut short".into(),
        _ => "invalid".into(),
    }
}

#[cfg(test)]
mod tests {
    /// The label reads as the format string it replaces would spell it.
    #[test]
    fn ladder_label_reads_as_formatted() {
        let mut ch = ClientHelloFacts {
            legacy_version: ProtocolVersion(0x0303),
            ..Default::default()
        };
        for (sni, alpn, suites, versions) in [
            (None, vec![], 0, vec![]),
            (Some("example.com"), vec!["h2"], 3, vec![0x0304, 0x0303]),
            (Some("a.b"), vec!["h2", "http/1.1"], 31, vec![0x7f1c]),
        ] {
            ch.server_name = sni.map(str::to_string);
            ch.alpn = alpn.iter().map(|p| p.to_string()).collect();
            ch.cipher_suites = vec![CipherSuite(0x1301); suites];
            ch.supported_versions = versions.into_iter().map(ProtocolVersion).collect();
            let formatted = format!(
                "ClientHello ({}, SNI {}, {} suites{})",
                ch.highest_version(),
                ch.server_name.as_deref().unwrap_or("none"),
                ch.cipher_suites.len(),
                if ch.alpn.is_empty() {
                    String::new()
                } else {
                    format!(", ALPN {}", ch.alpn.join(","))
                }
            );
            assert_eq!(ch.ladder_label(), formatted);
        }
    }

    use super::*;

    #[test]
    fn sslv2_hello_maps_cipher_specs() {
        // 2-byte header, CLIENT-HELLO, version 3.1, 2 specs (one SSLv2-only), no session id,
        // 16-byte challenge.
        let mut rec = vec![
            0x80, 0x00, 0x01, 0x03, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x10,
        ];
        rec.extend_from_slice(&[0x07, 0x00, 0xc0, 0x00, 0x00, 0x2f]);
        rec.extend_from_slice(&[0u8; 16]);
        rec[1] = (rec.len() - 2) as u8;
        let facts = parse_sslv2_client_hello(&rec).unwrap();
        assert!(facts.sslv2_format);
        assert_eq!(facts.legacy_version, ProtocolVersion(0x0301));
        assert_eq!(facts.cipher_suites, vec![CipherSuite(0x002f)]);
    }

    #[test]
    fn ip_literal_server_name() {
        let facts = ClientHelloFacts {
            server_name: Some("192.168.1.1".into()),
            ..Default::default()
        };
        assert!(facts.server_name_ip().is_some());
        let named = ClientHelloFacts {
            server_name: Some("emby.example.com".into()),
            ..Default::default()
        };
        assert!(named.server_name_ip().is_none());
        for (name, ip) in [
            ("[2001:db8::1]", true),
            ("::1", true),
            ("fe80::1", true),
            ("cafe.de", false),
            ("1.2.3", false),
            ("10.0.0.1.", false),
        ] {
            let facts = ClientHelloFacts {
                server_name: Some(name.into()),
                ..Default::default()
            };
            assert_eq!(facts.server_name_ip().is_some(), ip, "{name}");
        }
    }
}
