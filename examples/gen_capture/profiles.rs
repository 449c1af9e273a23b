//! TLS constants (versions, content and message types, extensions, groups, alerts) and
//! the client profiles a ClientHello follows.

pub(crate) const TLS10: u16 = 0x0301;
pub(crate) const TLS11: u16 = 0x0302;
pub(crate) const TLS12: u16 = 0x0303;
pub(crate) const TLS13: u16 = 0x0304;

pub(crate) const CHANGE_CIPHER_SPEC: u8 = 20;
pub(crate) const ALERT: u8 = 21;
pub(crate) const HANDSHAKE: u8 = 22;
pub(crate) const APPLICATION_DATA: u8 = 23;

pub(crate) const CLIENT_HELLO: u8 = 1;
pub(crate) const SERVER_HELLO: u8 = 2;
pub(crate) const NEW_SESSION_TICKET: u8 = 4;
pub(crate) const ENCRYPTED_EXTENSIONS: u8 = 8;
pub(crate) const CERTIFICATE: u8 = 11;
pub(crate) const SERVER_KEY_EXCHANGE: u8 = 12;
pub(crate) const SERVER_HELLO_DONE: u8 = 14;
pub(crate) const CERTIFICATE_VERIFY: u8 = 15;
pub(crate) const CLIENT_KEY_EXCHANGE: u8 = 16;
pub(crate) const FINISHED: u8 = 20;

pub(crate) const EXT_SERVER_NAME: u16 = 0x0000;
pub(crate) const EXT_STATUS_REQUEST: u16 = 0x0005;
pub(crate) const EXT_SUPPORTED_GROUPS: u16 = 0x000A;
pub(crate) const EXT_EC_POINT_FORMATS: u16 = 0x000B;
pub(crate) const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000D;
pub(crate) const EXT_ALPN: u16 = 0x0010;
pub(crate) const EXT_SCT: u16 = 0x0012;
pub(crate) const EXT_PADDING: u16 = 0x0015;
pub(crate) const EXT_EXTENDED_MASTER_SECRET: u16 = 0x0017;
pub(crate) const EXT_COMPRESS_CERTIFICATE: u16 = 0x001B;
pub(crate) const EXT_SESSION_TICKET: u16 = 0x0023;
pub(crate) const EXT_PRE_SHARED_KEY: u16 = 0x0029;
pub(crate) const EXT_SUPPORTED_VERSIONS: u16 = 0x002B;
pub(crate) const EXT_PSK_KEY_EXCHANGE_MODES: u16 = 0x002D;
pub(crate) const EXT_KEY_SHARE: u16 = 0x0033;
pub(crate) const EXT_APPLICATION_SETTINGS: u16 = 0x4469;
pub(crate) const EXT_RENEGOTIATION_INFO: u16 = 0xFF01;

pub(crate) const X25519: u16 = 0x001D;
pub(crate) const SECP256R1: u16 = 0x0017;
pub(crate) const SECP384R1: u16 = 0x0018;
pub(crate) const SECP521R1: u16 = 0x0019;
pub(crate) const X25519MLKEM768: u16 = 0x11EC;
/// Client share: ML-KEM-768 encapsulation key (1184) + X25519 (32).
pub(crate) const MLKEM_CLIENT_SHARE: usize = 1216;
/// Server share: ML-KEM-768 ciphertext (1088) + X25519 (32).
pub(crate) const MLKEM_SERVER_SHARE: usize = 1120;

pub(crate) const ALERT_WARNING: u8 = 1;
pub(crate) const ALERT_FATAL: u8 = 2;
pub(crate) const ALERT_CLOSE_NOTIFY: u8 = 0;
pub(crate) const ALERT_HANDSHAKE_FAILURE: u8 = 40;
pub(crate) const ALERT_UNKNOWN_CA: u8 = 48;
pub(crate) const ALERT_PROTOCOL_VERSION: u8 = 70;
pub(crate) const ALERT_UNRECOGNIZED_NAME: u8 = 112;

pub(crate) const GREASE: [u16; 16] = [
    0x0A0A, 0x1A1A, 0x2A2A, 0x3A3A, 0x4A4A, 0x5A5A, 0x6A6A, 0x7A7A, 0x8A8A, 0x9A9A, 0xAAAA, 0xBABA,
    0xCACA, 0xDADA, 0xEAEA, 0xFAFA,
];
/// The last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.2 (RFC 8446).
pub(crate) const DOWNGRADE_TLS12: [u8; 8] = *b"DOWNGRD\x01";

pub(crate) fn version_name(v: u16) -> &'static str {
    match v {
        TLS10 => "TLS1.0",
        TLS11 => "TLS1.1",
        TLS12 => "TLS1.2",
        _ => "TLS1.3",
    }
}

pub(crate) fn group_name(g: u16) -> &'static str {
    match g {
        X25519 => "x25519",
        SECP256R1 => "secp256r1",
        _ => "X25519MLKEM768",
    }
}

/// How one client stack writes its ClientHello.
pub(crate) struct Profile {
    pub(crate) name: &'static str,
    pub(crate) record_version: u16,
    pub(crate) legacy_version: u16,
    /// supported_versions; empty: the extension is not sent.
    pub(crate) versions: &'static [u16],
    pub(crate) grease: bool,
    pub(crate) shuffle_extensions: bool,
    pub(crate) suites: &'static [u16],
    pub(crate) groups: &'static [u16],
    pub(crate) alpn: &'static [&'static [u8]],
    pub(crate) signature_algorithms: &'static [u16],
    /// Can offer X25519MLKEM768.
    pub(crate) post_quantum: bool,
    /// Pads ClientHellos of 256..511 bytes to 512 (BoringSSL, NSS).
    pub(crate) padding: bool,
}

