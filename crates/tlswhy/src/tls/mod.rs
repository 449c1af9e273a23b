//! The TLS layer: record and handshake framing over reassembled TCP bytes, the wire
//! objects the diagnosis needs (hellos, certificates, alerts), cipher-suite and version
//! naming, and recognition of bytes that are not TLS at all.

pub mod alert;
pub mod cert;
pub mod cert_request;
pub mod conversation;
pub mod facts;
pub mod fingerprint;
pub mod hello;
pub mod plaintext;
pub(crate) mod protected;
mod sslv2;
pub mod suites;
mod trim;
pub mod wire;

pub use conversation::{Conversation, ConversationSetup};
pub use facts::TlsFacts;
