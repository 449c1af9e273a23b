//! TLS message builders: records, handshake messages, hellos, certificates, key
//! exchange, alerts.

use crate::bytes::*;
use crate::profiles::*;
use crate::rng::Rng;
use crate::servers::*;

/// One TLS record (the body must fit in 16384 bytes).
pub(crate) fn record(
    out: &mut Vec<u8>,
    content_type: u8,
    version: u16,
    body: impl FnOnce(&mut Vec<u8>),
) {
    out.push(content_type);
    out.put_u16(version);
    vec16(out, body);
}

pub(crate) fn handshake(out: &mut Vec<u8>, msg_type: u8, body: impl FnOnce(&mut Vec<u8>)) {
    out.push(msg_type);
    vec24(out, body);
}

pub(crate) fn extension(out: &mut Vec<u8>, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
    out.put_u16(kind);
    vec16(out, body);
}

pub(crate) fn alert(out: &mut Vec<u8>, version: u16, level: u8, description: u8) {
    record(out, ALERT, version, |b| {
        b.extend_from_slice(&[level, description])
    });
}

pub(crate) fn change_cipher_spec(out: &mut Vec<u8>, version: u16) {
    record(out, CHANGE_CIPHER_SPEC, version, |b| b.push(1));
}

/// Extensions built one by one, so they can be shuffled before they are written.
#[derive(Default)]
pub(crate) struct Extensions {
    pub(crate) bytes: Vec<u8>,
    pub(crate) spans: Vec<(usize, usize)>,
}

impl Extensions {
    pub(crate) fn add(&mut self, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
        let at = self.bytes.len();
        extension(&mut self.bytes, kind, body);
        self.spans.push((at, self.bytes.len()));
    }

    pub(crate) fn add_first(&mut self, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
        self.add(kind, body);
        self.spans.rotate_right(1);
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        for &(a, b) in &self.spans {
            out.extend_from_slice(&self.bytes[a..b]);
        }
    }
}

/// A legacy_session_id (0 or 32 bytes).
#[derive(Clone, Copy, Default)]
pub(crate) struct SessionId {
    pub(crate) bytes: [u8; 32],
    pub(crate) len: usize,
}

