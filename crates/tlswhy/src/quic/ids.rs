//! What identifies a QUIC connection besides its two endpoints: its connection IDs
//! (RFC 9000 §5.1, at most 20 bytes, chosen by each side for the packets it receives),
//! and the server's stateless reset token (§10.3), read from its transport parameters
//! (§18.2) in the EncryptedExtensions when keys open the Handshake packets. A datagram
//! that ends in that token is a stateless reset: the server no longer has the
//! connection's state.

use std::fmt;

use super::varint;
use crate::tls::hello::split_extensions;

/// The `quic_transport_parameters` TLS extension (RFC 9001 §8.2).
const QUIC_TRANSPORT_PARAMETERS: u16 = 0x39;
/// The same extension under the IETF drafts (draft-ietf-quic-tls-27 §8.2 and on).
const QUIC_TRANSPORT_PARAMETERS_DRAFT: u16 = 0xffa5;
/// The transport parameter that carries the server's stateless reset token.
const STATELESS_RESET_TOKEN: u64 = 0x02;
/// The smallest datagram a stateless reset can be (RFC 9000 §10.3: 5 unpredictable
/// bytes after the first, then the 16-byte token).
pub const MIN_STATELESS_RESET: usize = 21;

/// A connection ID, kept inline (at most 20 bytes in QUIC v1 and v2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; 20],
}

impl ConnectionId {
    /// `None` when longer than 20 bytes.
    pub fn new(id: &[u8]) -> Option<ConnectionId> {
        let mut bytes = [0; 20];
        bytes.get_mut(..id.len())?.copy_from_slice(id);
        Some(ConnectionId {
            len: id.len() as u8,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lower-case hex, as Wireshark and Zeek's quic.log write connection IDs.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(2 * usize::from(self.len));
        for &b in self.as_bytes() {
            hex.push(char::from(DIGITS[usize::from(b >> 4)]));
            hex.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        hex
    }

    /// Whether a short-header packet (its first byte, then the Destination Connection
    /// ID) is addressed to this ID.
    pub fn addresses(&self, short_packet: &[u8]) -> bool {
        short_packet.get(1..1 + usize::from(self.len)) == Some(self.as_bytes())
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The stateless reset token among the transport parameters of an EncryptedExtensions
/// message's body (the server's: only a server sends the token).
pub fn stateless_reset_token(encrypted_extensions: &[u8]) -> Option<[u8; 16]> {
    let len = u16::from_be_bytes([
        *encrypted_extensions.first()?,
        *encrypted_extensions.get(1)?,
    ]);
    let extensions = encrypted_extensions.get(2..2 + usize::from(len))?;
    let (_, mut params) = split_extensions(extensions).find(|&(ty, _)| {
        ty == QUIC_TRANSPORT_PARAMETERS || ty == QUIC_TRANSPORT_PARAMETERS_DRAFT
    })?;
    while !params.is_empty() {
        let (id, n) = varint(params)?;
        let (len, m) = varint(&params[n..])?;
        let start = n + m;
        let value = params.get(start..start.checked_add(usize::try_from(len).ok()?)?)?;
        if id == STATELESS_RESET_TOKEN {
            return value.try_into().ok();
        }
        params = &params[start + value.len()..];
    }
    None
}

/// Whether a datagram from the server is a stateless reset carrying `token`: shaped as
/// a short-header packet, long enough, ending in the token.
pub fn is_stateless_reset(datagram: &[u8], token: &[u8; 16]) -> bool {
    datagram.len() >= MIN_STATELESS_RESET && datagram[0] & 0x80 == 0 && datagram.ends_with(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::hex;

    #[test]
    fn connection_ids_are_at_most_20_bytes_and_address_short_packets() {
        let id = ConnectionId::new(&[0xab, 0x01]).unwrap();
        assert_eq!(id.to_string(), "ab01");
        assert_eq!(ConnectionId::new(&[0x0f, 0xa0]).unwrap().to_hex(), "0fa0");
        assert!(id.addresses(&[0x41, 0xab, 0x01, 0x99]));
        assert!(!id.addresses(&[0x41, 0xab, 0x02, 0x99]));
        assert!(!id.addresses(&[0x41, 0xab]));
        assert!(ConnectionId::new(&[0; 21]).is_none());
        assert!(ConnectionId::new(&[]).unwrap().is_empty());
    }

    /// EncryptedExtensions with ALPN h3 and transport parameters: max_idle_timeout
    /// (0x01 = 30000), stateless_reset_token (0x02), a greased parameter (0x1b, empty).
    #[test]
    fn reads_the_stateless_reset_token_of_the_transport_parameters() {
        let token = "00112233445566778899aabbccddeeff";
        let params = format!("01 04 80007530 02 10 {token} 1b 00");
        let params_len = hex(&params).len();
        let ee = hex(&format!(
            "{:04x} 0010 0005 0003 026833 0039 {:04x} {params}",
            9 + 4 + params_len,
            params_len
        ));
        let want: [u8; 16] = hex(token).try_into().unwrap();
        assert_eq!(stateless_reset_token(&ee), Some(want));
        // Without the parameter, or cut short: none.
        let without = hex("0009 0010 0005 0003 026833");
        assert_eq!(stateless_reset_token(&without), None);
        assert_eq!(stateless_reset_token(&ee[..ee.len() - 10]), None);

        let mut reset = vec![0x4b; 8];
        reset.extend_from_slice(&want);
        assert!(is_stateless_reset(&reset, &want));
        assert!(!is_stateless_reset(&reset[4..], &want), "too short");
        reset[0] = 0xcb;
        assert!(!is_stateless_reset(&reset, &want), "a long header");
    }
}
