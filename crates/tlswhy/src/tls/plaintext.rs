//! Recognises bytes that are not TLS for what they are: an HTTP request or response, an
//! SSH, SMTP, FTP, POP3 or IMAP banner. Used when a peer answers a ClientHello with
//! plain text, or a client speaks plain text to a TLS port.

/// What non-TLS bytes look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlaintextKind {
    HttpRequest,
    HttpResponse,
    SshBanner,
    /// `220 …` (SMTP, FTP), `+OK` (POP3), `* OK` (IMAP).
    ServiceBanner,
    /// Anything else: binary or text of unknown protocol.
    Unknown,
}

impl PlaintextKind {
    pub fn describe(&self) -> &'static str {
        match self {
            PlaintextKind::HttpRequest => "an HTTP request",
            PlaintextKind::HttpResponse => "an HTTP response",
            PlaintextKind::SshBanner => "an SSH banner",
            PlaintextKind::ServiceBanner => "a plain-text service banner (SMTP/FTP/POP3/IMAP)",
            PlaintextKind::Unknown => "bytes that are not TLS",
        }
    }
}

const HTTP_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
];

/// Classifies the first bytes a peer sent.
pub fn classify(first: &[u8]) -> PlaintextKind {
    if HTTP_METHODS.iter().any(|m| first.starts_with(m)) {
        PlaintextKind::HttpRequest
    } else if first.starts_with(b"HTTP/1.") || first.starts_with(b"HTTP/2") {
        PlaintextKind::HttpResponse
    } else if first.starts_with(b"SSH-") {
        PlaintextKind::SshBanner
    } else if first.starts_with(b"220") || first.starts_with(b"+OK") || first.starts_with(b"* OK") {
        PlaintextKind::ServiceBanner
    } else {
        PlaintextKind::Unknown
    }
}

/// Both sides spoke the same plain-text protocol and the server went along with it
/// (an SSH server behind a port multiplexer such as sslh, a plain HTTP server answering
/// below 400 on a TLS port): `client` and `server` are their first bytes' kinds and the
/// server's first line.
pub fn answered_in_kind(client: &PlaintextKind, server: &PlaintextKind, server_line: &str) -> bool {
    match (client, server) {
        (PlaintextKind::SshBanner, PlaintextKind::SshBanner) => true,
        // Server-first protocols: the client answered the banner.
        (PlaintextKind::Unknown, PlaintextKind::ServiceBanner) => true,
        // A protocol of their own, neither TLS nor one named here, spoken both ways.
        (PlaintextKind::Unknown, PlaintextKind::Unknown) => true,
        (PlaintextKind::HttpRequest, PlaintextKind::HttpResponse) => server_line
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse::<u16>().ok())
            .is_some_and(|status| status < 400),
        _ => false,
    }
}

/// Whether `bytes` read as text: at least nine in ten of the first 64 are printable
/// ASCII or line breaks (a protocol this module does not name may still be text).
pub fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64)];
    let printable = head
        .iter()
        .filter(|&&b| matches!(b, 0x20..=0x7e | b'\t' | b'\r' | b'\n'))
        .count();
    !head.is_empty() && printable * 10 >= head.len() * 9
}

/// The first bytes of `bytes` (at most `max`) in hex, `…` after when there are more: how
/// binary bytes are shown.
pub fn hex_head(bytes: &[u8], max: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(3 * max + 4);
    for (i, b) in bytes.iter().take(max).enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let _ = write!(out, "{sep}{b:02x}");
    }
    if bytes.len() > max {
        out.push_str(" …");
    }
    out
}

/// The first line of `bytes`, at most `max` bytes, kept as sent (see
/// [`crate::sanitize`]).
pub fn first_line(bytes: &[u8], max: usize) -> String {
    let end = bytes
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len())
        .min(max);
    crate::sanitize::text_from_wire(&bytes[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text of no named protocol is still text; zeros, a damaged alert or a binary
    /// protocol's header are not, and are shown in hex.
    #[test]
    fn text_is_told_from_binary() {
        assert!(looks_like_text(b"EHLO example.org\r\n"));
        assert!(looks_like_text(b"hello"));
        assert!(!looks_like_text(&[0, 0]));
        assert!(!looks_like_text(&[0, 0, 0, 0, 2, 0, 0x28]));
        assert!(!looks_like_text(b"WA\x01\x05\x00\x00\x1a\xf8\x08"));
        assert!(!looks_like_text(b""));
        assert_eq!(
            hex_head(&[0, 0, 0, 0, 2, 0, 0x28], 16),
            "00 00 00 00 02 00 28"
        );
        assert_eq!(hex_head(&[0xab; 20], 4), "ab ab ab ab …");
    }

    #[test]
    fn recognises_common_protocols() {
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), PlaintextKind::HttpRequest);
        assert_eq!(
            classify(b"HTTP/1.1 400 Bad Request"),
            PlaintextKind::HttpResponse
        );
        assert_eq!(classify(b"SSH-2.0-OpenSSH_9.2p1"), PlaintextKind::SshBanner);
        assert_eq!(classify(b"220 mail ESMTP"), PlaintextKind::ServiceBanner);
        assert_eq!(classify(&[0x16, 0x03]), PlaintextKind::Unknown);
        use PlaintextKind::*;
        assert!(answered_in_kind(
            &SshBanner,
            &SshBanner,
            "SSH-2.0-OpenSSH_9.2p1"
        ));
        assert!(answered_in_kind(
            &HttpRequest,
            &HttpResponse,
            "HTTP/1.0 200 OK"
        ));
        assert!(!answered_in_kind(
            &HttpRequest,
            &HttpResponse,
            "HTTP/1.1 400 Bad Request"
        ));
        assert!(!answered_in_kind(&HttpRequest, &SshBanner, "SSH-2.0-x"));
        // Kept as sent: the outputs escape it.
        assert_eq!(
            first_line(b"SSH-2.0-x\x1b[31m\r\nmore", 40),
            "SSH-2.0-x\x1b[31m"
        );
    }
}
