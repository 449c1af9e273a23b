//! SSL 2.0 as far as tlswhy follows it: a server's SERVER-HELLO, and the cipher the
//! client then chooses (RFC 6101 appendix E; the SSL 2.0 ClientHello is in `hello`).

/// The cipher kind of an SSL 2.0 CLIENT-MASTER-KEY (message type 2, after a 2- or
/// 3-byte record header).
pub(super) fn client_master_key_cipher(b: &[u8]) -> Option<u32> {
    let header = if b.first()? & 0x80 != 0 { 2 } else { 3 };
    let msg = b.get(header..header + 4)?;
    (msg[0] == 2).then(|| u32::from_be_bytes([0, msg[1], msg[2], msg[3]]))
}

/// The cipher kind of an SSL 2.0 SERVER-HELLO that offers exactly one.
pub(super) fn only_cipher(b: &[u8]) -> Option<u32> {
    let cert_len = u16::from_be_bytes([*b.get(7)?, *b.get(8)?]) as usize;
    let specs_len = u16::from_be_bytes([*b.get(9)?, *b.get(10)?]) as usize;
    let specs = b.get(13 + cert_len..13 + cert_len + specs_len)?;
    match specs {
        [x, y, z] => Some(u32::from_be_bytes([0, *x, *y, *z])),
        _ => None,
    }
}

/// SSL 2.0 SERVER-HELLO: 2-byte header, message type 4, session-id-hit, certificate type,
/// then the version.
pub(super) fn is_server_hello(b: &[u8]) -> bool {
    b.len() >= 11 && b[0] & 0x80 != 0 && b[2] == 4 && b[5] == 0 && b[6] == 2
}

/// An SSL 2.0-format CLIENT-HELLO (2-byte header, message type 1) offering SSL 2.0,
/// 3.0 or TLS.
pub(super) fn is_client_hello(b: &[u8]) -> bool {
    b.len() >= 11 && b[0] & 0x80 != 0 && b[2] == 1 && (b[3] == 3 || b[3] == 0 || b[3] == 2)
}
