//! Initial packet protection: keys every observer can derive from the Destination
//! Connection ID of the client's first Initial (RFC 9001 §5.2; QUIC version 2 changes
//! the salt and the labels, RFC 9369 §3.3). The IETF drafts 23 to 34 that browsers and
//! servers deployed before RFC 9000 (Chrome and Facebook's mvfst spoke draft-29 and
//! draft-27 into 2021) protect their Initials the same way as version 1, drafts 23 to
//! 32 with a salt of their own; captures of that time hold them.

use aes::cipher::BlockEncrypt;
use aes::Aes128;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

use crate::keys::expand_label_sha256;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// draft-ietf-quic-tls-23 to -28 (and mvfst's 0xfaceb002, built on draft-27).
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// draft-ietf-quic-tls-29 to -32.
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

/// One direction's Initial keys: the AEAD, its IV and the header protection key.
pub struct PacketKeys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    header: Aes128,
}

impl std::fmt::Debug for PacketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PacketKeys(..)")
    }
}

/// Both directions' Initial keys of a connection.
#[derive(Debug)]
pub struct InitialKeys {
    pub client: PacketKeys,
    pub server: PacketKeys,
}

/// mvfst's version built on draft-27 (Facebook's apps and edge, 2020–2021).
const MVFST_DRAFT_27: u32 = 0xface_b002;

/// The IETF draft number of a draft version (0xff0000NN), else `None`.
pub fn draft_number(version: u32) -> Option<u32> {
    (version & 0xffff_ff00 == 0xff00_0000).then_some(version & 0xff)
}

