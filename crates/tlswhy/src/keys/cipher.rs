//! Record protection, opened: the AEADs of TLS 1.3 and TLS 1.2 (AES-GCM,
//! ChaCha20-Poly1305, AES-CCM and CCM_8) and TLS 1.2's AES-CBC with HMAC (MAC then
//! encrypt, or encrypt-then-MAC, RFC 7366). Each record is authenticated before its
//! bytes are used: a wrong key opens nothing.

use aes::{Aes128, Aes256};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
use ccm::consts::{U12, U16, U8};
use ccm::Ccm;
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};
use zeroize::Zeroizing;

use crate::tls::suites::registry_entry;

/// A hash of the key schedule or of a TLS 1.2 record MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
    Sha384,
}

impl Hash {
    pub(crate) fn len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Ccm,
    Aes128Ccm8,
    Aes256Ccm,
    Aes256Ccm8,
    Aes128Cbc,
    Aes256Cbc,
}

/// What a cipher suite's record protection needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CipherSpec {
    algorithm: Algorithm,
    pub key_len: usize,
    /// TLS 1.2: the implicit nonce bytes from the key block (CBC: none, its IV is
    /// explicit).
    pub fixed_iv_len: usize,
    /// TLS 1.2 CBC: the HMAC key length; AEADs: 0.
    pub mac_key_len: usize,
    mac: Hash,
    /// The key schedule's hash (TLS 1.3) or the PRF's (TLS 1.2).
    pub prf: Hash,
}

impl CipherSpec {
    /// The protection of `suite`, if it is one this tool opens.
    pub(crate) fn for_suite(suite: u16, tls13: bool) -> Option<CipherSpec> {
        use Algorithm::*;
        let spec = |algorithm, key_len, fixed_iv_len, mac: Option<Hash>, prf| CipherSpec {
            algorithm,
            key_len,
            fixed_iv_len,
            mac_key_len: mac.map_or(0, Hash::len),
            mac: mac.unwrap_or(Hash::Sha256),
            prf,
        };
        if tls13 {
            return match suite {
                0x1301 => Some(spec(Aes128Gcm, 16, 12, None, Hash::Sha256)),
                0x1302 => Some(spec(Aes256Gcm, 32, 12, None, Hash::Sha384)),
                0x1303 => Some(spec(ChaCha20Poly1305, 32, 12, None, Hash::Sha256)),
                0x1304 => Some(spec(Aes128Ccm, 16, 12, None, Hash::Sha256)),
                0x1305 => Some(spec(Aes128Ccm8, 16, 12, None, Hash::Sha256)),
                _ => None,
            };
        }
        use tls_parser::{TlsCipherEnc as Enc, TlsCipherEncMode as Mode, TlsCipherMac as M};
        let cs = registry_entry(suite)?;
        let prf = if cs.prf == tls_parser::TlsPRF::Sha384 {
            Hash::Sha384
        } else {
            Hash::Sha256
        };
        let ccm8 = cs.name.ends_with("_8") || cs.name.contains("CCM_8_");
        let algorithm = match (cs.enc, cs.enc_mode, cs.enc_size, ccm8) {
            (Enc::Aes, Mode::Gcm, 128, _) => Aes128Gcm,
            (Enc::Aes, Mode::Gcm, 256, _) => Aes256Gcm,
            (Enc::Chacha20_Poly1305, _, _, _) => ChaCha20Poly1305,
            (Enc::Aes, Mode::Ccm, 128, false) => Aes128Ccm,
            (Enc::Aes, Mode::Ccm, 128, true) => Aes128Ccm8,
            (Enc::Aes, Mode::Ccm, 256, false) => Aes256Ccm,
            (Enc::Aes, Mode::Ccm, 256, true) => Aes256Ccm8,
            (Enc::Aes, Mode::Cbc, 128, _) => Aes128Cbc,
            (Enc::Aes, Mode::Cbc, 256, _) => Aes256Cbc,
            _ => return None,
        };
        let key_len = if cs.enc_size == 256 { 32 } else { 16 };
        Some(match algorithm {
            ChaCha20Poly1305 => spec(algorithm, 32, 12, None, prf),
            Aes128Cbc | Aes256Cbc => {
                let mac = match cs.mac {
                    M::HmacSha1 => Hash::Sha1,
                    M::HmacSha256 => Hash::Sha256,
                    M::HmacSha384 => Hash::Sha384,
                    _ => return None,
                };
                spec(algorithm, key_len, 0, Some(mac), prf)
            }
            _ => spec(algorithm, key_len, 4, None, prf),
        })
    }

