//! Records opened with keys: one conversation's record protection per direction, from
//! the secrets a key log holds for its client random — TLS 1.3's handshake and then
//! application traffic keys, TLS 1.2's key block from the master secret — and the
//! TLS 1.3 messages only keys make visible (EncryptedExtensions, the Certificate in its
//! 1.3 form).
//!
//! Only the handshake and alerts are opened: application data is counted and its
//! sequence number stepped over, never decrypted (past the handshake, records longer
//! than any alert are skipped unopened). Plaintext lives only in the [`Opened`] of the
//! record being read, wiped when it is dropped.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::hello::{ext, selected_alpn, split_extensions, ServerHelloFacts};
use crate::flow::{At, Dir};
use crate::keys::{
    tls12_key_block, tls13_next_secret, tls13_traffic_keys, CipherSpec, ConnectionSecrets, Opened,
    RecordCipher,
};

/// Past its handshake, a direction's records longer than this are not opened (an alert
/// record is 2 bytes of content, the type, padding and the tag: Java's are 35 bytes, and
/// no stack pads one to this; TLS 1.3 session tickets, longer, are not needed).
const LONGEST_OPENED_AFTER_HANDSHAKE: usize = 128;

/// What to do with one record of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// Not protected with keys this conversation has: read it as without keys.
    Unkeyed,
    /// Open it (the whole record is needed).
    Open,
    /// Protected, but not worth opening: only its sequence number is taken.
    StepOver,
    /// Kept whole until the secrets come (a followed key log; see [`Held`]).
    Hold,
}

/// Most bytes of records held per connection while its secrets are awaited.
const MAX_HELD_BYTES: usize = 32 * 1024;
/// Most records held per connection.
const MAX_HELD_RECORDS: usize = 32;
/// Longest wait (capture time after the ServerHello) for a connection's secrets.
const MAX_WAIT_NS: i64 = 5_000_000_000;

/// TLS 1.3 records of a connection whose secrets were not in the key log at its
/// ServerHello while the key log is still growing (a client writes its line as it
/// derives the keys, and a live capture may read the ServerHello first): they are kept
/// whole, in order, until the secrets come or a limit is reached, then read.
pub(super) struct Held {
    pub hello: ServerHelloFacts,
    pub server_random: [u8; 32],
    pub since: At,
    pub records: Vec<(Dir, At, Vec<u8>)>,
    pub bytes: usize,
}

impl Held {
    /// The wait is over: too many records, too many bytes, or too long.
    pub(super) fn is_spent(&self, now: At) -> bool {
        self.bytes > MAX_HELD_BYTES
            || self.records.len() >= MAX_HELD_RECORDS
            || now.ts.0.saturating_sub(self.since.ts.0) > MAX_WAIT_NS
    }
}

struct Direction {
    /// Made on first use (TLS 1.3 application traffic: most connections never open a
    /// record with it, their data being stepped over), from `secret`.
    cipher: Option<RecordCipher>,
    seq: u64,
    /// TLS 1.3: the traffic secret the cipher came from (for a KeyUpdate).
    secret: Option<Zeroizing<Vec<u8>>>,
    /// Its Finished was read: what follows is application traffic.
    handshake_done: bool,
}

/// One conversation's keys.
pub(super) struct Protection {
    secrets: Arc<ConnectionSecrets>,
    client_random: [u8; 32],
    spec: Option<CipherSpec>,
    tls13: bool,
    /// Records of each direction are opened with this (set at the ServerHello in TLS
    /// 1.3, at the direction's ChangeCipherSpec in TLS 1.2).
    current: [Option<Direction>; 2],
    /// TLS 1.2: a direction's keys, waiting for its ChangeCipherSpec.
    waiting: [Option<RecordCipher>; 2],
    /// Records held while the secrets are awaited.
    pub(super) held: Option<Box<Held>>,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protection(tls13: {})", self.tls13)
    }
}

impl Protection {
    pub(super) fn new(client_random: [u8; 32]) -> Protection {
        Protection {
            secrets: Arc::default(),
            client_random,
            spec: None,
            tls13: false,
            current: [None, None],
            waiting: [None, None],
            held: None,
        }
    }

    pub(super) fn client_random(&self) -> &[u8; 32] {
        &self.client_random
    }

