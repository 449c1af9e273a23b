//! Real record protection for `--keylog`: per-connection secrets, the record keys TLS
//! derives from them (TLS 1.3: HKDF-Expand-Label "key" and "iv" from each traffic
//! secret, RFC 8446 §7.3; TLS 1.2: the key block from the master secret with the PRF,
//! RFC 5246 §6.3), records sealed with AES-GCM or ChaCha20-Poly1305 under each
//! direction's sequence numbers, and the NSS key log lines that open them.
//!
//! The secrets come from a stream of their own (seeded from `--seed`), so the main
//! stream, and with it every choice the generator makes and the truth file, is the same
//! with and without keys.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};

use crate::profiles::*;
use crate::rng::Rng;
use crate::tcp::{CLIENT, SERVER};

/// Largest plaintext of a record (2^14).
pub(crate) const MAX_PLAINTEXT: usize = 16384;
/// What a TLS 1.3 record adds to its content: the inner content type and the tag.
pub(crate) const TLS13_OVERHEAD: usize = 1 + 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    pub(crate) fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// The record protection of a cipher suite.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Suite {
    algorithm: Algorithm,
    /// The key schedule's hash (TLS 1.3) or the PRF's (TLS 1.2).
    pub(crate) hash: Hash,
}

impl Suite {
    /// The AEAD suites this generator negotiates (TLS 1.3: 0x1301, 0x1302, 0x1303;
    /// TLS 1.2: AES-GCM and ChaCha20-Poly1305 with ECDHE or RSA key exchange). `None`:
    /// its records stay pseudo-random (TLS 1.2 CBC suites).
    pub(crate) fn of(suite: u16, tls13: bool) -> Option<Suite> {
        use Algorithm::*;
        let (algorithm, hash) = match (tls13, suite) {
            (true, 0x1301) => (Aes128Gcm, Hash::Sha256),
            (true, 0x1302) => (Aes256Gcm, Hash::Sha384),
            (true, 0x1303) => (ChaCha20Poly1305, Hash::Sha256),
            (false, 0xC02B | 0xC02F | 0x009C) => (Aes128Gcm, Hash::Sha256),
            (false, 0xC02C | 0xC030 | 0x009D) => (Aes256Gcm, Hash::Sha384),
            (false, 0xCCA8 | 0xCCA9) => (ChaCha20Poly1305, Hash::Sha256),
            _ => return None,
        };
        Some(Suite { algorithm, hash })
    }

    fn key_len(self) -> usize {
        match self.algorithm {
            Algorithm::Aes128Gcm => 16,
            _ => 32,
        }
    }

    /// TLS 1.2: GCM carries an 8-byte explicit nonce in each record after a 4-byte salt
    /// from the key block; ChaCha20-Poly1305 takes a 12-byte IV XOR the sequence number.
    fn explicit_nonce(self) -> bool {
        self.algorithm != Algorithm::ChaCha20Poly1305
    }

    /// What a TLS 1.2 record adds to its content: explicit nonce and tag.
    pub(crate) fn tls12_overhead(self) -> usize {
        if self.explicit_nonce() {
            8 + 16
        } else {
            16
        }
    }
}

enum Cipher {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(Box<ChaCha20Poly1305>),
}

impl Cipher {
    fn new(algorithm: Algorithm, key: &[u8]) -> Cipher {
        let bad = "the key has the suite's length";
        match algorithm {
            Algorithm::Aes128Gcm => {
                Cipher::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).expect(bad)))
            }
            Algorithm::Aes256Gcm => {
                Cipher::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).expect(bad)))
            }
            Algorithm::ChaCha20Poly1305 => Cipher::ChaCha20Poly1305(Box::new(
                ChaCha20Poly1305::new_from_slice(key).expect(bad),
            )),
        }
    }

    /// Encrypts `buf` in place; returns the tag.
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let nonce = nonce.into();
        let tag = match self {
            Cipher::Aes128Gcm(c) => c.encrypt_in_place_detached(nonce, aad, buf),
            Cipher::Aes256Gcm(c) => c.encrypt_in_place_detached(nonce, aad, buf),
            Cipher::ChaCha20Poly1305(c) => c.encrypt_in_place_detached(nonce, aad, buf),
        };
        tag.expect("a record is far below the AEAD's limit").into()
    }
}

/// One direction's record protection.
pub(crate) struct Sealer {
    cipher: Cipher,
    /// TLS 1.3 and ChaCha20-Poly1305: XORed with the sequence number for each record's
    /// nonce; TLS 1.2 GCM: the first 4 bytes are the salt.
    iv: [u8; 12],
    seq: u64,
    tls13: bool,
    explicit_nonce: bool,
}

impl Sealer {
    fn tls13(suite: Suite, secret: &[u8]) -> Sealer {
        let mut key = vec![0u8; suite.key_len()];
        let mut iv = [0u8; 12];
        expand_label(suite.hash, secret, b"key", &mut key);
        expand_label(suite.hash, secret, b"iv", &mut iv);
        Sealer {
            cipher: Cipher::new(suite.algorithm, &key),
            iv,
            seq: 0,
            tls13: true,
            explicit_nonce: false,
        }
    }