    /// The header protection of QUIC packets under this suite (RFC 9001 §5.4.3): AES
    /// for the AES suites, ChaCha20 for ChaCha20-Poly1305.
    pub(crate) fn quic_header_protection(&self) -> Option<QuicHeaderCipher> {
        match self.algorithm {
            Algorithm::Aes128Gcm | Algorithm::Aes128Ccm => Some(QuicHeaderCipher::Aes128),
            Algorithm::Aes256Gcm => Some(QuicHeaderCipher::Aes256),
            Algorithm::ChaCha20Poly1305 => Some(QuicHeaderCipher::ChaCha20),
            _ => None,
        }
    }

    fn tag_len(&self) -> usize {
        match self.algorithm {
            Algorithm::Aes128Ccm8 | Algorithm::Aes256Ccm8 => 8,
            _ => 16,
        }
    }
}

/// The cipher of QUIC header protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuicHeaderCipher {
    Aes128,
    Aes256,
    ChaCha20,
}

enum Keyed {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(Box<ChaCha20Poly1305>),
    Aes128Ccm(Box<Ccm<Aes128, U16, U12>>),
    Aes128Ccm8(Box<Ccm<Aes128, U8, U12>>),
    Aes256Ccm(Box<Ccm<Aes256, U16, U12>>),
    Aes256Ccm8(Box<Ccm<Aes256, U8, U12>>),
    Cbc {
        key: Zeroizing<Vec<u8>>,
        mac_key: Zeroizing<Vec<u8>>,
        encrypt_then_mac: bool,
    },
}

/// One direction's record protection with its keys.
pub(crate) struct RecordCipher {
    spec: CipherSpec,
    keyed: Keyed,
    /// TLS 1.3 and ChaCha20-Poly1305: the per-record nonce is this XOR the sequence
    /// number; TLS 1.2 GCM and CCM: the first 4 bytes are the implicit salt.
    iv: [u8; 12],
    tls13: bool,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordCipher({:?})", self.spec.algorithm)
    }
}

/// A record opened: its real content type and its plaintext.
pub(crate) struct Opened {
    pub content_type: u8,
    pub plaintext: Zeroizing<Vec<u8>>,
}

impl RecordCipher {
    /// A TLS 1.3 record cipher from a traffic key and IV.
    pub(crate) fn tls13(spec: &CipherSpec, key: &[u8], iv: [u8; 12]) -> Option<RecordCipher> {
        Some(RecordCipher {
            spec: *spec,
            keyed: keyed(spec, key, &[], false)?,
            iv,
            tls13: true,
        })
    }

    /// A TLS 1.2 record cipher from one direction of the key block.
    pub(crate) fn tls12(
        spec: &CipherSpec,
        keys: &super::Tls12Keys,
        encrypt_then_mac: bool,
    ) -> Option<RecordCipher> {
        let mut iv = [0u8; 12];
        iv[..keys.iv.len().min(12)].copy_from_slice(&keys.iv[..keys.iv.len().min(12)]);
        Some(RecordCipher {
            spec: *spec,
            keyed: keyed(spec, &keys.key, &keys.mac_key, encrypt_then_mac)?,
            iv,
            tls13: false,
        })
    }