impl Profile {
    pub(crate) fn offers_tls13(&self) -> bool {
        !self.versions.is_empty()
    }
}

/// Chromium-like: GREASE, shuffled extensions, optional post-quantum key share.
pub(crate) static CHROME: Profile = Profile {
    name: "chrome",
    record_version: TLS10,
    legacy_version: TLS12,
    versions: &[TLS13, TLS12],
    grease: true,
    shuffle_extensions: true,
    suites: &[
        0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
        0x009C, 0x009D, 0x002F, 0x0035,
    ],
    groups: &[X25519, SECP256R1, SECP384R1],
    alpn: &[b"h2", b"http/1.1"],
    signature_algorithms: &[
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ],
    post_quantum: true,
    padding: true,
};

pub(crate) static FIREFOX: Profile = Profile {
    name: "firefox",
    record_version: TLS10,
    legacy_version: TLS12,
    versions: &[TLS13, TLS12],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0x1301, 0x1303, 0x1302, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0xC02C, 0xC030, 0xC00A, 0xC009,
        0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
    ],
    groups: &[X25519, SECP256R1, SECP384R1, SECP521R1, 0x0100, 0x0101],
    alpn: &[b"h2", b"http/1.1"],
    signature_algorithms: &[
        0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
    ],
    post_quantum: true,
    padding: true,
};

/// OpenSSL 3 default list (curl, Python ssl).
pub(crate) static OPENSSL: Profile = Profile {
    name: "openssl",
    record_version: TLS10,
    legacy_version: TLS12,
    versions: &[TLS13, TLS12],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC02B, 0xC02F,
        0x009E, 0xC024, 0xC028, 0x006B, 0xC023, 0xC027, 0x0067, 0xC00A, 0xC014, 0x0039, 0xC009,
        0xC013, 0x0033, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x00FF,
    ],
    groups: &[
        X25519, SECP256R1, 0x001E, SECP521R1, SECP384R1, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
    ],
    alpn: &[b"http/1.1"],
    signature_algorithms: &[
        0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x081A, 0x081B, 0x081C, 0x0809, 0x080A, 0x080B,
        0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502,
        0x0602,
    ],
    post_quantum: false,
    padding: true,
};

/// TLS 1.2-only stack (older Java, embedded clients).
pub(crate) static JAVA12: Profile = Profile {
    name: "java12",
    record_version: TLS12,
    legacy_version: TLS12,
    versions: &[],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0xC02C, 0xC02B, 0xC030, 0x009D, 0xC02E, 0xC032, 0x009F, 0x00A3, 0xC02F, 0x009C, 0xC02D,
        0xC031, 0x009E, 0x00A2, 0xC024, 0xC028, 0x003D, 0xC026, 0xC02A, 0x006B, 0x006A, 0xC00A,
        0xC014, 0x0035, 0xC005, 0xC00F, 0x0039, 0x0038, 0x00FF,
    ],
    groups: &[SECP256R1, SECP384R1, SECP521R1, 0x0016, 0x0100],
    alpn: &[],
    signature_algorithms: &[
        0x0603, 0x0601, 0x0503, 0x0501, 0x0403, 0x0401, 0x0303, 0x0301, 0x0203, 0x0201, 0x0202,
    ],
    post_quantum: false,
    padding: false,
};

/// Legacy TLS 1.0/1.1 client: draws protocol_version from modern servers.
pub(crate) static LEGACY: Profile = Profile {
    name: "legacy",
    record_version: TLS10,
    legacy_version: TLS11,
    versions: &[],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0xC014, 0xC00A, 0x0039, 0x0038, 0x0088, 0x0087, 0x0035, 0x0084, 0xC013, 0xC009, 0x0033,
        0x0032, 0x009A, 0x0099, 0x0045, 0x0044, 0x002F, 0x0096, 0x0041, 0x000A, 0x00FF,
    ],
    groups: &[SECP256R1, SECP384R1, SECP521R1],
    alpn: &[],
    signature_algorithms: &[],
    post_quantum: false,
    padding: false,
};

/// Client restricted to suites no current server accepts: draws handshake_failure.
pub(crate) static WEAK: Profile = Profile {
    name: "weak",
    record_version: TLS10,
    legacy_version: TLS12,
    versions: &[],
    grease: false,
    shuffle_extensions: false,
    suites: &[
        0x0005, 0x0004, 0x000A, 0x0016, 0x0013, 0x0009, 0x0015, 0x0012, 0x0003, 0x0006, 0x0008,
        0x0014, 0x0011, 0x0018, 0x001B, 0x00FF,
    ],
    groups: &[SECP256R1, SECP384R1],
    alpn: &[b"http/1.1"],
    signature_algorithms: &[0x0401, 0x0201, 0x0402, 0x0202],
    post_quantum: false,
    padding: false,
};

/// Clients of successful connections, with their weights.
pub(crate) static SUCCESS_PROFILES: [(&Profile, u64); 4] =
    [(&CHROME, 40), (&FIREFOX, 15), (&OPENSSL, 30), (&JAVA12, 15)];

/// TLS 1.2 server preference by certificate key type.
pub(crate) const SERVER12_RSA_SUITES: [u16; 9] = [
    0xC02F, 0xC030, 0xCCA8, 0x009C, 0x009D, 0xC013, 0xC014, 0x002F, 0x0035,
];
pub(crate) const SERVER12_ECDSA_SUITES: [u16; 5] = [0xC02B, 0xC02C, 0xCCA9, 0xC009, 0xC00A];
pub(crate) const SERVER13_SUITES: [u16; 3] = [0x1301, 0x1302, 0x1303];
