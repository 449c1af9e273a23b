//! Text taken from packets (SNI, ALPN, certificate names, banners) is untrusted: before it
//! reaches a terminal, control characters and escape sequences are written as visible
//! escapes, so a crafted capture cannot move the cursor, recolour or retitle a terminal.

use std::fmt::Write;

/// Escapes control characters (C0, DEL, C1) and backslashes in `text`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            // Bidirectional overrides can reorder what a reader sees.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Bytes as text: valid UTF-8 is escaped like [`escape`]; other bytes become `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x80 && c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if c.is_control()
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
                {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(
            escape_bytes(b"evil\x1b]0;pwned\x07.com"),
            "evil\\x1b]0;pwned\\x07.com"
        );
        assert_eq!(escape_bytes(b"caf\xc3\xa9\xff"), "caf\u{e9}\\xff");
        assert_eq!(escape("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert_eq!(escape("plain.example.com"), "plain.example.com");
    }
}
