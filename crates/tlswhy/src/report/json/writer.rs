//! A JSON writer for the records: a `serde::Serializer` into a byte buffer that writes
//! exactly what `serde_json::to_writer` writes (compact, the same string escapes and
//! number forms — tested on every bundled capture), in fewer steps. A record is ~40
//! fields, most of them short: here a field name, a `&'static str` of the record's own
//! making, is copied as it is instead of being scanned for characters to escape, and
//! values go straight into the buffer.

use std::fmt;

use serde::ser::{self, Serialize};

/// Serializes `value` as JSON at the end of `out`.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Writer { out })
}

/// The only error: a map key that JSON cannot have (the records have none).
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// Whether JSON escapes `b`: a control character, `"` or `\\`.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Eight bytes at a time: whether any of them is a control character, `"` or `\\`.
/// Exact for "any" (the classic has-zero-byte tests).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let quote = w ^ (ONES * b'"' as u64);
    let quote = quote.wrapping_sub(ONES) & !quote & HIGH;
    let backslash = w ^ (ONES * b'\\' as u64);
    let backslash = backslash.wrapping_sub(ONES) & !backslash & HIGH;
    control | quote | backslash != 0
}

/// Whether any byte of a 16-byte block needs an escape, every byte looked at (no early
/// exit), so that the compiler makes it a few vector instructions.
#[inline]
fn block_needs_escape(block: &[u8; 16]) -> bool {
    block.iter().fold(false, |any, &b| any | needs_escape(b))
}

/// serde_json's escapes: the two-character ones, else `\u00XX` for a control character.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    match first_to_escape(bytes) {
        // Most strings need no escape: one copy.
        None => out.extend_from_slice(bytes),
        Some(clean) => write_escaped(out, bytes, clean),
    }
    out.push(b'"');
}

/// Where the first byte JSON escapes may be: `None` when there is none, else an
/// offset at or before it. Sixteen bytes at a time (eight in a string shorter than
/// that), the last block overlapping the ones before.
#[inline]
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    let block = |at: usize| -> &[u8; 16] { bytes[at..at + 16].try_into().expect("16 bytes") };
    if bytes.len() < 16 {
        if bytes.len() < 8 {
            return bytes.iter().position(|&b| needs_escape(b));
        }
        // Most fields are short: two words, the second overlapping the first.
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let last = bytes.len() - 8;
        return if word_needs_escape(word(0)) {
            Some(0)
        } else {
            word_needs_escape(word(last)).then_some(last)
        };
    }
    let mut at = 0;
    while at + 16 <= bytes.len() {
        if block_needs_escape(block(at)) {
            return Some(at);
        }
        at += 16;
    }
    let last = bytes.len() - 16;
    (at < bytes.len() && block_needs_escape(block(last))).then_some(last)
}

/// The string's bytes from `clean` on (those before need no escape), escaped.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8], clean: usize) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether `b` may start something [`write_text`] changes: anything but printable
/// ASCII other than `"` and `\\` (JSON's escapes, and the first bytes of the characters
/// [`json_text`](crate::sanitize::json_text) spells out, DEL and non-ASCII).
#[inline]
fn may_change_text(b: u8) -> bool {
    (b.wrapping_sub(0x20) >= 0x5f) | (b == b'"') | (b == b'\\')
}

/// The offset of the first byte at or after `from` that [`may_change_text`], sixteen
/// bytes at a time (the last block of a longer rest overlapping the one before; a rest
/// shorter than a block one byte at a time, where it is: copied into a block first, it
/// would be read back before the copy is stored, which stalls the CPU).
#[inline]
fn next_to_look_at(bytes: &[u8], from: usize) -> Option<usize> {
    // Every byte looked at (no early exit): a few vector instructions.
    let any = |block: &[u8; 16]| block.iter().fold(false, |any, &b| any | may_change_text(b));
    let first_from = |at: usize| {
        bytes[at..]
            .iter()
            .position(|&b| may_change_text(b))
            .map(|i| at + i)
    };
    let rest = &bytes[from..];
    if rest.len() < 16 {
        return first_from(from);
    }
    let block = |at: usize| -> &[u8; 16] { bytes[at..at + 16].try_into().expect("16 bytes") };
    let mut at = from;
    while at + 16 <= bytes.len() {
        if any(block(at)) {
            return first_from(at);
        }
        at += 16;
    }
    if at < bytes.len() && any(block(bytes.len() - 16)) {
        return first_from(at);
    }
    None
}

