//! Text taken from packets (SNI, ALPN, certificate names, banners) is untrusted. It is
//! kept as it was sent ([`text_from_wire`]: only bytes that are not UTF-8 are replaced)
//! and escaped once, by each output for its medium: [`escape`] for a terminal (and the
//! Markdown and XML outputs, which may be shown on one), [`json_text`] for JSON. So a
//! crafted capture cannot move the cursor, recolour or retitle a terminal, and no text
//! is escaped twice.

use std::borrow::Cow;
use std::fmt::Write;

/// Text from the wire as a string: UTF-8 as it was sent, each invalid sequence replaced
/// by U+FFFD. Nothing is escaped here; outputs escape.
pub fn text_from_wire(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A character a terminal may act on, or one that reorders what a reader sees.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Text for a JSON string. The JSON serializer escapes the C0 controls itself; DEL, the
/// C1 controls and bidirectional overrides, which JSON allows raw, are written as
/// visible `\u{..}` escapes (as [`escape`] does), so JSON Lines are safe on a terminal
/// too. Borrowed when there is nothing to change (nearly always).
pub fn json_text(text: &str) -> Cow<'_, str> {
    if !has_json_unsafe(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c >= '\u{7f}' && is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// True when UTF-8 `bytes` hold a character ≥ U+007F that [`is_unsafe`] names: DEL
/// (`7f`), a C1 control (`c2 80`–`c2 9f`) or a bidirectional override (`e2 80 aa`–`ae`,
/// `e2 81 a6`–`a9`), found by a vectorized search for their first bytes.
fn has_json_unsafe(bytes: &[u8]) -> bool {
    // Nearly all text is ASCII below DEL, which one pass over every byte (no early
    // exit: a few vector instructions) tells, without the search's set-up.
    if !bytes.iter().fold(false, |any, &b| any | (b >= 0x7f)) {
        return false;
    }
    memchr::memchr3_iter(0x7f, 0xc2, 0xe2, bytes).any(|i| match bytes[i] {
        0x7f => true,
        0xc2 => matches!(bytes.get(i + 1), Some(0x80..=0x9f)),
        _ => matches!(
            (bytes.get(i + 1), bytes.get(i + 2)),
            (Some(0x80), Some(0xaa..=0xae)) | (Some(0x81), Some(0xa6..=0xa9))
        ),
    })
}

/// `serialize_with` for a string from the wire.
pub fn ser_json_text<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&json_text(text))
}

/// `serialize_with` for an optional string from the wire.
pub fn ser_json_opt_text<S: serde::Serializer>(
    text: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match text {
        Some(t) => s.serialize_str(&json_text(t)),
        None => s.serialize_none(),
    }
}

/// `serialize_with` for a list of strings from the wire.
pub fn ser_json_texts<S: serde::Serializer>(texts: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(texts.iter().map(|t| json_text(t)))
}

/// Escapes control characters (C0 and DEL as `\xNN`, C1 as `\u{..}`), bidirectional
/// overrides and backslashes in `text`, for a terminal.
pub fn escape(text: &str) -> String {
    if text.is_ascii() && !text.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert_eq!(escape("plain.example.com"), "plain.example.com");
    }

    #[test]
    fn wire_text_is_kept_and_escaped_once_per_output() {
        let wire = text_from_wire(b"a\x1b]0;t\x07\xc2\x9bb\xe2\x80\xaec\xff");
        assert_eq!(wire, "a\x1b]0;t\x07\u{9b}b\u{202e}c\u{fffd}");
        // The terminal sees every control as a visible escape, once.
        assert_eq!(escape(&wire), "a\\x1b]0;t\\x07\\u{9b}b\\u{202e}c\u{fffd}");
        // JSON: C0 is the serializer's job; C1 and bidi overrides are escaped here.
        assert_eq!(json_text(&wire), "a\x1b]0;t\x07\\u{9b}b\\u{202e}c\u{fffd}");
        assert!(matches!(json_text("emby.example.com"), Cow::Borrowed(_)));
        assert!(matches!(json_text("client→server"), Cow::Borrowed(_)));
        // Every character the byte scan must find, and its neighbours it must not.
        for c in ('\u{70}'..='\u{2100}').chain('\u{fff0}'..='\u{ffff}') {
            let text = format!("a{c}b");
            let unsafe_char = c >= '\u{7f}' && is_unsafe(c);
            assert_eq!(
                has_json_unsafe(text.as_bytes()),
                unsafe_char,
                "{:x}",
                c as u32
            );
        }
        let line = serde_json::to_string(&*json_text(&wire)).unwrap();
        assert!(!line.contains('\x1b') && !line.contains('\u{9b}'), "{line}");
    }
}