    fn xor_nonce(&self) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// Appends one record carrying `content` of `content_type`, sealed with the next
    /// sequence number. TLS 1.3: the record is application_data on the outside, and
    /// `pad` zero bytes follow the inner content type; TLS 1.2 has no padding.
    pub(crate) fn seal(&mut self, out: &mut Vec<u8>, content_type: u8, content: &[u8], pad: usize) {
        let at = out.len();
        if self.tls13 {
            let len = content.len() + 1 + pad + 16;
            out.push(APPLICATION_DATA);
            out.extend_from_slice(&TLS12.to_be_bytes());
            out.extend_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(content);
            out.push(content_type);
            out.resize(out.len() + pad, 0);
            let nonce = self.xor_nonce();
            let (header, body) = out[at..].split_at_mut(5);
            let tag = self.cipher.seal(&nonce, header, body);
            out.extend_from_slice(&tag);
        } else {
            debug_assert_eq!(pad, 0, "TLS 1.2 AEAD records are not padded");
            let explicit = if self.explicit_nonce { 8 } else { 0 };
            let len = explicit + content.len() + 16;
            out.push(content_type);
            out.extend_from_slice(&TLS12.to_be_bytes());
            out.extend_from_slice(&(len as u16).to_be_bytes());
            let mut aad = [0u8; 13];
            aad[..8].copy_from_slice(&self.seq.to_be_bytes());
            aad[8] = content_type;
            aad[9..11].copy_from_slice(&TLS12.to_be_bytes());
            aad[11..].copy_from_slice(&(content.len() as u16).to_be_bytes());
            let nonce = if self.explicit_nonce {
                // The explicit part is the sequence number, as OpenSSL and NSS send it.
                out.extend_from_slice(&self.seq.to_be_bytes());
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(&self.iv[..4]);
                nonce[4..].copy_from_slice(&self.seq.to_be_bytes());
                nonce
            } else {
                self.xor_nonce()
            };
            let body = out.len();
            out.extend_from_slice(content);
            let tag = self.cipher.seal(&nonce, &aad, &mut out[body..]);
            out.extend_from_slice(&tag);
        }
        self.seq += 1;
    }
}

/// The keys of one connection: each direction's current protection, and (TLS 1.3) the
/// application traffic protection it moves to after its Finished.
pub(crate) struct ConnKeys {
    pub(crate) suite: Suite,
    pub(crate) tls13: bool,
    current: [Sealer; 2],
    next: [Option<Sealer>; 2],
}

impl ConnKeys {
    /// Seals one record from side `d`.
    pub(crate) fn seal(
        &mut self,
        d: usize,
        out: &mut Vec<u8>,
        content_type: u8,
        content: &[u8],
        pad: usize,
    ) {
        self.current[d].seal(out, content_type, content, pad);
    }

    /// Side `d` sent its Finished: TLS 1.3 moves it to its application traffic keys.
    pub(crate) fn finished(&mut self, d: usize) {
        if let Some(next) = self.next[d].take() {
            self.current[d] = next;
        }
    }

    /// What a record of this connection adds to its content.
    pub(crate) fn overhead(&self) -> usize {
        if self.tls13 {
            TLS13_OVERHEAD
        } else {
            self.suite.tls12_overhead()
        }
    }
}

/// The secrets' own random stream and the key log lines not yet written.
pub(crate) struct KeyLog {
    rng: Rng,
    pub(crate) lines: Vec<u8>,
}

impl KeyLog {
    pub(crate) fn new(seed: u64) -> KeyLog {
        KeyLog {
            // Another stream than the main one (seeded with `seed`), as deterministic.
            rng: Rng::seeded(seed ^ 0x6B65_796C_6F67_5F31),
            lines: Vec::new(),
        }
    }

    fn line(&mut self, label: &str, client_random: &[u8; 32], secret: &[u8]) {
        self.lines.extend_from_slice(label.as_bytes());
        self.lines.push(b' ');
        hex(&mut self.lines, client_random);
        self.lines.push(b' ');
        hex(&mut self.lines, secret);
        self.lines.push(b'\n');
    }

    /// A TLS 1.3 connection's four traffic secrets, logged; its keys, at the handshake
    /// traffic keys.
    pub(crate) fn tls13(&mut self, suite: Suite, client_random: &[u8; 32]) -> ConnKeys {
        let n = suite.hash.len();
        let mut secrets = [[0u8; 48]; 4];
        for s in &mut secrets {
            self.rng.fill(&mut s[..n]);
        }
        let labels = [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
        ];
        for (label, s) in labels.iter().zip(&secrets) {
            self.line(label, client_random, &s[..n]);
        }
        let sealer = |i: usize| Sealer::tls13(suite, &secrets[i][..n]);
        ConnKeys {
            suite,
            tls13: true,
            current: [sealer(0), sealer(1)],
            next: [Some(sealer(2)), Some(sealer(3))],
        }
    }

