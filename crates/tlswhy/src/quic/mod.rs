//! QUIC, as far as a passive observer reads it without keys: the long-header packets
//! (RFC 9000 §17.2, versions 1 and 2), the Initial packets' protection, whose keys come
//! from the client's Destination Connection ID (RFC 9001 §5.2, RFC 9369 §3.3), and the
//! frames of an Initial — CRYPTO (the TLS ClientHello and ServerHello), ACK, PADDING,
//! PING and CONNECTION_CLOSE.
//!
//! Parsing borrows the datagram; only an opened payload is copied (it is decrypted in
//! place).

pub mod attempt;
pub mod frames;
pub mod ids;
pub mod initial;
pub mod ladder;
pub mod packet;
pub mod protection;
pub mod table;

/// A QUIC version as people name it: `QUIC v1`, `QUIC v2`, `QUIC draft-29`, else its
/// number in hex (others' versions, greasing values of the form 0x?a?a?a?a).
pub fn version_name(version: u32) -> String {
    match (version, initial::draft_number(version)) {
        (initial::VERSION_1, _) => "QUIC v1".into(),
        (initial::VERSION_2, _) => "QUIC v2".into(),
        (_, Some(draft)) => format!("QUIC draft-{draft}"),
        (v, None) => format!("QUIC 0x{v:08x}"),
    }
}

/// A version that only exercises version negotiation (RFC 9000 §15: 0x?a?a?a?a).
pub fn is_greasing_version(version: u32) -> bool {
    version & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// Versions as a list of names; `with_greasing`: the greasing ones too.
pub fn version_list(versions: &[u32], with_greasing: bool) -> String {
    versions
        .iter()
        .filter(|&&v| with_greasing || !is_greasing_version(v))
        .map(|&v| version_name(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name of a transport error code (RFC 9000 §20.1; 0x0100–0x01ff: a TLS alert,
/// RFC 9001 §4.8).
pub fn transport_error_name(code: u64) -> String {
    let name = match code {
        0x0 => "NO_ERROR",
        0x1 => "INTERNAL_ERROR",
        0x2 => "CONNECTION_REFUSED",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "STREAM_LIMIT_ERROR",
        0x5 => "STREAM_STATE_ERROR",
        0x6 => "FINAL_SIZE_ERROR",
        0x7 => "FRAME_ENCODING_ERROR",
        0x8 => "TRANSPORT_PARAMETER_ERROR",
        0x9 => "CONNECTION_ID_LIMIT_ERROR",
        0xa => "PROTOCOL_VIOLATION",
        0xb => "INVALID_TOKEN",
        0xc => "APPLICATION_ERROR",
        0xd => "CRYPTO_BUFFER_EXCEEDED",
        0xe => "KEY_UPDATE_ERROR",
        0xf => "AEAD_LIMIT_REACHED",
        0x10 => "NO_VIABLE_PATH",
        0x100..=0x1ff => {
            let alert = crate::tls::alert::AlertDescription((code - 0x100) as u8);
            return format!("CRYPTO_ERROR ({})", alert.name());
        }
        _ => return format!("0x{code:x}"),
    };
    name.into()
}

/// A QUIC variable-length integer (RFC 9000 §16) at the start of `b`: its value and
/// its length.
pub fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut value = u64::from(first & 0x3f);
    for &byte in &bytes[1..] {
        value = value << 8 | u64::from(byte);
    }
    Some((value, len))
}

#[cfg(test)]
mod tests {
    use super::varint;

    /// RFC 9000 §A.1's examples.
    #[test]
    fn reads_variable_length_integers() {
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(varint(bytes), Some((value, bytes.len())));
        }
        assert_eq!(varint(&[0x40]), None);
        assert_eq!(varint(&[]), None);
    }
}