    /// The ServerHello chose the version and suite: the keys are made from the
    /// connection's secrets. `Err` says why they cannot be.
    pub(super) fn on_server_hello(
        &mut self,
        secrets: Arc<ConnectionSecrets>,
        sh: &ServerHelloFacts,
        server_random: &[u8; 32],
    ) -> Result<(), String> {
        self.secrets = secrets;
        let suite = sh.cipher_suite.0;
        self.tls13 = sh.version.is_tls13();
        let spec = CipherSpec::for_suite(suite, self.tls13)
            .ok_or_else(|| format!("cipher suite 0x{suite:04x} is not one this tool decrypts"))?;
        self.spec = Some(spec);
        if self.tls13 {
            // Each direction on its own: a client that gives up on the server's
            // certificate has logged only the server's handshake secret.
            for d in [Dir::ToServer, Dir::ToClient] {
                self.current[d.index()] = self.secrets.handshake[d.index()]
                    .as_ref()
                    .and_then(|s| tls13_direction(&spec, Zeroizing::new(s.bytes().to_vec())));
            }
            if self.current.iter().all(Option::is_none) {
                return Err("no handshake traffic secret that fits the suite".into());
            }
            return Ok(());
        }
        let master = self
            .secrets
            .master
            .as_ref()
            .ok_or("the key log has no master secret (CLIENT_RANDOM) for this connection")?;
        let [client, server] =
            tls12_key_block(&spec, master.bytes(), &self.client_random, server_random)
                .ok_or("the key block could not be derived")?;
        let encrypt_then_mac = sh.extensions.contains(&22);
        self.waiting = [
            RecordCipher::tls12(&spec, &client, encrypt_then_mac),
            RecordCipher::tls12(&spec, &server, encrypt_then_mac),
        ];
        Ok(())
    }

    /// TLS 1.2: `dir` starts protecting its records.
    pub(super) fn on_change_cipher_spec(&mut self, dir: Dir) {
        if self.tls13 {
            return;
        }
        if let Some(cipher) = self.waiting[dir.index()].take() {
            self.current[dir.index()] = Some(Direction {
                cipher: Some(cipher),
                seq: 0,
                secret: None,
                handshake_done: false,
            });
        }
    }

    /// What to do with a record of `content_type` and `len` bytes from `dir`.
    pub(super) fn plan(&self, dir: Dir, content_type: u8, len: usize) -> Plan {
        if self.held.is_some() {
            return if content_type == 23 {
                Plan::Hold
            } else {
                Plan::Unkeyed
            };
        }
        let Some(current) = &self.current[dir.index()] else {
            return Plan::Unkeyed;
        };
        let protected = if self.tls13 {
            content_type == 23
        } else {
            (21..=23).contains(&content_type)
        };
        if !protected {
            Plan::Unkeyed
        } else if current.handshake_done
            && (len > LONGEST_OPENED_AFTER_HANDSHAKE || !self.tls13 && content_type == 23)
        {
            Plan::StepOver
        } else {
            Plan::Open
        }
    }

    /// Takes a record's sequence number without opening it.
    pub(super) fn step_over(&mut self, dir: Dir) {
        if let Some(current) = &mut self.current[dir.index()] {
            current.seq += 1;
        }
    }

    /// Opens a record of `dir`. `None`: it did not authenticate, and `dir`'s records
    /// are no longer opened (the other direction's still are: a peer may have sent a
    /// damaged record, which its own peer then answers with bad_record_mac).
    pub(super) fn open(&mut self, dir: Dir, header: &[u8; 5], body: &[u8]) -> Option<Opened> {
        let current = self.current[dir.index()].as_mut()?;
        let seq = current.seq;
        current.seq += 1;
        if current.cipher.is_none() {
            current.cipher = match (&self.spec, &current.secret) {
                (Some(spec), Some(secret)) => tls13_cipher(spec, secret),
                _ => None,
            };
        }
        let opened = current
            .cipher
            .as_ref()
            .and_then(|c| c.open(seq, header, body));
        if opened.is_none() {
            self.current[dir.index()] = None;
        }
        opened
    }

    /// No direction has keys any more.
    pub(super) fn is_spent(&self) -> bool {
        self.current.iter().all(Option::is_none) && self.waiting.iter().all(Option::is_none)
    }

