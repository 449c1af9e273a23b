//! Packet protection of the spaces after Initial (RFC 9001 §5): Handshake packets open
//! with keys derived from the TLS handshake traffic secrets a key log holds, under the
//! suite the ServerHello picked — AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305, with
//! AES or ChaCha20 header protection.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;
use zeroize::Zeroizing;

use super::initial::VERSION_2;
use crate::keys::{quic_packet_keys, CipherSpec, QuicHeaderCipher, RecordCipher};

/// How a packet's header protection and payload are removed: the Initial keys of a
/// connection's DCID, or a later space's keys from a key log.
pub trait Protection {
    /// The header protection mask (its first five bytes are used) of a packet whose
    /// ciphertext sample is `sample`.
    fn mask(&self, sample: &[u8; 16]) -> [u8; 5];
    /// The payload of packet `packet_number` (`sealed`: ciphertext and tag), `aad` its
    /// unprotected header; `None` when it does not authenticate.
    fn open_payload(&self, packet_number: u64, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>>;
}

enum HeaderKey {
    Aes128(Box<Aes128>),
    Aes256(Box<Aes256>),
    ChaCha20(Zeroizing<[u8; 32]>),
}

/// One direction's keys of one packet number space.
pub struct SpaceKeys {
    payload: RecordCipher,
    header: HeaderKey,
}

impl std::fmt::Debug for SpaceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpaceKeys(..)")
    }
}

impl SpaceKeys {
    /// The keys of a traffic secret under TLS 1.3 suite `suite`, for QUIC `version`;
    /// `None` for a suite QUIC does not use or a secret of another length.
    pub fn from_secret(suite: u16, secret: &[u8], version: u32) -> Option<SpaceKeys> {
        let spec = CipherSpec::for_suite(suite, true)?;
        let (key, iv, hp) = quic_packet_keys(&spec, secret, version == VERSION_2)?;
        let header = match spec.quic_header_protection()? {
            QuicHeaderCipher::Aes128 => {
                HeaderKey::Aes128(Box::new(Aes128::new_from_slice(&hp).ok()?))
            }
            QuicHeaderCipher::Aes256 => {
                HeaderKey::Aes256(Box::new(Aes256::new_from_slice(&hp).ok()?))
            }
            QuicHeaderCipher::ChaCha20 => {
                HeaderKey::ChaCha20(Zeroizing::new(hp[..].try_into().ok()?))
            }
        };
        Some(SpaceKeys {
            payload: RecordCipher::tls13(&spec, &key, iv)?,
            header,
        })
    }
}

impl Protection for SpaceKeys {
    fn mask(&self, sample: &[u8; 16]) -> [u8; 5] {
        let mut mask = [0u8; 5];
        match &self.header {
            HeaderKey::Aes128(k) => {
                let mut block = aes::Block::clone_from_slice(sample);
                k.encrypt_block(&mut block);
                mask.copy_from_slice(&block[..5]);
            }
            HeaderKey::Aes256(k) => {
                let mut block = aes::Block::clone_from_slice(sample);
                k.encrypt_block(&mut block);
                mask.copy_from_slice(&block[..5]);
            }
            HeaderKey::ChaCha20(k) => {
                // The counter is the sample's first four bytes (little-endian), the
                // nonce the rest: ChaCha20's block counter starts there.
                let counter = u32::from_le_bytes(sample[..4].try_into().expect("4 bytes"));
                let nonce: [u8; 12] = sample[4..].try_into().expect("12 bytes");
                let mut cipher = ChaCha20::new((&**k).into(), (&nonce).into());
                use chacha20::cipher::StreamCipherSeek;
                cipher.seek(u64::from(counter) * 64);
                cipher.apply_keystream(&mut mask);
            }
        }
        mask
    }

    fn open_payload(&self, packet_number: u64, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        self.payload.open_quic(packet_number, aad, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::hex;

    /// RFC 9001 §A.5: ChaCha20-Poly1305 keys from a traffic secret, its header
    /// protection mask and the payload of the example packet (one PING frame).
    #[test]
    fn the_rfc_9001_chacha20_example() {
        let secret = hex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
        let keys = SpaceKeys::from_secret(0x1303, &secret, super::super::initial::VERSION_1)
            .expect("ChaCha20-Poly1305 keys");
        let sample: [u8; 16] = hex("5e5cd55c41f69080575d7999c25a5bfb").try_into().unwrap();
        assert_eq!(keys.mask(&sample), [0xae, 0xfe, 0xfe, 0x7d, 0x03]);
        let payload = keys
            .open_payload(
                654_360_564,
                &hex("4200bff4"),
                &hex("655e5cd55c41f69080575d7999c25a5bfb"),
            )
            .expect("opens");
        assert_eq!(payload, [0x01]);
        // Another suite's keys do not open it.
        let aes =
            SpaceKeys::from_secret(0x1301, &secret, super::super::initial::VERSION_1).unwrap();
        assert!(aes
            .open_payload(
                654_360_564,
                &hex("4200bff4"),
                &hex("655e5cd55c41f69080575d7999c25a5bfb")
            )
            .is_none());
        assert!(
            SpaceKeys::from_secret(0x1302, &secret, 1).is_none(),
            "a SHA-384 suite needs 48 bytes"
        );
    }
}