/// The Initial keys of `version` for a client's first Destination Connection ID;
/// `None` for a version whose Initial protection is not known here.
pub fn initial_keys(version: u32, dcid: &[u8]) -> Option<InitialKeys> {
    const V1_LABELS: [&[u8]; 3] = [b"quic key", b"quic iv", b"quic hp"];
    let (salt, labels): (&[u8], [&[u8]; 3]) = match (version, draft_number(version)) {
        (VERSION_1, _) => (&SALT_V1, V1_LABELS),
        (VERSION_2, _) => (&SALT_V2, [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"]),
        (MVFST_DRAFT_27, _) => (&SALT_DRAFT_23, V1_LABELS),
        (_, Some(23..=28)) => (&SALT_DRAFT_23, V1_LABELS),
        (_, Some(29..=32)) => (&SALT_DRAFT_29, V1_LABELS),
        // Drafts 33 and 34 are version 1 but for the number.
        (_, Some(33 | 34)) => (&SALT_V1, V1_LABELS),
        _ => return None,
    };
    let (initial, _) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let side = |label: &[u8]| -> Option<PacketKeys> {
        let mut secret = [0u8; 32];
        expand_label_sha256(&initial, label, &mut secret)?;
        let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
        expand_label_sha256(&secret, labels[0], &mut key)?;
        expand_label_sha256(&secret, labels[1], &mut iv)?;
        expand_label_sha256(&secret, labels[2], &mut hp)?;
        Some(PacketKeys {
            aead: Aes128Gcm::new_from_slice(&key).ok()?,
            iv,
            header: Aes128::new_from_slice(&hp).ok()?,
        })
    };
    Some(InitialKeys {
        client: side(b"client in")?,
        server: side(b"server in")?,
    })
}

impl PacketKeys {
    /// The header protection mask of a packet whose ciphertext sample is `sample`.
    pub(super) fn mask(&self, sample: &[u8; 16]) -> [u8; 16] {
        let mut block = aes::Block::clone_from_slice(sample);
        self.header.encrypt_block(&mut block);
        block.into()
    }

    /// Opens a payload in place (`payload`: ciphertext and tag; on success its first
    /// `len - 16` bytes are the plaintext). `aad`: the unprotected header.
    pub(super) fn open(&self, packet_number: u64, aad: &[u8], payload: &mut [u8]) -> Option<usize> {
        let text_len = payload.len().checked_sub(16)?;
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(packet_number.to_be_bytes()) {
            *n ^= p;
        }
        let (text, tag) = payload.split_at_mut(text_len);
        self.aead
            .decrypt_in_place_detached((&nonce).into(), aad, text, aes_gcm::Tag::from_slice(tag))
            .ok()?;
        Some(text_len)
    }
}

/// An Initial packet protected as a peer sends it (what synthetic captures are made
/// of): the long header `header` (up to its Length field, which this fills in), a
/// 4-byte packet number, `plaintext` (padded with PADDING frames so that the header
/// protection has its sample) sealed with `keys`, and the header protection applied.
pub fn seal_initial(
    keys: &PacketKeys,
    header: &[u8],
    packet_number: u32,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut text = plaintext.to_vec();
    // The sample starts 4 bytes after the packet number's start: 16 bytes of
    // ciphertext must follow it.
    text.resize(text.len().max(4), 0);
    let length = 4 + text.len() + 16;
    let mut packet = header.to_vec();
    packet[0] = (packet[0] & !0x03) | 0x03; // a 4-byte packet number
    packet.extend_from_slice(&(0x4000u16 | length as u16).to_be_bytes());
    let pn_offset = packet.len();
    packet.extend_from_slice(&packet_number.to_be_bytes());
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..]
        .iter_mut()
        .zip(u64::from(packet_number).to_be_bytes())
    {
        *n ^= p;
    }
    let tag = keys
        .aead
        .encrypt_in_place_detached((&nonce).into(), &packet, &mut text)
        .expect("an Initial's payload is far below the AEAD's limit");
    packet.extend_from_slice(&text);
    packet.extend_from_slice(&tag);
    let sample: [u8; 16] = packet[pn_offset + 4..pn_offset + 20]
        .try_into()
        .expect("16 bytes");
    let mask = keys.mask(&sample);
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..4 {
        packet[pn_offset + i] ^= mask[1 + i];
    }
    packet
}

impl super::protection::Protection for PacketKeys {
    fn mask(&self, sample: &[u8; 16]) -> [u8; 5] {
        let mask = PacketKeys::mask(self, sample);
        [mask[0], mask[1], mask[2], mask[3], mask[4]]
    }

    fn open_payload(&self, packet_number: u64, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let mut payload = sealed.to_vec();
        let len = self.open(packet_number, aad, &mut payload)?;
        payload.truncate(len);
        Some(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sealed Initial opens with the same keys, to the same frames.
    #[test]
    fn a_sealed_initial_opens() {
        use crate::quic::frames::initial_frames;
        use crate::quic::packet::{packets, QuicPacket};
        let dcid = [7u8; 8];
        let keys = initial_keys(VERSION_1, &dcid).unwrap();
        let mut header = vec![0xc0, 0, 0, 0, 1, 8];
        header.extend_from_slice(&dcid);
        header.extend_from_slice(&[0, 0]); // no source connection id, no token
                                           // CRYPTO at offset 0 of 5 bytes, then PADDING.
        let mut text = vec![0x06, 0x00, 0x05, 1, 0, 0, 1, 9];
        text.resize(1100, 0);
        let sealed = seal_initial(&keys.client, &header, 2, &text);
        let (found, damaged) = packets(&sealed);
        assert!(!damaged);
        let QuicPacket::Long(long) = &found[0] else {
            panic!("{found:?}")
        };
        let opened = long.open(&keys.client).expect("opens");
        assert_eq!(opened.packet_number, 2);
        let frames = initial_frames(&opened.payload);
        assert_eq!(frames.crypto, vec![(0, &[1u8, 0, 0, 1, 9][..])]);
        assert!(long.open(&keys.server).is_none());
    }

    /// RFC 9001 §A.1: the header protection of both directions, checked through the
    /// mask of the sample of §A.3's server packet.
    #[test]
    fn keys_of_the_rfc_9001_example() {
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let keys = initial_keys(VERSION_1, &dcid).unwrap();
        assert_eq!(
            keys.server.iv,
            [0x0a, 0xc1, 0x49, 0x3c, 0xa1, 0x90, 0x58, 0x53, 0xb0, 0xbb, 0xa0, 0x3e]
        );
        assert_eq!(
            keys.client.iv,
            [0xfa, 0x04, 0x4b, 0x2f, 0x42, 0xa3, 0xfd, 0x3b, 0x46, 0xfb, 0x25, 0x5c]
        );
        let sample = [
            0x2c, 0xd0, 0x99, 0x1c, 0xd2, 0x5b, 0x0a, 0xac, 0x40, 0x6a, 0x58, 0x16, 0xb6, 0x39,
            0x41, 0x00,
        ];
        assert_eq!(
            keys.server.mask(&sample)[..5],
            [0x2e, 0xc0, 0xd8, 0x35, 0x6a]
        );
        // Draft 22 and older framed their long headers otherwise.
        assert!(initial_keys(0xff00_0016, &dcid).is_none());
        assert!(initial_keys(0xff00_001d, &dcid).is_some());
    }

    /// draft-ietf-quic-tls-29 §A.1: the client's Initial key and IV for the same
    /// Destination Connection ID, with draft-29's salt.
    #[test]
    fn keys_of_the_draft_29_example() {
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let keys = initial_keys(0xff00_001d, &dcid).unwrap();
        assert_eq!(
            keys.client.iv,
            [0x6b, 0x26, 0x11, 0x4b, 0x9c, 0xba, 0x2b, 0x63, 0xa9, 0xe8, 0xdd, 0x4f]
        );
        assert_ne!(
            keys.client.iv,
            initial_keys(VERSION_1, &dcid).unwrap().client.iv
        );
        assert_eq!(draft_number(0xff00_001d), Some(29));
        assert_eq!(draft_number(VERSION_1), None);
    }
}