    /// `dir`'s Finished was read: TLS 1.3 moves it to its application traffic keys
    /// (when the key log has them; else its records are no longer opened).
    pub(super) fn on_finished(&mut self, dir: Dir) {
        let d = dir.index();
        if !self.tls13 {
            if let Some(current) = &mut self.current[d] {
                current.handshake_done = true;
            }
            return;
        }
        // The keys are made when a record needs them.
        self.current[d] = self.secrets.traffic[d].as_ref().map(|secret| Direction {
            cipher: None,
            seq: 0,
            secret: Some(Zeroizing::new(secret.bytes().to_vec())),
            handshake_done: true,
        });
    }

    /// TLS 1.3 KeyUpdate from `dir`: its next records use the next traffic secret.
    pub(super) fn on_key_update(&mut self, dir: Dir) {
        let d = dir.index();
        let next = match (&self.spec, &self.current[d]) {
            (
                Some(spec),
                Some(Direction {
                    secret: Some(s), ..
                }),
            ) => tls13_next_secret(spec, s),
            _ => None,
        };
        self.current[d] = next.map(|secret| Direction {
            cipher: None,
            seq: 0,
            secret: Some(secret),
            handshake_done: true,
        });
    }
}

fn tls13_direction(spec: &CipherSpec, secret: Zeroizing<Vec<u8>>) -> Option<Direction> {
    Some(Direction {
        cipher: Some(tls13_cipher(spec, &secret)?),
        seq: 0,
        secret: Some(secret),
        handshake_done: false,
    })
}

fn tls13_cipher(spec: &CipherSpec, secret: &[u8]) -> Option<RecordCipher> {
    let (key, iv) = tls13_traffic_keys(spec, secret)?;
    RecordCipher::tls13(spec, &key, iv)
}

/// The protocol a TLS 1.3 EncryptedExtensions selected with ALPN, if any.
pub(crate) fn encrypted_extensions_alpn(body: &[u8]) -> Option<String> {
    let len = u16::from_be_bytes([*body.first()?, *body.get(1)?]) as usize;
    let extensions = body.get(2..2 + len)?;
    split_extensions(extensions)
        .find(|&(ty, _)| ty == ext::ALPN)
        .and_then(|(_, data)| selected_alpn(data))
}

/// The certificates of a TLS 1.3 Certificate message (RFC 8446 §4.4.2): a request
/// context, then entries of a certificate and its extensions. `None`: it does not parse.
pub(crate) fn tls13_certificate_chain(body: &[u8]) -> Option<Vec<&[u8]>> {
    let context_len = *body.first()? as usize;
    let rest = body.get(1 + context_len..)?;
    let list_len = u24(rest)?;
    let mut list = rest.get(3..3 + list_len)?;
    let mut chain = Vec::new();
    while !list.is_empty() {
        let cert_len = u24(list)?;
        let cert = list.get(3..3 + cert_len)?;
        let after = list.get(3 + cert_len..)?;
        let ext_len = u16::from_be_bytes([*after.first()?, *after.get(1)?]) as usize;
        list = after.get(2 + ext_len..)?;
        chain.push(cert);
    }
    Some(chain)
}

fn u24(b: &[u8]) -> Option<usize> {
    Some(u32::from_be_bytes([0, *b.first()?, *b.get(1)?, *b.get(2)?]) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_alpn_of_encrypted_extensions() {
        // extensions: server_name (empty), ALPN ["h2"].
        let body = [0, 13, 0, 0, 0, 0, 0, 16, 0, 5, 0, 3, 2, b'h', b'2'];
        assert_eq!(encrypted_extensions_alpn(&body).as_deref(), Some("h2"));
        assert_eq!(encrypted_extensions_alpn(&[0, 4, 0, 0, 0, 0]), None);
        assert_eq!(encrypted_extensions_alpn(&[0, 9, 0]), None);
    }

    #[test]
    fn reads_a_tls13_certificate_list() {
        // context "", two entries: [1,2,3] with no extensions, [4] with a 1-byte one.
        let body = [0, 0, 0, 15, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 1, 4, 0, 1, 9];
        assert_eq!(
            tls13_certificate_chain(&body),
            Some(vec![&[1u8, 2, 3][..], &[4u8][..]])
        );
        assert_eq!(tls13_certificate_chain(&[0, 0, 0, 0]), Some(vec![]));
        assert_eq!(tls13_certificate_chain(&[0, 0, 0, 9, 0]), None);
    }
}
