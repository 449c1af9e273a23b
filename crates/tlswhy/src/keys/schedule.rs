//! From a key log's secrets to record keys: TLS 1.3's HKDF-Expand-Label (RFC 8446
//! §7.1, §7.3) and TLS 1.2's key expansion with its PRF (RFC 5246 §5, §6.3).

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};
use zeroize::Zeroizing;

use super::cipher::{CipherSpec, Hash};

/// HKDF-Expand-Label(secret, label, "", len) with the suite's hash, for each (label,
/// output) pair: the secret's HMAC key is set up once for all of them.
fn expand_labels(hash: Hash, secret: &[u8], outputs: &mut [(&[u8], &mut [u8])]) -> Option<()> {
    enum Prk {
        Sha256(Hkdf<Sha256>),
        Sha384(Hkdf<Sha384>),
    }
    let prk = match hash {
        Hash::Sha256 => Prk::Sha256(Hkdf::<Sha256>::from_prk(secret).ok()?),
        Hash::Sha384 => Prk::Sha384(Hkdf::<Sha384>::from_prk(secret).ok()?),
        Hash::Sha1 => return None,
    };
    for (label, out) in outputs.iter_mut() {
        // HkdfLabel: length, "tls13 " + label, an empty context.
        let mut info = [0u8; 2 + 1 + 6 + 12 + 1];
        info[..2].copy_from_slice(&(out.len() as u16).to_be_bytes());
        info[2] = (6 + label.len()) as u8;
        info[3..9].copy_from_slice(b"tls13 ");
        info[9..9 + label.len()].copy_from_slice(label);
        let info = &info[..10 + label.len()];
        match &prk {
            Prk::Sha256(h) => h.expand(info, out).ok()?,
            Prk::Sha384(h) => h.expand(info, out).ok()?,
        }
    }
    Some(())
}

/// HKDF-Expand-Label with SHA-256 (QUIC's Initial keys, RFC 9001 §5.2).
pub(crate) fn expand_label_sha256(secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    expand_labels(Hash::Sha256, secret, &mut [(label, out)])
}

/// A TLS 1.3 traffic secret's record key and IV (`None` when the secret's length does
/// not fit the suite's hash: a key log of another connection, or a broken one).
pub(crate) fn tls13_traffic_keys(
    spec: &CipherSpec,
    secret: &[u8],
) -> Option<(Zeroizing<Vec<u8>>, [u8; 12])> {
    if secret.len() != spec.prf.len() {
        return None;
    }
    let mut key = Zeroizing::new(vec![0u8; spec.key_len]);
    let mut iv = [0u8; 12];
    expand_labels(
        spec.prf,
        secret,
        &mut [(b"key", &mut key), (b"iv", &mut iv)],
    )?;
    Some((key, iv))
}

/// One direction's QUIC packet protection keys: the AEAD key, the IV, the header
/// protection key.
pub(crate) type QuicPacketKeys = (Zeroizing<Vec<u8>>, [u8; 12], Zeroizing<Vec<u8>>);

/// QUIC packet protection keys from a TLS traffic secret (RFC 9001 §5.1; QUIC v2's
/// labels, RFC 9369 §3.3.2, with `v2`): the AEAD key, the IV and the header
/// protection key (as long as the AEAD key).
pub(crate) fn quic_packet_keys(
    spec: &CipherSpec,
    secret: &[u8],
    v2: bool,
) -> Option<QuicPacketKeys> {
    if secret.len() != spec.prf.len() {
        return None;
    }
    let mut key = Zeroizing::new(vec![0u8; spec.key_len]);
    let mut iv = [0u8; 12];
    let mut hp = Zeroizing::new(vec![0u8; spec.key_len]);
    let labels: [&[u8]; 3] = if v2 {
        [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"]
    } else {
        [b"quic key", b"quic iv", b"quic hp"]
    };
    expand_labels(
        spec.prf,
        secret,
        &mut [
            (labels[0], &mut key),
            (labels[1], &mut iv),
            (labels[2], &mut hp),
        ],
    )?;
    Some((key, iv, hp))
}

/// The traffic secret after a KeyUpdate (RFC 8446 §7.2).
pub(crate) fn tls13_next_secret(spec: &CipherSpec, secret: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut next = Zeroizing::new(vec![0u8; secret.len()]);
    expand_labels(spec.prf, secret, &mut [(b"traffic upd", &mut next)])?;
    Some(next)
}

/// The TLS 1.2 keys of one direction.
pub(crate) struct Tls12Keys {
    pub mac_key: Zeroizing<Vec<u8>>,
    pub key: Zeroizing<Vec<u8>>,
    /// The implicit part of the nonce (GCM, CCM: 4 bytes; ChaCha20-Poly1305: 12).
    pub iv: Zeroizing<Vec<u8>>,
}

/// TLS 1.2 key expansion: [client, server] keys from the master secret and the randoms.
pub(crate) fn tls12_key_block(
    spec: &CipherSpec,
    master: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Option<[Tls12Keys; 2]> {
    let (mac, key, iv) = (spec.mac_key_len, spec.key_len, spec.fixed_iv_len);
    let mut block = Zeroizing::new(vec![0u8; 2 * (mac + key + iv)]);
    let mut seed = Vec::with_capacity(13 + 64);
    seed.extend_from_slice(b"key expansion");
    seed.extend_from_slice(server_random);
    seed.extend_from_slice(client_random);
    match spec.prf {
        Hash::Sha256 => p_hash::<Hmac<Sha256>>(master, &seed, &mut block)?,
        Hash::Sha384 => p_hash::<Hmac<Sha384>>(master, &seed, &mut block)?,
        Hash::Sha1 => return None,
    }
    let take = |from: usize, len: usize| Zeroizing::new(block[from..from + len].to_vec());
    let keys = |side: usize| Tls12Keys {
        mac_key: take(side * mac, mac),
        key: take(2 * mac + side * key, key),
        iv: take(2 * (mac + key) + side * iv, iv),
    };
    Some([keys(0), keys(1)])
}

/// P_hash of RFC 5246 §5.
fn p_hash<M: Mac + hmac::digest::KeyInit + Clone>(
    secret: &[u8],
    seed: &[u8],
    out: &mut [u8],
) -> Option<()> {
    let keyed = <M as hmac::digest::KeyInit>::new_from_slice(secret).ok()?;
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
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::hex;

    /// RFC 8448 §3 (simple 1-RTT handshake): the server handshake traffic secret and
    /// the key and IV it gives under TLS_AES_128_GCM_SHA256.
    #[test]
    fn tls13_keys_match_rfc8448() {
        let spec = CipherSpec::for_suite(0x1301, true).unwrap();
        let secret = hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let (key, iv) = tls13_traffic_keys(&spec, &secret).unwrap();
        assert_eq!(&key[..], &hex("3fce516009c21727d0f2e4e86ee403bc")[..]);
        assert_eq!(&iv[..], &hex("5d313eb2671276ee13000b30")[..]);
    }

    /// The PRF test vector for TLS 1.2 with SHA-256 (published with the IETF TLS
    /// working group's PRF vectors).
    #[test]
    fn tls12_prf_sha256_vector() {
        let secret = hex("9bbe436ba940f017b17652849a71db35");
        let mut seed = b"test label".to_vec();
        seed.extend(hex("a0ba9f936cda311827a6f796ffd5198c"));
        let mut out = [0u8; 16];
        p_hash::<Hmac<Sha256>>(&secret, &seed, &mut out).unwrap();
        assert_eq!(&out[..], &hex("e3f229ba727be17b8d122620557cd453")[..]);
    }
}