impl SessionId {
    pub(crate) fn random(rng: &mut Rng) -> SessionId {
        SessionId {
            bytes: rng.array(),
            len: 32,
        }
    }
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What a resuming client presents: a ticket from an earlier connection.
pub(crate) struct Ticket {
    pub(crate) identity: Vec<u8>,
    pub(crate) obfuscated_age: u32,
}

/// Appends the ClientHello record; returns the legacy_session_id it carries.
pub(crate) fn client_hello(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    p: &Profile,
    sni: &str,
    post_quantum: bool,
    ticket: Option<&Ticket>,
) -> SessionId {
    let session_id = if p.offers_tls13() || rng.chance(0.3) {
        SessionId::random(rng)
    } else {
        SessionId::default()
    };
    let mut fixed = Vec::with_capacity(256);
    fixed.put_u16(p.legacy_version);
    fixed.extend_from_slice(&rng.array::<32>());
    vec8(&mut fixed, |b| b.extend_from_slice(session_id.as_slice()));
    vec16(&mut fixed, |b| {
        if p.grease {
            b.put_u16(rng.pick(&GREASE));
        }
        b.put_u16s(p.suites);
    });
    vec8(&mut fixed, |b| b.push(0)); // compression: null

    let mut exts = Extensions::default();
    exts.add(EXT_SERVER_NAME, |b| {
        vec16(b, |b| {
            b.push(0); // host_name
            vec16(b, |b| b.extend_from_slice(sni.as_bytes()));
        })
    });
    exts.add(EXT_EXTENDED_MASTER_SECRET, |_| {});
    exts.add(EXT_RENEGOTIATION_INFO, |b| b.push(0));
    exts.add(EXT_SUPPORTED_GROUPS, |b| {
        vec16(b, |b| {
            if p.grease {
                b.put_u16(rng.pick(&GREASE));
            }
            if post_quantum {
                b.put_u16(X25519MLKEM768);
            }
            b.put_u16s(p.groups);
        })
    });
    exts.add(EXT_EC_POINT_FORMATS, |b| vec8(b, |b| b.push(0)));
    exts.add(EXT_SESSION_TICKET, |_| {});
    if !p.alpn.is_empty() {
        exts.add(EXT_ALPN, |b| {
            vec16(b, |b| {
                for proto in p.alpn {
                    vec8(b, |b| b.extend_from_slice(proto));
                }
            })
        });
    }
    exts.add(EXT_STATUS_REQUEST, |b| {
        b.extend_from_slice(&[1, 0, 0, 0, 0])
    });
    if !p.signature_algorithms.is_empty() {
        exts.add(EXT_SIGNATURE_ALGORITHMS, |b| {
            vec16(b, |b| b.put_u16s(p.signature_algorithms))
        });
    }
    if p.offers_tls13() {
        exts.add(EXT_SCT, |_| {});
        exts.add(EXT_KEY_SHARE, |b| {
            vec16(b, |b| {
                if p.grease {
                    b.put_u16(rng.pick(&GREASE));
                    vec16(b, |b| b.push(0));
                }
                if post_quantum {
                    b.put_u16(X25519MLKEM768);
                    vec16(b, |b| rng.bytes(b, MLKEM_CLIENT_SHARE));
                }
                b.put_u16(X25519);
                vec16(b, |b| rng.bytes(b, 32));
            })
        });
        exts.add(EXT_PSK_KEY_EXCHANGE_MODES, |b| vec8(b, |b| b.push(1))); // psk_dhe_ke
        exts.add(EXT_SUPPORTED_VERSIONS, |b| {
            vec8(b, |b| {
                if p.grease {
                    b.put_u16(rng.pick(&GREASE));
                }
                b.put_u16s(p.versions);
            })
        });
        exts.add(EXT_COMPRESS_CERTIFICATE, |b| {
            b.extend_from_slice(&[2, 0, 2])
        }); // brotli
        if p.grease {
            exts.add(EXT_APPLICATION_SETTINGS, |b| {
                b.extend_from_slice(b"\x00\x03\x02h2")
            });
        }
    }
    if p.shuffle_extensions {
        rng.shuffle(&mut exts.spans);
    }
    if p.grease {
        exts.add_first(rng.pick(&GREASE), |_| {});
        exts.add(rng.pick(&GREASE), |b| b.push(0));
    }
    // pre_shared_key comes last (RFC 8446, 4.2.11).
    let mut psk = Vec::new();
    if let Some(t) = ticket {
        extension(&mut psk, EXT_PRE_SHARED_KEY, |b| {
            vec16(b, |b| {
                vec16(b, |b| b.extend_from_slice(&t.identity));
                b.put_u32(t.obfuscated_age);
            });
            vec16(b, |b| vec8(b, |b| rng.bytes(b, 32))); // binder
        });
    }
    if p.padding {
        let hello_len = 4 + fixed.len() + 2 + exts.len() + psk.len();
        if (0x100..0x200).contains(&hello_len) {
            let need = (0x200 - hello_len - 4).max(1);
            exts.add(EXT_PADDING, |b| b.resize(b.len() + need, 0));
        }
    }
    record(out, HANDSHAKE, p.record_version, |b| {
        handshake(b, CLIENT_HELLO, |b| {
            b.extend_from_slice(&fixed);
            vec16(b, |b| {
                exts.write(b);
                b.extend_from_slice(&psk);
            });
        })
    });
    session_id
}

/// The server's random; `downgrade` marks a TLS 1.3 server negotiating TLS 1.2.
pub(crate) fn server_random(rng: &mut Rng, downgrade: bool) -> [u8; 32] {
    let mut random: [u8; 32] = rng.array();
    if downgrade {
        random[24..].copy_from_slice(&DOWNGRADE_TLS12);
    }
    random
}

/// The ServerHello handshake message.
pub(crate) fn server_hello(
    out: &mut Vec<u8>,
    random: [u8; 32],
    session_id: &[u8],
    suite: u16,
    exts: impl FnOnce(&mut Vec<u8>),
) {
    handshake(out, SERVER_HELLO, |b| {
        b.put_u16(TLS12);
        b.extend_from_slice(&random);
        vec8(b, |b| b.extend_from_slice(session_id));
        b.put_u16(suite);
        b.push(0);
        vec16(b, exts);
    });
}

/// The TLS 1.2 Certificate message.
pub(crate) fn certificate12(out: &mut Vec<u8>, chain: &[&[u8]]) {
    handshake(out, CERTIFICATE, |b| {
        vec24(b, |b| {
            for der in chain {
                vec24(b, |b| b.extend_from_slice(der));
            }
        })
    });
}

/// Length of the TLS 1.3 Certificate message for this chain (no certificate extensions).
pub(crate) fn certificate13_len(chain: &[&[u8]]) -> usize {
    4 + 1 + 3 + chain.iter().map(|d| 3 + d.len() + 2).sum::<usize>()
}

/// A DER ECDSA P-256 signature: SEQUENCE { INTEGER r, INTEGER s }.
pub(crate) fn ecdsa_signature(out: &mut Vec<u8>, rng: &mut Rng) {
    out.push(0x30);
    vec8(out, |b| {
        for _ in 0..2 {
            let mut int: [u8; 32] = rng.array();
            int[0] = int[0].max(1);
            b.push(0x02);
            vec8(b, |b| {
                if int[0] & 0x80 != 0 {
                    b.push(0);
                }
                b.extend_from_slice(&int);
            });
        }
    });
}

/// An ECDHE public value: 32 bytes for X25519, an uncompressed point for secp256r1.
pub(crate) fn ecdhe_public(out: &mut Vec<u8>, rng: &mut Rng, group: u16) {
    vec8(out, |b| {
        if group == X25519 {
            rng.bytes(b, 32);
        } else {
            b.push(4);
            rng.bytes(b, 64);
        }
    });
}

pub(crate) fn server_key_exchange(out: &mut Vec<u8>, rng: &mut Rng, group: u16, key: Key) {
    handshake(out, SERVER_KEY_EXCHANGE, |b| {
        b.push(3); // named_curve
        b.put_u16(group);
        ecdhe_public(b, rng, group);
        match key {
            Key::Rsa => {
                b.put_u16(0x0804); // rsa_pss_rsae_sha256
                vec16(b, |b| rng.bytes(b, 256));
            }
            Key::Ecdsa => {
                b.put_u16(0x0403); // ecdsa_secp256r1_sha256
                vec16(b, |b| ecdsa_signature(b, rng));
            }
        }
    });
}

// The messages inside protected records (`--keylog`): real bytes, of the sizes the
// records had when they were pseudo-random.

/// The TLS 1.3 EncryptedExtensions: the client's first ALPN protocol when it offered
/// any, and the empty server_name acknowledging its SNI when that still fits in `size`
/// bytes (not when resuming).
pub(crate) fn encrypted_extensions(out: &mut Vec<u8>, p: &Profile, resumed: bool, size: usize) {
    let alpn = p.alpn.first();
    let alpn_len = alpn.map_or(0, |proto| 4 + 2 + 1 + proto.len());
    let sni_ack = !resumed && 4 + 2 + 4 + alpn_len <= size;
    handshake(out, ENCRYPTED_EXTENSIONS, |b| {
        vec16(b, |b| {
            if sni_ack {
                extension(b, EXT_SERVER_NAME, |_| {});
            }
            if let Some(proto) = alpn {
                extension(b, EXT_ALPN, |b| {
                    vec16(b, |b| vec8(b, |b| b.extend_from_slice(proto)))
                });
            }
        })
    });
}

/// The TLS 1.3 Certificate message: an empty request context, then each certificate
/// with no extensions ([`certificate13_len`] bytes).
pub(crate) fn certificate13(out: &mut Vec<u8>, chain: &[&[u8]]) {
    handshake(out, CERTIFICATE, |b| {
        b.push(0);
        vec24(b, |b| {
            for der in chain {
                vec24(b, |b| b.extend_from_slice(der));
                b.put_u16(0);
            }
        })
    });
}

/// A CertificateVerify of the key's usual length: rsa_pss_rsae_sha256 with 256 bytes
/// (RSA 2048), or ecdsa_secp256r1_sha256 with a 71-byte DER signature; the signature's
/// bytes are taken from `random`.
pub(crate) fn certificate_verify(out: &mut Vec<u8>, key: Key, random: &[u8]) {
    handshake(out, CERTIFICATE_VERIFY, |b| match key {
        Key::Rsa => {
            b.put_u16(0x0804);
            vec16(b, |b| b.extend_from_slice(&random[..256]));
        }
        Key::Ecdsa => {
            b.put_u16(0x0403);
            vec16(b, |b| {
                // SEQUENCE { INTEGER r (33 bytes: high bit set), INTEGER s (32 bytes) }
                b.extend_from_slice(&[0x30, 0x45, 0x02, 0x21, 0x00]);
                b.push(random[0] | 0x80);
                b.extend_from_slice(&random[1..32]);
                b.extend_from_slice(&[0x02, 0x20]);
                b.push((random[32] & 0x7F).max(1));
                b.extend_from_slice(&random[33..64]);
            });
        }
    });
}

/// A Finished message with `verify_data`.
pub(crate) fn finished(out: &mut Vec<u8>, verify_data: &[u8]) {
    handshake(out, FINISHED, |b| b.extend_from_slice(verify_data));
}

/// A TLS 1.3 NewSessionTicket of `size` bytes (at least 25): lifetime, age_add, an
/// 8-byte nonce, the ticket, no extensions; the varying bytes from `random`.
pub(crate) fn new_session_ticket13(out: &mut Vec<u8>, size: usize, random: &[u8]) {
    handshake(out, NEW_SESSION_TICKET, |b| {
        b.put_u32(7200); // lifetime, s
        b.extend_from_slice(&random[..4]); // age_add
        vec8(b, |b| b.extend_from_slice(&random[4..12])); // nonce
        vec16(b, |b| b.extend_from_slice(&random[12..12 + size - 25]));
        vec16(b, |_| {});
    });
}
