//! Byte builders: big-endian integers and length-prefixed vectors, as TLS encodes them.

pub(crate) trait Put {
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u16s(&mut self, vs: &[u16]);
}

impl Put for Vec<u8> {
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u16s(&mut self, vs: &[u16]) {
        for &v in vs {
            self.put_u16(v);
        }
    }
}

/// Appends what `body` writes, preceded by its length in `width` bytes.
pub(crate) fn length_prefixed(out: &mut Vec<u8>, width: usize, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 3][..width]);
    body(out);
    let len = out.len() - at - width;
    assert!(
        len >> (8 * width) == 0,
        "{len} bytes overflow a {width}-byte length"
    );
    out[at..at + width].copy_from_slice(&(len as u32).to_be_bytes()[4 - width..]);
}

pub(crate) fn vec8(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    length_prefixed(out, 1, body);
}

pub(crate) fn vec16(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    length_prefixed(out, 2, body);
}

pub(crate) fn vec24(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    length_prefixed(out, 3, body);
}