    /// Opens the record with sequence number `seq`; `header` is its 5-byte header,
    /// `body` what follows. `None`: it does not authenticate (or is too short).
    pub(crate) fn open(&self, seq: u64, header: &[u8; 5], body: &[u8]) -> Option<Opened> {
        if self.tls13 {
            return self.open_tls13(seq, header, body);
        }
        let plaintext = self.open_tls12(seq, header, body)?;
        Some(Opened {
            content_type: header[0],
            plaintext,
        })
    }

    /// A QUIC packet's payload (RFC 9001 §5.3): the nonce is the IV with the packet
    /// number, `aad` the unprotected header. `None`: it does not authenticate.
    pub(crate) fn open_quic(&self, packet_number: u64, aad: &[u8], body: &[u8]) -> Option<Vec<u8>> {
        self.aead(&self.xor_nonce(packet_number), aad, body)
    }

    fn open_tls13(&self, seq: u64, header: &[u8; 5], body: &[u8]) -> Option<Opened> {
        let nonce = self.xor_nonce(seq);
        let mut plain = Zeroizing::new(self.aead(&nonce, header, body)?);
        // TLSInnerPlaintext: content, the real type, zero padding.
        let end = plain.iter().rposition(|&b| b != 0)?;
        let content_type = plain[end];
        plain.truncate(end);
        Some(Opened {
            content_type,
            plaintext: plain,
        })
    }

    fn open_tls12(&self, seq: u64, header: &[u8; 5], body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let aad = |len: usize| {
            let mut aad = [0u8; 13];
            aad[..8].copy_from_slice(&seq.to_be_bytes());
            aad[8..11].copy_from_slice(&header[..3]);
            aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
            aad
        };
        match &self.keyed {
            Keyed::Cbc {
                key,
                mac_key,
                encrypt_then_mac,
            } => self.open_cbc(key, mac_key, *encrypt_then_mac, &aad, body),
            Keyed::ChaCha20Poly1305(_) => {
                let len = body.len().checked_sub(self.spec.tag_len())?;
                let nonce = self.xor_nonce(seq);
                self.aead(&nonce, &aad(len), body).map(Zeroizing::new)
            }
            _ => {
                // GCM, CCM: 8 explicit nonce bytes lead the record.
                if body.len() < 8 + self.spec.tag_len() {
                    return None;
                }
                let (explicit, sealed) = body.split_at(8);
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(&self.iv[..4]);
                nonce[4..].copy_from_slice(explicit);
                let len = sealed.len() - self.spec.tag_len();
                self.aead(&nonce, &aad(len), sealed).map(Zeroizing::new)
            }
        }
    }

    fn open_cbc(
        &self,
        key: &[u8],
        mac_key: &[u8],
        encrypt_then_mac: bool,
        aad: &dyn Fn(usize) -> [u8; 13],
        body: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let mac_len = self.spec.mac.len();
        if encrypt_then_mac {
            let sealed_len = body.len().checked_sub(mac_len)?;
            let (sealed, tag) = body.split_at(sealed_len);
            if !hmac_verify(self.spec.mac, mac_key, &aad(sealed_len), sealed, tag) {
                return None;
            }
            let plain = self.cbc_decrypt(key, sealed)?;
            let data_len = unpad(&plain, 0)?;
            return Some(Zeroizing::new(plain[..data_len].to_vec()));
        }
        let plain = self.cbc_decrypt(key, body)?;
        let data_len = unpad(&plain, mac_len)?;
        let (data, rest) = plain.split_at(data_len);
        if !hmac_verify(
            self.spec.mac,
            mac_key,
            &aad(data_len),
            data,
            &rest[..mac_len],
        ) {
            return None;
        }
        Some(Zeroizing::new(data.to_vec()))
    }

