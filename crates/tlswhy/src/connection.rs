//! A connection as the diagnosis sees it: a TCP flow ([`crate::flow`]) whose bytes are
//! read by a TLS conversation ([`crate::tls`]). The flow layer knows the conversation
//! only as a [`flow::Application`]; this module puts the two together, so that neither
//! imports the other's internals.

use crate::flow::{self, At, Dir};
use crate::limits::Limits;
use crate::tls::{Conversation, ConversationSetup, TlsFacts};

/// A TCP connection carrying a TLS conversation.
pub type Connection = flow::Connection<Conversation>;

/// The connections of one capture, each with its TLS conversation.
pub type FlowTable = flow::FlowTable<Conversation>;

impl flow::Application for Conversation {
    type Setup = ConversationSetup;

    fn with_limits(limits: &Limits, setup: &ConversationSetup) -> Self {
        Conversation::with_setup(limits, setup)
    }

    fn on_bytes(&mut self, dir: Dir, data: &[u8], at: At) {
        Conversation::on_bytes(self, dir, data, at)
    }

    fn lose(&mut self, dir: Dir, at: At, reason: String) {
        Conversation::lose(self, dir, at, reason)
    }

    fn settle(&mut self) {
        Conversation::settle(self)
    }

    fn is_settled(&self) -> bool {
        self.settled
    }

    fn opens_conversation(bytes: &[u8]) -> bool {
        Conversation::starts_with_client_hello(bytes)
    }

    fn trim(&mut self) {
        self.facts.trim_lists();
    }
}

impl Connection {
    /// What the TLS layer saw (nothing yet when no payload arrived).
    pub fn tls(&self) -> &Conversation {
        static NOTHING: std::sync::LazyLock<Conversation> =
            std::sync::LazyLock::new(Conversation::default);
        self.app().unwrap_or(&NOTHING)
    }

    /// The TLS layer, made on first use.
    pub fn tls_mut(&mut self) -> &mut Conversation {
        self.app_mut()
    }

    /// Takes the TLS facts out (the record of the connection is being made).
    pub fn take_tls_facts(&mut self) -> TlsFacts {
        match self.app() {
            Some(_) => std::mem::take(&mut self.app_mut().facts),
            None => TlsFacts::default(),
        }
    }
}