/// The character [`json_text`](crate::sanitize::json_text) spells out that starts at
/// `at`, as its code point and length in bytes: DEL, a C1 control, or a bidirectional
/// override (U+202A–U+202E, U+2066–U+2069).
fn unsafe_char_at(bytes: &[u8], at: usize) -> Option<(u32, usize)> {
    match bytes[at..] {
        [0x7f, ..] => Some((0x7f, 1)),
        [0xc2, second @ 0x80..=0x9f, ..] => Some((u32::from(second), 2)),
        [0xe2, 0x80, third @ 0xaa..=0xae, ..] => Some((0x2000 | u32::from(third & 0x3f), 3)),
        [0xe2, 0x81, third @ 0xa6..=0xa9, ..] => Some((0x2040 | u32::from(third & 0x3f), 3)),
        _ => None,
    }
}

/// Text from the wire, or worded from it, as a JSON string: what
/// [`write_str`] writes of [`json_text`](crate::sanitize::json_text)'s text (the same
/// bytes, tested), in one pass over the text and with no string made.
pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `bytes[copied..at]` are to be copied as they are.
    let (mut copied, mut from) = (0, 0);
    while let Some(at) = next_to_look_at(bytes, from) {
        let b = bytes[at];
        if needs_escape(b) {
            out.extend_from_slice(&bytes[copied..at]);
            write_escaped(out, &bytes[at..at + 1], 0);
            (copied, from) = (at + 1, at + 1);
        } else if let Some((c, len)) = unsafe_char_at(bytes, at) {
            out.extend_from_slice(&bytes[copied..at]);
            // `\u{7f}` as text: its backslash escaped.
            out.extend_from_slice(b"\\\\u{");
            write_hex(out, c);
            out.push(b'}');
            (copied, from) = (at + len, at + len);
        } else {
            // Another character, kept: looked past as a whole.
            from = at + utf8_len(b);
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// The length of the UTF-8 sequence that `first` starts (1 for a byte that starts
/// none).
fn utf8_len(first: u8) -> usize {
    match first {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

/// `c` in lower-case hex without leading zeros.
fn write_hex(out: &mut Vec<u8>, c: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (32 - c.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(HEX[(c >> (4 * i)) as usize & 0xf]);
    }
}

/// A name of the record's own making (an enum variant's): nothing in it to escape.
fn write_identifier(out: &mut Vec<u8>, name: &'static str) {
    debug_assert!(first_to_escape(name.as_bytes()).is_none());
    out.reserve(name.len() + 2);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

pub(super) fn write_int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

pub(super) fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// The microseconds [`write_seconds`] spells from their digits: 10⁹ to 2³² seconds.
pub(super) const SECONDS_RANGE: std::ops::Range<i64> = 1_000_000_000_000_000..4_294_967_296_000_000;

/// A time given in microseconds, as the seconds [`write_f64`] writes for
/// `micros as f64 / 1e6` — from the digits of the microseconds themselves between 10⁹
/// and 2³² seconds (2001 to 2106): `1735732800.04272`, `1735732800.0` for a whole second.
///
/// In that range the doubles are less than 10⁻⁶ apart (2⁻²¹ at most), so the double
/// nearest to the microseconds is the only one they round to, and of the decimals with
/// six places or fewer only they round to it (not as a tie: a multiple of 10⁻⁶ halfway
/// between two doubles would be a binary fraction of at most six places, itself a
/// double). Its shortest form, the one serde_json writes, is theirs.
pub(super) fn write_seconds(out: &mut Vec<u8>, micros: i64) {
    if !SECONDS_RANGE.contains(&micros) {
        return write_f64(out, micros as f64 / 1e6);
    }
    let (secs, mut fraction) = (micros / 1_000_000, (micros % 1_000_000) as u32);
    write_int(out, secs);
    if fraction == 0 {
        out.extend_from_slice(b".0");
        return;
    }
    let mut digits = *b".000000";
    for slot in digits[1..].iter_mut().rev() {
        *slot = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    let zeros = digits.iter().rev().take_while(|&&d| d == b'0').count();
    out.extend_from_slice(&digits[..digits.len() - zeros]);
}

fn write_f32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// An object or array being written: whether an element was written yet.
struct Compound<'w, 'a> {
    w: &'w mut Writer<'a>,
    first: bool,
    /// Closes an enum variant's wrapping object too (`{"Variant":…}`).
    variant: bool,
}

impl Compound<'_, '_> {
    #[inline(always)]
    fn comma(&mut self) {
        if !self.first {
            self.w.out.push(b',');
        }
        self.first = false;
    }

    #[inline(always)]
    fn key(&mut self, key: &'static str) {
        // Field names are the record's own identifiers: nothing in them to escape.
        debug_assert!(key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
        let out = &mut *self.w.out;
        out.reserve(key.len() + 4);
        if !self.first {
            out.push(b',');
        }
        self.first = false;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
    }

    fn close(self, end: u8) {
        self.w.out.push(end);
        if self.variant {
            self.w.out.push(b'}');
        }
    }
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        write_f32(self.out, v);
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write_f64(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_identifier(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_identifier(self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'[');
        Ok(Compound {
            w: self,
            first: true,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        write_identifier(self.out, variant);
        self.out.extend_from_slice(b":[");
        Ok(Compound {
            w: self,
            first: true,
            variant: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        Ok(Compound {
            w: self,
            first: true,
            variant: false,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.out.push(b'{');
        write_identifier(self.out, variant);
        self.out.extend_from_slice(b":{");
        Ok(Compound {
            w: self,
            first: true,
            variant: true,
        })
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    #[inline(always)]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        key.serialize(MapKey { out: self.w.out })?;
        self.w.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b'}');
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    // Inlined where a record's type names its fields: each key is then a copy of a
    // known size.
    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.key(key);
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b'}');
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close(b'}');
        Ok(())
    }
}

/// A map key: a string, or an integer written as one (as serde_json does).
struct MapKey<'a> {
    out: &'a mut Vec<u8>,
}

fn key_error() -> Error {
    Error("key must be a string".into())
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_identifier(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"\"true\"" } else { b"\"false\"" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.quoted(v)
    }
    fn serialize_f32(self, _v: f32) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_f64(self, _v: f64) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_error())
    }
}

impl MapKey<'_> {
    fn quoted(self, v: impl itoa::Integer) -> Result<(), Error> {
        self.out.push(b'"');
        write_int(self.out, v);
        self.out.push(b'"');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::write;
    use serde::Serialize;
    use std::collections::BTreeMap;

    fn both<T: Serialize>(v: &T) -> (String, String) {
        let mut ours = Vec::new();
        write(&mut ours, v).unwrap();
        (
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(v).unwrap(),
        )
    }

    #[derive(Serialize)]
    enum E {
        Unit,
        New(u8),
        Tuple(u8, i64),
        Struct { a: Option<f64>, b: &'static str },
    }

    #[derive(Serialize)]
    struct S {
        text: String,
        n: Vec<i32>,
        f: [f64; 4],
        e: Vec<E>,
        m: BTreeMap<u16, bool>,
        t: (char, ()),
        #[serde(flatten)]
        inner: Inner,
    }

    #[derive(Serialize)]
    struct Inner {
        x: u64,
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let mut m = BTreeMap::new();
        m.insert(7, true);
        m.insert(443, false);
        let s = S {
            text: "tab\t quote\" back\\ nul\0 esc\x1b del\x7f é ✓ \u{2028}".into(),
            n: vec![-1, 0, i32::MAX],
            f: [1733355262.123456, 0.1, f64::NAN, -0.0],
            e: vec![
                E::Unit,
                E::New(3),
                E::Tuple(1, -2),
                E::Struct { a: None, b: "x" },
                E::Struct {
                    a: Some(1e21),
                    b: "",
                },
            ],
            m,
            t: ('\n', ()),
            inner: Inner { x: u64::MAX },
        };
        let (ours, theirs) = both(&s);
        assert_eq!(ours, theirs);
        for c in 0u8..=0x7f {
            let s = (c as char).to_string();
            let (ours, theirs) = both(&s);
            assert_eq!(ours, theirs, "byte {c:#x}");
        }
    }

    /// Times written from their microseconds are spelled as serde_json spells the
    /// double `micros / 1e6`: across the range and at its ends, whole seconds, trailing
    /// zeros, and outside the range.
    #[test]
    fn seconds_as_serde_json_writes_them() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut micros: Vec<i64> = vec![
            0,
            1,
            -1,
            500_000,
            999_999_999_999_999,
            1_000_000_000_000_000,
            1_000_000_000_000_001,
            1_735_732_800_000_000,
            1_735_732_800_100_000,
            1_735_732_800_000_010,
            1_735_732_800_999_999,
            4_294_967_295_999_999,
            4_294_967_296_000_000,
            9_223_372_036_854_775,
            -9_223_372_036_854_775,
        ];
        for _ in 0..300_000 {
            let span = 3_294_967_296_000_000u64 + 2_000_000;
            micros.push(999_999_999_000_000 + (next() % span) as i64);
        }
        for m in micros {
            let mut ours = Vec::new();
            super::write_seconds(&mut ours, m);
            let theirs = serde_json::to_string(&(m as f64 / 1e6)).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{m}");
        }
    }

    /// Text written in one pass is what the two passes write (`json_text`, then the
    /// escapes) for every character that either changes, at every offset of strings
    /// long and short, next to plain ASCII and to other multi-byte characters.
    #[test]
    fn text_in_one_pass_as_in_two() {
        let specials = [
            "\0",
            "\x1f",
            "\"",
            "\\",
            "\x7f",
            "\u{80}",
            "\u{9f}",
            "\u{a0}",
            "\u{202a}",
            "\u{202e}",
            "\u{202f}",
            "\u{2029}",
            "\u{2066}",
            "\u{2069}",
            "\u{206a}",
            "\u{2192}",
            "\u{2014}",
            "é",
            "✓",
            "\u{1f512}",
            "a",
        ];
        let two_passes = |s: &str| {
            let mut out = Vec::new();
            super::write_str(&mut out, &crate::sanitize::json_text(s));
            String::from_utf8(out).unwrap()
        };
        for len in 0..40 {
            for at in 0..=len {
                for special in specials {
                    for other in ["", "\u{2192}", "\x7f"] {
                        let s: String = (0..len)
                            .map(|i| {
                                if i == at {
                                    special
                                } else if i % 7 == 3 {
                                    other
                                } else {
                                    "x"
                                }
                            })
                            .collect();
                        let mut ours = Vec::new();
                        super::write_text(&mut ours, &s);
                        assert_eq!(String::from_utf8(ours).unwrap(), two_passes(&s), "{s:?}");
                    }
                }
            }
        }
    }

    /// The word-at-a-time scan finds a byte to escape wherever it is, next to any
    /// neighbours (non-ASCII ones too).
    #[test]
    fn finds_every_byte_to_escape_in_long_strings() {
        for len in 0..26 {
            for at in 0..len {
                for special in [
                    '\0', '\x1f', '"', '\\', ' ', '\x7f', 'é', '!', '#', '[', ']',
                ] {
                    let s: String = (0..len)
                        .map(|i| if i == at { special } else { 'a' })
                        .collect();
                    let (ours, theirs) = both(&s);
                    assert_eq!(ours, theirs, "{s:?}");
                }
            }
        }
    }
}