    /// A TLS 1.2 connection's master secret, logged; its keys from the key block.
    pub(crate) fn tls12(
        &mut self,
        suite: Suite,
        client_random: &[u8; 32],
        server_random: &[u8; 32],
    ) -> ConnKeys {
        let master: [u8; 48] = self.rng.array();
        self.line("CLIENT_RANDOM", client_random, &master);
        let key_len = suite.key_len();
        let iv_len = if suite.explicit_nonce() { 4 } else { 12 };
        // No MAC keys (AEAD): client key, server key, client IV, server IV.
        let mut block = vec![0u8; 2 * (key_len + iv_len)];
        let mut seed = Vec::with_capacity(13 + 64);
        seed.extend_from_slice(b"key expansion");
        seed.extend_from_slice(server_random);
        seed.extend_from_slice(client_random);
        match suite.hash {
            Hash::Sha256 => p_hash::<Hmac<Sha256>>(&master, &seed, &mut block),
            Hash::Sha384 => p_hash::<Hmac<Sha384>>(&master, &seed, &mut block),
        }
        let sealer = |side: usize| {
            let key = &block[side * key_len..(side + 1) * key_len];
            let iv_at = 2 * key_len + side * iv_len;
            let mut iv = [0u8; 12];
            iv[..iv_len].copy_from_slice(&block[iv_at..iv_at + iv_len]);
            Sealer {
                cipher: Cipher::new(suite.algorithm, key),
                iv,
                seq: 0,
                tls13: false,
                explicit_nonce: suite.explicit_nonce(),
            }
        };
        ConnKeys {
            suite,
            tls13: false,
            current: [sealer(CLIENT), sealer(SERVER)],
            next: [None, None],
        }
    }
}

fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) (RFC 8446 §7.1).
fn expand_label(hash: Hash, secret: &[u8], label: &[u8], out: &mut [u8]) {
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push((6 + label.len()) as u8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    let bad = "a traffic secret is a hash long";
    match hash {
        Hash::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .expect(bad)
            .expand(&info, out),
        Hash::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .expect(bad)
            .expand(&info, out),
    }
    .expect("a key or IV is far below HKDF's limit");
}

/// P_hash of RFC 5246 §5 (the PRF with the label already in `seed`).
fn p_hash<M: Mac + hmac::digest::KeyInit + Clone>(secret: &[u8], seed: &[u8], out: &mut [u8]) {
    let keyed = <M as hmac::digest::KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    let mut a = {
        let mut m = keyed.clone();
        m.update(seed);
        m.finalize().into_bytes()
    };
    let mut filled = 0;
    while filled < out.len() {
        let mut m = keyed.clone();
        m.update(&a);
        m.update(seed);
        let chunk = m.finalize().into_bytes();
        let n = chunk.len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&chunk[..n]);
        filled += n;
        let mut m = keyed.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// Plaintext sizes of records that take exactly the bytes that records of plaintexts
/// `sizes` with `from` bytes of overhead each took, when each has `to` bytes (TLS 1.2
/// ChaCha20-Poly1305 has no explicit nonce: 8 bytes less than the GCM the sizes were
/// drawn for): as many records, or one more when they would not hold the bytes, at most
/// 2^14 each, the full ones first. Same bytes, so the same TCP segments.
pub(crate) fn relayout(sizes: &[usize], from: usize, to: usize) -> Vec<usize> {
    if from == to {
        return sizes.to_vec();
    }
    let total: usize = sizes.iter().map(|s| 5 + s + from).sum();
    let mut records = sizes.len();
    loop {
        let Some(content) = total.checked_sub(records * (5 + to)) else {
            // `to` above `from` and too little room: keep the sizes.
            return sizes.to_vec();
        };
        if content <= records * MAX_PLAINTEXT {
            let mut left = content;
            return (0..records)
                .map(|_| {
                    let n = left.min(MAX_PLAINTEXT);
                    left -= n;
                    n
                })
                .collect();
        }
        records += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3: the server handshake traffic key and IV of TLS_AES_128_GCM_SHA256.
    #[test]
    fn tls13_keys_match_rfc8448() {
        let secret = unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let (mut key, mut iv) = ([0u8; 16], [0u8; 12]);
        expand_label(Hash::Sha256, &secret, b"key", &mut key);
        expand_label(Hash::Sha256, &secret, b"iv", &mut iv);
        assert_eq!(key.to_vec(), unhex("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(iv.to_vec(), unhex("5d313eb2671276ee13000b30"));
    }

    #[test]
    fn relayout_keeps_the_bytes() {
        assert_eq!(relayout(&[16384, 100], 24, 24), vec![16384, 100]);
        assert_eq!(relayout(&[16384, 100], 24, 16), vec![16384, 116]);
        // No room left in the last record: one more, empty.
        let sizes = relayout(&[16384, 16384], 24, 16);
        assert_eq!(sizes.len(), 3);
        let bytes = |s: &[usize], o: usize| s.iter().map(|s| 5 + s + o).sum::<usize>();
        assert_eq!(bytes(&sizes, 16), bytes(&[16384, 16384], 24));
        assert!(sizes.iter().all(|&s| s <= MAX_PLAINTEXT));
    }
}