    /// AES-CBC with the record's explicit IV (its first block), padding kept.
    fn cbc_decrypt(&self, key: &[u8], body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if body.len() < 32 || body.len() % 16 != 0 {
            return None;
        }
        let (iv, sealed) = body.split_at(16);
        let mut buf = Zeroizing::new(sealed.to_vec());
        let n = match self.spec.algorithm {
            Algorithm::Aes128Cbc => cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .ok()?
                .len(),
            _ => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .ok()?
                .len(),
        };
        buf.truncate(n);
        Some(buf)
    }

    fn xor_nonce(&self, seq: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    fn aead(&self, nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        match &self.keyed {
            Keyed::Aes128Gcm(c) => open_with(&**c, nonce, aad, sealed),
            Keyed::Aes256Gcm(c) => open_with(&**c, nonce, aad, sealed),
            Keyed::ChaCha20Poly1305(c) => open_with(&**c, nonce, aad, sealed),
            Keyed::Aes128Ccm(c) => open_with(&**c, nonce, aad, sealed),
            Keyed::Aes128Ccm8(c) => open_with(&**c, nonce, aad, sealed),
            Keyed::Aes256Ccm(c) => open_with(&**c, nonce, aad, sealed),
            Keyed::Aes256Ccm8(c) => open_with(&**c, nonce, aad, sealed),
            Keyed::Cbc { .. } => None,
        }
    }
}

fn keyed(spec: &CipherSpec, key: &[u8], mac_key: &[u8], encrypt_then_mac: bool) -> Option<Keyed> {
    use Algorithm::*;
    if key.len() != spec.key_len {
        return None;
    }
    Some(match spec.algorithm {
        Aes128Gcm => Keyed::Aes128Gcm(Box::new(aes_gcm::Aes128Gcm::new_from_slice(key).ok()?)),
        Aes256Gcm => Keyed::Aes256Gcm(Box::new(aes_gcm::Aes256Gcm::new_from_slice(key).ok()?)),
        ChaCha20Poly1305 => Keyed::ChaCha20Poly1305(Box::new(
            chacha20poly1305::ChaCha20Poly1305::new_from_slice(key).ok()?,
        )),
        Aes128Ccm => Keyed::Aes128Ccm(Box::new(Ccm::new_from_slice(key).ok()?)),
        Aes128Ccm8 => Keyed::Aes128Ccm8(Box::new(Ccm::new_from_slice(key).ok()?)),
        Aes256Ccm => Keyed::Aes256Ccm(Box::new(Ccm::new_from_slice(key).ok()?)),
        Aes256Ccm8 => Keyed::Aes256Ccm8(Box::new(Ccm::new_from_slice(key).ok()?)),
        Aes128Cbc | Aes256Cbc => Keyed::Cbc {
            key: Zeroizing::new(key.to_vec()),
            mac_key: Zeroizing::new(mac_key.to_vec()),
            encrypt_then_mac,
        },
    })
}

fn open_with<A: Aead + AeadCore<NonceSize = U12>>(
    cipher: &A,
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    cipher
        .decrypt(nonce.into(), Payload { msg: sealed, aad })
        .ok()
}

/// CBC padding (RFC 5246 §6.2.3.2): the length of the data before `mac_len` MAC bytes
/// and the padding, if the padding is well-formed.
fn unpad(plain: &[u8], mac_len: usize) -> Option<usize> {
    let pad = *plain.last()? as usize;
    let data_len = plain.len().checked_sub(pad + 1 + mac_len)?;
    plain[plain.len() - 1 - pad..]
        .iter()
        .all(|&b| b as usize == pad)
        .then_some(data_len)
}

fn hmac_verify(hash: Hash, key: &[u8], aad: &[u8; 13], data: &[u8], tag: &[u8]) -> bool {
    fn check<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: [&[u8]; 2], tag: &[u8]) -> bool {
        let Ok(mut m) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
            return false;
        };
        for p in parts {
            m.update(p);
        }
        m.verify_slice(tag).is_ok()
    }
    match hash {
        Hash::Sha1 => check::<Hmac<Sha1>>(key, [aad, data], tag),
        Hash::Sha256 => check::<Hmac<Sha256>>(key, [aad, data], tag),
        Hash::Sha384 => check::<Hmac<Sha384>>(key, [aad, data], tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::hex;

    /// RFC 8448 §3: the server's first encrypted record (EncryptedExtensions, ...),
    /// opened with the server handshake key and IV, is a handshake record starting
    /// with EncryptedExtensions (type 8).
    #[test]
    fn opens_the_rfc8448_server_flight() {
        let spec = CipherSpec::for_suite(0x1301, true).unwrap();
        let secret = hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let (key, iv) = super::super::tls13_traffic_keys(&spec, &secret).unwrap();
        let cipher = RecordCipher::tls13(&spec, &key, iv).unwrap();
        // The record's first 5 bytes are its header; the rest the sealed body.
        let record = hex(RFC8448_SERVER_FLIGHT);
        let header: [u8; 5] = record[..5].try_into().unwrap();
        let opened = cipher
            .open(0, &header, &record[5..])
            .expect("authenticates");
        assert_eq!(opened.content_type, 22);
        assert_eq!(opened.plaintext[0], 8);
        // Another sequence number does not authenticate.
        assert!(cipher.open(1, &header, &record[5..]).is_none());
    }

    #[test]
    fn cbc_padding_is_checked() {
        assert_eq!(unpad(&[1, 2, 3, 1, 1], 0), Some(3));
        assert_eq!(unpad(&[1, 2, 3, 2, 1], 0), None);
        assert_eq!(unpad(&[9], 0), None);
    }

    const RFC8448_SERVER_FLIGHT: &str = "
        17 03 03 02 a2 d1 ff 33 4a 56 f5 bf
        f6 59 4a 07 cc 87 b5 80 23 3f 50 0f 45 e4 89 e7 f3 3a f3 5e df
        78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca 07 61 2e f9 f9 45
        cb 96 0b 40 68 90 51 23 ea 78 b1 11 b4 29 ba 91 91 cd 05 d2 a3
        89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b
        d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9
        b1 18 3e f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf
        51 42 73 25 25 0c 7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d
        2e d6 5b 0e 3c dd 0c ba e8 bf 2d 0b 22 78 12 cb b3 60 98 72 55
        cc 74 41 10 c4 53 ba a4 fc d6 10 92 8d 80 98 10 e4 b7 ed 1a 8f
        d9 91 f0 6a a6 24 82 04 79 7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6
        86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8 94 41 ac
        66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea
        52 0a 56 a8 d6 50 f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e
        a5 e2 2f 44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26 4e d6
        54 0c 84 83 8d 89 f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb
        31 7b 66 d9 02 f4 f2 92 a3 6a c1 b6 39 c6 37 ce 34 31 17 b6 59
        62 22 45 31 7b 49 ee da 0c 62 58 f1 00 d7 d9 61 ff b1 38 64 7e
        92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e 1b 7a 6c 71 78 af
        36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84 c8 b0 37
        8b f3 02 44 da 8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c
        f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6 6f 99 88
        2b d8 9f c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80
        f8 5d f8 81 ed be 5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69
        18 a3 96 fa 48 a1 81 d6 b6 fa 4f 9d 62 d5 13 af bb 99 2f 2b 99
        2f 67 f8 af e6 7f 76 91 3f a3 88 cb 56 30 c8 ca 01 e0 c6 5d 11
        c6 6a 1e 2a c4 c8 59 77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51
        56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38 eb ba 42
        f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f
        60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd
        d5 02 78 40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5 d2 af
        93 98 28 fd 4a e3 79 4e 44 f9 4d f5 a6 31 ed e4 2c 17 19 bf da
        bf 02 53 fe 51 75 be 89 8e 75 0e dc 53 37 0d 2b";
}
