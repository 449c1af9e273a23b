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
pub mod initial;
pub mod packet;

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
