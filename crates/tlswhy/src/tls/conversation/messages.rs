//! Handshake messages as facts: each message a conversation frames (in the clear, or
//! opened with keys) goes into its [`TlsFacts`] and the ladder.

use std::borrow::Cow;
use std::sync::Arc;

use super::super::facts::*;
use super::super::fingerprint;
use super::super::hello::{self, ServerHelloFacts};
use super::super::protected;
use super::super::wire::{NamedGroup, ProtocolVersion};
use super::Conversation;
use crate::flow::{At, Dir};

impl Conversation {
    pub(super) fn on_handshake_message(&mut self, dir: Dir, ty: u8, body: &[u8], at: At) {
        match (ty, dir) {
            (1, Dir::ToServer) => match hello::parse_client_hello(body) {
                Ok(mut ch) => {
                    // The label of a hello kept in the facts is spelled from them only
                    // if the ladder is shown (most never are); a third is spelled now.
                    if self.facts.client_hello.is_none() {
                        // The first hello's JA4 is the record's.
                        if self.fingerprints {
                            ch.ja4_key = fingerprint::ja4_key(&ch, false);
                        }
                        self.push_event(at, dir, Label::ClientHello { second: false });
                        self.find_secrets(body);
                        self.facts.client_hello = Some(Seen { at, value: ch });
                    } else if self.facts.second_client_hello.is_none() {
                        self.push_event(at, dir, Label::ClientHello { second: true });
                        self.facts.second_client_hello = Some(Box::new(Seen { at, value: ch }));
                    } else {
                        self.push_event(at, dir, ch.ladder_label());
                    }
                }
                Err(what) => self.malformed(dir, at, what),
            },
            (2, Dir::ToClient) => match hello::parse_server_hello(body) {
                Ok(sh) => {
                    if sh.hello_retry_request {
                        self.push_event(at, dir, "HelloRetryRequest");
                        self.facts
                            .hello_retry_request
                            .get_or_insert_with(|| Box::new(Seen { at, value: sh }));
                    } else {
                        let label = Label::ServerHello {
                            version: sh.version,
                            suite: sh.cipher_suite,
                        };
                        self.push_event(at, dir, label);
                        if self.facts.server_hello.is_none() {
                            self.make_keys(&sh, body, at);
                            self.facts.server_hello = Some(Seen { at, value: sh });
                        }
                    }
                }
                Err(what) => self.malformed(dir, at, what),
            },
            (6, Dir::ToClient) => {
                // TLS 1.3 draft HelloRetryRequest (type 6).
                self.push_event(at, dir, "HelloRetryRequest");
                if self.facts.hello_retry_request.is_none() {
                    let v = body
                        .get(..2)
                        .map(|b| u16::from_be_bytes([b[0], b[1]]))
                        .unwrap_or(0);
                    self.facts.hello_retry_request = Some(Box::new(Seen {
                        at,
                        value: ServerHelloFacts {
                            legacy_version: ProtocolVersion(v),
                            version: ProtocolVersion(v),
                            hello_retry_request: true,
                            ..Default::default()
                        },
                    }));
                }
            }
            (11, _) => {
                let parsed = tls_parser::parse_tls_handshake_msg_certificate(body);
                let chain: Vec<&[u8]> = match &parsed {
                    _ if self.is_tls13() => match protected::tls13_certificate_chain(body) {
                        Some(chain) => chain,
                        None => {
                            self.malformed(dir, at, "Certificate message does not parse".into());
                            return;
                        }
                    },
                    Ok((_, tls_parser::TlsMessageHandshake::Certificate(c))) => {
                        c.cert_chain.iter().map(|r| r.data).collect()
                    }
                    _ => {
                        self.malformed(dir, at, "Certificate message does not parse".into());
                        return;
                    }
                };
                if dir == Dir::ToClient {
                    let certificates = super::super::cert::chain_facts(
                        &chain[..chain.len().min(self.limits.max_chain)],
                    );
                    let label = Label::ServerCertificate {
                        chain_length: chain.len() as u32,
                        certificates: Arc::clone(&certificates),
                    };
                    self.push_event(at, dir, label);
                    if self.facts.server_certificates.is_none() {
                        self.facts.server_certificates = Some(Seen {
                            at,
                            value: CertChain {
                                certificates,
                                chain_length: chain.len(),
                            },
                        });
                    }
                } else {
                    self.push_event(
                        at,
                        dir,
                        if chain.is_empty() {
                            "Certificate (empty)".into()
                        } else {
                            format!("Certificate ({} in chain)", chain.len())
                        },
                    );
                    if self.facts.client_certificate.is_none() {
                        let leaf = chain
                            .first()
                            .map(|der| super::super::cert::chain_facts(&[der]));
                        let leaf = leaf.as_ref().and_then(|facts| facts.first());
                        self.facts.client_certificate = Some(Box::new(Seen {
                            at,
                            value: CertCount {
                                chain_length: chain.len(),
                                subject: leaf.map(|l| l.subject.clone()),
                                issuer: leaf.map(|l| l.issuer.clone()),
                            },
                        }));
                    }
                }
            }
            (13, Dir::ToClient) => {
                self.push_event(at, dir, "CertificateRequest");
                if self.facts.certificate_request.is_none() {
                    self.facts.certificate_request = Some(at);
                    let version = self.facts.server_hello.as_ref().map(|sh| sh.value.version);
                    let tls12 = version.is_some_and(|v| v.0 >= 0x0303);
                    self.facts.accepted_issuers =
                        super::super::cert_request::accepted_issuers(body, self.is_tls13(), tls12)
                            .into_boxed_slice();
                }
            }
            (12, Dir::ToClient) if !self.is_tls13() => {
                // ECDHE: curve_type 3 (named_curve), then the group (RFC 8422 §5.4).
                self.push_event(at, dir, "ServerKeyExchange");
                if let (Some(sh), [3, hi, lo, ..]) = (&mut self.facts.server_hello, body) {
                    let group = NamedGroup(u16::from_be_bytes([*hi, *lo]));
                    sh.value.key_share_group.get_or_insert(group);
                }
            }
            (4, Dir::ToClient) if !self.is_tls13() => {
                // ticket_lifetime_hint(4), then ticket<0..2^16-1>.
                self.push_event(at, dir, "NewSessionTicket");
                if let Some(len) = body.get(4..6) {
                    let len = u16::from_be_bytes([len[0], len[1]]) as usize;
                    let ticket = body.get(6..6 + len).unwrap_or(&[]);
                    self.facts.issued_ticket = hello::session_digest(ticket);
                }
            }
            (20, _) => {
                let d = dir.index();
                self.facts.finished[d].get_or_insert(at);
                self.push_event(at, dir, "Finished");
                if let Some(p) = &mut self.protection {
                    p.on_finished(dir);
                }
            }
            (8, Dir::ToClient) => {
                // TLS 1.3, opened with keys: the ALPN choice is here.
                let alpn = protected::encrypted_extensions_alpn(body);
                self.push_event(
                    at,
                    dir,
                    match &alpn {
                        Some(p) => format!("EncryptedExtensions (ALPN {p})").into(),
                        None => Cow::Borrowed("EncryptedExtensions"),
                    },
                );
                if let (Some(sh), Some(p)) = (&mut self.facts.server_hello, alpn) {
                    sh.value.alpn.get_or_insert(p);
                }
            }
            (24, _) => {
                self.push_event(at, dir, "KeyUpdate");
                if let Some(p) = &mut self.protection {
                    p.on_key_update(dir);
                }
            }
            (ty, _) => {
                let name = match ty {
                    0 => "HelloRequest",
                    4 => "NewSessionTicket",
                    8 => "EncryptedExtensions",
                    12 => "ServerKeyExchange",
                    14 => "ServerHelloDone",
                    15 => "CertificateVerify",
                    16 => "ClientKeyExchange",
                    22 => "CertificateStatus",
                    _ => "",
                };
                let label: Cow<'static, str> = if name.is_empty() {
                    format!("handshake message type {ty}").into()
                } else {
                    name.into()
                };
                self.push_event(at, dir, label);
            }
        }
    }
}
