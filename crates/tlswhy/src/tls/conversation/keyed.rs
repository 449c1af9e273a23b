//! A conversation's records opened with keys: the secrets looked up for its client
//! random, the record keys made at its ServerHello, records held while a growing key
//! log may still bring them, and each opened record read as what it really is.

use super::super::facts::*;
use super::super::hello::ServerHelloFacts;
use super::super::protected::{Held, Protection};
use super::Conversation;
use crate::flow::{At, Dir};

impl Conversation {
    /// The first ClientHello: its random is kept when there are keys to look it up in.
    pub(super) fn find_secrets(&mut self, body: &[u8]) {
        if self.keys.is_empty() && !self.keys.may_grow() {
            return;
        }
        if let Some(random) = body.get(2..34) {
            let random: [u8; 32] = random.try_into().expect("32 bytes");
            self.protection = Some(Box::new(Protection::new(random)));
        }
    }

    /// The ServerHello: the secrets for the client random (looked up now, so that a
    /// key log line written while the handshake ran is found), then the record keys.
    #[cold]
    pub(super) fn make_keys(&mut self, sh: &ServerHelloFacts, body: &[u8], at: At) {
        let Some(p) = &mut self.protection else {
            return;
        };
        let random: Option<[u8; 32]> = body.get(2..34).and_then(|r| r.try_into().ok());
        let Some(secrets) = self.keys.lookup(p.client_random()) else {
            match random {
                Some(server_random) if self.keys.may_grow() && sh.version.is_tls13() => {
                    p.held = Some(Box::new(Held {
                        hello: sh.clone(),
                        server_random,
                        since: at,
                        records: Vec::new(),
                        bytes: 0,
                    }));
                }
                _ => {
                    self.facts.decryption = Decryption::NoSecret;
                    self.protection = None;
                }
            }
            return;
        };
        let made = random
            .ok_or_else(|| "ServerHello too short".to_string())
            .and_then(|random| p.on_server_hello(secrets, sh, &random));
        if made.is_err() {
            self.facts.decryption = Decryption::Failed;
            self.protection = None;
        }
    }

    /// A TLS 1.3 record of a connection waiting for its secrets: kept, then all are read
    /// once the secrets are there or the wait is over.
    #[cold]
    pub(super) fn hold_record(&mut self, dir: Dir, record: &[u8], at: At) {
        let Some(held) = self.protection.as_mut().and_then(|p| p.held.as_mut()) else {
            return;
        };
        held.bytes += record.len();
        held.records.push((dir, at, record.to_vec()));
        let spent = held.is_spent(at);
        let found = self
            .protection
            .as_ref()
            .is_some_and(|p| self.keys.lookup(p.client_random()).is_some());
        if found || spent {
            self.release_held();
        }
    }

    /// Reads the held records: opened when the secrets are there now, else as without
    /// keys.
    #[cold]
    pub(super) fn release_held(&mut self) {
        let Some(p) = self.protection.as_mut() else {
            return;
        };
        let Some(held) = p.held.take() else {
            return;
        };
        let Held {
            hello,
            server_random,
            records,
            ..
        } = *held;
        let opened = match self.keys.lookup(p.client_random()) {
            Some(secrets) => p.on_server_hello(secrets, &hello, &server_random).is_ok(),
            None => false,
        };
        if !opened {
            self.facts.decryption = if self.keys.lookup(p.client_random()).is_some() {
                Decryption::Failed
            } else {
                Decryption::NoSecret
            };
            self.protection = None;
        }
        for (dir, at, record) in records {
            if self.settled {
                break;
            }
            let header: [u8; 5] = record[..5].try_into().expect("a whole record");
            if self.protection.is_some() {
                self.on_sealed_record(dir, &header, &record[5..], at);
            } else {
                self.on_application_data(dir, record.len() - 5, at);
            }
        }
    }

    /// A protected record opened with keys, read as what it really is; one that does
    /// not authenticate ends the opening (the keys are wrong) and is read as without.
    #[cold]
    pub(super) fn on_sealed_record(&mut self, dir: Dir, header: &[u8; 5], body: &[u8], at: At) {
        let Some(opened) = self
            .protection
            .as_mut()
            .and_then(|p| p.open(dir, header, body))
        else {
            // Wrong keys when nothing opened before; else this direction's record was
            // damaged (its peer will say so), and the other direction is still opened.
            if self.facts.decryption != Decryption::Opened {
                self.facts.decryption = Decryption::Failed;
            }
            if self.protection.as_ref().is_none_or(|p| p.is_spent()) {
                self.protection = None;
            }
            let content_type = header[0];
            if content_type == 23 {
                self.on_application_data(dir, body.len(), at);
            } else {
                self.on_record(dir, content_type, body, at);
            }
            return;
        };
        self.facts.decryption = Decryption::Opened;
        self.facts.decrypted[dir.index()] = true;
        let plaintext: &[u8] = &opened.plaintext;
        match opened.content_type {
            22 => {
                let hs = &mut self.streams[dir.index()].handshake;
                if hs.is_empty() {
                    self.frame_handshake(dir, plaintext, at);
                } else if hs.len() + plaintext.len() <= self.limits.max_handshake_message + 4 {
                    let mut joined = std::mem::take(hs);
                    joined.extend_from_slice(plaintext);
                    self.frame_handshake(dir, &joined, at);
                }
            }
            21 if plaintext.len() >= 2 => {
                let alert = AlertFacts::new(at, dir, Some([plaintext[0], plaintext[1]]), true);
                self.on_alert(dir, alert);
            }
            23 => {
                self.streams[dir.index()].handshake = Vec::new();
                self.count_application_data(dir, plaintext.len(), at);
            }
            _ => {}
        }
    }
}
