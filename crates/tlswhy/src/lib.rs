//! tlswhy reads packet captures and says, for every TLS handshake in them, whether it
//! worked and — when it did not — exactly why, with the evidence from the packets and
//! what to change.
//!
//! The stages follow the data: [`capture`] (pcap/pcapng records) → [`decode`] (link, IP,
//! TCP) → [`flow`] (connections, TCP reassembly) → [`tls`] (records, handshake messages,
//! certificates, alerts) → [`connection`] → [`diagnose`] (verdicts) → [`record`] →
//! [`pipeline`] (the streaming pass) → [`report`] (the words, text, JSON Lines).
//! [`pipeline`] wires them for one capture:
//!
//! ```no_run
//! use tlswhy::{capture::Source, pipeline::{self, Settings}};
//! let report = pipeline::analyze_source(&Source::File("captures/no_shared_cipher.pcap".into()), &Settings::default())?;
//! for h in &report.handshakes {
//!     println!("{} → {}: {}", h.client, h.server, h.verdict.code);
//! }
//! # Ok::<(), tlswhy::capture::CaptureError>(())
//! ```

#![deny(unsafe_code)]

pub mod capture;
pub mod chunks;
pub mod connection;
pub mod decode;
pub mod diagnose;
pub(crate) mod fanout;
pub mod flow;
pub mod inputs;
pub mod keys;
pub mod limits;
#[cfg(feature = "live")]
pub mod live;
pub mod pipeline;
pub mod progress;
pub mod quic;
pub mod record;
pub mod report;
pub mod sanitize;
pub mod tls;
